//! The tokio I/O layer of the mesh: TCP links, the task that drives the [`MeshNode`],
//! the wiring to a local [`Broker`], and durable store-and-forward on disk.
//!
//! Tasks (all stop when [`MeshHandle::shutdown`] is called):
//! - **owner** (`server/owner.rs`): the only owner of the [`MeshNode`]. It receives
//!   commands on one bounded channel (link opened, message read, link closed, local
//!   publish, interest, status), ticks the node every [`MeshOptions::tick_interval`],
//!   and drains `poll_output` after every input, working in batches: up to 256 queued
//!   local events per wake-up, one `Events` frame per link and one batch of deliveries
//!   to the bridge per drain. It never awaits anything but its own
//!   inputs: frames go to links and events to the broker through `try_send`, so a slow
//!   link cannot stall the mesh (a full link queue drops live events, counted, and closes
//!   the link if a control message does not fit: it reconnects and resyncs).
//! - **one task per TCP link** (`server/connection.rs`), accepted by [`serve`] or dialled
//!   for [`MeshOptions::join`]: reads frames with [`decode_frame`](crate::wire::decode_frame)
//!   (garbage closes the link) and writes the frames the owner queued, batched.
//! - **dialers** (`server/dial.rs`): one per join address, reconnecting with exponential
//!   backoff and jitter, capped at [`MeshOptions::reconnect_max`].
//! - **bridge** (`server/bridge.rs`): the broker's [`Forwarder`](weft_broker::Forwarder)
//!   hands every event fanned out at this node whose `origin` is this node to the owner,
//!   with a receipt the publisher's durable ack waits for; events the mesh delivers are
//!   published to the broker with their original origin (so never forwarded again), to
//!   the queue groups this node was chosen for, and durable ones with a durable ack
//!   before they are acknowledged to their origin; a batch (what one drain of the owner
//!   delivered) per wake-up. The payload is the event in the binary envelope
//!   ([`encode_event`], [`crate::envelope`]); the JSON envelope of older nodes is still
//!   read, and written for peers that lack the `binary_envelope` capability.
//!   It also follows the broker's interest (live subscriptions, queue groups, streams'
//!   filters as durable interest) when [`MeshOptions::follow_broker_interest`] is set.
//! - **persister** (`server/persist.rs`, a thread): writes the outboxes, the inbox
//!   positions and the remembered durable interest under `<data_dir>/mesh`
//!   (`server/store.rs` has the formats) with group-committed fsyncs.

mod bridge;
mod connection;
mod dial;
mod durable;
mod owner;
mod persist;
mod status;
mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use weft_broker::{Broker, Principal, SubscribeError};
use weft_core::{Filter, Topic};

pub use self::durable::DurableStatus;
use self::owner::Command;
pub use self::status::{
    JoinStatus, LinkDirection, LinkStatus, MeshStatus, NodeStatus, StatusCounters,
};
pub use self::store::StoreError;
pub use crate::envelope::{EnvelopeError, decode_event, encode_event};
use crate::interest::InterestEntry;
use crate::name::{MeshName, NameError, NodeName};
use crate::node::{MeshConfig, MeshNode, RouteExplanation};
use crate::wire::DEFAULT_MAX_FRAME;

/// How a node joins the mesh and runs its links.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// The mesh name; links to nodes of another mesh are refused.
    pub mesh: String,
    /// This node's name: unique in the mesh, and the `origin` of events published here.
    pub node: String,
    /// Peers to dial (and redial) at start.
    pub join: Vec<SocketAddr>,
    /// Grows with every restart; `None` takes the start time in milliseconds, or, with
    /// a data directory, one more than anything an earlier life on it used when that is
    /// larger (the clock went back).
    pub incarnation: Option<u64>,
    /// How often the node is ticked (heartbeats, timeouts, refreshes).
    pub tick_interval: Duration,
    /// How often established links are probed (round-trip time).
    pub heartbeat_interval: Duration,
    /// A link silent this long, or not through its handshake, is closed.
    pub link_timeout: Duration,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// The first redial delay; it doubles up to `reconnect_max` (with jitter).
    pub reconnect_min: Duration,
    /// The largest redial delay.
    pub reconnect_max: Duration,
    /// Frames queued per link before live events are dropped.
    pub link_queue: usize,
    /// Local events queued for the mesh; when full, publishes are refused (counted in
    /// `forward_queue_drops`), never dropped silently.
    pub forward_queue: usize,
    /// Mesh events queued for the local broker (dropped, counted, when full).
    pub deliver_queue: usize,
    /// The largest frame read from a peer.
    pub max_frame: usize,
    /// How frames are compressed on links where the peer supports it (`None`: never).
    pub compression: Option<crate::wire::Compression>,
    /// Messages shorter than this many bytes are never compressed.
    pub compression_threshold: usize,
    /// Send several events per frame on links whose peer supports it (the events of one
    /// wake-up of the owner, and frames that queue up for the writer).
    pub batching: bool,
    /// Who the mesh acts as towards the broker (its `>` subscription, its publishes).
    pub principal: Principal,
    /// Advertise the broker's live interest ([`Broker::interest`]) and its streams'
    /// filters (durable interest), and follow their changes; when false, the caller
    /// sets interest with [`MeshHandle::set_local_interest`].
    pub follow_broker_interest: bool,
    /// Where store-and-forward state is persisted (`<data_dir>/mesh`); `None` keeps it
    /// in memory only (lost on restart).
    pub data_dir: Option<PathBuf>,
    /// Unacknowledged durable events kept per destination; beyond it publishes are
    /// refused.
    pub outbox_max_events: usize,
    /// Payload bytes of unacknowledged durable events kept per destination.
    pub outbox_max_bytes: u64,
    /// How long an unreachable node's durable interest is still honoured.
    pub durable_interest_expiry: Duration,
    /// How long an unacknowledged durable event waits before it is resent.
    pub retransmit_interval: Duration,
}

impl MeshOptions {
    /// Options with defaults: no joins, 50 ms ticks, 1 s heartbeats, 5 s link timeout,
    /// redials from 100 ms to 3 s.
    pub fn new(mesh: impl Into<String>, node: impl Into<String>) -> Self {
        Self {
            mesh: mesh.into(),
            node: node.into(),
            join: Vec::new(),
            incarnation: None,
            tick_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_secs(1),
            link_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(3),
            link_queue: 8192,
            forward_queue: 65_536,
            deliver_queue: 65_536,
            max_frame: DEFAULT_MAX_FRAME,
            compression: Some(crate::wire::Compression::Lz4),
            compression_threshold: crate::wire::DEFAULT_COMPRESSION_THRESHOLD,
            batching: true,
            principal: Principal::named("mesh"),
            follow_broker_interest: false,
            data_dir: None,
            outbox_max_events: 100_000,
            outbox_max_bytes: 256 * 1024 * 1024,
            durable_interest_expiry: Duration::from_secs(7 * 24 * 3600),
            retransmit_interval: Duration::from_secs(2),
        }
    }
}

/// Why the mesh could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The mesh or node name is not valid.
    #[error("invalid mesh options: {0}")]
    Name(#[from] NameError),
    /// The broker refused the subscription that forwards local events.
    #[error("cannot subscribe to local events: {0}")]
    Subscribe(#[from] SubscribeError),
    /// A filter could not be built.
    #[error("invalid filter: {0}")]
    Filter(#[from] weft_core::TopicError),
    /// The store-and-forward files could not be read.
    #[error("cannot open the mesh store")]
    Store(#[from] StoreError),
    /// The mesh was shut down.
    #[error("the mesh node has stopped")]
    Stopped,
}

/// Starts the mesh tasks of one node.
#[derive(Debug)]
pub struct MeshContext;

impl MeshContext {
    /// Starts the owner task, the broker bridge and a dialer per join address (must be
    /// called inside a tokio runtime). Accept inbound links with [`serve`].
    pub fn start(broker: Broker, options: MeshOptions) -> Result<MeshHandle, MeshError> {
        let mesh = MeshName::new(&options.mesh)?;
        let node = NodeName::new(&options.node)?;
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_millis() as u64);
        let incarnation = match &options.data_dir {
            // Above anything an earlier life on this data directory used.
            Some(data_dir) => {
                store::start_incarnation(&data_dir.join("mesh"), options.incarnation, clock)?
            }
            None => options.incarnation.unwrap_or(clock),
        };
        let mut config = MeshConfig::new(mesh.clone(), node.clone(), incarnation);
        config.heartbeat_interval = options.heartbeat_interval;
        config.link_timeout = options.link_timeout;
        config.outbox_capacity = options.outbox_max_events;
        config.outbox_max_bytes = options.outbox_max_bytes;
        config.durable_interest_expiry = options.durable_interest_expiry;
        config.retransmit_interval = options.retransmit_interval;
        let mut mesh_node = MeshNode::new(config);
        let (commands, command_rx) = mpsc::channel(1024);
        let persister = match &options.data_dir {
            Some(data_dir) => Some(durable::open(
                &mut mesh_node,
                &data_dir.join("mesh"),
                commands.clone(),
            )?),
            None => None,
        };
        let (forward_tx, forward_rx) = mpsc::channel(options.forward_queue.max(1));
        let (deliver_tx, deliver_rx) = bridge::DeliverQueue::new(options.deliver_queue);
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            mesh,
            node,
            options,
            commands,
            next_link: AtomicU64::new(1),
            stop,
            stopped,
            bridge: Arc::default(),
            durable: Arc::default(),
            admission: Arc::default(),
            closed: Arc::new(watch::Sender::new(false)),
        });
        let handle = MeshHandle { shared };
        broker.set_forwarder(Arc::new(bridge::MeshForwarder {
            node: handle.shared.node.clone(),
            queue: forward_tx,
            counters: Arc::clone(&handle.shared.bridge),
            admission: Arc::clone(&handle.shared.admission),
        }));
        let owner = owner::Owner::new(mesh_node, &handle, deliver_tx, persister);
        tokio::spawn(owner.run(command_rx, forward_rx, handle.shared.stopped.clone()));
        if handle.shared.options.follow_broker_interest {
            tokio::spawn(bridge::follow_interest(handle.clone(), broker.clone()));
        }
        tokio::spawn(bridge::deliver_remote(handle.clone(), broker, deliver_rx));
        for addr in handle.shared.options.join.clone() {
            tokio::spawn(dial::run(handle.clone(), addr));
        }
        Ok(handle)
    }
}

pub(crate) struct Shared {
    pub(crate) mesh: MeshName,
    pub(crate) node: NodeName,
    pub(crate) options: MeshOptions,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) next_link: AtomicU64,
    stop: watch::Sender<bool>,
    pub(crate) stopped: watch::Receiver<bool>,
    pub(crate) bridge: Arc<bridge::BridgeCounters>,
    pub(crate) durable: Arc<durable::DurableGauges>,
    pub(crate) admission: Arc<durable::Admission>,
    /// Set by the owner once it has stopped, after its last writes.
    pub(crate) closed: Arc<watch::Sender<bool>>,
}

/// A handle to a running mesh node. Cheap to clone.
#[derive(Clone)]
pub struct MeshHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MeshHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshHandle")
            .field("mesh", &self.shared.mesh)
            .field("node", &self.shared.node)
            .finish_non_exhaustive()
    }
}

impl MeshHandle {
    /// This node's name.
    pub fn node(&self) -> &NodeName {
        &self.shared.node
    }

    /// The mesh name.
    pub fn mesh(&self) -> &MeshName {
        &self.shared.mesh
    }

    /// Replaces this node's live interest with `filters` (what its local live
    /// subscriptions want); the change is flooded to the mesh.
    pub async fn set_local_interest(&self, filters: Vec<Filter>) -> Result<(), MeshError> {
        self.set_interest(filters.into_iter().map(InterestEntry::live).collect())
            .await
    }

    /// Replaces this node's interest with `entries` (live, durable or queue group).
    pub async fn set_interest(&self, entries: Vec<InterestEntry>) -> Result<(), MeshError> {
        self.command(Command::Interest(entries)).await
    }

    /// A snapshot of the mesh as this node sees it: nodes, links, interest, counters.
    pub async fn status(&self) -> Result<MeshStatus, MeshError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Status(reply)).await?;
        answer.await.map_err(|_| MeshError::Stopped)
    }

    /// Forgets `node`, which left the mesh for good: its durable interest and the events
    /// kept for it (see [`crate::MeshNode::forget_node`]). The change is persisted like
    /// any other.
    ///
    /// # Errors
    /// [`MeshError::Stopped`] when the mesh stopped; the inner error when the node is
    /// reachable or unknown.
    pub async fn forget(
        &self,
        node: NodeName,
    ) -> Result<Result<crate::node::Forgotten, crate::node::ForgetError>, MeshError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Forget { node, reply }).await?;
        answer.await.map_err(|_| MeshError::Stopped)
    }

    /// Where an event on `topic` published at this node now would go, and why.
    pub async fn explain_route(&self, topic: Topic) -> Result<RouteExplanation, MeshError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Route { topic, reply }).await?;
        answer.await.map_err(|_| MeshError::Stopped)
    }

    /// Store-and-forward counters (outbox depth and bytes, refusals, ...), as of the
    /// owner's last tick, with their metric names (for `/v1/node`).
    pub fn durable_counters(&self) -> Vec<(String, u64)> {
        self.shared.durable.counters()
    }

    /// Stops every task of this node: links are closed, dialers stop. What the node
    /// was storing for other nodes may not be remembered: prefer [`Self::close`].
    pub fn shutdown(&self) {
        let _ = self.shared.stop.send(true);
    }

    /// Stops the node like [`Self::shutdown`] and waits (a few seconds at most) until
    /// it has confirmed the durable events it was storing, persisted their positions
    /// and fsynced its store: after a restart, nothing it stored is received again and
    /// nothing it acknowledged is resent. Call it before the broker's streams close.
    pub async fn close(&self) {
        self.shutdown();
        let mut closed = self.shared.closed.subscribe();
        let limit = owner::CLOSE_LIMIT * 2 + Duration::from_secs(1);
        let _ = tokio::time::timeout(limit, closed.wait_for(|closed| *closed)).await;
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_stopped(&self) -> bool {
        *self.shared.stopped.borrow()
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) async fn command(&self, command: Command) -> Result<(), MeshError> {
        if self.is_stopped() {
            return Err(MeshError::Stopped);
        }
        self.shared
            .commands
            .send(command)
            .await
            .map_err(|_| MeshError::Stopped)
    }
}

/// Accepts mesh links on `listener` until `shutdown` resolves or the node is shut down;
/// each link runs in its own task.
pub async fn serve(
    listener: TcpListener,
    handle: MeshHandle,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut stopped = handle.shared.stopped.clone();
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        connection::run(socket, peer, handle, LinkDirection::Inbound, None).await;
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "mesh accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
        _ = stopped.wait_for(|stop| *stop) => {}
    }
}
