//! The CloudEvents JSON event format (`application/cloudevents+json`) and its batch
//! form (`application/cloudevents-batch+json`).
//!
//! Attributes are top-level members. Extension values map to JSON booleans, integers
//! (within the signed 32-bit range) and strings; any other JSON type is an error naming
//! the attribute, except `null`, which means "absent" for every attribute (a `null`
//! required attribute is therefore missing).
//!
//! Data (format §3.1):
//!
//! | when decoding | data bytes |
//! |---|---|
//! | `data_base64` | the decoded bytes (padding optional) |
//! | `data`, JSON media type (`application/json`, `*+json`, or no `datacontenttype`) | the exact raw JSON text of the value |
//! | `data` is a string, other media type | the string's UTF-8 bytes |
//! | `data` is not a string, other media type | the exact raw JSON text of the value |
//!
//! `data` and `data_base64` together are an error; `data: null` is the JSON value
//! `null`, not "no data". When encoding, bytes with a JSON media type (or none) that are
//! exactly one JSON value are written raw as `data`; UTF-8 bytes with any other media
//! type that is not obviously binary (`text/*` included) are written as a `data` string;
//! everything else as `data_base64`. So data bytes and attributes survive JSON → event →
//! JSON → event unchanged.

mod read;
mod write;

use std::borrow::Cow;
use std::cell::Cell;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use serde::de::DeserializeSeed;
use serde_json::value::RawValue;

use crate::event::{AttributesBuilder, CloudEvent, EventError, ExtensionValue};
use read::{BatchSeed, EventObject, Member, Members, Text};

/// The media type of one event in the JSON format.
pub const MEDIA_TYPE: &str = "application/cloudevents+json";
/// The media type of a batch of events in the JSON format.
pub const BATCH_MEDIA_TYPE: &str = "application/cloudevents-batch+json";

/// Standard base64 that accepts input with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes one event. Malformed JSON is [`EventError::Json`] with serde's message
/// (which gives the line and column); invalid attributes are the matching
/// [`EventError`] naming the attribute.
pub fn decode(bytes: &[u8]) -> Result<CloudEvent, EventError> {
    let EventObject(members) = serde_json::from_slice(bytes).map_err(json_error)?;
    build(members)
}

/// Decodes a batch: a JSON array of events (possibly empty). An error names the 0-based
/// index of the event it concerns ([`EventError::Batch`]), e.g.
/// ``event 3: missing required attribute `id` ``.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<CloudEvent>, EventError> {
    let position = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let objects = BatchSeed {
        position: &position,
    }
    .deserialize(&mut deserializer)
    .and_then(|objects| deserializer.end().map(|()| objects))
    .map_err(|error| match position.get() {
        Some(index) => in_batch(index, json_error(error)),
        None => json_error(error),
    })?;
    objects
        .into_iter()
        .enumerate()
        .map(|(index, EventObject(members))| build(members).map_err(|error| in_batch(index, error)))
        .collect()
}

/// Encodes one event.
pub fn encode(event: &CloudEvent) -> Vec<u8> {
    encode_with_extra(event, &[])
}

/// Encodes one event with `extra` string extension attributes added (without cloning the
/// event); an extra attribute replaces an extension of the same name. The names must be
/// valid extension names (see [`ExtensionName::new`](crate::ExtensionName::new)); values
/// are escaped as JSON strings.
pub fn encode_with_extra(event: &CloudEvent, extra: &[(&str, &str)]) -> Vec<u8> {
    debug_assert!(
        extra
            .iter()
            .all(|(name, _)| crate::ExtensionName::new(name).is_ok()),
        "extra attribute names must be valid extension names"
    );
    let mut out = Vec::with_capacity(write::estimated_len(event, extra));
    write::write_event(&mut out, event, extra);
    out
}

/// Encodes a batch as a JSON array.
pub fn encode_batch(events: &[CloudEvent]) -> Vec<u8> {
    let capacity = events
        .iter()
        .map(|event| write::estimated_len(event, &[]) + 1)
        .sum::<usize>();
    let mut out = Vec::with_capacity(capacity + 2);
    out.push(b'[');
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write::write_event(&mut out, event, &[]);
    }
    out.push(b']');
    out
}

/// Whether `content_type` is a JSON media type for the purpose of the data rules:
/// `application/json`, any `+json` suffix, or no media type at all (which the JSON
/// format reads as JSON). Parameters (`; charset=utf-8`) and case are ignored.
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = essence(content_type);
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .len()
            .checked_sub(5)
            .and_then(|start| essence.get(start..))
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
}

/// Whether a media type is obviously binary, so data is written as `data_base64` even
/// when it happens to be valid UTF-8: `image/*`, `audio/*`, `video/*`, `font/*`,
/// `application/octet-stream` and common binary encodings (protobuf, avro, cbor,
/// msgpack, zip, gzip, pdf).
fn is_binary_media_type(content_type: &str) -> bool {
    let essence = essence(content_type).to_ascii_lowercase();
    let (top, sub) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    match top {
        "image" | "audio" | "video" | "font" => true,
        "application" => {
            sub == "octet-stream"
                || ["protobuf", "avro", "cbor", "msgpack", "zip", "gzip", "pdf"]
                    .iter()
                    .any(|marker| sub.contains(marker))
        }
        _ => false,
    }
}

/// The media type without parameters or surrounding whitespace.
fn essence(content_type: &str) -> &str {
    content_type
        .split_once(';')
        .map_or(content_type, |(essence, _)| essence)
        .trim()
}

/// The second decoding pass: members to a validated event.
fn build(members: Members<'_>) -> Result<CloudEvent, EventError> {
    let mut builder = AttributesBuilder::new();
    let mut has_specversion = false;
    let mut data: Option<&RawValue> = None;
    let mut data_base64: Option<Cow<'_, str>> = None;
    for (name, member) in members {
        match (name.as_ref(), member) {
            ("data", Member::Data(raw)) => {
                if data.replace(raw).is_some() {
                    return Err(duplicate("data"));
                }
            }
            ("data_base64", Member::Null) => {}
            ("data_base64", Member::Text(text)) => {
                if data_base64.replace(text).is_some() {
                    return Err(duplicate("data_base64"));
                }
            }
            ("data_base64", other) => {
                return Err(invalid(
                    "data_base64",
                    format!("must be a base64 string, not {}", other.kind()),
                ));
            }
            (name, member) => {
                let Some(value) = attribute_value(name, member)? else {
                    continue; // null: absent
                };
                let seen = if name == "specversion" {
                    std::mem::replace(&mut has_specversion, true)
                } else {
                    builder.get(name).is_some()
                };
                if seen {
                    return Err(duplicate(name));
                }
                builder.set(name, value)?;
            }
        }
    }
    if !has_specversion {
        return Err(EventError::MissingAttribute {
            name: "specversion",
        });
    }
    let attributes = builder.build()?;
    let data = match (data, data_base64) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "data_base64",
                "must not appear together with `data`".to_owned(),
            ));
        }
        (Some(raw), None) => Some(decode_data(raw, attributes.datacontenttype.as_deref())?),
        (None, Some(text)) => Some(Bytes::from(BASE64.decode(text.as_bytes()).map_err(
            |error| invalid("data_base64", format!("is not valid base64: {error}")),
        )?)),
        (None, None) => None,
    };
    Ok(CloudEvent::new(attributes, data))
}

/// A member value in the CloudEvents type system; `None` for `null` (absent).
fn attribute_value(name: &str, member: Member<'_>) -> Result<Option<ExtensionValue>, EventError> {
    let value = match member {
        Member::Null => return Ok(None),
        Member::Boolean(flag) => ExtensionValue::Boolean(flag),
        Member::Text(text) => ExtensionValue::String(text.into_owned()),
        Member::Integer(number) => match i32::try_from(number) {
            Ok(number) => ExtensionValue::Integer(number),
            Err(_) => {
                return Err(invalid(
                    name,
                    format!("{number} is outside the signed 32-bit range of a cloudevents integer"),
                ));
            }
        },
        other => {
            return Err(invalid(
                name,
                format!(
                    "must be a boolean, an integer or a string, not {}",
                    other.kind()
                ),
            ));
        }
    };
    Ok(Some(value))
}

/// The data bytes of a `data` member (see the module table).
fn decode_data(raw: &RawValue, content_type: Option<&str>) -> Result<Bytes, EventError> {
    let text = raw.get();
    if !is_json_media_type(content_type) && text.starts_with('"') {
        let Text(value) = serde_json::from_str(text).map_err(json_error)?;
        return Ok(Bytes::from(value.into_owned()));
    }
    Ok(Bytes::copy_from_slice(text.as_bytes()))
}

fn json_error(error: serde_json::Error) -> EventError {
    EventError::Json {
        reason: error.to_string(),
    }
}

fn invalid(name: &str, reason: String) -> EventError {
    EventError::InvalidAttribute {
        name: name.to_owned(),
        reason,
    }
}

fn duplicate(name: &str) -> EventError {
    EventError::Json {
        reason: format!("duplicate member `{name}`"),
    }
}

fn in_batch(index: usize, error: EventError) -> EventError {
    EventError::Batch {
        index,
        error: Box::new(error),
    }
}

#[cfg(test)]
mod tests;
