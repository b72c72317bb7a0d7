//! Fuzzes Kafka request decoding: any input must decode or fail cleanly, and whatever
//! decodes must re-encode and decode to the same request.
//!
//! The check is `weft_fuzz::targets::kafka_decode_request`, which the stable fuzzer of
//! `./scripts/test` runs too; this is its libFuzzer entry point (nightly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_fuzz::targets::kafka_decode_request(data));
