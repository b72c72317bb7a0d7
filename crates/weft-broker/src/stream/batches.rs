//! Streams as Kafka topics: whole record batches in and out, for the Kafka front end.
//!
//! A produce stores the batches a producer sent as they are (only their base offsets
//! change; compression and idempotent-producer checks are the log's, see
//! `weft_log::PartitionLog::append_raw_batch`), and a fetch returns stored batches
//! without decoding or re-encoding them. [`crate::Broker::submit_produce`] wraps
//! [`Streams::submit_batches`] to also publish every produced record on the topic space.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};
use weft_core::Event;
use weft_log::{BatchView, Offset, ReadError};

use super::error::{StorageError, StreamError};
use super::partition::{Partition, RawAppend};
use super::{Stream, StreamName, Streams};

/// What one produce to one partition stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchesAppended {
    /// The offset of the first record.
    pub base_offset: u64,
    /// The offset of the last record.
    pub last_offset: u64,
    /// The partition's first stored offset after the append (Kafka's `log_start_offset`).
    pub log_start_offset: u64,
    /// The produced records as events (empty for a duplicate), by offset.
    pub events: Vec<(u64, Event)>,
    /// True when an idempotent producer's batch had been stored before: nothing was
    /// appended and the offsets are those of the first time.
    pub duplicate: bool,
}

/// Batches queued on a partition by [`Streams::submit_batches`], to wait for.
#[derive(Debug)]
pub(crate) struct SubmittedBatches {
    name: StreamName,
    partition: u32,
    target: Arc<Partition>,
    batches: Vec<(
        BatchView,
        oneshot::Receiver<Result<weft_log::Appended, weft_log::AppendError>>,
    )>,
}

impl SubmittedBatches {
    /// The stream written to.
    pub(crate) fn stream(&self) -> &StreamName {
        &self.name
    }

    /// Waits until every batch is acknowledged, and decodes the stored records.
    pub(crate) async fn wait(self) -> Result<BatchesAppended, StreamError> {
        let SubmittedBatches {
            name,
            partition,
            target,
            batches,
        } = self;
        let mut first = None;
        let mut last = 0;
        let mut duplicate = true;
        let mut events = Vec::new();
        for (view, answer) in batches {
            let appended = answer
                .await
                .unwrap_or(Err(weft_log::AppendError::Closed))
                .map_err(|source| {
                    StreamError::storage(
                        name.to_string(),
                        StorageError::Append { partition, source },
                    )
                })?;
            first.get_or_insert(appended.base_offset.get());
            last = appended.last_offset.get();
            duplicate &= appended.duplicate;
            if !appended.duplicate {
                decode_stored(&target, &view, appended.base_offset, &mut events)?;
            }
        }
        let (log_start_offset, _) = target
            .offsets()
            .await
            .map_err(|source| StreamError::storage(name.to_string(), source))?;
        Ok(BatchesAppended {
            base_offset: first.unwrap_or(0),
            last_offset: last,
            log_start_offset,
            events,
            duplicate,
        })
    }
}

/// What one fetch from one partition found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedBatches {
    /// Whole stored batches, the first one containing the fetch offset (it may start
    /// before it, as in Kafka).
    pub batches: Vec<Bytes>,
    /// The offset after the last stored record (Kafka's high watermark: every stored
    /// record is acknowledged, so it is also the last stable offset).
    pub high_watermark: u64,
    /// The first stored offset.
    pub log_start_offset: u64,
}

impl Streams {
    /// How many partitions stream `name` has.
    pub(crate) fn partition_count(&self, name: &StreamName) -> Result<u32, StreamError> {
        Ok(self.get(name)?.partitions.len() as u32)
    }

    /// Woken after every append to any partition of stream `name` (for long polls).
    pub(crate) fn appended_signal(&self, name: &StreamName) -> Result<Arc<Notify>, StreamError> {
        Ok(Arc::clone(&self.get(name)?.appended))
    }

    /// Validates the record batches `records` (one or more, as a Kafka producer sends a
    /// partition's data) and queues them on partition `partition` of stream `name`
    /// (waiting only for queue room); [`SubmittedBatches::wait`] answers once all are
    /// acknowledged (durable under the stream's flush policy). Batches submitted by one caller
    /// are stored in submission order, so a connection can submit its next produce
    /// before the previous one is durable and let one group commit cover both.
    pub(crate) async fn submit_batches(
        &self,
        name: &StreamName,
        partition: u32,
        records: Bytes,
    ) -> Result<SubmittedBatches, StreamError> {
        let stream = self.get(name)?;
        let target = Arc::clone(partition_of(&stream, partition)?);
        let batches = split_batches(name, partition, &records)?;
        let mut replies = Vec::with_capacity(batches.len());
        for view in &batches {
            let size = view.len();
            if size > stream.config.max_event_bytes {
                return Err(StreamError::EventTooLarge {
                    stream: name.to_string(),
                    size,
                    max: stream.config.max_event_bytes,
                });
            }
            let count = u64::try_from(view.header().record_count).unwrap_or(0);
            let reservation = stream.reserve(&target, count, size as u64)?;
            let (reply, answer) = oneshot::channel();
            let append = RawAppend {
                batch: view.as_bytes().clone(),
                reply,
            };
            target
                .submit_raw(append, reservation)
                .await
                .map_err(|_| StreamError::storage(name.to_string(), StorageError::Closed))?;
            replies.push(answer);
        }
        Ok(SubmittedBatches {
            name: name.clone(),
            partition,
            target,
            batches: batches.into_iter().zip(replies).collect(),
        })
    }

    /// Whole stored batches of one partition from `offset` on, up to about `max_bytes`
    /// (at least one batch when one is stored at or after `offset`). An offset before
    /// the first or after the next is [`StreamError::OffsetOutOfRange`]; the next offset
    /// itself gives no batches.
    pub(crate) async fn fetch_batches(
        &self,
        name: &StreamName,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<FetchedBatches, StreamError> {
        let stream = self.get(name)?;
        let target = partition_of(&stream, partition)?;
        // Batches, first offset and high watermark all come from one view of the log.
        match target.fetch(offset, max_bytes.max(1)).await {
            Ok(fetched) => Ok(FetchedBatches {
                batches: fetched.batches,
                high_watermark: fetched.next,
                log_start_offset: fetched.first,
            }),
            Err(StorageError::Read {
                source: ReadError::OffsetOutOfRange { first, next, .. },
                ..
            }) => Err(StreamError::OffsetOutOfRange {
                stream: name.to_string(),
                partition,
                offset,
                first: first.get(),
                next: next.get(),
            }),
            Err(source) => Err(StreamError::storage(name.to_string(), source)),
        }
    }

    /// The first stored offset and the next offset of one partition.
    pub(crate) async fn partition_offsets(
        &self,
        name: &StreamName,
        partition: u32,
    ) -> Result<(u64, u64), StreamError> {
        let stream = self.get(name)?;
        partition_of(&stream, partition)?
            .offsets()
            .await
            .map_err(|source| StreamError::storage(name.to_string(), source))
    }

    /// The first offset whose record timestamp is at or after `timestamp_ms`, with that
    /// record's timestamp (Kafka's `ListOffsets` by time); `None` when there is none.
    pub(crate) async fn offset_for_timestamp(
        &self,
        name: &StreamName,
        partition: u32,
        timestamp_ms: i64,
    ) -> Result<Option<(u64, i64)>, StreamError> {
        let stream = self.get(name)?;
        let target = partition_of(&stream, partition)?;
        let storage = |source| StreamError::storage(name.to_string(), source);
        let found = target
            .offset_for_time(timestamp_ms)
            .await
            .map_err(storage)?;
        let Some(offset) = found else {
            return Ok(None);
        };
        let records = target.read_records(offset, 1).await.map_err(storage)?;
        Ok(records
            .first()
            .map(|(at, record)| (*at, record.timestamp_ms))
            .or(Some((offset, timestamp_ms))))
    }
}

fn partition_of(stream: &Stream, partition: u32) -> Result<&Arc<Partition>, StreamError> {
    stream
        .partitions
        .get(partition as usize)
        .ok_or_else(|| StreamError::NoPartition {
            stream: stream.config.name.to_string(),
            partition,
            partitions: stream.partitions.len() as u32,
        })
}

/// Splits a producer's record set into validated batches (header and CRC; the log checks
/// the records when it appends).
fn split_batches(
    name: &StreamName,
    partition: u32,
    records: &Bytes,
) -> Result<Vec<BatchView>, StreamError> {
    let invalid = |source| {
        StreamError::storage(
            name.to_string(),
            StorageError::Append {
                partition,
                source: weft_log::AppendError::InvalidBatch(source),
            },
        )
    };
    let mut batches = Vec::new();
    let mut rest = records.clone();
    while !rest.is_empty() {
        let view = BatchView::parse_prefix(&rest).map_err(invalid)?;
        rest = rest.slice(view.len()..);
        batches.push(view);
    }
    if batches.is_empty() {
        return Err(invalid(weft_log::BatchError::Incomplete {
            needed: 61,
            available: 0,
        }));
    }
    Ok(batches)
}

/// Decodes the records of a batch stored at `base` into events.
fn decode_stored(
    partition: &Partition,
    view: &BatchView,
    base: Offset,
    out: &mut Vec<(u64, Event)>,
) -> Result<(), StreamError> {
    let corrupt = |source| StorageError::Corrupt {
        partition: partition.index,
        source,
    };
    let shift = base.get().wrapping_sub(view.base_offset().get());
    for entry in view.records() {
        let (offset, record) = entry
            .map_err(corrupt)
            .map_err(|source| StreamError::storage(view_stream(partition), source))?;
        let offset = offset.get().wrapping_add(shift);
        let event = partition
            .decode(offset, record)
            .map_err(|source| StreamError::storage(view_stream(partition), source))?;
        out.push((offset, event));
    }
    Ok(())
}

fn view_stream(partition: &Partition) -> String {
    partition.stream_name().to_string()
}

#[cfg(test)]
mod tests;
