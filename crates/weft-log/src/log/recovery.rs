//! Opening a log: find the segments, keep the longest valid prefix, rebuild the indexes.
//!
//! The active (last) segment is scanned batch by batch with CRC checks; sealed segments
//! were synced before they were sealed, so only their header chain is followed. The log
//! kept is the longest valid prefix: the first invalid batch (bad CRC, torn length, wrong
//! magic, an offset that does not follow) and everything after it, including any later
//! segments, is removed and reported with `tracing::warn!`.
//!
//! A `<segment>.log.cleaned` file is a compacted copy that was never renamed over its
//! segment (the rename is atomic, so the segment itself is intact): it is removed, which
//! rolls the unfinished compaction back.

use std::sync::Arc;

use super::{LogConfig, PartitionLog};
use crate::error::OpenError;
use crate::offset::Offset;
use crate::segment::{Segment, parse_file_name};
use crate::storage::Storage;

impl PartitionLog {
    /// Opens the log stored in `storage` (creating an empty one), recovering from a crash.
    pub fn open(storage: Arc<dyn Storage>, config: LogConfig) -> Result<PartitionLog, OpenError> {
        let io = |operation: &'static str, name: &str| {
            let name = name.to_owned();
            move |source| OpenError::Io {
                operation,
                name,
                source,
            }
        };
        let names = storage.list().map_err(io("list", "directory"))?;
        let leftovers: Vec<&String> = names
            .iter()
            .filter(|name| name.ends_with(crate::segment::CLEANED_SUFFIX))
            .collect();
        for name in &leftovers {
            tracing::warn!(file = %name, "removing the output of an unfinished compaction");
            storage.remove(name).map_err(io("remove", name))?;
        }
        if !leftovers.is_empty() {
            storage.sync_directory().map_err(io("sync", "directory"))?;
        }
        let mut bases: Vec<Offset> = names
            .iter()
            .filter_map(|name| parse_file_name(name))
            .collect();
        bases.sort();
        let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
        let mut discard_from = None;
        for (position, &base) in bases.iter().enumerate() {
            let name = crate::segment::file_name(base);
            if let Some(previous) = segments.last()
                && previous.next() != base
            {
                tracing::warn!(segment = %name, expected = %previous.next(), "segment does not follow the previous one; discarding it and later segments");
                discard_from = Some(position);
                break;
            }
            let is_active = position + 1 == bases.len();
            let (mut segment, outcome) = Segment::open(
                storage.as_ref(),
                base,
                config.index_interval_bytes,
                is_active,
            )
            .map_err(io("scan", &name))?;
            let file_len = segment.len();
            if outcome.valid_len < file_len {
                let truncated_bytes = file_len - outcome.valid_len;
                let reason = outcome
                    .stopped_by
                    .map(|error| error.to_string())
                    .unwrap_or_default();
                tracing::warn!(segment = %name, truncated_bytes, valid_bytes = outcome.valid_len, %reason, "truncating log after the last valid batch");
                segment
                    .truncate(outcome.valid_len)
                    .map_err(io("truncate", &name))?;
                segment.sync().map_err(io("sync", &name))?;
                segments.push(segment);
                if !is_active {
                    discard_from = Some(position + 1);
                }
                if discard_from.is_some() {
                    break;
                }
                continue;
            }
            segments.push(segment);
        }
        if let Some(from) = discard_from {
            for &base in &bases[from..] {
                let name = crate::segment::file_name(base);
                tracing::warn!(segment = %name, "removing segment after the end of the valid log");
                storage.remove(&name).map_err(io("remove", &name))?;
            }
            storage.sync_directory().map_err(io("sync", "directory"))?;
        }
        if segments.is_empty() {
            let segment =
                Segment::create(storage.as_ref(), Offset::ZERO, config.index_interval_bytes)
                    .map_err(io("create", &crate::segment::file_name(Offset::ZERO)))?;
            storage.sync_directory().map_err(io("sync", "directory"))?;
            segments.push(segment);
        }
        let mut log = PartitionLog {
            storage,
            config,
            segments,
            durable_next: Offset::ZERO,
            durable_len: 0,
            rollbacks: Arc::default(),
            poisoned: false,
            producers: super::ProducerTable::default(),
            recent: std::collections::VecDeque::new(),
            recent_bytes: 0,
            sealed_views: std::cell::OnceCell::new(),
        };
        for segment in &mut log.segments {
            let table = segment.take_producers();
            log.producers.merge_later(table);
        }
        // What survived may still sit in the page cache from before a process crash: make
        // it durable so that the durable point starts at the end of the log.
        let active_name = log.active().name();
        log.active_mut().sync().map_err(io("sync", &active_name))?;
        log.durable_next = log.next_offset();
        log.durable_len = log.active().len();
        Ok(log)
    }
}
