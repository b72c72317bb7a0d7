//! Golden-byte tests for every packet type in both versions (assembled by hand from the
//! specifications), the same checked against an independent codec (`interop`),
//! malformed-packet tests, and property tests.

mod golden;
mod interop;
mod malformed;
mod properties;
