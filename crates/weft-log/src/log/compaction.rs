//! Compaction by key, the way Kafka's log cleaner does it: in the sealed segments only the
//! latest record of each key survives, and tombstones (null values) are dropped once they
//! are older than a configured delay. The active segment is never rewritten.
//!
//! - **Offsets are preserved.** Kept records keep their offsets; the rewritten batches
//!   still cover every offset of the segment without overlap (a batch may span offsets
//!   whose records are gone, and a stretch with no record left becomes a batch without
//!   records), so the offset chain that recovery checks stays intact and reads see gaps.
//! - **Latest means latest in the whole log**: a key rewritten in a later segment, the
//!   active one included, removes its older values from the compacted segments.
//! - **Records without a key are kept.** Kafka rejects them on compacted topics; weft keeps
//!   them so that a stream can mix both kinds.
//! - **Opaque batches are kept whole**: batches with any attribute set (compressed,
//!   transactional, control, log-append time) are copied as they are and their keys are
//!   not considered, so an older value of such a key may survive (never the reverse). A
//!   tombstone is dropped only when no opaque batch precedes it, because an older value
//!   hidden in one would otherwise reappear.
//! - **Crash safety**: the compacted copy of a segment is written to
//!   `<segment>.log.cleaned`, synced, and renamed over the segment (atomic), then the
//!   directory is synced. A crash leaves either the old or the new segment, and recovery
//!   removes a leftover `.cleaned` file. Segments are compacted oldest first, so a crash
//!   between two of them never drops a tombstone while an older value it deletes survives.
//!
//! Memory: one map entry (the whole key) per distinct key in the log.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bytes::Bytes;

use super::PartitionLog;
use crate::batch::{BatchBuilder, BatchView, Record};
use crate::error::CompactionError;
use crate::offset::Offset;
use crate::segment::{Segment, cleaned_file_name, file_name};

/// Records per compacted batch are gathered up to about this many bytes.
const COMPACTED_BATCH_BYTES: usize = 64 * 1024;

/// How a compacted log treats its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// A tombstone that is the latest record of its key is kept until its timestamp is
    /// this much older than the compaction's clock, so that consumers see the deletion.
    pub tombstone_retention: Duration,
}

impl Default for CompactionPolicy {
    /// One day, Kafka's default `delete.retention.ms`.
    fn default() -> Self {
        CompactionPolicy {
            tombstone_retention: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// What one compaction pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactionReport {
    /// Sealed segments rewritten (a segment with nothing to remove is left alone).
    pub segments_rewritten: usize,
    /// Records removed because a later record has the same key.
    pub records_removed: u64,
    /// Latest-for-their-key tombstones removed because their retention had passed.
    pub tombstones_removed: u64,
    /// Size of the rewritten segments before compaction.
    pub bytes_before: u64,
    /// Size of the rewritten segments after compaction.
    pub bytes_after: u64,
}

/// What the first pass learned about the whole log.
struct LatestOffsets {
    by_key: HashMap<Bytes, Offset>,
    /// Base offset of the first batch whose records were not inspected.
    first_opaque: Option<Offset>,
}

/// The compacted contents of one segment.
struct Rewrite {
    batches: Vec<Bytes>,
    records_removed: u64,
    tombstones_removed: u64,
}

impl PartitionLog {
    /// Compacts the sealed segments by key (see the module docs), judging tombstone age
    /// against `now_ms` (milliseconds since the Unix epoch). The log is synced first, so
    /// every record that makes an older one obsolete is durable before the older one goes.
    pub fn compact(
        &mut self,
        policy: &CompactionPolicy,
        now_ms: i64,
    ) -> Result<CompactionReport, CompactionError> {
        if self.poisoned {
            return Err(CompactionError::Poisoned);
        }
        self.sync().map_err(CompactionError::Sync)?;
        let mut report = CompactionReport::default();
        if self.segments.len() < 2 {
            return Ok(report);
        }
        let latest = self.latest_offsets()?;
        let retention_ms =
            i64::try_from(policy.tombstone_retention.as_millis()).unwrap_or(i64::MAX);
        let tombstone_cutoff = now_ms.saturating_sub(retention_ms);
        let batch_bytes = COMPACTED_BATCH_BYTES.min(self.config.max_batch_bytes);
        for index in 0..self.segments.len() - 1 {
            let segment = &self.segments[index];
            let rewrite = rewrite_segment(segment, &latest, tombstone_cutoff, batch_bytes)?;
            if rewrite.records_removed + rewrite.tombstones_removed == 0 {
                continue;
            }
            let bytes_before = segment.len();
            let bytes_after = self.replace_segment(index, &rewrite.batches)?;
            tracing::debug!(segment = %file_name(self.segments[index].base()), bytes_before, bytes_after, "compacted segment");
            report.segments_rewritten += 1;
            report.records_removed += rewrite.records_removed;
            report.tombstones_removed += rewrite.tombstones_removed;
            report.bytes_before += bytes_before;
            report.bytes_after += bytes_after;
        }
        Ok(report)
    }

    /// Pass 1: the offset of the latest record of every key, over every segment.
    fn latest_offsets(&self) -> Result<LatestOffsets, CompactionError> {
        let mut latest = LatestOffsets {
            by_key: HashMap::new(),
            first_opaque: None,
        };
        for segment in &self.segments {
            for_each_batch(segment, |view| {
                if is_opaque(&view) {
                    latest.first_opaque.get_or_insert(view.base_offset());
                    return Ok(());
                }
                for entry in view.records() {
                    let (offset, record) = entry?;
                    if let Some(key) = record.key {
                        latest.by_key.insert(key, offset);
                    }
                }
                Ok(())
            })?;
        }
        Ok(latest)
    }

    /// Writes `batches` to a `.cleaned` file, syncs it, renames it over segment `index`
    /// and reopens that segment. Returns the new segment's size.
    fn replace_segment(&mut self, index: usize, batches: &[Bytes]) -> Result<u64, CompactionError> {
        let io = |operation: &'static str, name: &str| {
            let name = name.to_owned();
            move |source| CompactionError::Io {
                operation,
                name,
                source,
            }
        };
        let base = self.segments[index].base();
        let expected_next = self.segments[index].next();
        let (name, cleaned) = (file_name(base), cleaned_file_name(base));
        let file = self
            .storage
            .create(&cleaned)
            .map_err(io("create", &cleaned))?;
        let written = batches
            .iter()
            .try_for_each(|batch| file.append(batch))
            .and_then(|()| file.sync_data());
        drop(file);
        if let Err(source) = written {
            if let Err(error) = self.storage.remove(&cleaned) {
                tracing::warn!(%error, file = %cleaned, "cannot remove an unfinished compacted segment; the next open removes it");
            }
            return Err(io("write", &cleaned)(source));
        }
        self.storage
            .rename(&cleaned, &name)
            .map_err(io("rename", &cleaned))?;
        // The segment file now holds the compacted bytes: the old handle must go at once.
        let reopened = Segment::open(
            self.storage.as_ref(),
            base,
            self.config.index_interval_bytes,
            false,
        )
        .and_then(|(segment, outcome)| {
            if outcome.stopped_by.is_some() || segment.next() != expected_next {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "compacted segment does not cover the offsets of the original",
                ))
            } else {
                Ok(segment)
            }
        });
        match reopened {
            Ok(segment) => {
                self.segments[index] = segment;
                self.segments_changed(true);
            }
            Err(source) => {
                tracing::error!(error = %source, segment = %name, "cannot reopen a compacted segment; log needs reopening");
                self.poisoned = true;
                return Err(io("reopen", &name)(source));
            }
        }
        self.storage
            .sync_directory()
            .map_err(io("sync", "directory"))?;
        Ok(self.segments[index].len())
    }
}

/// Batches with any attribute set are not rewritten record by record.
fn is_opaque(view: &BatchView) -> bool {
    view.header().attributes != 0
}

/// Calls `visit` with every batch of `segment`, CRC-checked, in order.
fn for_each_batch(
    segment: &Segment,
    mut visit: impl FnMut(BatchView) -> Result<(), crate::BatchError>,
) -> Result<(), CompactionError> {
    let name = segment.name();
    let mut position = 0;
    while position < segment.len() {
        let (bytes, next) =
            segment
                .read_batch_at(position)
                .map_err(|source| CompactionError::Io {
                    operation: "read",
                    name: name.clone(),
                    source,
                })?;
        BatchView::parse(bytes)
            .and_then(&mut visit)
            .map_err(|source| CompactionError::Corrupt {
                segment: name.clone(),
                position,
                source,
            })?;
        position = next;
    }
    Ok(())
}

/// Pass 2 for one sealed segment: the batches that hold only the records to keep.
fn rewrite_segment(
    segment: &Segment,
    latest: &LatestOffsets,
    tombstone_cutoff: i64,
    batch_bytes: usize,
) -> Result<Rewrite, CompactionError> {
    let mut writer = CompactedWriter::new(segment.base(), batch_bytes);
    let mut removed = (0u64, 0u64);
    for_each_batch(segment, |view| {
        if is_opaque(&view) {
            return writer.push_whole(view);
        }
        for entry in view.records() {
            let (offset, record) = entry?;
            let Some(key) = &record.key else {
                writer.push(offset, &record)?;
                continue;
            };
            if latest.by_key.get(key) != Some(&offset) {
                removed.0 += 1;
            } else if record.value.is_none()
                && record.timestamp_ms <= tombstone_cutoff
                && latest.first_opaque.is_none_or(|opaque| offset < opaque)
            {
                removed.1 += 1;
            } else {
                writer.push(offset, &record)?;
            }
        }
        Ok(())
    })?;
    let batches = writer
        .finish(segment.next())
        .map_err(|source| CompactionError::Encode {
            segment: segment.name(),
            source,
        })?;
    Ok(Rewrite {
        batches,
        records_removed: removed.0,
        tombstones_removed: removed.1,
    })
}

/// Gathers kept records into batches whose offset ranges follow each other without a gap.
struct CompactedWriter {
    /// The first offset not yet covered by a finished batch.
    covered_to: Offset,
    pending: Option<(BatchBuilder, Offset)>,
    batches: Vec<Bytes>,
    batch_bytes: usize,
    /// The first encoding error; reported by `finish`.
    error: Option<crate::EncodeError>,
}

impl CompactedWriter {
    fn new(base: Offset, batch_bytes: usize) -> Self {
        CompactedWriter {
            covered_to: base,
            pending: None,
            batches: Vec::new(),
            batch_bytes,
            error: None,
        }
    }

    /// Keeps `record` at `offset`.
    fn push(&mut self, offset: Offset, record: &Record) -> Result<(), crate::BatchError> {
        let covered_to = self.covered_to;
        let (builder, last) = self
            .pending
            .get_or_insert_with(|| (BatchBuilder::new(covered_to), covered_to));
        match builder.push_at(offset, record) {
            Ok(()) => *last = offset,
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        if builder.size() >= self.batch_bytes {
            self.close_pending();
        }
        Ok(())
    }

    /// Keeps a whole batch as stored.
    fn push_whole(&mut self, view: BatchView) -> Result<(), crate::BatchError> {
        self.cover_until(view.base_offset());
        self.covered_to = view.header().next_offset();
        self.batches.push(view.into_bytes());
        Ok(())
    }

    /// Finishes the pending batch at its last record.
    fn close_pending(&mut self) {
        if let Some((builder, last)) = self.pending.take() {
            self.finish_batch(builder, last);
        }
    }

    /// Covers every offset before `end` with batches, adding one without records for a
    /// stretch whose records are all gone.
    fn cover_until(&mut self, end: Offset) {
        self.close_pending();
        if self.covered_to < end {
            let empty = BatchBuilder::new(self.covered_to);
            self.finish_batch(empty, Offset::new(end.get() - 1));
        }
    }

    fn finish_batch(&mut self, builder: BatchBuilder, last: Offset) {
        match builder.finish_spanning(last) {
            Ok(batch) => {
                self.batches.push(batch);
                self.covered_to = last.plus(1);
            }
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
    }

    /// The batches covering the segment up to (excluding) `next`.
    fn finish(mut self, next: Offset) -> Result<Vec<Bytes>, crate::EncodeError> {
        self.cover_until(next);
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.batches),
        }
    }
}

#[cfg(test)]
mod tests;
