//! The event model: CloudEvents 1.0 context attributes, data, and broker metadata.
//!
//! A [`CloudEvent`] is exactly what the CloudEvents 1.0 specification describes; an
//! [`Event`] is a `CloudEvent` as weft carries it: with the [`Topic`] it was published on,
//! an optional partitioning key, the node it entered the mesh at and when it arrived.
//! Every value of these types is valid: construct them through the checked constructors
//! and parsers, then trust them.
//!
//! Attributes are written and read by their CloudEvents names with [`Attributes::set`]
//! (which applies the specification's rules), [`Attributes::get`] and
//! [`Attributes::iter`] (every attribute including `specversion`, in a stable order, for
//! binary-mode encoders); decoders that meet attributes one at a time use an
//! [`AttributesBuilder`]. The rules weft enforces are listed in `docs/cloudevents.md`.

mod attributes;
mod rules;
mod timestamp;
mod uri;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;

use crate::topic::Topic;

pub use attributes::{AttributesBuilder, AttributesIter};
pub use rules::MAX_NAME_LEN;
pub use uri::UriReference;
pub use value::AttributeValue;

/// The only CloudEvents `specversion` weft accepts.
pub const SPEC_VERSION: &str = "1.0";

/// A CloudEvents 1.0 event: context attributes plus optional data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent {
    /// The context attributes (required, optional and extensions).
    pub attributes: Attributes,
    /// The event payload; `None` when the event has no data (distinct from empty data).
    pub data: Option<Bytes>,
}

/// CloudEvents context attributes. `specversion` is implied: it is always [`SPEC_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// `id`: non-empty; unique per `source`.
    pub id: String,
    /// `source`: a non-empty URI-reference.
    pub source: String,
    /// `type`: non-empty.
    pub ty: String,
    /// `subject`: non-empty when present.
    pub subject: Option<String>,
    /// `time`: an RFC 3339 timestamp.
    pub time: Option<Timestamp>,
    /// `datacontenttype`: an RFC 2046 media type, non-empty when present.
    pub datacontenttype: Option<String>,
    /// `dataschema`: a non-empty URI when present.
    pub dataschema: Option<String>,
    /// Extension attributes, ordered by name so encodings are deterministic.
    pub extensions: BTreeMap<ExtensionName, ExtensionValue>,
}

/// An RFC 3339 timestamp that keeps the exact text it was given (so a round trip is
/// byte-identical) alongside its parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    text: String,
    value: time::OffsetDateTime,
}

/// A valid extension attribute name: 1..=20 characters of `a-z` and `0-9`, and not the
/// name of a core attribute or of `data`/`data_base64`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtensionName(String);

/// The value of an extension attribute, in the CloudEvents type system. The JSON format
/// carries booleans, integers and strings natively; URI, URI-reference, Timestamp and
/// Binary values travel as their canonical string form ([`ExtensionValue::String`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionValue {
    /// `Boolean`.
    Boolean(bool),
    /// `Integer`: a signed 32-bit integer, as the specification requires.
    Integer(i32),
    /// `String` and every type whose canonical form is a string.
    String(String),
}

/// An event as weft carries it: a CloudEvent plus broker metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The CloudEvent itself.
    pub cloudevent: CloudEvent,
    /// The topic it was published on.
    pub topic: Topic,
    /// An optional key used for partitioning and compaction.
    pub key: Option<Bytes>,
    /// The name of the node the event entered weft at.
    pub origin: String,
    /// When that node received it.
    pub received_at: SystemTime,
}

/// Why a CloudEvent (or one of its attributes) is invalid. Messages name the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A required attribute is absent.
    #[error("missing required attribute `{name}`")]
    MissingAttribute {
        /// The attribute's name.
        name: &'static str,
    },
    /// An attribute is present but its value breaks the specification's rules.
    #[error("invalid attribute `{name}`: {reason}")]
    InvalidAttribute {
        /// The attribute's name.
        name: String,
        /// What is wrong, for humans.
        reason: String,
    },
    /// The `specversion` is not `1.0`.
    #[error("unsupported specversion `{found}`; weft accepts only `1.0`")]
    UnsupportedSpecVersion {
        /// The version that was given.
        found: String,
    },
    /// An extension attribute name breaks the naming rules.
    #[error("invalid attribute name `{name}`: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// What is wrong, for humans.
        reason: &'static str,
    },
    /// The event is not valid in the JSON event format.
    #[error("malformed cloudevents json: {reason}")]
    Json {
        /// What is wrong, for humans.
        reason: String,
    },
    /// One event of a batch is invalid. The message repeats the inner error so that it
    /// is complete on its own (``event 3: missing required attribute `id` ``); the inner
    /// error is kept as a field rather than as the `source` so it is not printed twice.
    #[error("event {index}: {error}")]
    Batch {
        /// The 0-based position of the event in the batch.
        index: usize,
        /// What is wrong with it.
        error: Box<EventError>,
    },
}

impl CloudEvent {
    /// An event from validated attributes and optional data (`None` means "no data",
    /// which is different from empty data).
    pub fn new(attributes: Attributes, data: Option<Bytes>) -> Self {
        Self { attributes, data }
    }
}

impl Event {
    /// A CloudEvent as weft carries it, published on `topic`, without a key.
    pub fn new(
        cloudevent: CloudEvent,
        topic: Topic,
        origin: impl Into<String>,
        received_at: SystemTime,
    ) -> Self {
        Self {
            cloudevent,
            topic,
            key: None,
            origin: origin.into(),
            received_at,
        }
    }
}

impl fmt::Display for ExtensionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
