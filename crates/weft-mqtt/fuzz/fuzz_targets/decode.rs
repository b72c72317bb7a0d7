//! Decodes arbitrary bytes as MQTT 3.1.1 and 5.0 packets. The decoder must never panic,
//! and every packet it accepts must encode to bytes that decode to the same packet.
//!
//! The check is `weft_fuzz::targets::mqtt_decode`, which the stable fuzzer of
//! `./scripts/test` runs too; this is its libFuzzer entry point (nightly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_fuzz::targets::mqtt_decode(data));
