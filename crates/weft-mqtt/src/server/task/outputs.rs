//! What a session task does with each [`Output`] of its session, and session storage.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::transport::Flushed;
use super::{SessionTask, WRITE_HIGH_WATER};
use crate::codec::{self, ReasonCode};
use crate::server::registry::{HandedOver, Handover, share_group_key};
use crate::session::{ConnectRequest, Delivery, DeliveryTarget, Message, Output, ParsedFilter};

/// What [`SessionTask::drain_ready`] stopped at.
enum Drained {
    /// No output is left.
    Empty,
    /// The encoded output reached [`WRITE_HIGH_WATER`]: write it.
    Full,
    /// An output that must be awaited.
    Slow(Box<Output>),
    /// A publish whose stream appends must be submitted.
    Captured(Box<super::publish::Captured>),
}

/// How long a new connection waits for the previous owner of its client id.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(10);

impl SessionTask {
    /// Drains the session's outputs in order, applies subscription changes, and writes.
    pub(super) async fn drain(&mut self) {
        loop {
            match self.drain_ready() {
                Drained::Empty => break,
                Drained::Full => {
                    // Subscriptions changed so far match before their SUBACK goes out.
                    self.apply_subscriptions();
                    self.flush().await;
                }
                // Boxed: these hold stream appends, or a takeover.
                Drained::Slow(output) => Box::pin(self.handle_slow_output(*output)).await,
                Drained::Captured(captured) => Box::pin(self.submit_captured(*captured)).await,
            }
        }
        self.apply_subscriptions();
        let connected = self.session.is_connected();
        if self.was_connected && !connected {
            self.on_went_offline();
        }
        self.was_connected = connected;
        self.update_drop_counters();
        // One write per read, not per decode batch (outputs past WRITE_HIGH_WATER are
        // written above).
        if !self.decodes_more_now() {
            self.flush().await;
        }
    }

    /// Makes the broker subscriptions match the session's (a cheap no-op when nothing
    /// changed).
    fn apply_subscriptions(&mut self) {
        let inner = Arc::clone(&self.context.inner);
        if let Err(error) = self.subscriptions.apply(&inner.broker, &inner.principal) {
            tracing::warn!(%error, client_id = %self.session.client_id(), "mqtt broker subscribe failed");
        }
    }

    /// Handles the outputs that need no waiting, until one does or none is left.
    fn drain_ready(&mut self) -> Drained {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Send(packet) => {
                    if let Some(connection) = self.connection.as_mut() {
                        codec::encode(&packet, self.session.version(), &mut connection.output);
                        if connection.output.len() >= WRITE_HIGH_WATER {
                            return Drained::Full;
                        }
                    }
                }
                Output::Publish { message, ack } => {
                    // A SUBSCRIBE read before this PUBLISH matches it (the client may
                    // pipeline both, and receive its own message).
                    self.apply_subscriptions();
                    if let Some(captured) = self.publish(SystemTime::now(), message, ack) {
                        return Drained::Captured(captured);
                    }
                }
                Output::Subscribe {
                    filter,
                    options,
                    send_retained,
                    ..
                } => self.subscribe(SystemTime::now(), filter, options.qos, send_retained),
                Output::Unsubscribe { filter } => {
                    if let Some(key) = self.subscriptions.remove(&filter.full) {
                        self.context.inner.shares.leave(&key, self.generation);
                        self.joined.retain(|joined| *joined != key);
                    }
                    self.persist.after_write = true;
                }
                Output::SharedRedeliver { filter, message } => self.redeliver(&filter, message),
                Output::SessionStateChanged => {
                    self.persist.dirty_since.get_or_insert_with(Instant::now);
                }
                slow => return Drained::Slow(Box::new(slow)),
            }
        }
        Drained::Empty
    }

    /// The outputs that wait: publishes, and a connection's start and end.
    async fn handle_slow_output(&mut self, output: Output) {
        match output {
            Output::ConnectRequest(request) => self.on_connect_request(request).await,
            Output::WillPublish(message) => self.publish_will(message).await,
            Output::SessionEnded => self.end_session().await,
            Output::Disconnect { reason } => self.disconnect(reason).await,
            Output::Send(_)
            | Output::Publish { .. }
            | Output::Subscribe { .. }
            | Output::Unsubscribe { .. }
            | Output::SharedRedeliver { .. }
            | Output::SessionStateChanged => {}
        }
    }

    /// Writes the pending output, after the session state when it must be stored
    /// first; starts writing the state behind it when it is to be stored right after.
    pub(super) async fn flush(&mut self) {
        if self.persist.urgent {
            Box::pin(self.persist_now()).await;
        }
        self.write_output().await;
        if self.persist.after_write {
            self.persist_behind();
        }
    }

    async fn write_output(&mut self) {
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        if connection.output.is_empty() {
            return;
        }
        let written = match connection.try_flush() {
            Ok(Flushed::Done) => Ok(()),
            Ok(Flushed::Blocked) => Box::pin(connection.write_rest()).await,
            Err(error) => Err(error),
        };
        match written {
            Ok(()) => self.session.output_written(),
            Err(error) => {
                tracing::debug!(%error, peer = ?self.peer, "mqtt write failed");
                self.close_connection();
                self.session.connection_lost(SystemTime::now());
            }
        }
    }

    /// Flushes, then closes the connection (an `Output::Disconnect`): the write side
    /// at once, the read side once the client has seen the DISCONNECT and closed too
    /// (see [`super::transport::Connection::linger`]).
    async fn disconnect(&mut self, reason: ReasonCode) {
        self.flush().await;
        if let Some(mut connection) = self.take_connection() {
            tracing::debug!(?reason, peer = ?self.peer, client_id = %self.session.client_id(), "mqtt connection closed by server");
            let _ =
                tokio::time::timeout(super::transport::WRITE_TIMEOUT, connection.shutdown()).await;
            tokio::spawn(connection.linger());
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
            let outcome = tokio::time::timeout(TAKEOVER_TIMEOUT, async {
                if !previous.take_over(request.clean_start, reply) {
                    return None;
                }
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

    fn subscribe(
        &mut self,
        now: SystemTime,
        filter: ParsedFilter,
        qos: crate::codec::QoS,
        send_retained: bool,
    ) {
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
                            let held =
                                inner
                                    .shares
                                    .join(&key, self.generation, self.control_tx.clone());
                            self.joined.push(key);
                            self.deliver_held(now, &filter.full, held);
                        }
                        Err(error) => {
                            tracing::warn!(%error, filter = %filter.full, "mqtt shared subscribe failed");
                        }
                    }
                }
            }
            None => self
                .subscriptions
                .add_plain(&filter.full, &filter.weft_filters, qos),
        }
        if self.session.is_connected() {
            self.persist.after_write = true;
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
        let key = crate::session::parse_filter(filter)
            .ok()
            .and_then(|parsed| {
                let group = parsed.share_group?;
                Some(share_group_key(&group, &parsed.mqtt_filter))
            });
        match key {
            Some(key) => self.hand_over_shared(&key, filter, message),
            None => {
                self.context
                    .inner
                    .counters
                    .shared_redeliver_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Gives a shared-subscription message this member cannot deliver to another
    /// member, or holds it for the group's next member (counted).
    pub(super) fn hand_over_shared(&mut self, key: &str, filter: &str, message: Message) {
        let counters = &self.context.inner.counters;
        match self
            .context
            .inner
            .shares
            .hand_over(key, self.generation, filter, message)
        {
            HandedOver::Delivered => {}
            HandedOver::Held => {
                counters.shared_held.fetch_add(1, Ordering::Relaxed);
            }
            HandedOver::HeldDroppingOldest => {
                counters.shared_held.fetch_add(1, Ordering::Relaxed);
                counters
                    .shared_redeliver_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Delivers the messages a share group held while it had no connected member.
    fn deliver_held(&mut self, now: SystemTime, filter: &str, held: Vec<(String, Message)>) {
        for (_, message) in held {
            self.session.handle_delivery(
                now,
                Delivery {
                    message,
                    publisher: None,
                    target: DeliveryTarget::Subscription {
                        filter: filter.to_owned(),
                        retained: false,
                    },
                },
            );
        }
    }

    async fn end_session(&mut self) {
        // A write behind must not bring the file back after it is removed.
        self.finish_state_write().await;
        let inner = Arc::clone(&self.context.inner);
        for key in std::mem::take(&mut self.joined) {
            inner.shares.leave(&key, self.generation);
        }
        self.subscriptions =
            super::BrokerSubscriptions::new(inner.config.subscription_queue_capacity);
        self.persist.settle();
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
}
