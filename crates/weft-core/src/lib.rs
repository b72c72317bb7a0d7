//! `weft-core`: the vocabulary every other weft crate speaks.
//!
//! It owns the event model — a [`CloudEvent`] (CloudEvents 1.0 context attributes plus
//! shared data bytes) wrapped in an [`Event`] that adds broker metadata (topic, key,
//! origin node, receive time) — the validated [`Topic`] and [`Filter`] newtypes, the
//! CloudEvents JSON event format ([`json`]), unique id generation, the [`Clock`] seam,
//! and the spellings of human sizes and durations ([`units`]).
//!
//! It must not depend on tokio, on any wire protocol or on any other weft crate: it is
//! the bottom of the dependency graph (core ← topic ← log ← broker ← front ends).

pub mod clock;
pub mod error;
pub mod event;
pub mod id;
pub mod json;
pub mod percent;
pub mod topic;
pub mod units;

pub use clock::{Clock, SystemClock};
pub use error::error_chain;
pub use event::{
    AttributeValue, Attributes, AttributesBuilder, CloudEvent, Event, EventError, ExtensionName,
    ExtensionValue, SPEC_VERSION, Timestamp, UriReference,
};
pub use topic::{Filter, Topic, TopicError};
