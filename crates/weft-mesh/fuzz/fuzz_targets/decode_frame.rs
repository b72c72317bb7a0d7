//! Decoding arbitrary bytes must never panic, and what decodes must re-encode to a frame
//! that decodes to the same message.
//!
//! The check is `weft_fuzz::targets::mesh_decode_frame`, which the stable fuzzer of
//! `./scripts/test` runs too; this is its libFuzzer entry point (nightly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_fuzz::targets::mesh_decode_frame(data));
