//! Offset APIs: ListOffsets (key 2, versions 0-7, flexible from 6), OffsetCommit (key 8,
//! versions 0-8, flexible from 8) and OffsetFetch (key 9, versions 0-8, flexible from 6).

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// ListOffsets request.
    pub struct ListOffsetsRequest {
        /// The requesting broker id, or -1 for a consumer.
        replica_id: i32 [0, MAX] default(-1),
        /// 0 read uncommitted, 1 read committed (v2+).
        isolation_level: i8 [2, MAX],
        /// Each topic in the request.
        topics: Vec<ListOffsetsTopic> [0, MAX],
    }

    /// One topic of a ListOffsets request.
    pub struct ListOffsetsTopic {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition in the request.
        partitions: Vec<ListOffsetsPartition> [0, MAX],
    }

    /// One partition of a ListOffsets request.
    pub struct ListOffsetsPartition {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The current leader epoch (v4+, default -1).
        current_leader_epoch: i32 [4, MAX] default(-1),
        /// The target timestamp: -1 latest, -2 earliest, -3 max timestamp (v7+).
        timestamp: i64 [0, MAX],
        /// The maximum number of offsets to report (v0 only, default 1).
        max_num_offsets: i32 [0, 0] default(1),
    }

    /// ListOffsets response.
    pub struct ListOffsetsResponse {
        /// Throttle time in milliseconds (v2+).
        throttle_time_ms: i32 [2, MAX],
        /// Each topic in the response.
        topics: Vec<ListOffsetsTopicResponse> [0, MAX],
    }

    /// One topic of a ListOffsets response.
    pub struct ListOffsetsTopicResponse {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition in the response.
        partitions: Vec<ListOffsetsPartitionResponse> [0, MAX],
    }

    /// One partition of a ListOffsets response.
    pub struct ListOffsetsPartitionResponse {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The offsets found (v0 only).
        old_style_offsets: Vec<i64> [0, 0],
        /// The timestamp of the returned offset (v1+, default -1).
        timestamp: i64 [1, MAX] default(-1),
        /// The returned offset (v1+, default -1).
        offset: i64 [1, MAX] default(-1),
        /// The leader epoch (v4+, default -1).
        leader_epoch: i32 [4, MAX] default(-1),
    }

    /// OffsetCommit request.
    pub struct OffsetCommitRequest {
        /// The group id.
        group_id: String [0, MAX],
        /// The group generation (v1+, default -1).
        generation_id: i32 [1, MAX] default(-1),
        /// The member id (v1+).
        member_id: String [1, MAX],
        /// The static member's instance id (v7+).
        group_instance_id: Option<String> [7, MAX],
        /// The retention time in milliseconds (v2-4, default -1).
        retention_time_ms: i64 [2, 4] default(-1),
        /// The topics to commit offsets for.
        topics: Vec<OffsetCommitRequestTopic> [0, MAX],
    }

    /// One topic of an OffsetCommit request.
    pub struct OffsetCommitRequestTopic {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition to commit.
        partitions: Vec<OffsetCommitRequestPartition> [0, MAX],
    }

    /// One partition of an OffsetCommit request.
    pub struct OffsetCommitRequestPartition {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The offset to commit.
        committed_offset: i64 [0, MAX],
        /// The leader epoch of the last consumed record (v6+, default -1).
        committed_leader_epoch: i32 [6, MAX] default(-1),
        /// The commit timestamp (v1 only, default -1).
        commit_timestamp: i64 [1, 1] default(-1),
        /// Client metadata stored with the offset.
        committed_metadata: Option<String> [0, MAX],
    }

    /// OffsetCommit response.
    pub struct OffsetCommitResponse {
        /// Throttle time in milliseconds (v3+).
        throttle_time_ms: i32 [3, MAX],
        /// Each topic in the response.
        topics: Vec<OffsetCommitResponseTopic> [0, MAX],
    }

    /// One topic of an OffsetCommit response.
    pub struct OffsetCommitResponseTopic {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition in the response.
        partitions: Vec<OffsetCommitResponsePartition> [0, MAX],
    }

    /// One partition of an OffsetCommit response.
    pub struct OffsetCommitResponsePartition {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
    }

    /// OffsetFetch request.
    pub struct OffsetFetchRequest {
        /// The group id (v0-7).
        group_id: String [0, 7],
        /// The topics to fetch; null means all (v0-7; nullable from v2).
        topics: Option<Vec<OffsetFetchRequestTopic>> [0, 7],
        /// The groups to fetch offsets for (v8+).
        groups: Vec<OffsetFetchRequestGroup> [8, MAX],
        /// Whether to wait for pending transactional offsets to stabilise (v7+).
        require_stable: bool [7, MAX],
    }

    /// One topic of an OffsetFetch request.
    pub struct OffsetFetchRequestTopic {
        /// The topic name.
        name: String [0, MAX],
        /// The partition indexes to fetch.
        partition_indexes: Vec<i32> [0, MAX],
    }

    /// One group of an OffsetFetch request (v8+).
    pub struct OffsetFetchRequestGroup {
        /// The group id.
        group_id: String [8, MAX],
        /// The topics to fetch; null means all.
        topics: Option<Vec<OffsetFetchRequestTopic>> [8, MAX],
    }

    /// OffsetFetch response.
    pub struct OffsetFetchResponse {
        /// Throttle time in milliseconds (v3+).
        throttle_time_ms: i32 [3, MAX],
        /// Each topic in the response (v0-7).
        topics: Vec<OffsetFetchResponseTopic> [0, 7],
        /// The top-level error code (v2-7).
        error_code: ErrorCode [2, 7],
        /// Each group in the response (v8+).
        group_ids: Vec<OffsetFetchResponseGroup> [8, MAX],
    }

    /// One topic of an OffsetFetch response.
    pub struct OffsetFetchResponseTopic {
        /// The topic name.
        name: String [0, MAX],
        /// Each partition in the response.
        partitions: Vec<OffsetFetchResponsePartition> [0, MAX],
    }

    /// One partition of an OffsetFetch response.
    pub struct OffsetFetchResponsePartition {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The committed offset, or -1 if none.
        committed_offset: i64 [0, MAX] default(-1),
        /// The leader epoch of the committed offset (v5+, default -1).
        committed_leader_epoch: i32 [5, MAX] default(-1),
        /// Client metadata stored with the offset.
        metadata: Option<String> [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
    }

    /// One group of an OffsetFetch response (v8+).
    pub struct OffsetFetchResponseGroup {
        /// The group id.
        group_id: String [8, MAX],
        /// Each topic in the response.
        topics: Vec<OffsetFetchResponseTopic> [8, MAX],
        /// The group-level error code.
        error_code: ErrorCode [8, MAX],
    }
}
