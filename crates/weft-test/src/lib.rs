//! weft-test (being built).
