#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property test: the log against a `Vec<Record>` model, with small segments so that
//! appends roll, reads cross segments and reopening rebuilds the indexes.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use weft_log::{
    BatchView, LogConfig, Offset, PartitionLog, Record, RetentionPolicy, SimulatedStorage,
};

#[derive(Debug, Clone)]
enum Operation {
    Append(Vec<Record>),
    Read { from: u64, max_bytes: usize },
    OffsetForTime(i64),
    Reopen,
    Retain { max_records: u64 },
}

fn record_strategy() -> impl Strategy<Value = Record> {
    (
        0i64..1000,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::collection::vec(
            (
                "[a-z]{0,3}",
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4)),
            ),
            0..2,
        ),
    )
        .prop_map(|(timestamp_ms, key, value, headers)| Record {
            timestamp_ms,
            key: key.map(Bytes::from),
            value: value.map(Bytes::from),
            headers: headers
                .into_iter()
                .map(|(key, value)| (key, value.map(Bytes::from)))
                .collect(),
        })
}

fn operation_strategy() -> impl Strategy<Value = Operation> {
    prop_oneof![
        6 => proptest::collection::vec(record_strategy(), 1..5).prop_map(Operation::Append),
        3 => (0u64..200, 1usize..600).prop_map(|(from, max_bytes)| Operation::Read { from, max_bytes }),
        1 => (0i64..1100).prop_map(Operation::OffsetForTime),
        1 => Just(Operation::Reopen),
        1 => (5u64..60).prop_map(|max_records| Operation::Retain { max_records }),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 150,
        max_batch_bytes: 100_000,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn log_behaves_like_a_vector_of_records(operations in proptest::collection::vec(operation_strategy(), 1..60)) {
        let storage = SimulatedStorage::new();
        let open = || PartitionLog::open(Arc::new(storage.clone()), config()).unwrap();
        let mut log = open();
        let mut model: Vec<Record> = Vec::new();
        let mut first: u64 = 0;
        for operation in operations {
            match operation {
                Operation::Append(records) => {
                    let appended = log.append(&records).unwrap();
                    prop_assert_eq!(appended.base_offset, Offset::new(model.len() as u64));
                    model.extend(records);
                    prop_assert_eq!(appended.last_offset, Offset::new(model.len() as u64 - 1));
                }
                Operation::Read { from, max_bytes } => {
                    let result = log.read(Offset::new(from), max_bytes);
                    if from < first || from > model.len() as u64 {
                        prop_assert!(result.is_err());
                        continue;
                    }
                    let batches = result.unwrap();
                    prop_assert_eq!(batches.is_empty(), from == model.len() as u64);
                    let mut expected_offset = None;
                    for batch in batches {
                        for entry in BatchView::parse(batch).unwrap().records() {
                            let (offset, record) = entry.unwrap();
                            let offset = offset.get();
                            if let Some(expected) = expected_offset {
                                prop_assert_eq!(offset, expected, "records are contiguous");
                            } else {
                                prop_assert!(offset <= from, "the first batch contains `from`");
                            }
                            expected_offset = Some(offset + 1);
                            prop_assert_eq!(&record, &model[offset as usize]);
                        }
                    }
                    if from < model.len() as u64 {
                        prop_assert!(expected_offset.unwrap() > from);
                    }
                }
                Operation::OffsetForTime(timestamp) => {
                    // Batch-granular semantics: the first batch whose maximum reaches the
                    // timestamp, then the first record in it that does.
                    let found = log.offset_for_time(timestamp).unwrap();
                    match found {
                        None => prop_assert!(model[first as usize..].iter().all(|record| record.timestamp_ms < timestamp)),
                        Some(offset) => {
                            let offset = offset.get();
                            prop_assert!(offset >= first);
                            prop_assert!(model[offset as usize].timestamp_ms >= timestamp);
                        }
                    }
                }
                Operation::Reopen => {
                    log.sync().unwrap();
                    drop(log);
                    log = open();
                    prop_assert_eq!(log.first_offset(), Offset::new(first));
                    prop_assert_eq!(log.next_offset(), Offset::new(model.len() as u64));
                }
                Operation::Retain { max_records } => {
                    let policy = RetentionPolicy { max_records: Some(max_records), ..RetentionPolicy::default() };
                    let outcome = log.apply_retention(&policy, 0).unwrap();
                    prop_assert!(outcome.first_offset.get() >= first);
                    first = outcome.first_offset.get();
                    let kept = model.len() as u64 - first;
                    prop_assert!(kept <= max_records || log.segment_count() == 1);
                }
            }
        }
    }
}
