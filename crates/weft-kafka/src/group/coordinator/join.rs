//! JoinGroup: new members (with `MEMBER_ID_REQUIRED` from v4), static members (KIP-345)
//! and members rejoining.

use std::time::Instant;

use bytes::Bytes;
use uuid::Uuid;

use super::super::GroupError;
use super::super::types::{GroupState, JoinRequest, JoinResponse, Reply, ReplyId, SyncResponse};
use super::rebalance::{Outputs, maybe_prepare_rebalance, prepare_rebalance, try_complete_join};
use super::state::{Group, Member};
use super::{Coordinator, CoordinatorConfig};

/// The first JoinGroup version whose new members must first fetch a member id.
const MEMBER_ID_REQUIRED_VERSION: i16 = 4;

/// What one join works with.
struct Join<'a> {
    group: &'a mut Group,
    config: &'a CoordinatorConfig,
    outputs: &'a mut Outputs,
    now: Instant,
    reply: ReplyId,
    request: &'a JoinRequest,
}

impl Coordinator {
    /// JoinGroup. The response comes out of [`poll_output`](Self::poll_output) when the
    /// join phase completes, or at once for errors, `MEMBER_ID_REQUIRED`, and members
    /// whose rejoin changes nothing.
    pub fn join(&mut self, now: Instant, reply: ReplyId, request: JoinRequest) {
        tracing::debug!(
            group = %request.group_id,
            member = %request.member_id,
            instance = request.group_instance_id.as_deref().unwrap_or_default(),
            reason = request.reason.as_deref().unwrap_or_default(),
            "join group"
        );
        if let Err(error) = self.try_join(now, reply, &request) {
            let response = JoinResponse::error(error, request.member_id);
            self.push(reply, Reply::Join(response));
        }
    }

    fn try_join(
        &mut self,
        now: Instant,
        reply: ReplyId,
        request: &JoinRequest,
    ) -> Result<(), GroupError> {
        if request.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        if request.session_timeout < self.config.min_session_timeout
            || request.session_timeout > self.config.max_session_timeout
        {
            return Err(GroupError::InvalidSessionTimeout);
        }
        let new_member = request.member_id.is_empty();
        let mut created = false;
        if !self.groups.contains_key(&request.group_id) {
            if !new_member {
                return Err(GroupError::UnknownMemberId);
            }
            let group = Group::new(request.group_id.clone(), None);
            self.groups.insert(request.group_id.clone(), group);
            created = true;
        }
        let Coordinator {
            config,
            groups,
            outputs,
        } = self;
        let Some(group) = groups.get_mut(&request.group_id) else {
            return Err(GroupError::UnknownServerError);
        };
        let mut join = Join {
            group,
            config,
            outputs,
            now,
            reply,
            request,
        };
        let result = if new_member {
            join.new_member()
        } else {
            join.known_member()
        };
        let vacant = join.group.members.is_empty() && join.group.pending_members.is_empty();
        if result.is_err() && created && vacant {
            self.groups.remove(&request.group_id);
        }
        result
    }
}

impl Join<'_> {
    fn new_member(&mut self) -> Result<(), GroupError> {
        let request = self.request;
        if !self
            .group
            .supports_protocols(&request.protocol_type, &request.protocols)
        {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        let instance = request.group_instance_id.as_deref();
        let replaced = instance
            .and_then(|instance| self.group.static_members.get(instance))
            .cloned();
        if let Some(max) = self.config.max_group_size
            && replaced.is_none()
            && self.group.members.len() + self.group.pending_members.len() >= max
        {
            return Err(GroupError::GroupMaxSizeReached);
        }
        let member_id = format!("{}-{}", request.client_id, Uuid::now_v7());
        match (instance, replaced) {
            (Some(_), Some(old_member_id)) => {
                self.replace_static_member(&old_member_id, member_id);
            }
            (None, _) if request.version >= MEMBER_ID_REQUIRED_VERSION => {
                let expiry = self.now + request.session_timeout;
                self.group.pending_members.insert(member_id.clone(), expiry);
                let response = JoinResponse::error(GroupError::MemberIdRequired, member_id);
                self.outputs.push_back((self.reply, Reply::Join(response)));
            }
            _ => self.add_member_and_rebalance(member_id),
        }
        Ok(())
    }

    fn known_member(&mut self) -> Result<(), GroupError> {
        let request = self.request;
        let member_id = request.member_id.as_str();
        if !self
            .group
            .supports_protocols(&request.protocol_type, &request.protocols)
        {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        if self.group.pending_members.remove(member_id).is_some() {
            self.add_member_and_rebalance(member_id.to_owned());
            return Ok(());
        }
        let instance = request.group_instance_id.as_deref();
        if self.group.is_fenced(member_id, instance) {
            return Err(GroupError::FencedInstanceId);
        }
        let instance_unknown =
            instance.is_some_and(|instance| !self.group.static_members.contains_key(instance));
        let Some(member) = self.group.members.get(member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if instance_unknown {
            return Err(GroupError::UnknownMemberId);
        }
        let unchanged = member.matches(&request.protocol_type, &request.protocols);
        let is_leader = self.group.leader.as_deref() == Some(member_id);
        match self.group.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(),
            GroupState::CompletingRebalance if unchanged => self.answer_current(member_id),
            GroupState::Stable if unchanged && !is_leader => self.answer_current(member_id),
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance();
            }
            GroupState::Empty | GroupState::Dead => return Err(GroupError::UnknownMemberId),
        }
        Ok(())
    }

    /// A static member rejoined with a new member id: the new id takes the old one's
    /// place (the old one is fenced). A stable group whose member rejoined with the same
    /// protocols carries on without a rebalance.
    fn replace_static_member(&mut self, old_member_id: &str, new_member_id: String) {
        let request = self.request;
        let Some(mut member) = self.group.members.remove(old_member_id) else {
            self.add_member_and_rebalance(new_member_id);
            return;
        };
        tracing::info!(
            group = %self.group.group_id,
            old_member = %old_member_id,
            member = %new_member_id,
            "static member rejoined with a new member id"
        );
        if let Some(reply) = member.join_reply.take() {
            let fenced = JoinResponse::error(GroupError::FencedInstanceId, old_member_id);
            self.outputs.push_back((reply, Reply::Join(fenced)));
        }
        if let Some(reply) = member.sync_reply.take() {
            let fenced = SyncResponse::error(GroupError::FencedInstanceId);
            self.outputs.push_back((reply, Reply::Sync(fenced)));
        }
        let unchanged = member.matches(&request.protocol_type, &request.protocols);
        member.member_id = new_member_id.clone();
        update_member(&mut member, request, self.now);
        if let Some(instance) = &request.group_instance_id {
            self.group
                .static_members
                .insert(instance.clone(), new_member_id.clone());
        }
        if self.group.leader.as_deref() == Some(old_member_id) {
            self.group.leader = Some(new_member_id.clone());
        }
        let state = self.group.state;
        if state != GroupState::Stable || !unchanged {
            member.join_reply = Some(self.reply);
        }
        self.group.members.insert(new_member_id.clone(), member);
        match state {
            GroupState::Stable if unchanged => {
                let is_leader = self.group.leader.as_deref() == Some(new_member_id.as_str());
                let mut response = self.current_generation(&new_member_id);
                response.skip_assignment = is_leader;
                self.outputs.push_back((self.reply, Reply::Join(response)));
            }
            GroupState::PreparingRebalance => {
                try_complete_join(self.group, self.now, self.outputs);
            }
            _ => prepare_rebalance(
                self.group,
                self.now,
                self.config,
                self.outputs,
                "static member rejoined",
            ),
        }
    }

    fn add_member_and_rebalance(&mut self, member_id: String) {
        let request = self.request;
        let mut member = Member {
            member_id: member_id.clone(),
            instance_id: request.group_instance_id.clone(),
            client_id: String::new(),
            client_host: String::new(),
            session_timeout: request.session_timeout,
            rebalance_timeout: request.rebalance_timeout,
            protocol_type: String::new(),
            protocols: Vec::new(),
            assignment: Bytes::new(),
            join_reply: Some(self.reply),
            sync_reply: None,
            is_new: true,
            pending_sync: false,
            last_heartbeat: self.now,
        };
        update_member(&mut member, request, self.now);
        let group = &mut *self.group;
        if group.members.is_empty() {
            group.protocol_type = Some(request.protocol_type.clone());
        }
        if let Some(instance) = &request.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), member_id.clone());
        }
        if group.leader.is_none() {
            group.leader = Some(member_id.clone());
        }
        tracing::info!(group = %group.group_id, member = %member_id, "member joined group");
        group.members.insert(member_id, member);
        if group.state == GroupState::PreparingRebalance {
            if group.initial_delay_remaining.is_some() {
                group.new_member_added = true;
            }
            try_complete_join(group, self.now, self.outputs);
        } else {
            maybe_prepare_rebalance(group, self.now, self.config, self.outputs, "member joined");
        }
    }

    fn update_member_and_rebalance(&mut self) {
        let request = self.request;
        let Some(member) = self.group.members.get_mut(&request.member_id) else {
            return;
        };
        update_member(member, request, self.now);
        if let Some(previous) = member.join_reply.replace(self.reply) {
            let error = JoinResponse::error(GroupError::RebalanceInProgress, &request.member_id);
            self.outputs.push_back((previous, Reply::Join(error)));
        }
        if self.group.state == GroupState::PreparingRebalance {
            try_complete_join(self.group, self.now, self.outputs);
        } else {
            maybe_prepare_rebalance(
                self.group,
                self.now,
                self.config,
                self.outputs,
                "member rejoined with new metadata",
            );
        }
    }

    /// Answers a rejoin that changes nothing with the current generation.
    fn answer_current(&mut self, member_id: &str) {
        if let Some(member) = self.group.members.get_mut(member_id) {
            member.last_heartbeat = self.now;
        }
        let response = self.current_generation(member_id);
        self.outputs.push_back((self.reply, Reply::Join(response)));
    }

    fn current_generation(&self, member_id: &str) -> JoinResponse {
        let group = &*self.group;
        let is_leader = group.leader.as_deref() == Some(member_id);
        JoinResponse {
            error: None,
            generation_id: group.generation,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol.clone(),
            leader: group.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: if is_leader {
                group.joined_members()
            } else {
                Vec::new()
            },
        }
    }
}

/// Takes the request's client details, timeouts and protocols.
fn update_member(member: &mut Member, request: &JoinRequest, now: Instant) {
    member.client_id.clone_from(&request.client_id);
    member.client_host.clone_from(&request.client_host);
    member.session_timeout = request.session_timeout;
    member.rebalance_timeout = request.rebalance_timeout;
    member.protocol_type.clone_from(&request.protocol_type);
    member.protocols.clone_from(&request.protocols);
    member.last_heartbeat = now;
}
