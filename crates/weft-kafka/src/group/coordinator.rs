//! [`Coordinator`]: the classic consumer-group protocol as a state machine without I/O.
//!
//! Requests come in with a caller-chosen [`ReplyId`] and the current time; the answers
//! come out of [`Coordinator::poll_output`], possibly much later (a JoinGroup waits for
//! the join phase to complete, a follower's SyncGroup for the leader's). Timeouts are
//! applied by [`Coordinator::tick`], which the caller runs at
//! [`Coordinator::next_deadline`]. The semantics follow Apache Kafka's classic group
//! coordinator, including static membership (KIP-345) and `MEMBER_ID_REQUIRED`
//! (KIP-394).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::GroupError;
use super::types::{GroupDescription, GroupListing, GroupState, Reply, ReplyId};

mod join;
mod membership;
mod rebalance;
mod state;

use state::Group;

/// What the coordinator allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// How long a group going from `Empty` to a rebalance waits for more members, extended
    /// by as much while members keep joining, up to the rebalance timeout (Kafka's
    /// `group.initial.rebalance.delay.ms`).
    pub initial_rebalance_delay: Duration,
    /// The shortest session timeout a member may ask for (`group.min.session.timeout.ms`).
    pub min_session_timeout: Duration,
    /// The longest session timeout a member may ask for (`group.max.session.timeout.ms`).
    pub max_session_timeout: Duration,
    /// The most members a group may have (`group.max.size`); `None` for no limit.
    pub max_group_size: Option<usize>,
}

impl Default for CoordinatorConfig {
    /// Kafka's defaults: 3 s initial delay, session timeouts from 6 s to 30 min, no size limit.
    fn default() -> Self {
        CoordinatorConfig {
            initial_rebalance_delay: Duration::from_secs(3),
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(30 * 60),
            max_group_size: None,
        }
    }
}

/// The protocol type of groups known only by their committed offsets.
pub const OFFSETS_ONLY_PROTOCOL_TYPE: &str = "consumer";

/// Every classic group of this node.
#[derive(Debug)]
pub struct Coordinator {
    config: CoordinatorConfig,
    groups: BTreeMap<String, Group>,
    outputs: VecDeque<(ReplyId, Reply)>,
}

impl Coordinator {
    /// A coordinator without groups.
    pub fn new(config: CoordinatorConfig) -> Self {
        Coordinator {
            config,
            groups: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Makes a group known by its committed offsets alone (after a restart): `Empty`, with
    /// protocol type `consumer`. Does nothing if the group is known.
    pub fn register_offsets_group(&mut self, group_id: &str) {
        if group_id.is_empty() || self.groups.contains_key(group_id) {
            return;
        }
        let group = Group::new(
            group_id.to_owned(),
            Some(OFFSETS_ONLY_PROTOCOL_TYPE.to_owned()),
        );
        self.groups.insert(group_id.to_owned(), group);
    }

    /// The next answer to send, with the id of the request it answers.
    pub fn poll_output(&mut self) -> Option<(ReplyId, Reply)> {
        self.outputs.pop_front()
    }

    /// When [`tick`](Self::tick) must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.groups.values().filter_map(Group::next_deadline).min()
    }

    /// Applies every timeout due by `now`: expired sessions and member ids, the end of
    /// join phases (and steps of the initial delay), members that did not sync in time.
    pub fn tick(&mut self, now: Instant) {
        for group in self.groups.values_mut() {
            rebalance::expire(group, now, &self.config, &mut self.outputs);
        }
    }

    /// Whether a member may commit offsets for `group_id` now. A generation below 0 with
    /// an empty member id is a standalone commit, allowed while the group is `Empty` or
    /// unknown (the group then becomes known). A valid commit from a member also counts
    /// as its heartbeat.
    pub fn validate_commit(
        &mut self,
        now: Instant,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let Some(group) = self.groups.get_mut(group_id) else {
            if generation_id < 0 {
                self.register_offsets_group(group_id);
                return Ok(());
            }
            return Err(GroupError::IllegalGeneration);
        };
        if generation_id < 0 && group.state == GroupState::Empty {
            return Ok(());
        }
        if group.is_fenced(member_id, instance_id) {
            return Err(GroupError::FencedInstanceId);
        }
        let Some(member) = group.members.get_mut(member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if generation_id != group.generation {
            return Err(GroupError::IllegalGeneration);
        }
        match group.state {
            // While preparing a rebalance commits are still accepted: the heartbeat
            // response tells the member to rejoin.
            GroupState::Stable | GroupState::PreparingRebalance => {
                member.last_heartbeat = now;
                Ok(())
            }
            GroupState::CompletingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
        }
    }

    /// DescribeGroups for one group; an unknown group is `Dead` with no members.
    pub fn describe(&self, group_id: &str) -> GroupDescription {
        let Some(group) = self.groups.get(group_id) else {
            return GroupDescription {
                group_id: group_id.to_owned(),
                state: GroupState::Dead,
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            };
        };
        let protocol = match group.state {
            GroupState::Stable => group.protocol.clone().unwrap_or_default(),
            _ => String::new(),
        };
        GroupDescription {
            group_id: group_id.to_owned(),
            state: group.state,
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol,
            members: group.member_descriptions(),
        }
    }

    /// ListGroups: every group (sorted by id) whose state is in `states`, or every group
    /// if `states` is empty.
    pub fn list(&self, states: &[GroupState]) -> Vec<GroupListing> {
        self.groups
            .values()
            .filter(|group| states.is_empty() || states.contains(&group.state))
            .map(|group| GroupListing {
                group_id: group.group_id.clone(),
                protocol_type: group.protocol_type.clone().unwrap_or_default(),
                state: group.state,
            })
            .collect()
    }

    /// Deletes an `Empty` group (the caller then deletes its committed offsets).
    pub fn delete(&mut self, group_id: &str) -> Result<(), GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let group = self
            .groups
            .get(group_id)
            .ok_or(GroupError::GroupIdNotFound)?;
        match group.state {
            GroupState::Empty => {
                self.groups.remove(group_id);
                tracing::info!(group = %group_id, "group deleted");
                Ok(())
            }
            GroupState::Dead => Err(GroupError::GroupIdNotFound),
            _ => Err(GroupError::NonEmptyGroup),
        }
    }

    /// Validates the parts common to every request about an existing group.
    fn group_mut(&mut self, group_id: &str) -> Result<&mut Group, GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        self.groups
            .get_mut(group_id)
            .ok_or(GroupError::UnknownMemberId)
    }

    fn push(&mut self, reply: ReplyId, answer: Reply) {
        self.outputs.push_back((reply, answer));
    }
}

#[cfg(test)]
mod tests;
