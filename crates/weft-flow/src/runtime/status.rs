//! A route's counters and their snapshot, [`RouteStatus`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a running route has done since it started (counters are monotonic unless noted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteStatus {
    /// Events the route took from its topic subscription or stream consumer.
    pub received: u64,
    /// Events the filter did not pass (value not `true`, or evaluation errors).
    pub filtered_out: u64,
    /// Events delivered to the destination.
    pub delivered: u64,
    /// Retries made (attempts after the first, over all events).
    pub retried: u64,
    /// Events sent to the dead-letter destination (finally failed deliveries and failed
    /// transforms).
    pub dead_lettered: u64,
    /// Events that finally failed and could not be dead-lettered: no dead-letter
    /// destination, or it failed too. From a stream such an event is negatively
    /// acknowledged and comes back later; from a topic it is lost.
    pub failed: u64,
    /// Events abandoned because the route stopped before they were delivered (from a
    /// stream they are negatively acknowledged and delivered again later).
    pub abandoned: u64,
    /// Events the live subscription dropped because the route fell behind (topic
    /// sources only; at-most-once).
    pub dropped: u64,
    /// Replies published on the sink's `reply` topic.
    pub replies: u64,
    /// Events being processed now (a gauge).
    pub in_flight: u64,
    /// Events whose filter and transform ran past the route's `budget` (dead-lettered
    /// with reason `over-budget`).
    pub over_budget: u64,
    /// Evaluations given up at their hard limit and still running on their threads (a
    /// gauge); while it is above zero the route takes no events.
    pub runaway: u64,
    /// The last delivery or dead-letter error, for humans.
    pub last_error: Option<String>,
}

/// The live counters behind [`RouteStatus`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) filtered_out: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) replies: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) over_budget: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers the last error.
    pub(crate) fn set_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> RouteStatus {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RouteStatus {
            received: load(&self.received),
            filtered_out: load(&self.filtered_out),
            delivered: load(&self.delivered),
            retried: load(&self.retried),
            dead_lettered: load(&self.dead_lettered),
            failed: load(&self.failed),
            abandoned: load(&self.abandoned),
            dropped: load(&self.dropped),
            replies: load(&self.replies),
            in_flight: load(&self.in_flight),
            over_budget: load(&self.over_budget),
            runaway: 0,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        }
    }
}

/// Counts one event in flight for as long as it lives.
pub(crate) struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    pub(crate) fn new(counters: &'a Counters) -> Self {
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
