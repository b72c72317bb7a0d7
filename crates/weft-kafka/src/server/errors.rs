//! Broker errors as Kafka error codes: the one place the Kafka front end maps them.

use weft_broker::PublishError;
use weft_broker::stream::{StorageError, StreamError};
use weft_log::{AppendError, BatchError};

use crate::protocol::ErrorCode;

/// The Kafka code (and message) for a failed produce.
pub(crate) fn publish_error(error: &PublishError) -> (ErrorCode, String) {
    let code = match error {
        PublishError::Denied(_) => ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        PublishError::EventTooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
        PublishError::Storage { source, .. } => stream_error(source),
        // Store-and-forward backpressure from the mesh: retriable.
        PublishError::Forward(_) => ErrorCode::NOT_ENOUGH_REPLICAS,
    };
    (code, error_chain(error))
}

/// The Kafka code for a stream error.
pub(crate) fn stream_error(error: &StreamError) -> ErrorCode {
    match error {
        StreamError::NotFound { .. } | StreamError::NoPartition { .. } => {
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        }
        StreamError::AlreadyExists { .. } => ErrorCode::TOPIC_ALREADY_EXISTS,
        StreamError::Invalid { .. } => ErrorCode::INVALID_REQUEST,
        StreamError::EventTooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
        // The stream discards new events at its limits: a permanent refusal, not a retry.
        StreamError::Full { .. } => ErrorCode::POLICY_VIOLATION,
        StreamError::OffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
        StreamError::Storage { source, .. } => storage_error(source),
    }
}

fn storage_error(error: &StorageError) -> ErrorCode {
    match error {
        StorageError::Append { source, .. } => append_error(source),
        _ => ErrorCode::KAFKA_STORAGE_ERROR,
    }
}

fn append_error(error: &AppendError) -> ErrorCode {
    match error {
        AppendError::OutOfOrderSequence { .. } => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        AppendError::InvalidProducerEpoch { .. } => ErrorCode::INVALID_PRODUCER_EPOCH,
        AppendError::BatchTooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
        AppendError::InvalidBatch(BatchError::CrcMismatch { .. }) => ErrorCode::CORRUPT_MESSAGE,
        AppendError::InvalidBatch(BatchError::UnsupportedCompression { .. }) => {
            ErrorCode::UNSUPPORTED_COMPRESSION_TYPE
        }
        AppendError::InvalidBatch(BatchError::UnsupportedMagic { .. }) => {
            ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
        }
        AppendError::InvalidBatch(_) | AppendError::Encode(_) => ErrorCode::INVALID_RECORD,
        _ => ErrorCode::KAFKA_STORAGE_ERROR,
    }
}

/// An error and its causes on one line, for `error_message` fields.
pub(crate) use weft_core::error_chain;
