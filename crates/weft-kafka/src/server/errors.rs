//! Broker errors as Kafka error codes: the one place the Kafka front end maps them.

use weft_broker::{PublishError, StreamError, WriteRefusal};

use crate::protocol::ErrorCode;

/// The Kafka code (and message) for a failed produce.
pub(crate) fn publish_error(error: &PublishError) -> (ErrorCode, String) {
    let code = match error {
        PublishError::Denied(_) => ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        PublishError::EventTooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
        PublishError::Storage { source, .. } => stream_error(source),
        // Store-and-forward backpressure from the mesh: retriable.
        // Store-and-forward backpressure from the mesh, or a subscriber that must not
        // drop what it gets whose queue is full: retriable, the same answer.
        PublishError::Forward(_) | PublishError::SubscriberFull { .. } => {
            ErrorCode::NOT_ENOUGH_REPLICAS
        }
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
        StreamError::Denied(_) => ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        StreamError::Storage { .. } => error
            .write_refusal()
            .map_or(ErrorCode::KAFKA_STORAGE_ERROR, write_refusal),
    }
}

/// What a refused write of record batches means to a producer.
fn write_refusal(refusal: WriteRefusal) -> ErrorCode {
    match refusal {
        WriteRefusal::OutOfOrderSequence => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        WriteRefusal::InvalidProducerEpoch => ErrorCode::INVALID_PRODUCER_EPOCH,
        WriteRefusal::TooLarge => ErrorCode::MESSAGE_TOO_LARGE,
        WriteRefusal::Corrupt => ErrorCode::CORRUPT_MESSAGE,
        WriteRefusal::UnsupportedCompression => ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
        WriteRefusal::UnsupportedFormat => ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        WriteRefusal::InvalidRecord => ErrorCode::INVALID_RECORD,
    }
}

/// An error and its causes on one line, for `error_message` fields.
pub(crate) use weft_core::error_chain;

#[cfg(test)]
mod tests {
    use weft_broker::{Action, Denied, Principal, StreamName};

    use super::*;

    #[test]
    fn a_refused_stream_operation_is_a_topic_authorization_failure() {
        let stream = StreamName::new("orders").unwrap();
        let denied = Denied::new(&Principal::named("guest"), Action::ReadStream(&stream));
        assert_eq!(
            stream_error(&StreamError::Denied(denied.clone())),
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
        );
        let (code, message) = publish_error(&PublishError::Denied(denied));
        assert_eq!(code, ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        assert_eq!(message, "principal guest may not read stream orders");
    }
}
