//! [`LogHandle`]: one writer thread per partition log, with group commit; readers read
//! a published [`LogView`] and never wait for the writer.
//!
//! Appenders (async tasks) send requests over a channel to a dedicated std thread that
//! owns the [`PartitionLog`]. The thread takes every request waiting in the channel (up
//! to [`MAX_GROUP`]), appends them all, then, with [`FlushPolicy::Always`], calls
//! `fdatasync` once, publishes a new view, and only then answers each appender. One sync
//! therefore covers every append that arrived while the previous sync ran. A failed write
//! or sync is answered as an error to every appender it affects, never as an
//! acknowledgement.
//!
//! This is the one batching stage between publishers and the disk: single records
//! queued with [`LogHandle::queue_record`] that follow each other in a group are written
//! as **one** record batch (up to about [`COALESCE_BYTES`]), each appender getting its
//! own offset back; raw batches from Kafka producers are stored as they came, in order
//! with the records around them.
//!
//! Reads ([`LogHandle::view`], and `read`, `offsets`, `offset_for_time`, `size_bytes`
//! built on it) use the view the writer published last: under `Always` it ends at the
//! durable end of the log, so a reader never sees a batch before it is synced; under
//! the weaker policies it ends at the last acknowledged batch. Retention, compaction and
//! recovery publish a new view before they answer.
//!
//! Backpressure: a semaphore bounds the requests in flight ([`HandleConfig::queue_depth`]);
//! an appender waits for a permit asynchronously, so the channel itself never grows
//! without bound and nothing blocks the runtime.

mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::batch::Record;
use crate::error::{AppendError, CompactionError, ReadError, RetentionError};
use crate::log::{
    Appended, CompactionPolicy, CompactionReport, PartitionLog, RetentionOutcome, RetentionPolicy,
};
use crate::offset::Offset;
use crate::view::LogView;
use writer::{Payload, Reply, Request};

pub use writer::{COALESCE_BYTES, MAX_GROUP};

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

/// What the writer shares with every handle: the view readers use.
#[derive(Debug)]
struct Published {
    view: Mutex<LogView>,
    /// Set once the writer has stopped.
    closed: AtomicBool,
}

impl Published {
    fn lock(&self) -> MutexGuard<'_, LogView> {
        // Only ever replaced whole; a poisoned lock still holds a valid view.
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, view: LogView) {
        // The old view is dropped outside the lock (it may release segment files).
        let old = std::mem::replace(&mut *self.lock(), view);
        drop(old);
    }
}

/// A cheap, cloneable handle to a log owned by its writer thread.
#[derive(Debug, Clone)]
pub struct LogHandle {
    sender: mpsc::Sender<Request>,
    permits: Arc<Semaphore>,
    published: Arc<Published>,
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

/// Called once with the outcome of an append, on the writer thread: it must not block.
pub type AppendCallback = Box<dyn FnOnce(Result<Appended, AppendError>) + Send>;

impl LogHandle {
    /// Starts the writer thread for `log`.
    pub fn spawn(log: PartitionLog, config: HandleConfig) -> std::io::Result<LogHandle> {
        // Unbounded by type only: the semaphore bounds what is in flight.
        let (sender, receiver) = mpsc::channel();
        let published = Arc::new(Published {
            view: Mutex::new(writer::visible(&log, config.flush)),
            closed: AtomicBool::new(false),
        });
        let shared = Arc::clone(&published);
        thread::Builder::new()
            .name("weft-log-writer".to_owned())
            .spawn(move || writer::run(log, &receiver, config.flush, &shared))?;
        Ok(LogHandle {
            sender,
            permits: Arc::new(Semaphore::new(config.queue_depth.max(1))),
            published,
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
        let (reply, answer) = oneshot::channel();
        self.queue(Payload::Raw(batch), Reply::Channel(reply))
            .await
            .map_err(|_| AppendError::Closed)?;
        Ok(AppendTicket(answer))
    }

    /// [`Self::queue_raw_batch`] with a callback instead of a ticket: `done` is called
    /// exactly once, on the writer thread after the group commit (or at once with
    /// [`AppendError::Closed`] if the writer has stopped, which is also returned).
    pub async fn queue_raw_batch_with(
        &self,
        batch: Bytes,
        done: AppendCallback,
    ) -> Result<(), AppendError> {
        self.queue_with(Payload::Raw(batch), done).await
    }

    /// Queues one record (after waiting for queue room); `done` is called exactly once
    /// with its offset (`base_offset == last_offset`), on the writer thread once the
    /// record is acknowledged or failed, or at once with [`AppendError::Closed`] if the
    /// writer has stopped (also returned). Records queued one after the other are written
    /// together as one batch by the writer's group commit, in queue order.
    pub async fn queue_record(
        &self,
        record: Record,
        done: AppendCallback,
    ) -> Result<(), AppendError> {
        self.queue_with(Payload::Record(record), done).await
    }

    async fn queue_with(&self, payload: Payload, done: AppendCallback) -> Result<(), AppendError> {
        if let Err(reply) = self.queue(payload, Reply::Callback(done)).await {
            // The callback did not reach the writer: run it here.
            if let Some(reply) = reply {
                reply.send(Err(AppendError::Closed));
            }
            return Err(AppendError::Closed);
        }
        Ok(())
    }

    async fn send_append(&self, payload: Payload) -> Result<Appended, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.queue(payload, Reply::Channel(reply))
            .await
            .map_err(|_| AppendError::Closed)?;
        AppendTicket(answer).wait().await
    }

    /// Sends an append to the writer; gives the reply back if the writer has stopped.
    async fn queue(&self, payload: Payload, reply: Reply) -> Result<(), Option<Reply>> {
        let Ok(permit) = self.permit().await else {
            return Err(Some(reply));
        };
        let request = Request::Append {
            payload,
            reply,
            _permit: permit,
        };
        self.sender
            .send(request)
            .map_err(|mpsc::SendError(request)| request.into_reply())
    }

    /// The view the writer published last, or `None` once the writer stopped. Reading
    /// through it never waits for the writer; its file reads block, so from async code
    /// try [`LogView::read_cached`] first and run other reads in a blocking task.
    pub fn view(&self) -> Option<LogView> {
        if self.published.closed.load(Ordering::SeqCst) {
            return None;
        }
        Some(self.published.lock().clone())
    }

    /// See [`LogView::read`]. Answers from memory at the tail; otherwise reads the files
    /// on the calling thread (prefer [`Self::view`] and a blocking task for large reads).
    pub async fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Bytes>, ReadError> {
        loop {
            let view = self.view().ok_or(ReadError::Closed)?;
            match view.read(from, max_bytes) {
                Err(ReadError::RolledBack) => continue,
                other => return other,
            }
        }
    }

    /// See [`LogView::offset_for_time`] (reads the files on the calling thread).
    pub async fn offset_for_time(&self, timestamp_ms: i64) -> Result<Option<Offset>, ReadError> {
        loop {
            let view = self.view().ok_or(ReadError::Closed)?;
            match view.offset_for_time(timestamp_ms) {
                Err(ReadError::RolledBack) => continue,
                other => return other,
            }
        }
    }

    /// The first stored offset and the high watermark (the next offset a reader may see;
    /// the next offset, once every append queued before was acknowledged), or `None` once
    /// the writer stopped.
    pub async fn offsets(&self) -> Option<(Offset, Offset)> {
        self.view()
            .map(|view| (view.first_offset(), view.next_offset()))
    }

    /// The bytes of the log's segment files up to the view's end, or `None` once the
    /// writer stopped.
    pub async fn size_bytes(&self) -> Option<u64> {
        self.view().map(|view| view.size_bytes())
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
    /// appends wait while a segment is rewritten (readers do not).
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

    /// Runs `action` on the writer thread between groups; the answer comes after the
    /// view that shows its effect is published.
    async fn call<T: Send + 'static>(
        &self,
        action: impl FnOnce(&mut PartitionLog) -> T + Send + 'static,
    ) -> Result<T, Closed> {
        let permit = self.permit().await?;
        let (reply, answer) = oneshot::channel();
        let job: writer::Job = Box::new(move |log| {
            let result = action(log);
            Box::new(move || {
                let _ = reply.send(result);
            })
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
