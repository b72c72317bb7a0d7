//! Golden-byte tests for every packet type in both versions (assembled by hand from the
//! specifications), malformed-packet tests, and property tests.

mod golden;
mod malformed;
mod properties;
