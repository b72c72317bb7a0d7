//! The mesh event envelope: how a weft [`Event`] travels as the opaque payload of a
//! [`MeshEvent`].
//!
//! The first byte of a payload says which form it is in:
//!
//! * `0x01`: the **binary** envelope ([`binary`]), what this crate writes. A flags byte,
//!   the CloudEvents attributes typed and length-prefixed, the key, and the data bytes
//!   as they are (decoding slices them out of the received frame: no copy). Six bytes
//!   plus the attribute text and the data for a plain event (126 bytes for one with
//!   100 bytes of data, where its JSON form takes 251 and a JSON parse per hop).
//! * `{`: the **JSON** envelope ([`json`]) that nodes wrote before the binary one: the
//!   event's CloudEvents JSON with the reserved `wefttopic` and `weftkey` extensions.
//!   Payloads persisted in durable outboxes (`<data_dir>/mesh/outbox`) in that form, and
//!   events from nodes that do not speak the binary envelope yet, still decode; and a
//!   link to such a node gets JSON payloads ([`to_json`], see the `binary_envelope`
//!   capability of [`crate::wire::Capabilities`]).
//!
//! Anything else is [`EnvelopeError::UnknownFormat`]. The topic is not in the binary
//! envelope: the [`MeshEvent`] that carries a payload also carries its topic (and
//! origin), and decoding always has both.
//!
//! This module is sans-I/O and never panics on input: every malformed payload is a
//! distinct [`EnvelopeError`].

pub mod binary;
pub mod json;

use std::time::SystemTime;

use bytes::Bytes;
use weft_core::{Event, EventError};

use crate::wire::MeshEvent;

/// The format byte of a binary envelope (version 1).
pub const BINARY_V1: u8 = 0x01;

/// The first byte of a JSON envelope.
const JSON_START: u8 = b'{';

/// Why a mesh payload is not a weft event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The payload is empty.
    #[error("mesh payload is empty")]
    Empty,
    /// The first byte names no envelope format this node reads.
    #[error("mesh payload has an unknown format (first byte {tag:#04x})")]
    UnknownFormat {
        /// The first byte.
        tag: u8,
    },
    /// A field runs past the end of the payload.
    #[error("mesh payload ends inside {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A length does not fit (more than 5 bytes of varint, or beyond 32 bits).
    #[error("mesh payload has an invalid length for {field}")]
    InvalidLength {
        /// The field being read.
        field: &'static str,
    },
    /// Bytes follow the last field of an envelope without data.
    #[error("mesh payload has {count} unexpected bytes after its last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A text field is not UTF-8.
    #[error("mesh payload's {field} is not valid utf-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// The flags byte has bits this version does not define.
    #[error("mesh payload has unknown flags {flags:#04x}")]
    UnknownFlags {
        /// The undefined bits found.
        flags: u8,
    },
    /// An extension value has an unknown type code.
    #[error("mesh payload's extension `{name}` has an unknown type {code}")]
    UnknownValueType {
        /// The extension's name.
        name: String,
        /// The code found.
        code: u8,
    },
    /// The payload is not a valid CloudEvent (an attribute breaks the CloudEvents
    /// rules, or the JSON is malformed).
    #[error("mesh payload is not a valid cloudevent")]
    Event(#[source] EventError),
    /// The key extension of a JSON envelope is not base64 text.
    #[error("mesh payload has an invalid `weftkey` extension")]
    Key,
}

impl From<EventError> for EnvelopeError {
    fn from(error: EventError) -> Self {
        Self::Event(error)
    }
}

/// Encodes `event` as a mesh payload, in the binary envelope.
pub fn encode_event(event: &Event) -> Bytes {
    binary::encode(event)
}

/// Decodes the payload of `mesh_event` (binary or JSON envelope) into the event to
/// publish locally: its topic is the mesh event's, its origin the node it was
/// published at, and it was received now.
pub fn decode_event(mesh_event: &MeshEvent) -> Result<Event, EnvelopeError> {
    decode_event_at(mesh_event, SystemTime::now())
}

/// [`decode_event`] with the receive time given (one clock read for a whole batch).
pub fn decode_event_at(
    mesh_event: &MeshEvent,
    received_at: SystemTime,
) -> Result<Event, EnvelopeError> {
    let (cloudevent, key) = match mesh_event.payload.first() {
        Some(&BINARY_V1) => binary::decode(&mesh_event.payload)?,
        Some(&JSON_START) => json::decode(&mesh_event.payload)?,
        Some(&tag) => return Err(EnvelopeError::UnknownFormat { tag }),
        None => return Err(EnvelopeError::Empty),
    };
    let mut event = Event::new(
        cloudevent,
        mesh_event.topic.clone(),
        mesh_event.origin.as_str(),
        received_at,
    );
    event.key = key;
    Ok(event)
}

/// Whether `payload` is in the JSON envelope (what nodes without the binary envelope
/// read).
pub fn is_json(payload: &[u8]) -> bool {
    payload.first() == Some(&JSON_START)
}

/// The payload of `mesh_event` in the JSON envelope, for a peer that does not read the
/// binary one: a JSON payload as it is, a binary one re-encoded.
pub fn to_json(mesh_event: &MeshEvent) -> Result<Bytes, EnvelopeError> {
    if is_json(&mesh_event.payload) {
        return Ok(mesh_event.payload.clone());
    }
    let event = decode_event_at(mesh_event, SystemTime::UNIX_EPOCH)?;
    Ok(json::encode(&event))
}

#[cfg(test)]
mod tests;
