#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use crate::batch::Record;
use crate::log::{LogConfig, PartitionLog};
use crate::offset::Offset;
use crate::storage::SimulatedStorage;

fn record(size: usize) -> Record {
    Record {
        timestamp_ms: 0,
        key: None,
        value: Some(Bytes::from(vec![7u8; size])),
        headers: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// An answer from the recent batches in memory is exactly what the files give, for
    /// any start and budget, across segment rolls and with unsynced batches at the end.
    #[test]
    fn reads_from_memory_match_reads_from_the_files(
        appends in proptest::collection::vec((1usize..4, 1usize..400), 1..200),
        synced in 0usize..200,
        reads in proptest::collection::vec((0u64..1000, 0usize..3000), 1..30),
    ) {
        let config = LogConfig { segment_bytes: 4096, index_interval_bytes: 512, max_batch_bytes: 1 << 20 };
        let mut log = PartitionLog::open(Arc::new(SimulatedStorage::new()), config).unwrap();
        for (index, (count, size)) in appends.iter().enumerate() {
            let records: Vec<Record> = (0..*count).map(|_| record(*size)).collect();
            log.append(&records).unwrap();
            if index == synced {
                log.sync().unwrap();
            }
        }
        let mut answered_from_memory = 0;
        for view in [log.durable_view(), log.written_view()] {
            let next = view.next_offset().get();
            // Random offsets, and a few at the tail, where memory answers.
            let tail = (0..4).map(|back| (next.saturating_sub(back), 1500));
            for (from, budget) in reads.iter().copied().chain(tail) {
                let from = Offset::new(from % (next + 1));
                let from_files = view.read_files(from, budget).unwrap();
                if let Some(cached) = view.read_cached(from, budget) {
                    prop_assert_eq!(cached.unwrap(), from_files);
                    answered_from_memory += 1;
                }
            }
        }
        prop_assert!(answered_from_memory > 0);
    }
}

#[test]
fn the_durable_view_ends_at_the_last_sync_and_the_written_view_at_the_last_write() {
    let mut log =
        PartitionLog::open(Arc::new(SimulatedStorage::new()), LogConfig::default()).unwrap();
    log.append(&[record(10)]).unwrap();
    log.sync().unwrap();
    log.append(&[record(10), record(10)]).unwrap();
    assert_eq!(log.durable_view().next_offset(), Offset::new(1));
    assert_eq!(log.written_view().next_offset(), Offset::new(3));
    assert_eq!(
        log.durable_view()
            .read(Offset::ZERO, usize::MAX)
            .unwrap()
            .len(),
        1
    );
    assert!(log.durable_view().read(Offset::new(2), 100).is_err());
    assert!(log.durable_view().size_bytes() < log.written_view().size_bytes());
}

#[test]
fn a_view_with_unsynced_bytes_cut_by_a_failed_sync_answers_rolled_back() {
    let storage = SimulatedStorage::new();
    let mut log = PartitionLog::open(Arc::new(storage.clone()), LogConfig::default()).unwrap();
    log.append(&[record(10)]).unwrap();
    log.sync().unwrap();
    log.append(&[record(20)]).unwrap();
    let durable = log.durable_view();
    let written = log.written_view();
    storage.fail_syncs(true);
    assert!(
        log.sync().is_err(),
        "the failed sync cuts the unsynced batch"
    );
    assert!(matches!(
        written.read_files(Offset::ZERO, usize::MAX),
        Err(crate::ReadError::RolledBack)
    ));
    assert_eq!(
        durable.read_files(Offset::ZERO, usize::MAX).unwrap().len(),
        1,
        "a view of synced bytes is not affected"
    );
    assert_eq!(log.written_view().next_offset(), Offset::new(1));
}
