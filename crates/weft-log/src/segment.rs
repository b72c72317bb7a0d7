//! One segment: a file of consecutive batches starting at a base offset, plus its sparse
//! in-memory index (offset → position, and the maximum timestamp before each entry).

use std::io;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use crate::batch::{BatchError, BatchHeader, BatchView, layout};
use crate::log::ProducerTable;
use crate::offset::Offset;
use crate::storage::{Storage, StorageFile};
use crate::view::SegmentView;

/// The file name of the segment starting at `base`: 20 digits, zero padded, `.log`.
pub(crate) fn file_name(base: Offset) -> String {
    format!("{:020}.log", base.get())
}

/// Suffix of a compacted copy of a segment being written (`<segment>.log.cleaned`). It
/// replaces the segment by an atomic rename; one found on open is an unfinished
/// compaction and is removed.
pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";

/// The file name of the compacted copy of the segment starting at `base`.
pub(crate) fn cleaned_file_name(base: Offset) -> String {
    format!("{}{CLEANED_SUFFIX}", file_name(base))
}

/// The base offset named by a segment file name, if it is one.
pub(crate) fn parse_file_name(name: &str) -> Option<Offset> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Offset::new)
}

/// One sparse index entry: the batch starting at `base + relative` is at `position`, and
/// every batch before it in the segment has timestamps up to `max_timestamp_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub relative: u64,
    pub position: u64,
    pub max_timestamp_before: i64,
}

/// A segment's index, shared with the readers' views of the segment. The writer only
/// adds entries, except when it cuts back unsynced batches; a reader never uses an entry
/// at or past the end of its view, and the writer never cuts below the end of a view
/// under `FlushPolicy::Always` (see `crate::view` for the other policies).
#[derive(Debug, Default)]
pub(crate) struct SharedIndex(RwLock<Vec<IndexEntry>>);

impl SharedIndex {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<IndexEntry>> {
        // Entries are plain data pushed whole; a poisoned lock still holds valid ones.
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<IndexEntry>> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How a scan of a segment file ended.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    /// Bytes of valid batches from the start.
    pub valid_len: u64,
    /// Why scanning stopped before the end of the file, if it did.
    pub stopped_by: Option<BatchError>,
}

pub(crate) struct Segment {
    base: Offset,
    next: Offset,
    /// Shared with readers' views, which read it through `&self`.
    file: Arc<dyn StorageFile>,
    index: Arc<SharedIndex>,
    /// Entries in `index` (kept here so the writer needs no lock to know).
    index_len: usize,
    max_timestamp: i64,
    bytes_since_index: u64,
    index_interval: u64,
    /// Idempotent producers seen while scanning (taken by the log when it opens).
    producers: ProducerTable,
}

impl Segment {
    /// Creates an empty segment file.
    pub(crate) fn create(
        storage: &dyn Storage,
        base: Offset,
        index_interval: u64,
    ) -> io::Result<Segment> {
        let file = storage.create(&file_name(base))?;
        Ok(Segment::new(base, file, index_interval))
    }

    /// Opens a segment and indexes its valid prefix. `verify_crc` checks every batch's
    /// CRC (reading all bytes); otherwise only the header chain is followed.
    pub(crate) fn open(
        storage: &dyn Storage,
        base: Offset,
        index_interval: u64,
        verify_crc: bool,
    ) -> io::Result<(Segment, ScanOutcome)> {
        let file = storage.open(&file_name(base))?;
        let mut segment = Segment::new(base, file, index_interval);
        let outcome = segment.scan_from(0, verify_crc)?;
        Ok((segment, outcome))
    }

    fn new(base: Offset, file: Box<dyn StorageFile>, index_interval: u64) -> Segment {
        Segment {
            base,
            next: base,
            file: Arc::from(file),
            index: Arc::default(),
            index_len: 0,
            max_timestamp: i64::MIN,
            bytes_since_index: 0,
            index_interval: index_interval.max(1),
            producers: ProducerTable::default(),
        }
    }

    /// The idempotent producers of the batches scanned at open, leaving none behind.
    pub(crate) fn take_producers(&mut self) -> ProducerTable {
        std::mem::take(&mut self.producers)
    }

    pub(crate) fn base(&self) -> Offset {
        self.base
    }

    /// The offset after the last batch.
    pub(crate) fn next(&self) -> Offset {
        self.next
    }

    pub(crate) fn len(&self) -> u64 {
        self.file.len()
    }

    /// The largest record timestamp in the segment (`i64::MIN` when empty).
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub(crate) fn name(&self) -> String {
        file_name(self.base)
    }

    /// Follows batches from `position` (a batch boundary already indexed, or 0), indexing
    /// each valid one, and stops at the end of the file or the first invalid batch.
    fn scan_from(&mut self, mut position: u64, verify_crc: bool) -> io::Result<ScanOutcome> {
        let len = self.file.len();
        while position < len {
            let available = usize::try_from(len - position).unwrap_or(usize::MAX);
            let mut head = vec![0u8; available.min(layout::HEADER_LEN)];
            self.file.read_at(position, &mut head)?;
            let checked = BatchHeader::parse(&head).and_then(|header| {
                if header.base_offset != self.next {
                    return Err(BatchError::InvalidHeader {
                        reason: "base offset does not follow the previous batch",
                    });
                }
                if header.size() > available {
                    return Err(BatchError::Incomplete {
                        needed: header.size(),
                        available,
                    });
                }
                Ok(header)
            });
            let header = match checked {
                Ok(header) => header,
                Err(error) => {
                    return Ok(ScanOutcome {
                        valid_len: position,
                        stopped_by: Some(error),
                    });
                }
            };
            if verify_crc {
                let mut bytes = vec![0u8; header.size()];
                self.file.read_at(position, &mut bytes)?;
                if let Err(error) = BatchView::parse(Bytes::from(bytes)) {
                    return Ok(ScanOutcome {
                        valid_len: position,
                        stopped_by: Some(error),
                    });
                }
            }
            self.note_batch(position, &header);
            self.producers.observe(&header);
            position += header.size() as u64;
        }
        Ok(ScanOutcome {
            valid_len: position,
            stopped_by: None,
        })
    }

    fn note_batch(&mut self, position: u64, header: &BatchHeader) {
        if self.index_len == 0 || self.bytes_since_index >= self.index_interval {
            self.index.write().push(IndexEntry {
                relative: header.base_offset.distance_from(self.base),
                position,
                max_timestamp_before: self.max_timestamp,
            });
            self.index_len += 1;
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += header.size() as u64;
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        self.next = header.next_offset();
    }

    /// Appends one encoded batch whose base offset is `self.next()`. On a failed write the
    /// file is cut back; if even that fails the error says so (`Err(Err(_))`).
    pub(crate) fn append(
        &mut self,
        batch: &[u8],
        header: &BatchHeader,
    ) -> Result<(), (io::Error, Option<io::Error>)> {
        let position = self.file.len();
        if let Err(error) = self.file.append(batch) {
            let truncated = self.file.truncate(position).err();
            return Err((error, truncated));
        }
        self.note_batch(position, header);
        Ok(())
    }

    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Cuts the segment to `len` bytes (a batch boundary) and re-indexes its tail.
    pub(crate) fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.truncate(len)?;
        let restart = {
            let mut index = self.index.write();
            index.retain(|entry| entry.position < len);
            let restart = index.pop();
            self.index_len = index.len();
            restart
        };
        self.next = self.base;
        self.max_timestamp = i64::MIN;
        self.bytes_since_index = 0;
        let position = match restart {
            Some(entry) => {
                self.next = self.base.plus(entry.relative);
                self.max_timestamp = entry.max_timestamp_before;
                self.bytes_since_index = self.index_interval; // re-add the entry
                entry.position
            }
            None => 0,
        };
        self.scan_from(position, false).map(|_| ())
    }

    /// The whole batch at `position` (a batch boundary), not CRC-checked, and where the
    /// next batch starts.
    pub(crate) fn read_batch_at(&self, position: u64) -> io::Result<(Bytes, u64)> {
        let mut head = [0u8; layout::HEADER_LEN];
        self.file.read_at(position, &mut head)?;
        let header = BatchHeader::parse(&head)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        let mut bytes = vec![0u8; header.size()];
        self.file.read_at(position, &mut bytes)?;
        Ok((Bytes::from(bytes), position + header.size() as u64))
    }

    /// What readers may see of this segment: everything now.
    pub(crate) fn view(&self) -> SegmentView {
        self.view_upto(self.next, self.len())
    }

    /// What readers may see of this segment: the batches before `next`, which end at byte
    /// `len` (a batch boundary the writer will not cut below, such as the durable length).
    pub(crate) fn view_upto(&self, next: Offset, len: u64) -> SegmentView {
        SegmentView {
            base: self.base,
            next,
            len,
            max_timestamp: self.max_timestamp,
            file: Arc::clone(&self.file),
            index: Arc::clone(&self.index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_twenty_digit_base_offsets() {
        assert_eq!(file_name(Offset::new(42)), "00000000000000000042.log");
        assert_eq!(
            parse_file_name("00000000000000000042.log"),
            Some(Offset::new(42))
        );
        assert_eq!(parse_file_name("42.log"), None);
        assert_eq!(parse_file_name("00000000000000000042.index"), None);
    }
}
