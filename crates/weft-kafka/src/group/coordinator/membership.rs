//! SyncGroup, Heartbeat and LeaveGroup.

use std::time::Instant;

use super::super::GroupError;
use super::super::types::{
    GroupState, HeartbeatRequest, LeaveRequest, LeaveResponse, LeftMember, Reply, ReplyId,
    SyncRequest, SyncResponse,
};
use super::Coordinator;
use super::rebalance::remove_member;
use super::state::Group;

impl Coordinator {
    /// SyncGroup. In `CompletingRebalance` the answer waits for the leader's assignments
    /// (a follower's SyncGroup that comes first is held); in `Stable` it is the member's
    /// current assignment.
    pub fn sync(&mut self, now: Instant, reply: ReplyId, request: SyncRequest) {
        if let Err(error) = self.try_sync(now, reply, request) {
            self.push(reply, Reply::Sync(SyncResponse::error(error)));
        }
    }

    fn try_sync(
        &mut self,
        now: Instant,
        reply: ReplyId,
        request: SyncRequest,
    ) -> Result<(), GroupError> {
        let group = self.group_mut(&request.group_id)?;
        check_member(
            group,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        )?;
        if request
            .protocol_type
            .as_ref()
            .is_some_and(|protocol_type| group.protocol_type.as_ref() != Some(protocol_type))
            || request
                .protocol_name
                .as_ref()
                .is_some_and(|protocol| group.protocol.as_ref() != Some(protocol))
        {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                let mut answers = Vec::new();
                complete_sync(group, now, reply, request, &mut answers);
                self.outputs.extend(answers);
                Ok(())
            }
            GroupState::Stable => {
                let response = stable_sync_response(group, &request.member_id, now);
                self.push(reply, Reply::Sync(response));
                Ok(())
            }
        }
    }

    /// Heartbeat: answered at once.
    pub fn heartbeat(&mut self, now: Instant, reply: ReplyId, request: HeartbeatRequest) {
        let result = self.try_heartbeat(now, &request);
        self.push(reply, Reply::Heartbeat(result));
    }

    fn try_heartbeat(
        &mut self,
        now: Instant,
        request: &HeartbeatRequest,
    ) -> Result<(), GroupError> {
        let group = self.group_mut(&request.group_id)?;
        check_member(
            group,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        )?;
        let state = group.state;
        if let Some(member) = group.members.get_mut(&request.member_id) {
            member.last_heartbeat = now;
        }
        match state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            // Members may heartbeat between their JoinGroup and SyncGroup responses.
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
        }
    }

    /// LeaveGroup: each member leaves (a static member may be named by instance id
    /// alone) and the group rebalances. Answered at once.
    pub fn leave(&mut self, now: Instant, reply: ReplyId, request: LeaveRequest) {
        let response = self.try_leave(now, request);
        self.push(reply, Reply::Leave(response));
    }

    fn try_leave(&mut self, now: Instant, request: LeaveRequest) -> LeaveResponse {
        if request.group_id.is_empty() {
            return LeaveResponse {
                error: Some(GroupError::InvalidGroupId),
                members: Vec::new(),
            };
        }
        let Coordinator {
            config,
            groups,
            outputs,
        } = self;
        let mut members = Vec::with_capacity(request.members.len());
        for (member_id, group_instance_id) in request.members {
            let error = match groups.get_mut(&request.group_id) {
                None => Some(GroupError::UnknownMemberId),
                Some(group) => {
                    let leaving = leaving_member(group, &member_id, group_instance_id.as_deref());
                    match leaving {
                        Err(error) => Some(error),
                        Ok(Leaving::Pending) => {
                            group.pending_members.remove(&member_id);
                            None
                        }
                        Ok(Leaving::Member(leaving)) => {
                            tracing::info!(group = %group.group_id, member = %leaving, "member left group");
                            remove_member(group, &leaving, now, config, outputs, "member left");
                            None
                        }
                    }
                }
            };
            members.push(LeftMember {
                member_id,
                group_instance_id,
                error,
            });
        }
        LeaveResponse {
            error: None,
            members,
        }
    }
}

/// The checks SyncGroup and Heartbeat share.
fn check_member(
    group: &Group,
    member_id: &str,
    instance_id: Option<&str>,
    generation_id: i32,
) -> Result<(), GroupError> {
    if group.is_fenced(member_id, instance_id) {
        return Err(GroupError::FencedInstanceId);
    }
    if !group.members.contains_key(member_id) {
        return Err(GroupError::UnknownMemberId);
    }
    if generation_id != group.generation {
        return Err(GroupError::IllegalGeneration);
    }
    Ok(())
}

/// SyncGroup in `CompletingRebalance`: the member waits; the leader's assignments are
/// stored and every waiting member is answered, and the group becomes `Stable`.
fn complete_sync(
    group: &mut Group,
    now: Instant,
    reply: ReplyId,
    request: SyncRequest,
    answers: &mut Vec<(ReplyId, Reply)>,
) {
    let Some(member) = group.members.get_mut(&request.member_id) else {
        return;
    };
    member.last_heartbeat = now;
    member.pending_sync = false;
    if let Some(previous) = member.sync_reply.replace(reply) {
        let error = SyncResponse::error(GroupError::RebalanceInProgress);
        answers.push((previous, Reply::Sync(error)));
    }
    if group.leader.as_deref() != Some(request.member_id.as_str()) {
        return;
    }
    let mut assignments: std::collections::HashMap<String, bytes::Bytes> =
        request.assignments.into_iter().collect();
    for member in group.members.values_mut() {
        member.assignment = assignments.remove(&member.member_id).unwrap_or_default();
    }
    group.state = GroupState::Stable;
    tracing::info!(group = %group.group_id, generation = group.generation, "group is stable");
    for member in group.members.values_mut() {
        if let Some(waiting) = member.sync_reply.take() {
            let response = SyncResponse {
                error: None,
                protocol_type: group.protocol_type.clone(),
                protocol_name: group.protocol.clone(),
                assignment: member.assignment.clone(),
            };
            answers.push((waiting, Reply::Sync(response)));
        }
    }
    settle_sync_deadline(group);
}

fn stable_sync_response(group: &mut Group, member_id: &str, now: Instant) -> SyncResponse {
    let assignment = match group.members.get_mut(member_id) {
        Some(member) => {
            member.last_heartbeat = now;
            member.pending_sync = false;
            member.assignment.clone()
        }
        None => bytes::Bytes::new(),
    };
    settle_sync_deadline(group);
    SyncResponse {
        error: None,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        assignment,
    }
}

/// Drops the sync deadline once every member has synced.
fn settle_sync_deadline(group: &mut Group) {
    if group.members.values().all(|member| !member.pending_sync) {
        group.sync_deadline = None;
    }
}

enum Leaving {
    /// A member id handed out with `MEMBER_ID_REQUIRED` that never joined.
    Pending,
    /// This member.
    Member(String),
}

/// Which member a LeaveGroup entry names.
fn leaving_member(
    group: &Group,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<Leaving, GroupError> {
    if member_id.is_empty() {
        let instance = instance_id.ok_or(GroupError::UnknownMemberId)?;
        let current = group
            .static_members
            .get(instance)
            .ok_or(GroupError::UnknownMemberId)?;
        return Ok(Leaving::Member(current.clone()));
    }
    if group.is_fenced(member_id, instance_id) {
        return Err(GroupError::FencedInstanceId);
    }
    if group.pending_members.contains_key(member_id) {
        return Ok(Leaving::Pending);
    }
    if !group.members.contains_key(member_id) {
        return Err(GroupError::UnknownMemberId);
    }
    Ok(Leaving::Member(member_id.to_owned()))
}
