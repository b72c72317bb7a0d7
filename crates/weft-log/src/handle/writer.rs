//! The writer thread: group commit, coalescing of single records into one batch, and
//! publishing the view readers use.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::{AppendCallback, FlushPolicy, Published};
use crate::batch::Record;
use crate::error::AppendError;
use crate::log::{Appended, PartitionLog};
use crate::view::LogView;

/// Most requests handled in one group commit.
pub const MAX_GROUP: usize = 1024;

/// Records queued one by one that follow each other in a group are written as one batch
/// of about this many bytes at most (a larger record gets a batch of its own).
pub const COALESCE_BYTES: usize = 1024 * 1024;

/// Work run on the writer thread between groups; returns the answer to deliver once the
/// view showing its effect is published.
pub(super) type Job = Box<dyn FnOnce(&mut PartitionLog) -> Box<dyn FnOnce() + Send> + Send>;

pub(super) enum Payload {
    /// One record, coalesced with its neighbours in the group.
    Record(Record),
    /// Records written as one batch of their own.
    Records(Vec<Record>),
    /// A producer's batch, stored as received apart from its offsets.
    Raw(Bytes),
}

/// Where the answer to an append goes.
pub(super) enum Reply {
    Channel(oneshot::Sender<Result<Appended, AppendError>>),
    Callback(AppendCallback),
}

impl Reply {
    pub(super) fn send(self, result: Result<Appended, AppendError>) {
        match self {
            Reply::Channel(sender) => {
                let _ = sender.send(result);
            }
            Reply::Callback(done) => done(result),
        }
    }
}

pub(super) enum Request {
    Append {
        payload: Payload,
        reply: Reply,
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

impl Request {
    /// The reply of an append that was not delivered.
    pub(super) fn into_reply(self) -> Option<Reply> {
        match self {
            Request::Append { reply, .. } => Some(reply),
            Request::Run { .. } | Request::Close { .. } => None,
        }
    }
}

/// What readers may see of `log` under `flush`: only synced bytes under `Always`, every
/// acknowledged one otherwise (the weaker policies acknowledge before syncing).
pub(super) fn visible(log: &PartitionLog, flush: FlushPolicy) -> LogView {
    match flush {
        FlushPolicy::Always => log.durable_view(),
        FlushPolicy::Interval(_) | FlushPolicy::Never => log.written_view(),
    }
}

/// The writer thread: group commit until every handle is gone or `Close` arrives.
pub(super) fn run(
    mut log: PartitionLog,
    receiver: &mpsc::Receiver<Request>,
    flush: FlushPolicy,
    published: &Published,
) {
    let mut last_sync = Instant::now();
    loop {
        let first = match flush {
            FlushPolicy::Interval(interval) => {
                let wait = interval.saturating_sub(last_sync.elapsed());
                match receiver.recv_timeout(wait) {
                    Ok(request) => request,
                    Err(RecvTimeoutError::Timeout) => {
                        sync_logging(&mut log);
                        // A failed sync cuts acknowledged bytes the view showed.
                        published.publish(visible(&log, flush));
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
        if let Some(reply) = commit_group(&mut log, group, flush, &mut last_sync, published) {
            stop(&mut log, flush, published);
            let _ = reply.send(log);
            return;
        }
    }
    stop(&mut log, flush, published);
}

fn stop(log: &mut PartitionLog, flush: FlushPolicy, published: &Published) {
    sync_logging(log);
    published.publish(visible(log, flush));
    published
        .closed
        .store(true, std::sync::atomic::Ordering::SeqCst);
}

/// An append made in this group, waiting for the sync.
enum Pending {
    /// One batch, one appender.
    Batch {
        reply: Reply,
        appended: Appended,
        rollbacks: u64,
    },
    /// Coalesced records: appender `i` has offset `base_offset + i`.
    Records {
        replies: Vec<Reply>,
        appended: Appended,
        rollbacks: u64,
    },
}

/// Records queued one by one, gathered into the batch the group will write.
#[derive(Default)]
struct Coalescer {
    records: Vec<Record>,
    replies: Vec<Reply>,
    bytes: usize,
}

impl Coalescer {
    fn push(
        &mut self,
        log: &mut PartitionLog,
        pending: &mut Vec<Pending>,
        record: Record,
        reply: Reply,
    ) {
        let size = estimated_size(&record);
        // The estimate is an upper bound, so a coalesced batch never exceeds the log's
        // limit because of its neighbours (a record too large alone fails alone).
        let limit = COALESCE_BYTES.min(log.max_batch_bytes().saturating_sub(BATCH_HEADER_BYTES));
        if !self.records.is_empty() && self.bytes + size > limit {
            self.flush(log, pending);
        }
        self.bytes += size;
        self.records.push(record);
        self.replies.push(reply);
    }

    /// Appends the gathered records as one batch.
    fn flush(&mut self, log: &mut PartitionLog, pending: &mut Vec<Pending>) {
        if self.records.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.records);
        let replies = std::mem::take(&mut self.replies);
        self.bytes = 0;
        let rollbacks = log.rollbacks();
        match log.append(&records) {
            Ok(appended) => pending.push(Pending::Records {
                replies,
                appended,
                rollbacks,
            }),
            Err(error) => {
                for reply in replies {
                    reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// The fixed header of a record batch.
const BATCH_HEADER_BYTES: usize = 61;

/// At least the bytes `record` adds to a batch: its fields plus the most framing a
/// record (36 bytes) and each header (10 bytes) can take.
fn estimated_size(record: &Record) -> usize {
    let field = |bytes: &Option<Bytes>| bytes.as_ref().map_or(0, Bytes::len);
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| name.len() + field(value) + 10)
        .sum();
    field(&record.key) + field(&record.value) + headers + 36
}

/// Appends a group (coalescing consecutive single records into one batch), syncs once
/// if the policy asks, publishes the new view, answers every appender, then runs the
/// other requests. Returns the reply of a `Close` request if the group had one.
fn commit_group(
    log: &mut PartitionLog,
    group: Vec<Request>,
    flush: FlushPolicy,
    last_sync: &mut Instant,
    published: &Published,
) -> Option<oneshot::Sender<PartitionLog>> {
    let mut pending = Vec::new();
    let mut coalescer = Coalescer::default();
    let mut appends = false;
    let mut jobs = Vec::new();
    let mut close = None;
    for request in group {
        match request {
            Request::Append {
                payload: Payload::Record(record),
                reply,
                _permit,
            } => {
                appends = true;
                coalescer.push(log, &mut pending, record, reply);
            }
            Request::Append {
                payload,
                reply,
                _permit,
            } => {
                appends = true;
                // Order: the records gathered so far go first.
                coalescer.flush(log, &mut pending);
                let rollbacks = log.rollbacks();
                let result = match payload {
                    Payload::Records(records) => log.append(&records),
                    Payload::Raw(batch) => log.append_raw_batch(batch),
                    Payload::Record(record) => log.append(std::slice::from_ref(&record)),
                };
                match result {
                    Ok(appended) => pending.push(Pending::Batch {
                        reply,
                        appended,
                        rollbacks,
                    }),
                    Err(error) => reply.send(Err(error)),
                }
            }
            Request::Run { job, _permit } => jobs.push(job),
            Request::Close { reply } => close = Some(reply),
        }
    }
    coalescer.flush(log, &mut pending);
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
    if appends || sync_error.is_some() {
        // Before any answer: an appender that reads after its acknowledgement sees its data.
        published.publish(visible(log, flush));
    }
    let outcome = |appended: &Appended, rollbacks: u64| {
        let durable = flush != FlushPolicy::Always || appended.last_offset < log.durable_offset();
        if log.rollbacks() == rollbacks && durable {
            Ok(())
        } else if let Some(source) = &sync_error {
            Err(AppendError::Io {
                operation: "sync",
                source: source.clone(),
            })
        } else {
            Err(AppendError::RolledBack)
        }
    };
    for entry in pending {
        match entry {
            Pending::Batch {
                reply,
                appended,
                rollbacks,
            } => reply.send(outcome(&appended, rollbacks).map(|()| appended)),
            Pending::Records {
                replies,
                appended,
                rollbacks,
            } => {
                let result = outcome(&appended, rollbacks);
                for (position, reply) in replies.into_iter().enumerate() {
                    let offset = appended.base_offset.plus(position as u64);
                    reply.send(result.clone().map(|()| Appended {
                        base_offset: offset,
                        last_offset: offset,
                        duplicate: false,
                    }));
                }
            }
        }
    }
    if !jobs.is_empty() {
        let answers: Vec<_> = jobs.into_iter().map(|job| job(log)).collect();
        published.publish(visible(log, flush));
        for answer in answers {
            answer();
        }
    }
    close
}

fn sync_logging(log: &mut PartitionLog) {
    if let Err(error) = log.sync() {
        tracing::warn!(%error, "log sync failed; unsynced appends were discarded");
    }
}
