//! Produce and InitProducerId.
//!
//! Each partition's record batches go to [`weft_broker::Broker::produce`]: stored as sent
//! (idempotent producers' retries stored once), then published as events. `acks` 0, 1
//! and -1 all wait for the stream's own durability (fsync by default) before answering;
//! with `acks=0` the answer is simply not sent. Transactions are not supported:
//! a transactional produce or InitProducerId is refused.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use weft_broker::stream::StreamName;

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

pub(super) async fn produce(
    context: &KafkaContext,
    session: &Session,
    request: ProduceRequest,
) -> ProduceResponse {
    let mut responses = Vec::with_capacity(request.topics.len());
    let transactional = request.transactional_id.is_some();
    for topic in request.topics {
        let name = StreamName::new(topic.name.clone());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let failed = |error_code: ErrorCode, message: String| ProducePartitionResponse {
                index: partition.index,
                error_code,
                base_offset: -1,
                error_message: Some(message),
                ..Default::default()
            };
            let response = match (&name, u32::try_from(partition.index), partition.records) {
                _ if transactional => failed(
                    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    "transactions are not supported by weft".to_owned(),
                ),
                (Err(error), _, _) => failed(ErrorCode::INVALID_TOPIC_EXCEPTION, error.to_string()),
                (_, Err(_), _) => failed(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("no partition {}", partition.index),
                ),
                (_, _, None) => failed(ErrorCode::CORRUPT_MESSAGE, "no records".to_owned()),
                (Ok(stream), Ok(index), Some(records)) => {
                    match context
                        .broker()
                        .produce(&session.principal, stream, index, records)
                        .await
                    {
                        Ok(appended) => ProducePartitionResponse {
                            index: partition.index,
                            error_code: ErrorCode::NONE,
                            base_offset: i64::try_from(appended.base_offset).unwrap_or(-1),
                            log_start_offset: i64::try_from(appended.log_start_offset)
                                .unwrap_or(-1),
                            ..Default::default()
                        },
                        Err(error) => {
                            let (code, message) = publish_error(&error);
                            tracing::debug!(%message, topic = %topic.name, partition = partition.index, "produce refused");
                            failed(code, message)
                        }
                    }
                }
            };
            partitions.push(response);
        }
        responses.push(ProduceTopicResponse {
            name: topic.name,
            partitions,
        });
    }
    ProduceResponse {
        responses,
        throttle_time_ms: 0,
    }
}
