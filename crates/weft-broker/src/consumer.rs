//! Durable consumers: named, persistent positions in a stream with explicit acks.
//!
//! A consumer ([`ConsumerConfig`]) belongs to one stream and is also a group: every
//! client that pulls with its name is a member, and the stream's partitions are shared
//! among the members that pulled recently. Each pull hands out [`Delivery`]s with a
//! [`DeliveryToken`]; the client acks, nacks (redelivery after a delay or the backoff) or
//! terminates (dead-letter) by token. Unacknowledged deliveries are redelivered after
//! `ack_wait`; after `max_deliveries` the event goes to the dead-letter destination.
//!
//! The delivery logic is a sans-I/O state machine ([`state`]) driven with explicit
//! times; this module is the thin async layer around it: it reads events from the
//! stream's partitions, persists cursors (`<stream dir>/consumers/<name>.json`, see
//! [`store`]), publishes dead letters ([`dead_letter`]) and long-polls on the stream's
//! append signal. Semantics: `docs/consumers.md`.

mod config;
mod cursor;
pub(crate) mod dead_letter;
mod error;
mod pull;
mod state;
mod store;
mod token;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use weft_core::Event;

pub use config::{
    Backoff, ConsumerConfig, ConsumerName, DEFAULT_ACK_WAIT, DEFAULT_MAX_DELIVERIES,
    DEFAULT_MAX_IN_FLIGHT, DeadLetter, KeyOrdering, MAX_IN_FLIGHT_LIMIT, MIN_SESSION_TIMEOUT,
    StartPosition,
};
pub use error::ConsumerError;
pub use token::DeliveryToken;

use crate::state::StateDir;
use crate::stream::{StorageError, StreamError};
use cursor::Cursor;
use state::{ConsumerState, Settings};

/// What a consumer is and how far it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// Its configuration.
    pub config: ConsumerConfig,
    /// Events stored but not yet delivered (the lag).
    pub pending: u64,
    /// Deliveries waiting for an ack.
    pub in_flight: u64,
    /// Redeliveries since the consumer was loaded.
    pub redelivered: u64,
    /// Acks since the consumer was loaded.
    pub acked: u64,
    /// Events dead-lettered (or dropped, without a destination) since it was loaded.
    pub dead_lettered: u64,
    /// The active members, sorted.
    pub members: Vec<String>,
}

/// One event handed to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// What to ack, nack or terminate it with.
    pub token: DeliveryToken,
    /// Its partition.
    pub partition: u32,
    /// Its offset in the partition.
    pub offset: u64,
    /// Which delivery of the event this is, from 1.
    pub attempt: u32,
    /// The event as stored.
    pub event: Event,
}

/// The consumers of one stream.
#[derive(Default)]
pub(crate) struct ConsumerSet {
    consumers: Mutex<BTreeMap<ConsumerName, Arc<Consumer>>>,
}

impl ConsumerSet {
    /// Loads every consumer stored in `stream_dir`.
    pub(crate) async fn load(stream_dir: StateDir) -> Result<ConsumerSet, StreamError> {
        let dir = store::consumers_dir(&stream_dir);
        let loading = dir.clone();
        let loaded = tokio::task::spawn_blocking(move || store::load_all(&loading))
            .await
            .unwrap_or(Err(StorageError::Task))
            .map_err(|source| StreamError::Storage {
                stream: stream_dir.path().display().to_string(),
                source,
            })?;
        let set = ConsumerSet::default();
        for consumer in loaded {
            let name = consumer.config.name.clone();
            let consumer = Consumer::new(consumer.config, consumer.cursors, &stream_dir);
            set.lock().insert(name, Arc::new(consumer));
        }
        Ok(set)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConsumerName, Arc<Consumer>>> {
        // Single inserts and removes: a poisoned map is still consistent.
        self.consumers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, name: &ConsumerName) -> Option<Arc<Consumer>> {
        self.lock().get(name).cloned()
    }

    fn all(&self) -> Vec<Arc<Consumer>> {
        self.lock().values().cloned().collect()
    }

    /// Forgets every consumer (their stream is deleted) and ends their pulls.
    pub(crate) fn clear(&self) {
        let consumers = std::mem::take(&mut *self.lock());
        for consumer in consumers.values() {
            consumer.mark_deleted();
        }
    }
}

impl std::fmt::Debug for ConsumerSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lock().keys()).finish()
    }
}

/// One consumer at run time.
pub(crate) struct Consumer {
    config: ConsumerConfig,
    /// `<stream dir>/consumers`.
    dir: StateDir,
    runtime: tokio::sync::Mutex<Runtime>,
    /// Woken by acks, nacks, terminates and deletion: capacity or keys may be free.
    changed: Notify,
    /// The state version last written to disk; held while writing.
    persisted: tokio::sync::Mutex<u64>,
    deleted: AtomicBool,
}

/// The state machine and the events read ahead for it (not yet delivered).
struct Runtime {
    core: ConsumerState,
    read_ahead: HashMap<(u32, u64), Event>,
}

impl Consumer {
    fn new(config: ConsumerConfig, cursors: Vec<Cursor>, stream_dir: &StateDir) -> Self {
        let core = ConsumerState::new(Settings::from(&config), cursors, new_incarnation());
        Consumer {
            config,
            dir: store::consumers_dir(stream_dir),
            runtime: tokio::sync::Mutex::new(Runtime {
                core,
                read_ahead: HashMap::new(),
            }),
            changed: Notify::new(),
            persisted: tokio::sync::Mutex::new(0),
            deleted: AtomicBool::new(false),
        }
    }

    fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    fn storage_error(&self, source: StorageError) -> ConsumerError {
        ConsumerError::Storage {
            stream: self.config.stream.to_string(),
            name: self.config.name.to_string(),
            source,
        }
    }

    /// Writes the cursors if the state changed since the last write that covered
    /// `version`. Concurrent callers share one write (group commit).
    async fn persist(&self, version: u64) -> Result<(), ConsumerError> {
        let mut persisted = self.persisted.lock().await;
        if *persisted >= version || self.is_deleted() {
            return Ok(());
        }
        let (cursors, current) = {
            let runtime = self.runtime.lock().await;
            (runtime.core.cursors(), runtime.core.version())
        };
        self.write(cursors).await?;
        *persisted = current;
        Ok(())
    }

    async fn write(&self, cursors: Vec<Cursor>) -> Result<(), ConsumerError> {
        let dir = self.dir.clone();
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || store::write(&dir, &config, cursors))
            .await
            .unwrap_or(Err(StorageError::Task))
            .map_err(|source| self.storage_error(source))
    }
}

/// A number that differs between loads of a consumer, so tokens of an earlier
/// incarnation are refused.
fn new_incarnation() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Mix so that consecutive values differ in many bits (splitmix64 finaliser).
    let mut mixed = nanos ^ count.rotate_left(32);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

#[cfg(test)]
mod tests;
