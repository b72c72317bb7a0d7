//! Kafka record batch v2 (magic 2): the unit the log stores, reads and checksums.
//!
//! [`BatchBuilder`] encodes [`Record`]s into an uncompressed batch; [`BatchView`] validates
//! a batch (header, magic, CRC-32C) over shared [`Bytes`] and iterates its records without
//! copying payloads; [`rewrite_base_offset`] assigns offsets to a batch received from a
//! Kafka producer, which is stored as received otherwise. The byte layout is in
//! `docs/design/log.md`.

mod builder;
pub(crate) mod compression;
mod view;

use bytes::Bytes;

pub use builder::{BatchBuilder, EncodeError, Producer, encode_batch};
pub use view::{BatchError, BatchHeader, BatchView, Records, rewrite_base_offset};

/// One record: what a producer sends and a consumer receives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Milliseconds since the Unix epoch (Kafka's `CreateTime`).
    pub timestamp_ms: i64,
    /// The record key; `None` is Kafka's null key.
    pub key: Option<Bytes>,
    /// The record value; `None` is a tombstone for compacted logs.
    pub value: Option<Bytes>,
    /// Headers in order; keys are UTF-8, values may be null.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Byte positions and sizes of the fixed batch header fields (big-endian).
pub(crate) mod layout {
    /// `baseOffset` i64.
    pub(crate) const BASE_OFFSET: usize = 0;
    /// `batchLength` i32: bytes after this field to the end of the batch.
    pub(crate) const BATCH_LENGTH: usize = 8;
    /// `partitionLeaderEpoch` i32.
    pub(crate) const LEADER_EPOCH: usize = 12;
    /// `magic` i8, always 2.
    pub(crate) const MAGIC: usize = 16;
    /// `crc` u32: CRC-32C of everything from `attributes` to the end.
    pub(crate) const CRC: usize = 17;
    /// `attributes` i16: the first byte the CRC covers.
    pub(crate) const ATTRIBUTES: usize = 21;
    /// `lastOffsetDelta` i32.
    pub(crate) const LAST_OFFSET_DELTA: usize = 23;
    /// `baseTimestamp` i64.
    pub(crate) const BASE_TIMESTAMP: usize = 27;
    /// `maxTimestamp` i64.
    pub(crate) const MAX_TIMESTAMP: usize = 35;
    /// `producerId` i64.
    pub(crate) const PRODUCER_ID: usize = 43;
    /// `producerEpoch` i16.
    pub(crate) const PRODUCER_EPOCH: usize = 51;
    /// `baseSequence` i32.
    pub(crate) const BASE_SEQUENCE: usize = 53;
    /// `records count` i32.
    pub(crate) const RECORD_COUNT: usize = 57;
    /// Size of the fixed header; records follow.
    pub(crate) const HEADER_LEN: usize = 61;
    /// `baseOffset` + `batchLength`: the part not counted by `batchLength`.
    pub(crate) const LOG_OVERHEAD: usize = 12;
    /// The magic value this crate reads and writes.
    pub(crate) const MAGIC_V2: i8 = 2;
}

/// Size of a whole batch whose `batchLength` field is `batch_length`.
pub(crate) fn total_size(batch_length: i32) -> Option<usize> {
    usize::try_from(batch_length)
        .ok()?
        .checked_add(layout::LOG_OVERHEAD)
}

#[cfg(test)]
mod tests;
