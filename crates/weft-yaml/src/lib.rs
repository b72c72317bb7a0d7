//! weft-yaml (being built).
