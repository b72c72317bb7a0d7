//! The binary envelope (format byte `0x01`).
//!
//! ```text
//! format   u8 = 0x01
//! flags    u8   bit 0 key · 1 data · 2 subject · 3 time · 4 datacontenttype · 5 dataschema
//! id · source · type                                         text each
//! subject · time · datacontenttype · dataschema              text each, when flagged
//! extensions   count (varint), then per extension: name (text) · type u8 ·
//!              value (0 false, 1 true: nothing; 2 integer: i32 big-endian; 3 string: text)
//! key          length (varint) · bytes, when flagged
//! data         every byte after the key, when flagged (otherwise nothing may follow)
//! ```
//!
//! `text` is a length (varint) then UTF-8; a varint is unsigned LEB128 (7 bits a byte,
//! low bits first, at most 10 bytes). The data is last and unprefixed, so decoding takes
//! it as a slice of the payload (itself a slice of the received frame): the bytes are
//! never copied between the link and the subscribers. Attributes are validated by the
//! CloudEvents rules when decoded ([`Attributes::set`]), as any other decoder does.

use bytes::{BufMut, Bytes, BytesMut};
use weft_core::{Attributes, CloudEvent, Event, ExtensionName, ExtensionValue};

use super::{BINARY_V1, EnvelopeError};

const KEY: u8 = 1;
const DATA: u8 = 1 << 1;
const SUBJECT: u8 = 1 << 2;
const TIME: u8 = 1 << 3;
const CONTENT_TYPE: u8 = 1 << 4;
const SCHEMA: u8 = 1 << 5;
const KNOWN_FLAGS: u8 = KEY | DATA | SUBJECT | TIME | CONTENT_TYPE | SCHEMA;

const FALSE: u8 = 0;
const TRUE: u8 = 1;
const INTEGER: u8 = 2;
const STRING: u8 = 3;

/// Encodes `event` (without its topic and origin, which the mesh event carries).
pub fn encode(event: &Event) -> Bytes {
    let attributes = &event.cloudevent.attributes;
    let optional = [
        (SUBJECT, attributes.subject.as_deref()),
        (TIME, attributes.time.as_ref().map(|time| time.as_str())),
        (CONTENT_TYPE, attributes.datacontenttype.as_deref()),
        (SCHEMA, attributes.dataschema.as_deref()),
    ];
    let data = event.cloudevent.data.as_deref();
    let mut out = BytesMut::with_capacity(encoded_len(event, &optional));
    let mut flags = 0;
    flags |= if event.key.is_some() { KEY } else { 0 };
    flags |= if data.is_some() { DATA } else { 0 };
    for (flag, value) in optional {
        flags |= if value.is_some() { flag } else { 0 };
    }
    out.put_u8(BINARY_V1);
    out.put_u8(flags);
    text(&attributes.id, &mut out);
    text(&attributes.source, &mut out);
    text(&attributes.ty, &mut out);
    for value in optional.iter().filter_map(|(_, value)| *value) {
        text(value, &mut out);
    }
    varint(attributes.extensions.len() as u64, &mut out);
    for (name, value) in &attributes.extensions {
        text(name.as_str(), &mut out);
        match value {
            ExtensionValue::Boolean(false) => out.put_u8(FALSE),
            ExtensionValue::Boolean(true) => out.put_u8(TRUE),
            ExtensionValue::Integer(number) => {
                out.put_u8(INTEGER);
                out.put_i32(*number);
            }
            ExtensionValue::String(value) => {
                out.put_u8(STRING);
                text(value, &mut out);
            }
        }
    }
    if let Some(key) = &event.key {
        varint(key.len() as u64, &mut out);
        out.extend_from_slice(key);
    }
    if let Some(data) = data {
        out.extend_from_slice(data);
    }
    out.freeze()
}

/// The exact size [`encode`] writes, so it allocates once.
fn encoded_len(event: &Event, optional: &[(u8, Option<&str>); 4]) -> usize {
    let attributes = &event.cloudevent.attributes;
    let text_len = |value: &str| varint_len(value.len() as u64) + value.len();
    let mut size = 2 + text_len(&attributes.id) + text_len(&attributes.source);
    size += text_len(&attributes.ty);
    size += optional
        .iter()
        .filter_map(|(_, value)| value.map(text_len))
        .sum::<usize>();
    size += varint_len(attributes.extensions.len() as u64);
    for (name, value) in &attributes.extensions {
        size += text_len(name.as_str())
            + 1
            + match value {
                ExtensionValue::Boolean(_) => 0,
                ExtensionValue::Integer(_) => 4,
                ExtensionValue::String(value) => text_len(value),
            };
    }
    if let Some(key) = &event.key {
        size += varint_len(key.len() as u64) + key.len();
    }
    size + event.cloudevent.data.as_ref().map_or(0, Bytes::len)
}

fn varint_len(mut value: u64) -> usize {
    let mut size = 1;
    while value >= 0x80 {
        value >>= 7;
        size += 1;
    }
    size
}

fn varint(mut value: u64, out: &mut BytesMut) {
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

fn text(value: &str, out: &mut BytesMut) {
    varint(value.len() as u64, out);
    out.extend_from_slice(value.as_bytes());
}

/// Decodes a binary envelope (starting with its format byte) into the CloudEvent and
/// the key.
pub fn decode(payload: &Bytes) -> Result<(CloudEvent, Option<Bytes>), EnvelopeError> {
    let mut reader = Reader { payload, at: 0 };
    let format = reader.u8("format")?;
    if format != BINARY_V1 {
        return Err(EnvelopeError::UnknownFormat { tag: format });
    }
    let flags = reader.u8("flags")?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(EnvelopeError::UnknownFlags {
            flags: flags & !KNOWN_FLAGS,
        });
    }
    let id = reader.text("id")?;
    let source = reader.text("source")?;
    let ty = reader.text("type")?;
    let mut attributes = Attributes::new(id, source, ty)?;
    for (flag, name) in [
        (SUBJECT, "subject"),
        (TIME, "time"),
        (CONTENT_TYPE, "datacontenttype"),
        (SCHEMA, "dataschema"),
    ] {
        if flags & flag != 0 {
            let value = reader.text(name)?;
            attributes.set(name, ExtensionValue::String(value))?;
        }
    }
    let count = reader.varint("extension count")?;
    for _ in 0..count {
        let name = reader.text("extension name")?;
        // Checked as an extension name first, so a core attribute's name is refused
        // rather than overwriting that attribute.
        let name = ExtensionName::new(&name)?;
        let value = match reader.u8("extension type")? {
            FALSE => ExtensionValue::Boolean(false),
            TRUE => ExtensionValue::Boolean(true),
            INTEGER => ExtensionValue::Integer(i32::from_be_bytes(reader.array("extension")?)),
            STRING => ExtensionValue::String(reader.text("extension")?),
            code => {
                return Err(EnvelopeError::UnknownValueType {
                    name: name.to_string(),
                    code,
                });
            }
        };
        attributes.set(name.as_str(), value)?;
    }
    let key = if flags & KEY != 0 {
        let length = reader.length("key")?;
        Some(reader.slice(length, "key")?)
    } else {
        None
    };
    let rest = payload.len() - reader.at;
    let data = if flags & DATA != 0 {
        Some(reader.slice(rest, "data")?)
    } else if rest > 0 {
        return Err(EnvelopeError::TrailingBytes { count: rest });
    } else {
        None
    };
    Ok((CloudEvent::new(attributes, data), key))
}

/// Reads a payload front to back; every read names its field when it runs short.
struct Reader<'a> {
    payload: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, count: usize, field: &'static str) -> Result<&[u8], EnvelopeError> {
        let end = self
            .at
            .checked_add(count)
            .filter(|&end| end <= self.payload.len())
            .ok_or(EnvelopeError::Truncated { field })?;
        let bytes = &self.payload[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, EnvelopeError> {
        Ok(self.bytes(1, field)?[0])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], EnvelopeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.bytes(N, field)?);
        Ok(array)
    }

    fn varint(&mut self, field: &'static str) -> Result<u64, EnvelopeError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.u8(field)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(EnvelopeError::InvalidLength { field });
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(EnvelopeError::InvalidLength { field })
    }

    /// A length, which must fit in what is left of the payload.
    fn length(&mut self, field: &'static str) -> Result<usize, EnvelopeError> {
        let length = self.varint(field)?;
        match usize::try_from(length) {
            Ok(length) if length <= self.payload.len() - self.at => Ok(length),
            _ => Err(EnvelopeError::Truncated { field }),
        }
    }

    fn text(&mut self, field: &'static str) -> Result<String, EnvelopeError> {
        let length = self.length(field)?;
        let bytes = self.bytes(length, field)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => Err(EnvelopeError::InvalidUtf8 { field }),
        }
    }

    /// `count` bytes as a slice of the payload (no copy).
    fn slice(&mut self, count: usize, field: &'static str) -> Result<Bytes, EnvelopeError> {
        let start = self.at;
        self.bytes(count, field)?;
        Ok(self.payload.slice(start..self.at))
    }
}
