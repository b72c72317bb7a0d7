//! Fetch (long poll over stored batches, never re-encoded) and ListOffsets.
//!
//! A fetch reads every requested partition; if fewer than `min_bytes` came back it waits
//! (up to `max_wait_ms`) for an append to any of the streams involved, then reads again.
//! Each partition returns whole stored batches, the first one containing the fetch
//! offset (it may begin earlier, as in Kafka; clients skip the records before), within
//! `partition_max_bytes` and the response's `max_bytes`, except that the first batch is
//! always returned whole so a consumer can make progress (KIP-74). Fetch sessions
//! (KIP-227) are not kept: every answer has session id 0, which tells clients to send
//! full fetches. Every stored record is committed, so the last stable offset is the
//! high watermark whatever the isolation level.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use weft_broker::StreamName;

use super::Caller;
use super::errors::stream_error;
use crate::protocol::{
    ErrorCode, FetchPartitionData, FetchRequest, FetchResponse, FetchableTopicResponse,
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
    ListOffsetsTopicResponse,
};

/// The longest a fetch waits, whatever the client asks (Kafka clients ask 500 ms).
const MAX_WAIT: Duration = Duration::from_secs(30);

pub(super) async fn fetch(context: &Caller<'_>, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0).max(1);
    let signals: Vec<Arc<Notify>> = request
        .topics
        .iter()
        .filter_map(|topic| StreamName::new(topic.topic.clone()).ok())
        .filter_map(|name| {
            context
                .broker()
                .appended_signal(context.principal(), &name)
                .ok()
        })
        .collect();
    loop {
        // Registered before reading, so an append between the read and the wait wakes us.
        let mut waits: Vec<_> = signals
            .iter()
            .map(|signal| Box::pin(signal.notified()))
            .collect();
        for wait in &mut waits {
            wait.as_mut().enable();
        }
        let (response, bytes, errors) = read_once(context, &request).await;
        if bytes >= min_bytes || errors || Instant::now() >= deadline || waits.is_empty() {
            return response;
        }
        let any_append = futures_any(waits);
        if tokio::time::timeout_at(deadline, any_append).await.is_err() {
            // Timed out: answer with what is there now (appends may have raced the timer).
            return read_once(context, &request).await.0;
        }
    }
}

/// Resolves when any of `waits` does.
async fn futures_any<F: std::future::Future<Output = ()>>(mut waits: Vec<std::pin::Pin<Box<F>>>) {
    std::future::poll_fn(|cx| {
        for wait in &mut waits {
            if wait.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await;
}

/// One pass over every requested partition: the response, its record bytes, and whether
/// any partition had an error (which ends a long poll at once).
async fn read_once(context: &Caller<'_>, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
    let mut total = 0usize;
    let mut errors = false;
    let mut responses = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let name = StreamName::new(topic.topic.clone());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in &topic.partitions {
            let mut data = FetchPartitionData {
                partition_index: partition.partition,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                ..Default::default()
            };
            let result = match (
                &name,
                u32::try_from(partition.partition),
                u64::try_from(partition.fetch_offset),
            ) {
                (Err(_), _, _) | (_, Err(_), _) => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                (_, _, Err(_)) => Err(ErrorCode::OFFSET_OUT_OF_RANGE),
                (Ok(stream), Ok(index), Ok(offset)) => {
                    let limit = usize::try_from(partition.partition_max_bytes)
                        .unwrap_or(0)
                        .min(budget);
                    // The first batch of the response comes whole, whatever the limits.
                    let limit = if total == 0 { limit.max(1) } else { limit };
                    if limit == 0 {
                        partitions_offsets(context, stream, index).await
                    } else {
                        context
                            .broker()
                            .fetch_batches(context.principal(), stream, index, offset, limit)
                            .await
                            .map_err(|error| stream_error(&error))
                    }
                }
            };
            match result {
                Ok(fetched) => {
                    let bytes: usize = fetched.batches.iter().map(bytes::Bytes::len).sum();
                    total += bytes;
                    budget = budget.saturating_sub(bytes);
                    data.high_watermark = i64::try_from(fetched.high_watermark).unwrap_or(-1);
                    data.last_stable_offset = data.high_watermark;
                    data.log_start_offset = i64::try_from(fetched.log_start_offset).unwrap_or(-1);
                    data.records = fetched.batches;
                }
                Err(code) => {
                    errors = true;
                    data.error_code = code;
                    if let (Ok(stream), Ok(index)) = (&name, u32::try_from(partition.partition))
                        && let Ok((first, next)) = context
                            .broker()
                            .partition_offsets(context.principal(), stream, index)
                            .await
                    {
                        data.high_watermark = i64::try_from(next).unwrap_or(-1);
                        data.last_stable_offset = data.high_watermark;
                        data.log_start_offset = i64::try_from(first).unwrap_or(-1);
                    }
                }
            }
            partitions.push(data);
        }
        responses.push(FetchableTopicResponse {
            topic: topic.topic.clone(),
            partitions,
        });
    }
    let response = FetchResponse {
        responses,
        ..Default::default()
    };
    (response, total, errors)
}

/// A partition whose share of the response budget is used up: its offsets, no batches.
async fn partitions_offsets(
    context: &Caller<'_>,
    stream: &StreamName,
    index: u32,
) -> Result<weft_broker::FetchedBatches, ErrorCode> {
    let (first, next) = context
        .broker()
        .partition_offsets(context.principal(), stream, index)
        .await
        .map_err(|error| stream_error(&error))?;
    Ok(weft_broker::FetchedBatches {
        batches: Vec::new(),
        high_watermark: next,
        log_start_offset: first,
    })
}

/// ListOffsets: `-2` earliest, `-1` latest, `-3` the latest record (weft does not track
/// the record with the largest timestamp separately), otherwise the first offset with a
/// timestamp at or after the one asked.
pub(super) async fn list_offsets(
    context: &Caller<'_>,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = StreamName::new(topic.name.clone());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let mut response = ListOffsetsPartitionResponse {
                partition_index: partition.partition_index,
                ..Default::default()
            };
            let found = match (&name, u32::try_from(partition.partition_index)) {
                (Ok(stream), Ok(index)) => {
                    lookup(context, stream, index, partition.timestamp).await
                }
                _ => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            };
            match found {
                Ok(Some((offset, timestamp))) => {
                    response.offset = offset;
                    response.timestamp = timestamp;
                    if version == 0 {
                        response.old_style_offsets = vec![offset];
                    }
                }
                Ok(None) => {
                    response.offset = -1;
                    response.timestamp = -1;
                }
                Err(code) => response.error_code = code,
            }
            partitions.push(response);
        }
        topics.push(ListOffsetsTopicResponse {
            name: topic.name,
            partitions,
        });
    }
    ListOffsetsResponse {
        throttle_time_ms: 0,
        topics,
    }
}

async fn lookup(
    context: &Caller<'_>,
    stream: &StreamName,
    index: u32,
    timestamp: i64,
) -> Result<Option<(i64, i64)>, ErrorCode> {
    let broker = context.broker();
    let offsets = broker
        .partition_offsets(context.principal(), stream, index)
        .await
        .map_err(|error| stream_error(&error))?;
    let as_i64 = |offset: u64| i64::try_from(offset).unwrap_or(i64::MAX);
    Ok(match timestamp {
        -2 => Some((as_i64(offsets.0), -1)),
        -1 => Some((as_i64(offsets.1), -1)),
        -3 if offsets.1 > offsets.0 => Some((as_i64(offsets.1 - 1), -1)),
        -3 => None,
        at => broker
            .offset_for_timestamp(context.principal(), stream, index, at)
            .await
            .map_err(|error| stream_error(&error))?
            .map(|(offset, timestamp)| (as_i64(offset), timestamp)),
    })
}
