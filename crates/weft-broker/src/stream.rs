//! Streams: named, durable, partitioned logs that capture published events by topic.
//!
//! [`Streams`] is a cheap, cloneable handle to every stream of a node. Each stream
//! captures the events whose topic matches one of its filters (through the same
//! [`SubscriptionIndex`] as live subscriptions), stores them as Kafka records in the
//! CloudEvents binary mode (see [`record`]) in one [`weft_log::PartitionLog`] per
//! partition, chooses the partition with Kafka's default partitioner (see
//! [`partition_for_key`]) and drops duplicates (`source` + `id`) seen within its dedupe
//! window. The broker calls into the capture path on every publish; this module owns
//! the administration (create, update, delete, list, describe), reads and maintenance
//! (retention, compaction). Layout on disk and record format: `docs/streams.md`.

mod batches;
mod capture;
mod config;
mod dedupe;
mod error;
mod name;
mod partition;
mod partitioner;
pub(crate) mod record;
mod settings;
mod storage;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use weft_core::{Clock, Event, Filter, SystemClock};
use weft_topic::SubscriptionIndex;

use crate::broker::WeakBroker;
use crate::consumer::ConsumerSet;
use crate::state::{Disk, FsDisk, StateDir};

pub(crate) use batches::SubmittedBatches;
pub use batches::{BatchesAppended, FetchedBatches};
pub(crate) use capture::Capture;
pub use config::StreamConfig;
pub use error::{StorageError, StreamError, StreamLimit, WriteRefusal};
pub use name::{MAX_STREAM_NAME_LEN, StreamName};
pub(crate) use partition::Partition;
pub use partitioner::PARTITION_KEY_EXTENSION;
pub(crate) use partitioner::partition_for_key;
pub(crate) use partitioner::partition_key;
pub use settings::{
    DEFAULT_DEDUPE_WINDOW, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_EVENT_BYTES, Discard, FlushPolicy,
    MAX_EVENT_BYTES_LIMIT, MAX_PARTITIONS, SettingsError, StreamRetention, StreamSettings,
    StreamSettingsForm,
};
pub use storage::{
    AppendDone, LocalLog, PartitionReader, PartitionStore, StorageFactory, StoreClosed,
    StoreFactory, StoreFuture,
};

use dedupe::DedupeWindow;

/// How long compaction keeps tombstones (events with a key and no data).
pub(crate) const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The first event still stored.
    Earliest,
    /// The end: only events stored after the read started (so a read returns nothing).
    Latest,
    /// This offset; clamped to the stored range (an offset removed by retention reads
    /// from the first one kept).
    Offset(u64),
    /// The first event received at or after this time.
    Time(SystemTime),
}

/// A stored event with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its partition.
    pub partition: u32,
    /// Its offset in that partition.
    pub offset: u64,
    /// The event (extension values as strings; see [`record`]).
    pub event: Event,
}

/// What a stream is and holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Its configuration.
    pub config: StreamConfig,
    /// Its partitions, in order.
    pub partitions: Vec<PartitionInfo>,
}

impl StreamInfo {
    /// Events stored now, over every partition (retention may have removed the first).
    #[must_use]
    pub fn stored_events(&self) -> u64 {
        self.partitions
            .iter()
            .map(|partition| partition.next_offset.saturating_sub(partition.first_offset))
            .sum()
    }

    /// Bytes stored now, over every partition.
    #[must_use]
    pub fn stored_bytes(&self) -> u64 {
        self.partitions
            .iter()
            .map(|partition| partition.bytes)
            .sum()
    }
}

/// The stored range of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition number.
    pub partition: u32,
    /// The first offset still stored.
    pub first_offset: u64,
    /// The offset the next event gets (`next_offset - first_offset` events are stored,
    /// fewer after compaction).
    pub next_offset: u64,
    /// The bytes of its segment files on disk.
    pub bytes: u64,
}

/// Knobs of [`Streams::open_with`]; [`Streams::open`] uses the defaults.
#[derive(Clone)]
pub struct StreamsOptions {
    /// Time for dedupe windows and maintenance.
    pub clock: Arc<dyn Clock>,
    /// Where partitions are stored: the storage seam ([`LocalLog`], the local segmented
    /// log on the file system, by default; crash tests give it `SimulatedStorage`).
    pub store: Arc<dyn StoreFactory>,
    /// The node's disk: where `stream.json` files and consumers' cursors are kept, and
    /// the disk the broker hands the other components their state directories on
    /// ([`crate::Broker::state_dir`]). The file system by default; see
    /// [`StreamsOptions::on_disk`].
    pub disk: Arc<dyn Disk>,
    /// This node's name: the origin and `source` of stored records that carry none
    /// (records produced by Kafka clients).
    pub node: Arc<str>,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            clock: Arc::new(SystemClock),
            store: Arc::new(LocalLog::default()),
            disk: FsDisk::shared(),
            node: Arc::from("weft"),
        }
    }
}

impl StreamsOptions {
    /// The defaults with everything the node stores on `disk`: the partition logs
    /// ([`LocalLog::on`]) and every state file (a `SimulatedDisk` mount in crash tests).
    #[must_use]
    pub fn on_disk(disk: Arc<dyn Disk>) -> Self {
        StreamsOptions {
            store: Arc::new(LocalLog::on(Arc::clone(&disk))),
            disk,
            ..StreamsOptions::default()
        }
    }
}

impl std::fmt::Debug for StreamsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsOptions")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// Every stream of a node. Cheap to clone: clones share the streams.
#[derive(Clone)]
pub(crate) struct Streams {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// `<data_dir>/streams` on the node's disk.
    dir: StateDir,
    options: StreamsOptions,
    registry: RwLock<Registry>,
    /// Serialises create, update, delete and close (and consumer create and delete).
    admin: tokio::sync::Mutex<()>,
    /// The broker that publishes through these streams, for dead letters to topics.
    broker: RwLock<Option<WeakBroker>>,
    /// Bumped whenever a stream is created, updated or deleted (the mesh follows it to
    /// advertise streams' filters as durable interest).
    changes: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Registry {
    streams: BTreeMap<StreamName, Arc<Stream>>,
    index: SubscriptionIndex<Entry>,
}

/// One stream at run time. Replaced (not mutated) by an update; partitions, dedupe
/// window, round-robin counter, consumers and append signal carry over.
pub(crate) struct Stream {
    pub(crate) config: StreamConfig,
    pub(crate) partitions: Vec<Arc<Partition>>,
    dedupe: Arc<Mutex<DedupeWindow>>,
    pub(crate) round_robin: Arc<AtomicU32>,
    /// Its durable consumers.
    pub(crate) consumers: Arc<ConsumerSet>,
    /// Woken after every stored append to any partition (consumers long-poll on it).
    pub(crate) appended: Arc<Notify>,
}

/// An index entry, compared by identity.
#[derive(Clone)]
struct Entry(Arc<Stream>);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Streams {
    /// Opens every stream stored in `dir` (`<data_dir>/streams`), creating `dir` if needed.
    #[cfg(test)]
    pub(crate) async fn open(dir: PathBuf) -> Result<Streams, StreamError> {
        Self::open_with(dir, StreamsOptions::default()).await
    }

    /// [`Streams::open`] with explicit options.
    pub(crate) async fn open_with(
        dir: PathBuf,
        options: StreamsOptions,
    ) -> Result<Streams, StreamError> {
        let dir = StateDir::new(Arc::clone(&options.disk), dir);
        let load_dir = dir.clone();
        let configs = blocking(dir.path().display().to_string(), move || {
            store::load_all(&load_dir)
        })
        .await?;
        let streams = Streams {
            inner: Arc::new(Inner {
                dir,
                options,
                registry: RwLock::new(Registry::default()),
                changes: tokio::sync::watch::Sender::new(0),
                admin: tokio::sync::Mutex::new(()),
                broker: RwLock::new(None),
            }),
        };
        for config in configs {
            let name = config.name.clone();
            let appended = Arc::new(Notify::new());
            let partitions = streams.open_partitions(&config, 0, &appended).await?;
            let consumers = ConsumerSet::load(streams.stream_dir(&name)).await?;
            for partition in &partitions {
                partition.track_usage(config.discard == Discard::New).await;
            }
            let stream = Stream {
                config,
                partitions,
                dedupe: Arc::default(),
                round_robin: Arc::default(),
                consumers: Arc::new(consumers),
                appended,
            };
            stream
                .rebuild_dedupe(streams.inner.options.clock.now())
                .await?;
            streams.inner.write().insert(Arc::new(stream));
            tracing::debug!(stream = %name, "stream opened");
        }
        Ok(streams)
    }

    /// Creates a stream. Creating a stream that exists with an identical configuration
    /// succeeds and changes nothing; with another configuration it is
    /// [`StreamError::AlreadyExists`].
    pub(crate) async fn create(&self, config: StreamConfig) -> Result<StreamInfo, StreamError> {
        config.validate()?;
        let _admin = self.inner.admin.lock().await;
        let existing = self.inner.read().streams.get(&config.name).cloned();
        if let Some(existing) = existing {
            if existing.config == config {
                return existing.info().await;
            }
            return Err(StreamError::AlreadyExists {
                name: config.name.to_string(),
            });
        }
        let appended = Arc::new(Notify::new());
        let partitions = self.open_partitions(&config, 0, &appended).await?;
        for partition in &partitions {
            partition.track_usage(config.discard == Discard::New).await;
        }
        self.persist_config(&config).await?;
        let stream = Arc::new(Stream {
            config,
            partitions,
            dedupe: Arc::default(),
            round_robin: Arc::default(),
            consumers: Arc::default(),
            appended,
        });
        self.inner.write().insert(Arc::clone(&stream));
        self.inner.changed();
        tracing::info!(stream = %stream.config.name, "stream created");
        stream.info().await
    }

    /// Writes `config` as the stream's `stream.json` (atomically, off the runtime).
    async fn persist_config(&self, config: &StreamConfig) -> Result<(), StreamError> {
        let stream_dir = self.stream_dir(&config.name);
        let stored = config.clone();
        blocking(config.name.to_string(), move || {
            store::write_config(&stream_dir, &stored)
                .map_err(|source| StreamError::storage(stored.name.to_string(), source))
        })
        .await
    }

    /// Changes a stream: filters, retention, limits, the discard policy and the dedupe
    /// window may change; partitions may only be added; `flush` and `compact` are fixed
    /// at creation.
    pub(crate) async fn update(&self, config: StreamConfig) -> Result<StreamInfo, StreamError> {
        config.validate()?;
        let _admin = self.inner.admin.lock().await;
        let old = self.get(&config.name)?;
        config.check_update_of(&old.config)?;
        let mut partitions = old.partitions.clone();
        partitions.extend(
            self.open_partitions(&config, old.config.partitions, &old.appended)
                .await?,
        );
        self.persist_config(&config).await?;
        for partition in &partitions {
            partition.track_usage(config.discard == Discard::New).await;
        }
        let stream = Arc::new(Stream {
            config,
            partitions,
            dedupe: Arc::clone(&old.dedupe),
            round_robin: Arc::clone(&old.round_robin),
            consumers: Arc::clone(&old.consumers),
            appended: Arc::clone(&old.appended),
        });
        {
            let mut registry = self.inner.write();
            registry.remove(&old);
            registry.insert(Arc::clone(&stream));
        }
        self.inner.changed();
        tracing::info!(stream = %stream.config.name, "stream updated");
        stream.info().await
    }

    /// Deletes a stream, its consumers and its files. Publishes still in flight to it
    /// fail; pulls waiting on its consumers end.
    pub(crate) async fn delete(&self, name: &StreamName) -> Result<(), StreamError> {
        let _admin = self.inner.admin.lock().await;
        let stream = self.get(name)?;
        self.inner.write().remove(&stream);
        self.inner.changed();
        stream.consumers.clear();
        stream.appended.notify_waiters();
        for partition in &stream.partitions {
            partition.stop().await;
        }
        let stream_dir = self.stream_dir(name);
        let stream_name = name.to_string();
        blocking(stream_name.clone(), move || {
            store::remove_stream(&stream_dir)
                .map_err(|source| StreamError::storage(stream_name, source))
        })
        .await?;
        tracing::info!(stream = %name, "stream deleted");
        Ok(())
    }

    /// Every stream's filters, by stream name (what the node wants durably).
    pub(crate) fn filters(&self) -> Vec<(StreamName, Vec<Filter>)> {
        self.inner
            .read()
            .streams
            .values()
            .map(|stream| (stream.config.name.clone(), stream.config.filters.clone()))
            .collect()
    }

    /// A version number that changes whenever a stream is created, updated or deleted.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Every stream, by name.
    pub(crate) async fn list(&self) -> Vec<StreamInfo> {
        let streams: Vec<Arc<Stream>> = self.inner.read().streams.values().cloned().collect();
        let mut infos = Vec::with_capacity(streams.len());
        for stream in streams {
            match stream.info().await {
                Ok(info) => infos.push(info),
                Err(error) => {
                    tracing::warn!(%error, stream = %stream.config.name, "cannot describe stream");
                }
            }
        }
        infos
    }

    /// One stream.
    pub(crate) async fn describe(&self, name: &StreamName) -> Result<StreamInfo, StreamError> {
        self.get(name)?.info().await
    }

    /// Up to `max_events` stored events of one partition, or of every partition when
    /// `partition` is `None`: then partitions are read in order, each from `from`, until
    /// `max_events` are collected (so the result is ordered per partition, partition 0
    /// first, and is not interleaved by time).
    pub(crate) async fn read(
        &self,
        name: &StreamName,
        partition: Option<u32>,
        from: ReadFrom,
        max_events: usize,
    ) -> Result<Vec<StoredEvent>, StreamError> {
        let stream = self.get(name)?;
        let partitions: Vec<&Arc<Partition>> = match partition {
            Some(index) => vec![stream.partitions.get(index as usize).ok_or_else(|| {
                StreamError::invalid(format!(
                    "stream {name} has no partition {index} (it has {})",
                    stream.partitions.len()
                ))
            })?],
            None => stream.partitions.iter().collect(),
        };
        let storage = |source| StreamError::storage(name.to_string(), source);
        let mut out = Vec::new();
        for partition in partitions {
            let budget = max_events.saturating_sub(out.len());
            if budget == 0 {
                break;
            }
            let start = partition.resolve(from).await.map_err(storage)?;
            let events = partition
                .read_events(start, budget)
                .await
                .map_err(storage)?;
            for (offset, event) in events {
                out.push(StoredEvent {
                    partition: partition.index,
                    offset,
                    event,
                });
            }
        }
        Ok(out)
    }

    /// Applies every stream's retention and compacts compacted streams (tombstones are
    /// kept for [`DEFAULT_TOMBSTONE_RETENTION`]). Failures are logged; the node runs this
    /// periodically.
    pub(crate) async fn maintain(&self) {
        let now_ms = record::millis_since_epoch(self.inner.options.clock.now());
        let streams: Vec<Arc<Stream>> = self.inner.read().streams.values().cloned().collect();
        for stream in streams {
            let name = &stream.config.name;
            let retention = stream.config.log_retention();
            for partition in &stream.partitions {
                if let Err(error) = partition.store().apply_retention(retention, now_ms).await {
                    tracing::warn!(%error, stream = %name, partition = partition.index, "retention failed");
                }
                if stream.config.compact {
                    let compacted = partition
                        .store()
                        .compact(DEFAULT_TOMBSTONE_RETENTION, now_ms)
                        .await;
                    if let Err(error) = compacted {
                        tracing::warn!(%error, stream = %name, partition = partition.index, "compaction failed");
                    }
                }
                partition.refresh_usage().await;
            }
        }
    }

    /// Stores what was submitted, then closes every partition log (synced). Later
    /// publishes to streams fail; reads of a closed stream fail.
    pub(crate) async fn close(&self) {
        let _admin = self.inner.admin.lock().await;
        let streams: Vec<Arc<Stream>> = self.inner.read().streams.values().cloned().collect();
        for stream in streams {
            for partition in &stream.partitions {
                partition.stop().await;
            }
        }
    }

    pub(crate) fn get(&self, name: &StreamName) -> Result<Arc<Stream>, StreamError> {
        self.inner
            .read()
            .streams
            .get(name)
            .cloned()
            .ok_or_else(|| StreamError::NotFound {
                name: name.to_string(),
            })
    }

    /// `<data_dir>/streams/<name>`.
    pub(crate) fn stream_dir(&self, name: &StreamName) -> StateDir {
        self.inner.dir.child(name.as_str())
    }

    /// The node's disk.
    pub(crate) fn disk(&self) -> &Arc<dyn Disk> {
        &self.inner.options.disk
    }

    /// Serialises administration (stream and consumer create and delete).
    pub(crate) async fn admin_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.admin.lock().await
    }

    /// Lets consumers publish dead letters through `broker` (called by
    /// [`crate::Broker::with_streams`]).
    pub(crate) fn attach_broker(&self, broker: WeakBroker) {
        *self
            .inner
            .broker
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(broker);
    }

    /// The broker these streams are attached to, if it is still running.
    pub(crate) fn broker(&self) -> Option<crate::Broker> {
        self.inner
            .broker
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .and_then(WeakBroker::upgrade)
    }

    /// Opens partitions `from..config.partitions` of a stream.
    async fn open_partitions(
        &self,
        config: &StreamConfig,
        from: u32,
        appended: &Arc<Notify>,
    ) -> Result<Vec<Arc<Partition>>, StreamError> {
        let stream_dir = self.stream_dir(&config.name);
        let config_copy = config.clone();
        let options = self.inner.options.clone();
        let handles = blocking(config.name.to_string(), move || {
            (from..config_copy.partitions)
                .map(|partition| {
                    store::open_partition(&stream_dir, partition, &config_copy, &options)
                        .map(|handle| (partition, handle))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| StreamError::storage(config_copy.name.to_string(), source))
        })
        .await?;
        Ok(handles
            .into_iter()
            .map(|(partition, (handle, stored))| {
                Partition::start(
                    partition,
                    config.name.clone(),
                    Arc::clone(&self.inner.options.node),
                    handle,
                    stored,
                    Arc::clone(appended),
                )
            })
            .collect())
    }
}

impl Inner {
    fn changed(&self) {
        self.changes.send_modify(|version| *version += 1);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // Registry updates are single inserts/removes; a poisoned lock is still consistent.
        self.registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Registry {
    fn insert(&mut self, stream: Arc<Stream>) {
        for filter in &stream.config.filters {
            self.index.insert(filter, Entry(Arc::clone(&stream)));
        }
        self.streams.insert(stream.config.name.clone(), stream);
    }

    fn remove(&mut self, stream: &Arc<Stream>) {
        let probe = Entry(Arc::clone(stream));
        for filter in &stream.config.filters {
            self.index.remove(filter, &probe);
        }
        self.streams.remove(&stream.config.name);
    }
}

impl Stream {
    /// The partition an event with partition key `key` goes to (see
    /// [`partitioner::partition_key`]): Kafka's partitioner for a key, else the next in
    /// turn. The one place a stream chooses a partition (capture and direct appends).
    pub(crate) fn choose_partition(&self, key: Option<&[u8]>) -> Option<&Arc<Partition>> {
        let count = self.partitions.len() as u32;
        let index = match key {
            Some(key) => partition_for_key(key, count),
            None => {
                self.round_robin
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    % count.max(1)
            }
        };
        self.partitions.get(index as usize)
    }

    /// Room for `events` events taking at most `bytes` log bytes in `partition`, when this
    /// stream discards new events at its limits (`None` otherwise: nothing to reserve);
    /// [`StreamError::Full`] when it would take the partition past one. The one place a
    /// publish, a direct append and a Kafka produce check those limits.
    pub(crate) fn reserve(
        &self,
        partition: &Partition,
        events: u64,
        bytes: u64,
    ) -> Result<Option<partition::Reservation>, StreamError> {
        let config = &self.config;
        if config.discard == Discard::Old {
            return Ok(None);
        }
        let retention = &config.retention;
        partition
            .reserve_many(events, bytes, retention.max_events, retention.max_bytes)
            .map(Some)
            .map_err(|limit| StreamError::Full {
                stream: config.name.to_string(),
                partition: partition.index,
                limit,
            })
    }

    async fn info(&self) -> Result<StreamInfo, StreamError> {
        let mut partitions = Vec::with_capacity(self.partitions.len());
        for partition in &self.partitions {
            let (first_offset, next_offset) = partition
                .offsets()
                .await
                .map_err(|source| StreamError::storage(self.config.name.to_string(), source))?;
            let bytes = partition
                .size_bytes()
                .await
                .map_err(|source| StreamError::storage(self.config.name.to_string(), source))?;
            partitions.push(PartitionInfo {
                partition: partition.index,
                first_offset,
                next_offset,
                bytes,
            });
        }
        Ok(StreamInfo {
            config: self.config.clone(),
            partitions,
        })
    }
}

/// Runs blocking file-system work off the runtime.
async fn blocking<T: Send + 'static>(
    stream: String,
    work: impl FnOnce() -> Result<T, StreamError> + Send + 'static,
) -> Result<T, StreamError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(StreamError::storage(stream, StorageError::Task)))
}

#[cfg(test)]
mod tests;
