//! What a route does with one event: filter, transform, deliver with retries, and
//! dead-letter what finally fails.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use weft_broker::dead_letter::{DeadLetterNote, GaveUp};
use weft_broker::{Broker, DeadLetter, Principal, StoredAt};
use weft_core::{CloudEvent, Event};

use super::deliver::{Env, Target, error_text};
use super::evaluate::{Evaluated, GRACE, RouteEvaluator};
use super::status::{Counters, InFlight};
use crate::explain;
use crate::manifest::ResourceName;
use crate::manifest::route::RouteSpec;
use crate::transform::budget::MEMORY_CEILING;

pub use weft_broker::dead_letter::{DESTINATION_ATTRIBUTE, ROUTE_ATTRIBUTE};

/// `weftdlreason`: the transform failed (the event was never delivered).
pub const REASON_TRANSFORM_FAILED: &str = "transform-failed";
/// `weftdlreason`: the destination refused the event with a final error (a `400`).
pub const REASON_NON_RETRYABLE: &str = "non-retryable";
/// `weftdlreason`: the last retry failed.
pub const REASON_RETRIES_EXHAUSTED: &str = "retries-exhausted";
/// `weftdlreason`: the filter and transform ran past the route's `budget`.
pub const REASON_OVER_BUDGET: &str = "over-budget";

/// Where a stream-sourced event was read, for the dead letter.
pub(crate) type Position = StoredAt;

/// What the source should do with the event now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered, filtered out, dead-lettered or dropped: acknowledge it.
    Settled,
    /// Not finished (the route stopped, or the dead letter failed): a stream source
    /// negatively acknowledges it so that it comes back.
    Unsettled,
}

/// A running route's fixed parts.
pub(crate) struct Route {
    pub(crate) name: ResourceName,
    pub(crate) spec: Arc<RouteSpec>,
    pub(crate) broker: Broker,
    pub(crate) principal: Principal,
    pub(crate) node: String,
    pub(crate) target: Target,
    pub(crate) destination: String,
    pub(crate) dead_letter: Option<DeadLetter>,
    pub(crate) counters: Counters,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) rng: AtomicU64,
    /// Where the filter and transform run (off the async workers), within the budget.
    pub(crate) evaluator: RouteEvaluator,
}

/// A random 64-bit seed.
pub(crate) fn seed() -> u64 {
    RandomState::new().hash_one(SystemTime::now()) | 1
}

impl Route {
    /// The counters now, with the evaluator's runaway gauge.
    pub(crate) fn status(&self) -> super::RouteStatus {
        let mut status = self.counters.snapshot();
        status.runaway = self.evaluator.runaway();
        status
    }

    /// Whether the route was asked to stop (or its runner dropped).
    pub(crate) fn stopping(&self) -> bool {
        self.stop.has_changed().is_err() || *self.stop.borrow()
    }

    /// Sleeps `wait`; false when the route stopped first.
    async fn sleep_unless_stopped(&self, wait: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            _ = stop.wait_for(|stopped| *stopped) => false,
        }
    }

    /// Filter, transform, deliver with retries, dead-letter.
    pub(crate) async fn process(&self, event: Event, position: Option<&Position>) -> Outcome {
        let counters = &self.counters;
        let _in_flight = InFlight::new(counters);
        Counters::bump(&counters.received);
        // The same filter and transform as route tests and `weft flow explain`, within
        // the route's budget (on an evaluation thread when the route has a jq step).
        let evaluated = self.evaluator.evaluate(&event.cloudevent, &self.stop).await;
        let cloudevent = match evaluated {
            Evaluated::Done(Ok(explain::Outcome::Delivered(cloudevent))) => cloudevent,
            Evaluated::Done(Ok(explain::Outcome::Dropped)) => {
                Counters::bump(&counters.filtered_out);
                return Outcome::Settled;
            }
            Evaluated::Done(Err(error)) if error.is_over_budget() => {
                Counters::bump(&counters.over_budget);
                let message = format!("transform over budget: {error}");
                return self
                    .dead_letter(event, position, REASON_OVER_BUDGET, 0, message)
                    .await;
            }
            Evaluated::Done(Err(error)) => {
                let message = format!("transform failed: {error}");
                return self
                    .dead_letter(event, position, REASON_TRANSFORM_FAILED, 0, message)
                    .await;
            }
            Evaluated::Runaway { after, frozen } => {
                Counters::bump(&counters.over_budget);
                let message = if frozen {
                    format!(
                        "transform over budget: a jq operation asked for memory past the ceiling of {} MiB; its thread is frozen for good and the route takes no events until it is changed or deleted",
                        MEMORY_CEILING / (1024 * 1024)
                    )
                } else {
                    format!(
                        "transform over budget: still running after {} (budget {} + {} grace); its thread is abandoned and the route takes no events until it ends",
                        weft_core::units::format_duration(after),
                        weft_core::units::format_duration(self.spec.budget),
                        weft_core::units::format_duration(GRACE),
                    )
                };
                tracing::warn!(route = %self.name, id = %event.cloudevent.attributes.id, "evaluation ran away; thread abandoned");
                return self
                    .dead_letter(event, position, REASON_OVER_BUDGET, 0, message)
                    .await;
            }
            Evaluated::Stopped => {
                Counters::bump(&counters.abandoned);
                return Outcome::Unsettled;
            }
            Evaluated::Unavailable(reason) => {
                let message = format!("transform failed: {reason}");
                return self
                    .dead_letter(event, position, REASON_TRANSFORM_FAILED, 0, message)
                    .await;
            }
        };
        let out = Event {
            cloudevent,
            ..event.clone()
        };
        let env = Env {
            broker: &self.broker,
            principal: &self.principal,
            timeout: self.spec.delivery.timeout,
        };
        let mut attempt: u32 = 0;
        loop {
            if self.stopping() {
                Counters::bump(&counters.abandoned);
                return Outcome::Unsettled;
            }
            attempt += 1;
            let failure = match self.target.attempt(&env, &out).await {
                Ok(reply) => {
                    Counters::bump(&counters.delivered);
                    if let Some(reply) = reply {
                        self.publish_reply(reply, &event).await;
                    }
                    return Outcome::Settled;
                }
                Err(failure) => failure,
            };
            tracing::debug!(
                route = %self.name,
                destination = %self.destination,
                id = %event.cloudevent.attributes.id,
                attempt,
                retryable = failure.retryable,
                error = %failure.message,
                "delivery attempt failed"
            );
            if !failure.retryable {
                return self
                    .dead_letter(
                        event,
                        position,
                        REASON_NON_RETRYABLE,
                        attempt,
                        failure.message,
                    )
                    .await;
            }
            if attempt > self.spec.delivery.retries {
                return self
                    .dead_letter(
                        event,
                        position,
                        REASON_RETRIES_EXHAUSTED,
                        attempt,
                        failure.message,
                    )
                    .await;
            }
            let wait = self.wait_before(attempt, failure.retry_after);
            if !self.sleep_unless_stopped(wait).await {
                Counters::bump(&counters.abandoned);
                return Outcome::Unsettled;
            }
            Counters::bump(&counters.retried);
        }
    }

    /// The wait before retry `retry` (1-based): the backoff (with full jitter in
    /// `0..=wait` when enabled), or longer when `Retry-After` asks for it, but never a
    /// `Retry-After` longer than the backoff's `max`.
    pub(crate) fn wait_before(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = &self.spec.delivery.backoff;
        let mut wait = backoff.wait(retry);
        if backoff.jitter {
            wait = self.jitter(wait);
        }
        match retry_after {
            Some(asked) => wait.max(asked.min(backoff.max)),
            None => wait,
        }
    }

    /// A uniformly random duration in `0..=wait` (xorshift; not for cryptography).
    fn jitter(&self, wait: Duration) -> Duration {
        let mut next = 0;
        let _ = self
            .rng
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mut x| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                next = x;
                Some(x)
            });
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(next % nanos.saturating_add(1))
    }

    /// Sends the original `event` with `weftdl*` attributes to the dead-letter
    /// destination.
    async fn dead_letter(
        &self,
        event: Event,
        position: Option<&Position>,
        reason: &str,
        attempts: u32,
        error: String,
    ) -> Outcome {
        let counters = &self.counters;
        let id = event.cloudevent.attributes.id.clone();
        counters.set_error(error.clone());
        let Some(target) = &self.dead_letter else {
            tracing::warn!(route = %self.name, %id, reason, %error, "event failed and the route has no dead-letter destination; dropped");
            Counters::bump(&counters.failed);
            return Outcome::Settled;
        };
        let note = DeadLetterNote {
            reason: reason.to_owned(),
            attempts,
            error: Some(error.clone()),
            position: position.cloned(),
            gave_up: GaveUp::Route {
                route: self.name.to_string(),
                destination: self.destination.clone(),
            },
        };
        let sent = self
            .broker
            .send_dead_letter(&self.principal, target, event, &note)
            .await
            .map_err(|error| error_text(&error));
        match sent {
            Ok(()) => {
                tracing::info!(route = %self.name, %id, reason, attempts, %error, "event dead-lettered");
                Counters::bump(&counters.dead_lettered);
                Outcome::Settled
            }
            Err(dead_letter_error) => {
                tracing::warn!(route = %self.name, %id, reason, error = %dead_letter_error, "dead letter failed");
                counters.set_error(format!("dead letter failed: {dead_letter_error}"));
                Counters::bump(&counters.failed);
                Outcome::Unsettled
            }
        }
    }

    /// Publishes a sink's reply on the sink's `reply` topic (if it has one).
    async fn publish_reply(&self, reply: CloudEvent, request: &Event) {
        let Target::Http {
            reply: Some(topic), ..
        } = &self.target
        else {
            return;
        };
        let mut event = Event::new(reply, topic.clone(), self.node.clone(), SystemTime::now());
        event.key = request.key.clone();
        match self.broker.publish(&self.principal, event).await {
            Ok(_) => Counters::bump(&self.counters.replies),
            Err(error) => {
                let error = error_text(&error);
                tracing::warn!(route = %self.name, %topic, %error, "reply not published");
                self.counters
                    .set_error(format!("reply not published: {error}"));
            }
        }
    }
}
