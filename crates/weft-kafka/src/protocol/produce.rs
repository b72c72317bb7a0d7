//! Produce (key 0): versions 0-9, flexible from 9; and InitProducerId (key 22): versions
//! 0-4, flexible from 2.

use bytes::Bytes;

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// Produce request.
    pub struct ProduceRequest {
        /// The transactional id, or null if the producer is not transactional (v3+).
        transactional_id: Option<String> [3, MAX],
        /// Required acknowledgements: 0 none, 1 leader, -1 all in-sync replicas.
        acks: i16 [0, MAX],
        /// How long to wait for the acknowledgements, in milliseconds.
        timeout_ms: i32 [0, MAX],
        /// Each topic to produce to.
        topics: Vec<ProduceTopic> [0, MAX],
    }

    /// One topic of a produce request.
    pub struct ProduceTopic {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition to produce to.
        partitions: Vec<ProducePartition> [0, MAX],
    }

    /// One partition of a produce request.
    pub struct ProducePartition {
        /// The partition index.
        index: i32 [0, MAX],
        /// The record batches as sent (a zero-copy slice of the request frame).
        records: Option<Bytes> [0, MAX],
    }

    /// Produce response.
    pub struct ProduceResponse {
        /// Each topic produced to.
        responses: Vec<ProduceTopicResponse> [0, MAX],
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
    }

    /// One topic of a produce response.
    pub struct ProduceTopicResponse {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition produced to.
        partitions: Vec<ProducePartitionResponse> [0, MAX],
    }

    /// One partition of a produce response.
    pub struct ProducePartitionResponse {
        /// The partition index.
        index: i32 [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The offset of the first appended record.
        base_offset: i64 [0, MAX],
        /// The log append time, or -1 for create time topics (v2+).
        log_append_time_ms: i64 [2, MAX] default(-1),
        /// The log start offset (v5+).
        log_start_offset: i64 [5, MAX] default(-1),
        /// The records that caused the batch to be dropped (v8+).
        record_errors: Vec<BatchIndexAndErrorMessage> [8, MAX],
        /// A summary of why the batch was dropped (v8+).
        error_message: Option<String> [8, MAX],
    }

    /// One record that caused a batch to be dropped.
    pub struct BatchIndexAndErrorMessage {
        /// The index of the record in its batch.
        batch_index: i32 [0, MAX],
        /// Why the record was rejected.
        batch_index_error_message: Option<String> [0, MAX],
    }

    /// InitProducerId request.
    pub struct InitProducerIdRequest {
        /// The transactional id, or null for an idempotent producer.
        transactional_id: Option<String> [0, MAX],
        /// The transaction timeout in milliseconds.
        transaction_timeout_ms: i32 [0, MAX],
        /// The current producer id, or -1 (v3+).
        producer_id: i64 [3, MAX] default(-1),
        /// The current producer epoch, or -1 (v3+).
        producer_epoch: i16 [3, MAX] default(-1),
    }

    /// InitProducerId response.
    pub struct InitProducerIdResponse {
        /// Throttle time in milliseconds.
        throttle_time_ms: i32 [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The assigned producer id.
        producer_id: i64 [0, MAX] default(-1),
        /// The assigned producer epoch.
        producer_epoch: i16 [0, MAX],
    }
}
