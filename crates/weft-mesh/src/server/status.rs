//! The serialisable snapshot returned by [`MeshHandle::status`](super::MeshHandle::status)
//! (the future `GET /v1/mesh`).

use std::net::SocketAddr;

use serde::Serialize;

/// Which side opened a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkDirection {
    /// Accepted by [`serve`](super::serve).
    Inbound,
    /// Dialled for a join address.
    Outbound,
}

/// The mesh as one node sees it.
#[derive(Debug, Clone, Serialize)]
pub struct MeshStatus {
    /// The mesh name.
    pub mesh: String,
    /// This node.
    pub node: String,
    /// This node's incarnation.
    pub incarnation: u64,
    /// Nodes reachable now, this one included.
    pub reachable: usize,
    /// Every node in the link-state database.
    pub nodes: Vec<NodeStatus>,
    /// This node's links (established or still in their handshake).
    pub links: Vec<LinkStatus>,
    /// The join addresses this node dials.
    pub joins: Vec<JoinStatus>,
    /// Counters.
    pub counters: StatusCounters,
    /// The most recent link refusals and protocol errors, newest last (at most 16).
    pub recent_errors: Vec<String>,
}

impl MeshStatus {
    /// The node called `name`, if known.
    pub fn node(&self, name: &str) -> Option<&NodeStatus> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// The established link to `peer`, if any.
    pub fn link_to(&self, peer: &str) -> Option<&LinkStatus> {
        self.links
            .iter()
            .find(|link| link.established && link.peer.as_deref() == Some(peer))
    }
}

/// One node of the graph.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// Its name.
    pub name: String,
    /// Whether it is reachable from this node.
    pub reachable: bool,
    /// Its neighbours as it advertises them.
    pub neighbours: Vec<String>,
    /// How many interest entries it advertises (summarised).
    pub interest: usize,
}

/// One link of this node.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// The local link id.
    pub id: u64,
    /// The node at the other end, once the handshake told us.
    pub peer: Option<String>,
    /// Who opened it.
    pub direction: LinkDirection,
    /// The remote socket address.
    pub remote: SocketAddr,
    /// Whether the handshake completed.
    pub established: bool,
    /// Events received on it.
    pub events_in: u64,
    /// Events sent on it.
    pub events_out: u64,
    /// Bytes read from it (on the wire, compressed where the peer compressed).
    pub bytes_in: u64,
    /// Bytes written to it (on the wire).
    pub bytes_out: u64,
    /// Bytes of the frames read, before compression.
    pub uncompressed_bytes_in: u64,
    /// Bytes of the frames written, before compression.
    pub uncompressed_bytes_out: u64,
    /// Frames written (a batch of events is one frame).
    pub frames_out: u64,
    /// Frames queued for it now, waiting to be written.
    pub queue_depth: usize,
    /// The compression used for frames it sends, once the handshake negotiated one.
    pub compression: Option<&'static str>,
    /// Messages received on it.
    pub messages_in: u64,
    /// Messages sent on it.
    pub messages_out: u64,
    /// Live events dropped because its queue was full.
    pub events_dropped: u64,
    /// Last heartbeat round-trip time, in microseconds.
    pub round_trip_us: Option<u64>,
    /// For outbound links: connections made to its join address before this one.
    pub reconnects: u64,
}

/// One join address.
#[derive(Debug, Clone, Serialize)]
pub struct JoinStatus {
    /// The address dialled.
    pub addr: SocketAddr,
    /// Whether a link to it is established now.
    pub connected: bool,
    /// The node last linked through it.
    pub peer: Option<String>,
    /// TCP connections made.
    pub connections: u64,
    /// Connections made after the first.
    pub reconnects: u64,
    /// Failed connection attempts.
    pub failures: u64,
    /// Why the last attempt or link failed (refusals included).
    pub last_error: Option<String>,
}

/// Node-wide counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounters {
    /// Local events handed to the mesh.
    pub events_published: u64,
    /// Event copies sent on links.
    pub events_sent: u64,
    /// Events received on links.
    pub events_received: u64,
    /// Events handed to the local broker.
    pub events_delivered: u64,
    /// Repeats dropped by the dedupe guard.
    pub duplicates_dropped: u64,
    /// Events dropped at the hop limit.
    pub hop_limit_drops: u64,
    /// Links refused by the handshake (either side).
    pub links_refused: u64,
    /// Links closed for sending malformed frames.
    pub malformed_frames: u64,
    /// Live events dropped because a link's queue was full.
    pub link_queue_drops: u64,
    /// Mesh events dropped because the queue to the broker was full.
    pub deliver_queue_drops: u64,
    /// Local events dropped because the forwarding subscription's queue was full.
    pub forward_queue_drops: u64,
    /// Mesh events whose payload could not be decoded.
    pub envelope_errors: u64,
    /// Mesh events the local broker refused.
    pub broker_publish_errors: u64,
    /// Store-and-forward: outbox depth and bytes, refusals, acks, persistence errors.
    pub durable: super::durable::DurableStatus,
}
