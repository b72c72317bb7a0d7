//! The plain request, response and description types of the coordinator's API. The
//! server decodes wire requests into these and encodes responses from them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;

use super::GroupError;

/// Chosen by the caller for each request, and echoed with its [`Reply`].
pub type ReplyId = u64;

/// The state of a classic group, as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; may still have committed offsets.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignments.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Unknown or deleted.
    Dead,
}

impl GroupState {
    /// Kafka's name of the state, as DescribeGroups and ListGroups send it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A state name that is not one of Kafka's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown group state {0:?}")]
pub struct UnknownGroupState(pub String);

impl FromStr for GroupState {
    type Err = UnknownGroupState;

    /// Case-insensitive, like Kafka's ListGroups states filter.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [
            GroupState::Empty,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
        ]
        .into_iter()
        .find(|state| state.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| UnknownGroupState(name.to_owned()))
    }
}

/// A JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The group.
    pub group_id: String,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    /// Set for a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// The client id from the request header.
    pub client_id: String,
    /// The client's address, for DescribeGroups.
    pub client_host: String,
    /// How long the member lives without heartbeats.
    pub session_timeout: Duration,
    /// How long a rebalance waits for the member to rejoin (v0 clients: the session timeout).
    pub rebalance_timeout: Duration,
    /// `consumer`, `connect`, …
    pub protocol_type: String,
    /// The protocols the member supports with their metadata, in order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// The JoinGroup request version (from 4 a new member first gets `MEMBER_ID_REQUIRED`).
    pub version: i16,
    /// Why the member joins (v8+), for logs.
    pub reason: Option<String>,
}

/// A member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// The member id.
    pub member_id: String,
    /// The static instance id, if any.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

/// A JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The new generation (-1 on error).
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id (empty on error).
    pub leader: String,
    /// Set for a static leader that rejoined a stable group: it must not assign again (v9+).
    pub skip_assignment: bool,
    /// The member's id; with `MEMBER_ID_REQUIRED`, the id to rejoin with.
    pub member_id: String,
    /// Every member with its metadata for the leader; empty for the others.
    pub members: Vec<JoinedMember>,
}

impl JoinResponse {
    /// A failed join.
    pub fn error(error: GroupError, member_id: impl Into<String>) -> Self {
        JoinResponse {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member joined.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// The static instance id, if any.
    pub group_instance_id: Option<String>,
    /// Checked against the group's when set (v5+).
    pub protocol_type: Option<String>,
    /// Checked against the selected protocol when set (v5+).
    pub protocol_name: Option<String>,
    /// The leader's assignment per member id; empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The member's assignment (empty on error).
    pub assignment: Bytes,
}

impl SyncResponse {
    /// A failed sync.
    pub fn error(error: GroupError) -> Self {
        SyncResponse {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// The member's generation.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// The static instance id, if any.
    pub group_instance_id: Option<String>,
}

/// A LeaveGroup request: one member (v0–v2) or a batch (v3+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveRequest {
    /// The group.
    pub group_id: String,
    /// `(member_id, group_instance_id)`; a static member may leave by instance id alone
    /// (empty member id).
    pub members: Vec<(String, Option<String>)>,
}

/// The outcome for one leaving member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftMember {
    /// As in the request.
    pub member_id: String,
    /// As in the request.
    pub group_instance_id: Option<String>,
    /// `None` when it left.
    pub error: Option<GroupError>,
}

/// A LeaveGroup response. For v0–v2 the server sends the single member's error as the
/// top-level error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResponse {
    /// A request-level error (invalid group id, coordinator not available).
    pub error: Option<GroupError>,
    /// One entry per requested member, in request order.
    pub members: Vec<LeftMember>,
}

/// What the coordinator answers a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// To [`Coordinator::join`](super::Coordinator::join).
    Join(JoinResponse),
    /// To [`Coordinator::sync`](super::Coordinator::sync).
    Sync(SyncResponse),
    /// To [`Coordinator::heartbeat`](super::Coordinator::heartbeat).
    Heartbeat(Result<(), GroupError>),
    /// To [`Coordinator::leave`](super::Coordinator::leave).
    Leave(LeaveResponse),
}

/// One member in a [`GroupDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// The static instance id, if any.
    pub group_instance_id: Option<String>,
    /// The client id it joined with.
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// Its metadata for the selected protocol (empty unless the group is stable).
    pub metadata: Bytes,
    /// Its assignment (empty unless the group is stable).
    pub assignment: Bytes,
}

/// A DescribeGroups entry. An unknown group is described as `Dead` with no members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// Its protocol type (empty if unknown).
    pub protocol_type: String,
    /// The selected protocol (empty unless stable).
    pub protocol: String,
    /// Its members.
    pub members: Vec<MemberDescription>,
}

/// A ListGroups entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group.
    pub group_id: String,
    /// Its protocol type (empty if unknown).
    pub protocol_type: String,
    /// Its state.
    pub state: GroupState,
}
