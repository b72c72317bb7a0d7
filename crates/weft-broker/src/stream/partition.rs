//! One partition of a stream at run time: its [`LogHandle`] and the appender task that
//! feeds it in publish order.
//!
//! Publishers hand appends to a bounded channel (awaiting capacity, which is the
//! backpressure); the appender takes every append waiting in the channel (up to
//! [`MAX_GROUP_EVENTS`] / about [`MAX_GROUP_BYTES`]) and writes them as **one** record
//! batch, so a partition's order is the order publishers submitted in, and one
//! `fdatasync` of the log covers the whole group. Each publisher gets its own offset back.
//!
//! For streams that discard new events, a partition also keeps its [`Usage`]: what the
//! log holds (refreshed by the appender after every group, and after maintenance) plus
//! what publishers have reserved and the appender has not stored yet. A publish reserves
//! room before it submits anything ([`Partition::reserve`]), so concurrent publishes can
//! never take a partition past its limits together.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, oneshot};
use weft_log::{AppendError, Appended, BatchView, LogHandle, Offset, Record};

use weft_core::Event;

use super::dedupe::{DedupeKey, DedupeWindow};
use super::error::{StorageError, StreamLimit};
use super::record::Position;
use super::{ReadFrom, StreamName};

/// Appends waiting per partition before publishers wait.
pub const APPEND_QUEUE_DEPTH: usize = 1024;
/// Most events written as one batch.
pub const MAX_GROUP_EVENTS: usize = 1024;
/// A group is closed once it holds about this many bytes.
pub const MAX_GROUP_BYTES: usize = 1024 * 1024;
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
    pub(crate) size: usize,
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
    /// Whether the appender refreshes `usage` from the log after every group (only
    /// streams that discard new events need it).
    tracking: AtomicBool,
}

impl Meter {
    fn lock(&self) -> MutexGuard<'_, Usage> {
        // Usage is plain counters; a poisoned lock still holds consistent numbers.
        self.usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Room for one event taken in a partition; given back when dropped (the appender drops
/// it once the event is stored, or failed, and the usage was refreshed).
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

/// The partition was stopped (its stream closed or deleted).
#[derive(Debug)]
pub(crate) struct PartitionClosed;

enum Command {
    /// An append, with the room reserved for it under the stream's limits, if any.
    Append(PendingAppend, Option<Reservation>),
    /// A record batch as a Kafka producer sent it, with its reservation.
    AppendRaw(RawAppend, Option<Reservation>),
    /// Refresh the usage from the log, then answer.
    Refresh(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// A running partition.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) index: u32,
    /// Its stream's name and this node's name, for decoding records that carry neither.
    stream: StreamName,
    node: Arc<str>,
    handle: LogHandle,
    appends: mpsc::Sender<Command>,
    meter: Arc<Meter>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Append(..) => "Append",
            Command::AppendRaw(..) => "AppendRaw",
            Command::Refresh(_) => "Refresh",
            Command::Stop(_) => "Stop",
        })
    }
}

impl Partition {
    /// Starts the appender task for `handle`, whose log holds `stored` (events and bytes);
    /// `appended` is woken after every stored group. Must be called within a tokio runtime.
    pub(crate) fn start(
        index: u32,
        stream: StreamName,
        node: Arc<str>,
        handle: LogHandle,
        stored: Usage,
        appended: Arc<Notify>,
    ) -> Arc<Partition> {
        let (appends, receiver) = mpsc::channel(APPEND_QUEUE_DEPTH);
        let meter = Arc::new(Meter {
            usage: Mutex::new(stored),
            tracking: AtomicBool::new(false),
        });
        tokio::spawn(run_appender(
            handle.clone(),
            receiver,
            appended,
            Arc::clone(&meter),
        ));
        Arc::new(Partition {
            index,
            stream,
            node,
            handle,
            appends,
            meter,
        })
    }

    /// Starts or stops keeping the usage up to date after every group; when it starts,
    /// the usage is refreshed from the log first.
    pub(crate) async fn track_usage(&self, on: bool) {
        let was = self.meter.tracking.swap(on, Ordering::SeqCst);
        if on && !was {
            self.refresh_usage().await;
        }
    }

    /// Refreshes the usage from the log, in order with the appends queued before (after
    /// retention or compaction removed data). Does nothing unless usage is tracked.
    pub(crate) async fn refresh_usage(&self) {
        if !self.meter.tracking.load(Ordering::SeqCst) {
            return;
        }
        let (reply, done) = oneshot::channel();
        if self.appends.send(Command::Refresh(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Takes room for one event of at most `bytes` log bytes, or says which limit it
    /// would exceed. The room is given back when the reservation is dropped.
    pub(crate) fn reserve(
        &self,
        bytes: u64,
        max_events: Option<u64>,
        max_bytes: Option<u64>,
    ) -> Result<Reservation, StreamLimit> {
        self.reserve_many(1, bytes, max_events, max_bytes)
    }

    /// [`Self::reserve`] for `events` events taking `bytes` together.
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

    /// The bytes of the log's segment files.
    pub(crate) async fn size_bytes(&self) -> Result<u64, StorageError> {
        self.handle.size_bytes().await.ok_or(StorageError::Closed)
    }

    /// The log, for retention, compaction and offsets.
    pub(crate) fn handle(&self) -> &LogHandle {
        &self.handle
    }

    /// Queues an append (waiting for room); the reply says when it is stored.
    pub(crate) async fn submit(&self, append: PendingAppend) -> Result<(), PartitionClosed> {
        self.submit_reserved(append, None).await
    }

    /// [`Self::submit`] with the room reserved for it (see [`Self::reserve`]), held until
    /// the append is stored or failed.
    pub(crate) async fn submit_reserved(
        &self,
        append: PendingAppend,
        reservation: Option<Reservation>,
    ) -> Result<(), PartitionClosed> {
        self.appends
            .send(Command::Append(append, reservation))
            .await
            .map_err(|_| PartitionClosed)
    }

    /// Queues a raw batch (waiting for room); the reply says when it is stored.
    pub(crate) async fn submit_raw(
        &self,
        append: RawAppend,
        reservation: Option<Reservation>,
    ) -> Result<(), PartitionClosed> {
        self.appends
            .send(Command::AppendRaw(append, reservation))
            .await
            .map_err(|_| PartitionClosed)
    }

    /// Stores everything queued before, then closes the log (synced). Later appends fail.
    pub(crate) async fn stop(&self) {
        let (reply, done) = oneshot::channel();
        if self.appends.send(Command::Stop(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// The first stored offset and the next offset.
    pub(crate) async fn offsets(&self) -> Result<(u64, u64), StorageError> {
        self.handle
            .offsets()
            .await
            .map(|(first, next)| (first.get(), next.get()))
            .ok_or(StorageError::Closed)
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
                self.handle
                    .offset_for_time(ms)
                    .await
                    .map_err(|source| StorageError::Read {
                        partition: self.index,
                        source,
                    })?
                    .map_or(next, Offset::get)
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
            let batches = self
                .handle
                .read(Offset::new(next), READ_CHUNK_BYTES)
                .await
                .map_err(|source| StorageError::Read {
                    partition: self.index,
                    source,
                })?;
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

async fn run_appender(
    handle: LogHandle,
    mut receiver: mpsc::Receiver<Command>,
    appended: Arc<Notify>,
    meter: Arc<Meter>,
) {
    while let Some(command) = receiver.recv().await {
        let mut group = Vec::new();
        let mut stop = None;
        let mut refreshed = None;
        let mut raw = None;
        match command {
            Command::Append(append, reservation) => group.push((append, reservation)),
            Command::AppendRaw(append, reservation) => raw = Some((append, reservation)),
            Command::Refresh(reply) => refreshed = Some(reply),
            Command::Stop(reply) => stop = Some(reply),
        }
        let mut bytes = group.first().map_or(0, |(append, _)| append.size);
        while stop.is_none()
            && refreshed.is_none()
            && raw.is_none()
            && group.len() < MAX_GROUP_EVENTS
            && bytes < MAX_GROUP_BYTES
        {
            match receiver.try_recv() {
                Ok(Command::Append(append, reservation)) => {
                    bytes += append.size;
                    group.push((append, reservation));
                }
                Ok(Command::AppendRaw(append, reservation)) => raw = Some((append, reservation)),
                Ok(Command::Refresh(reply)) => refreshed = Some(reply),
                Ok(Command::Stop(reply)) => stop = Some(reply),
                Err(_) => break,
            }
        }
        let mut reservations = Vec::new();
        if !group.is_empty() {
            reservations = commit(&handle, group).await;
            appended.notify_waiters();
        }
        if let Some((append, reservation)) = raw {
            queue_raw(&handle, append, reservation, &appended, &meter).await;
        }
        if refreshed.is_some() || meter.tracking.load(Ordering::SeqCst) {
            refresh(&handle, &meter).await;
        }
        // Given back only now, so the group is never counted as neither stored nor pending.
        drop(reservations);
        if let Some(reply) = refreshed {
            let _ = reply.send(());
        }
        if let Some(reply) = stop {
            receiver.close();
            let _ = handle.clone().close().await;
            let _ = reply.send(());
            return;
        }
    }
    let _ = handle.close().await;
}

/// Queues a raw batch on the log in order with everything before it, and waits for it in
/// a task of its own, so that batches arriving together share one group commit.
async fn queue_raw(
    handle: &LogHandle,
    append: RawAppend,
    reservation: Option<Reservation>,
    appended: &Arc<Notify>,
    meter: &Arc<Meter>,
) {
    let ticket = match handle.queue_raw_batch(append.batch).await {
        Ok(ticket) => ticket,
        Err(error) => {
            let _ = append.reply.send(Err(error));
            return;
        }
    };
    let (handle, appended, meter) = (handle.clone(), Arc::clone(appended), Arc::clone(meter));
    tokio::spawn(async move {
        let result = ticket.wait().await;
        if let Err(error) = &result {
            tracing::debug!(%error, "raw batch append failed");
        }
        if meter.tracking.load(Ordering::SeqCst) {
            refresh(&handle, &meter).await;
        }
        drop(reservation);
        appended.notify_waiters();
        let _ = append.reply.send(result);
    });
}

/// Sets the stored part of `meter` to what the log holds now.
async fn refresh(handle: &LogHandle, meter: &Meter) {
    let (Some((first, next)), Some(bytes)) = (handle.offsets().await, handle.size_bytes().await)
    else {
        return;
    };
    let mut usage = meter.lock();
    usage.stored_events = next.get().saturating_sub(first.get());
    usage.stored_bytes = bytes;
}

/// Appends `group` as one batch and answers every publisher; returns the group's
/// reservations, for the caller to give back once the usage is refreshed.
async fn commit(
    handle: &LogHandle,
    group: Vec<(PendingAppend, Option<Reservation>)>,
) -> Vec<Reservation> {
    let mut records = Vec::with_capacity(group.len());
    let mut waiting = Vec::with_capacity(group.len());
    let mut reservations = Vec::new();
    for (append, reservation) in group {
        records.push(append.record);
        waiting.push((append.reply, append.forget));
        reservations.extend(reservation);
    }
    match handle.append(records).await {
        Ok(appended) => {
            for (position, (reply, _)) in waiting.into_iter().enumerate() {
                let _ = reply.send(Ok(appended.base_offset.get() + position as u64));
            }
        }
        Err(error) => {
            tracing::warn!(%error, events = waiting.len(), "stream append failed");
            for (reply, forget) in waiting {
                if let Some((window, key)) = forget {
                    window
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .forget(&key);
                }
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
    reservations
}
