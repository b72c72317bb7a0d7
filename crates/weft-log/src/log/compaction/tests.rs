use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::log::LogConfig;
use crate::storage::{SimulatedStorage, Storage};

fn keyed(timestamp_ms: i64, key: Option<&str>, value: Option<&str>) -> Record {
    Record {
        timestamp_ms,
        key: key.map(|key| Bytes::copy_from_slice(key.as_bytes())),
        value: value.map(|value| Bytes::copy_from_slice(value.as_bytes())),
        headers: Vec::new(),
    }
}

fn open(storage: &SimulatedStorage) -> PartitionLog {
    let config = LogConfig {
        segment_bytes: 200,
        index_interval_bytes: 80,
        max_batch_bytes: 10_000,
    };
    PartitionLog::open(Arc::new(storage.clone()), config).unwrap()
}

fn policy(retention_ms: u64) -> CompactionPolicy {
    CompactionPolicy {
        tombstone_retention: Duration::from_millis(retention_ms),
    }
}

/// Every stored record from `from`: (offset, key, value).
fn stored(log: &PartitionLog, from: u64) -> Vec<(u64, Option<String>, Option<String>)> {
    let text = |bytes: Option<Bytes>| bytes.map(|bytes| String::from_utf8(bytes.to_vec()).unwrap());
    let mut out = Vec::new();
    for batch in log.read(Offset::new(from), usize::MAX).unwrap() {
        for entry in BatchView::parse(batch).unwrap().records() {
            let (offset, record) = entry.unwrap();
            if offset.get() >= from {
                out.push((offset.get(), text(record.key), text(record.value)));
            }
        }
    }
    out
}

fn entry(
    offset: u64,
    key: Option<&str>,
    value: Option<&str>,
) -> (u64, Option<String>, Option<String>) {
    (offset, key.map(str::to_owned), value.map(str::to_owned))
}

#[test]
fn compaction_keeps_only_the_latest_value_of_each_key() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for round in 0..6 {
        let value = format!("v{round}");
        log.append(&[
            keyed(1, Some("a"), Some(&value)),
            keyed(1, Some("b"), Some(&value)),
        ])
        .unwrap();
    }
    // A key rewritten in the active segment removes its older values too.
    log.append(&[keyed(1, Some("a"), Some("last"))]).unwrap();
    assert!(log.segment_count() > 2);
    let report = log.compact(&policy(0), 0).unwrap();
    assert_eq!(report.records_removed, 11);
    assert!(report.bytes_after < report.bytes_before);
    assert_eq!(
        stored(&log, 0),
        vec![
            entry(11, Some("b"), Some("v5")),
            entry(12, Some("a"), Some("last"))
        ]
    );
    assert_eq!(log.first_offset(), Offset::ZERO);
    assert_eq!(log.next_offset(), Offset::new(13));
    drop(log);
    let log = open(&storage);
    assert_eq!(log.next_offset(), Offset::new(13));
    assert_eq!(stored(&log, 0).len(), 2);
}

#[test]
fn the_active_segment_is_never_rewritten() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[
        keyed(1, Some("a"), Some("old")),
        keyed(1, Some("a"), Some("new")),
    ])
    .unwrap();
    assert_eq!(log.segment_count(), 1);
    let report = log.compact(&policy(0), 0).unwrap();
    assert_eq!(report, CompactionReport::default());
    assert_eq!(stored(&log, 0).len(), 2);
}

#[test]
fn tombstones_are_kept_until_their_retention_has_passed() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    log.append(&[keyed(100, Some("gone"), Some("value"))])
        .unwrap();
    log.append(&[keyed(1_000, Some("gone"), None)]).unwrap();
    for index in 0..4 {
        log.append(&[keyed(
            2_000,
            Some(&format!("other{index}")),
            Some("padding-padding-padding"),
        )])
        .unwrap();
    }
    assert!(log.segment_count() > 2, "the tombstone must be sealed");
    let early = log.compact(&policy(500), 1_400).unwrap();
    assert_eq!((early.records_removed, early.tombstones_removed), (1, 0));
    assert_eq!(stored(&log, 0)[0], entry(1, Some("gone"), None));
    let late = log.compact(&policy(500), 1_500).unwrap();
    assert_eq!(late.tombstones_removed, 1);
    assert!(
        stored(&log, 0)
            .iter()
            .all(|(_, key, _)| key.as_deref() != Some("gone"))
    );
}

#[test]
fn records_without_a_key_are_kept() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..8 {
        let value = format!("value-{index}");
        log.append(&[
            keyed(1, None, Some(&value)),
            keyed(1, Some("k"), Some(&value)),
        ])
        .unwrap();
    }
    log.compact(&policy(0), 0).unwrap();
    let kept = stored(&log, 0);
    let keyless = kept.iter().filter(|(_, key, _)| key.is_none()).count();
    assert_eq!(keyless, 8);
    let keyed: Vec<_> = kept.iter().filter(|(_, key, _)| key.is_some()).collect();
    assert!(keyed.len() < 8, "older values of the key are removed");
    assert_eq!(keyed.last().unwrap().2.as_deref(), Some("value-7"));
}

#[test]
fn reads_from_a_removed_offset_start_at_the_next_kept_record() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..10 {
        log.append(&[keyed(
            index,
            Some("k"),
            Some(&format!("v{index}-long-enough")),
        )])
        .unwrap();
    }
    log.append(&[keyed(50, Some("x"), Some("keep"))]).unwrap();
    log.compact(&policy(0), 0).unwrap();
    // Offsets 0..=8 are gone; 9 holds the latest "k" in the active or last sealed segment.
    for from in 0..=9 {
        let records = stored(&log, from);
        assert_eq!(
            records[0],
            entry(9, Some("k"), Some("v9-long-enough")),
            "from {from}"
        );
        let batches = log.read(Offset::new(from), 1).unwrap();
        assert_eq!(batches.len(), 1, "a one-byte read still returns one batch");
        let first = BatchView::parse(batches[0].clone()).unwrap();
        assert!(
            first.records().count() > 0,
            "batches without records are skipped"
        );
    }
    assert_eq!(log.offset_for_time(0).unwrap(), Some(Offset::new(9)));
    assert_eq!(log.offset_for_time(10).unwrap(), Some(Offset::new(10)));
    assert_eq!(log.offset_for_time(51).unwrap(), None);
}

#[test]
fn a_leftover_cleaned_file_is_removed_on_open() {
    let storage = SimulatedStorage::new();
    let mut log = open(&storage);
    for index in 0..6 {
        log.append(&[keyed(1, Some("k"), Some(&format!("value-{index}-padding")))])
            .unwrap();
    }
    drop(log);
    let half = storage.create(&cleaned_file_name(Offset::ZERO)).unwrap();
    half.append(b"torn compacted bytes").unwrap();
    let log = open(&storage);
    assert!(
        !storage
            .list()
            .unwrap()
            .iter()
            .any(|name| name.ends_with(".cleaned"))
    );
    assert_eq!(stored(&log, 0).len(), 6);
}
