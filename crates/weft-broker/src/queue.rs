//! One bounded queue per live subscription, and the [`Subscription`] handle a front end
//! reads from.
//!
//! The publisher never waits for a subscriber: when a queue is full, the subscription's
//! [`OverflowPolicy`] decides — drop the oldest queued event (counted), disconnect the
//! subscriber, or refuse new publishes that match it (for subscribers that must not lose
//! what their publishers were told is delivered: MQTT QoS 1 and 2). Either way the
//! publisher and every other subscriber go on at full speed.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;
use weft_core::{Event, Filter};

use crate::broker::Inner;

/// Events a subscription may hold before its overflow policy applies, unless the
/// subscriber asks for another size.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// What happens when a subscriber's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Drop the oldest queued event to make room, and count it (the default: a slow
    /// live subscriber sees the newest events).
    #[default]
    DropOldest,
    /// Close the subscription; the subscriber learns why from [`RecvError::Overflow`].
    Disconnect,
    /// Refuse new publishes that match the subscription while its queue is full: the
    /// publisher gets [`crate::PublishError::SubscriberFull`] and nothing is dropped, so
    /// what was acknowledged is delivered. Events that reach the queue without a
    /// publisher to refuse (from another node over the mesh, or a publish admitted just
    /// before the queue filled) are still queued, up to [`REFUSING_QUEUE_SLACK`] times
    /// the capacity; beyond that the oldest is dropped and counted, as with
    /// [`Self::DropOldest`].
    RefusePublish,
}

/// How far past its capacity a [`OverflowPolicy::RefusePublish`] queue still takes
/// events that were not refused (see there), as a multiple of the capacity.
pub const REFUSING_QUEUE_SLACK: usize = 2;

impl std::str::FromStr for OverflowPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "drop-oldest" => Ok(Self::DropOldest),
            "disconnect" => Ok(Self::Disconnect),
            "refuse-publish" => Ok(Self::RefusePublish),
            other => Err(format!(
                "unknown overflow policy `{other}`; expected `drop-oldest`, `disconnect` or `refuse-publish`"
            )),
        }
    }
}

impl fmt::Display for OverflowPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DropOldest => "drop-oldest",
            Self::Disconnect => "disconnect",
            Self::RefusePublish => "refuse-publish",
        })
    }
}

/// How a live subscription behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Maximum queued events (at least 1).
    pub queue_capacity: usize,
    /// What to do when the queue is full.
    pub overflow: OverflowPolicy,
    /// A queue group: of all subscriptions in the same group that match an event, only
    /// one gets it (anycast, like NATS queue groups and MQTT shared subscriptions);
    /// `None` is an ordinary subscription that gets every matching event.
    pub group: Option<Arc<str>>,
    /// An internal subscription (the mesh's own) is not part of the node's interest
    /// ([`crate::Broker::interest`]).
    pub internal: bool,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            overflow: OverflowPolicy::default(),
            group: None,
            internal: false,
        }
    }
}

/// Identifies a live subscription within one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(pub(crate) u64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sub-{}", self.0)
    }
}

/// Why [`Subscription::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The queue overflowed and the subscription's policy is [`OverflowPolicy::Disconnect`].
    #[error("subscriber too slow: queue of {capacity} events overflowed")]
    Overflow {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The broker shut down.
    #[error("broker shut down")]
    Shutdown,
}

/// The state shared between the broker (producer) and one subscriber (consumer).
pub(crate) struct SubscriberQueue {
    pub(crate) id: SubscriptionId,
    state: Mutex<QueueState>,
    notify: Notify,
    options: SubscribeOptions,
    dropped: AtomicU64,
    /// The broker's count of refusing queues that are full: publishes look for a full
    /// queue among their matches only while it is not zero.
    full_queues: Arc<AtomicUsize>,
}

struct QueueState {
    events: VecDeque<Arc<Event>>,
    closed: Option<RecvError>,
    /// A refusing queue at or past its capacity (counted in `full_queues`).
    full: bool,
}

/// What happened to one event offered to a queue.
pub(crate) enum Offer {
    Queued,
    /// Queued after dropping the oldest event.
    QueuedDroppingOldest,
    /// The queue was full and the subscription is now closed.
    Disconnected,
    /// The subscription was already closed; nothing was queued.
    Closed,
}

impl SubscriberQueue {
    pub(crate) fn new(
        id: SubscriptionId,
        options: SubscribeOptions,
        full_queues: Arc<AtomicUsize>,
    ) -> Self {
        let options = SubscribeOptions {
            queue_capacity: options.queue_capacity.max(1),
            ..options
        };
        Self {
            id,
            state: Mutex::new(QueueState {
                // Grown on demand (and kept): most subscriptions of an idle node, one per
                // MQTT connection say, hold nothing, and room for 64 events up front was
                // half a kilobyte each.
                events: VecDeque::new(),
                closed: None,
                full: false,
            }),
            notify: Notify::new(),
            options,
            dropped: AtomicU64::new(0),
            full_queues,
        }
    }

    /// Whether a new publish matching this subscription must be refused: its policy is
    /// [`OverflowPolicy::RefusePublish`] and its queue is full.
    pub(crate) fn refuses_publishes(&self) -> bool {
        self.options.overflow == OverflowPolicy::RefusePublish && self.lock().full
    }

    /// Keeps `state.full` (and the broker's count of full refusing queues) in step with
    /// the queue's length.
    fn update_full(&self, state: &mut QueueState) {
        let full = self.options.overflow == OverflowPolicy::RefusePublish
            && state.closed.is_none()
            && state.events.len() >= self.options.queue_capacity;
        if full != state.full {
            state.full = full;
            if full {
                self.full_queues.fetch_add(1, Ordering::Relaxed);
            } else {
                self.full_queues.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Its queue group, if any.
    pub(crate) fn group(&self) -> Option<&Arc<str>> {
        self.options.group.as_ref()
    }

    /// Whether it is left out of the node's interest.
    pub(crate) fn is_internal(&self) -> bool {
        self.options.internal
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // critical section is a single VecDeque operation), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Offers an event without ever blocking the publisher.
    pub(crate) fn offer(&self, event: &Arc<Event>) -> Offer {
        let outcome = {
            let mut state = self.lock();
            if state.closed.is_some() {
                return Offer::Closed;
            }
            let room = match self.options.overflow {
                OverflowPolicy::RefusePublish => self
                    .options
                    .queue_capacity
                    .saturating_mul(REFUSING_QUEUE_SLACK),
                OverflowPolicy::DropOldest | OverflowPolicy::Disconnect => {
                    self.options.queue_capacity
                }
            };
            let outcome = if state.events.len() < room {
                state.events.push_back(Arc::clone(event));
                Offer::Queued
            } else {
                match self.options.overflow {
                    OverflowPolicy::DropOldest | OverflowPolicy::RefusePublish => {
                        state.events.pop_front();
                        state.events.push_back(Arc::clone(event));
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        Offer::QueuedDroppingOldest
                    }
                    OverflowPolicy::Disconnect => {
                        state.events.clear();
                        state.closed = Some(RecvError::Overflow {
                            capacity: self.options.queue_capacity,
                        });
                        Offer::Disconnected
                    }
                }
            };
            self.update_full(&mut state);
            outcome
        };
        // One consumer per queue: `notify_one` stores a permit if it is not waiting yet,
        // so a wake-up between its empty check and its await is never lost.
        self.notify.notify_one();
        outcome
    }

    pub(crate) fn close(&self, reason: RecvError) {
        let mut state = self.lock();
        state.closed.get_or_insert(reason);
        self.update_full(&mut state);
        drop(state);
        self.notify.notify_one();
    }
}

impl Drop for SubscriberQueue {
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.full {
            self.full_queues.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A live subscription: yields every event published on a topic matching one of its
/// filters (once per event, however many of its filters match), until dropped.
///
/// Dropping it removes it from the broker.
pub struct Subscription {
    queue: Arc<SubscriberQueue>,
    filters: Vec<Filter>,
    broker: Weak<Inner>,
}

impl Subscription {
    pub(crate) fn new(
        queue: Arc<SubscriberQueue>,
        filters: Vec<Filter>,
        broker: Weak<Inner>,
    ) -> Self {
        Self {
            queue,
            filters,
            broker,
        }
    }

    /// This subscription's id.
    pub fn id(&self) -> SubscriptionId {
        self.queue.id
    }

    /// The filters it was created with.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Events dropped from this subscription's queue because it was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }

    /// The next event, waiting for one if the queue is empty.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        loop {
            if let Some(outcome) = self.try_recv() {
                return outcome;
            }
            self.queue.notify.notified().await;
        }
    }

    /// Moves up to `max` queued events into `out` without waiting; waits only when the
    /// queue is empty. Returns how many were moved. Lets a front end write a burst of
    /// events with one flush.
    pub async fn recv_many(
        &mut self,
        out: &mut Vec<Arc<Event>>,
        max: usize,
    ) -> Result<usize, RecvError> {
        loop {
            {
                let mut state = self.queue.lock();
                if !state.events.is_empty() {
                    let count = state.events.len().min(max.max(1));
                    out.extend(state.events.drain(..count));
                    self.queue.update_full(&mut state);
                    return Ok(count);
                }
                if let Some(reason) = state.closed {
                    return Err(reason);
                }
            }
            self.queue.notify.notified().await;
        }
    }

    /// The next queued event if there is one, the reason the subscription ended if it
    /// has, or `None` if the queue is merely empty.
    pub fn try_recv(&mut self) -> Option<Result<Arc<Event>, RecvError>> {
        let mut state = self.queue.lock();
        if let Some(event) = state.events.pop_front() {
            self.queue.update_full(&mut state);
            return Some(Ok(event));
        }
        state.closed.map(Err)
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.queue.id)
            .field("filters", &self.filters)
            .finish_non_exhaustive()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.upgrade() {
            broker.unsubscribe(&self.queue, &self.filters);
        }
    }
}
