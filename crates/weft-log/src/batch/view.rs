//! Validating and reading stored or received batches without copying payloads.

use bytes::Bytes;

use super::compression::{Compression, decompress};
use super::{Record, layout, total_size};
use crate::offset::Offset;
use crate::varint::{VarintError, get_varint, get_varlong};

/// Why bytes are not (yet) a valid record batch.
///
/// [`BatchError::Incomplete`] means "need more bytes" (a partial read or a torn tail);
/// every other variant means the bytes are corrupt or unsupported.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// The input ends before the batch does.
    #[error("incomplete record batch: need {needed} bytes, have {available}")]
    Incomplete {
        /// Bytes needed from the start of the batch.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The magic byte is not 2.
    #[error("unsupported record batch magic {magic}")]
    UnsupportedMagic {
        /// The magic byte found.
        magic: i8,
    },
    /// `batchLength` is too small for a header, or negative.
    #[error("invalid record batch length {length}")]
    InvalidLength {
        /// The `batchLength` field.
        length: i32,
    },
    /// The stored CRC does not match the bytes.
    #[error("record batch crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC in the header.
        stored: u32,
        /// The CRC-32C of the bytes.
        computed: u32,
    },
    /// A header field has an impossible value.
    #[error("invalid record batch header: {reason}")]
    InvalidHeader {
        /// Which field and why.
        reason: &'static str,
    },
    /// A record inside the batch cannot be decoded.
    #[error("malformed record {index} in batch: {reason}")]
    MalformedRecord {
        /// The record's position in the batch.
        index: i32,
        /// What is wrong.
        reason: &'static str,
    },
    /// The compression codec in the attributes is not one of Kafka's (5-7).
    #[error("unsupported record batch compression codec {codec}")]
    UnsupportedCompression {
        /// Compression bits from the attributes.
        codec: u8,
    },
    /// The compressed records cannot be decompressed.
    #[error("cannot decompress records (codec {codec}): {reason}")]
    Decompress {
        /// Compression codec from the attributes (1 gzip, 2 snappy, 3 lz4, 4 zstd).
        codec: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// Bytes follow the batch where exactly one batch was expected.
    #[error("{extra} unexpected bytes after the record batch")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

impl BatchError {
    /// True when more bytes could make the input valid ("need more bytes"), false when
    /// the input is corrupt whatever follows.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, BatchError::Incomplete { .. })
    }
}

/// The fixed header of a batch, parsed without checking the CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// `batchLength`: bytes after the length field.
    pub batch_length: i32,
    /// `partitionLeaderEpoch`.
    pub leader_epoch: i32,
    /// Stored CRC-32C.
    pub crc: u32,
    /// `attributes` (compression in bits 0-2).
    pub attributes: i16,
    /// Last record's offset minus `base_offset`.
    pub last_offset_delta: i32,
    /// `baseTimestamp` in milliseconds.
    pub base_timestamp: i64,
    /// `maxTimestamp` in milliseconds.
    pub max_timestamp: i64,
    /// `producerId` (-1 for none).
    pub producer_id: i64,
    /// `producerEpoch`.
    pub producer_epoch: i16,
    /// `baseSequence`.
    pub base_sequence: i32,
    /// Number of records.
    pub record_count: i32,
}

impl BatchHeader {
    /// Parses the header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        let incomplete = BatchError::Incomplete {
            needed: layout::HEADER_LEN,
            available: buf.len(),
        };
        if buf.len() <= layout::MAGIC {
            return Err(incomplete);
        }
        let magic = buf[layout::MAGIC] as i8;
        if magic != layout::MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic { magic });
        }
        let batch_length = i32_at(buf, layout::BATCH_LENGTH);
        let minimum = (layout::HEADER_LEN - layout::LOG_OVERHEAD) as i32;
        if batch_length < minimum {
            return Err(BatchError::InvalidLength {
                length: batch_length,
            });
        }
        if buf.len() < layout::HEADER_LEN {
            return Err(incomplete);
        }
        let base_offset = i64::from_be_bytes(array_at(buf, layout::BASE_OFFSET));
        let base_offset = u64::try_from(base_offset).map_err(|_| BatchError::InvalidHeader {
            reason: "negative base offset",
        })?;
        let header = BatchHeader {
            base_offset: Offset::new(base_offset),
            batch_length,
            leader_epoch: i32_at(buf, layout::LEADER_EPOCH),
            crc: u32::from_be_bytes(array_at(buf, layout::CRC)),
            attributes: i16::from_be_bytes(array_at(buf, layout::ATTRIBUTES)),
            last_offset_delta: i32_at(buf, layout::LAST_OFFSET_DELTA),
            base_timestamp: i64::from_be_bytes(array_at(buf, layout::BASE_TIMESTAMP)),
            max_timestamp: i64::from_be_bytes(array_at(buf, layout::MAX_TIMESTAMP)),
            producer_id: i64::from_be_bytes(array_at(buf, layout::PRODUCER_ID)),
            producer_epoch: i16::from_be_bytes(array_at(buf, layout::PRODUCER_EPOCH)),
            base_sequence: i32_at(buf, layout::BASE_SEQUENCE),
            record_count: i32_at(buf, layout::RECORD_COUNT),
        };
        if header.last_offset_delta < 0 {
            return Err(BatchError::InvalidHeader {
                reason: "negative last offset delta",
            });
        }
        if header.record_count < 0 {
            return Err(BatchError::InvalidHeader {
                reason: "negative record count",
            });
        }
        Ok(header)
    }

    /// Size of the whole batch in bytes.
    pub fn size(&self) -> usize {
        total_size(self.batch_length).unwrap_or(usize::MAX)
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> Offset {
        self.base_offset.plus(self.last_offset_delta as u64)
    }

    /// The offset after the last record.
    pub fn next_offset(&self) -> Offset {
        self.last_offset().plus(1)
    }

    /// Compression codec (0 = none).
    pub fn compression(&self) -> u8 {
        (self.attributes & 0x07) as u8
    }
}

/// One validated batch (header, magic and CRC checked) over shared bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchView {
    header: BatchHeader,
    bytes: Bytes,
}

impl BatchView {
    /// Validates the batch at the start of `buf` (which may hold more after it) and returns
    /// a view of exactly that batch, sharing `buf`'s storage.
    pub fn parse_prefix(buf: &Bytes) -> Result<BatchView, BatchError> {
        let header = BatchHeader::parse(buf)?;
        let size = header.size();
        if buf.len() < size {
            return Err(BatchError::Incomplete {
                needed: size,
                available: buf.len(),
            });
        }
        let computed = crc32c::crc32c(&buf[layout::ATTRIBUTES..size]);
        if computed != header.crc {
            return Err(BatchError::CrcMismatch {
                stored: header.crc,
                computed,
            });
        }
        Ok(BatchView {
            header,
            bytes: buf.slice(..size),
        })
    }

    /// A view of a batch this crate just encoded or already validated: the header is
    /// parsed, the CRC is not recomputed.
    pub(crate) fn trusted(bytes: Bytes) -> Result<BatchView, BatchError> {
        let header = BatchHeader::parse(&bytes)?;
        if header.size() != bytes.len() {
            return Err(BatchError::InvalidLength {
                length: header.batch_length,
            });
        }
        Ok(BatchView { header, bytes })
    }

    /// Validates `bytes` as exactly one batch.
    pub fn parse(bytes: Bytes) -> Result<BatchView, BatchError> {
        let view = BatchView::parse_prefix(&bytes)?;
        match bytes.len() - view.bytes.len() {
            0 => Ok(view),
            extra => Err(BatchError::TrailingBytes { extra }),
        }
    }

    /// The parsed header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> Offset {
        self.header.base_offset
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> Offset {
        self.header.last_offset()
    }

    /// The batch's bytes, as stored.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The batch's bytes, as stored.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a batch has at least a header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Iterates the records with their offsets. Uncompressed payloads share this batch's
    /// storage; a compressed batch is decompressed first (once per call), and a batch
    /// that cannot be decompressed yields one error.
    pub fn records(&self) -> Records {
        let section = self.bytes.slice(layout::HEADER_LEN..);
        let data = match Compression::from_attributes(self.header.attributes) {
            Some(Compression::None) => Ok(section),
            Some(codec) => decompress(codec, &section),
            None => Err(BatchError::UnsupportedCompression {
                codec: self.header.compression(),
            }),
        };
        Records {
            data,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            count: self.header.record_count,
            position: 0,
            index: 0,
        }
    }

    /// Decodes every record and checks that offsets are consecutive, the count matches
    /// the header and nothing follows the last record.
    pub fn validate_records(&self) -> Result<(), BatchError> {
        let mut count = 0i32;
        for record in self.records() {
            let (offset, _) = record?;
            if offset != self.base_offset().plus(count as u64) {
                return Err(BatchError::MalformedRecord {
                    index: count,
                    reason: "offset deltas are not consecutive",
                });
            }
            count += 1;
        }
        if count == 0 || count - 1 != self.header.last_offset_delta {
            return Err(BatchError::InvalidHeader {
                reason: "last offset delta does not match the records",
            });
        }
        Ok(())
    }
}

/// Iterator over a batch's records; see [`BatchView::records`].
#[derive(Debug)]
pub struct Records {
    /// The records section (decompressed), or why it cannot be read.
    data: Result<Bytes, BatchError>,
    base_offset: Offset,
    base_timestamp: i64,
    count: i32,
    position: usize,
    index: i32,
}

impl Iterator for Records {
    type Item = Result<(Offset, Record), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let result = match &self.data {
            Ok(bytes) => {
                let bytes = bytes.clone();
                self.decode_next(&bytes)
            }
            Err(error) => Err(error.clone()),
        };
        self.index = if result.is_ok() {
            self.index + 1
        } else {
            i32::MAX
        };
        Some(result)
    }
}

impl Records {
    fn decode_next(&mut self, bytes: &Bytes) -> Result<(Offset, Record), BatchError> {
        let index = self.index;
        let malformed = |reason| BatchError::MalformedRecord { index, reason };
        let mut input = bytes
            .get(self.position..)
            .ok_or_else(|| malformed("record past the end of its batch"))?;
        let length = get_varint(&mut input).map_err(|error| malformed(varint_reason(error)))?;
        let length = usize::try_from(length).map_err(|_| malformed("negative record length"))?;
        if input.len() < length {
            return Err(malformed("record longer than its batch"));
        }
        let start = bytes.len() - input.len();
        let mut body = &input[..length];
        let reader = RecordReader {
            bytes,
            start,
            body_len: length,
        };
        let _attributes = take(&mut body, 1).ok_or_else(|| malformed("missing attributes"))?;
        let timestamp_delta =
            get_varlong(&mut body).map_err(|error| malformed(varint_reason(error)))?;
        let offset_delta =
            get_varint(&mut body).map_err(|error| malformed(varint_reason(error)))?;
        let offset_delta =
            u64::try_from(offset_delta).map_err(|_| malformed("negative offset delta"))?;
        let key = reader.nullable(&mut body).map_err(malformed)?;
        let value = reader.nullable(&mut body).map_err(malformed)?;
        let header_count =
            get_varint(&mut body).map_err(|error| malformed(varint_reason(error)))?;
        let header_count =
            usize::try_from(header_count).map_err(|_| malformed("negative header count"))?;
        let mut headers = Vec::with_capacity(header_count.min(64));
        for _ in 0..header_count {
            let key = reader
                .nullable(&mut body)
                .map_err(malformed)?
                .ok_or_else(|| malformed("null header key"))?;
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| malformed("header key is not utf-8"))?;
            headers.push((key, reader.nullable(&mut body).map_err(malformed)?));
        }
        if !body.is_empty() {
            return Err(malformed("bytes left after the record's headers"));
        }
        self.position = start + length;
        let record = Record {
            timestamp_ms: self.base_timestamp.wrapping_add(timestamp_delta),
            key,
            value,
            headers,
        };
        Ok((self.base_offset.plus(offset_delta), record))
    }
}

/// Slices nullable fields of one record out of the shared batch bytes.
struct RecordReader<'a> {
    bytes: &'a Bytes,
    start: usize,
    body_len: usize,
}

impl RecordReader<'_> {
    fn nullable(&self, body: &mut &[u8]) -> Result<Option<Bytes>, &'static str> {
        let length = get_varint(body).map_err(varint_reason)?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length).map_err(|_| "negative field length")?;
        let consumed = self.body_len - body.len();
        let field = take(body, length).ok_or("field longer than its record")?;
        debug_assert_eq!(field.len(), length);
        let at = self.start + consumed;
        Ok(Some(self.bytes.slice(at..at + length)))
    }
}

fn take<'a>(input: &mut &'a [u8], count: usize) -> Option<&'a [u8]> {
    if input.len() < count {
        return None;
    }
    let (head, rest) = input.split_at(count);
    *input = rest;
    Some(head)
}

fn varint_reason(error: VarintError) -> &'static str {
    match error {
        VarintError::Incomplete => "truncated varint",
        VarintError::TooLong => "overlong varint",
    }
}

/// Sets the base offset of an encoded batch in place. The base offset is outside the
/// CRC, so the batch stays valid; this is how a batch received from a Kafka producer is
/// stored as received apart from its offsets.
pub fn rewrite_base_offset(batch: &mut [u8], base_offset: Offset) -> Result<(), BatchError> {
    let value = i64::try_from(base_offset.get()).map_err(|_| BatchError::InvalidHeader {
        reason: "base offset does not fit i64",
    })?;
    if batch.len() < layout::HEADER_LEN {
        return Err(BatchError::Incomplete {
            needed: layout::HEADER_LEN,
            available: batch.len(),
        });
    }
    batch[..8].copy_from_slice(&value.to_be_bytes());
    Ok(())
}

fn array_at<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&buf[at..at + N]);
    out
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(array_at(buf, at))
}
