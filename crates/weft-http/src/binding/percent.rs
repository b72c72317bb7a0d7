//! Percent-encoding of binary-mode header values (HTTP binding §3.1.3.2): the shared
//! implementation in [`weft_core::percent`], with this front end's error type.

use super::BindingError;

pub use weft_core::percent::encode_header_value;

/// Decodes a percent-encoded header value. A `%` not followed by two hex digits, or a
/// result that is not UTF-8, is [`BindingError::InvalidPercentEncoding`] (within
/// [`decode_request`](super::decode_request) the error is
/// [`BindingError::InvalidHeader`] and names the header).
pub fn decode_header_value(value: &[u8]) -> Result<String, BindingError> {
    decode(value).map_err(|reason| BindingError::InvalidPercentEncoding { reason })
}

/// Decodes, returning a reason for humans on failure.
pub(super) fn decode(value: &[u8]) -> Result<String, String> {
    weft_core::percent::decode_header_value(value).map_err(|error| error.reason)
}
