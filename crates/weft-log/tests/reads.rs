#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Readers beside the writer: reads through the published view while appends, failing
//! syncs, retention and compaction happen never see unsynced, rolled-back or torn data,
//! and a view taken earlier keeps reading the bytes it saw.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use weft_log::{
    AppendError, BatchView, CompactionPolicy, FlushPolicy, FsStorage, HandleConfig, LogConfig,
    LogHandle, LogView, Offset, PartitionLog, Record, RetentionPolicy, SimulatedStorage, Storage,
};

fn record(value: u64) -> Record {
    Record {
        timestamp_ms: 1_000,
        key: Some(Bytes::from(format!("key-{}", value % 7))),
        value: Some(Bytes::from(value.to_be_bytes().to_vec())),
        headers: Vec::new(),
    }
}

fn value_of(record: &Record) -> u64 {
    u64::from_be_bytes(record.value.as_ref().unwrap().as_ref().try_into().unwrap())
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 256,
        max_batch_bytes: 64 * 1024,
    }
}

fn spawn(storage: Arc<dyn Storage>, flush: FlushPolicy) -> LogHandle {
    let log = PartitionLog::open(storage, config()).unwrap();
    LogHandle::spawn(
        log,
        HandleConfig {
            flush,
            queue_depth: 256,
        },
    )
    .unwrap()
}

/// Every (offset, value) of `batches`, checking CRCs and that offsets are dense.
fn records_of(batches: Vec<Bytes>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for batch in batches {
        let view = BatchView::parse(batch).expect("a read never returns a torn batch");
        for entry in view.records() {
            let (offset, record) = entry.unwrap();
            if let Some(&(previous, _)) = out.last() {
                assert_eq!(offset.get(), previous + 1, "offsets are dense");
            }
            out.push((offset.get(), value_of(&record)));
        }
    }
    out
}

fn read_all(view: &LogView) -> Vec<Bytes> {
    if view.first_offset() == view.next_offset() {
        return Vec::new();
    }
    view.read(view.first_offset(), usize::MAX).unwrap()
}

/// Appenders queue single records (coalesced by the writer) and whole batches while
/// syncs fail now and then; a reader thread reads the whole log through the view in a
/// loop. Under `Always` every record a reader ever saw is the one finally stored at its
/// offset: nothing unsynced or rolled back was visible, and nothing was torn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_beside_appends_and_failing_syncs_sees_only_synced_records() {
    let storage = SimulatedStorage::new();
    let handle = spawn(Arc::new(storage.clone()), FlushPolicy::Always);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let failed = Arc::new(AtomicU64::new(0));

    let reader = {
        let (handle, stop) = (handle.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let view = handle.view().unwrap();
                let records = records_of(read_all(&view));
                if let Some(&(last, _)) = records.last() {
                    assert_eq!(
                        last + 1,
                        view.next_offset().get(),
                        "a read ends at the view's end"
                    );
                }
                for (offset, value) in records {
                    let earlier = seen.insert(offset, value);
                    assert!(
                        earlier.is_none_or(|earlier| earlier == value),
                        "offset {offset} changed under a reader"
                    );
                }
                reads += 1;
            }
            (seen, reads)
        })
    };
    let flaky = {
        let (storage, stop) = (storage.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut round = 0u32;
            while !stop.load(Ordering::SeqCst) {
                storage.fail_syncs(round % 5 == 4);
                round += 1;
                std::thread::sleep(Duration::from_micros(300));
            }
            storage.fail_syncs(false);
        })
    };

    let next_value = Arc::new(AtomicU64::new(0));
    let mut appenders = Vec::new();
    for appender in 0..4 {
        let (handle, next_value) = (handle.clone(), Arc::clone(&next_value));
        let (acknowledged, failed) = (Arc::clone(&acknowledged), Arc::clone(&failed));
        appenders.push(tokio::spawn(async move {
            for round in 0..150u64 {
                let value = next_value.fetch_add(1, Ordering::SeqCst);
                let (reply, answer) = tokio::sync::oneshot::channel();
                if appender == 0 && round % 10 == 0 {
                    let batch = weft_log::encode_batch(Offset::ZERO, &[record(value)]).unwrap();
                    let result = handle.append_raw_batch(batch).await;
                    let _ = reply.send(result);
                } else {
                    let done = Box::new(move |result: Result<_, AppendError>| {
                        let _ = reply.send(result);
                    });
                    handle.queue_record(record(value), done).await.unwrap();
                }
                match answer.await.unwrap() {
                    Ok(appended) => {
                        let previous = acknowledged
                            .lock()
                            .unwrap()
                            .insert(appended.base_offset.get(), value);
                        assert!(previous.is_none(), "two acknowledgements for one offset");
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for appender in appenders {
        appender.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    flaky.join().unwrap();
    let (seen, reads) = reader.join().unwrap();

    let acknowledged = acknowledged.lock().unwrap().clone();
    let stored: BTreeMap<u64, u64> = records_of(read_all(&handle.view().unwrap()))
        .into_iter()
        .collect();
    assert_eq!(
        stored, acknowledged,
        "the log holds exactly the acknowledged records"
    );
    assert!(reads > 10, "the reader ran alongside ({reads} reads)");
    assert!(
        failed.load(Ordering::SeqCst) > 0,
        "some syncs failed, so some appends were rolled back"
    );
    for (offset, value) in &seen {
        assert_eq!(
            stored.get(offset),
            Some(value),
            "a reader saw offset {offset} with a value that was never durable there"
        );
    }
}

/// Under `Always` a record is visible to readers only once synced: with syncs failing,
/// nothing new appears in the view, and the appenders get errors.
#[tokio::test]
async fn the_view_stops_at_the_durable_end() {
    let storage = SimulatedStorage::new();
    let handle = spawn(Arc::new(storage.clone()), FlushPolicy::Always);
    handle.append(vec![record(1)]).await.unwrap();
    let before = handle.view().unwrap();
    storage.fail_syncs(true);
    assert!(handle.append(vec![record(2)]).await.is_err());
    let after = handle.view().unwrap();
    assert_eq!(after.next_offset(), before.next_offset());
    assert_eq!(records_of(read_all(&after)), vec![(0, 1)]);
    storage.fail_syncs(false);
    handle.append(vec![record(3)]).await.unwrap();
    assert_eq!(
        records_of(read_all(&handle.view().unwrap())),
        vec![(0, 1), (1, 3)]
    );
}

type Answer = tokio::sync::oneshot::Receiver<Result<weft_log::Appended, AppendError>>;

/// Queues `record(value)`; the receiver gets the answer.
async fn queue(handle: &LogHandle, value: u64) -> Answer {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let done = Box::new(move |result| {
        let _ = reply.send(result);
    });
    handle.queue_record(record(value), done).await.unwrap();
    answer
}

/// Records queued one by one in the same group become one batch, in queue order, each
/// with its own offset, and one sync covers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_records_are_coalesced_into_one_batch_with_their_own_offsets() {
    let storage = SimulatedStorage::new();
    let handle = spawn(Arc::new(storage.clone()), FlushPolicy::Always);
    // The writer waits in the sync of the first record while the others queue up.
    storage.hold_syncs(true);
    let mut answers = vec![queue(&handle, 0).await];
    assert!(storage.wait_for_held_syncs(1, Duration::from_secs(10)));
    for value in 1..50 {
        answers.push(queue(&handle, value).await);
    }
    let syncs_before = storage.sync_count();
    storage.hold_syncs(false);
    let mut offsets = Vec::new();
    for answer in answers {
        let appended = answer.await.unwrap().unwrap();
        assert_eq!(appended.base_offset, appended.last_offset);
        offsets.push(appended.base_offset.get());
    }
    assert_eq!(offsets, (0..50).collect::<Vec<_>>());
    assert_eq!(storage.sync_count() - syncs_before, 2, "one sync per group");
    let batches = read_all(&handle.view().unwrap());
    assert_eq!(batches.len(), 2, "the 49 queued records are one batch");
    let values: Vec<u64> = records_of(batches).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, (0..50).collect::<Vec<_>>());
}

/// A view taken before retention and compaction keeps reading the same bytes from the
/// removed and replaced segment files (open files outlive their names), while a new view
/// shows the new log.
async fn old_view_survives_retention_and_compaction(storage: Arc<dyn Storage>) {
    let handle = spawn(storage, FlushPolicy::Always);
    for value in 0..400 {
        handle.append(vec![record(value)]).await.unwrap();
    }
    let old = handle.view().unwrap();
    let old_bytes = read_all(&old);
    let old_records = records_of(old_bytes.clone());
    assert_eq!(old_records.len(), 400);

    let report = handle
        .compact(CompactionPolicy::default(), 0)
        .await
        .unwrap();
    assert!(
        report.segments_rewritten > 0,
        "compaction replaced segments"
    );
    let outcome = handle
        .apply_retention(
            RetentionPolicy {
                max_records: Some(100),
                ..RetentionPolicy::default()
            },
            0,
        )
        .await
        .unwrap();
    assert!(outcome.segments_removed > 0, "retention removed segments");

    assert_eq!(
        read_all(&old),
        old_bytes,
        "the old view reads what it read before"
    );
    assert_eq!(
        old.offset_for_time(1_000).unwrap(),
        Some(Offset::ZERO),
        "and finds times in removed segments"
    );
    let new = handle.view().unwrap();
    assert_eq!(new.first_offset(), outcome.first_offset);
    assert!(
        new.read(Offset::ZERO, 100).is_err(),
        "removed offsets are gone"
    );
    let new_records = records_of(read_all(&new));
    assert!(new_records.len() < 400 - usize::try_from(outcome.first_offset.get()).unwrap() + 1);
    assert_eq!(new_records.last(), old_records.last());
}

#[tokio::test]
async fn an_old_view_reads_removed_and_compacted_segments_on_the_simulated_disk() {
    old_view_survives_retention_and_compaction(Arc::new(SimulatedStorage::new())).await;
}

#[tokio::test]
async fn an_old_view_reads_removed_and_compacted_segments_on_the_file_system() {
    let directory = tempfile::tempdir().unwrap();
    old_view_survives_retention_and_compaction(Arc::new(FsStorage::new(directory.path()).unwrap()))
        .await;
}

/// Reads do not go through the writer: while it waits in a sync, reads, offsets and
/// time lookups answer, and show only what was synced before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_while_the_writer_waits_in_a_sync() {
    let storage = SimulatedStorage::new();
    let handle = spawn(Arc::new(storage.clone()), FlushPolicy::Always);
    handle.append(vec![record(1)]).await.unwrap();
    storage.hold_syncs(true);
    let pending = {
        let handle = handle.clone();
        tokio::spawn(async move { handle.append(vec![record(2)]).await })
    };
    assert!(storage.wait_for_held_syncs(1, Duration::from_secs(10)));
    let read = tokio::time::timeout(Duration::from_secs(5), handle.read(Offset::ZERO, 1 << 20))
        .await
        .expect("a read does not wait for the writer")
        .unwrap();
    assert_eq!(
        records_of(read),
        vec![(0, 1)],
        "the unsynced record is not visible"
    );
    assert_eq!(handle.offsets().await, Some((Offset::ZERO, Offset::new(1))));
    assert_eq!(
        handle.offset_for_time(1_000).await.unwrap(),
        Some(Offset::ZERO)
    );
    storage.hold_syncs(false);
    assert_eq!(pending.await.unwrap().unwrap().base_offset, Offset::new(1));
    assert_eq!(
        records_of(read_all(&handle.view().unwrap())),
        vec![(0, 1), (1, 2)],
        "visible once synced, before the append is answered"
    );
    let closed = handle.clone().close().await;
    assert!(closed.is_some());
    assert!(handle.view().is_none(), "no view once the writer stopped");
    assert!(handle.read(Offset::ZERO, 10).await.is_err());
}
