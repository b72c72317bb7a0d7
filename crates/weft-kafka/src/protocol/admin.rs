//! Admin APIs: CreateTopics (19: 0-7, flexible 5+), DeleteTopics (20: 0-6, flexible 4+),
//! DescribeConfigs (32: 0-4, flexible 4+), CreatePartitions (37: 0-3, flexible 2+),
//! IncrementalAlterConfigs (44: 0-1, flexible 1+) and DescribeCluster (60: 0, flexible).

use uuid::Uuid;

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// CreateTopics request.
    pub struct CreateTopicsRequest {
        /// The topics to create.
        topics: Vec<CreatableTopic> [0, MAX],
        /// How long to wait for the topics to be created, in milliseconds.
        timeout_ms: i32 [0, MAX] default(60_000),
        /// Validate the request without creating anything (v1+).
        validate_only: bool [1, MAX],
    }

    /// One topic to create.
    pub struct CreatableTopic {
        /// The topic name.
        name: String [0, MAX],
        /// The number of partitions, or -1 for the broker default.
        num_partitions: i32 [0, MAX],
        /// The replication factor, or -1 for the broker default.
        replication_factor: i16 [0, MAX],
        /// Manual replica assignments, empty for automatic.
        assignments: Vec<CreatableReplicaAssignment> [0, MAX],
        /// Topic configuration.
        configs: Vec<CreatableTopicConfig> [0, MAX],
    }

    /// A manual replica assignment for one partition.
    pub struct CreatableReplicaAssignment {
        /// The partition index.
        partition_index: i32 [0, MAX],
        /// The replica broker ids.
        broker_ids: Vec<i32> [0, MAX],
    }

    /// One configuration entry of a topic to create.
    pub struct CreatableTopicConfig {
        /// The configuration name.
        name: String [0, MAX],
        /// The configuration value.
        value: Option<String> [0, MAX],
    }

    /// CreateTopics response.
    pub struct CreateTopicsResponse {
        /// Throttle time in milliseconds (v2+).
        throttle_time_ms: i32 [2, MAX],
        /// Each topic's result.
        topics: Vec<CreatableTopicResult> [0, MAX],
    }

    /// One topic's result in a CreateTopics response.
    pub struct CreatableTopicResult {
        /// The topic name.
        name: String [0, MAX],
        /// The topic id (v7+).
        topic_id: Uuid [7, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message (v1+).
        error_message: Option<String> [1, MAX],
        /// The number of partitions (v5+, default -1).
        num_partitions: i32 [5, MAX] default(-1),
        /// The replication factor (v5+, default -1).
        replication_factor: i16 [5, MAX] default(-1),
        /// The topic's configuration (v5+).
        configs: Option<Vec<CreatableTopicConfigs>> [5, MAX],
    }

    /// One configuration entry of a created topic (v5+).
    pub struct CreatableTopicConfigs {
        /// The configuration name.
        name: String [5, MAX],
        /// The configuration value.
        value: Option<String> [5, MAX],
        /// Whether the configuration is read-only.
        read_only: bool [5, MAX],
        /// The configuration source (default -1).
        config_source: i8 [5, MAX] default(-1),
        /// Whether the configuration is sensitive.
        is_sensitive: bool [5, MAX],
    }

    /// DeleteTopics request.
    pub struct DeleteTopicsRequest {
        /// The topics to delete by name or id (v6+).
        topics: Vec<DeleteTopicState> [6, MAX],
        /// The names of the topics to delete (v0-5).
        topic_names: Vec<String> [0, 5],
        /// How long to wait for the deletion, in milliseconds.
        timeout_ms: i32 [0, MAX],
    }

    /// A topic to delete, by name or id (v6+).
    pub struct DeleteTopicState {
        /// The topic name, or null when deleting by id.
        name: Option<String> [6, MAX],
        /// The topic id, or nil when deleting by name.
        topic_id: Uuid [6, MAX],
    }

    /// DeleteTopics response.
    pub struct DeleteTopicsResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// Each topic's result.
        responses: Vec<DeletableTopicResult> [0, MAX],
    }

    /// One topic's result in a DeleteTopics response.
    pub struct DeletableTopicResult {
        /// The topic name (nullable from v6).
        name: Option<String> [0, MAX],
        /// The topic id (v6+).
        topic_id: Uuid [6, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message (v5+).
        error_message: Option<String> [5, MAX],
    }

    /// CreatePartitions request.
    pub struct CreatePartitionsRequest {
        /// The topics to grow.
        topics: Vec<CreatePartitionsTopic> [0, MAX],
        /// How long to wait, in milliseconds.
        timeout_ms: i32 [0, MAX],
        /// Validate the request without changing anything.
        validate_only: bool [0, MAX],
    }

    /// One topic of a CreatePartitions request.
    pub struct CreatePartitionsTopic {
        /// The topic name.
        name: String [0, MAX],
        /// The new total partition count.
        count: i32 [0, MAX],
        /// Replica assignments for the new partitions, or null for automatic.
        assignments: Option<Vec<CreatePartitionsAssignment>> [0, MAX],
    }

    /// The replicas of one new partition.
    pub struct CreatePartitionsAssignment {
        /// The replica broker ids.
        broker_ids: Vec<i32> [0, MAX],
    }

    /// CreatePartitions response.
    pub struct CreatePartitionsResponse {
        /// Throttle time in milliseconds.
        throttle_time_ms: i32 [0, MAX],
        /// Each topic's result.
        results: Vec<CreatePartitionsTopicResult> [0, MAX],
    }

    /// One topic's result in a CreatePartitions response.
    pub struct CreatePartitionsTopicResult {
        /// The topic name.
        name: String [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message.
        error_message: Option<String> [0, MAX],
    }

    /// DescribeConfigs request.
    pub struct DescribeConfigsRequest {
        /// The resources to describe.
        resources: Vec<DescribeConfigsResource> [0, MAX],
        /// Whether to include synonyms (v1+).
        include_synonyms: bool [1, MAX],
        /// Whether to include documentation (v3+).
        include_documentation: bool [3, MAX],
    }

    /// One resource of a DescribeConfigs request.
    pub struct DescribeConfigsResource {
        /// The resource type: 2 topic, 4 broker, 8 broker logger.
        resource_type: i8 [0, MAX],
        /// The resource name.
        resource_name: String [0, MAX],
        /// The configuration keys to list, or null for all.
        configuration_keys: Option<Vec<String>> [0, MAX],
    }

    /// DescribeConfigs response.
    pub struct DescribeConfigsResponse {
        /// Throttle time in milliseconds.
        throttle_time_ms: i32 [0, MAX],
        /// Each resource's result.
        results: Vec<DescribeConfigsResult> [0, MAX],
    }

    /// One resource's result in a DescribeConfigs response.
    pub struct DescribeConfigsResult {
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message.
        error_message: Option<String> [0, MAX],
        /// The resource type.
        resource_type: i8 [0, MAX],
        /// The resource name.
        resource_name: String [0, MAX],
        /// Each configuration entry.
        configs: Vec<DescribeConfigsResourceResult> [0, MAX],
    }

    /// One configuration entry in a DescribeConfigs response.
    pub struct DescribeConfigsResourceResult {
        /// The configuration name.
        name: String [0, MAX],
        /// The configuration value.
        value: Option<String> [0, MAX],
        /// Whether the configuration is read-only.
        read_only: bool [0, MAX],
        /// Whether the configuration is the default (v0 only).
        is_default: bool [0, 0],
        /// The configuration source (v1+, default -1).
        config_source: i8 [1, MAX] default(-1),
        /// Whether the configuration is sensitive.
        is_sensitive: bool [0, MAX],
        /// The configuration's synonyms (v1+).
        synonyms: Vec<DescribeConfigsSynonym> [1, MAX],
        /// The configuration data type (v3+).
        config_type: i8 [3, MAX],
        /// The configuration documentation (v3+).
        documentation: Option<String> [3, MAX],
    }

    /// A synonym of a configuration entry (v1+).
    pub struct DescribeConfigsSynonym {
        /// The synonym name.
        name: String [1, MAX],
        /// The synonym value.
        value: Option<String> [1, MAX],
        /// The synonym source.
        source: i8 [1, MAX],
    }

    /// IncrementalAlterConfigs request.
    pub struct IncrementalAlterConfigsRequest {
        /// The resources to alter.
        resources: Vec<AlterConfigsResource> [0, MAX],
        /// Validate the request without changing anything.
        validate_only: bool [0, MAX],
    }

    /// One resource of an IncrementalAlterConfigs request.
    pub struct AlterConfigsResource {
        /// The resource type.
        resource_type: i8 [0, MAX],
        /// The resource name.
        resource_name: String [0, MAX],
        /// The configuration changes.
        configs: Vec<AlterableConfig> [0, MAX],
    }

    /// One configuration change.
    pub struct AlterableConfig {
        /// The configuration name.
        name: String [0, MAX],
        /// 0 set, 1 delete, 2 append, 3 subtract.
        config_operation: i8 [0, MAX],
        /// The value to set, append or subtract.
        value: Option<String> [0, MAX],
    }

    /// IncrementalAlterConfigs response.
    pub struct IncrementalAlterConfigsResponse {
        /// Throttle time in milliseconds.
        throttle_time_ms: i32 [0, MAX],
        /// Each resource's result.
        responses: Vec<AlterConfigsResourceResponse> [0, MAX],
    }

    /// One resource's result in an IncrementalAlterConfigs response.
    pub struct AlterConfigsResourceResponse {
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message.
        error_message: Option<String> [0, MAX],
        /// The resource type.
        resource_type: i8 [0, MAX],
        /// The resource name.
        resource_name: String [0, MAX],
    }

    /// DescribeCluster request.
    pub struct DescribeClusterRequest {
        /// Whether to include cluster authorized operations.
        include_cluster_authorized_operations: bool [0, MAX],
    }

    /// DescribeCluster response.
    pub struct DescribeClusterResponse {
        /// Throttle time in milliseconds.
        throttle_time_ms: i32 [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message.
        error_message: Option<String> [0, MAX],
        /// The cluster id.
        cluster_id: String [0, MAX],
        /// The controller's broker id (default -1).
        controller_id: i32 [0, MAX] default(-1),
        /// Every broker in the cluster.
        brokers: Vec<DescribeClusterBroker> [0, MAX],
        /// Cluster authorized operations bit field.
        cluster_authorized_operations: i32 [0, MAX] default(i32::MIN),
    }

    /// One broker in a DescribeCluster response.
    pub struct DescribeClusterBroker {
        /// The broker id.
        broker_id: i32 [0, MAX],
        /// The broker host.
        host: String [0, MAX],
        /// The broker port.
        port: i32 [0, MAX],
        /// The broker rack.
        rack: Option<String> [0, MAX],
    }
}
