//! The encoder: writes JSON text straight into a byte buffer, without an intermediate
//! value tree.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::value::RawValue;

use super::{is_binary_media_type, is_json_media_type};
use crate::event::{AttributeValue, CloudEvent};

/// A rough upper bound of the encoded size, so the buffer rarely grows.
pub(super) fn estimated_len(event: &CloudEvent, extra: &[(&str, &str)]) -> usize {
    let attributes = &event.attributes;
    let optional = [
        attributes.subject.as_deref(),
        attributes.time.as_ref().map(|time| time.as_str()),
        attributes.datacontenttype.as_deref(),
        attributes.dataschema.as_deref(),
    ];
    let text: usize = attributes.id.len()
        + attributes.source.len()
        + attributes.ty.len()
        + optional
            .iter()
            .flatten()
            .map(|value| value.len() + 20)
            .sum::<usize>()
        + attributes.extensions.len() * 40
        + extra
            .iter()
            .map(|(name, value)| name.len() + value.len() + 6)
            .sum::<usize>();
    let data = event
        .data
        .as_ref()
        .map_or(0, |data| data.len() / 3 * 4 + 20);
    64 + text + data
}

/// Appends the JSON object of `event` (with `extra` string attributes) to `out`.
pub(super) fn write_event(out: &mut Vec<u8>, event: &CloudEvent, extra: &[(&str, &str)]) {
    out.push(b'{');
    let mut first = true;
    for (name, value) in event.attributes.iter() {
        if extra.iter().any(|(extra_name, _)| *extra_name == name) {
            continue;
        }
        write_name(out, name, &mut first);
        match value {
            AttributeValue::Boolean(true) => out.extend_from_slice(b"true"),
            AttributeValue::Boolean(false) => out.extend_from_slice(b"false"),
            AttributeValue::Integer(number) => write_integer(out, number),
            AttributeValue::String(text) => write_string(out, text),
        }
    }
    for (name, value) in extra {
        write_name(out, name, &mut first);
        write_string(out, value);
    }
    if let Some(data) = &event.data {
        let content_type = event.attributes.datacontenttype.as_deref();
        match DataForm::choose(data, content_type) {
            DataForm::Json => {
                write_name(out, "data", &mut first);
                out.extend_from_slice(data);
            }
            DataForm::Text(text) => {
                write_name(out, "data", &mut first);
                write_string(out, text);
            }
            DataForm::Base64 => {
                write_name(out, "data_base64", &mut first);
                out.push(b'"');
                out.extend_from_slice(STANDARD.encode(data).as_bytes());
                out.push(b'"');
            }
        }
    }
    out.push(b'}');
}

/// How data bytes are represented in the JSON format (§3.1 of the format spec).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DataForm<'a> {
    /// A JSON media type (or none) and bytes that are exactly one JSON value: raw `data`.
    Json,
    /// Not JSON, not binary, valid UTF-8: `data` as a JSON string.
    Text(&'a str),
    /// Everything else: `data_base64`.
    Base64,
}

impl<'a> DataForm<'a> {
    pub(super) fn choose(data: &'a [u8], content_type: Option<&str>) -> Self {
        if is_json_media_type(content_type) {
            return if is_exact_json(data) {
                DataForm::Json
            } else {
                DataForm::Base64
            };
        }
        match std::str::from_utf8(data) {
            Ok(text) if !content_type.is_some_and(is_binary_media_type) => DataForm::Text(text),
            _ => DataForm::Base64,
        }
    }
}

/// Whether `data` is one JSON value with no surrounding whitespace, so that decoding it
/// as raw `data` gives back exactly these bytes.
fn is_exact_json(data: &[u8]) -> bool {
    let is_space = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\n' | b'\r');
    match (data.first(), data.last()) {
        (Some(first), Some(last)) if !is_space(first) && !is_space(last) => {
            serde_json::from_slice::<&RawValue>(data).is_ok()
        }
        _ => false,
    }
}

fn write_name(out: &mut Vec<u8>, name: &str, first: &mut bool) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    write_string(out, name);
    out.push(b':');
}

/// Writes `text` as a JSON string, escaping `"`, `\` and control characters.
pub(super) fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0x0f)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_integer(out: &mut Vec<u8>, number: i32) {
    let mut digits = [0u8; 11];
    let mut position = digits.len();
    let mut rest = number.unsigned_abs();
    loop {
        position -= 1;
        digits[position] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if number < 0 {
        position -= 1;
        digits[position] = b'-';
    }
    out.extend_from_slice(&digits[position..]);
}
