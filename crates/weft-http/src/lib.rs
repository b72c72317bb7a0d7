//! weft-http (being built).
