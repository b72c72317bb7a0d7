//! One partition of a stream at run time: its store (the storage seam,
//! [`super::storage::PartitionStore`]), and the usage it meters.
//!
//! Publishers queue their events one by one on the store
//! ([`PartitionStore::queue_record`], awaiting queue room, which is the backpressure); with
//! the local log, the writer thread's group commit is the **only** batching stage: the records that arrived while
//! the previous sync ran are written as one record batch and covered by one `fdatasync`,
//! in the order publishers submitted them, and each publisher gets its own offset back.
//! Raw batches from Kafka producers go through the same queue, in order with the events.
//! Reads (offsets, records, fetches) use the store's reader (the log's published view)
//! and never wait for the writer: recent batches come from memory, older ones from the files in a blocking
//! task.
//!
//! For streams that discard new events, a partition also keeps its [`Usage`]: what the
//! log holds (refreshed from the log's view when each append is answered, and after
//! maintenance) plus what publishers have reserved and the log has not stored yet. A
//! publish reserves room before it submits anything ([`Partition::reserve_many`]), so
//! concurrent publishes can never take a partition past its limits together; the room
//! is given back only after the usage was refreshed with the stored append, so an event
//! is never counted as neither stored nor pending.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};
use weft_log::{AppendError, Appended, BatchView, ReadError, Record};

use weft_core::Event;

use super::dedupe::{DedupeKey, DedupeWindow};
use super::error::{StorageError, StreamLimit};
use super::record::Position;
use super::storage::{PartitionReader, PartitionStore};
use super::{ReadFrom, StreamName};

/// Bytes asked of the log per read call.
const READ_CHUNK_BYTES: usize = 1024 * 1024;
/// The header of a Kafka record batch v2.
const BATCH_HEADER_BYTES: u64 = 61;
/// The most framing one record adds besides its key, value and headers: length,
/// attributes, timestamp and offset deltas, key and value lengths and header count.
const RECORD_FRAMING_BYTES: u64 = 36;
/// The most framing one header adds besides its name and value.
const HEADER_FRAMING_BYTES: u64 = 10;

/// The answer to one append: the event's offset.
pub(crate) type AppendReply = oneshot::Sender<Result<u64, AppendError>>;

/// One event on its way into a partition.
pub(crate) struct PendingAppend {
    pub(crate) record: Record,
    pub(crate) reply: AppendReply,
    /// On failure, the dedupe entry to remove so that a retry is stored.
    pub(crate) forget: Option<(Arc<Mutex<DedupeWindow>>, DedupeKey)>,
}

/// A raw batch on its way into a partition; the reply carries the log's answer
/// (offsets, or that an idempotent producer's batch was stored before).
pub(crate) struct RawAppend {
    pub(crate) batch: Bytes,
    pub(crate) reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// What a partition holds and has promised, in events and bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Events in the log (`next_offset - first_offset`, as retention counts them).
    stored_events: u64,
    /// Bytes of the log's segment files.
    stored_bytes: u64,
    /// Events reserved by publishers and not stored (or failed) yet.
    pending_events: u64,
    /// Bytes reserved by publishers (an upper bound of what they will add).
    pending_bytes: u64,
}

impl Usage {
    /// What a log holding `events` events in `bytes` bytes uses, with nothing pending.
    pub(crate) fn stored(events: u64, bytes: u64) -> Self {
        Usage {
            stored_events: events,
            stored_bytes: bytes,
            ..Usage::default()
        }
    }
}

#[derive(Debug, Default)]
struct Meter {
    usage: Mutex<Usage>,
    /// Whether `usage` is refreshed from the log as appends are answered (only streams
    /// that discard new events need it).
    tracking: AtomicBool,
}

impl Meter {
    fn lock(&self) -> MutexGuard<'_, Usage> {
        // Usage is plain counters; a poisoned lock still holds consistent numbers.
        self.usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the stored part to what the log's current view holds. The view is taken
    /// under the lock, so of two refreshes racing, the later one never writes an older
    /// view (the writer publishes a view before it answers the appends in it).
    fn refresh(&self, store: &dyn PartitionStore) {
        let mut usage = self.lock();
        if let Some(view) = store.reader() {
            usage.stored_events = view.next_offset().saturating_sub(view.first_offset());
            usage.stored_bytes = view.size_bytes();
        }
    }
}

/// Room for one event taken in a partition; given back when dropped (once the event is
/// stored, or failed, and the usage was refreshed).
#[derive(Debug)]
pub(crate) struct Reservation {
    meter: Arc<Meter>,
    events: u64,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut usage = self.meter.lock();
        usage.pending_events = usage.pending_events.saturating_sub(self.events);
        usage.pending_bytes = usage.pending_bytes.saturating_sub(self.bytes);
    }
}

/// An upper bound of the bytes `record` adds to the log (as if written alone in a batch);
/// `size` is its [`super::record::stored_size`].
pub(crate) fn log_bytes_bound(record: &Record, size: usize) -> u64 {
    BATCH_HEADER_BYTES
        + RECORD_FRAMING_BYTES
        + HEADER_FRAMING_BYTES * record.headers.len() as u64
        + size as u64
}

/// Batches read from one view of a partition.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) batches: Vec<Bytes>,
    /// The view's first offset.
    pub(crate) first: u64,
    /// The view's high watermark.
    pub(crate) next: u64,
}

/// The partition was stopped (its stream closed or deleted).
#[derive(Debug)]
pub(crate) struct PartitionClosed;

/// A running partition.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) index: u32,
    /// Its stream's name and this node's name, for decoding records that carry neither.
    stream: StreamName,
    node: Arc<str>,
    store: Arc<dyn PartitionStore>,
    meter: Arc<Meter>,
    /// Woken after every stored append (long polls wait on it).
    appended: Arc<Notify>,
}

impl Partition {
    /// A partition over `store`, which holds `stored` (events and bytes); `appended` is
    /// woken after every stored append.
    pub(crate) fn start(
        index: u32,
        stream: StreamName,
        node: Arc<str>,
        store: Arc<dyn PartitionStore>,
        stored: Usage,
        appended: Arc<Notify>,
    ) -> Arc<Partition> {
        let meter = Arc::new(Meter {
            usage: Mutex::new(stored),
            tracking: AtomicBool::new(false),
        });
        Arc::new(Partition {
            index,
            stream,
            node,
            store,
            meter,
            appended,
        })
    }

    /// Starts or stops keeping the usage up to date as appends are stored; when it
    /// starts, the usage is refreshed from the log first.
    pub(crate) async fn track_usage(&self, on: bool) {
        let was = self.meter.tracking.swap(on, Ordering::SeqCst);
        if on && !was {
            self.refresh_usage().await;
        }
    }

    /// Refreshes the usage from the log (after retention or compaction removed data,
    /// which publish their view before they answer). Does nothing unless usage is
    /// tracked.
    pub(crate) async fn refresh_usage(&self) {
        if self.meter.tracking.load(Ordering::SeqCst) {
            self.meter.refresh(self.store.as_ref());
        }
    }

    /// Takes room for `events` events of at most `bytes` log bytes together, or says
    /// which limit it would exceed. The room is given back when the reservation is
    /// dropped.
    pub(crate) fn reserve_many(
        &self,
        events: u64,
        bytes: u64,
        max_events: Option<u64>,
        max_bytes: Option<u64>,
    ) -> Result<Reservation, StreamLimit> {
        let mut usage = self.meter.lock();
        if let Some(max) = max_events
            && usage.stored_events + usage.pending_events + events > max
        {
            return Err(StreamLimit::MaxEvents(max));
        }
        if let Some(max) = max_bytes
            && usage.stored_bytes + usage.pending_bytes + bytes > max
        {
            return Err(StreamLimit::MaxBytes(max));
        }
        usage.pending_events += events;
        usage.pending_bytes += bytes;
        Ok(Reservation {
            meter: Arc::clone(&self.meter),
            events,
            bytes,
        })
    }

    /// Its stream's name.
    pub(crate) fn stream_name(&self) -> &StreamName {
        &self.stream
    }

    /// The bytes the store holds.
    pub(crate) async fn size_bytes(&self) -> Result<u64, StorageError> {
        Ok(self.reader()?.size_bytes())
    }

    /// The store, for retention and compaction.
    pub(crate) fn store(&self) -> &dyn PartitionStore {
        self.store.as_ref()
    }

    /// What the store holds now.
    fn reader(&self) -> Result<Arc<dyn PartitionReader>, StorageError> {
        self.store.reader().ok_or(StorageError::Closed)
    }

    /// Queues an append (waiting for room), with the room reserved for it (see
    /// [`super::Stream::reserve`]), held until the append is stored or failed.
    pub(crate) async fn submit_reserved(
        &self,
        append: PendingAppend,
        reservation: Option<Reservation>,
    ) -> Result<(), PartitionClosed> {
        let PendingAppend {
            record,
            reply,
            forget,
            ..
        } = append;
        let settle = self.settlement(reservation);
        let done = Box::new(move |result: Result<Appended, AppendError>| {
            settle.run();
            if let Err(error) = &result {
                tracing::debug!(%error, "stream append failed");
                if let Some((window, key)) = forget {
                    window
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .forget(&key);
                }
            }
            let _ = reply.send(result.map(|appended| appended.base_offset.get()));
        });
        self.store
            .queue_record(record, done)
            .await
            .map_err(|_| PartitionClosed)
    }

    /// Queues a raw batch (waiting for room); the reply says when it is stored.
    pub(crate) async fn submit_raw(
        &self,
        append: RawAppend,
        reservation: Option<Reservation>,
    ) -> Result<(), PartitionClosed> {
        let RawAppend { batch, reply } = append;
        let settle = self.settlement(reservation);
        let done = Box::new(move |result: Result<Appended, AppendError>| {
            settle.run();
            if let Err(error) = &result {
                tracing::debug!(%error, "raw batch append failed");
            }
            let _ = reply.send(result);
        });
        self.store
            .queue_batch(batch, done)
            .await
            .map_err(|_| PartitionClosed)
    }

    fn settlement(&self, reservation: Option<Reservation>) -> Settlement {
        Settlement {
            store: Arc::clone(&self.store),
            meter: Arc::clone(&self.meter),
            appended: Arc::clone(&self.appended),
            reservation,
        }
    }

    /// Stores everything queued before, then closes the log (synced). Later appends fail.
    pub(crate) async fn stop(&self) {
        self.store.close().await;
    }

    /// The first stored offset and the next offset (the high watermark).
    pub(crate) async fn offsets(&self) -> Result<(u64, u64), StorageError> {
        let reader = self.reader()?;
        Ok((reader.first_offset(), reader.next_offset()))
    }

    /// Whole stored batches from the one holding `from`, up to about `max_bytes` (see
    /// `weft_log::LogView::read`), with the first offset and the high watermark of the
    /// same view: from memory at the tail, otherwise from the files in a blocking task,
    /// so the runtime never waits for the disk.
    pub(crate) async fn fetch(&self, from: u64, max_bytes: usize) -> Result<Fetched, StorageError> {
        let read = |source| StorageError::Read {
            partition: self.index,
            source,
        };
        loop {
            let view = self.store.reader().ok_or(read(ReadError::Closed))?;
            let (first, next) = (view.first_offset(), view.next_offset());
            let answer = match view.read_cached(from, max_bytes) {
                Some(answer) => answer,
                None => tokio::task::spawn_blocking(move || view.read(from, max_bytes))
                    .await
                    .map_err(|_| StorageError::Task)?,
            };
            match answer {
                // Unsynced bytes the view showed were cut (weak flush policies only).
                Err(ReadError::RolledBack) => continue,
                Ok(batches) => {
                    return Ok(Fetched {
                        batches,
                        first,
                        next,
                    });
                }
                Err(source) => return Err(read(source)),
            }
        }
    }

    /// The first offset whose record timestamp is at least `timestamp_ms` (a blocking
    /// task: it reads the files).
    pub(crate) async fn offset_for_time(
        &self,
        timestamp_ms: i64,
    ) -> Result<Option<u64>, StorageError> {
        let read = |source| StorageError::Read {
            partition: self.index,
            source,
        };
        loop {
            let view = self.store.reader().ok_or(read(ReadError::Closed))?;
            let answer = tokio::task::spawn_blocking(move || view.offset_for_time(timestamp_ms))
                .await
                .map_err(|_| StorageError::Task)?;
            match answer {
                Err(ReadError::RolledBack) => continue,
                other => return other.map_err(read),
            }
        }
    }

    /// The offset a read starting at `from` begins with.
    pub(crate) async fn resolve(&self, from: ReadFrom) -> Result<u64, StorageError> {
        let (first, next) = self.offsets().await?;
        Ok(match from {
            ReadFrom::Earliest => first,
            ReadFrom::Latest => next,
            ReadFrom::Offset(offset) => offset.clamp(first, next),
            ReadFrom::Time(time) => {
                let ms = super::record::millis_since_epoch(time);
                self.offset_for_time(ms).await?.unwrap_or(next)
            }
        })
    }

    /// Up to `max` records from offset `start` on (fewer at the end of the log).
    pub(crate) async fn read_records(
        &self,
        start: u64,
        max: usize,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        let mut out = Vec::new();
        let mut next = start;
        while out.len() < max {
            let batches = self.fetch(next, READ_CHUNK_BYTES).await?.batches;
            if batches.is_empty() {
                break;
            }
            for bytes in batches {
                let corrupt = |source| StorageError::Corrupt {
                    partition: self.index,
                    source,
                };
                let view = BatchView::parse(bytes).map_err(corrupt)?;
                for record in view.records() {
                    let (offset, record) = record.map_err(corrupt)?;
                    if offset.get() >= next && out.len() < max {
                        out.push((offset.get(), record));
                    }
                }
                next = next.max(view.last_offset().get() + 1);
                if out.len() >= max {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl Partition {
    /// Up to `max` events from offset `start` on, decoded by the CloudEvents Kafka binding
    /// ([`super::record::decode`]).
    pub(crate) async fn read_events(
        &self,
        start: u64,
        max: usize,
    ) -> Result<Vec<(u64, Event)>, StorageError> {
        let records = self.read_records(start, max).await?;
        records
            .into_iter()
            .map(|(offset, record)| self.decode(offset, record).map(|event| (offset, event)))
            .collect()
    }

    /// The event stored as `record` at `offset`.
    pub(crate) fn decode(&self, offset: u64, record: Record) -> Result<Event, StorageError> {
        let position = Position {
            stream: self.stream.as_str(),
            partition: self.index,
            offset,
            node: &self.node,
        };
        super::record::decode(record, &position).map_err(|source| StorageError::Decode {
            partition: self.index,
            offset,
            source,
        })
    }
}

/// What an answered append leaves to do, on the log's writer thread (nothing here
/// blocks): refresh the usage, then give the reservation back, then wake long polls.
struct Settlement {
    store: Arc<dyn PartitionStore>,
    meter: Arc<Meter>,
    appended: Arc<Notify>,
    reservation: Option<Reservation>,
}

impl Settlement {
    fn run(self) {
        if self.meter.tracking.load(Ordering::SeqCst) {
            self.meter.refresh(self.store.as_ref());
        }
        // Given back only now, so the append is never counted as neither stored nor pending.
        drop(self.reservation);
        self.appended.notify_waiters();
    }
}
