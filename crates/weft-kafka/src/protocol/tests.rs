//! Codec tests: golden bytes assembled field by field from the Kafka schemas, round trips
//! of every API at its boundary versions, malformed input, and property tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod golden;
mod malformed;
mod roundtrip;
mod samples;

use bytes::Bytes;

use super::*;

/// A request header for `key` at `version` with correlation id 1 and client id "ab".
fn header(key: ApiKey, version: i16) -> RequestHeader {
    RequestHeader {
        api_key: key as i16,
        api_version: version,
        correlation_id: 1,
        client_id: Some("ab".to_owned()),
    }
}

/// Prepends the 4-byte size prefix to `body`.
fn with_prefix(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Checks a request both ways: `wire` (without size prefix) decodes to `request`, and
/// `request` encodes to `wire` with its prefix.
fn assert_request_golden(version: i16, request: Request, wire: &[u8]) {
    let key = request.api_key();
    let (decoded_header, decoded) =
        decode_request(Bytes::copy_from_slice(wire)).expect("golden request decodes");
    assert_eq!(decoded_header, header(key, version));
    assert_eq!(decoded, request);
    let encoded = encode_request(&header(key, version), &request);
    assert_eq!(encoded.as_ref(), with_prefix(wire).as_slice());
}

/// Checks a response both ways: `response` encodes to `wire` (size prefix added here),
/// and `wire` without its prefix decodes back to `response`.
fn assert_response_golden(version: i16, response: Response, wire: &[u8]) {
    let key = response.api_key();
    let frame = encode_response(&header(key, version), &response);
    assert_eq!(frame.to_bytes().as_ref(), with_prefix(wire).as_slice());
    assert_eq!(frame.len(), wire.len() + 4);
    let decoded = decode_response(key as i16, version, Bytes::copy_from_slice(wire))
        .expect("golden response decodes");
    assert_eq!(decoded, response);
}
