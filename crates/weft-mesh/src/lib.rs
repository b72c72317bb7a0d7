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
//! - the event envelope ([`envelope`]): how a weft event travels as a mesh payload
//!   (binary, with a format byte; the older JSON form still decodes);
//! - [`MeshNode`]: the state machine of one node, driven by `link_up`, `link_down`,
//!   `handle`, `publish_local`, `set_local_interest` and `tick`, emitting
//!   [`Output`]s through `poll_output`.
//!
//! Everything above is sans-I/O: it must not depend on tokio, sockets or any protocol
//! front end, takes time as an argument, and runs in the deterministic simulation.
//!
//! The one exception is [`server`], the tokio I/O layer: an owner task drives one
//! [`MeshNode`], one task per TCP link frames messages with the [`wire`] codec, dialers
//! redial join addresses with backoff and jitter, a bridge forwards the local
//! [`Broker`](weft_broker::Broker)'s events into the mesh (holding a publisher's durable
//! ack until the event is persisted for remote durable interest) and the mesh's events
//! into it, and a persister thread keeps store-and-forward state under
//! `<data_dir>/mesh`. Start it with [`server::MeshContext::start`] and accept links
//! with [`server::serve`]. The design is documented in `docs/design/mesh.md`.

pub mod dedupe;
pub mod envelope;
pub mod inbox;
pub mod interest;
pub mod name;
pub mod node;
pub mod outbox;
pub mod routing;
pub mod server;
pub mod wire;

pub use interest::{InterestEntry, InterestKind, RememberedInterest};
pub use name::{GroupName, LinkId, MeshName, NodeName};
pub use node::{
    CloseReason, DurableReceipt, ForgetError, Forgotten, MeshConfig, MeshNode, MeshStats, Output,
    Publication, PublishError, RouteExplanation,
};
pub use outbox::{OutboxChange, OutboxSnapshot, OverflowPolicy};
