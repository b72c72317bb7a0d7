//! The JSON envelope, written by nodes before the binary envelope existed and still read
//! (durable outboxes persisted in it; peers without the `binary_envelope` capability):
//! the event's CloudEvents JSON plus two reserved string extensions, `wefttopic` (the
//! topic) and, when the event has a key, `weftkey` (the key in base64). Decoding strips
//! both; the topic comes from the [`MeshEvent`](crate::wire::MeshEvent) instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use weft_core::{CloudEvent, Event, ExtensionValue};

use super::EnvelopeError;

/// The extension carrying the weft topic.
pub const TOPIC_EXTENSION: &str = "wefttopic";
/// The extension carrying the key, base64.
pub const KEY_EXTENSION: &str = "weftkey";

/// Encodes `event` in the JSON envelope.
pub fn encode(event: &Event) -> Bytes {
    let key = event.key.as_ref().map(|key| BASE64.encode(key));
    let mut extra = vec![(TOPIC_EXTENSION, event.topic.as_str())];
    if let Some(key) = &key {
        extra.push((KEY_EXTENSION, key.as_str()));
    }
    Bytes::from(weft_core::json::encode_with_extra(
        &event.cloudevent,
        &extra,
    ))
}

/// Decodes a JSON envelope into the CloudEvent (reserved extensions removed) and the key.
pub fn decode(payload: &[u8]) -> Result<(CloudEvent, Option<Bytes>), EnvelopeError> {
    let mut cloudevent = weft_core::json::decode(payload)?;
    let extensions = &mut cloudevent.attributes.extensions;
    extensions.remove(TOPIC_EXTENSION);
    let key = match extensions.remove(KEY_EXTENSION) {
        None => None,
        Some(ExtensionValue::String(text)) => Some(Bytes::from(
            BASE64.decode(text).map_err(|_| EnvelopeError::Key)?,
        )),
        Some(_) => return Err(EnvelopeError::Key),
    };
    Ok((cloudevent, key))
}
