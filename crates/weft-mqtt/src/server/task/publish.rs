//! Inbound publishes, pipelined: a QoS 1/2 PUBLISH is submitted to the broker at once
//! (stream appends queued, live subscribers served) and the task goes on reading while
//! the broker makes it durable; PUBACK/PUBREC go out in packet order as the answers
//! come. At most the announced receive maximum wait at a time (the run loop stops
//! reading beyond it). Retained-store updates are applied in packet order too, once a
//! message is accepted.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::SystemTime;

use futures_util::FutureExt;
use weft_broker::{PublishError, PublishOptions, Published, Submission};

use super::{OWN_EVENTS, SessionTask};
use crate::codec::{QoS, ReasonCode};
use crate::mapping::{InboundContext, PlainSource, message_to_event};
use crate::retained::RetainedChange;
use crate::server::ContextInner;
use crate::session::{Message, PublishOutcome};

/// The PUBACK/PUBREC reason code for a broker refusal (one place, see the crate docs).
pub(super) fn reason_for(error: &PublishError) -> ReasonCode {
    match error {
        PublishError::Denied(_) => ReasonCode::NotAuthorized,
        PublishError::EventTooLarge { .. }
        | PublishError::Forward(_)
        | PublishError::SubscriberFull { .. } => ReasonCode::QuotaExceeded,
        PublishError::Storage { .. } => ReasonCode::UnspecifiedError,
    }
}

type Durable = Pin<Box<dyn Future<Output = Result<Published, PublishError>> + Send>>;

/// The broker's answer to one publish, or the wait for it.
enum Answer {
    Ready(PublishOutcome),
    Waiting(Durable),
}

/// One inbound publish not answered yet.
pub(super) struct Waiting {
    /// The packet id to acknowledge (QoS 1/2).
    packet_id: Option<u16>,
    qos: QoS,
    /// The message, when it must be applied to the retained store once accepted.
    retained: Option<Box<Message>>,
    answer: Answer,
}

/// The answered publish at the head of the queue.
pub(super) struct Answered {
    waiting: Waiting,
    outcome: PublishOutcome,
}

/// An inbound message whose event a stream captures: its submission waits for room in
/// the stream's queue, so the task awaits it before it handles the next output.
pub(super) struct Captured {
    submission: Submission,
    message: Message,
    ack: Option<u16>,
}

/// The answer to a submitted publish: at once when there is nothing to wait for (or
/// nobody to tell, QoS 0), else the wait for durability.
fn answer_for(qos: QoS, pending: weft_broker::PendingPublish) -> Answer {
    if qos == QoS::AtMostOnce || pending.is_settled() {
        Answer::Ready(PublishOutcome::Accepted {
            matched: pending.subscribers() > 0 || pending.duplicates() > 0,
        })
    } else {
        Answer::Waiting(Box::pin(pending.finish()))
    }
}

impl Answered {
    /// Whether accepting it writes the retained store (which waits for the disk).
    pub(super) fn updates_retained(&self) -> bool {
        self.waiting.retained.is_some()
    }
}

/// Inbound publishes waiting for the broker's answer, in packet order.
#[derive(Default)]
pub(super) struct InboundPublishes {
    queue: VecDeque<Waiting>,
}

fn outcome_of(result: Result<Published, PublishError>) -> PublishOutcome {
    match result {
        Ok(published) => PublishOutcome::Accepted {
            matched: published.subscribers > 0
                || !published.stored.is_empty()
                || published.duplicates > 0,
        },
        Err(error) => {
            tracing::warn!(%error, "mqtt publish refused");
            PublishOutcome::Refused(reason_for(&error))
        }
    }
}

impl InboundPublishes {
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The head of the queue once it is answered; pending forever while the queue is
    /// empty. Cancel-safe (the wait stays in the queue).
    pub(super) async fn next_answer(&mut self) -> Answered {
        std::future::poll_fn(|cx| {
            let Some(head) = self.queue.front_mut() else {
                return Poll::Pending;
            };
            let outcome = match &mut head.answer {
                Answer::Ready(outcome) => *outcome,
                Answer::Waiting(durable) => match durable.as_mut().poll(cx) {
                    Poll::Ready(result) => outcome_of(result),
                    Poll::Pending => return Poll::Pending,
                },
            };
            match self.queue.pop_front() {
                Some(waiting) => Poll::Ready(Answered { waiting, outcome }),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The head of the queue if it is answered now, without waiting.
    fn answered_now(&mut self) -> Option<Answered> {
        self.next_answer().now_or_never()
    }
}

impl SessionTask {
    /// Publishes one inbound message (an `Output::Publish`): handed to the broker now,
    /// answered (PUBACK/PUBREC) in packet order once the broker made it durable. Returns
    /// the event when a stream captures it: its appends are submitted by
    /// [`Self::submit_captured`], which may wait.
    pub(super) fn publish(
        &mut self,
        now: SystemTime,
        message: Message,
        ack: Option<u16>,
    ) -> Option<Box<Captured>> {
        let inner = Arc::clone(&self.context.inner);
        let client_id = self.session.client_id();
        // Made at the first publish, not at CONNECT: a connection that only subscribes
        // never pays for it.
        let source = match self.plain_source.take() {
            Some(source) if source.is_for(client_id) => source,
            _ => Box::new(PlainSource::new(&inner.config.node, client_id)),
        };
        let context = InboundContext {
            node: &inner.config.node,
            source: &source,
            received_at: now,
        };
        let qos = message.qos;
        let mapped = message_to_event(&message, &context);
        self.plain_source = Some(source);
        let answer = match mapped {
            Err(error) => {
                tracing::debug!(%error, client_id = %self.session.client_id(), topic = %message.topic.as_str(), "mqtt message refused");
                Answer::Ready(PublishOutcome::Refused(error.reason_code()))
            }
            Ok(event) => {
                self.remember_own(&event);
                let mut submission =
                    inner
                        .broker
                        .submit(&inner.principal, event, PublishOptions::default());
                // Ready at once unless a stream captures the event (its appends may
                // wait for room): then the run loop awaits it.
                match (&mut submission).now_or_never() {
                    Some(Err(error)) => Answer::Ready(outcome_of(Err(error))),
                    Some(Ok(pending)) => answer_for(qos, pending),
                    None => {
                        return Some(Box::new(Captured {
                            submission,
                            message,
                            ack,
                        }));
                    }
                }
            }
        };
        self.enqueue(now, message, ack, answer);
        None
    }

    /// [`Self::publish`] of an event a stream captures: finishes submitting its appends
    /// (waiting for room in the stream's queue).
    pub(super) async fn submit_captured(&mut self, captured: Captured) {
        let Captured {
            submission,
            message,
            ack,
        } = captured;
        let answer = match submission.await {
            Err(error) => Answer::Ready(outcome_of(Err(error))),
            Ok(pending) => answer_for(message.qos, pending),
        };
        self.enqueue(SystemTime::now(), message, ack, answer);
    }

    /// Answers `message` now when nothing before it waits, or queues it.
    fn enqueue(&mut self, now: SystemTime, message: Message, ack: Option<u16>, answer: Answer) {
        let qos = message.qos;
        if let Answer::Ready(outcome) = answer
            && self.publishes.queue.is_empty()
            && !message.retain
        {
            self.complete_publish(now, ack, qos, outcome);
            return;
        }
        self.publishes.queue.push_back(Waiting {
            packet_id: ack,
            qos,
            retained: message.retain.then(|| Box::new(message)),
            answer,
        });
        // Often answered already: acknowledge without a wake-up (retained messages wait
        // for the run loop, which writes the store).
        while self
            .publishes
            .queue
            .front()
            .is_some_and(|head| head.retained.is_none())
        {
            let Some(answered) = self.publishes.answered_now() else {
                break;
            };
            self.complete_answered(answered);
        }
    }

    /// A will: published like an inbound QoS 0 message, nobody to answer.
    pub(super) async fn publish_will(&mut self, message: Message) {
        if let Some(captured) = self.publish(SystemTime::now(), message, None) {
            self.submit_captured(*captured).await;
        }
    }

    /// The broker answered the oldest waiting publish: update the retained store, then
    /// acknowledge it.
    pub(super) async fn on_publish_answered(&mut self, answered: Answered) {
        let Answered {
            waiting,
            mut outcome,
        } = answered;
        if let Some(message) = &waiting.retained
            && matches!(outcome, PublishOutcome::Accepted { .. })
            && !Box::pin(update_retained(&self.context.inner, message)).await
        {
            outcome = PublishOutcome::Refused(ReasonCode::UnspecifiedError);
        }
        self.complete_publish(SystemTime::now(), waiting.packet_id, waiting.qos, outcome);
    }

    /// Acknowledges an answered publish that does not update the retained store.
    pub(super) fn complete_answered(&mut self, answered: Answered) {
        let waiting = answered.waiting;
        self.complete_publish(
            SystemTime::now(),
            waiting.packet_id,
            waiting.qos,
            answered.outcome,
        );
    }

    fn complete_publish(
        &mut self,
        now: SystemTime,
        packet_id: Option<u16>,
        qos: QoS,
        outcome: PublishOutcome,
    ) {
        if let Some(packet_id) = packet_id {
            if qos == QoS::ExactlyOnce {
                // The remembered packet id must be stored before PUBREC.
                self.persist.urgent = true;
            }
            self.session.publish_completed(now, packet_id, outcome);
        }
    }

    /// Waits for every submitted publish and answers it (before a takeover or the end).
    pub(super) async fn finish_publishes(&mut self) {
        while self.publishes.len() > 0 {
            let answered = self.publishes.next_answer().await;
            self.on_publish_answered(answered).await;
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
}

/// Applies a retained message to the store and to disk; false when it could not be
/// stored durably.
async fn update_retained(inner: &ContextInner, message: &Message) -> bool {
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
        RetainedChange::Stored => tokio::task::spawn_blocking(move || files.store(&stored)).await,
        RetainedChange::Deleted => {
            tokio::task::spawn_blocking(move || files.remove(stored.topic.as_str())).await
        }
    };
    let Some(error) = super::failed_write(inner, written) else {
        return true;
    };
    tracing::error!(%error, topic = %message.topic.as_str(), "mqtt retained message not stored");
    false
}
