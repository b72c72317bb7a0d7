//! The owner task: the only holder of the [`MeshNode`].

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;
use weft_core::Topic;

use super::MeshHandle;
use super::bridge::{BridgeCounters, Delivery};
use super::connection::LinkCounters;
use super::durable::{Admission, DurableGauges, DurableStatus, Journal};
use super::persist::{Persister, SyncReply};
use super::status::{
    JoinStatus, LinkDirection, LinkStatus, MeshStatus, NodeStatus, StatusCounters,
};
use crate::interest::InterestEntry;
use crate::name::LinkId;
use crate::node::{CloseReason, DurableReceipt, MeshNode, Output, RouteExplanation};
use crate::wire::{Message, encode_frame};

/// Errors kept for status.
const RECENT_ERRORS: usize = 16;

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
pub(crate) struct Forwarded {
    pub(crate) topic: Topic,
    /// The event's mesh payload, encoded by the publisher's task.
    pub(crate) payload: Bytes,
    pub(crate) reply: SyncReply,
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
}

struct LinkEntry {
    opened: Opened,
    peer: Option<String>,
    reconnects: u64,
    events_dropped: u64,
}

pub(crate) struct Owner {
    node: MeshNode,
    deliver: mpsc::Sender<Delivery>,
    bridge: Arc<BridgeCounters>,
    journal: Option<Journal>,
    gauges: Arc<DurableGauges>,
    admission: Arc<Admission>,
    /// The destinations whose outbox was full when `admission` was last set.
    full: Vec<crate::name::NodeName>,
    links: BTreeMap<LinkId, LinkEntry>,
    joins: BTreeMap<SocketAddr, JoinStatus>,
    recent_errors: VecDeque<String>,
    counters: StatusCounters,
    tick_interval: std::time::Duration,
}

impl Owner {
    pub(crate) fn new(
        node: MeshNode,
        handle: &MeshHandle,
        deliver: mpsc::Sender<Delivery>,
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
        Self {
            node,
            deliver,
            bridge: Arc::clone(&shared.bridge),
            journal: persister.map(Journal::new),
            gauges: Arc::clone(&shared.durable),
            admission: Arc::clone(&shared.admission),
            full: Vec::new(),
            links: BTreeMap::new(),
            joins,
            recent_errors: VecDeque::new(),
            counters: StatusCounters::default(),
            tick_interval: shared.options.tick_interval,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut forwarded: mpsc::Receiver<Forwarded>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(self.tick_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.apply(command),
                    None => break,
                },
                Some(item) = forwarded.recv() => self.forward(item),
                _ = tick.tick() => self.tick(),
                _ = stopped.wait_for(|stop| *stop) => break,
            }
            self.drain();
        }
        tracing::debug!(node = %self.node.name(), "mesh owner stopped");
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
                    match &mut self.journal {
                        Some(journal) => journal.inbox_moved(),
                        // Nothing to persist: acknowledge at once.
                        None => {
                            let positions = self.node.inbox_snapshot();
                            self.node.acknowledge_persisted(&positions);
                        }
                    }
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
            Ok(publication) if !publication.durable.is_empty() => match &mut self.journal {
                Some(journal) => journal.wait_for_sync(reply),
                None => {
                    let _ = reply.send(Ok(()));
                }
            },
            Ok(_) => {
                let _ = reply.send(Ok(()));
            }
            Err(error) => {
                tracing::warn!(%error, %topic, "mesh refused a local event");
                let _ = reply.send(Err(weft_broker::ForwardRefused {
                    reason: error.to_string(),
                }));
                self.update_admission();
            }
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

    fn durable_status(&self) -> DurableStatus {
        let stats = self.node.stats();
        let snapshot_depths = self.node.outbox_depths();
        DurableStatus {
            outbox_depth: self.node.outbox_total_depth() as u64,
            outbox_bytes: self.node.outbox_total_bytes(),
            publishes_refused: stats.publishes_refused
                + self.admission.refused.load(Ordering::Relaxed),
            durable_acked: stats.durable_acked,
            retransmissions: stats.retransmissions,
            outbox_dropped: stats.outbox_dropped,
            persist_errors: self.journal.as_ref().map_or(0, Journal::errors),
            outboxes: snapshot_depths,
            full: self.full.iter().map(ToString::to_string).collect(),
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.node.poll_output() {
            match output {
                Output::Send { link, message } => self.send(link, &message),
                Output::Deliver {
                    event,
                    groups,
                    durable,
                } => {
                    let delivery = Delivery {
                        event,
                        groups,
                        durable,
                    };
                    match self.deliver.try_send(delivery) {
                        Ok(()) => {}
                        Err(TrySendError::Full(delivery) | TrySendError::Closed(delivery)) => {
                            self.counters.deliver_queue_drops += 1;
                            // A durable event comes back when its origin resends it.
                            if let Some(receipt) = &delivery.durable {
                                self.node.durable_failed(receipt);
                            }
                        }
                    }
                }
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
        if let Some(journal) = &mut self.journal {
            journal.flush(&self.node);
        }
    }

    fn send(&mut self, link: LinkId, message: &Message) {
        let Some(entry) = self.links.get_mut(&link) else {
            return;
        };
        let mut frame = BytesMut::new();
        encode_frame(message, &mut frame);
        match entry.opened.writer.try_send(frame.freeze()) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) if matches!(message, Message::Events(_)) => {
                entry.events_dropped += 1;
                self.counters.link_queue_drops += 1;
            }
            Err(TrySendError::Full(_)) => {
                // A control message that does not fit: the link is too slow to stay
                // consistent; close it (it reconnects and resyncs).
                tracing::warn!(%link, "mesh link queue full; closing the link");
                if let Some(entry) = self.links.remove(&link) {
                    self.link_gone(&entry, "link queue full");
                }
                self.node.link_down(Instant::now(), link);
            }
        }
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

    fn status(&self) -> MeshStatus {
        let node = &self.node;
        let me = node.name().clone();
        let nodes = node
            .database()
            .iter()
            .map(|lsa| NodeStatus {
                name: lsa.node.to_string(),
                reachable: node.reachable().contains(&lsa.node),
                neighbours: lsa.neighbours.iter().map(|a| a.node.to_string()).collect(),
                interest: if lsa.node == me {
                    node.local_interest().len()
                } else {
                    node.remote_interest().entries(&lsa.node).count()
                },
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|(&link, entry)| {
                let stats = node.link_stats(link).cloned().unwrap_or_default();
                let counters = &entry.opened.counters;
                LinkStatus {
                    id: link.0,
                    peer: entry.peer.clone(),
                    direction: entry.opened.direction,
                    remote: entry.opened.remote,
                    established: entry.peer.is_some(),
                    events_in: stats.events_received,
                    events_out: stats.events_sent,
                    bytes_in: entry.opened.counters.bytes_in.load(Ordering::Relaxed),
                    bytes_out: entry.opened.counters.bytes_out.load(Ordering::Relaxed),
                    uncompressed_bytes_in: counters.uncompressed_in.load(Ordering::Relaxed),
                    uncompressed_bytes_out: counters.uncompressed_out.load(Ordering::Relaxed),
                    frames_out: counters.frames_out.load(Ordering::Relaxed),
                    queue_depth: entry.opened.writer.max_capacity()
                        - entry.opened.writer.capacity(),
                    compression: counters.compression().map(crate::wire::Compression::name),
                    messages_in: stats.messages_received,
                    messages_out: stats.messages_sent,
                    events_dropped: entry.events_dropped,
                    round_trip_us: stats.round_trip.map(|rtt| rtt.as_micros() as u64),
                    reconnects: entry.reconnects,
                }
            })
            .collect();
        let stats = node.stats();
        let bridge = &self.bridge;
        let counters = StatusCounters {
            events_published: stats.events_published,
            events_sent: stats.events_sent,
            events_received: stats.events_received,
            events_delivered: stats.events_delivered,
            duplicates_dropped: stats.duplicates_dropped,
            hop_limit_drops: stats.hop_limit_drops,
            links_refused: stats.links_refused,
            envelope_errors: bridge.envelope_errors.load(Ordering::Relaxed),
            broker_publish_errors: bridge.broker_publish_errors.load(Ordering::Relaxed),
            forward_queue_drops: bridge.forward_queue_drops.load(Ordering::Relaxed),
            durable: self.durable_status(),
            ..self.counters.clone()
        };
        MeshStatus {
            mesh: node.config().mesh.to_string(),
            node: me.to_string(),
            incarnation: node.config().incarnation,
            reachable: node.reachable().len(),
            nodes,
            links,
            joins: self.joins.values().cloned().collect(),
            counters,
            recent_errors: self.recent_errors.iter().cloned().collect(),
        }
    }
}
