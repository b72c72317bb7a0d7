#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Compaction against a model: random appends (keyed, keyless, tombstones), compactions
//! and reopens keep every key's latest value and every keyless record; and a power loss at
//! every step of a compaction reopens to a log with the same latest values.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use weft_log::{
    BatchView, CompactionPolicy, LogConfig, Offset, PartitionLog, Record, SimulatedStorage,
    Storage, TornWrite,
};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 100,
        max_batch_bytes: 100_000,
    }
}

fn open(storage: &SimulatedStorage) -> PartitionLog {
    PartitionLog::open(Arc::new(storage.clone()), config()).unwrap()
}

/// Every stored record with its offset, checking that offsets increase.
fn stored(log: &PartitionLog) -> Vec<(u64, Record)> {
    let mut out: Vec<(u64, Record)> = Vec::new();
    for batch in log.read(log.first_offset(), usize::MAX).unwrap() {
        for entry in BatchView::parse(batch).unwrap().records() {
            let (offset, record) = entry.unwrap();
            assert!(out.last().is_none_or(|(last, _)| *last < offset.get()));
            out.push((offset.get(), record));
        }
    }
    out
}

/// What compaction must preserve: the latest (offset, value) per key, unless it is a
/// tombstone (which may go), and every keyless record.
type Latest = BTreeMap<Bytes, (u64, Option<Bytes>)>;

fn summary(records: &[(u64, Record)]) -> (Latest, Vec<(u64, Record)>) {
    let mut latest = Latest::new();
    let mut keyless = Vec::new();
    for (offset, record) in records {
        match &record.key {
            Some(key) => {
                latest.insert(key.clone(), (*offset, record.value.clone()));
            }
            None => keyless.push((*offset, record.clone())),
        }
    }
    latest.retain(|_, (_, value)| value.is_some());
    (latest, keyless)
}

fn record(timestamp_ms: i64, key: Option<u8>, value: Option<u8>) -> Record {
    Record {
        timestamp_ms,
        key: key.map(|key| Bytes::from(vec![b'k', key])),
        value: value.map(|value| Bytes::from(vec![value; 12])),
        headers: Vec::new(),
    }
}

#[derive(Debug, Clone)]
enum Operation {
    Append(Vec<(Option<u8>, Option<u8>)>),
    Compact { retention_ms: u64 },
    Reopen,
}

fn operation_strategy() -> impl Strategy<Value = Operation> {
    let entry = (
        proptest::option::weighted(0.8, 0u8..6),
        proptest::option::weighted(0.8, any::<u8>()),
    );
    prop_oneof![
        6 => proptest::collection::vec(entry, 1..4).prop_map(Operation::Append),
        2 => (0u64..3).prop_map(|retention_ms| Operation::Compact { retention_ms: retention_ms * 50 }),
        1 => Just(Operation::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn compaction_keeps_latest_values_and_keyless_records(operations in proptest::collection::vec(operation_strategy(), 1..50)) {
        let storage = SimulatedStorage::new();
        let mut log = open(&storage);
        let mut model: Vec<(u64, Record)> = Vec::new();
        let mut clock = 0i64;
        for operation in operations {
            match operation {
                Operation::Append(entries) => {
                    clock += 10;
                    let records: Vec<Record> = entries.iter().map(|&(key, value)| record(clock, key, value)).collect();
                    let appended = log.append(&records).unwrap();
                    for (index, record) in records.into_iter().enumerate() {
                        model.push((appended.base_offset.get() + index as u64, record));
                    }
                }
                Operation::Compact { retention_ms } => {
                    log.compact(&CompactionPolicy { tombstone_retention: Duration::from_millis(retention_ms) }, clock).unwrap();
                }
                Operation::Reopen => {
                    drop(log);
                    log = open(&storage);
                }
            }
            let actual = stored(&log);
            prop_assert_eq!(summary(&actual), summary(&model));
            // Nothing is invented: every stored record is one the model appended.
            for (offset, record) in &actual {
                prop_assert!(model.iter().any(|(at, appended)| at == offset && appended == record));
            }
            prop_assert_eq!(log.next_offset(), Offset::new(model.len() as u64));
        }
    }
}

#[test]
fn power_loss_at_every_step_of_a_compaction_keeps_the_latest_values() {
    let build = |storage: &SimulatedStorage| {
        let mut log = open(storage);
        for round in 0..12u8 {
            log.append(&[
                record(10, Some(round % 3), Some(round)),
                record(10, None, Some(round)),
            ])
            .unwrap();
        }
        log.append(&[record(10, Some(0), None)]).unwrap();
        log.sync().unwrap();
        log
    };
    let reference = build(&SimulatedStorage::new());
    let expected = summary(&stored(&reference));
    let policy = CompactionPolicy {
        tombstone_retention: Duration::from_millis(5),
    };
    for torn in [TornWrite::DropUnsynced, TornWrite::KeepPrefix(40)] {
        let mut crash_point = 0;
        loop {
            let storage = SimulatedStorage::new();
            let mut log = build(&storage);
            storage.crash_after(Some(crash_point));
            let finished = log.compact(&policy, 100).is_ok();
            drop(log);
            storage.power_loss(torn);
            let reopened = open(&storage);
            let context = format!("crash after {crash_point} operations, {torn:?}");
            assert_eq!(summary(&stored(&reopened)), expected, "{context}");
            assert_eq!(reopened.next_offset(), reference.next_offset(), "{context}");
            let names = storage.list().unwrap();
            assert!(
                !names.iter().any(|name| name.ends_with(".cleaned")),
                "{context}"
            );
            if finished {
                assert!(
                    crash_point > 3,
                    "the compaction must have rewritten something"
                );
                break;
            }
            crash_point += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_compacts_on_the_writer_thread() {
    let storage = SimulatedStorage::new();
    let handle =
        weft_log::LogHandle::spawn(open(&storage), weft_log::HandleConfig::default()).unwrap();
    for round in 0..10u8 {
        handle
            .append(vec![record(10, Some(1), Some(round))])
            .await
            .unwrap();
    }
    let policy = CompactionPolicy {
        tombstone_retention: Duration::from_millis(5),
    };
    let report = handle.compact(policy, 100).await.unwrap();
    assert!(report.records_removed > 0);
    let log = handle.close().await.unwrap();
    let (latest, _) = summary(&stored(&log));
    assert_eq!(
        latest.values().next().unwrap().1.as_deref(),
        Some(&[9u8; 12][..])
    );
}
