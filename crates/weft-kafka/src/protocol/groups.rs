//! Consumer-group APIs: FindCoordinator (10: 0-4, flexible 3+), JoinGroup (11: 0-7,
//! flexible 6+), Heartbeat (12: 0-4, flexible 4+), LeaveGroup (13: 0-4, flexible 4+),
//! SyncGroup (14: 0-5, flexible 4+), DescribeGroups (15: 0-5, flexible 5+), ListGroups
//! (16: 0-4, flexible 3+) and DeleteGroups (42: 0-2, flexible 2+).

use bytes::Bytes;

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// FindCoordinator request.
    pub struct FindCoordinatorRequest {
        /// The key to find the coordinator for (v0-3).
        key: String [0, 3],
        /// 0 for a group, 1 for a transaction (v1+).
        key_type: i8 [1, MAX],
        /// The keys to find coordinators for (v4+).
        coordinator_keys: Vec<String> [4, MAX],
    }

    /// FindCoordinator response.
    pub struct FindCoordinatorResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// The error code (v0-3).
        error_code: ErrorCode [0, 3],
        /// The error message (v1-3).
        error_message: Option<String> [1, 3],
        /// The coordinator's broker id (v0-3).
        node_id: i32 [0, 3],
        /// The coordinator's host (v0-3).
        host: String [0, 3],
        /// The coordinator's port (v0-3).
        port: i32 [0, 3],
        /// One coordinator per requested key (v4+).
        coordinators: Vec<Coordinator> [4, MAX],
    }

    /// One coordinator in a FindCoordinator response (v4+).
    pub struct Coordinator {
        /// The coordinator key.
        key: String [4, MAX],
        /// The coordinator's broker id.
        node_id: i32 [4, MAX],
        /// The coordinator's host.
        host: String [4, MAX],
        /// The coordinator's port.
        port: i32 [4, MAX],
        /// The error code.
        error_code: ErrorCode [4, MAX],
        /// The error message.
        error_message: Option<String> [4, MAX],
    }

    /// JoinGroup request.
    pub struct JoinGroupRequest {
        /// The group id.
        group_id: String [0, MAX],
        /// The session timeout in milliseconds.
        session_timeout_ms: i32 [0, MAX],
        /// The rebalance timeout in milliseconds (v1+, default -1).
        rebalance_timeout_ms: i32 [1, MAX] default(-1),
        /// The member id, empty when joining for the first time.
        member_id: String [0, MAX],
        /// The static member's instance id (v5+).
        group_instance_id: Option<String> [5, MAX],
        /// The protocol type, e.g. "consumer".
        protocol_type: String [0, MAX],
        /// The protocols the member supports, in preference order.
        protocols: Vec<JoinGroupRequestProtocol> [0, MAX],
    }

    /// One protocol offered in a JoinGroup request.
    pub struct JoinGroupRequestProtocol {
        /// The protocol name.
        name: String [0, MAX],
        /// The protocol metadata (a zero-copy slice of the request frame).
        metadata: Bytes [0, MAX],
    }

    /// JoinGroup response.
    pub struct JoinGroupResponse {
        /// Throttle time in milliseconds (v2+).
        throttle_time_ms: i32 [2, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The generation id (default -1).
        generation_id: i32 [0, MAX] default(-1),
        /// The group protocol type (v7+).
        protocol_type: Option<String> [7, MAX],
        /// The chosen protocol (nullable from v7).
        protocol_name: Option<String> [0, MAX],
        /// The leader's member id.
        leader: String [0, MAX],
        /// The member id assigned to the joining member.
        member_id: String [0, MAX],
        /// The members, sent to the leader only.
        members: Vec<JoinGroupResponseMember> [0, MAX],
    }

    /// One member in a JoinGroup response.
    pub struct JoinGroupResponseMember {
        /// The member id.
        member_id: String [0, MAX],
        /// The static member's instance id (v5+).
        group_instance_id: Option<String> [5, MAX],
        /// The member's protocol metadata.
        metadata: Bytes [0, MAX],
    }

    /// SyncGroup request.
    pub struct SyncGroupRequest {
        /// The group id.
        group_id: String [0, MAX],
        /// The generation id.
        generation_id: i32 [0, MAX],
        /// The member id.
        member_id: String [0, MAX],
        /// The static member's instance id (v3+).
        group_instance_id: Option<String> [3, MAX],
        /// The group protocol type (v5+).
        protocol_type: Option<String> [5, MAX],
        /// The group protocol name (v5+).
        protocol_name: Option<String> [5, MAX],
        /// The leader's assignments, empty from followers.
        assignments: Vec<SyncGroupRequestAssignment> [0, MAX],
    }

    /// One member's assignment in a SyncGroup request.
    pub struct SyncGroupRequestAssignment {
        /// The member id.
        member_id: String [0, MAX],
        /// The assignment (a zero-copy slice of the request frame).
        assignment: Bytes [0, MAX],
    }

    /// SyncGroup response.
    pub struct SyncGroupResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The group protocol type (v5+).
        protocol_type: Option<String> [5, MAX],
        /// The group protocol name (v5+).
        protocol_name: Option<String> [5, MAX],
        /// The member's assignment.
        assignment: Bytes [0, MAX],
    }

    /// Heartbeat request.
    pub struct HeartbeatRequest {
        /// The group id.
        group_id: String [0, MAX],
        /// The generation id.
        generation_id: i32 [0, MAX],
        /// The member id.
        member_id: String [0, MAX],
        /// The static member's instance id (v3+).
        group_instance_id: Option<String> [3, MAX],
    }

    /// Heartbeat response.
    pub struct HeartbeatResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
    }

    /// LeaveGroup request.
    pub struct LeaveGroupRequest {
        /// The group id.
        group_id: String [0, MAX],
        /// The leaving member's id (v0-2).
        member_id: String [0, 2],
        /// The leaving members (v3+).
        members: Vec<MemberIdentity> [3, MAX],
    }

    /// A member leaving a group (v3+).
    pub struct MemberIdentity {
        /// The member id.
        member_id: String [3, MAX],
        /// The static member's instance id.
        group_instance_id: Option<String> [3, MAX],
    }

    /// LeaveGroup response.
    pub struct LeaveGroupResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// Per-member results (v3+).
        members: Vec<MemberResponse> [3, MAX],
    }

    /// One member's result in a LeaveGroup response (v3+).
    pub struct MemberResponse {
        /// The member id.
        member_id: String [3, MAX],
        /// The static member's instance id.
        group_instance_id: Option<String> [3, MAX],
        /// The error code.
        error_code: ErrorCode [3, MAX],
    }

    /// DescribeGroups request.
    pub struct DescribeGroupsRequest {
        /// The groups to describe.
        groups: Vec<String> [0, MAX],
        /// Whether to include authorized operations (v3+).
        include_authorized_operations: bool [3, MAX],
    }

    /// DescribeGroups response.
    pub struct DescribeGroupsResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// Each described group.
        groups: Vec<DescribedGroup> [0, MAX],
    }

    /// One group in a DescribeGroups response.
    pub struct DescribedGroup {
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The group id.
        group_id: String [0, MAX],
        /// The group state, e.g. "Stable".
        group_state: String [0, MAX],
        /// The protocol type.
        protocol_type: String [0, MAX],
        /// The chosen protocol.
        protocol_data: String [0, MAX],
        /// The group members.
        members: Vec<DescribedGroupMember> [0, MAX],
        /// Authorized operations bit field (v3+).
        authorized_operations: i32 [3, MAX] default(i32::MIN),
    }

    /// One member in a DescribeGroups response.
    pub struct DescribedGroupMember {
        /// The member id.
        member_id: String [0, MAX],
        /// The static member's instance id (v4+).
        group_instance_id: Option<String> [4, MAX],
        /// The member's client id.
        client_id: String [0, MAX],
        /// The member's client host.
        client_host: String [0, MAX],
        /// The member's protocol metadata.
        member_metadata: Bytes [0, MAX],
        /// The member's assignment.
        member_assignment: Bytes [0, MAX],
    }

    /// ListGroups request.
    pub struct ListGroupsRequest {
        /// Only list groups in these states; empty lists all (v4+).
        states_filter: Vec<String> [4, MAX],
    }

    /// ListGroups response.
    pub struct ListGroupsResponse {
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// Each group.
        groups: Vec<ListedGroup> [0, MAX],
    }

    /// One group in a ListGroups response.
    pub struct ListedGroup {
        /// The group id.
        group_id: String [0, MAX],
        /// The protocol type.
        protocol_type: String [0, MAX],
        /// The group state (v4+).
        group_state: String [4, MAX],
    }

    /// DeleteGroups request.
    pub struct DeleteGroupsRequest {
        /// The groups to delete.
        groups_names: Vec<String> [0, MAX],
    }

    /// DeleteGroups response.
    pub struct DeleteGroupsResponse {
        /// Throttle time in milliseconds.
        throttle_time_ms: i32 [0, MAX],
        /// Each group's result.
        results: Vec<DeletableGroupResult> [0, MAX],
    }

    /// One group's result in a DeleteGroups response.
    pub struct DeletableGroupResult {
        /// The group id.
        group_id: String [0, MAX],
        /// The error code.
        error_code: ErrorCode [0, MAX],
    }
}
