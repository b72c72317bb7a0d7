use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::batch::BatchView;
use crate::storage::SimulatedStorage;

fn record(timestamp_ms: i64, value: &str) -> Record {
    Record {
        timestamp_ms,
        key: None,
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: Vec::new(),
    }
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 100,
        max_batch_bytes: 10_000,
    }
}

fn open(storage: &SimulatedStorage) -> PartitionLog {
    PartitionLog::open(Arc::new(storage.clone()), small_config()).unwrap()
}

fn values_from(log: &PartitionLog, from: u64) -> Vec<(u64, String)> {
    let batches = log.read(Offset::new(from), usize::MAX).unwrap();
    let mut out = Vec::new();
    for batch in batches {
        for entry in BatchView::parse(batch).unwrap().records() {
            let (offset, record) = entry.unwrap();
            if offset.get() >= from {
                out.push((
                    offset.get(),
                    String::from_utf8(record.value.unwrap().to_vec()).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn appends_get_consecutive_offsets_across_segment_rolls() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..20u64 {
        let appended = log
            .append(&[
                record(index as i64, &format!("v{index}")),
                record(0, "second"),
            ])
            .unwrap();
        assert_eq!(appended.base_offset, Offset::new(index * 2));
        assert_eq!(appended.last_offset, Offset::new(index * 2 + 1));
    }
    assert!(log.segment_count() > 3, "small segments must roll");
    assert_eq!(log.next_offset(), Offset::new(40));
    let names = storage.list().unwrap();
    assert!(names.contains(&"00000000000000000000.log".to_owned()));
    let values = values_from(&log, 0);
    assert_eq!(values.len(), 40);
    assert_eq!(values[10], (10, "v5".to_owned()));
}

#[test]
fn read_from_the_middle_of_a_batch_returns_the_whole_batch() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[record(1, "a"), record(2, "b"), record(3, "c")])
        .unwrap();
    let batches = log.read(Offset::new(1), 1).unwrap();
    assert_eq!(
        batches.len(),
        1,
        "at least one batch even over the byte budget"
    );
    assert_eq!(
        BatchView::parse(batches[0].clone()).unwrap().base_offset(),
        Offset::ZERO
    );
    assert!(log.read(Offset::new(3), 100).unwrap().is_empty());
    assert!(matches!(
        log.read(Offset::new(4), 100),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn read_respects_the_byte_budget_after_the_first_batch() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for _ in 0..5 {
        log.append(&[record(1, "0123456789")]).unwrap();
    }
    let one = log.read(Offset::ZERO, 1).unwrap();
    let budget = one[0].len() * 2 + 1;
    assert_eq!(log.read(Offset::ZERO, budget).unwrap().len(), 2);
}

#[test]
fn reopening_keeps_every_synced_record_and_the_next_offset() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..30 {
        log.append(&[record(index, &format!("v{index}"))]).unwrap();
    }
    log.sync().unwrap();
    let before = values_from(&log, 0);
    drop(log);
    let mut log = open(&storage);
    assert_eq!(values_from(&log, 0), before);
    assert_eq!(
        log.append(&[record(0, "next")]).unwrap().base_offset,
        Offset::new(30)
    );
}

#[test]
fn raw_batch_is_stored_as_received_with_new_offsets() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[record(1, "first")]).unwrap();
    let received =
        crate::encode_batch(Offset::new(999), &[record(5, "x"), record(6, "y")]).unwrap();
    let appended = log.append_raw_batch(received.clone()).unwrap();
    assert_eq!(appended.base_offset, Offset::new(1));
    let stored = log.read(Offset::new(1), usize::MAX).unwrap();
    assert_eq!(
        &stored[0][8..],
        &received[8..],
        "only the base offset changes"
    );
    assert_eq!(
        values_from(&log, 1),
        [(1, "x".to_owned()), (2, "y".to_owned())]
    );
}

#[test]
fn corrupt_raw_batch_is_rejected_and_nothing_is_stored() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    let mut bytes = crate::encode_batch(Offset::ZERO, &[record(5, "x")])
        .unwrap()
        .to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let error = log.append_raw_batch(Bytes::from(bytes)).unwrap_err();
    assert!(
        matches!(
            error,
            AppendError::InvalidBatch(crate::BatchError::CrcMismatch { .. })
        ),
        "{error}"
    );
    assert_eq!(log.next_offset(), Offset::ZERO);
}

#[test]
fn offset_for_time_finds_the_first_record_at_or_after_the_timestamp() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..40 {
        log.append(&[
            record(1000 + index * 10, "a"),
            record(1005 + index * 10, "b"),
        ])
        .unwrap();
    }
    assert_eq!(log.offset_for_time(0).unwrap(), Some(Offset::ZERO));
    assert_eq!(log.offset_for_time(1005).unwrap(), Some(Offset::new(1)));
    assert_eq!(log.offset_for_time(1006).unwrap(), Some(Offset::new(2)));
    assert_eq!(log.offset_for_time(1200).unwrap(), Some(Offset::new(40)));
    assert_eq!(log.offset_for_time(1395).unwrap(), Some(Offset::new(79)));
    assert_eq!(log.offset_for_time(1396).unwrap(), None);
}

#[test]
fn recovery_truncates_a_torn_tail_and_reports_nothing_else_lost() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[record(1, "kept")]).unwrap();
    log.sync().unwrap();
    log.append(&[record(2, "torn")]).unwrap();
    drop(log);
    storage.power_loss(crate::TornWrite::KeepPrefix(20));
    let log = open(&storage);
    assert_eq!(values_from(&log, 0), [(0, "kept".to_owned())]);
    assert_eq!(log.next_offset(), Offset::new(1));
}

#[test]
fn recovery_cuts_at_a_batch_with_a_bad_crc() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    let first = log.append(&[record(1, "good")]).unwrap();
    log.append(&[record(2, "rotten")]).unwrap();
    log.append(&[record(3, "after")]).unwrap();
    log.sync().unwrap();
    let first_len = log.read(first.base_offset, 1).unwrap()[0].len();
    drop(log);
    storage.corrupt("00000000000000000000.log", first_len + 65, 0x40);
    let log = open(&storage);
    assert_eq!(values_from(&log, 0), [(0, "good".to_owned())]);
}

#[test]
fn recovery_of_a_zero_filled_tail_keeps_the_valid_prefix() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[record(1, "kept")]).unwrap();
    log.sync().unwrap();
    log.append(&[record(2, "lost")]).unwrap();
    drop(log);
    storage.power_loss(crate::TornWrite::ZeroFilled(4096));
    let mut log = open(&storage);
    assert_eq!(log.next_offset(), Offset::new(1));
    assert_eq!(
        log.append(&[record(3, "new")]).unwrap().base_offset,
        Offset::new(1)
    );
}

#[test]
fn retention_by_bytes_deletes_oldest_sealed_segments_only() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..30 {
        log.append(&[record(index, "0123456789012345678901234567890123456789")])
            .unwrap();
    }
    let segments = log.segment_count();
    let policy = RetentionPolicy {
        max_bytes: Some(0),
        ..RetentionPolicy::default()
    };
    let outcome = log.apply_retention(&policy, 0).unwrap();
    assert_eq!(
        outcome.segments_removed,
        segments - 1,
        "the active segment stays"
    );
    assert_eq!(log.segment_count(), 1);
    assert_eq!(outcome.first_offset, log.first_offset());
    assert!(matches!(
        log.read(Offset::ZERO, 10),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    let values = values_from(&log, log.first_offset().get());
    assert_eq!(values.last().map(|(offset, _)| *offset), Some(29));
}

#[test]
fn retention_by_age_uses_the_newest_record_of_each_segment() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..30 {
        log.append(&[record(
            index * 1000,
            "0123456789012345678901234567890123456789",
        )])
        .unwrap();
    }
    let policy = RetentionPolicy {
        max_age: Some(Duration::from_secs(10)),
        ..RetentionPolicy::default()
    };
    log.apply_retention(&policy, 29_000).unwrap();
    let first = log.first_offset().get() as i64;
    assert!(first > 0 && first <= 19, "first offset {first}");
    // Every record at or after the cut-off (19 000 ms) is still there.
    assert!(log.offset_for_time(19_000).unwrap().is_some());
    assert_eq!(
        log.read(log.first_offset(), 1)
            .map(|batches| batches.len())
            .unwrap(),
        1
    );
}

#[test]
fn retention_by_record_count_deletes_oldest_segments_until_within_the_limit() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..30 {
        log.append(&[record(index, "0123456789012345678901234567890123456789")])
            .unwrap();
    }
    let policy = RetentionPolicy {
        max_records: Some(10),
        ..RetentionPolicy::default()
    };
    log.apply_retention(&policy, 0).unwrap();
    let kept = log.next_offset().distance_from(log.first_offset());
    assert!(kept > 0 && kept <= 10, "kept {kept}");
    let reopened = open(&storage);
    assert_eq!(reopened.first_offset(), log.first_offset());
    assert_eq!(reopened.next_offset(), Offset::new(30));
}

#[test]
fn reads_across_segments_return_contiguous_batches_for_any_budget() {
    let storage = SimulatedStorage::new();
    let config = LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 150,
        max_batch_bytes: 100_000,
    };
    let mut log = PartitionLog::open(Arc::new(storage.clone()), config).unwrap();
    for index in 0..12usize {
        let value = "x".repeat(index * 7 % 40);
        let batch: Vec<Record> = (0..(index % 4 + 1))
            .map(|_| record(index as i64, &value))
            .collect();
        log.append(&batch).unwrap();
    }
    for budget in [1, 100, 200, 537, 1000, usize::MAX] {
        for from in 0..log.next_offset().get() {
            let mut expected = None;
            for batch in log.read(Offset::new(from), budget).unwrap() {
                let view = BatchView::parse(batch).unwrap();
                if let Some(expected) = expected {
                    assert_eq!(view.base_offset(), expected, "budget {budget} from {from}");
                }
                expected = Some(view.last_offset().plus(1));
            }
        }
    }
}

fn producer_batch(epoch: i16, base_sequence: i32, values: &[&str]) -> Bytes {
    let mut builder = crate::BatchBuilder::new(Offset::new(0))
        .with_compression(crate::Compression::Lz4)
        .with_producer(crate::Producer {
            id: 1000,
            epoch,
            base_sequence,
        });
    for value in values {
        builder.push(&record(5, value)).unwrap();
    }
    builder.finish().unwrap()
}

#[test]
fn an_idempotent_retry_is_stored_once_even_after_reopening() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[record(1, "weft's own")]).unwrap();
    let first = log
        .append_raw_batch(producer_batch(0, 0, &["a", "b"]))
        .unwrap();
    assert_eq!((first.base_offset.get(), first.duplicate), (1, false));
    let retry = log
        .append_raw_batch(producer_batch(0, 0, &["a", "b"]))
        .unwrap();
    assert_eq!(
        (
            retry.base_offset.get(),
            retry.last_offset.get(),
            retry.duplicate
        ),
        (1, 2, true)
    );
    log.sync().unwrap();
    drop(log);

    let mut log = open(&storage);
    let retry = log
        .append_raw_batch(producer_batch(0, 0, &["a", "b"]))
        .unwrap();
    assert!(retry.duplicate, "the producer table is rebuilt on open");
    let gap = log
        .append_raw_batch(producer_batch(0, 5, &["c"]))
        .unwrap_err();
    assert!(matches!(
        gap,
        AppendError::OutOfOrderSequence {
            expected: 2,
            received: 5,
            ..
        }
    ));
    let next = log.append_raw_batch(producer_batch(0, 2, &["c"])).unwrap();
    assert_eq!((next.base_offset.get(), next.duplicate), (3, false));
    assert_eq!(
        values_from(&log, 0),
        [
            (0, "weft's own".to_owned()),
            (1, "a".to_owned()),
            (2, "b".to_owned()),
            (3, "c".to_owned())
        ]
    );
}

#[test]
fn a_fenced_epoch_is_refused() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append_raw_batch(producer_batch(4, 0, &["a"])).unwrap();
    assert!(matches!(
        log.append_raw_batch(producer_batch(3, 1, &["b"])),
        Err(AppendError::InvalidProducerEpoch { current: 4, .. })
    ));
}

#[test]
fn a_rolled_back_batch_is_not_a_duplicate_afterwards() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append_raw_batch(producer_batch(0, 0, &["a"])).unwrap();
    log.sync().unwrap();
    log.append_raw_batch(producer_batch(0, 1, &["b"])).unwrap();
    storage.fail_syncs(true);
    assert!(log.sync().is_err());
    storage.fail_syncs(false);
    let again = log.append_raw_batch(producer_batch(0, 1, &["b"])).unwrap();
    assert!(
        !again.duplicate,
        "the retry is stored, not answered from a lost batch"
    );
    assert_eq!(again.base_offset.get(), 1);
}
