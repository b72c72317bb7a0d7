//! [`LogView`]: an immutable snapshot of what readers of a log may see, read without the
//! writer.
//!
//! The writer builds a view after every group commit (and after retention, compaction
//! and recovery) and publishes it; readers clone the current one (an `Arc`) and read
//! through it on their own thread, never waiting for appends or syncs. A view holds:
//!
//! - every segment's shared open file and sparse index, each with the length and next
//!   offset the reader may use. Under `FlushPolicy::Always` that is the **durable** end
//!   of the log, so a reader never sees a batch before it is synced; under the weaker
//!   policies it is everything acknowledged.
//! - the log's first offset, its high watermark (the view's end) and its byte size;
//! - the most recent batches as the log wrote them ([`TAIL_BATCHES`], [`TAIL_BYTES`]),
//!   so that a read at the tail, the common case of a consumer keeping up, is answered
//!   from memory by cloning `Bytes` ([`LogView::read_cached`]) with no file I/O.
//!
//! A view stays valid while the writer moves on: sealed segments never change, the
//! active segment only grows past the view's end, and a segment file that retention
//! removes or compaction renames over stays readable through its open handle (Unix
//! semantics, which `SimulatedStorage` copies). The one exception is a failed sync under
//! the weaker flush policies, which cuts acknowledged but unsynced bytes (a view under
//! `Always` never includes them): the log counts such rollbacks before cutting, and a
//! view that may include unsynced bytes checks the count after reading from a file and
//! answers [`ReadError::RolledBack`] instead of bytes that may have changed under it.

mod segment;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::error::ReadError;
use crate::offset::Offset;

pub(crate) use segment::SegmentView;

/// Most recent batches a view keeps in memory for tail reads.
pub const TAIL_BATCHES: usize = 128;
/// Most bytes of recent batches a view keeps in memory for tail reads (a larger batch is
/// never cached).
pub const TAIL_BYTES: usize = 1024 * 1024;

/// One recently written batch, kept in memory.
#[derive(Debug, Clone)]
pub(crate) struct CachedBatch {
    pub base: Offset,
    /// The offset after the batch's range.
    pub next: Offset,
    pub records: i32,
    pub bytes: Bytes,
}

/// A cheap, cloneable snapshot of a log for readers. See the module docs.
#[derive(Debug, Clone)]
pub struct LogView {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Sealed segments (shared between views until a roll, retention or compaction).
    sealed: Arc<[SegmentView]>,
    active: SegmentView,
    first: Offset,
    size_bytes: u64,
    /// Recent batches, contiguous, ending at the view's end (possibly empty).
    tail: Vec<CachedBatch>,
    /// For views that may include unsynced bytes: the log's rollback count, and its value
    /// when the view was made.
    rollbacks: Option<(Arc<AtomicU64>, u64)>,
}

impl LogView {
    pub(crate) fn new(
        sealed: Arc<[SegmentView]>,
        active: SegmentView,
        tail: Vec<CachedBatch>,
        rollbacks: Option<(Arc<AtomicU64>, u64)>,
    ) -> LogView {
        let first = sealed.first().unwrap_or(&active).base;
        let size_bytes = sealed.iter().map(SegmentView::len).sum::<u64>() + active.len;
        LogView {
            inner: Arc::new(Inner {
                sealed,
                active,
                first,
                size_bytes,
                tail,
                rollbacks,
            }),
        }
    }

    /// The first offset stored.
    pub fn first_offset(&self) -> Offset {
        self.inner.first
    }

    /// The offset after the last record a reader may see: the high watermark (durable
    /// under `FlushPolicy::Always`).
    pub fn next_offset(&self) -> Offset {
        self.inner.active.next
    }

    /// Bytes of the segments up to the view's end.
    pub fn size_bytes(&self) -> u64 {
        self.inner.size_bytes
    }

    fn segments(&self) -> impl Iterator<Item = &SegmentView> {
        self.inner
            .sealed
            .iter()
            .chain(std::iter::once(&self.inner.active))
    }

    fn check_range(&self, from: Offset) -> Result<(), ReadError> {
        let (first, next) = (self.first_offset(), self.next_offset());
        if from < first || from > next {
            return Err(ReadError::OffsetOutOfRange {
                requested: from,
                first,
                next,
            });
        }
        Ok(())
    }

    /// [`Self::read`] when it needs no file I/O: the offset is out of range, at the end,
    /// or in the recent batches kept in memory (and the answer ends there or at the end
    /// of the view). `None` means the answer needs the files: call [`Self::read`], away
    /// from an async runtime's worker threads if the read may be large or cold.
    pub fn read_cached(
        &self,
        from: Offset,
        max_bytes: usize,
    ) -> Option<Result<Vec<Bytes>, ReadError>> {
        if let Err(error) = self.check_range(from) {
            return Some(Err(error));
        }
        if from == self.next_offset() {
            return Some(Ok(Vec::new()));
        }
        let tail = &self.inner.tail;
        let start = tail.partition_point(|batch| batch.next <= from);
        if tail.first().is_none_or(|batch| batch.base > from) || start == tail.len() {
            return None;
        }
        let mut out = Vec::new();
        let mut budget = max_bytes;
        // The same rules as a read from the files (`SegmentView::read`): whole batches,
        // the first always, skip batches without records, stop within the budget.
        for batch in &tail[start..] {
            if batch.records == 0 {
                continue;
            }
            let size = batch.bytes.len();
            if !out.is_empty() && size > budget {
                return Some(Ok(out));
            }
            out.push(batch.bytes.clone());
            budget = budget.saturating_sub(size);
            if budget == 0 {
                return Some(Ok(out));
            }
        }
        Some(Ok(out))
    }

    /// Whole stored batches, starting with the one that contains `from` (which may start
    /// earlier), up to about `max_bytes` (at least one batch when `from` is stored), from
    /// memory when they are recent and from the files otherwise. Empty when `from` is
    /// the view's end. See [`crate::PartitionLog::read`] for reads after compaction.
    ///
    /// Blocking file I/O: from async code, use [`Self::read_cached`] first and run this
    /// in a blocking task.
    pub fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Bytes>, ReadError> {
        if let Some(answer) = self.read_cached(from, max_bytes) {
            return answer;
        }
        self.read_files(from, max_bytes)
    }

    /// [`Self::read`] from the files only.
    pub(crate) fn read_files(
        &self,
        from: Offset,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, ReadError> {
        self.check_range(from)?;
        let mut out = Vec::new();
        let mut budget = max_bytes;
        let mut result = Ok(());
        for segment in self.segments().skip(self.segment_holding(from)) {
            match segment.read(from.max(segment.base), budget, &mut out) {
                Ok((read, reached_end)) => {
                    budget = budget.saturating_sub(read);
                    if budget == 0 || !reached_end {
                        break;
                    }
                }
                Err(error) => {
                    result = Err(ReadError::Io(error));
                    break;
                }
            }
        }
        // First: a cut under the read can also show up as an I/O error (a short file).
        self.check_rollbacks()?;
        result.map(|()| out)
    }

    /// The first offset whose record timestamp is at least `timestamp_ms`; `None` when
    /// every record in the view is older. Blocking file I/O, like [`Self::read`].
    pub fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<Offset>, ReadError> {
        let mut found = Ok(None);
        for segment in self.segments() {
            found = segment.offset_for_time(timestamp_ms).map_err(ReadError::Io);
            if !matches!(found, Ok(None)) {
                break;
            }
        }
        // First: a cut under the read can also show up as an I/O error (a short file).
        self.check_rollbacks()?;
        found
    }

    /// Index of the segment holding `from` in `segments()`.
    fn segment_holding(&self, from: Offset) -> usize {
        let sealed = &self.inner.sealed;
        if self.inner.active.base <= from {
            sealed.len()
        } else {
            sealed
                .partition_point(|segment| segment.base <= from)
                .saturating_sub(1)
        }
    }

    /// Fails if unsynced bytes this view includes were cut while it was read.
    fn check_rollbacks(&self) -> Result<(), ReadError> {
        match &self.inner.rollbacks {
            Some((counter, seen)) if counter.load(Ordering::SeqCst) != *seen => {
                Err(ReadError::RolledBack)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
