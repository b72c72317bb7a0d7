//! What a session task does with each [`Output`] of its session, and session storage.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::time::Instant;
use weft_broker::{Ack, PublishError};

use super::{OWN_EVENTS, SessionTask, WRITE_HIGH_WATER};
use crate::codec::{self, QoS, ReasonCode};
use crate::mapping::{InboundContext, message_to_event};
use crate::retained::RetainedChange;
use crate::server::registry::{Control, Handover, share_group_key};
use crate::session::{
    ConnectRequest, Delivery, DeliveryTarget, Message, Output, ParsedFilter, PublishOutcome,
};

/// How long a new connection waits for the previous owner of its client id.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// The PUBACK/PUBREC reason code for a broker refusal (one place, see the crate docs).
fn reason_for(error: &PublishError) -> ReasonCode {
    match error {
        PublishError::Denied(_) => ReasonCode::NotAuthorized,
        PublishError::EventTooLarge { .. } => ReasonCode::QuotaExceeded,
        PublishError::Storage { .. } => ReasonCode::UnspecifiedError,
    }
}

impl SessionTask {
    /// Drains the session's outputs in order, applies subscription changes, and writes.
    pub(super) async fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            self.handle_output(output).await;
        }
        let inner = Arc::clone(&self.context.inner);
        if let Err(error) = self.subscriptions.apply(&inner.broker, &inner.principal) {
            tracing::warn!(%error, client_id = %self.session.client_id(), "mqtt broker subscribe failed");
        }
        let connected = self.session.is_connected();
        if self.was_connected && !connected {
            self.on_went_offline();
        }
        self.was_connected = connected;
        self.update_drop_counters();
        self.flush().await;
    }

    async fn handle_output(&mut self, output: Output) {
        let now = SystemTime::now();
        match output {
            Output::Send(packet) => {
                if let Some(connection) = self.connection.as_mut() {
                    codec::encode(&packet, self.session.version(), &mut connection.output);
                    if connection.output.len() >= WRITE_HIGH_WATER {
                        self.flush().await;
                    }
                }
            }
            Output::ConnectRequest(request) => self.on_connect_request(request).await,
            Output::Publish { message, ack } => self.publish(message, ack).await,
            Output::WillPublish(message) => self.publish(message, None).await,
            Output::Subscribe {
                filter,
                send_retained,
                ..
            } => self.subscribe(now, filter, send_retained),
            Output::Unsubscribe { filter } => {
                if let Some(key) = self.subscriptions.remove(&filter.full) {
                    self.context.inner.shares.leave(&key, self.generation);
                    self.joined.retain(|joined| *joined != key);
                }
                self.persist.urgent = true;
            }
            Output::SharedRedeliver { filter, message } => self.redeliver(&filter, message),
            Output::SessionStateChanged => {
                self.persist.dirty_since.get_or_insert_with(Instant::now);
            }
            Output::SessionEnded => self.end_session().await,
            Output::Disconnect { reason } => self.disconnect(reason).await,
        }
    }

    async fn on_connect_request(&mut self, request: ConnectRequest) {
        let now = SystemTime::now();
        tracing::debug!(client_id = %request.client_id, peer = ?self.peer, clean_start = request.clean_start, version = ?request.version, "mqtt connect");
        let previous = self.claim(&request.client_id);
        let mut handover = Handover {
            state: None,
            subscriptions: None,
        };
        if let Some(previous) = previous {
            self.persist.stored = true;
            let (reply, answer) = oneshot::channel();
            let asked = Control::TakeOver {
                clean_start: request.clean_start,
                reply,
            };
            let outcome = tokio::time::timeout(TAKEOVER_TIMEOUT, async {
                previous.send(asked).await.ok()?;
                answer.await.ok()
            })
            .await;
            match outcome {
                Ok(Some(answer)) => handover = answer,
                Ok(None) => {}
                Err(_) => {
                    tracing::warn!(client_id = %request.client_id, "mqtt session takeover timed out")
                }
            }
        }
        if let Some(subscriptions) = handover.subscriptions {
            self.subscriptions = subscriptions;
        }
        self.session.accept(now, handover.state);
        self.last_drops = self.session.state().drops;
    }

    async fn publish(&mut self, message: Message, ack: Option<u16>) {
        let now = SystemTime::now();
        let inner = Arc::clone(&self.context.inner);
        let context = InboundContext {
            node: &inner.config.node,
            client_id: self.session.client_id(),
            received_at: now,
        };
        let event = match message_to_event(&message, &context) {
            Ok(event) => event,
            Err(error) => {
                tracing::debug!(%error, client_id = %self.session.client_id(), topic = %message.topic.as_str(), "mqtt message refused");
                if let Some(packet_id) = ack {
                    self.session.publish_completed(
                        now,
                        packet_id,
                        PublishOutcome::Refused(error.reason_code()),
                    );
                }
                return;
            }
        };
        self.remember_own(&event);
        let level = match message.qos {
            QoS::AtMostOnce => Ack::None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => Ack::Durable,
        };
        let mut outcome = match inner.broker.publish(&inner.principal, event, level).await {
            Ok(published) => PublishOutcome::Accepted {
                matched: published.subscribers > 0
                    || !published.stored.is_empty()
                    || published.duplicates > 0,
            },
            Err(error) => {
                tracing::warn!(%error, client_id = %self.session.client_id(), topic = %message.topic.as_str(), "mqtt publish refused");
                PublishOutcome::Refused(reason_for(&error))
            }
        };
        if message.retain
            && matches!(outcome, PublishOutcome::Accepted { .. })
            && !self.update_retained(&message).await
        {
            outcome = PublishOutcome::Refused(ReasonCode::UnspecifiedError);
        }
        if let Some(packet_id) = ack {
            if message.qos == QoS::ExactlyOnce {
                // The remembered packet id must be stored before PUBREC.
                self.persist.urgent = true;
            }
            self.session.publish_completed(now, packet_id, outcome);
        }
    }

    /// Remembers an event this session published when it has a No Local subscription.
    fn remember_own(&mut self, event: &weft_core::Event) {
        let no_local = self
            .session
            .state()
            .subscriptions
            .values()
            .any(|subscription| subscription.options.no_local);
        if !no_local {
            self.own_events.clear();
            return;
        }
        if self.own_events.len() >= OWN_EVENTS {
            self.own_events.pop_front();
        }
        let attributes = &event.cloudevent.attributes;
        self.own_events
            .push_back((attributes.source.clone(), attributes.id.clone()));
    }

    /// Applies a retained message to the store and to disk; false when it could not be
    /// stored durably.
    async fn update_retained(&self, message: &Message) -> bool {
        let inner = &self.context.inner;
        let _writer = inner.retained_writes.lock().await;
        let change = match inner.retained.lock() {
            Ok(mut store) => store.apply(message),
            Err(_) => return false,
        };
        let files = inner.retained_files.clone();
        let mut stored = message.clone();
        stored.retain = true;
        let written = match change {
            RetainedChange::Unchanged => return true,
            RetainedChange::Stored => {
                tokio::task::spawn_blocking(move || files.store(&stored)).await
            }
            RetainedChange::Deleted => {
                tokio::task::spawn_blocking(move || files.remove(stored.topic.as_str())).await
            }
        };
        match written {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                inner
                    .counters
                    .storage_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, topic = %message.topic.as_str(), "mqtt retained message not stored");
                false
            }
            Err(error) => {
                inner
                    .counters
                    .storage_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, topic = %message.topic.as_str(), "mqtt retained message not stored");
                false
            }
        }
    }

    fn subscribe(&mut self, now: SystemTime, filter: ParsedFilter, send_retained: bool) {
        let inner = Arc::clone(&self.context.inner);
        match &filter.share_group {
            Some(group) => {
                if self.session.is_connected() && !self.subscriptions.has_shared(&filter.full) {
                    let key = share_group_key(group, &filter.mqtt_filter);
                    match self.subscriptions.add_shared(
                        &inner.broker,
                        &inner.principal,
                        &filter.full,
                        &key,
                        &filter.weft_filters,
                    ) {
                        Ok(()) => {
                            inner
                                .shares
                                .join(&key, self.generation, self.control_tx.clone());
                            self.joined.push(key);
                        }
                        Err(error) => {
                            tracing::warn!(%error, filter = %filter.full, "mqtt shared subscribe failed");
                        }
                    }
                }
            }
            None => self
                .subscriptions
                .add_plain(&filter.full, &filter.weft_filters),
        }
        if self.session.is_connected() {
            self.persist.urgent = true;
        }
        if !send_retained {
            return;
        }
        let messages = match inner.retained.lock() {
            Ok(store) => store.matching(&filter.weft_filters, now),
            Err(_) => Vec::new(),
        };
        for message in messages {
            self.session.handle_delivery(
                now,
                Delivery {
                    message,
                    publisher: None,
                    target: DeliveryTarget::Subscription {
                        filter: filter.full.clone(),
                        retained: true,
                    },
                },
            );
        }
    }

    fn redeliver(&mut self, filter: &str, message: Message) {
        let inner = &self.context.inner;
        let delivered = crate::session::parse_filter(filter)
            .ok()
            .and_then(|parsed| {
                let group = parsed.share_group?;
                Some(share_group_key(&group, &parsed.mqtt_filter))
            })
            .is_some_and(|key| {
                inner
                    .shares
                    .redeliver(&key, self.generation, filter, message)
            });
        if !delivered {
            inner
                .counters
                .shared_redeliver_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn end_session(&mut self) {
        let inner = Arc::clone(&self.context.inner);
        for key in std::mem::take(&mut self.joined) {
            inner.shares.leave(&key, self.generation);
        }
        self.subscriptions =
            super::BrokerSubscriptions::new(inner.config.subscription_queue_capacity);
        self.persist.dirty_since = None;
        self.persist.urgent = false;
        if !std::mem::take(&mut self.persist.stored) {
            return;
        }
        let Some(client_id) = self.client_id.clone() else {
            return;
        };
        let files = inner.session_files.clone();
        let id = client_id.clone();
        match tokio::task::spawn_blocking(move || files.remove(&id)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                inner
                    .counters
                    .storage_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, client_id = %client_id, "mqtt session state not removed");
            }
            Err(error) => {
                tracing::warn!(%error, client_id = %client_id, "mqtt session state not removed");
            }
        }
    }

    /// Writes the session state now (or removes it when the session no longer
    /// persists).
    pub(super) async fn persist_now(&mut self) {
        self.persist.dirty_since = None;
        self.persist.urgent = false;
        let Some(client_id) = self.client_id.clone() else {
            return;
        };
        if self.session.is_ended() {
            return;
        }
        let inner = Arc::clone(&self.context.inner);
        let files = inner.session_files.clone();
        let state = self.session.state();
        let id = client_id.clone();
        let result = if state.session_expiry_interval == 0 {
            if !std::mem::take(&mut self.persist.stored) {
                return;
            }
            tokio::task::spawn_blocking(move || files.remove(&id)).await
        } else {
            let json = match state.to_json() {
                Ok(json) => json,
                Err(error) => {
                    tracing::error!(%error, client_id = %client_id, "mqtt session state not serialisable");
                    return;
                }
            };
            self.persist.stored = true;
            tokio::task::spawn_blocking(move || files.store(&id, &json)).await
        };
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        inner
            .counters
            .storage_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(%error, client_id = %client_id, "mqtt session state not stored");
    }
}
