//! weft-broker (being built).
