//! Produce and InitProducerId.
//!
//! Each partition's record batches go to [`weft_broker::Broker::produce`]: stored as sent
//! (idempotent producers' retries stored once), then published as events. `acks` 0, 1
//! and -1 all wait for the stream's own durability (fsync by default) before answering;
//! with `acks=0` the answer is simply not sent. Transactions are not supported:
//! a transactional produce or InitProducerId is refused.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use weft_broker::PendingProduce;
use weft_broker::StreamName;

use super::errors::publish_error;
use super::{KafkaContext, Session};
use crate::protocol::{
    ErrorCode, InitProducerIdRequest, InitProducerIdResponse, ProducePartitionResponse,
    ProduceRequest, ProduceResponse, ProduceTopicResponse,
};

/// Producer ids start from the clock (milliseconds shifted left 20 bits), so ids handed
/// out before a restart are never handed out again without storing a counter.
pub(super) fn first_producer_id() -> i64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    i64::try_from(millis).unwrap_or(0) << 20
}

pub(super) fn init_producer_id(
    context: &KafkaContext,
    request: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        return InitProducerIdResponse {
            error_code: ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ..Default::default()
        };
    }
    // A producer asking to bump its epoch (KIP-360) gets a new id instead: every id
    // starts at epoch 0 and sequence 0.
    let id = context.inner.producer_ids.fetch_add(1, Ordering::Relaxed) + 1;
    InitProducerIdResponse {
        error_code: ErrorCode::NONE,
        producer_id: id,
        producer_epoch: 0,
        ..Default::default()
    }
}

/// A produce request whose batches are queued (or refused); see [`submit`].
pub(crate) struct InFlight {
    topics: Vec<(String, Vec<PartitionInFlight>)>,
}

enum PartitionInFlight {
    Answered(ProducePartitionResponse),
    Pending(i32, PendingProduce),
}

/// Validates every partition's batches and queues them, in request order; the answers
/// come from [`InFlight::finish`].
pub(super) async fn submit(
    context: &KafkaContext,
    session: &Session,
    request: ProduceRequest,
) -> InFlight {
    let transactional = request.transactional_id.is_some();
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = StreamName::new(topic.name.clone());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let index = partition.index;
            let answered = PartitionInFlight::Answered;
            let entry = match (&name, u32::try_from(index), partition.records) {
                _ if transactional => answered(failed(
                    index,
                    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    "transactions are not supported by weft".to_owned(),
                )),
                (Err(error), _, _) => answered(failed(
                    index,
                    ErrorCode::INVALID_TOPIC_EXCEPTION,
                    error.to_string(),
                )),
                (_, Err(_), _) => answered(failed(
                    index,
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("no partition {index}"),
                )),
                (_, _, None) => answered(failed(
                    index,
                    ErrorCode::CORRUPT_MESSAGE,
                    "no records".to_owned(),
                )),
                (Ok(stream), Ok(partition_index), Some(records)) => match context
                    .broker()
                    .submit_produce(&session.principal, stream, partition_index, records)
                    .await
                {
                    Ok(pending) => PartitionInFlight::Pending(index, pending),
                    Err(error) => answered(refused(index, &topic.name, &error)),
                },
            };
            partitions.push(entry);
        }
        topics.push((topic.name, partitions));
    }
    InFlight { topics }
}

fn failed(index: i32, error_code: ErrorCode, message: String) -> ProducePartitionResponse {
    ProducePartitionResponse {
        index,
        error_code,
        base_offset: -1,
        error_message: Some(message),
        ..Default::default()
    }
}

fn refused(index: i32, topic: &str, error: &weft_broker::PublishError) -> ProducePartitionResponse {
    let (code, message) = publish_error(error);
    tracing::debug!(%message, topic, partition = index, "produce refused");
    failed(index, code, message)
}

impl InFlight {
    /// Waits for every queued partition (in order) and builds the response.
    pub(crate) async fn finish(self) -> ProduceResponse {
        let mut responses = Vec::with_capacity(self.topics.len());
        for (name, partitions) in self.topics {
            let mut answers = Vec::with_capacity(partitions.len());
            for partition in partitions {
                let answer = match partition {
                    PartitionInFlight::Answered(answer) => answer,
                    PartitionInFlight::Pending(index, pending) => match pending.finish().await {
                        Ok(appended) => ProducePartitionResponse {
                            index,
                            error_code: ErrorCode::NONE,
                            base_offset: i64::try_from(appended.base_offset).unwrap_or(-1),
                            log_start_offset: i64::try_from(appended.log_start_offset)
                                .unwrap_or(-1),
                            ..Default::default()
                        },
                        Err(error) => refused(index, &name, &error),
                    },
                };
                answers.push(answer);
            }
            responses.push(ProduceTopicResponse {
                name,
                partitions: answers,
            });
        }
        ProduceResponse {
            responses,
            throttle_time_ms: 0,
        }
    }
}
