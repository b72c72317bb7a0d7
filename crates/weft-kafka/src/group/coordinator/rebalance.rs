//! The rebalance steps shared by every request: preparing a rebalance, completing the
//! join phase, removing members, and the timeouts.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::super::GroupError;
use super::super::types::{GroupState, JoinResponse, Reply, ReplyId, SyncResponse};
use super::CoordinatorConfig;
use super::state::Group;

pub(super) type Outputs = VecDeque<(ReplyId, Reply)>;

/// Starts a rebalance if the group is in a state that can start one.
pub(super) fn maybe_prepare_rebalance(
    group: &mut Group,
    now: Instant,
    config: &CoordinatorConfig,
    outputs: &mut Outputs,
    reason: &str,
) {
    if matches!(
        group.state,
        GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance
    ) {
        prepare_rebalance(group, now, config, outputs, reason);
    }
}

/// Moves the group to `PreparingRebalance`: members waiting for their assignment are
/// told to rejoin; a group coming from `Empty` waits the initial delay. Completes the
/// join phase at once if every member has already rejoined.
pub(super) fn prepare_rebalance(
    group: &mut Group,
    now: Instant,
    config: &CoordinatorConfig,
    outputs: &mut Outputs,
    reason: &str,
) {
    if group.state == GroupState::CompletingRebalance {
        for member in group.members.values_mut() {
            member.assignment = Bytes::new();
            if let Some(reply) = member.sync_reply.take() {
                let error = SyncResponse::error(GroupError::RebalanceInProgress);
                outputs.push_back((reply, Reply::Sync(error)));
            }
        }
    }
    for member in group.members.values_mut() {
        member.pending_sync = false;
    }
    group.sync_deadline = None;
    let rebalance_timeout = group.rebalance_timeout();
    let delay = config.initial_rebalance_delay;
    if group.state == GroupState::Empty && !delay.is_zero() {
        let first_step = delay.min(rebalance_timeout);
        group.join_deadline = Some(now + first_step);
        group.initial_delay_remaining = Some(rebalance_timeout.saturating_sub(first_step));
        group.new_member_added = false;
    } else {
        group.join_deadline = Some(now + rebalance_timeout);
        group.initial_delay_remaining = None;
    }
    tracing::info!(
        group = %group.group_id,
        generation = group.generation,
        from = %group.state,
        reason,
        "preparing to rebalance group"
    );
    group.state = GroupState::PreparingRebalance;
    try_complete_join(group, now, outputs);
}

/// Completes the join phase if every member has rejoined (not during the initial delay).
pub(super) fn try_complete_join(group: &mut Group, now: Instant, outputs: &mut Outputs) {
    if group.state == GroupState::PreparingRebalance
        && group.initial_delay_remaining.is_none()
        && group.all_members_joined()
    {
        complete_join(group, now, outputs);
    }
}

/// Ends the join phase: members that did not rejoin are removed, and the group moves to
/// the next generation (`CompletingRebalance`, or `Empty` without members). Every
/// waiting member gets its JoinGroup response; the leader's lists the members.
pub(super) fn complete_join(group: &mut Group, now: Instant, outputs: &mut Outputs) {
    group.join_deadline = None;
    group.initial_delay_remaining = None;
    group.new_member_added = false;
    let absent: Vec<String> = group
        .members
        .values()
        .filter(|member| member.join_reply.is_none())
        .map(|member| member.member_id.clone())
        .collect();
    for member_id in absent {
        tracing::info!(group = %group.group_id, member = %member_id, "member did not rejoin in time");
        remove_from_group(group, &member_id, outputs);
    }
    group.generation += 1;
    if group.members.is_empty() {
        group.protocol = None;
        group.leader = None;
        group.state = GroupState::Empty;
        tracing::info!(group = %group.group_id, generation = group.generation, "group is empty");
        return;
    }
    if !group
        .leader
        .as_ref()
        .is_some_and(|leader| group.members.contains_key(leader))
    {
        group.leader = group.members.keys().next().cloned();
    }
    group.protocol = group.select_protocol();
    group.state = GroupState::CompletingRebalance;
    group.sync_deadline = Some(now + group.rebalance_timeout());
    let leader = group.leader.clone().unwrap_or_default();
    let all_members = group.joined_members();
    for member in group.members.values_mut() {
        member.is_new = false;
        member.pending_sync = true;
        member.last_heartbeat = now;
        if let Some(reply) = member.join_reply.take() {
            let response = JoinResponse {
                error: None,
                generation_id: group.generation,
                protocol_type: group.protocol_type.clone(),
                protocol_name: group.protocol.clone(),
                leader: leader.clone(),
                skip_assignment: false,
                member_id: member.member_id.clone(),
                members: if member.member_id == leader {
                    all_members.clone()
                } else {
                    Vec::new()
                },
            };
            outputs.push_back((reply, Reply::Join(response)));
        }
    }
    tracing::info!(
        group = %group.group_id,
        generation = group.generation,
        protocol = group.protocol.as_deref().unwrap_or_default(),
        members = group.members.len(),
        "group join phase completed"
    );
}

/// Removes a member (it left or expired) and moves the group on: a stable or completing
/// group rebalances, a preparing one may now complete its join phase.
pub(super) fn remove_member(
    group: &mut Group,
    member_id: &str,
    now: Instant,
    config: &CoordinatorConfig,
    outputs: &mut Outputs,
    reason: &str,
) {
    remove_from_group(group, member_id, outputs);
    match group.state {
        GroupState::Stable | GroupState::CompletingRebalance => {
            prepare_rebalance(group, now, config, outputs, reason);
        }
        GroupState::PreparingRebalance => try_complete_join(group, now, outputs),
        GroupState::Empty | GroupState::Dead => {}
    }
}

/// Takes a member out of the group, answering its waiting requests with `UNKNOWN_MEMBER_ID`.
fn remove_from_group(group: &mut Group, member_id: &str, outputs: &mut Outputs) {
    let Some(member) = group.members.remove(member_id) else {
        return;
    };
    if let Some(reply) = member.join_reply {
        let error = JoinResponse::error(GroupError::UnknownMemberId, member_id);
        outputs.push_back((reply, Reply::Join(error)));
    }
    if let Some(reply) = member.sync_reply {
        let error = SyncResponse::error(GroupError::UnknownMemberId);
        outputs.push_back((reply, Reply::Sync(error)));
    }
    if let Some(instance) = &member.instance_id
        && group.static_members.get(instance).map(String::as_str) == Some(member_id)
    {
        group.static_members.remove(instance);
    }
    if group.leader.as_deref() == Some(member_id) {
        group.leader = group.members.keys().next().cloned();
    }
}

/// Applies every timeout of the group due by `now`.
pub(super) fn expire(
    group: &mut Group,
    now: Instant,
    config: &CoordinatorConfig,
    outputs: &mut Outputs,
) {
    let expired_pending: Vec<String> = group
        .pending_members
        .iter()
        .filter(|(_, expiry)| **expiry <= now)
        .map(|(member_id, _)| member_id.clone())
        .collect();
    for member_id in expired_pending {
        group.pending_members.remove(&member_id);
        tracing::debug!(group = %group.group_id, member = %member_id, "pending member expired");
        try_complete_join(group, now, outputs);
    }
    let expired: Vec<String> = group
        .members
        .values()
        .filter(|member| member.expiry().is_some_and(|expiry| expiry <= now))
        .map(|member| member.member_id.clone())
        .collect();
    for member_id in expired {
        tracing::info!(group = %group.group_id, member = %member_id, "member session expired");
        remove_member(
            group,
            &member_id,
            now,
            config,
            outputs,
            "member session expired",
        );
    }
    while let Some(deadline) = group.join_deadline
        && deadline <= now
    {
        on_join_deadline(group, deadline, now, config, outputs);
    }
    if group.sync_deadline.is_some_and(|deadline| deadline <= now) {
        group.sync_deadline = None;
        let late: Vec<String> = group
            .members
            .values()
            .filter(|member| member.pending_sync)
            .map(|member| member.member_id.clone())
            .collect();
        if !late.is_empty() && group.state != GroupState::PreparingRebalance {
            for member_id in &late {
                tracing::info!(group = %group.group_id, member = %member_id, "member did not sync in time");
                remove_from_group(group, member_id, outputs);
            }
            maybe_prepare_rebalance(group, now, config, outputs, "members did not sync in time");
        }
    }
}

/// The join phase's deadline passed: extend the initial delay if members keep coming,
/// otherwise complete the join phase with whoever rejoined. A step of the delay counts
/// from the `deadline` that ended the previous one, however late the tick.
fn on_join_deadline(
    group: &mut Group,
    deadline: Instant,
    now: Instant,
    config: &CoordinatorConfig,
    outputs: &mut Outputs,
) {
    if let Some(remaining) = group.initial_delay_remaining
        && group.new_member_added
        && !remaining.is_zero()
    {
        let step = config.initial_rebalance_delay.min(remaining);
        group.initial_delay_remaining = Some(remaining - step);
        group.new_member_added = false;
        group.join_deadline = Some(deadline + step);
        return;
    }
    complete_join(group, now, outputs);
}
