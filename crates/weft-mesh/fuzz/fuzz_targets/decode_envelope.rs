//! Decoding an arbitrary mesh payload (binary or JSON envelope) must never panic, and an
//! event that decodes must survive the binary envelope unchanged.
//!
//! The check is `weft_fuzz::targets::mesh_decode_envelope`, which the stable fuzzer of
//! `./scripts/test` runs too; this is its libFuzzer entry point (nightly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_fuzz::targets::mesh_decode_envelope(data));
