//! `weft-mesh`: the sans-I/O heart of the weft event mesh.
//!
//! It owns
//! - the node-to-node link protocol: [`wire::Message`] and its framed codec;
//! - link-state routing ([`routing`]): the link-state database and per-origin
//!   shortest-path trees, along which every event is forwarded once per link;
//! - interest propagation ([`interest`]): filter covering and summarisation, and the
//!   table of every remote node's interest indexed in a subscription trie;
//! - store-and-forward ([`outbox`], [`inbox`]) for durable interest, and the dedupe
//!   guard ([`dedupe`]);
//! - [`MeshNode`]: the state machine of one node, driven by `link_up`, `link_down`,
//!   `handle`, `publish_local`, `set_local_interest` and `tick`, emitting
//!   [`Output`]s through `poll_output`.
//!
//! It does no I/O and must not depend on tokio, sockets or any protocol front end:
//! a thin task in the server crate owns the TCP links and drives a [`MeshNode`]. The
//! design is documented in `docs/design/mesh.md`.

pub mod dedupe;
pub mod inbox;
pub mod interest;
pub mod name;
pub mod node;
pub mod outbox;
pub mod routing;
pub mod wire;

pub use interest::{InterestEntry, InterestKind};
pub use name::{GroupName, LinkId, MeshName, NodeName};
pub use node::{CloseReason, MeshConfig, MeshNode, MeshStats, Output, Publication, PublishError};
pub use outbox::{OutboxSnapshot, OverflowPolicy};
