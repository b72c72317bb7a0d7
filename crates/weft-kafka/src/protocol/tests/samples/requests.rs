//! Sample requests and responses for every API at a given version. Every field that
//! exists at the version holds a non-default value; the others keep their schema default,
//! so a field encoded in the wrong versions shows up as a round-trip mismatch.

use bytes::Bytes;
use uuid::Uuid;

use super::super::*;

/// `value` if `version` is in `min..=max`, else `absent`.
pub(super) fn at<T>(version: i16, min: i16, max: i16, value: T, absent: T) -> T {
    if version >= min && version <= max {
        value
    } else {
        absent
    }
}

/// `value` from `min` on, else the type's default.
pub(super) fn since<T: Default>(version: i16, min: i16, value: T) -> T {
    at(version, min, i16::MAX, value, T::default())
}

pub(super) fn s(text: &str) -> String {
    text.to_owned()
}

pub(super) fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

pub(super) fn blob(bytes: &'static [u8]) -> Bytes {
    Bytes::from_static(bytes)
}

pub(super) const ID: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

/// A request of `key` at version `v`.
pub(crate) fn sample_request(key: ApiKey, v: i16) -> Request {
    match key {
        ApiKey::Produce => ProduceRequest {
            transactional_id: since(v, 3, some("tx")),
            acks: -1,
            timeout_ms: 1500,
            topics: vec![ProduceTopic {
                name: s("orders"),
                partitions: vec![
                    ProducePartition {
                        index: 3,
                        records: Some(blob(b"batch")),
                    },
                    ProducePartition {
                        index: 4,
                        records: None,
                    },
                ],
            }],
        }
        .into(),
        ApiKey::Fetch => FetchRequest {
            replica_id: -1,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: at(v, 3, 99, 1000, i32::MAX),
            isolation_level: since(v, 4, 1),
            session_id: since(v, 7, 9),
            session_epoch: at(v, 7, 99, 2, -1),
            topics: vec![FetchTopic {
                topic: s("orders"),
                partitions: vec![FetchPartition {
                    partition: 1,
                    current_leader_epoch: at(v, 9, 99, 4, -1),
                    fetch_offset: 77,
                    last_fetched_epoch: at(v, 12, 99, 3, -1),
                    log_start_offset: at(v, 5, 99, 5, -1),
                    partition_max_bytes: 4096,
                }],
            }],
            forgotten_topics_data: since(
                v,
                7,
                vec![ForgottenTopic {
                    topic: s("old"),
                    partitions: vec![1, 2],
                }],
            ),
            rack_id: since(v, 11, s("rack-a")),
        }
        .into(),
        ApiKey::ListOffsets => ListOffsetsRequest {
            replica_id: -1,
            isolation_level: since(v, 2, 1),
            topics: vec![ListOffsetsTopic {
                name: s("orders"),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 2,
                    current_leader_epoch: at(v, 4, 99, 6, -1),
                    timestamp: -2,
                    max_num_offsets: at(v, 0, 0, 5, 1),
                }],
            }],
        }
        .into(),
        ApiKey::Metadata => MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    topic_id: since(v, 10, ID),
                    name: some("orders"),
                },
                MetadataRequestTopic {
                    topic_id: since(v, 10, ID),
                    name: at(v, 10, 99, None, some("x")),
                },
            ]),
            allow_auto_topic_creation: at(v, 4, 99, false, true),
            include_cluster_authorized_operations: at(v, 8, 10, true, false),
            include_topic_authorized_operations: since(v, 8, true),
        }
        .into(),
        ApiKey::OffsetCommit => OffsetCommitRequest {
            group_id: s("g"),
            generation_id: at(v, 1, 99, 3, -1),
            member_id: since(v, 1, s("m")),
            group_instance_id: since(v, 7, some("i")),
            retention_time_ms: at(v, 2, 4, 1000, -1),
            topics: vec![OffsetCommitRequestTopic {
                name: s("orders"),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 12,
                    committed_leader_epoch: at(v, 6, 99, 2, -1),
                    commit_timestamp: at(v, 1, 1, 99, -1),
                    committed_metadata: some("meta"),
                }],
            }],
        }
        .into(),
        ApiKey::OffsetFetch => OffsetFetchRequest {
            group_id: at(v, 0, 7, s("g"), s("")),
            topics: at(
                v,
                0,
                7,
                Some(vec![OffsetFetchRequestTopic {
                    name: s("t"),
                    partition_indexes: vec![0, 1],
                }]),
                None,
            ),
            groups: since(
                v,
                8,
                vec![
                    OffsetFetchRequestGroup {
                        group_id: s("g1"),
                        topics: None,
                    },
                    OffsetFetchRequestGroup {
                        group_id: s("g2"),
                        topics: Some(vec![OffsetFetchRequestTopic {
                            name: s("t"),
                            partition_indexes: vec![3],
                        }]),
                    },
                ],
            ),
            require_stable: since(v, 7, true),
        }
        .into(),
        ApiKey::FindCoordinator => FindCoordinatorRequest {
            key: at(v, 0, 3, s("g"), s("")),
            key_type: since(v, 1, 1),
            coordinator_keys: since(v, 4, vec![s("a"), s("b")]),
        }
        .into(),
        ApiKey::JoinGroup => JoinGroupRequest {
            group_id: s("g"),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: at(v, 1, 99, 20_000, -1),
            member_id: s("m"),
            group_instance_id: since(v, 5, some("i")),
            protocol_type: s("consumer"),
            protocols: vec![JoinGroupRequestProtocol {
                name: s("range"),
                metadata: blob(b"md"),
            }],
        }
        .into(),
        ApiKey::Heartbeat => HeartbeatRequest {
            group_id: s("g"),
            generation_id: 4,
            member_id: s("m"),
            group_instance_id: since(v, 3, some("i")),
        }
        .into(),
        ApiKey::LeaveGroup => LeaveGroupRequest {
            group_id: s("g"),
            member_id: at(v, 0, 2, s("m"), s("")),
            members: since(
                v,
                3,
                vec![MemberIdentity {
                    member_id: s("m"),
                    group_instance_id: some("i"),
                }],
            ),
        }
        .into(),
        ApiKey::SyncGroup => SyncGroupRequest {
            group_id: s("g"),
            generation_id: 4,
            member_id: s("m"),
            group_instance_id: since(v, 3, some("i")),
            protocol_type: since(v, 5, some("consumer")),
            protocol_name: since(v, 5, some("range")),
            assignments: vec![SyncGroupRequestAssignment {
                member_id: s("m"),
                assignment: blob(b"assign"),
            }],
        }
        .into(),
        ApiKey::DescribeGroups => DescribeGroupsRequest {
            groups: vec![s("g"), s("h")],
            include_authorized_operations: since(v, 3, true),
        }
        .into(),
        ApiKey::ListGroups => ListGroupsRequest {
            states_filter: since(v, 4, vec![s("Stable")]),
        }
        .into(),
        ApiKey::SaslHandshake => SaslHandshakeRequest {
            mechanism: s("PLAIN"),
        }
        .into(),
        ApiKey::ApiVersions => ApiVersionsRequest {
            client_software_name: since(v, 3, s("librdkafka")),
            client_software_version: since(v, 3, s("2.3.0")),
        }
        .into(),
        ApiKey::CreateTopics => CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: s("t"),
                num_partitions: 3,
                replication_factor: 1,
                assignments: vec![CreatableReplicaAssignment {
                    partition_index: 0,
                    broker_ids: vec![1],
                }],
                configs: vec![CreatableTopicConfig {
                    name: s("retention.ms"),
                    value: some("1"),
                }],
            }],
            timeout_ms: 5000,
            validate_only: since(v, 1, true),
        }
        .into(),
        ApiKey::DeleteTopics => DeleteTopicsRequest {
            topics: since(
                v,
                6,
                vec![
                    DeleteTopicState {
                        name: some("t"),
                        topic_id: Uuid::nil(),
                    },
                    DeleteTopicState {
                        name: None,
                        topic_id: ID,
                    },
                ],
            ),
            topic_names: at(v, 0, 5, vec![s("t")], vec![]),
            timeout_ms: 5000,
        }
        .into(),
        ApiKey::InitProducerId => InitProducerIdRequest {
            transactional_id: some("tx"),
            transaction_timeout_ms: 60_000,
            producer_id: at(v, 3, 99, 17, -1),
            producer_epoch: at(v, 3, 99, 2, -1),
        }
        .into(),
        ApiKey::DescribeConfigs => DescribeConfigsRequest {
            resources: vec![
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: s("t"),
                    configuration_keys: Some(vec![s("retention.ms")]),
                },
                DescribeConfigsResource {
                    resource_type: 4,
                    resource_name: s("1"),
                    configuration_keys: None,
                },
            ],
            include_synonyms: since(v, 1, true),
            include_documentation: since(v, 3, true),
        }
        .into(),
        ApiKey::SaslAuthenticate => SaslAuthenticateRequest {
            auth_bytes: blob(b"\0user\0pass"),
        }
        .into(),
        ApiKey::CreatePartitions => CreatePartitionsRequest {
            topics: vec![
                CreatePartitionsTopic {
                    name: s("t"),
                    count: 6,
                    assignments: Some(vec![CreatePartitionsAssignment {
                        broker_ids: vec![1, 2],
                    }]),
                },
                CreatePartitionsTopic {
                    name: s("u"),
                    count: 2,
                    assignments: None,
                },
            ],
            timeout_ms: 5000,
            validate_only: true,
        }
        .into(),
        ApiKey::DeleteGroups => DeleteGroupsRequest {
            groups_names: vec![s("g")],
        }
        .into(),
        ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: 2,
                resource_name: s("t"),
                configs: vec![
                    AlterableConfig {
                        name: s("a"),
                        config_operation: 0,
                        value: some("1"),
                    },
                    AlterableConfig {
                        name: s("b"),
                        config_operation: 1,
                        value: None,
                    },
                ],
            }],
            validate_only: true,
        }
        .into(),
        ApiKey::DescribeCluster => DescribeClusterRequest {
            include_cluster_authorized_operations: true,
        }
        .into(),
    }
}
