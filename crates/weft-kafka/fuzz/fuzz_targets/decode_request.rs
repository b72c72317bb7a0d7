//! Fuzzes Kafka request decoding: any input must decode or fail cleanly, and whatever
//! decodes must re-encode and decode to the same request.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use weft_kafka::protocol::{decode_request, encode_request};

fuzz_target!(|data: &[u8]| {
    let Ok((header, request)) = decode_request(Bytes::copy_from_slice(data)) else {
        return;
    };
    let encoded = encode_request(&header, &request);
    let (again_header, again) =
        decode_request(encoded.slice(4..)).expect("a re-encoded request decodes");
    assert_eq!(again_header, header);
    assert_eq!(again, request);
});
