//! Idempotent producers: per-producer sequence checks on raw batches.
//!
//! A Kafka producer with `enable.idempotence` numbers its batches per partition
//! (`producerId`, `producerEpoch`, `baseSequence` in the batch header). The log keeps, per
//! producer, its epoch and the sequence ranges and offsets of its last
//! [`CACHED_BATCHES`] batches, as Apache Kafka does, so that:
//!
//! - a retried batch (same epoch, same first and last sequence as a cached one) is not
//!   stored again: the append answers with the offsets it got the first time;
//! - a gap or reordering (`baseSequence` not the last sequence + 1) is rejected with
//!   [`AppendError::OutOfOrderSequence`];
//! - an older epoch is fenced ([`AppendError::InvalidProducerEpoch`]); a newer epoch
//!   must start at sequence 0.
//!
//! The table is rebuilt from the batch headers when the log is opened (the headers are
//! read anyway to rebuild the indexes) and cut back when unsynced batches are discarded.
//! Batches without a producer id (`-1`, everything weft writes itself) are not tracked.

use std::collections::{HashMap, VecDeque};

use crate::batch::BatchHeader;
use crate::error::AppendError;
use crate::offset::Offset;

/// Batches remembered per producer (Kafka's `max.in.flight.requests.per.connection`
/// limit for idempotence is 5).
pub const CACHED_BATCHES: usize = 5;

/// What a sequence check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// Store the batch.
    Append,
    /// The batch was stored before, at these offsets.
    Duplicate { base: Offset, last: Offset },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CachedBatch {
    first_sequence: i32,
    last_sequence: i32,
    base: Offset,
    last: Offset,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<CachedBatch>,
}

/// Every tracked producer of one log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProducerTable {
    producers: HashMap<i64, ProducerEntry>,
}

/// The sequence number after `sequence` (sequences wrap from `i32::MAX` to 0).
fn next_sequence(sequence: i32) -> i32 {
    if sequence == i32::MAX {
        0
    } else {
        sequence + 1
    }
}

/// The last sequence of a batch (its records are numbered from `baseSequence`).
fn last_sequence(header: &BatchHeader) -> i32 {
    let last = i64::from(header.base_sequence) + i64::from(header.last_offset_delta);
    // Wraps past i32::MAX to 0 as Kafka does.
    (last % (i64::from(i32::MAX) + 1)) as i32
}

impl ProducerTable {
    /// Checks a batch about to be appended.
    pub(crate) fn check(&self, header: &BatchHeader) -> Result<SequenceCheck, AppendError> {
        if header.producer_id < 0 {
            return Ok(SequenceCheck::Append);
        }
        let producer_id = header.producer_id;
        let received = header.base_sequence;
        let out_of_order = |expected| AppendError::OutOfOrderSequence {
            producer_id,
            expected,
            received,
        };
        let Some(entry) = self.producers.get(&producer_id) else {
            // A producer we know nothing of starts at sequence 0.
            return if received == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(out_of_order(0))
            };
        };
        if header.producer_epoch < entry.epoch {
            return Err(AppendError::InvalidProducerEpoch {
                producer_id,
                epoch: header.producer_epoch,
                current: entry.epoch,
            });
        }
        if header.producer_epoch > entry.epoch {
            return if received == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(out_of_order(0))
            };
        }
        let last = last_sequence(header);
        if let Some(cached) = entry
            .batches
            .iter()
            .find(|cached| cached.first_sequence == received && cached.last_sequence == last)
        {
            return Ok(SequenceCheck::Duplicate {
                base: cached.base,
                last: cached.last,
            });
        }
        let expected = entry
            .batches
            .back()
            .map_or(0, |cached| next_sequence(cached.last_sequence));
        if received == expected {
            Ok(SequenceCheck::Append)
        } else {
            Err(out_of_order(expected))
        }
    }

    /// Records a batch stored with `header` (its final offsets).
    pub(crate) fn observe(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == CACHED_BATCHES {
            entry.batches.pop_front();
        }
        entry.batches.push_back(CachedBatch {
            first_sequence: header.base_sequence,
            last_sequence: last_sequence(header),
            base: header.base_offset,
            last: header.last_offset(),
        });
    }

    /// Adds what `later` (the table of the batches after this table's) knows.
    pub(crate) fn merge_later(&mut self, later: ProducerTable) {
        for (producer_id, later_entry) in later.producers {
            let entry = self.producers.entry(producer_id).or_default();
            if later_entry.epoch != entry.epoch {
                *entry = later_entry;
                continue;
            }
            entry.batches.extend(later_entry.batches);
            while entry.batches.len() > CACHED_BATCHES {
                entry.batches.pop_front();
            }
        }
    }

    /// Forgets the batches at or after `next` (they were discarded).
    pub(crate) fn truncate(&mut self, next: Offset) {
        self.producers.retain(|_, entry| {
            entry.batches.retain(|cached| cached.base < next);
            !entry.batches.is_empty()
        });
    }

    /// How many producers are tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn header(
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        base: u64,
        count: i32,
    ) -> BatchHeader {
        BatchHeader {
            base_offset: Offset::new(base),
            batch_length: 100,
            leader_epoch: -1,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id,
            producer_epoch: epoch,
            base_sequence,
            record_count: count,
        }
    }

    #[test]
    fn consecutive_batches_append_and_a_retry_is_a_duplicate() {
        let mut table = ProducerTable::default();
        let first = header(7, 0, 0, 0, 3);
        assert_eq!(table.check(&first).unwrap(), SequenceCheck::Append);
        table.observe(&first);
        let second = header(7, 0, 3, 3, 2);
        assert_eq!(table.check(&second).unwrap(), SequenceCheck::Append);
        table.observe(&second);
        // The first batch again, as a retry would send it (its offset field is whatever).
        assert_eq!(
            table.check(&header(7, 0, 0, 99, 3)).unwrap(),
            SequenceCheck::Duplicate {
                base: Offset::new(0),
                last: Offset::new(2)
            }
        );
    }

    #[test]
    fn a_gap_is_out_of_order() {
        let mut table = ProducerTable::default();
        table.observe(&header(7, 0, 0, 0, 3));
        let error = table.check(&header(7, 0, 5, 3, 1)).unwrap_err();
        assert!(matches!(
            error,
            AppendError::OutOfOrderSequence {
                expected: 3,
                received: 5,
                ..
            }
        ));
    }

    #[test]
    fn an_unknown_producer_must_start_at_zero() {
        let table = ProducerTable::default();
        assert!(table.check(&header(9, 0, 4, 0, 1)).is_err());
        assert_eq!(
            table.check(&header(9, 0, 0, 0, 1)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn an_older_epoch_is_fenced_and_a_newer_one_restarts_at_zero() {
        let mut table = ProducerTable::default();
        table.observe(&header(7, 2, 0, 0, 1));
        assert!(matches!(
            table.check(&header(7, 1, 1, 1, 1)).unwrap_err(),
            AppendError::InvalidProducerEpoch { current: 2, .. }
        ));
        assert!(table.check(&header(7, 3, 1, 1, 1)).is_err());
        assert_eq!(
            table.check(&header(7, 3, 0, 1, 1)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn only_the_last_five_batches_are_cached() {
        let mut table = ProducerTable::default();
        for batch in 0..7 {
            table.observe(&header(7, 0, batch, u64::try_from(batch).unwrap(), 1));
        }
        assert!(table.check(&header(7, 0, 0, 0, 1)).is_err());
        assert!(matches!(
            table.check(&header(7, 0, 2, 0, 1)).unwrap(),
            SequenceCheck::Duplicate { .. }
        ));
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut table = ProducerTable::default();
        table.observe(&header(7, 0, i32::MAX - 1, 0, 2));
        assert_eq!(
            table.check(&header(7, 0, 0, 2, 1)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn truncation_forgets_discarded_batches() {
        let mut table = ProducerTable::default();
        table.observe(&header(7, 0, 0, 0, 2));
        table.observe(&header(7, 0, 2, 2, 2));
        table.truncate(Offset::new(2));
        assert_eq!(
            table.check(&header(7, 0, 2, 2, 2)).unwrap(),
            SequenceCheck::Append
        );
        table.truncate(Offset::new(0));
        assert_eq!(table.len(), 0);
    }
}
