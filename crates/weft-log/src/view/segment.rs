//! [`SegmentView`]: the part of one segment a reader may see, read through the segment's
//! shared file and index without the writer.

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::{BatchHeader, BatchView, layout};
use crate::offset::Offset;
use crate::segment::SharedIndex;
use crate::storage::StorageFile;

/// The batches of one segment before `next`, which end at byte `len`.
#[derive(Clone)]
pub(crate) struct SegmentView {
    pub(crate) base: Offset,
    pub(crate) next: Offset,
    pub(crate) len: u64,
    pub(crate) max_timestamp: i64,
    pub(crate) file: Arc<dyn StorageFile>,
    pub(crate) index: Arc<SharedIndex>,
}

impl std::fmt::Debug for SegmentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentView")
            .field("base", &self.base)
            .field("next", &self.next)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl SegmentView {
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn read_header(&self, position: u64) -> io::Result<BatchHeader> {
        let mut head = [0u8; layout::HEADER_LEN];
        self.file.read_at(position, &mut head)?;
        BatchHeader::parse(&head).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
    }

    /// The position to start a scan for `relative`: the last index entry at or before it.
    /// Every such entry lies before the batch holding `relative`, so inside this view.
    fn start_for_offset(&self, relative: u64) -> u64 {
        let index = self.index.read();
        let entry = index.partition_point(|entry| entry.relative <= relative);
        index
            .get(entry.saturating_sub(1))
            .map_or(0, |entry| entry.position)
    }

    /// Position and header of the batch containing `offset` (which must be in the view).
    fn locate(&self, offset: Offset) -> io::Result<(u64, BatchHeader)> {
        let mut position = self.start_for_offset(offset.distance_from(self.base));
        loop {
            if position >= self.len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "offset not found in its segment",
                ));
            }
            let header = self.read_header(position)?;
            if header.next_offset() > offset {
                return Ok((position, header));
            }
            position += header.size() as u64;
        }
    }

    /// Appends to `out` whole batches from the one containing `from`, while their total
    /// stays within `budget` (the first batch is always taken when `out` is empty).
    /// Batches without records (offset ranges left by compaction) are skipped, so after a
    /// compaction the first batch returned is the one holding the next record kept.
    /// Returns the bytes added and whether the read reached the end of the view.
    pub(crate) fn read(
        &self,
        from: Offset,
        budget: usize,
        out: &mut Vec<Bytes>,
    ) -> io::Result<(usize, bool)> {
        if from >= self.next {
            return Ok((0, true));
        }
        let (mut position, mut header) = self.locate(from)?;
        let mut taken: Vec<(u64, usize)> = Vec::new();
        let mut total = 0usize;
        let reached_end = loop {
            let size = header.size();
            if header.record_count > 0 {
                let first = out.is_empty() && taken.is_empty();
                if !first && total + size > budget {
                    break false;
                }
                taken.push((position, size));
                total += size;
            }
            position += size as u64;
            if position >= self.len {
                break true;
            }
            if total >= budget {
                break false;
            }
            header = self.read_header(position)?;
        };
        let (Some(&(start, _)), Some(&(last, last_size))) = (taken.first(), taken.last()) else {
            return Ok((0, reached_end));
        };
        let span = usize::try_from(last - start).unwrap_or(usize::MAX) + last_size;
        let mut buffer = vec![0u8; span];
        self.file.read_at(start, &mut buffer)?;
        let bytes = Bytes::from(buffer);
        for (position, size) in taken {
            let at = usize::try_from(position - start).unwrap_or(usize::MAX);
            out.push(bytes.slice(at..at + size));
        }
        Ok((total, reached_end))
    }

    /// The first offset whose record timestamp is at least `timestamp`, if the view has one.
    pub(crate) fn offset_for_time(&self, timestamp: i64) -> io::Result<Option<Offset>> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let mut position = {
            let index = self.index.read();
            let entry = index.partition_point(|entry| entry.max_timestamp_before < timestamp);
            // An entry past the view means no batch in the view reaches the timestamp;
            // the loop below then finds nothing.
            index
                .get(entry.saturating_sub(1))
                .map_or(0, |entry| entry.position)
        };
        while position < self.len {
            let header = self.read_header(position)?;
            if header.max_timestamp >= timestamp {
                let mut bytes = vec![0u8; header.size()];
                self.file.read_at(position, &mut bytes)?;
                let view = BatchView::parse(Bytes::from(bytes))
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                for record in view.records() {
                    match record {
                        Ok((offset, record)) if record.timestamp_ms >= timestamp => {
                            return Ok(Some(offset));
                        }
                        Ok(_) => {}
                        // Compressed: the batch's first offset is the best answer without decoding.
                        Err(_) => return Ok(Some(header.base_offset)),
                    }
                }
                // No record reaches the timestamp: an empty batch left by compaction.
            }
            position += header.size() as u64;
        }
        Ok(None)
    }
}
