//! Log hot paths on a real temporary directory: append throughput by batch size with
//! `FlushPolicy::Never`-style (no sync) and `Always`-style (one `fdatasync` per batch,
//! i.e. group commit with a group of one, the worst case), read throughput, and the
//! sparse index lookup (`read` of one batch from the middle of a large log).

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failure should panic

use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use weft_log::{FsStorage, LogConfig, Offset, PartitionLog, Record};

fn records(count: usize) -> Vec<Record> {
    (0..count)
        .map(|index| Record {
            timestamp_ms: 1_700_000_000_000 + index as i64,
            key: Some(Bytes::from(format!("key-{index}"))),
            value: Some(Bytes::from(vec![b'x'; 100])),
            headers: Vec::new(),
        })
        .collect()
}

fn open(directory: &tempfile::TempDir) -> PartitionLog {
    let storage = FsStorage::new(directory.path()).unwrap();
    let config = LogConfig {
        segment_bytes: 64 * 1024 * 1024,
        ..LogConfig::default()
    };
    PartitionLog::open(Arc::new(storage), config).unwrap()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    for sync in [false, true] {
        for batch in [1usize, 10, 100] {
            let directory = tempfile::tempdir().unwrap();
            let mut log = open(&directory);
            let batch_records = records(batch);
            group.throughput(Throughput::Elements(batch as u64));
            let name = if sync { "always" } else { "never" };
            group.bench_with_input(
                BenchmarkId::new(name, batch),
                &batch_records,
                |bench, batch_records| {
                    bench.iter(|| {
                        log.append(batch_records).unwrap();
                        if sync {
                            log.sync().unwrap();
                        }
                    });
                },
            );
        }
    }
    group.finish();
}

fn filled_log(directory: &tempfile::TempDir, batches: usize) -> PartitionLog {
    let mut log = open(directory);
    let batch = records(10);
    for _ in 0..batches {
        log.append(&batch).unwrap();
    }
    log.sync().unwrap();
    log
}

fn read(c: &mut Criterion) {
    let directory = tempfile::tempdir().unwrap();
    let log = filled_log(&directory, 2_000);
    let mut group = c.benchmark_group("read");
    let bytes: usize = log
        .read(Offset::ZERO, 1024 * 1024)
        .unwrap()
        .iter()
        .map(Bytes::len)
        .sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("1MiB_from_start", |bench| {
        bench.iter(|| log.read(Offset::ZERO, 1024 * 1024).unwrap());
    });
    group.finish();
    let mut group = c.benchmark_group("index_lookup");
    let middle = Offset::new(log.next_offset().get() / 2 + 3);
    group.bench_function("one_batch_mid_log", |bench| {
        bench.iter(|| log.read(middle, 1).unwrap());
    });
    group.bench_function("offset_for_time_first_match", |bench| {
        bench.iter(|| log.offset_for_time(1_700_000_000_005).unwrap());
    });
    group.finish();
}

criterion_group!(benches, append, read);
criterion_main!(benches);
