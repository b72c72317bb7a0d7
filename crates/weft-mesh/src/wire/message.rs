//! The messages two linked nodes exchange. Encoding lives in [`super::codec`].

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weft_core::topic::Topic;

use crate::interest::{InterestChange, InterestEntry};
use crate::name::{GroupName, MeshName, NodeName};

/// The link protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// One message on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Opens a link: who we are and what we can do. Both sides send one.
    Hello(Hello),
    /// Accepts the peer's [`Hello`], with the capabilities both sides share.
    HelloAck(HelloAck),
    /// Refuses the peer's [`Hello`]; the link is closed after it.
    Refuse(Refuse),
    /// Liveness probe; answered with [`Message::HeartbeatAck`] carrying the same nonce.
    Heartbeat {
        /// Chosen by the sender, echoed by the receiver (round-trip time measurement).
        nonce: u64,
    },
    /// The answer to a [`Message::Heartbeat`].
    HeartbeatAck {
        /// The nonce of the heartbeat answered.
        nonce: u64,
    },
    /// A link-state advertisement, flooded to the whole mesh.
    LinkState(LinkStateAdvertisement),
    /// A node's interest, as a delta or in full, flooded to the whole mesh.
    Interest(InterestUpdate),
    /// Asks the peer for the full interest of `node` (after a gap in the deltas).
    InterestRequest {
        /// The node whose interest is wanted.
        node: NodeName,
    },
    /// A batch of events.
    Events(Events),
    /// Durable delivery acknowledgement, routed hop by hop to `origin`.
    Ack(Ack),
}

/// Compression algorithms a link may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compression {
    /// LZ4 frames.
    Lz4,
    /// Zstandard frames.
    Zstd,
}

impl Compression {
    /// Its lowercase name (`lz4`, `zstd`), as configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// What a node can do on a link; the intersection of both sides is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Accepts LZ4-compressed event batches.
    pub lz4: bool,
    /// Accepts zstd-compressed event batches.
    pub zstd: bool,
    /// Accepts `Events` messages with more than one event.
    pub batching: bool,
    /// Reads event payloads in the binary envelope ([`crate::envelope::binary`]); a
    /// peer without it gets them in the JSON envelope (re-encoded by the sender).
    pub binary_envelope: bool,
}

impl Capabilities {
    /// Everything this crate's codec understands.
    pub const ALL: Self = Self {
        lz4: true,
        zstd: true,
        batching: true,
        binary_envelope: true,
    };

    /// What both sides support.
    pub fn intersect(self, other: Self) -> Self {
        Self {
            lz4: self.lz4 && other.lz4,
            zstd: self.zstd && other.zstd,
            batching: self.batching && other.batching,
            binary_envelope: self.binary_envelope && other.binary_envelope,
        }
    }

    /// The compression to use on a link with these (negotiated) capabilities: zstd for
    /// ratio on WAN links, else LZ4, else none.
    pub fn preferred_compression(self) -> Option<Compression> {
        if self.zstd {
            Some(Compression::Zstd)
        } else if self.lz4 {
            Some(Compression::Lz4)
        } else {
            None
        }
    }
}

/// The opening message of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The mesh the sender belongs to.
    pub mesh: MeshName,
    /// The sender's node name.
    pub node: NodeName,
    /// The sender's incarnation (changes on every restart, grows).
    pub incarnation: u64,
    /// The link protocol version the sender speaks.
    pub protocol_version: u16,
    /// What the sender can do.
    pub capabilities: Capabilities,
}

/// Acceptance of a [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloAck {
    /// The accepting node.
    pub node: NodeName,
    /// The capabilities both sides share.
    pub capabilities: Capabilities,
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefuseReason {
    /// The peer uses the receiver's own node name, or a name already linked.
    DuplicateNodeName,
    /// The peer belongs to another mesh.
    DifferentMesh,
    /// The peer speaks a protocol version the receiver does not.
    UnsupportedVersion,
    /// The peer sent something other than a `Hello` first.
    ProtocolViolation,
}

impl RefuseReason {
    /// A short lowercase description for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DuplicateNodeName => "duplicate node name",
            Self::DifferentMesh => "different mesh",
            Self::UnsupportedVersion => "unsupported protocol version",
            Self::ProtocolViolation => "protocol violation",
        }
    }
}

/// Refusal of a [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refuse {
    /// The machine-readable reason.
    pub reason: RefuseReason,
    /// A human-readable detail (lowercase), for the peer's log.
    pub detail: String,
}

/// One live neighbour in a link-state advertisement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Adjacency {
    /// The neighbour.
    pub node: NodeName,
    /// The cost of the link from the advertising node to the neighbour (at least 1).
    pub cost: u32,
}

/// What a node floods about itself: its live neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStateAdvertisement {
    /// The originating node.
    pub node: NodeName,
    /// The originator's incarnation; a newer incarnation supersedes any sequence.
    pub incarnation: u64,
    /// Grows with every advertisement of one incarnation.
    pub sequence: u64,
    /// The originator's current interest version, so receivers notice lost deltas.
    pub interest_version: u64,
    /// The originator's live neighbours, sorted by name.
    pub neighbours: Vec<Adjacency>,
}

impl LinkStateAdvertisement {
    /// The ordering key: newest wins.
    pub fn freshness(&self) -> (u64, u64) {
        (self.incarnation, self.sequence)
    }
}

/// A change of a node's interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterestUpdate {
    /// The node whose interest this is.
    pub node: NodeName,
    /// That node's incarnation.
    pub incarnation: u64,
    /// The interest version after this update (deltas apply to `version - 1`).
    pub version: u64,
    /// The change.
    pub body: InterestBody,
}

/// A delta or the whole set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterestBody {
    /// Changes to apply to version `version - 1`.
    Delta(Vec<InterestChange>),
    /// The complete (summarised) interest.
    Full(Vec<InterestEntry>),
}

/// How a batch of events travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Along the shortest-path tree rooted at each event's origin (first transmission).
    Tree,
    /// Hop by hop to one node (durable retransmission); transit nodes do not deliver.
    Unicast {
        /// The node the events are for.
        destination: NodeName,
    },
}

/// A batch of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events {
    /// How the batch travels.
    pub route: Route,
    /// The events.
    pub events: Vec<MeshEvent>,
}

/// A durable destination of an event and its place in that destination's stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DurableTag {
    /// The node with durable interest.
    pub node: NodeName,
    /// The origin's store-and-forward stream towards `node` (changes if the origin loses
    /// its outbox, so the receiver restarts its expectations).
    pub stream: u64,
    /// The event's position in that stream, from 1, without gaps.
    pub sequence: u64,
}

/// The node that receives an event on behalf of a queue group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupAssignment {
    /// The queue group.
    pub group: GroupName,
    /// The one node whose members of `group` get the event.
    pub node: NodeName,
}

/// An event as the mesh carries it: opaque payload plus routing metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshEvent {
    /// The node where it was published.
    pub origin: NodeName,
    /// The origin's incarnation when it was published.
    pub incarnation: u64,
    /// The origin's sequence number for it (per incarnation, from 1, growing).
    pub sequence: u64,
    /// Its topic: what interest is matched against.
    pub topic: Topic,
    /// Links crossed so far.
    pub hops: u8,
    /// Durable destinations and their stream positions.
    pub durable: Vec<DurableTag>,
    /// Queue group designations (live anycast).
    pub groups: Vec<GroupAssignment>,
    /// The encoded event, never inspected by the mesh.
    pub payload: Bytes,
}

impl MeshEvent {
    /// The durable tag for `node`, if the event must reach it durably.
    pub fn durable_tag(&self, node: &NodeName) -> Option<&DurableTag> {
        self.durable.iter().find(|tag| &tag.node == node)
    }
}

/// Acknowledgement of durable events, routed to `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The node that published the events (where the ack goes).
    pub origin: NodeName,
    /// The node that stored them.
    pub acker: NodeName,
    /// The origin's stream towards `acker`.
    pub stream: u64,
    /// Every event of the stream up to this sequence is stored.
    pub up_to_sequence: u64,
}
