//! The storage seam: what a stream partition needs from the storage that keeps it, and
//! the one implementation there is today, the local segmented log (`weft-log`).
//!
//! Everything above this file — capture, direct appends, Kafka batches, fetches, reads,
//! durable consumers, retention — talks to a partition's [`PartitionStore`] and, for
//! reads, to the [`PartitionReader`] it hands out. Another backend (a stream kept in an
//! existing replicated cluster is planned next) implements these two traits and a
//! [`StoreFactory`], and is chosen in [`super::StreamsOptions::store`]; no front end, and
//! nothing else in the broker, changes. The records themselves are Kafka record batches
//! v2 (`weft_log::Record`, `Bytes` batches): the one wire layout the broker knows by
//! design, so every backend stores what Kafka fetches serve.
//!
//! Contract of a store (the local log's, which the broker's tests hold it to):
//! * appends queued by one caller are stored in the order they were queued, and each
//!   `done` is called exactly once, after the append is durable under the partition's
//!   [`FlushPolicy`] (or with the error that stopped it), on a thread that must not be
//!   blocked for long;
//! * a reader never shows an append before its `done` was called with success, and a
//!   reader taken later never shows less than one taken earlier (except what retention
//!   and compaction removed);
//! * after `close`, queued appends were answered and later ones fail.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use weft_log::{
    AppendCallback, CompactionPolicy, Disk, FsDisk, HandleConfig, LogConfig, LogHandle, LogView,
    Offset, PartitionLog, ReadError, Record, RetentionPolicy, Storage,
};

use super::error::StorageError;
use super::settings::FlushPolicy;

/// A boxed future of a store (trait objects cannot have `async fn`s).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Called once with the outcome of an append (see the module docs for when).
pub type AppendDone = AppendCallback;

/// The store was closed: nothing more can be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the partition's store is closed")]
pub struct StoreClosed;

/// One partition's durable storage.
pub trait PartitionStore: Send + Sync + fmt::Debug + 'static {
    /// Queues one record (waiting only for queue room: the backpressure). Records queued
    /// together may be stored as one batch.
    fn queue_record(
        &self,
        record: Record,
        done: AppendDone,
    ) -> StoreFuture<'_, Result<(), StoreClosed>>;

    /// Queues a record batch as a Kafka producer sent it: validated, checked against
    /// the producer's sequence when it is idempotent, stored as sent apart from its
    /// offsets.
    fn queue_batch(
        &self,
        batch: Bytes,
        done: AppendDone,
    ) -> StoreFuture<'_, Result<(), StoreClosed>>;

    /// What is stored now, to read from; `None` once the store is closed.
    fn reader(&self) -> Option<Arc<dyn PartitionReader>>;

    /// Deletes what `policy` no longer keeps (whole segments, or the backend's unit).
    fn apply_retention(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
    ) -> StoreFuture<'_, Result<(), StorageError>>;

    /// Keeps only the latest record per key (tombstones for `tombstone_retention`).
    fn compact(
        &self,
        tombstone_retention: Duration,
        now_ms: i64,
    ) -> StoreFuture<'_, Result<(), StorageError>>;

    /// Stores what was queued, then closes (synced). Later appends fail.
    fn close(&self) -> StoreFuture<'_, ()>;
}

/// A consistent view of what a partition stores. Cheap to take; reads never wait for
/// appends.
pub trait PartitionReader: Send + Sync + 'static {
    /// The first offset still stored.
    fn first_offset(&self) -> u64;
    /// The offset after the last stored (and acknowledged) record: the high watermark.
    fn next_offset(&self) -> u64;
    /// Bytes stored (for `discard: new` limits and stream descriptions).
    fn size_bytes(&self) -> u64;
    /// [`Self::read`] when it needs no blocking I/O (recent batches in memory, or an
    /// answer without data); `None` when it does.
    fn read_cached(&self, from: u64, max_bytes: usize) -> Option<Result<Vec<Bytes>, ReadError>>;
    /// Whole stored batches from the one holding `from`, up to about `max_bytes` (at
    /// least one when one is stored). May block on I/O: run it in a blocking task.
    fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<Bytes>, ReadError>;
    /// The first offset whose record timestamp is at least `timestamp_ms`. May block.
    fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<u64>, ReadError>;
}

/// Opens the store of one partition.
pub trait StoreFactory: Send + Sync + 'static {
    /// Opens (creating if needed) partition `partition` whose files, if the backend has
    /// any, live in `dir`; appends become durable under `flush`.
    fn open(
        &self,
        dir: &Path,
        partition: u32,
        flush: FlushPolicy,
    ) -> Result<Arc<dyn PartitionStore>, StorageError>;
}

/// Opens a partition directory's file I/O, creating the directory if needed (the file
/// system, or `SimulatedStorage` in crash tests).
pub type StorageFactory = Arc<dyn Fn(&Path) -> io::Result<Arc<dyn Storage>> + Send + Sync>;

/// The local segmented log: one `weft_log::PartitionLog` per partition directory, run
/// by its writer thread (group commit), read through its published view.
#[derive(Clone)]
pub struct LocalLog {
    /// Segment sizes of every partition log.
    pub log: LogConfig,
    /// The file I/O of each partition directory.
    pub storage: StorageFactory,
}

impl Default for LocalLog {
    /// On the file system ([`FsDisk`]).
    fn default() -> Self {
        LocalLog::on(FsDisk::shared())
    }
}

impl LocalLog {
    /// The local log with every partition directory on `disk` (the node's disk: the file
    /// system, or a `SimulatedDisk` mount in crash tests).
    #[must_use]
    pub fn on(disk: Arc<dyn Disk>) -> Self {
        LocalLog {
            log: LogConfig::default(),
            storage: Arc::new(move |path: &Path| disk.create_directory(path)),
        }
    }
}

impl fmt::Debug for LocalLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLog")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl StoreFactory for LocalLog {
    fn open(
        &self,
        dir: &Path,
        partition: u32,
        flush: FlushPolicy,
    ) -> Result<Arc<dyn PartitionStore>, StorageError> {
        let storage = (self.storage)(dir).map_err(StorageError::io("open", dir))?;
        let log = PartitionLog::open(storage, self.log)
            .map_err(|source| StorageError::Open { partition, source })?;
        let config = HandleConfig {
            flush: flush.for_log(),
            ..HandleConfig::default()
        };
        let handle =
            LogHandle::spawn(log, config).map_err(StorageError::io("start a writer for", dir))?;
        Ok(Arc::new(LocalPartition { handle, partition }))
    }
}

/// One partition of the local log.
#[derive(Debug)]
struct LocalPartition {
    handle: LogHandle,
    partition: u32,
}

impl PartitionStore for LocalPartition {
    fn queue_record(
        &self,
        record: Record,
        done: AppendDone,
    ) -> StoreFuture<'_, Result<(), StoreClosed>> {
        Box::pin(async move {
            self.handle
                .queue_record(record, done)
                .await
                .map_err(|_| StoreClosed)
        })
    }

    fn queue_batch(
        &self,
        batch: Bytes,
        done: AppendDone,
    ) -> StoreFuture<'_, Result<(), StoreClosed>> {
        Box::pin(async move {
            self.handle
                .queue_raw_batch_with(batch, done)
                .await
                .map_err(|_| StoreClosed)
        })
    }

    fn reader(&self) -> Option<Arc<dyn PartitionReader>> {
        self.handle
            .view()
            .map(|view| Arc::new(LocalReader(view)) as Arc<dyn PartitionReader>)
    }

    fn apply_retention(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
    ) -> StoreFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.handle
                .apply_retention(policy, now_ms)
                .await
                .map(|_| ())
                .map_err(|source| StorageError::Retention {
                    partition: self.partition,
                    source,
                })
        })
    }

    fn compact(
        &self,
        tombstone_retention: Duration,
        now_ms: i64,
    ) -> StoreFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.handle
                .compact(
                    CompactionPolicy {
                        tombstone_retention,
                    },
                    now_ms,
                )
                .await
                .map(|_| ())
                .map_err(|source| StorageError::Compaction {
                    partition: self.partition,
                    source,
                })
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.handle.clone().close().await;
        })
    }
}

/// A published view of the local log.
struct LocalReader(LogView);

impl PartitionReader for LocalReader {
    fn first_offset(&self) -> u64 {
        self.0.first_offset().get()
    }

    fn next_offset(&self) -> u64 {
        self.0.next_offset().get()
    }

    fn size_bytes(&self) -> u64 {
        self.0.size_bytes()
    }

    fn read_cached(&self, from: u64, max_bytes: usize) -> Option<Result<Vec<Bytes>, ReadError>> {
        self.0.read_cached(Offset::new(from), max_bytes)
    }

    fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<Bytes>, ReadError> {
        self.0.read(Offset::new(from), max_bytes)
    }

    fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<u64>, ReadError> {
        self.0
            .offset_for_time(timestamp_ms)
            .map(|offset| offset.map(Offset::get))
    }
}

/// What a partition's store holds when it opens, as a partition's usage counts it.
pub(crate) fn stored_usage(store: &dyn PartitionStore) -> super::partition::Usage {
    match store.reader() {
        Some(reader) => super::partition::Usage::stored(
            reader.next_offset().saturating_sub(reader.first_offset()),
            reader.size_bytes(),
        ),
        None => super::partition::Usage::default(),
    }
}

#[cfg(test)]
mod tests;
