//! The values the delivery state machine takes and returns.

use std::time::Duration;

use super::super::config::{Backoff, ConsumerConfig, KeyOrdering};

/// Events read ahead per partition and not yet delivered, at most.
pub(crate) const READ_AHEAD: usize = 256;

/// The parts of [`ConsumerConfig`] the state machine uses.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliveries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) max_in_flight: usize,
    pub(crate) by_key: bool,
    pub(crate) session_timeout: Duration,
}

impl From<&ConsumerConfig> for Settings {
    fn from(config: &ConsumerConfig) -> Self {
        Settings {
            ack_wait: config.ack_wait,
            max_deliveries: config.max_deliveries,
            backoff: config.backoff.clone(),
            max_in_flight: config.max_in_flight,
            by_key: config.ordering == KeyOrdering::ByKey,
            session_timeout: config.session_timeout(),
        }
    }
}

/// Why an event is dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadLetterReason {
    /// It was delivered `max_deliveries` times without an ack.
    MaxDeliveries,
    /// A client terminated it.
    Terminated,
}

impl DeadLetterReason {
    /// The value of the `weftdlreason` attribute.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::MaxDeliveries => "max-deliveries",
            DeadLetterReason::Terminated => "terminated",
        }
    }
}

/// An event to move to the dead-letter destination; then report
/// [`ConsumerState::dead_letter_done`] or [`ConsumerState::dead_letter_failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeadLetterOrder {
    pub(crate) partition: u32,
    pub(crate) offset: u64,
    pub(crate) attempts: u32,
    pub(crate) reason: DeadLetterReason,
    pub(crate) error: Option<String>,
}

/// The delivery token did not name a delivery in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnknownDelivery;

/// Monotonic counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) redelivered: u64,
    pub(crate) acked: u64,
    pub(crate) dead_lettered: u64,
}
