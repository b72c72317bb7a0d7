//! The payload of a mesh event: the event's CloudEvents JSON, plus the weft topic
//! (`wefttopic`) and, when set, the key (`weftkey`, base64) as string extensions. The
//! origin travels in [`MeshEvent::origin`]; the receive time is not carried (the
//! receiving node stamps its own). Both extension names are reserved.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use weft_core::{Event, EventError, ExtensionName, ExtensionValue, json};

use crate::wire::MeshEvent;

/// The extension carrying the weft topic.
pub const TOPIC_EXTENSION: &str = "wefttopic";
/// The extension carrying the key, base64.
pub const KEY_EXTENSION: &str = "weftkey";

/// Why a mesh payload is not a weft event.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The payload is not a valid CloudEvent in JSON.
    #[error("mesh payload is not a cloudevent: {0}")]
    Event(#[from] EventError),
    /// The key extension is not base64 text.
    #[error("mesh payload has an invalid `weftkey` extension")]
    Key,
}

/// Encodes `event` as a mesh payload.
pub fn encode_event(event: &Event) -> Bytes {
    let key = event.key.as_ref().map(|key| BASE64.encode(key));
    let mut extra = vec![(TOPIC_EXTENSION, event.topic.as_str())];
    if let Some(key) = &key {
        extra.push((KEY_EXTENSION, key.as_str()));
    }
    Bytes::from(json::encode_with_extra(&event.cloudevent, &extra))
}

/// Decodes the payload of `mesh_event` into the event to publish locally: its topic is
/// the mesh event's, its origin the node it was published at.
pub fn decode_event(mesh_event: &MeshEvent) -> Result<Event, EnvelopeError> {
    let mut cloudevent = json::decode(&mesh_event.payload)?;
    let extensions = &mut cloudevent.attributes.extensions;
    if let Ok(name) = ExtensionName::new(TOPIC_EXTENSION) {
        extensions.remove(&name);
    }
    let key = match ExtensionName::new(KEY_EXTENSION)
        .ok()
        .and_then(|name| extensions.remove(&name))
    {
        None => None,
        Some(ExtensionValue::String(text)) => Some(Bytes::from(
            BASE64.decode(text).map_err(|_| EnvelopeError::Key)?,
        )),
        Some(_) => return Err(EnvelopeError::Key),
    };
    let mut event = Event::new(
        cloudevent,
        mesh_event.topic.clone(),
        mesh_event.origin.as_str(),
        SystemTime::now(),
    );
    event.key = key;
    Ok(event)
}
