//! Sample responses; see the requests module for the conventions.

use super::super::*;
use super::requests::{ID, at, blob, s, since, some};

/// A response of `key` at version `v`.
pub(crate) fn sample_response(key: ApiKey, v: i16) -> Response {
    match key {
        ApiKey::Produce => ProduceResponse {
            responses: vec![ProduceTopicResponse {
                name: s("orders"),
                partitions: vec![ProducePartitionResponse {
                    index: 3,
                    error_code: ErrorCode::INVALID_RECORD,
                    base_offset: 100,
                    log_append_time_ms: at(v, 2, 99, 1_700_000_000_000, -1),
                    log_start_offset: at(v, 5, 99, 7, -1),
                    record_errors: since(
                        v,
                        8,
                        vec![BatchIndexAndErrorMessage {
                            batch_index: 1,
                            batch_index_error_message: some("bad"),
                        }],
                    ),
                    error_message: since(v, 8, some("dropped")),
                }],
            }],
            throttle_time_ms: since(v, 1, 5),
        }
        .into(),
        ApiKey::Fetch => FetchResponse {
            throttle_time_ms: since(v, 1, 5),
            error_code: since(v, 7, ErrorCode::FETCH_SESSION_ID_NOT_FOUND),
            session_id: since(v, 7, 11),
            responses: vec![FetchableTopicResponse {
                topic: s("orders"),
                partitions: vec![
                    FetchPartitionData {
                        partition_index: 1,
                        error_code: ErrorCode::NONE,
                        high_watermark: 90,
                        last_stable_offset: at(v, 4, 99, 80, -1),
                        log_start_offset: at(v, 5, 99, 3, -1),
                        aborted_transactions: at(
                            v,
                            4,
                            99,
                            Some(vec![AbortedTransaction {
                                producer_id: 5,
                                first_offset: 6,
                            }]),
                            None,
                        ),
                        preferred_read_replica: at(v, 11, 99, 2, -1),
                        records: vec![blob(b"batches")],
                    },
                    FetchPartitionData {
                        partition_index: 2,
                        error_code: ErrorCode::OFFSET_OUT_OF_RANGE,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        ..FetchPartitionData::default()
                    },
                ],
            }],
        }
        .into(),
        ApiKey::ListOffsets => ListOffsetsResponse {
            throttle_time_ms: since(v, 2, 5),
            topics: vec![ListOffsetsTopicResponse {
                name: s("orders"),
                partitions: vec![ListOffsetsPartitionResponse {
                    partition_index: 2,
                    error_code: ErrorCode::NONE,
                    old_style_offsets: at(v, 0, 0, vec![42], vec![]),
                    timestamp: at(v, 1, 99, 1000, -1),
                    offset: at(v, 1, 99, 42, -1),
                    leader_epoch: at(v, 4, 99, 3, -1),
                }],
            }],
        }
        .into(),
        ApiKey::Metadata => MetadataResponse {
            throttle_time_ms: since(v, 3, 5),
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: s("localhost"),
                port: 9092,
                rack: since(v, 1, some("r")),
            }],
            cluster_id: since(v, 2, some("weft")),
            controller_id: at(v, 1, 99, 1, -1),
            topics: vec![MetadataResponseTopic {
                error_code: ErrorCode::NONE,
                name: s("orders"),
                topic_id: since(v, 10, ID),
                is_internal: since(v, 1, true),
                partitions: vec![MetadataResponsePartition {
                    error_code: ErrorCode::NONE,
                    partition_index: 0,
                    leader_id: 1,
                    leader_epoch: at(v, 7, 99, 4, -1),
                    replica_nodes: vec![1, 2],
                    isr_nodes: vec![1],
                    offline_replicas: since(v, 5, vec![2]),
                }],
                topic_authorized_operations: at(v, 8, 99, 0x0f, i32::MIN),
            }],
            cluster_authorized_operations: at(v, 8, 10, 0x0f, i32::MIN),
        }
        .into(),
        ApiKey::OffsetCommit => OffsetCommitResponse {
            throttle_time_ms: since(v, 3, 5),
            topics: vec![OffsetCommitResponseTopic {
                name: s("orders"),
                partitions: vec![OffsetCommitResponsePartition {
                    partition_index: 0,
                    error_code: ErrorCode::ILLEGAL_GENERATION,
                }],
            }],
        }
        .into(),
        ApiKey::OffsetFetch => {
            let topics = vec![OffsetFetchResponseTopic {
                name: s("orders"),
                partitions: vec![OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 12,
                    committed_leader_epoch: at(v, 5, 99, 2, -1),
                    metadata: some("meta"),
                    error_code: ErrorCode::NONE,
                }],
            }];
            OffsetFetchResponse {
                throttle_time_ms: since(v, 3, 5),
                topics: at(v, 0, 7, topics.clone(), vec![]),
                error_code: at(v, 2, 7, ErrorCode::NOT_COORDINATOR, ErrorCode::NONE),
                group_ids: since(
                    v,
                    8,
                    vec![OffsetFetchResponseGroup {
                        group_id: s("g"),
                        topics,
                        error_code: ErrorCode::NONE,
                    }],
                ),
            }
            .into()
        }
        ApiKey::FindCoordinator => FindCoordinatorResponse {
            throttle_time_ms: since(v, 1, 5),
            error_code: at(
                v,
                0,
                3,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                ErrorCode::NONE,
            ),
            error_message: at(v, 1, 3, some("wait"), None),
            node_id: at(v, 0, 3, 1, 0),
            host: at(v, 0, 3, s("h"), s("")),
            port: at(v, 0, 3, 9092, 0),
            coordinators: since(
                v,
                4,
                vec![Coordinator {
                    key: s("g"),
                    node_id: 1,
                    host: s("h"),
                    port: 9092,
                    error_code: ErrorCode::NONE,
                    error_message: None,
                }],
            ),
        }
        .into(),
        ApiKey::JoinGroup => JoinGroupResponse {
            throttle_time_ms: since(v, 2, 5),
            error_code: ErrorCode::NONE,
            generation_id: 3,
            protocol_type: since(v, 7, some("consumer")),
            protocol_name: some("range"),
            leader: s("m1"),
            member_id: s("m2"),
            members: vec![JoinGroupResponseMember {
                member_id: s("m1"),
                group_instance_id: since(v, 5, some("i")),
                metadata: blob(b"md"),
            }],
        }
        .into(),
        ApiKey::Heartbeat => HeartbeatResponse {
            throttle_time_ms: since(v, 1, 5),
            error_code: ErrorCode::REBALANCE_IN_PROGRESS,
        }
        .into(),
        ApiKey::LeaveGroup => LeaveGroupResponse {
            throttle_time_ms: since(v, 1, 5),
            error_code: ErrorCode::NONE,
            members: since(
                v,
                3,
                vec![MemberResponse {
                    member_id: s("m"),
                    group_instance_id: None,
                    error_code: ErrorCode::UNKNOWN_MEMBER_ID,
                }],
            ),
        }
        .into(),
        ApiKey::SyncGroup => SyncGroupResponse {
            throttle_time_ms: since(v, 1, 5),
            error_code: ErrorCode::NONE,
            protocol_type: since(v, 5, some("consumer")),
            protocol_name: since(v, 5, some("range")),
            assignment: blob(b"assign"),
        }
        .into(),
        ApiKey::DescribeGroups => DescribeGroupsResponse {
            throttle_time_ms: since(v, 1, 5),
            groups: vec![DescribedGroup {
                error_code: ErrorCode::NONE,
                group_id: s("g"),
                group_state: s("Stable"),
                protocol_type: s("consumer"),
                protocol_data: s("range"),
                members: vec![DescribedGroupMember {
                    member_id: s("m"),
                    group_instance_id: since(v, 4, some("i")),
                    client_id: s("c"),
                    client_host: s("/127.0.0.1"),
                    member_metadata: blob(b"md"),
                    member_assignment: blob(b"as"),
                }],
                authorized_operations: at(v, 3, 99, 8, i32::MIN),
            }],
        }
        .into(),
        ApiKey::ListGroups => ListGroupsResponse {
            throttle_time_ms: since(v, 1, 5),
            error_code: ErrorCode::NONE,
            groups: vec![ListedGroup {
                group_id: s("g"),
                protocol_type: s("consumer"),
                group_state: since(v, 4, s("Empty")),
            }],
        }
        .into(),
        ApiKey::SaslHandshake => SaslHandshakeResponse {
            error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM,
            mechanisms: vec![s("PLAIN"), s("SCRAM-SHA-256")],
        }
        .into(),
        ApiKey::ApiVersions => ApiVersionsResponse {
            throttle_time_ms: since(v, 1, 5),
            ..ApiVersionsResponse::supported(ErrorCode::NONE)
        }
        .into(),
        ApiKey::CreateTopics => CreateTopicsResponse {
            throttle_time_ms: since(v, 2, 5),
            topics: vec![CreatableTopicResult {
                name: s("t"),
                topic_id: since(v, 7, ID),
                error_code: ErrorCode::TOPIC_ALREADY_EXISTS,
                error_message: since(v, 1, some("exists")),
                num_partitions: at(v, 5, 99, 3, -1),
                replication_factor: at(v, 5, 99, 1, -1),
                configs: since(
                    v,
                    5,
                    Some(vec![CreatableTopicConfigs {
                        name: s("retention.ms"),
                        value: some("1"),
                        read_only: true,
                        config_source: 5,
                        is_sensitive: true,
                    }]),
                ),
            }],
        }
        .into(),
        ApiKey::DeleteTopics => DeleteTopicsResponse {
            throttle_time_ms: since(v, 1, 5),
            responses: vec![DeletableTopicResult {
                name: some("t"),
                topic_id: since(v, 6, ID),
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                error_message: since(v, 5, some("no such topic")),
            }],
        }
        .into(),
        ApiKey::InitProducerId => InitProducerIdResponse {
            throttle_time_ms: 5,
            error_code: ErrorCode::NONE,
            producer_id: 1234,
            producer_epoch: 1,
        }
        .into(),
        ApiKey::DescribeConfigs => DescribeConfigsResponse {
            throttle_time_ms: 5,
            results: vec![DescribeConfigsResult {
                error_code: ErrorCode::NONE,
                error_message: None,
                resource_type: 2,
                resource_name: s("t"),
                configs: vec![DescribeConfigsResourceResult {
                    name: s("retention.ms"),
                    value: some("1"),
                    read_only: true,
                    is_default: at(v, 0, 0, true, false),
                    config_source: at(v, 1, 99, 1, -1),
                    is_sensitive: false,
                    synonyms: since(
                        v,
                        1,
                        vec![DescribeConfigsSynonym {
                            name: s("log.retention.ms"),
                            value: some("2"),
                            source: 5,
                        }],
                    ),
                    config_type: since(v, 3, 5),
                    documentation: since(v, 3, some("how long")),
                }],
            }],
        }
        .into(),
        ApiKey::SaslAuthenticate => SaslAuthenticateResponse {
            error_code: ErrorCode::SASL_AUTHENTICATION_FAILED,
            error_message: some("bad password"),
            auth_bytes: blob(b"challenge"),
            session_lifetime_ms: since(v, 1, 3_600_000),
        }
        .into(),
        ApiKey::CreatePartitions => CreatePartitionsResponse {
            throttle_time_ms: 5,
            results: vec![CreatePartitionsTopicResult {
                name: s("t"),
                error_code: ErrorCode::INVALID_PARTITIONS,
                error_message: some("fewer"),
            }],
        }
        .into(),
        ApiKey::DeleteGroups => DeleteGroupsResponse {
            throttle_time_ms: 5,
            results: vec![DeletableGroupResult {
                group_id: s("g"),
                error_code: ErrorCode::NON_EMPTY_GROUP,
            }],
        }
        .into(),
        ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsResponse {
            throttle_time_ms: 5,
            responses: vec![AlterConfigsResourceResponse {
                error_code: ErrorCode::INVALID_CONFIG,
                error_message: some("nope"),
                resource_type: 2,
                resource_name: s("t"),
            }],
        }
        .into(),
        ApiKey::DescribeCluster => DescribeClusterResponse {
            throttle_time_ms: 5,
            error_code: ErrorCode::NONE,
            error_message: None,
            cluster_id: s("weft"),
            controller_id: 1,
            brokers: vec![DescribeClusterBroker {
                broker_id: 1,
                host: s("h"),
                port: 9092,
                rack: None,
            }],
            cluster_authorized_operations: 0x0f,
        }
        .into(),
    }
}
