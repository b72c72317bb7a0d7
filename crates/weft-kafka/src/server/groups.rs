//! The group APIs: the coordinator's answers in wire form, and committed offsets.

use std::time::Duration;

use crate::group::{
    CommittedOffset, GroupState, HeartbeatRequest as GroupHeartbeat, JoinRequest, LeaveRequest,
    SyncRequest, optional_code,
};
use crate::protocol::{
    DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember, ErrorCode, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, JoinGroupResponseMember,
    LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, ListedGroup,
    MemberResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic, OffsetFetchRequest, OffsetFetchRequestTopic, OffsetFetchResponse,
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    SyncGroupRequest, SyncGroupResponse,
};

use weft_broker::Action;

use super::{KafkaContext, Session};

fn code(error: Option<crate::group::GroupError>) -> ErrorCode {
    ErrorCode(optional_code(error))
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub(super) async fn join(
    context: &KafkaContext,
    session: &Session,
    client_id: &str,
    request: JoinGroupRequest,
    version: i16,
) -> JoinGroupResponse {
    if let Err(error) = context
        .broker()
        .authorize(&session.principal, Action::JoinGroup(&request.group_id))
    {
        tracing::debug!(%error, group = %request.group_id, "join refused");
        return JoinGroupResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
            member_id: request.member_id,
            ..Default::default()
        };
    }
    // v0 has no rebalance timeout: it is the session timeout.
    let rebalance_timeout = if request.rebalance_timeout_ms < 0 {
        request.session_timeout_ms
    } else {
        request.rebalance_timeout_ms
    };
    let answer = context
        .groups()
        .join(JoinRequest {
            group_id: request.group_id,
            member_id: request.member_id,
            group_instance_id: request.group_instance_id,
            client_id: client_id.to_owned(),
            client_host: session.client_host.clone(),
            session_timeout: millis(request.session_timeout_ms),
            rebalance_timeout: millis(rebalance_timeout),
            protocol_type: request.protocol_type,
            protocols: request
                .protocols
                .into_iter()
                .map(|protocol| (protocol.name, protocol.metadata))
                .collect(),
            version,
            reason: None,
        })
        .await;
    JoinGroupResponse {
        throttle_time_ms: 0,
        error_code: code(answer.error),
        generation_id: answer.generation_id,
        protocol_type: answer.protocol_type,
        // Before v7 the protocol name is not nullable.
        protocol_name: answer
            .protocol_name
            .or_else(|| (version < 7).then(String::new)),
        leader: answer.leader,
        member_id: answer.member_id,
        members: answer
            .members
            .into_iter()
            .map(|member| JoinGroupResponseMember {
                member_id: member.member_id,
                group_instance_id: member.group_instance_id,
                metadata: member.metadata,
            })
            .collect(),
    }
}

pub(super) async fn sync(context: &KafkaContext, request: SyncGroupRequest) -> SyncGroupResponse {
    let answer = context
        .groups()
        .sync(SyncRequest {
            group_id: request.group_id,
            generation_id: request.generation_id,
            member_id: request.member_id,
            group_instance_id: request.group_instance_id,
            protocol_type: request.protocol_type,
            protocol_name: request.protocol_name,
            assignments: request
                .assignments
                .into_iter()
                .map(|assignment| (assignment.member_id, assignment.assignment))
                .collect(),
        })
        .await;
    SyncGroupResponse {
        throttle_time_ms: 0,
        error_code: code(answer.error),
        protocol_type: answer.protocol_type,
        protocol_name: answer.protocol_name,
        assignment: answer.assignment,
    }
}

pub(super) async fn heartbeat(
    context: &KafkaContext,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let result = context
        .groups()
        .heartbeat(GroupHeartbeat {
            group_id: request.group_id,
            generation_id: request.generation_id,
            member_id: request.member_id,
            group_instance_id: request.group_instance_id,
        })
        .await;
    HeartbeatResponse {
        throttle_time_ms: 0,
        error_code: code(result.err()),
    }
}

pub(super) async fn leave(
    context: &KafkaContext,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let members = if version < 3 {
        vec![(request.member_id, None)]
    } else {
        request
            .members
            .into_iter()
            .map(|member| (member.member_id, member.group_instance_id))
            .collect()
    };
    let answer = context
        .groups()
        .leave(LeaveRequest {
            group_id: request.group_id,
            members,
        })
        .await;
    // Before v3 the single member's error is the response's.
    let error = if version < 3 {
        answer
            .error
            .or_else(|| answer.members.first().and_then(|member| member.error))
    } else {
        answer.error
    };
    LeaveGroupResponse {
        throttle_time_ms: 0,
        error_code: code(error),
        members: answer
            .members
            .into_iter()
            .map(|member| MemberResponse {
                member_id: member.member_id,
                group_instance_id: member.group_instance_id,
                error_code: code(member.error),
            })
            .collect(),
    }
}

pub(super) async fn commit(
    context: &KafkaContext,
    session: &Session,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let allowed = context
        .broker()
        .authorize(&session.principal, Action::JoinGroup(&request.group_id));
    if allowed.is_err() {
        let topics = request
            .topics
            .iter()
            .map(|topic| OffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .map(|partition| OffsetCommitResponsePartition {
                        partition_index: partition.partition_index,
                        error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
                    })
                    .collect(),
            })
            .collect();
        return OffsetCommitResponse {
            throttle_time_ms: 0,
            topics,
        };
    }
    let mut offsets = Vec::new();
    for topic in &request.topics {
        for partition in &topic.partitions {
            offsets.push(CommittedOffset {
                topic: topic.name.clone(),
                partition: partition.partition_index,
                offset: partition.committed_offset,
                leader_epoch: partition.committed_leader_epoch,
                metadata: partition.committed_metadata.clone(),
                commit_time_ms: 0,
            });
        }
    }
    let results = context
        .groups()
        .commit_offsets(
            &request.group_id,
            request.generation_id,
            &request.member_id,
            request.group_instance_id.as_deref(),
            offsets,
        )
        .await;
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
    for (topic, partition, result) in results {
        let entry = OffsetCommitResponsePartition {
            partition_index: partition,
            error_code: code(result.err()),
        };
        match topics.last_mut() {
            Some(last) if last.name == topic => last.partitions.push(entry),
            _ => topics.push(OffsetCommitResponseTopic {
                name: topic,
                partitions: vec![entry],
            }),
        }
    }
    OffsetCommitResponse {
        throttle_time_ms: 0,
        topics,
    }
}

pub(super) fn fetch_offsets(
    context: &KafkaContext,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let group_ids = request
            .groups
            .into_iter()
            .map(|group| OffsetFetchResponseGroup {
                topics: fetched_topics(context, &group.group_id, group.topics.as_deref()),
                group_id: group.group_id,
                error_code: ErrorCode::NONE,
            })
            .collect();
        return OffsetFetchResponse {
            group_ids,
            ..Default::default()
        };
    }
    OffsetFetchResponse {
        topics: fetched_topics(context, &request.group_id, request.topics.as_deref()),
        ..Default::default()
    }
}

fn fetched_topics(
    context: &KafkaContext,
    group_id: &str,
    topics: Option<&[OffsetFetchRequestTopic]>,
) -> Vec<OffsetFetchResponseTopic> {
    let wanted: Option<Vec<(String, Vec<i32>)>> = topics.map(|topics| {
        topics
            .iter()
            .map(|topic| (topic.name.clone(), topic.partition_indexes.clone()))
            .collect()
    });
    let fetched = context.groups().fetch_offsets(group_id, wanted.as_deref());
    let mut out: Vec<OffsetFetchResponseTopic> = Vec::new();
    for offset in fetched {
        let entry = OffsetFetchResponsePartition {
            partition_index: offset.partition,
            committed_offset: offset.offset,
            committed_leader_epoch: offset.leader_epoch,
            // Kafka sends "" where nothing was committed.
            metadata: Some(offset.metadata.unwrap_or_default()),
            error_code: ErrorCode::NONE,
        };
        match out.iter_mut().find(|topic| topic.name == offset.topic) {
            Some(topic) => topic.partitions.push(entry),
            None => out.push(OffsetFetchResponseTopic {
                name: offset.topic,
                partitions: vec![entry],
            }),
        }
    }
    out
}

pub(super) async fn describe(
    context: &KafkaContext,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = context
        .groups()
        .describe(request.groups)
        .await
        .into_iter()
        .map(|group| DescribedGroup {
            error_code: ErrorCode::NONE,
            group_id: group.group_id,
            group_state: group.state.as_str().to_owned(),
            protocol_type: group.protocol_type,
            protocol_data: group.protocol,
            members: group
                .members
                .into_iter()
                .map(|member| DescribedGroupMember {
                    member_id: member.member_id,
                    group_instance_id: member.group_instance_id,
                    client_id: member.client_id,
                    client_host: member.client_host,
                    member_metadata: member.metadata,
                    member_assignment: member.assignment,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    DescribeGroupsResponse {
        throttle_time_ms: 0,
        groups,
    }
}

pub(super) async fn list(context: &KafkaContext, request: ListGroupsRequest) -> ListGroupsResponse {
    let mut states = Vec::new();
    for state in &request.states_filter {
        match state.parse::<GroupState>() {
            Ok(state) => states.push(state),
            // An unknown state matches no group.
            Err(_) => {
                return ListGroupsResponse::default();
            }
        }
    }
    match context.groups().list(states).await {
        Ok(groups) => ListGroupsResponse {
            groups: groups
                .into_iter()
                .map(|group| ListedGroup {
                    group_id: group.group_id,
                    protocol_type: group.protocol_type,
                    group_state: group.state.as_str().to_owned(),
                })
                .collect(),
            ..Default::default()
        },
        Err(error) => ListGroupsResponse {
            error_code: code(Some(error)),
            ..Default::default()
        },
    }
}

pub(super) async fn delete(
    context: &KafkaContext,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    DeleteGroupsResponse {
        throttle_time_ms: 0,
        results: context
            .groups()
            .delete_groups(request.groups_names)
            .await
            .into_iter()
            .map(|(group_id, result)| DeletableGroupResult {
                group_id,
                error_code: code(result.err()),
            })
            .collect(),
    }
}
