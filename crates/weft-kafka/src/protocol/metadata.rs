//! Metadata (key 3): versions 0-11, flexible from 9.

use uuid::Uuid;

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// Metadata request.
    pub struct MetadataRequest {
        /// The topics to describe; `None` means all topics. (In v0 an empty array means
        /// all topics: it is decoded as `None`, and `None` is encoded as an empty array.)
        topics: Option<Vec<MetadataRequestTopic>> [0, MAX] via(request_topics),
        /// Whether the broker may auto-create the requested topics (v4+, default true).
        allow_auto_topic_creation: bool [4, MAX] default(true),
        /// Whether to include cluster authorized operations (v8-10).
        include_cluster_authorized_operations: bool [8, 10],
        /// Whether to include topic authorized operations (v8+).
        include_topic_authorized_operations: bool [8, MAX],
    }

    /// One topic in a metadata request.
    pub struct MetadataRequestTopic {
        /// The topic id (v10+; nil when asking by name).
        topic_id: Uuid [10, MAX],
        /// The topic name (null allowed from v10 when asking by id).
        name: Option<String> [0, MAX],
    }

    /// Metadata response.
    pub struct MetadataResponse {
        /// Throttle time in milliseconds (v3+).
        throttle_time_ms: i32 [3, MAX],
        /// Every broker in the cluster.
        brokers: Vec<MetadataResponseBroker> [0, MAX],
        /// The cluster id (v2+).
        cluster_id: Option<String> [2, MAX],
        /// The id of the controller broker (v1+, default -1).
        controller_id: i32 [1, MAX] default(-1),
        /// Each topic in the response.
        topics: Vec<MetadataResponseTopic> [0, MAX],
        /// Cluster authorized operations bit field (v8-10).
        cluster_authorized_operations: i32 [8, 10] default(i32::MIN),
    }

    /// One broker in a metadata response.
    pub struct MetadataResponseBroker {
        /// The broker id.
        node_id: i32 [0, MAX],
        /// The broker host name.
        host: String [0, MAX],
        /// The broker port.
        port: i32 [0, MAX],
        /// The broker rack (v1+).
        rack: Option<String> [1, MAX],
    }

    /// One topic in a metadata response.
    pub struct MetadataResponseTopic {
        /// The topic error.
        error_code: ErrorCode [0, MAX],
        /// The topic name.
        name: String [0, MAX],
        /// The topic id (v10+).
        topic_id: Uuid [10, MAX],
        /// Whether the topic is internal (v1+).
        is_internal: bool [1, MAX],
        /// Each partition of the topic.
        partitions: Vec<MetadataResponsePartition> [0, MAX],
        /// Topic authorized operations bit field (v8+).
        topic_authorized_operations: i32 [8, MAX] default(i32::MIN),
    }

    /// One partition in a metadata response.
    pub struct MetadataResponsePartition {
        /// The partition error.
        error_code: ErrorCode [0, MAX],
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The leader broker id.
        leader_id: i32 [0, MAX],
        /// The leader epoch (v7+, default -1).
        leader_epoch: i32 [7, MAX] default(-1),
        /// The replica broker ids.
        replica_nodes: Vec<i32> [0, MAX],
        /// The in-sync replica broker ids.
        isr_nodes: Vec<i32> [0, MAX],
        /// The offline replica broker ids (v5+).
        offline_replicas: Vec<i32> [5, MAX],
    }
}

/// The request's topic list: nullable from v1; in v0 an empty list means all topics.
mod request_topics {
    use super::MetadataRequestTopic;
    use crate::protocol::wire::{Ctx, Reader, Wire, WireResult, Writer};

    pub(super) fn read(
        reader: &mut Reader,
        ctx: Ctx,
    ) -> WireResult<Option<Vec<MetadataRequestTopic>>> {
        let topics = Option::<Vec<MetadataRequestTopic>>::read(reader, ctx)?;
        Ok(match topics {
            Some(topics) if ctx.version == 0 && topics.is_empty() => None,
            topics => topics,
        })
    }

    pub(super) fn write(topics: &Option<Vec<MetadataRequestTopic>>, writer: &mut Writer, ctx: Ctx) {
        match topics {
            None if ctx.version == 0 => Vec::<MetadataRequestTopic>::new().write(writer, ctx),
            topics => topics.write(writer, ctx),
        }
    }
}
