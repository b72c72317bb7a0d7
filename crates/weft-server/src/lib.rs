//! weft-server (being built).
