//! The classic Kafka consumer-group coordinator and the committed-offset store.
//!
//! - [`Coordinator`]: the group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//!   commit validation, DescribeGroups, ListGroups, DeleteGroups) as a state machine
//!   without I/O or clock reads.
//! - [`OffsetStore`]: committed offsets, one JSON file per group, written atomically.
//! - [`GroupCoordinator`]: the tokio handle: one task owns the [`Coordinator`] and its
//!   timers; offset writes run in `spawn_blocking` and are durable before the reply.
//!
//! Nothing here depends on the wire codec: the server decodes requests into the plain
//! types of [`types`](self) and encodes the answers. Errors are [`GroupError`]s, which
//! carry Kafka's numeric codes.

mod coordinator;
mod error;
mod handle;
mod offsets;
mod types;

pub use coordinator::{Coordinator, CoordinatorConfig, OFFSETS_ONLY_PROTOCOL_TYPE};
pub use error::{GroupError, error_code, optional_code};
pub use handle::{GroupCoordinator, MAX_METADATA_BYTES, SpawnError};
pub use offsets::{CommittedOffset, FetchedOffset, OffsetStore, OffsetStoreError, file_stem};
pub use types::{
    GroupDescription, GroupListing, GroupState, HeartbeatRequest, JoinRequest, JoinResponse,
    JoinedMember, LeaveRequest, LeaveResponse, LeftMember, MemberDescription, Reply, ReplyId,
    SyncRequest, SyncResponse, UnknownGroupState,
};
