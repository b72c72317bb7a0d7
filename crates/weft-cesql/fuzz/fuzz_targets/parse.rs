//! Fuzzes the CESQL parser and evaluator: any input must parse or fail cleanly, and
//! whatever parses must evaluate (plain and traced) to the same result.
//! Run: `cd crates/weft-cesql/fuzz && cargo +nightly fuzz run parse`.
//!
//! The check is `weft_fuzz::targets::cesql_parse`, which the stable fuzzer of
//! `./scripts/test` runs too; this is its libFuzzer entry point (nightly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_fuzz::targets::cesql_parse(data));
