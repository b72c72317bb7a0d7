//! One partition of a stream at run time: its [`LogHandle`] and the appender task that
//! feeds it in publish order.
//!
//! Publishers hand appends to a bounded channel (awaiting capacity, which is the
//! backpressure); the appender takes every append waiting in the channel (up to
//! [`MAX_GROUP_EVENTS`] / about [`MAX_GROUP_BYTES`]) and writes them as **one** record
//! batch, so a partition's order is the order publishers submitted in, and one
//! `fdatasync` of the log covers the whole group. Each publisher gets its own offset back.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, oneshot};
use weft_log::{AppendError, BatchView, LogHandle, Offset, Record};

use super::ReadFrom;
use super::dedupe::{DedupeKey, DedupeWindow};
use super::error::StorageError;

/// Appends waiting per partition before publishers wait.
pub const APPEND_QUEUE_DEPTH: usize = 1024;
/// Most events written as one batch.
pub const MAX_GROUP_EVENTS: usize = 1024;
/// A group is closed once it holds about this many bytes.
pub const MAX_GROUP_BYTES: usize = 1024 * 1024;
/// Bytes asked of the log per read call.
const READ_CHUNK_BYTES: usize = 1024 * 1024;

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

/// The partition was stopped (its stream closed or deleted).
#[derive(Debug)]
pub(crate) struct PartitionClosed;

enum Command {
    Append(PendingAppend),
    Stop(oneshot::Sender<()>),
}

/// A running partition.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) index: u32,
    handle: LogHandle,
    appends: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Append(_) => "Append",
            Command::Stop(_) => "Stop",
        })
    }
}

impl Partition {
    /// Starts the appender task for `handle`; `appended` is woken after every stored
    /// group. Must be called within a tokio runtime.
    pub(crate) fn start(index: u32, handle: LogHandle, appended: Arc<Notify>) -> Arc<Partition> {
        let (appends, receiver) = mpsc::channel(APPEND_QUEUE_DEPTH);
        tokio::spawn(run_appender(handle.clone(), receiver, appended));
        Arc::new(Partition {
            index,
            handle,
            appends,
        })
    }

    /// The log, for retention, compaction and offsets.
    pub(crate) fn handle(&self) -> &LogHandle {
        &self.handle
    }

    /// Queues an append (waiting for room); the reply says when it is stored.
    pub(crate) async fn submit(&self, append: PendingAppend) -> Result<(), PartitionClosed> {
        self.appends
            .send(Command::Append(append))
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

async fn run_appender(
    handle: LogHandle,
    mut receiver: mpsc::Receiver<Command>,
    appended: Arc<Notify>,
) {
    while let Some(command) = receiver.recv().await {
        let mut group = Vec::new();
        let mut stop = None;
        match command {
            Command::Append(append) => group.push(append),
            Command::Stop(reply) => stop = Some(reply),
        }
        let mut bytes = group.first().map_or(0, |append| append.size);
        while stop.is_none() && group.len() < MAX_GROUP_EVENTS && bytes < MAX_GROUP_BYTES {
            match receiver.try_recv() {
                Ok(Command::Append(append)) => {
                    bytes += append.size;
                    group.push(append);
                }
                Ok(Command::Stop(reply)) => stop = Some(reply),
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            commit(&handle, group).await;
            appended.notify_waiters();
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

async fn commit(handle: &LogHandle, group: Vec<PendingAppend>) {
    let mut records = Vec::with_capacity(group.len());
    let mut waiting = Vec::with_capacity(group.len());
    for append in group {
        records.push(append.record);
        waiting.push((append.reply, append.forget));
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
}
