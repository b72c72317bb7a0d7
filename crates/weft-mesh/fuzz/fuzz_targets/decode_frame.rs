//! Decoding arbitrary bytes must never panic, and what decodes must re-encode to a frame
//! that decodes to the same message.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weft_mesh::wire::{decode_frame, encode_frame};

fuzz_target!(|data: &[u8]| {
    let mut buffer = BytesMut::from(data);
    while let Ok(Some(message)) = decode_frame(&mut buffer, 1 << 20) {
        let mut encoded = BytesMut::new();
        encode_frame(&message, &mut encoded);
        let again = decode_frame(&mut encoded, 1 << 20);
        assert_eq!(again, Ok(Some(message)));
    }
});
