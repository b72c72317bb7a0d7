//! [`Group`] and [`Member`]: what the coordinator knows of one classic group, and the
//! pure decisions about it (protocol selection, leader, expiry).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::super::types::{GroupState, JoinedMember, MemberDescription, ReplyId};

/// How long a new member waiting in its first join may live without a heartbeat
/// (Kafka's `NewMemberJoinTimeoutMs`).
pub(crate) const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// One member of a group.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) protocol_type: String,
    /// In the member's order of preference.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    /// Its JoinGroup waiting for the join phase to complete.
    pub(crate) join_reply: Option<ReplyId>,
    /// Its SyncGroup waiting for the leader's assignments.
    pub(crate) sync_reply: Option<ReplyId>,
    /// Joined but has not been part of a completed join phase yet.
    pub(crate) is_new: bool,
    /// Must send SyncGroup before the group's sync deadline.
    pub(crate) pending_sync: bool,
    pub(crate) last_heartbeat: Instant,
}

impl Member {
    /// When the member expires unless it heartbeats: a new member waiting to join gets
    /// [`NEW_MEMBER_JOIN_TIMEOUT`]; an existing member waiting to join or sync lives on
    /// (the rebalance and sync deadlines deal with it); otherwise its session timeout.
    pub(crate) fn expiry(&self) -> Option<Instant> {
        if self.join_reply.is_some() {
            self.is_new
                .then(|| self.last_heartbeat + NEW_MEMBER_JOIN_TIMEOUT)
        } else if self.sync_reply.is_some() {
            None
        } else {
            Some(self.last_heartbeat + self.session_timeout)
        }
    }

    /// Whether it rejoins with exactly the protocols it has.
    pub(crate) fn matches(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        self.protocol_type == protocol_type && self.protocols == protocols
    }

    pub(crate) fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }
}

/// One classic group.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) group_id: String,
    pub(crate) state: GroupState,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// Instance id → member id of the static members.
    pub(crate) static_members: HashMap<String, String>,
    /// Member ids handed out with `MEMBER_ID_REQUIRED`, with when they expire.
    pub(crate) pending_members: BTreeMap<String, Instant>,
    /// When the join phase ends (in `PreparingRebalance`).
    pub(crate) join_deadline: Option<Instant>,
    /// In the initial rebalance delay: how much of the rebalance timeout remains to
    /// extend it by.
    pub(crate) initial_delay_remaining: Option<Duration>,
    /// A member joined during the current step of the initial delay.
    pub(crate) new_member_added: bool,
    /// When members that have not sent SyncGroup since the join phase are removed.
    pub(crate) sync_deadline: Option<Instant>,
}

impl Group {
    pub(crate) fn new(group_id: String, protocol_type: Option<String>) -> Self {
        Group {
            group_id,
            state: GroupState::Empty,
            generation: 0,
            protocol_type,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: BTreeMap::new(),
            join_deadline: None,
            initial_delay_remaining: None,
            new_member_added: false,
            sync_deadline: None,
        }
    }

    /// Whether a member with these protocols may join: an empty group takes any
    /// non-empty set; otherwise the type must match and one protocol must be supported
    /// by every current member.
    pub(crate) fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(name, _)| self.members.values().all(|member| member.supports(name)))
    }

    /// Kafka's selection: among the protocols every member supports, each member votes
    /// for the first one in its own preference order; most votes wins, ties going to the
    /// candidate the leader prefers.
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| self.members.values().all(|member| member.supports(name)))
            .collect();
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for member in self.members.values() {
            if let Some((name, _)) = member
                .protocols
                .iter()
                .find(|(name, _)| candidates.contains(&name.as_str()))
            {
                *votes.entry(name.as_str()).or_default() += 1;
            }
        }
        let leader_order: Vec<&str> = self
            .leader
            .as_ref()
            .and_then(|leader| self.members.get(leader))
            .map(|leader| {
                leader
                    .protocols
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let rank = |name: &str| leader_order.iter().position(|other| *other == name);
        candidates
            .iter()
            .copied()
            .max_by(|a, b| {
                let by_votes = votes.get(a).cmp(&votes.get(b));
                // The lower rank in the leader's order wins a tie.
                by_votes.then_with(|| rank(b).cmp(&rank(a)))
            })
            .map(str::to_owned)
    }

    /// The longest rebalance timeout of the members.
    pub(crate) fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|member| member.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// Every member has rejoined and no member id handed out is still expected.
    pub(crate) fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty()
            && self
                .members
                .values()
                .all(|member| member.join_reply.is_some())
    }

    /// Another member uses `instance_id`.
    pub(crate) fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        instance_id
            .and_then(|instance| self.static_members.get(instance))
            .is_some_and(|current| current != member_id)
    }

    /// The members list the leader gets in its JoinGroup response.
    pub(crate) fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|member| JoinedMember {
                member_id: member.member_id.clone(),
                group_instance_id: member.instance_id.clone(),
                metadata: member.metadata(protocol),
            })
            .collect()
    }

    /// DescribeGroups' view of the members: metadata and assignments only when stable.
    pub(crate) fn member_descriptions(&self) -> Vec<MemberDescription> {
        let stable = self.state == GroupState::Stable;
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|member| MemberDescription {
                member_id: member.member_id.clone(),
                group_instance_id: member.instance_id.clone(),
                client_id: member.client_id.clone(),
                client_host: member.client_host.clone(),
                metadata: if stable {
                    member.metadata(protocol)
                } else {
                    Bytes::new()
                },
                assignment: if stable {
                    member.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect()
    }

    /// The earliest instant at which something in the group times out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let members = self.members.values().filter_map(Member::expiry);
        let pending = self.pending_members.values().copied();
        members
            .chain(pending)
            .chain(self.join_deadline)
            .chain(self.sync_deadline)
            .min()
    }
}
