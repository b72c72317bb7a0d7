//! weft-topic (being built).
