//! The [`Offset`] newtype: the position of a record in a partition log.

use std::fmt;

/// The position of a record in one partition log: dense, starting wherever the log
/// starts (0 for a new log) and increasing by one per record.
///
/// Stored on disk as Kafka's signed 64-bit `baseOffset`; values above `i64::MAX` are never
/// produced by a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Offset(u64);

impl Offset {
    /// The first offset of a new log.
    pub const ZERO: Offset = Offset(0);

    /// Wraps a raw offset.
    pub const fn new(value: u64) -> Self {
        Offset(value)
    }

    /// The raw offset.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The offset `count` records later.
    pub const fn plus(self, count: u64) -> Self {
        Offset(self.0.saturating_add(count))
    }

    /// Records from `earlier` up to (excluding) `self`; 0 if `earlier` is later.
    pub const fn distance_from(self, earlier: Offset) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u64> for Offset {
    fn from(value: u64) -> Self {
        Offset(value)
    }
}
