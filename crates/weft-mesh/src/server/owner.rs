//! The owner task: the only holder of the [`MeshNode`].
//!
//! It works in batches so that a busy mesh costs few wake-ups: after one input it takes
//! up to [`FORWARD_BATCH`] more local events that are already queued (never waiting for
//! them), then drains the node's outputs once — every link gets the events of that
//! drain as one frame (`owner/outbound.rs`) and the broker bridge gets the deliveries
//! as one batch.

mod outbound;
mod report;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;
use weft_core::Topic;

use super::MeshHandle;
use super::bridge::{BridgeCounters, DeliverQueue, Delivery};
use super::connection::LinkCounters;
use super::durable::{Admission, DurableGauges, Journal};
use super::persist::{Persister, SyncReply};
use super::status::{JoinStatus, LinkDirection, MeshStatus, StatusCounters};
use crate::interest::InterestEntry;
use crate::name::LinkId;
use crate::node::{CloseReason, DurableReceipt, MeshNode, Output, RouteExplanation};
use crate::wire::{EventsFrame, Message};

/// Errors kept for status.
const RECENT_ERRORS: usize = 16;

/// Local events taken per wake-up at most (then the node's outputs are drained), so
/// link and status commands wait for at most this many publishes.
const FORWARD_BATCH: usize = 256;

/// How long a stopping node waits for the stores it started and its last writes.
pub(crate) const CLOSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A new link, announced by its task before any of its frames.
pub(crate) struct Opened {
    pub(crate) link: LinkId,
    pub(crate) writer: mpsc::Sender<Bytes>,
    pub(crate) counters: Arc<LinkCounters>,
    pub(crate) direction: LinkDirection,
    pub(crate) remote: SocketAddr,
    pub(crate) join: Option<SocketAddr>,
}

/// A local event for the mesh, from the broker's forwarder; `reply` answers its
/// publisher (at once, or once the event is persisted for remote durable interest).
/// No `reply`: the forwarder saw no remote durable interest for the topic, and the
/// publisher waits for nothing from the mesh.
pub(crate) struct Forwarded {
    pub(crate) topic: Topic,
    /// The event's mesh payload, encoded by the publisher's task.
    pub(crate) payload: Bytes,
    pub(crate) reply: Option<SyncReply>,
}

/// What the other tasks ask of the owner.
pub(crate) enum Command {
    Opened(Opened),
    Received {
        link: LinkId,
        message: Message,
    },
    Malformed {
        link: LinkId,
    },
    Closed {
        link: LinkId,
        error: String,
    },
    JoinFailed {
        addr: SocketAddr,
        error: String,
    },
    Stored {
        receipt: DurableReceipt,
        stored: bool,
    },
    InboxPersisted(std::collections::BTreeMap<crate::name::NodeName, crate::inbox::StreamPosition>),
    Interest(Vec<InterestEntry>),
    Status(oneshot::Sender<MeshStatus>),
    Route {
        topic: Topic,
        reply: oneshot::Sender<RouteExplanation>,
    },
    Forget {
        node: crate::name::NodeName,
        reply: oneshot::Sender<Result<crate::node::Forgotten, crate::node::ForgetError>>,
    },
    /// The node is stopping and the bridge confirmed every store it had started.
    BridgeDone,
}

struct LinkEntry {
    opened: Opened,
    peer: Option<String>,
    reconnects: u64,
    events_dropped: u64,
    /// The events for this link from the current drain, not queued yet.
    open: Option<EventsFrame>,
}

pub(crate) struct Owner {
    node: MeshNode,
    deliver: DeliverQueue,
    /// Deliveries of the current drain, handed to the bridge as one batch.
    deliveries: Vec<Delivery>,
    /// The largest frame (an open `Events` frame is queued before it grows past it).
    max_frame: usize,
    /// Whether events may share a frame ([`super::MeshOptions::batching`]).
    batching: bool,
    bridge: Arc<BridgeCounters>,
    journal: Option<Journal>,
    /// Without a journal: the inbox version last acknowledged.
    inbox_version: u64,
    gauges: Arc<DurableGauges>,
    admission: Arc<Admission>,
    /// The destinations whose outbox was full when `admission` was last set.
    full: Vec<crate::name::NodeName>,
    /// The interest table generation whose durable filters `admission` holds.
    durable_generation: Option<u64>,
    links: BTreeMap<LinkId, LinkEntry>,
    joins: BTreeMap<SocketAddr, JoinStatus>,
    recent_errors: VecDeque<String>,
    counters: StatusCounters,
    tick_interval: std::time::Duration,
    /// Set once the owner has stopped (after its last writes).
    closed: Arc<watch::Sender<bool>>,
    /// The node is stopping and the bridge confirmed every store it started.
    bridge_done: bool,
}

impl Owner {
    pub(crate) fn new(
        node: MeshNode,
        handle: &MeshHandle,
        deliver: DeliverQueue,
        persister: Option<Persister>,
    ) -> Self {
        let shared = handle.shared();
        let joins = shared
            .options
            .join
            .iter()
            .map(|&addr| {
                let status = JoinStatus {
                    addr,
                    connected: false,
                    peer: None,
                    connections: 0,
                    reconnects: 0,
                    failures: 0,
                    last_error: None,
                };
                (addr, status)
            })
            .collect();
        let journal = persister.map(|persister| Journal::new(persister, &node));
        let inbox_version = node.inbox_version();
        Self {
            node,
            deliver,
            deliveries: Vec::new(),
            max_frame: shared.options.max_frame,
            batching: shared.options.batching,
            bridge: Arc::clone(&shared.bridge),
            journal,
            inbox_version,
            gauges: Arc::clone(&shared.durable),
            admission: Arc::clone(&shared.admission),
            full: Vec::new(),
            durable_generation: None,
            links: BTreeMap::new(),
            joins,
            recent_errors: VecDeque::new(),
            counters: StatusCounters::default(),
            tick_interval: shared.options.tick_interval,
            closed: Arc::clone(&shared.closed),
            bridge_done: false,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut forwarded: mpsc::Receiver<Forwarded>,
        mut stopped: watch::Receiver<bool>,
    ) {
        // Until now the forwarder made every publisher wait (no filters set yet).
        self.update_durable_interest();
        let mut tick = tokio::time::interval(self.tick_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.apply(command),
                    None => break,
                },
                Some(item) = forwarded.recv() => {
                    self.forward(item);
                    for _ in 1..FORWARD_BATCH {
                        match forwarded.try_recv() {
                            Ok(item) => self.forward(item),
                            Err(_) => break,
                        }
                    }
                }
                _ = tick.tick() => self.tick(),
                _ = stopped.wait_for(|stop| *stop) => break,
            }
            // Before the outputs go anywhere: nothing this node sends or answers after
            // learning remote durable interest precedes the forwarder seeing it.
            self.update_durable_interest();
            self.drain();
        }
        if *stopped.borrow() {
            self.stop_cleanly(&mut commands).await;
        }
        tracing::debug!(node = %self.node.name(), "mesh owner stopped");
        self.closed.send_replace(true);
    }

    fn apply(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Opened(opened) => {
                let link = opened.link;
                let mut reconnects = 0;
                if let Some(join) = opened.join.and_then(|addr| self.joins.get_mut(&addr)) {
                    reconnects = join.connections;
                    join.connections += 1;
                    join.reconnects = reconnects;
                }
                self.links.insert(
                    link,
                    LinkEntry {
                        opened,
                        peer: None,
                        reconnects,
                        events_dropped: 0,
                        open: None,
                    },
                );
                self.node.link_up(now, link, 1);
            }
            Command::Received { link, message } => self.node.handle(now, link, message),
            Command::Malformed { link } => {
                self.counters.malformed_frames += 1;
                let remote = self.links.get(&link).map(|entry| entry.opened.remote);
                let text = format!("{link}: peer sent a malformed frame, link closed");
                tracing::warn!(%link, ?remote, "mesh peer sent a malformed frame; closing the link");
                self.remember(text);
            }
            Command::Closed { link, error } => {
                if let Some(entry) = self.links.remove(&link) {
                    tracing::info!(%link, peer = ?entry.peer, %error, "mesh link closed");
                    self.link_gone(&entry, &error);
                    self.node.link_down(now, link);
                }
            }
            Command::JoinFailed { addr, error } => {
                if let Some(join) = self.joins.get_mut(&addr) {
                    join.failures += 1;
                    join.last_error = Some(error);
                }
            }
            Command::Stored { receipt, stored } => {
                if stored {
                    self.node.durable_stored(&receipt);
                } else {
                    self.node.durable_failed(&receipt);
                }
            }
            Command::InboxPersisted(positions) => self.node.acknowledge_persisted(&positions),
            Command::Interest(entries) => self.node.set_local_interest(now, entries),
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Route { topic, reply } => {
                let _ = reply.send(self.node.explain_route(&topic));
            }
            Command::Forget { node, reply } => {
                let _ = reply.send(self.node.forget_node(&node));
            }
            Command::BridgeDone => self.bridge_done = true,
        }
    }

    /// The node is stopping: waits (at most [`CLOSE_LIMIT`]) for the bridge to confirm
    /// the stores it started, then persists the inbox positions (and whatever else
    /// changed) and fsyncs what was written, so that a restart neither receives again
    /// what was stored here nor resends what was acknowledged.
    async fn stop_cleanly(&mut self, commands: &mut mpsc::Receiver<Command>) {
        let deadline = tokio::time::Instant::now() + CLOSE_LIMIT;
        // The bridge may have finished before the owner saw the stop.
        while !self.bridge_done {
            let command = tokio::select! {
                command = commands.recv() => command,
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!("mesh: durable deliveries still being stored at shutdown; they are received again after the restart");
                    None
                }
            };
            match command {
                None => break,
                Some(command @ (Command::Stored { .. } | Command::BridgeDone)) => {
                    self.apply(command);
                }
                // Links and requests are over.
                Some(_) => {}
            }
        }
        let Some(journal) = &mut self.journal else {
            return;
        };
        journal.tick(&self.node);
        let (reply, mut synced) = oneshot::channel();
        journal.wait_for_sync(reply);
        journal.flush(&self.node);
        // The persister reports the inbox write on `commands`: keep them flowing.
        loop {
            tokio::select! {
                _ = &mut synced => break,
                command = commands.recv() => if command.is_none() { break },
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!("mesh: the store did not finish writing at shutdown");
                    break;
                }
            }
        }
    }

    /// A local event: into the mesh; its publisher is answered once it is safe.
    fn forward(&mut self, item: Forwarded) {
        let Forwarded {
            topic,
            payload,
            reply,
        } = item;
        match self
            .node
            .publish_local(Instant::now(), topic.clone(), payload)
        {
            Ok(publication) if !publication.durable.is_empty() => {
                // Without a reply the durable interest appeared after the forwarder
                // looked: the event is stored and sent as usual, nobody waits for it.
                if let Some(reply) = reply {
                    match &mut self.journal {
                        Some(journal) => journal.wait_for_sync(reply),
                        None => {
                            let _ = reply.send(Ok(()));
                        }
                    }
                }
            }
            Ok(_) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::warn!(%error, %topic, "mesh refused a local event");
                if let Some(reply) = reply {
                    let _ = reply.send(Err(weft_broker::ForwardRefused {
                        reason: error.to_string(),
                    }));
                }
                self.update_admission();
            }
        }
    }

    /// Tells the broker's forwarder the remote durable filters when the interest table
    /// changed. Called after every input and tick, before its outputs are drained and
    /// before the next input (a status request, a local event) is handled: nothing the
    /// owner sends or answers can show interest the forwarder does not see yet.
    fn update_durable_interest(&mut self) {
        let generation = self.node.remote_interest().generation();
        if self.durable_generation != Some(generation) {
            self.admission
                .set_durable(self.node.remote_durable_filters());
            self.durable_generation = Some(generation);
        }
    }

    /// Tells the broker's forwarder which topics to refuse up front (full outboxes).
    fn update_admission(&mut self) {
        let full = self.node.full_durable_interest();
        let names: Vec<_> = full.iter().map(|(node, _)| node.clone()).collect();
        if names != self.full {
            let config = self.node.config();
            let limits = format!(
                "limits {} events, {} bytes",
                config.outbox_capacity, config.outbox_max_bytes
            );
            self.admission.set(full, limits);
            self.full = names;
        }
    }

    fn tick(&mut self) {
        self.node.tick(Instant::now());
        self.update_admission();
        if let Some(journal) = &mut self.journal {
            journal.tick(&self.node);
        }
        self.gauges.update(&self.durable_status());
    }

    fn drain(&mut self) {
        if self.journal.is_none() && self.node.inbox_version() != self.inbox_version {
            // Nothing to persist: what is stored is acknowledged at once.
            self.inbox_version = self.node.inbox_version();
            let positions = self.node.inbox_snapshot();
            self.node.acknowledge_persisted(&positions);
        }
        while let Some(output) = self.node.poll_output() {
            match output {
                Output::Send { link, message } => self.send(link, message),
                Output::Deliver {
                    event,
                    groups,
                    durable,
                } => self.deliveries.push(Delivery {
                    event,
                    groups,
                    durable,
                }),
                Output::Persist(change) => {
                    if let Some(journal) = &mut self.journal {
                        journal.change(&self.node, change);
                    }
                }
                Output::CloseLink { link, reason } => self.close(link, &reason),
                Output::LinkEstablished { link, peer } => {
                    if let Some(entry) = self.links.get_mut(&link) {
                        tracing::info!(%link, %peer, remote = %entry.opened.remote, "mesh link established");
                        entry.peer = Some(peer.to_string());
                        entry
                            .opened
                            .counters
                            .established
                            .store(true, Ordering::Relaxed);
                        if let Some(join) = entry.opened.join.and_then(|a| self.joins.get_mut(&a)) {
                            join.connected = true;
                            join.peer = Some(peer.to_string());
                            join.last_error = None;
                        }
                    }
                }
                Output::RouteChanged { reachable } => {
                    tracing::debug!(node = %self.node.name(), reachable, "mesh routes changed");
                }
            }
        }
        self.flush_all();
        self.deliver_batch();
        if let Some(journal) = &mut self.journal {
            journal.flush(&self.node);
        }
    }

    /// Hands this drain's deliveries to the bridge; what does not fit its queue is
    /// dropped, counted (a durable event comes back when its origin resends it).
    fn deliver_batch(&mut self) {
        if self.deliveries.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.deliveries);
        for refused in self.deliver.send(batch) {
            self.counters.deliver_queue_drops += 1;
            if let Some(receipt) = &refused.durable {
                self.node.durable_failed(receipt);
            }
        }
        // Durable failures may have produced outputs (nothing to send: they only
        // rewind the inbox), so nothing is left to drain here.
    }

    fn close(&mut self, link: LinkId, reason: &CloseReason) {
        let detail = match reason {
            CloseReason::RefusedPeer(reason) => format!("refused the peer: {}", reason.as_str()),
            CloseReason::RefusedByPeer { reason, detail } => {
                format!("refused by the peer: {}: {detail}", reason.as_str())
            }
            CloseReason::Timeout => "timed out".to_owned(),
        };
        // Dropping the entry drops the frame queue: the link task writes what is queued
        // (a refusal) and closes the socket.
        self.flush(link);
        if let Some(entry) = self.links.remove(&link) {
            tracing::warn!(%link, remote = %entry.opened.remote, peer = ?entry.peer, %detail, "mesh link closed");
            self.link_gone(&entry, &detail);
            if !matches!(reason, CloseReason::Timeout) {
                self.remember(format!("{link} ({}): {detail}", entry.opened.remote));
            }
        }
    }

    fn link_gone(&mut self, entry: &LinkEntry, error: &str) {
        if let Some(join) = entry.opened.join.and_then(|addr| self.joins.get_mut(&addr)) {
            join.connected = false;
            join.last_error = Some(error.to_owned());
        }
    }

    fn remember(&mut self, text: String) {
        if self.recent_errors.len() == RECENT_ERRORS {
            self.recent_errors.pop_front();
        }
        self.recent_errors.push_back(text);
    }
}
