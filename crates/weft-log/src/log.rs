//! [`PartitionLog`]: the synchronous core of one partition's log. It owns the segments,
//! assigns offsets, tracks which bytes are durable and rolls back what a failed sync
//! leaves uncertain. It does no threading; [`crate::LogHandle`] runs it on a writer thread.

mod compaction;
mod producers;
mod recovery;
mod retention;

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::{BatchView, Record, encode_batch};
use crate::error::{AppendError, ReadError};
use crate::offset::Offset;
use crate::segment::Segment;
use crate::storage::Storage;

pub use compaction::{CompactionPolicy, CompactionReport};
pub use producers::CACHED_BATCHES;
pub(crate) use producers::ProducerTable;
use producers::SequenceCheck;
pub use retention::{RetentionOutcome, RetentionPolicy};

/// Sizes that shape a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// A segment is sealed and a new one started when the next batch would make it larger
    /// than this (a single larger batch still gets a segment of its own).
    pub segment_bytes: u64,
    /// Bytes of batches between two sparse index entries.
    pub index_interval_bytes: u64,
    /// The largest batch an append accepts.
    pub max_batch_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 128 * 1024 * 1024,
            index_interval_bytes: 4096,
            max_batch_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The offsets of one successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// Offset of the last record.
    pub last_offset: Offset,
    /// True when an idempotent producer's batch was stored before: nothing was appended
    /// and the offsets are those of the first time.
    pub duplicate: bool,
}

/// One partition's log. See the crate docs for the invariants it keeps.
pub struct PartitionLog {
    storage: Arc<dyn Storage>,
    config: LogConfig,
    /// Sorted by base offset; never empty; the last one is the active segment.
    segments: Vec<Segment>,
    /// Everything before this offset is durable.
    durable_next: Offset,
    /// Bytes of the active segment that are durable.
    durable_len: u64,
    /// Bumped whenever written-but-unsynced batches are discarded after a failure, so a
    /// group commit can tell whether an append it made is still there.
    rollbacks: u64,
    poisoned: bool,
    /// Idempotent producers' last batches.
    producers: ProducerTable,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionLog")
            .field("first_offset", &self.first_offset())
            .field("next_offset", &self.next_offset())
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

impl PartitionLog {
    /// The first offset still stored.
    pub fn first_offset(&self) -> Offset {
        self.segments.first().map_or(Offset::ZERO, Segment::base)
    }

    /// The offset the next appended record gets.
    pub fn next_offset(&self) -> Offset {
        self.segments.last().map_or(Offset::ZERO, Segment::next)
    }

    /// Every offset before this one has been synced.
    pub fn durable_offset(&self) -> Offset {
        self.durable_next
    }

    /// How many times unsynced appends were discarded after a failure.
    pub fn rollbacks(&self) -> u64 {
        self.rollbacks
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Encodes `records` as one batch and appends it. Not durable until [`Self::sync`].
    pub fn append(&mut self, records: &[Record]) -> Result<Appended, AppendError> {
        self.check_usable()?;
        let batch = encode_batch(self.next_offset(), records)?;
        self.append_batch(BatchView::trusted(batch)?)
    }

    /// Validates a batch as received from a producer (decompressing it to check its
    /// records), checks an idempotent producer's sequence (see [`CACHED_BATCHES`]), gives
    /// it the next offsets and appends it. Compressed batches are stored as they are. A
    /// batch stored before is not appended again: the answer has `duplicate` set and the
    /// offsets it got then.
    pub fn append_raw_batch(&mut self, batch: Bytes) -> Result<Appended, AppendError> {
        self.check_usable()?;
        if batch.len() > self.config.max_batch_bytes {
            return Err(AppendError::BatchTooLarge {
                size: batch.len(),
                max: self.config.max_batch_bytes,
            });
        }
        let view = BatchView::parse(batch)?;
        let header = view.header();
        if header.record_count < 1 || header.record_count - 1 != header.last_offset_delta {
            return Err(crate::BatchError::InvalidHeader {
                reason: "record count does not match last offset delta",
            }
            .into());
        }
        view.validate_records()?;
        if let SequenceCheck::Duplicate { base, last } = self.producers.check(header)? {
            return Ok(Appended {
                base_offset: base,
                last_offset: last,
                duplicate: true,
            });
        }
        let mut bytes = view.into_bytes().to_vec();
        crate::batch::rewrite_base_offset(&mut bytes, self.next_offset())?;
        self.append_batch(BatchView::trusted(Bytes::from(bytes))?)
    }

    fn check_usable(&self) -> Result<(), AppendError> {
        if self.poisoned {
            Err(AppendError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn append_batch(&mut self, view: BatchView) -> Result<Appended, AppendError> {
        if view.len() > self.config.max_batch_bytes {
            return Err(AppendError::BatchTooLarge {
                size: view.len(),
                max: self.config.max_batch_bytes,
            });
        }
        let header = *view.header();
        let active_len = self.active().len();
        if active_len > 0 && active_len + view.len() as u64 > self.config.segment_bytes {
            self.roll()?;
        }
        let active = self.active_mut();
        if let Err((error, truncate_error)) = active.append(view.as_bytes(), &header) {
            if let Some(truncate_error) = truncate_error {
                tracing::error!(error = %truncate_error, "cannot cut back a failed write; log needs reopening");
                self.poisoned = true;
            }
            return Err(AppendError::Io {
                operation: "write",
                source: Arc::new(error),
            });
        }
        self.producers.observe(&header);
        Ok(Appended {
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            duplicate: false,
        })
    }

    /// Seals the active segment (syncing it) and starts a new one at the next offset.
    fn roll(&mut self) -> Result<(), AppendError> {
        self.sync().map_err(|source| AppendError::Io {
            operation: "sync",
            source,
        })?;
        let base = self.next_offset();
        let segment = Segment::create(
            self.storage.as_ref(),
            base,
            self.config.index_interval_bytes,
        )
        .and_then(|segment| self.storage.sync_directory().map(|()| segment))
        .map_err(|error| AppendError::Io {
            operation: "roll",
            source: Arc::new(error),
        })?;
        self.segments.push(segment);
        self.durable_len = 0;
        Ok(())
    }

    /// Makes every appended batch durable. On failure the unsynced batches are discarded
    /// (their fate on disk is unknown after a failed fsync) and the log continues from the
    /// last durable offset.
    pub fn sync(&mut self) -> Result<(), Arc<io::Error>> {
        if self.poisoned {
            return Err(Arc::new(io::Error::other("log is poisoned")));
        }
        if self.durable_next == self.next_offset() && self.durable_len == self.active().len() {
            return Ok(());
        }
        match self.active_mut().sync() {
            Ok(()) => {
                self.durable_next = self.next_offset();
                self.durable_len = self.active().len();
                Ok(())
            }
            Err(error) => {
                self.roll_back_unsynced();
                Err(Arc::new(error))
            }
        }
    }

    fn roll_back_unsynced(&mut self) {
        let durable_len = self.durable_len;
        self.rollbacks += 1;
        if let Err(error) = self.active_mut().truncate(durable_len) {
            tracing::error!(%error, "cannot discard unsynced batches; log needs reopening");
            self.poisoned = true;
        }
        let next = self.next_offset();
        self.producers.truncate(next);
    }

    /// Whole stored batches, starting with the one that contains `from` (which may start
    /// earlier), up to about `max_bytes` (at least one batch when `from` is stored).
    /// Empty when `from` is the next offset.
    ///
    /// After compaction offsets have gaps: for an offset whose record was removed, the
    /// first batch returned is the one holding the next record kept (batches that hold
    /// no records are never returned), and the result is empty when no record at or after
    /// `from` is left.
    pub fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Bytes>, ReadError> {
        let (first, next) = (self.first_offset(), self.next_offset());
        if from < first || from > next {
            return Err(ReadError::OffsetOutOfRange {
                requested: from,
                first,
                next,
            });
        }
        let start = self
            .segments
            .partition_point(|segment| segment.base() <= from)
            .saturating_sub(1);
        let mut out = Vec::new();
        let mut budget = max_bytes;
        for segment in &self.segments[start..] {
            let (read, reached_end) = segment
                .read(from.max(segment.base()), budget, &mut out)
                .map_err(ReadError::Io)?;
            budget = budget.saturating_sub(read);
            if budget == 0 || !reached_end {
                break;
            }
        }
        Ok(out)
    }

    /// The first offset whose record timestamp is at least `timestamp_ms`; `None` when
    /// every stored record is older.
    pub fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<Offset>, ReadError> {
        for segment in &self.segments {
            if let Some(offset) = segment
                .offset_for_time(timestamp_ms)
                .map_err(ReadError::Io)?
            {
                return Ok(Some(offset));
            }
        }
        Ok(None)
    }

    fn active(&self) -> &Segment {
        // `segments` is never empty: open creates the first segment.
        &self.segments[self.segments.len() - 1]
    }

    fn active_mut(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }
}

#[cfg(test)]
mod tests;
