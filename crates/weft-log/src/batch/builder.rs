//! Encoding records into a record batch v2.

use bytes::Bytes;

use super::compression::{Compression, compress};
use super::{Record, layout};
use crate::offset::Offset;
use crate::varint::{put_varint, put_varlong, varint_len};

/// Why records could not be encoded into a batch.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A batch needs at least one record.
    #[error("a record batch needs at least one record")]
    Empty,
    /// A field, a record or the batch is larger than the format's 32-bit lengths allow.
    #[error("{what} of {bytes} bytes does not fit a record batch")]
    TooLarge {
        /// What was too large (`key`, `value`, `record`, `batch`, ...).
        what: &'static str,
        /// Its size in bytes.
        bytes: usize,
    },
    /// The base offset does not fit Kafka's signed 64-bit offset.
    #[error("base offset {offset} does not fit a signed 64-bit offset")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: Offset,
    },
    /// An explicit record (or range end) offset is before the batch's base offset, too
    /// far from it, or not after the offsets already in the batch.
    #[error("offset {offset} does not fit the batch starting at {base_offset}")]
    OffsetNotInBatch {
        /// The offset asked for.
        offset: Offset,
        /// The batch's base offset.
        base_offset: Offset,
    },
}

/// Builds one batch: uncompressed and without a producer id (-1) unless asked
/// ([`BatchBuilder::with_compression`], [`BatchBuilder::with_producer`]); leader epoch -1.
///
/// The first record's timestamp becomes `baseTimestamp`, as Kafka producers do.
#[derive(Debug)]
pub struct BatchBuilder {
    base_offset: Offset,
    buf: Vec<u8>,
    count: i32,
    /// `offsetDelta` of the last record pushed (`count - 1` unless offsets were given).
    last_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    scratch: Vec<u8>,
    compression: Compression,
    producer: Producer,
}

/// The idempotent-producer fields of a batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Producer {
    /// `producerId` (-1: none).
    pub id: i64,
    /// `producerEpoch`.
    pub epoch: i16,
    /// `baseSequence` of the first record.
    pub base_sequence: i32,
}

impl Producer {
    /// No producer: what weft writes for its own batches.
    pub const NONE: Producer = Producer {
        id: -1,
        epoch: -1,
        base_sequence: -1,
    };
}

impl BatchBuilder {
    /// Starts a batch whose first record gets `base_offset`.
    pub fn new(base_offset: Offset) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.resize(layout::HEADER_LEN, 0);
        BatchBuilder {
            base_offset,
            buf,
            count: 0,
            last_delta: -1,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
            scratch: Vec::with_capacity(64),
            compression: Compression::None,
            producer: Producer::NONE,
        }
    }

    /// Compresses the records with `codec` when the batch is finished.
    pub fn with_compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Marks the batch as sent by an idempotent producer.
    pub fn with_producer(mut self, producer: Producer) -> Self {
        self.producer = producer;
        self
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True before the first push.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size of the batch so far, in bytes.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Appends one record at the offset after the previous one.
    pub fn push(&mut self, record: &Record) -> Result<(), EncodeError> {
        self.push_with_delta(self.last_delta.saturating_add(1), record)
    }

    /// Appends one record at `offset`, which must be after every offset pushed so far
    /// (compaction keeps original offsets, so a batch may skip some).
    pub(crate) fn push_at(&mut self, offset: Offset, record: &Record) -> Result<(), EncodeError> {
        let delta = offset
            .get()
            .checked_sub(self.base_offset.get())
            .and_then(|delta| i32::try_from(delta).ok())
            .filter(|&delta| delta > self.last_delta)
            .ok_or(EncodeError::OffsetNotInBatch {
                offset,
                base_offset: self.base_offset,
            })?;
        self.push_with_delta(delta, record)
    }

    fn push_with_delta(&mut self, offset_delta: i32, record: &Record) -> Result<(), EncodeError> {
        if self.count == i32::MAX {
            return Err(EncodeError::TooLarge {
                what: "record count",
                bytes: self.buf.len(),
            });
        }
        if self.count == 0 {
            self.base_timestamp = record.timestamp_ms;
        }
        self.max_timestamp = self.max_timestamp.max(record.timestamp_ms);
        let body = &mut self.scratch;
        body.clear();
        body.push(0); // record attributes: unused
        put_varlong(body, record.timestamp_ms.wrapping_sub(self.base_timestamp));
        put_varint(body, offset_delta);
        put_nullable(body, "key", record.key.as_deref())?;
        put_nullable(body, "value", record.value.as_deref())?;
        put_varint(body, length_of("header count", record.headers.len())?);
        for (key, value) in &record.headers {
            put_nullable(body, "header key", Some(key.as_bytes()))?;
            put_nullable(body, "header value", value.as_deref())?;
        }
        let body_len = length_of("record", body.len())?;
        let new_size = self.buf.len() + varint_len(body_len) + body.len();
        length_of("batch", new_size)?;
        put_varint(&mut self.buf, body_len);
        self.buf.extend_from_slice(body);
        self.count += 1;
        self.last_delta = offset_delta;
        Ok(())
    }

    /// Writes the header and CRC and returns the encoded batch.
    pub fn finish(self) -> Result<Bytes, EncodeError> {
        if self.count == 0 {
            return Err(EncodeError::Empty);
        }
        let last_delta = self.last_delta;
        self.finish_with_last_delta(last_delta)
    }

    /// Finishes a batch whose offset range ends at `last_offset`, which may lie after the
    /// last record pushed; the batch may hold no records at all. Compaction uses this to
    /// keep the offset ranges of its batches contiguous while records between them are
    /// gone. An empty batch has the timestamps -1 (Kafka's "no timestamp").
    pub(crate) fn finish_spanning(mut self, last_offset: Offset) -> Result<Bytes, EncodeError> {
        let last_delta = last_offset
            .get()
            .checked_sub(self.base_offset.get())
            .and_then(|delta| i32::try_from(delta).ok())
            .filter(|&delta| delta >= self.last_delta)
            .ok_or(EncodeError::OffsetNotInBatch {
                offset: last_offset,
                base_offset: self.base_offset,
            })?;
        if self.count == 0 {
            self.base_timestamp = -1;
            self.max_timestamp = -1;
        }
        self.finish_with_last_delta(last_delta)
    }

    fn finish_with_last_delta(mut self, last_delta: i32) -> Result<Bytes, EncodeError> {
        let base_offset =
            i64::try_from(self.base_offset.get()).map_err(|_| EncodeError::OffsetOutOfRange {
                offset: self.base_offset,
            })?;
        if self.compression != Compression::None {
            let compressed = compress(self.compression, &self.buf[layout::HEADER_LEN..]);
            self.buf.truncate(layout::HEADER_LEN);
            self.buf.extend_from_slice(&compressed);
        }
        let batch_length = length_of("batch", self.buf.len() - layout::LOG_OVERHEAD)?;
        let attributes = i16::from(self.compression.code());
        let producer = self.producer;
        let buf = &mut self.buf;
        put_at(buf, layout::BASE_OFFSET, &base_offset.to_be_bytes());
        put_at(buf, layout::BATCH_LENGTH, &batch_length.to_be_bytes());
        put_at(buf, layout::LEADER_EPOCH, &(-1i32).to_be_bytes());
        buf[layout::MAGIC] = layout::MAGIC_V2 as u8;
        put_at(buf, layout::ATTRIBUTES, &attributes.to_be_bytes());
        put_at(buf, layout::LAST_OFFSET_DELTA, &last_delta.to_be_bytes());
        put_at(
            buf,
            layout::BASE_TIMESTAMP,
            &self.base_timestamp.to_be_bytes(),
        );
        put_at(
            buf,
            layout::MAX_TIMESTAMP,
            &self.max_timestamp.to_be_bytes(),
        );
        put_at(buf, layout::PRODUCER_ID, &producer.id.to_be_bytes());
        put_at(buf, layout::PRODUCER_EPOCH, &producer.epoch.to_be_bytes());
        put_at(
            buf,
            layout::BASE_SEQUENCE,
            &producer.base_sequence.to_be_bytes(),
        );
        put_at(buf, layout::RECORD_COUNT, &self.count.to_be_bytes());
        let crc = crc32c::crc32c(&buf[layout::ATTRIBUTES..]);
        put_at(buf, layout::CRC, &crc.to_be_bytes());
        Ok(Bytes::from(self.buf))
    }
}

/// Encodes `records` as one batch starting at `base_offset`.
pub fn encode_batch(base_offset: Offset, records: &[Record]) -> Result<Bytes, EncodeError> {
    let mut builder = BatchBuilder::new(base_offset);
    for record in records {
        builder.push(record)?;
    }
    builder.finish()
}

fn put_at(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn length_of(what: &'static str, bytes: usize) -> Result<i32, EncodeError> {
    i32::try_from(bytes).map_err(|_| EncodeError::TooLarge { what, bytes })
}

fn put_nullable(
    out: &mut Vec<u8>,
    what: &'static str,
    value: Option<&[u8]>,
) -> Result<(), EncodeError> {
    match value {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, length_of(what, bytes.len())?);
            out.extend_from_slice(bytes);
        }
    }
    Ok(())
}
