//! The MQTT data representations (MQTT 5.0 section 1.5, 3.1.1 section 1.5): integers,
//! variable byte integers, UTF-8 strings, binary data and string pairs.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::DecodeError;

/// The largest value a variable byte integer can hold (four bytes).
pub const MAX_VARIABLE_INT: u32 = 268_435_455;

/// The result of peeking at a variable byte integer in a buffer that may be incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarIntPeek {
    /// The value and how many bytes it took.
    Complete { value: u32, len: usize },
    /// More bytes are needed.
    Incomplete,
}

/// Reads a variable byte integer at the start of `bytes` without consuming anything.
///
/// A fifth continuation byte, or an encoding that is longer than necessary
/// (MQTT-1.5.5-1), is malformed.
pub(crate) fn peek_variable_int(bytes: &[u8]) -> Result<VarIntPeek, DecodeError> {
    let mut value: u32 = 0;
    for (index, &byte) in bytes.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            let len = index + 1;
            if len > 1 && byte == 0 {
                return Err(DecodeError::MalformedVariableInt);
            }
            return Ok(VarIntPeek::Complete { value, len });
        }
    }
    if bytes.len() >= 4 {
        Err(DecodeError::MalformedVariableInt)
    } else {
        Ok(VarIntPeek::Incomplete)
    }
}

/// How many bytes `value` takes as a variable byte integer.
pub(crate) fn variable_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` (at most [`MAX_VARIABLE_INT`]) as a variable byte integer.
pub(crate) fn put_variable_int(out: &mut BytesMut, value: u32) {
    let mut rest = value.min(MAX_VARIABLE_INT);
    loop {
        let mut byte = (rest % 128) as u8;
        rest /= 128;
        if rest > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if rest == 0 {
            break;
        }
    }
}

/// The most bytes a UTF-8 string or binary field can hold: its length prefix is a Two
/// Byte Integer.
const MAX_FIELD_LEN: usize = u16::MAX as usize;

/// `text` cut to at most [`MAX_FIELD_LEN`] bytes on a character boundary, so that it
/// stays valid UTF-8.
fn fitted_str(text: &str) -> &str {
    let mut end = text.len().min(MAX_FIELD_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `data` cut to at most [`MAX_FIELD_LEN`] bytes.
fn fitted_binary(data: &[u8]) -> &[u8] {
    &data[..data.len().min(MAX_FIELD_LEN)]
}

/// The length of a UTF-8 string on the wire (2-byte prefix + data, as [`put_string`]
/// writes it).
pub(crate) fn string_len(text: &str) -> usize {
    2 + fitted_str(text).len()
}

/// The length of a binary field on the wire (2-byte prefix + data, as [`put_binary`]
/// writes it).
pub(crate) fn binary_len(data: &[u8]) -> usize {
    2 + fitted_binary(data).len()
}

/// Writes a length-prefixed UTF-8 string. Callers keep strings under 65,536 bytes;
/// longer ones are cut on a character boundary (event attributes mapped to properties
/// can be longer), and [`string_len`] counts them as cut.
pub(crate) fn put_string(out: &mut BytesMut, text: &str) {
    write_field(out, fitted_str(text).as_bytes());
}

/// Writes length-prefixed binary data, cut to 65,535 bytes like [`put_string`].
pub(crate) fn put_binary(out: &mut BytesMut, data: &[u8]) {
    write_field(out, fitted_binary(data));
}

fn write_field(out: &mut BytesMut, data: &[u8]) {
    debug_assert!(data.len() <= MAX_FIELD_LEN);
    out.put_u16(data.len() as u16);
    out.put_slice(data);
}

/// A cursor over the body of one packet. Every read that runs past the end is a
/// malformed packet (the whole packet is present, so "short" means "lying length").
#[derive(Debug)]
pub(crate) struct Reader {
    bytes: Bytes,
}

impl Reader {
    pub(crate) fn new(bytes: Bytes) -> Self {
        Self { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.remaining()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn need(&self, len: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.bytes.remaining() < len {
            Err(DecodeError::Truncated { what })
        } else {
            Ok(())
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        Ok(self.bytes.get_u8())
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(self.bytes.get_u16())
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.bytes.get_u32())
    }

    pub(crate) fn variable_int(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        match peek_variable_int(&self.bytes)? {
            VarIntPeek::Complete { value, len } => {
                self.bytes.advance(len);
                Ok(value)
            }
            VarIntPeek::Incomplete => Err(DecodeError::Truncated { what }),
        }
    }

    /// `len` bytes as a zero-copy slice.
    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        self.need(len, what)?;
        Ok(self.bytes.split_to(len))
    }

    /// Everything that is left, zero-copy.
    pub(crate) fn rest(&mut self) -> Bytes {
        self.bytes.split_to(self.bytes.len())
    }

    /// Length-prefixed binary data (MQTT 5.0 section 1.5.6).
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    /// A UTF-8 encoded string (section 1.5.4): well-formed UTF-8 (which excludes the
    /// surrogates U+D800..U+DFFF) and no U+0000 (MQTT-1.5.4-1, MQTT-1.5.4-2).
    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let bytes = self.binary(what)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| DecodeError::InvalidUtf8 { what })?;
        if text.contains('\0') {
            return Err(DecodeError::NullCharacter { what });
        }
        Ok(text.to_owned())
    }

    /// A sub-reader over the next `len` bytes (a property block).
    pub(crate) fn sub(&mut self, len: usize, what: &'static str) -> Result<Reader, DecodeError> {
        Ok(Reader::new(self.take(len, what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: u32) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_variable_int(&mut out, value);
        out.to_vec()
    }

    #[test]
    fn variable_int_boundaries_match_the_spec_table() {
        // MQTT 5.0 table 1-1 "Size of Variable Byte Integer".
        assert_eq!(encoded(0), [0x00]);
        assert_eq!(encoded(127), [0x7F]);
        assert_eq!(encoded(128), [0x80, 0x01]);
        assert_eq!(encoded(16_383), [0xFF, 0x7F]);
        assert_eq!(encoded(16_384), [0x80, 0x80, 0x01]);
        assert_eq!(encoded(2_097_151), [0xFF, 0xFF, 0x7F]);
        assert_eq!(encoded(2_097_152), [0x80, 0x80, 0x80, 0x01]);
        assert_eq!(encoded(MAX_VARIABLE_INT), [0xFF, 0xFF, 0xFF, 0x7F]);
        for value in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            MAX_VARIABLE_INT,
        ] {
            let bytes = encoded(value);
            assert_eq!(variable_int_len(value), bytes.len());
            assert_eq!(
                peek_variable_int(&bytes),
                Ok(VarIntPeek::Complete {
                    value,
                    len: bytes.len()
                })
            );
        }
    }

    #[test]
    fn variable_int_with_five_bytes_is_malformed() {
        assert_eq!(
            peek_variable_int(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(DecodeError::MalformedVariableInt)
        );
    }

    #[test]
    fn variable_int_longer_than_necessary_is_malformed() {
        assert_eq!(
            peek_variable_int(&[0x80, 0x00]),
            Err(DecodeError::MalformedVariableInt)
        );
    }

    #[test]
    fn incomplete_variable_int_needs_more_bytes() {
        assert_eq!(peek_variable_int(&[0x80]), Ok(VarIntPeek::Incomplete));
        assert_eq!(peek_variable_int(&[]), Ok(VarIntPeek::Incomplete));
    }

    #[test]
    fn long_fields_are_cut_and_counted_as_written() {
        // "é" is two bytes: 65,535 bytes would split one, so the string stops at 65,534.
        let text = format!("a{}", "é".repeat(40_000));
        let mut out = BytesMut::new();
        put_string(&mut out, &text);
        assert_eq!(out.len(), string_len(&text));
        assert_eq!(out.len(), 2 + 65_535);
        assert_eq!(out[..2], [0xFF, 0xFF]);
        let text = "é".repeat(40_000);
        let mut out = BytesMut::new();
        put_string(&mut out, &text);
        assert_eq!(out.len(), string_len(&text));
        assert_eq!(out[..2], [0xFF, 0xFE]);
        let data = vec![1; 70_000];
        let mut out = BytesMut::new();
        put_binary(&mut out, &data);
        assert_eq!(out.len(), binary_len(&data));
        assert_eq!(out.len(), 2 + 65_535);
    }

    #[test]
    fn strings_reject_null_and_invalid_utf8() {
        let mut reader = Reader::new(Bytes::from_static(&[0, 2, b'a', 0]));
        assert_eq!(
            reader.string("topic"),
            Err(DecodeError::NullCharacter { what: "topic" })
        );
        // 0xED 0xA0 0x80 is the UTF-8-style encoding of the surrogate U+D800.
        let mut reader = Reader::new(Bytes::from_static(&[0, 3, 0xED, 0xA0, 0x80]));
        assert_eq!(
            reader.string("topic"),
            Err(DecodeError::InvalidUtf8 { what: "topic" })
        );
    }
}
