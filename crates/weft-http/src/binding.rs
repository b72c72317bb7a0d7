//! The CloudEvents HTTP protocol binding, on `http::HeaderMap` and `Bytes` (no server
//! types), so it can be tested and benchmarked without a socket.
//!
//! [`decode_request`] picks the content mode of a request:
//!
//! 1. `Content-Type: application/cloudevents+json` (parameters allowed): **structured**,
//!    one event in the JSON format. `application/cloudevents-batch+json`: **batched**,
//!    a JSON array of events. Any other `application/cloudevents…` type:
//!    [`BindingError::UnsupportedMediaType`].
//! 2. A `ce-specversion` header: **binary**, strictly. Every `ce-*` header is an
//!    attribute (percent-decoded; extension values are strings), `Content-Type` is
//!    `datacontenttype`, the body is the data, and a missing required attribute is an
//!    error.
//! 3. Otherwise a **plain** body: weft synthesises the missing attributes (a UUIDv7
//!    `id`, and `source`, `type` and `time` from [`Synthesis`]); `ce-*` headers that are
//!    present are honoured as in binary mode.
//!
//! In binary and plain modes an empty body without `Content-Type` means "no data".
//! [`encode_binary`] writes an event in binary mode, for HTTP sinks.

mod percent;

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use weft_core::event::{AttributeValue, AttributesBuilder};
use weft_core::{CloudEvent, EventError, ExtensionValue, Timestamp, json};

pub use percent::{decode_header_value, encode_header_value};

/// What weft fills in for attributes a plain (non-CloudEvents) request does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synthesis {
    /// The `source`, e.g. `weft://NODE/http`.
    pub source: String,
    /// The `type`, e.g. `weft.http.publish`.
    pub ty: String,
    /// When the request arrived: the `time`.
    pub now: SystemTime,
}

/// Why a request is not a valid CloudEvents HTTP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The `Content-Type` is a CloudEvents format weft does not speak (HTTP 415).
    #[error(
        "unsupported media type `{content_type}`: weft accepts application/cloudevents+json and application/cloudevents-batch+json in utf-8"
    )]
    UnsupportedMediaType {
        /// The `Content-Type` that was given.
        content_type: String,
    },
    /// The event (structured or batched body, or the attributes as a whole) is invalid
    /// (HTTP 400).
    #[error(transparent)]
    Event(#[from] EventError),
    /// A header is not valid: a `ce-*` header with a bad name or value, a repeated one,
    /// or an unreadable `Content-Type` (HTTP 400).
    #[error("invalid header `{name}`: {reason}")]
    InvalidHeader {
        /// The header's name, lower-case.
        name: String,
        /// What is wrong, for humans.
        reason: String,
    },
    /// A value given to [`decode_header_value`] is not valid percent-encoded UTF-8
    /// (HTTP 400). [`decode_request`] reports this as [`BindingError::InvalidHeader`].
    #[error("invalid percent-encoding: {reason}")]
    InvalidPercentEncoding {
        /// What is wrong, for humans.
        reason: String,
    },
}

/// The media types of the JSON event format, single and batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Single,
    Batch,
}

/// Whether `content_type` is the batched JSON format
/// (`application/cloudevents-batch+json`, any case, parameters allowed).
pub fn is_batch_media_type(content_type: &str) -> bool {
    essence(content_type).eq_ignore_ascii_case(json::BATCH_MEDIA_TYPE)
}

/// Decodes the CloudEvents in an HTTP request; see the module documentation for how the
/// content mode is chosen. Structured and batched bodies are decoded with
/// [`weft_core::json`]; in binary and plain modes the body becomes the data without a
/// copy.
pub fn decode_request(
    headers: &HeaderMap,
    body: Bytes,
    defaults: &Synthesis,
) -> Result<Vec<CloudEvent>, BindingError> {
    let content_type = match headers.get(CONTENT_TYPE) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| InvalidHeader {
            name: CONTENT_TYPE.as_str(),
            reason: "is not printable ascii".to_owned(),
        })?),
    };
    match content_type.map(structured_format).transpose()? {
        Some(Some(Format::Single)) => return Ok(vec![json::decode(&body)?]),
        Some(Some(Format::Batch)) => return Ok(json::decode_batch(&body)?),
        Some(None) | None => {}
    }

    let binary = headers.contains_key("ce-specversion");
    let mut builder = AttributesBuilder::new();
    read_ce_headers(headers, &mut builder)?;
    if let Some(content_type) = content_type {
        builder
            .set(
                "datacontenttype",
                ExtensionValue::String(content_type.to_owned()),
            )
            .map_err(|error| InvalidHeader::from_event(CONTENT_TYPE.as_str(), &error))?;
    }
    if !binary {
        synthesise(&mut builder, defaults)?;
    }
    let attributes = builder.build()?;
    let data = (!body.is_empty() || content_type.is_some()).then_some(body);
    Ok(vec![CloudEvent::new(attributes, data)])
}

/// `Some(format)` for the JSON formats, `None` for a media type that is not a
/// CloudEvents format, an error for other CloudEvents formats or charsets.
fn structured_format(content_type: &str) -> Result<Option<Format>, BindingError> {
    let essence = essence(content_type);
    let is_cloudevents = essence
        .get(..json::MEDIA_TYPE.len() - "+json".len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("application/cloudevents"));
    if !is_cloudevents {
        return Ok(None);
    }
    let unsupported = || BindingError::UnsupportedMediaType {
        content_type: content_type.to_owned(),
    };
    let format = if essence.eq_ignore_ascii_case(json::MEDIA_TYPE) {
        Format::Single
    } else if essence.eq_ignore_ascii_case(json::BATCH_MEDIA_TYPE) {
        Format::Batch
    } else {
        return Err(unsupported());
    };
    let charset = content_type
        .split(';')
        .skip(1)
        .filter_map(|parameter| parameter.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, value)| value.trim().trim_matches('"'));
    match charset {
        Some(charset)
            if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") =>
        {
            Err(unsupported())
        }
        _ => Ok(Some(format)),
    }
}

/// The media type without parameters or surrounding whitespace.
fn essence(content_type: &str) -> &str {
    content_type
        .split_once(';')
        .map_or(content_type, |(essence, _)| essence)
        .trim()
}

/// Sets an attribute for every `ce-*` header (names are lower-case in a `HeaderMap`).
fn read_ce_headers(
    headers: &HeaderMap,
    builder: &mut AttributesBuilder,
) -> Result<(), BindingError> {
    for name in headers.keys() {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let mut values = headers.get_all(name).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(InvalidHeader {
                name: name.as_str(),
                reason: "appears more than once".to_owned(),
            }
            .into());
        };
        let text = percent::decode(value.as_bytes()).map_err(|reason| InvalidHeader {
            name: name.as_str(),
            reason,
        })?;
        builder
            .set(attribute, ExtensionValue::String(text))
            .map_err(|error| InvalidHeader::from_event(name.as_str(), &error))?;
    }
    Ok(())
}

/// Fills in `id`, `source`, `type` and `time` where the request did not give them.
fn synthesise(builder: &mut AttributesBuilder, defaults: &Synthesis) -> Result<(), BindingError> {
    if builder.get("id").is_none() {
        let id = weft_core::id::new_event_id();
        builder.set("id", ExtensionValue::String(id))?;
    }
    if builder.get("source").is_none() {
        builder.set("source", ExtensionValue::String(defaults.source.clone()))?;
    }
    if builder.get("type").is_none() {
        builder.set("type", ExtensionValue::String(defaults.ty.clone()))?;
    }
    if builder.get("time").is_none() {
        let time = Timestamp::from_system_time(defaults.now)?;
        builder.set("time", ExtensionValue::String(time.as_str().to_owned()))?;
    }
    Ok(())
}

/// Writes `event` in binary mode: every attribute except `datacontenttype` as a
/// percent-encoded `ce-<name>` header in its canonical string form, `datacontenttype` as
/// `Content-Type`. Headers of the same names are replaced; others are left alone.
/// Returns the body: the data, if any (a cheap `Bytes` clone).
///
/// Binary mode carries every value as a string, so decoding the headers again yields
/// string extensions; and an event with empty data but no `datacontenttype` comes back
/// without data.
pub fn encode_binary(event: &CloudEvent, headers: &mut HeaderMap) -> Option<Bytes> {
    for (name, value) in event.attributes.iter() {
        if name == "datacontenttype" {
            if let AttributeValue::String(content_type) = value {
                headers.insert(CONTENT_TYPE, content_type_value(content_type));
            }
            continue;
        }
        let encoded = encode_header_value(&value.canonical());
        // Percent-encoded text is printable ASCII, and extension names are `a-z0-9`:
        // neither conversion can fail for a valid event.
        if let (Some(header), Ok(value)) = (header_name(name), HeaderValue::try_from(encoded)) {
            headers.insert(header, value);
        }
    }
    event.data.clone()
}

fn header_name(attribute: &str) -> Option<HeaderName> {
    let name = match attribute {
        "specversion" => HeaderName::from_static("ce-specversion"),
        "id" => HeaderName::from_static("ce-id"),
        "source" => HeaderName::from_static("ce-source"),
        "type" => HeaderName::from_static("ce-type"),
        "subject" => HeaderName::from_static("ce-subject"),
        "time" => HeaderName::from_static("ce-time"),
        "dataschema" => HeaderName::from_static("ce-dataschema"),
        extension => return HeaderName::try_from(format!("ce-{extension}")).ok(),
    };
    Some(name)
}

/// `Content-Type` as given when it is a valid header value; percent-encoded otherwise
/// (a media type with non-ASCII text, which a valid one never has).
fn content_type_value(content_type: &str) -> HeaderValue {
    HeaderValue::from_str(content_type)
        .or_else(|_| HeaderValue::try_from(encode_header_value(content_type)))
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// Builds [`BindingError::InvalidHeader`] from a borrowed name.
struct InvalidHeader<'a> {
    name: &'a str,
    reason: String,
}

impl InvalidHeader<'_> {
    fn from_event(name: &str, error: &EventError) -> BindingError {
        InvalidHeader {
            name,
            reason: error.to_string(),
        }
        .into()
    }
}

impl From<InvalidHeader<'_>> for BindingError {
    fn from(error: InvalidHeader<'_>) -> Self {
        BindingError::InvalidHeader {
            name: error.name.to_owned(),
            reason: error.reason,
        }
    }
}

#[cfg(test)]
mod tests;
