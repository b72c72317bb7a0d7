//! [`PartitionLog`]: the synchronous core of one partition's log. It owns the segments,
//! assigns offsets, tracks which bytes are durable and rolls back what a failed sync
//! leaves uncertain. It does no threading; [`crate::LogHandle`] runs it on a writer thread.

mod compaction;
mod producers;
mod recovery;
mod retention;

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::batch::{BatchView, Record, encode_batch};
use crate::error::{AppendError, ReadError};
use crate::offset::Offset;
use crate::segment::Segment;
use crate::storage::Storage;
use crate::view::{CachedBatch, LogView, SegmentView, TAIL_BATCHES, TAIL_BYTES};

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
    /// Bumped whenever written-but-unsynced batches are discarded after a failure (before
    /// they are cut), so a group commit can tell whether an append it made is still
    /// there, and a reader of a view with unsynced bytes whether they changed under it.
    rollbacks: Arc<AtomicU64>,
    poisoned: bool,
    /// Idempotent producers' last batches.
    producers: ProducerTable,
    /// The latest batches written, contiguous and ending at `next_offset` (or empty), for
    /// views to answer tail reads from memory.
    recent: VecDeque<CachedBatch>,
    recent_bytes: usize,
    /// Views of the sealed segments, built once per change of the segment list.
    sealed_views: OnceCell<Arc<[SegmentView]>>,
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
        self.rollbacks.load(Ordering::SeqCst)
    }

    /// What a reader may see under `FlushPolicy::Always`: the log up to its durable end.
    pub fn durable_view(&self) -> LogView {
        self.view_upto(self.durable_next, self.durable_len, false)
    }

    /// Everything written, synced or not (what readers see under the weaker flush
    /// policies, which acknowledge before syncing).
    pub fn written_view(&self) -> LogView {
        self.view_upto(self.next_offset(), self.active().len(), true)
    }

    /// A view ending at `next`, at byte `len` of the active segment.
    fn view_upto(&self, next: Offset, len: u64, unsynced: bool) -> LogView {
        let sealed = self.sealed_views.get_or_init(|| {
            let sealed = &self.segments[..self.segments.len() - 1];
            sealed.iter().map(Segment::view).collect()
        });
        let active = self.active().view_upto(next, len);
        let mut tail: Vec<CachedBatch> = self
            .recent
            .iter()
            .take_while(|batch| batch.next <= next)
            .cloned()
            .collect();
        if tail.last().is_some_and(|batch| batch.next != next) {
            tail.clear();
        }
        let rollbacks = unsynced.then(|| (Arc::clone(&self.rollbacks), self.rollbacks()));
        LogView::new(Arc::clone(sealed), active, tail, rollbacks)
    }

    /// Keeps `batch` among the recent batches, dropping the oldest beyond the limits.
    fn remember(&mut self, header: &crate::BatchHeader, bytes: &Bytes) {
        if bytes.len() > TAIL_BYTES {
            // The tail must stay contiguous up to the end of the log.
            self.recent.clear();
            self.recent_bytes = 0;
            return;
        }
        self.recent.push_back(CachedBatch {
            base: header.base_offset,
            next: header.next_offset(),
            records: header.record_count,
            bytes: bytes.clone(),
        });
        self.recent_bytes += bytes.len();
        while self.recent.len() > TAIL_BATCHES || self.recent_bytes > TAIL_BYTES {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some(batch) = self.recent.pop_front() {
            self.recent_bytes -= batch.bytes.len();
        }
    }

    /// Forgets the recent batches before `first` (removed by retention) or, with
    /// `rewritten`, in sealed segments (rewritten by compaction); the segment list changed.
    pub(crate) fn segments_changed(&mut self, rewritten: bool) {
        self.sealed_views = OnceCell::new();
        let keep_from = if rewritten {
            self.active().base()
        } else {
            self.first_offset()
        };
        while self
            .recent
            .front()
            .is_some_and(|batch| batch.base < keep_from)
        {
            self.forget_oldest();
        }
    }

    /// The largest batch an append accepts.
    pub(crate) fn max_batch_bytes(&self) -> usize {
        self.config.max_batch_bytes
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
        self.remember(&header, view.as_bytes());
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
        self.sealed_views = OnceCell::new();
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
        // Counted before the cut, so a reader that raced it sees the count change.
        self.rollbacks.fetch_add(1, Ordering::SeqCst);
        if let Err(error) = self.active_mut().truncate(durable_len) {
            tracing::error!(%error, "cannot discard unsynced batches; log needs reopening");
            self.poisoned = true;
        }
        let next = self.next_offset();
        self.producers.truncate(next);
        while self.recent.back().is_some_and(|batch| batch.next > next) {
            if let Some(batch) = self.recent.pop_back() {
                self.recent_bytes -= batch.bytes.len();
            }
        }
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
        self.written_view().read(from, max_bytes)
    }

    /// The first offset whose record timestamp is at least `timestamp_ms`; `None` when
    /// every stored record is older.
    pub fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<Offset>, ReadError> {
        self.written_view().offset_for_time(timestamp_ms)
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
