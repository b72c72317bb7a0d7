//! Percent-encoding of binary-mode header values (CloudEvents HTTP binding §3.1.3.2),
//! shared by every component that writes or reads `ce-` headers over HTTP (the HTTP
//! front end, HTTP sinks of flows).
//!
//! Senders encode space (U+0020), `"` (U+0022), `%` (U+0025) and every byte outside the
//! printable ASCII range U+0021–U+007E as `%XX` of its UTF-8 bytes. Receivers decode
//! every `%XX` and require the result to be valid UTF-8; other bytes (including
//! unencoded spaces and raw UTF-8 that lenient senders emit) are taken as they are.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes a header value for binary mode; the result is always a valid HTTP
/// header value (printable ASCII without spaces).
pub fn encode_header_value(value: &str) -> String {
    if value.bytes().all(is_literal) {
        return value.to_owned();
    }
    let mut encoded = String::with_capacity(value.len() + 16);
    for byte in value.bytes() {
        if is_literal(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

fn is_literal(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte) && byte != b'"' && byte != b'%'
}

/// A header value that is not valid percent-encoded UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PercentDecodeError {
    /// What is wrong, for humans.
    pub reason: String,
}

/// Decodes a percent-encoded header value: every `%XX` is decoded and the result must be
/// UTF-8; a `%` not followed by two hex digits is an error.
pub fn decode_header_value(value: &[u8]) -> Result<String, PercentDecodeError> {
    decode(value).map_err(|reason| PercentDecodeError { reason })
}

fn decode(value: &[u8]) -> Result<String, String> {
    let bytes = if value.contains(&b'%') {
        let mut decoded = Vec::with_capacity(value.len());
        let mut index = 0;
        while let Some(&byte) = value.get(index) {
            if byte != b'%' {
                decoded.push(byte);
                index += 1;
                continue;
            }
            let escape = value.get(index + 1..index + 3);
            match escape.and_then(|hex| Some((hex_value(hex[0])? << 4) | hex_value(hex[1])?)) {
                Some(decoded_byte) => decoded.push(decoded_byte),
                None => {
                    return Err(format!(
                        "`%` at byte {index} does not start a %XX escape of two hex digits"
                    ));
                }
            }
            index += 3;
        }
        decoded
    } else {
        value.to_vec()
    };
    String::from_utf8(bytes).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        format!("the decoded value is not valid utf-8 (at decoded byte {at})")
    })
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
