//! [`LogHandle`]: one writer thread per partition log, with group commit.
//!
//! Appenders (async tasks) send requests over a channel to a dedicated std thread that
//! owns the [`PartitionLog`]. The thread takes every request waiting in the channel (up
//! to [`MAX_GROUP`]), appends them all, then, with [`FlushPolicy::Always`], calls
//! `fdatasync` once and only then answers each appender through a `tokio::sync::oneshot`.
//! One sync therefore covers every append that arrived while the previous sync ran. A
//! failed write or sync is answered as an error to every appender it affects, never as an
//! acknowledgement. Reads and other requests run after the group's sync, so they never
//! see unacknowledged data under `Always`.
//!
//! Backpressure: a semaphore bounds the requests in flight ([`HandleConfig::queue_depth`]);
//! an appender waits for a permit asynchronously, so the channel itself never grows
//! without bound and nothing blocks the runtime.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::batch::Record;
use crate::error::{AppendError, CompactionError, ReadError, RetentionError};
use crate::log::{
    Appended, CompactionPolicy, CompactionReport, PartitionLog, RetentionOutcome, RetentionPolicy,
};
use crate::offset::Offset;

/// Most requests handled in one group commit.
pub const MAX_GROUP: usize = 1024;

/// When appended bytes are synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushPolicy {
    /// `fdatasync` before any append is acknowledged (group commit). The safe default.
    #[default]
    Always,
    /// Opt-in, weaker: acknowledge at once and sync at most this long after a write. A
    /// power loss can lose acknowledged appends from the last interval.
    Interval(Duration),
    /// Opt-in, weakest: never sync except when a segment is sealed. A power loss can lose
    /// any acknowledged append in the active segment.
    Never,
}

/// How a [`LogHandle`] runs its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleConfig {
    /// When appends become durable.
    pub flush: FlushPolicy,
    /// Requests in flight before appenders wait.
    pub queue_depth: usize,
}

impl Default for HandleConfig {
    fn default() -> Self {
        HandleConfig {
            flush: FlushPolicy::Always,
            queue_depth: 1024,
        }
    }
}

type Job = Box<dyn FnOnce(&mut PartitionLog) + Send>;

enum Payload {
    Records(Vec<Record>),
    Raw(Bytes),
}

enum Request {
    Append {
        payload: Payload,
        reply: oneshot::Sender<Result<Appended, AppendError>>,
        _permit: OwnedSemaphorePermit,
    },
    Run {
        job: Job,
        _permit: OwnedSemaphorePermit,
    },
    Close {
        reply: oneshot::Sender<PartitionLog>,
    },
}

/// A cheap, cloneable handle to a log owned by its writer thread.
#[derive(Debug, Clone)]
pub struct LogHandle {
    sender: mpsc::Sender<Request>,
    permits: Arc<Semaphore>,
}

/// The writer thread has stopped (closed, or it could not be reached).
#[derive(Debug)]
struct Closed;

/// An append queued on the writer thread; see [`LogHandle::queue_raw_batch`].
#[derive(Debug)]
pub struct AppendTicket(oneshot::Receiver<Result<Appended, AppendError>>);

impl AppendTicket {
    /// Resolves once the append is acknowledged (durable under [`FlushPolicy::Always`]).
    pub async fn wait(self) -> Result<Appended, AppendError> {
        self.0.await.unwrap_or(Err(AppendError::Closed))
    }
}

impl LogHandle {
    /// Starts the writer thread for `log`.
    pub fn spawn(log: PartitionLog, config: HandleConfig) -> std::io::Result<LogHandle> {
        // Unbounded by type only: the semaphore bounds what is in flight.
        let (sender, receiver) = mpsc::channel();
        thread::Builder::new()
            .name("weft-log-writer".to_owned())
            .spawn(move || run(log, &receiver, config.flush))?;
        Ok(LogHandle {
            sender,
            permits: Arc::new(Semaphore::new(config.queue_depth.max(1))),
        })
    }

    /// Appends `records` as one batch; resolves once it is acknowledged (durable under
    /// [`FlushPolicy::Always`]).
    pub async fn append(&self, records: Vec<Record>) -> Result<Appended, AppendError> {
        self.send_append(Payload::Records(records)).await
    }

    /// Appends a batch received from a producer, stored as received apart from its
    /// offsets.
    pub async fn append_raw_batch(&self, batch: Bytes) -> Result<Appended, AppendError> {
        self.send_append(Payload::Raw(batch)).await
    }

    /// Queues a batch received from a producer on the writer thread and returns at once
    /// (after waiting for queue room); the ticket resolves when the append is
    /// acknowledged. Appends are stored in the order they are queued, so a caller that
    /// queues several before waiting keeps their order and lets one group commit cover
    /// them all.
    pub async fn queue_raw_batch(&self, batch: Bytes) -> Result<AppendTicket, AppendError> {
        self.queue_append(Payload::Raw(batch)).await
    }

    async fn send_append(&self, payload: Payload) -> Result<Appended, AppendError> {
        self.queue_append(payload).await?.wait().await
    }

    async fn queue_append(&self, payload: Payload) -> Result<AppendTicket, AppendError> {
        let permit = self.permit().await.map_err(|Closed| AppendError::Closed)?;
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::Append {
                payload,
                reply,
                _permit: permit,
            })
            .map_err(|_| AppendError::Closed)?;
        Ok(AppendTicket(answer))
    }

    /// See [`PartitionLog::read`].
    pub async fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Bytes>, ReadError> {
        self.call(move |log| log.read(from, max_bytes))
            .await
            .unwrap_or(Err(ReadError::Closed))
    }

    /// See [`PartitionLog::offset_for_time`].
    pub async fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<Offset>, ReadError> {
        self.call(move |log| log.offset_for_time(timestamp_ms))
            .await
            .unwrap_or(Err(ReadError::Closed))
    }

    /// The first stored offset and the next offset, or `None` once the writer stopped.
    pub async fn offsets(&self) -> Option<(Offset, Offset)> {
        self.call(|log| (log.first_offset(), log.next_offset()))
            .await
            .ok()
    }

    /// The total bytes of the log's segment files (see [`PartitionLog::size_bytes`]), or
    /// `None` once the writer stopped.
    pub async fn size_bytes(&self) -> Option<u64> {
        self.call(|log| log.size_bytes()).await.ok()
    }

    /// See [`PartitionLog::apply_retention`].
    pub async fn apply_retention(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
    ) -> Result<RetentionOutcome, RetentionError> {
        self.call(move |log| log.apply_retention(&policy, now_ms))
            .await
            .unwrap_or(Err(RetentionError::Closed))
    }

    /// See [`PartitionLog::compact`]. Runs on the writer thread between groups, so
    /// appends wait while a segment is rewritten.
    pub async fn compact(
        &self,
        policy: CompactionPolicy,
        now_ms: i64,
    ) -> Result<CompactionReport, CompactionError> {
        self.call(move |log| log.compact(&policy, now_ms))
            .await
            .unwrap_or(Err(CompactionError::Closed))
    }

    /// Stops the writer after the requests already sent, syncs, and returns the log.
    /// Other clones of this handle get `Closed` errors afterwards.
    pub async fn close(self) -> Option<PartitionLog> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Request::Close { reply }).ok()?;
        answer.await.ok()
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, Closed> {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Closed)
    }

    async fn call<T: Send + 'static>(
        &self,
        action: impl FnOnce(&mut PartitionLog) -> T + Send + 'static,
    ) -> Result<T, Closed> {
        let permit = self.permit().await?;
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |log| {
            let _ = reply.send(action(log));
        });
        self.sender
            .send(Request::Run {
                job,
                _permit: permit,
            })
            .map_err(|_| Closed)?;
        answer.await.map_err(|_| Closed)
    }
}

/// The writer thread: group commit until every handle is gone or `Close` arrives.
fn run(mut log: PartitionLog, receiver: &mpsc::Receiver<Request>, flush: FlushPolicy) {
    let mut last_sync = Instant::now();
    loop {
        let first = match flush {
            FlushPolicy::Interval(interval) => {
                let wait = interval.saturating_sub(last_sync.elapsed());
                match receiver.recv_timeout(wait) {
                    Ok(request) => request,
                    Err(RecvTimeoutError::Timeout) => {
                        sync_logging(&mut log);
                        last_sync = Instant::now();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            FlushPolicy::Always | FlushPolicy::Never => match receiver.recv() {
                Ok(request) => request,
                Err(_) => break,
            },
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        if let Some(reply) = commit_group(&mut log, group, flush, &mut last_sync) {
            sync_logging(&mut log);
            let _ = reply.send(log);
            return;
        }
    }
    sync_logging(&mut log);
}

/// Appends a group, syncs once if the policy asks, answers every appender, then runs the
/// other requests. Returns the reply of a `Close` request if the group had one.
fn commit_group(
    log: &mut PartitionLog,
    group: Vec<Request>,
    flush: FlushPolicy,
    last_sync: &mut Instant,
) -> Option<oneshot::Sender<PartitionLog>> {
    let mut pending = Vec::new();
    let mut jobs = Vec::new();
    let mut close = None;
    for request in group {
        match request {
            Request::Append {
                payload,
                reply,
                _permit,
            } => {
                let rollbacks = log.rollbacks();
                let result = match payload {
                    Payload::Records(records) => log.append(&records),
                    Payload::Raw(batch) => log.append_raw_batch(batch),
                };
                match result {
                    Ok(appended) => pending.push((reply, appended, rollbacks)),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                }
            }
            Request::Run { job, _permit } => jobs.push(job),
            Request::Close { reply } => close = Some(reply),
        }
    }
    let should_sync = match flush {
        FlushPolicy::Always => !pending.is_empty(),
        FlushPolicy::Interval(interval) => last_sync.elapsed() >= interval,
        FlushPolicy::Never => false,
    };
    let sync_error = if should_sync {
        *last_sync = Instant::now();
        log.sync().err()
    } else {
        None
    };
    for (reply, appended, rollbacks) in pending {
        let durable = flush != FlushPolicy::Always || appended.last_offset < log.durable_offset();
        let result = if log.rollbacks() == rollbacks && durable {
            Ok(appended)
        } else if let Some(source) = &sync_error {
            Err(AppendError::Io {
                operation: "sync",
                source: source.clone(),
            })
        } else {
            Err(AppendError::RolledBack)
        };
        let _ = reply.send(result);
    }
    for job in jobs {
        job(log);
    }
    close
}

fn sync_logging(log: &mut PartitionLog) {
    if let Err(error) = log.sync() {
        tracing::warn!(%error, "log sync failed; unsynced appends were discarded");
    }
}
