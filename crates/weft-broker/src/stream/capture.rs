//! The publish path into streams: find the capturing streams, check limits, drop
//! duplicates, choose partitions, reserve room in streams that discard new events, and
//! only then submit appends; then (for durable acks) wait for them.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use weft_core::Event;
use weft_log::AppendError;

use super::dedupe::{DedupeKey, DedupeWindow};
use super::error::{StorageError, StreamError};
use super::partition::{Partition, PendingAppend, Reservation, log_bytes_bound};
use super::{Entry, StreamName, Streams, partitioner, record};
use crate::broker::{PublishError, StoredAt};

/// The appends one publish submitted, to wait for.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    waiting: Vec<Waiting>,
    /// Capturing streams that had already stored this `source` + `id` within their window.
    pub(crate) duplicates: usize,
}

#[derive(Debug)]
struct Waiting {
    stream: StreamName,
    partition: u32,
    reply: oneshot::Receiver<Result<u64, AppendError>>,
    forget: Option<(Arc<Mutex<DedupeWindow>>, DedupeKey)>,
}

/// A capturing stream's part of a publish, admitted and not submitted yet.
struct Admitted {
    stream: StreamName,
    partition: Arc<Partition>,
    forget: Option<(Arc<Mutex<DedupeWindow>>, DedupeKey)>,
    reservation: Option<Reservation>,
}

impl Streams {
    /// Whether any stream captures `topic` (a publish to it then has appends to submit).
    pub(crate) fn captures(&self, topic: &weft_core::Topic) -> bool {
        let mut any = false;
        self.inner
            .read()
            .index
            .for_each_match(topic, |_| any = true);
        any
    }

    /// Submits `event` to every stream that captures it, in this call (so a publisher's
    /// events reach each partition in its publish order). Every stream is checked before
    /// anything is submitted: the whole event is refused, storing nothing, if it is larger
    /// than any capturing stream accepts or would take a partition of a stream that
    /// discards new events past its limits ([`StreamError::Full`]).
    pub(crate) async fn capture(
        &self,
        event: &Event,
        skip: Option<&StreamName>,
    ) -> Result<Capture, PublishError> {
        let mut targets: Vec<Entry> = Vec::new();
        self.inner
            .read()
            .index
            .for_each_match(&event.topic, |entry| {
                if skip != Some(&entry.0.config.name) {
                    targets.push(entry.clone());
                }
            });
        let mut capture = Capture::default();
        if targets.is_empty() {
            return Ok(capture);
        }
        // A stream whose filters overlap matches more than once; it stores one copy.
        targets.sort_by(|a, b| a.0.config.name.cmp(&b.0.config.name));
        targets.dedup();
        let stored = record::encode(event);
        let size = record::stored_size(&stored);
        for Entry(stream) in &targets {
            if size > stream.config.max_event_bytes {
                return Err(PublishError::EventTooLarge {
                    stream: stream.config.name.clone(),
                    size,
                    max: stream.config.max_event_bytes,
                });
            }
        }
        let now = self.inner.options.clock.now();
        let attributes = &event.cloudevent.attributes;
        let key = partitioner::partition_key(event);
        let bound = log_bytes_bound(&stored, size);
        let mut admitted: Vec<Admitted> = Vec::with_capacity(targets.len());
        for Entry(stream) in targets {
            let config = &stream.config;
            let forget = if config.dedupe_window.is_zero() {
                None
            } else {
                let dedupe_key = DedupeKey::new(&attributes.source, &attributes.id);
                let duplicate = stream
                    .dedupe
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .check_and_insert(&dedupe_key, now, config.dedupe_window);
                if duplicate {
                    capture.duplicates += 1;
                    continue;
                }
                Some((Arc::clone(&stream.dedupe), dedupe_key))
            };
            let Some(partition) = stream.choose_partition(key.as_deref()) else {
                forget_key(forget.as_ref());
                continue;
            };
            let reservation = match stream.reserve(partition, 1, bound) {
                Ok(reservation) => reservation,
                Err(full) => {
                    forget_key(forget.as_ref());
                    for earlier in &admitted {
                        forget_key(earlier.forget.as_ref());
                    }
                    // Dropping `admitted` gives its reservations back.
                    return Err(PublishError::Storage {
                        stream: config.name.clone(),
                        source: full,
                    });
                }
            };
            admitted.push(Admitted {
                stream: config.name.clone(),
                partition: Arc::clone(partition),
                forget,
                reservation,
            });
        }
        for admitted in admitted {
            let (reply, answer) = oneshot::channel();
            let append = PendingAppend {
                record: stored.clone(),
                reply,
                forget: admitted.forget.clone(),
            };
            let submitted = admitted
                .partition
                .submit_reserved(append, admitted.reservation)
                .await;
            if submitted.is_err() {
                forget_key(admitted.forget.as_ref());
                return Err(PublishError::Storage {
                    source: StreamError::storage(admitted.stream.to_string(), StorageError::Closed),
                    stream: admitted.stream,
                });
            }
            capture.waiting.push(Waiting {
                stream: admitted.stream,
                partition: admitted.partition.index,
                reply: answer,
                forget: admitted.forget,
            });
        }
        Ok(capture)
    }
}

impl Streams {
    /// Stores `event` in stream `name` only, whatever its filters and without
    /// deduplication (the same event may be dead-lettered by several consumers), in the
    /// partition of its key (else in turn), and waits until it is stored. Routes whose
    /// destination is a stream and dead letters to a stream come this way.
    pub(crate) async fn append_event(
        &self,
        name: &StreamName,
        event: &Event,
    ) -> Result<StoredAt, StreamError> {
        let stream = self.get(name)?;
        let stored = record::encode(event);
        let size = record::stored_size(&stored);
        let config = &stream.config;
        if size > config.max_event_bytes {
            return Err(StreamError::EventTooLarge {
                stream: name.to_string(),
                size,
                max: config.max_event_bytes,
            });
        }
        let key = partitioner::partition_key(event);
        let partition = stream
            .choose_partition(key.as_deref())
            .ok_or_else(|| StreamError::storage(name.to_string(), StorageError::Closed))?;
        let reservation = stream.reserve(partition, 1, log_bytes_bound(&stored, size))?;
        let (reply, answer) = oneshot::channel();
        let append = PendingAppend {
            record: stored,
            reply,
            forget: None,
        };
        let closed = || StreamError::storage(name.to_string(), StorageError::Closed);
        partition
            .submit_reserved(append, reservation)
            .await
            .map_err(|_| closed())?;
        match answer.await {
            Ok(Ok(offset)) => Ok(StoredAt {
                stream: name.clone(),
                partition: partition.index,
                offset,
            }),
            Ok(Err(source)) => Err(StreamError::storage(
                name.to_string(),
                StorageError::Append {
                    partition: partition.index,
                    source,
                },
            )),
            Err(_) => Err(closed()),
        }
    }
}

impl Capture {
    /// Whether nothing is left to wait for (no capturing stream took the event).
    pub(crate) fn is_settled(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Waits until every submitted append is stored (durably under the stream's flush
    /// policy). The first failure is returned; the event may be stored in other streams.
    pub(crate) async fn wait(self) -> Result<Vec<StoredAt>, PublishError> {
        let mut stored = Vec::with_capacity(self.waiting.len());
        let mut failure = None;
        for waiting in self.waiting {
            let result = match waiting.reply.await {
                Ok(Ok(offset)) => Ok(offset),
                Ok(Err(source)) => Err(StorageError::Append {
                    partition: waiting.partition,
                    source,
                }),
                Err(_) => {
                    forget_key(waiting.forget.as_ref());
                    Err(StorageError::Closed)
                }
            };
            match result {
                Ok(offset) => stored.push(StoredAt {
                    stream: waiting.stream,
                    partition: waiting.partition,
                    offset,
                }),
                Err(source) => {
                    if failure.is_none() {
                        failure = Some(PublishError::Storage {
                            source: StreamError::storage(waiting.stream.to_string(), source),
                            stream: waiting.stream,
                        });
                    }
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(stored),
        }
    }
}

fn forget_key(forget: Option<&(Arc<Mutex<DedupeWindow>>, DedupeKey)>) {
    if let Some((window, key)) = forget {
        window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .forget(key);
    }
}
