//! Fetch (key 1): versions 0-12, flexible from 12.
//!
//! The record sets of a response are whole stored batches kept as shared [`Bytes`]; the
//! encoder splices them into the frame as their own chunks instead of copying them.

use bytes::Bytes;

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// Fetch request.
    pub struct FetchRequest {
        /// The follower's broker id, or -1 for a consumer.
        replica_id: i32 [0, MAX] default(-1),
        /// The longest time to wait for `min_bytes`, in milliseconds.
        max_wait_ms: i32 [0, MAX],
        /// The minimum bytes to accumulate before answering.
        min_bytes: i32 [0, MAX],
        /// The maximum bytes in the response (v3+).
        max_bytes: i32 [3, MAX] default(i32::MAX),
        /// 0 read uncommitted, 1 read committed (v4+).
        isolation_level: i8 [4, MAX],
        /// The fetch session id (v7+).
        session_id: i32 [7, MAX],
        /// The fetch session epoch (v7+, default -1).
        session_epoch: i32 [7, MAX] default(-1),
        /// The topics to fetch.
        topics: Vec<FetchTopic> [0, MAX],
        /// Partitions to remove from an incremental fetch session (v7+).
        forgotten_topics_data: Vec<ForgottenTopic> [7, MAX],
        /// The consumer's rack (v11+).
        rack_id: String [11, MAX],
    }

    /// One topic of a fetch request.
    pub struct FetchTopic {
        /// The topic name.
        topic: String [0, MAX],
        /// The partitions to fetch.
        partitions: Vec<FetchPartition> [0, MAX],
    }

    /// One partition of a fetch request.
    pub struct FetchPartition {
        /// The partition index.
        partition: i32 [0, MAX],
        /// The current leader epoch (v9+, default -1).
        current_leader_epoch: i32 [9, MAX] default(-1),
        /// The offset to fetch from.
        fetch_offset: i64 [0, MAX],
        /// The epoch of the last fetched record (v12+, default -1).
        last_fetched_epoch: i32 [12, MAX] default(-1),
        /// The follower's log start offset (v5+, default -1).
        log_start_offset: i64 [5, MAX] default(-1),
        /// The maximum bytes to return for this partition.
        partition_max_bytes: i32 [0, MAX],
    }

    /// Partitions removed from an incremental fetch session.
    pub struct ForgottenTopic {
        /// The topic name.
        topic: String [0, MAX],
        /// The partition indexes to forget.
        partitions: Vec<i32> [0, MAX],
    }

    /// Fetch response.
    pub struct FetchResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// The top-level error code (v7+).
        error_code: ErrorCode [7, MAX],
        /// The fetch session id, or 0 (v7+).
        session_id: i32 [7, MAX],
        /// The topics in the response.
        responses: Vec<FetchableTopicResponse> [0, MAX],
    }

    /// One topic of a fetch response.
    pub struct FetchableTopicResponse {
        /// The topic name.
        topic: String [0, MAX],
        /// The partitions in the response.
        partitions: Vec<FetchPartitionData> [0, MAX],
    }

    /// One partition of a fetch response.
    pub struct FetchPartitionData {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The high watermark.
        high_watermark: i64 [0, MAX],
        /// The last stable offset (v4+, default -1).
        last_stable_offset: i64 [4, MAX] default(-1),
        /// The log start offset (v5+, default -1).
        log_start_offset: i64 [5, MAX] default(-1),
        /// Aborted transactions in the returned range (v4+; null if none).
        aborted_transactions: Option<Vec<AbortedTransaction>> [4, MAX],
        /// The preferred read replica, or -1 (v11+).
        preferred_read_replica: i32 [11, MAX] default(-1),
        /// Zero or more whole record batches, sent back to back as one records field.
        records: Vec<Bytes> [0, MAX] via(record_set),
    }

    /// An aborted transaction in a fetch response.
    pub struct AbortedTransaction {
        /// The producer id of the aborted transaction.
        producer_id: i64 [4, MAX],
        /// The first offset of the aborted transaction.
        first_offset: i64 [4, MAX],
    }
}

/// The records field: nullable bytes whose content is the concatenated batches.
mod record_set {
    use bytes::Bytes;

    use crate::protocol::wire::{Ctx, Reader, WireResult, Writer};

    /// Decodes as at most one chunk (the batches are not split apart).
    pub(super) fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Vec<Bytes>> {
        Ok(reader
            .nullable_bytes(ctx.flexible)?
            .filter(|records| !records.is_empty())
            .into_iter()
            .collect())
    }

    pub(super) fn write(records: &[Bytes], writer: &mut Writer, ctx: Ctx) {
        writer.shared_bytes(records, ctx.flexible);
    }
}
