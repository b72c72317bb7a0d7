#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Crash and fault tests through `SimulatedStorage` and the writer thread: what was
//! acknowledged survives power loss; failures are errors, never acknowledgements.

use std::sync::Arc;

use bytes::Bytes;
use weft_log::{
    AppendError, BatchView, FlushPolicy, HandleConfig, LogConfig, LogHandle, Offset, PartitionLog,
    Record, SimulatedStorage, TornWrite,
};

fn record(value: u64) -> Record {
    Record {
        timestamp_ms: value as i64,
        key: None,
        value: Some(Bytes::from(value.to_be_bytes().to_vec())),
        headers: Vec::new(),
    }
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        max_batch_bytes: 64 * 1024,
    }
}

fn spawn(storage: &SimulatedStorage, flush: FlushPolicy) -> LogHandle {
    let log = PartitionLog::open(Arc::new(storage.clone()), config()).unwrap();
    LogHandle::spawn(
        log,
        HandleConfig {
            flush,
            queue_depth: 64,
        },
    )
    .unwrap()
}

/// Every (offset, value) stored, in order.
fn contents(storage: &SimulatedStorage) -> Vec<(u64, u64)> {
    let log = PartitionLog::open(Arc::new(storage.clone()), config()).unwrap();
    let mut out = Vec::new();
    if log.first_offset() == log.next_offset() {
        return out;
    }
    for batch in log.read(log.first_offset(), usize::MAX).unwrap() {
        for entry in BatchView::parse(batch).unwrap().records() {
            let (offset, record) = entry.unwrap();
            let value = u64::from_be_bytes(record.value.unwrap().as_ref().try_into().unwrap());
            out.push((offset.get(), value));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_append_survives_power_loss_with_torn_tails() {
    for torn in [
        TornWrite::DropUnsynced,
        TornWrite::KeepPrefix(37),
        TornWrite::ZeroFilled(100),
    ] {
        let storage = SimulatedStorage::new();
        let handle = spawn(&storage, FlushPolicy::Always);
        let mut tasks = Vec::new();
        for appender in 0..8u64 {
            let handle = handle.clone();
            tasks.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for index in 0..25u64 {
                    let value = appender * 1000 + index;
                    let appended = handle.append(vec![record(value)]).await.unwrap();
                    acknowledged.push((appended.base_offset.get(), value));
                }
                acknowledged
            }));
        }
        let mut acknowledged = Vec::new();
        for task in tasks {
            acknowledged.extend(task.await.unwrap());
        }
        acknowledged.sort_unstable();
        // Writes that were never acknowledged: appended but not synced when power fails.
        let mut log = handle.close().await.unwrap();
        log.append(&[record(999_998), record(999_999)]).unwrap();
        storage.power_loss(torn);
        drop(log);
        let recovered = contents(&storage);
        assert_eq!(
            recovered, acknowledged,
            "exactly the acknowledged prefix after {torn:?}"
        );
        let offsets: Vec<u64> = recovered.iter().map(|(offset, _)| *offset).collect();
        assert_eq!(offsets, (0..200).collect::<Vec<_>>(), "offsets are dense");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_loss_during_concurrent_appends_keeps_exactly_the_acknowledged_records() {
    for crash_after in [1u64, 17, 60] {
        let storage = SimulatedStorage::new();
        let handle = spawn(&storage, FlushPolicy::Always);
        let (crashed_tx, crashed_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for appender in 0..4u64 {
            let handle = handle.clone();
            let crashed = crashed_rx.clone();
            tasks.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for index in 0.. {
                    if *crashed.borrow() && index > 200 {
                        break;
                    }
                    let value = appender * 100_000 + index;
                    match handle.append(vec![record(value)]).await {
                        Ok(appended) => acknowledged.push((appended.base_offset.get(), value)),
                        Err(_) if *crashed.borrow() => break,
                        Err(error) => panic!("append failed before the crash: {error}"),
                    }
                }
                acknowledged
            }));
        }
        loop {
            let (_, next) = handle.offsets().await.unwrap();
            if next.get() >= crash_after {
                break;
            }
            tokio::task::yield_now().await;
        }
        crashed_tx.send(true).unwrap();
        storage.power_loss(TornWrite::KeepPrefix(50));
        let mut acknowledged = Vec::new();
        for task in tasks {
            acknowledged.extend(task.await.unwrap());
        }
        drop(handle);
        acknowledged.sort_unstable();
        assert_eq!(
            contents(&storage),
            acknowledged,
            "crash after {crash_after}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_share_syncs() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Always);
    let syncs_before = storage.sync_count();
    let appends = (0..200u64).map(|value| {
        let handle = handle.clone();
        tokio::spawn(async move { handle.append(vec![record(value)]).await })
    });
    let appends: Vec<_> = appends.collect();
    for append in appends {
        append.await.unwrap().unwrap();
    }
    let syncs = storage.sync_count() - syncs_before;
    assert!(syncs < 200, "200 concurrent appends took {syncs} syncs");
}

#[tokio::test]
async fn disk_full_is_an_error_and_the_log_stays_usable() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Always);
    handle.append(vec![record(1)]).await.unwrap();
    storage.set_space_left(Some(10));
    let error = handle.append(vec![record(2)]).await.unwrap_err();
    assert!(
        matches!(
            error,
            AppendError::Io {
                operation: "write",
                ..
            }
        ),
        "{error}"
    );
    storage.set_space_left(None);
    let appended = handle.append(vec![record(3)]).await.unwrap();
    assert_eq!(
        appended.base_offset,
        Offset::new(1),
        "the failed append took no offset"
    );
    drop(handle);
    storage.power_loss(TornWrite::KeepPrefix(1000));
    assert_eq!(contents(&storage), [(0, 1), (1, 3)]);
}

#[tokio::test]
async fn failed_sync_is_reported_and_the_unsynced_append_is_discarded() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Always);
    handle.append(vec![record(1)]).await.unwrap();
    storage.fail_syncs(true);
    let error = handle.append(vec![record(2)]).await.unwrap_err();
    assert!(
        matches!(
            error,
            AppendError::Io {
                operation: "sync",
                ..
            }
        ),
        "{error}"
    );
    storage.fail_syncs(false);
    assert_eq!(
        handle.append(vec![record(3)]).await.unwrap().base_offset,
        Offset::new(1)
    );
    let log = handle.close().await.unwrap();
    assert_eq!(log.durable_offset(), Offset::new(2));
    drop(log);
    assert_eq!(contents(&storage), [(0, 1), (1, 3)]);
}

#[tokio::test]
async fn write_errors_fail_the_append_without_poisoning_the_log() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Always);
    storage.fail_appends(true);
    assert!(handle.append(vec![record(1)]).await.is_err());
    storage.fail_appends(false);
    assert_eq!(
        handle.append(vec![record(2)]).await.unwrap().base_offset,
        Offset::ZERO
    );
}

#[tokio::test]
async fn never_policy_acknowledges_without_syncing_and_loses_the_tail_on_power_loss() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Never);
    let syncs_before = storage.sync_count();
    handle.append(vec![record(1)]).await.unwrap();
    assert_eq!(
        storage.sync_count(),
        syncs_before,
        "never means no sync per append"
    );
    storage.power_loss(TornWrite::DropUnsynced);
    drop(handle);
    assert_eq!(contents(&storage), []);
}

#[tokio::test]
async fn handle_reads_and_offsets_see_acknowledged_appends() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Always);
    for value in 0..50 {
        handle
            .append(vec![record(value), record(value + 100)])
            .await
            .unwrap();
    }
    assert_eq!(
        handle.offsets().await,
        Some((Offset::ZERO, Offset::new(100)))
    );
    let batches = handle.read(Offset::new(51), 1).await.unwrap();
    assert_eq!(
        BatchView::parse(batches[0].clone()).unwrap().base_offset(),
        Offset::new(50)
    );
    // Offset 0 holds timestamps 0 and 100: the first record at or after 25 is offset 1.
    assert_eq!(
        handle.offset_for_time(25).await.unwrap(),
        Some(Offset::new(1))
    );
    assert_eq!(
        handle.offset_for_time(149).await.unwrap(),
        Some(Offset::new(99))
    );
}

#[tokio::test]
async fn size_bytes_grows_with_appends_and_matches_the_reopened_log() {
    let storage = SimulatedStorage::new();
    let handle = spawn(&storage, FlushPolicy::Always);
    assert_eq!(handle.size_bytes().await, Some(0));
    handle.append(vec![record(1)]).await.unwrap();
    let one = handle.size_bytes().await.unwrap();
    assert!(one > 8, "one batch holds more than its value: {one}");
    handle.append(vec![record(2), record(3)]).await.unwrap();
    let three = handle.size_bytes().await.unwrap();
    assert!(three > one);
    handle.close().await.unwrap();
    let reopened = PartitionLog::open(Arc::new(storage.clone()), config()).unwrap();
    assert_eq!(reopened.size_bytes(), three);
}
