//! Durable store-and-forward in the I/O layer: restoring the node's state at start, the
//! owner's persistence bookkeeping, and the counters it reports.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use weft_core::Filter;

use super::persist::{Op, Persister, SyncReply};
use super::store::{self, StoreError};
use crate::name::NodeName;
use crate::node::MeshNode;
use crate::outbox::OutboxChange;

/// Records appended to a destination's file since its last rewrite, beyond which
/// (and beyond four times its depth) the file is rewritten with only what is waiting.
const REWRITE_AFTER: u64 = 65_536;

/// Store-and-forward counters (`/v1/mesh` `counters.durable`, `/v1/node` `mesh_*`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DurableStatus {
    /// Unacknowledged durable events waiting in outboxes now (a gauge).
    pub outbox_depth: u64,
    /// Their payload bytes (a gauge).
    pub outbox_bytes: u64,
    /// Durable publishes refused because an outbox was full (backpressure).
    pub publishes_refused: u64,
    /// Durable events acknowledged by their destinations.
    pub durable_acked: u64,
    /// Durable events received again, after a restart of either side, that this node
    /// had already stored: recognised by the origin's high-water mark, not stored again.
    pub already_stored: u64,
    /// Durable events resent.
    pub retransmissions: u64,
    /// Durable events dropped because their destination's durable interest expired.
    pub outbox_dropped: u64,
    /// Failed writes or fsyncs of the mesh store.
    pub persist_errors: u64,
    /// Destinations with waiting events, and how many (a gauge).
    pub outboxes: BTreeMap<String, u64>,
    /// Destinations whose outbox is full: publishes matching their durable interest
    /// are refused before anything is stored (a gauge).
    pub full: Vec<String>,
}

/// The counters as atomics, updated by the owner every tick, read without asking it.
#[derive(Debug, Default)]
pub(crate) struct DurableGauges {
    outbox_depth: AtomicU64,
    outbox_bytes: AtomicU64,
    publishes_refused: AtomicU64,
    durable_acked: AtomicU64,
    already_stored: AtomicU64,
    outbox_dropped: AtomicU64,
}

impl DurableGauges {
    pub(crate) fn update(&self, status: &DurableStatus) {
        self.outbox_depth
            .store(status.outbox_depth, Ordering::Relaxed);
        self.outbox_bytes
            .store(status.outbox_bytes, Ordering::Relaxed);
        self.publishes_refused
            .store(status.publishes_refused, Ordering::Relaxed);
        self.durable_acked
            .store(status.durable_acked, Ordering::Relaxed);
        self.already_stored
            .store(status.already_stored, Ordering::Relaxed);
        self.outbox_dropped
            .store(status.outbox_dropped, Ordering::Relaxed);
    }

    pub(crate) fn counters(&self) -> Vec<(String, u64)> {
        [
            ("mesh_outbox_depth", &self.outbox_depth),
            ("mesh_outbox_bytes", &self.outbox_bytes),
            ("mesh_publishes_refused", &self.publishes_refused),
            ("mesh_durable_acked", &self.durable_acked),
            ("mesh_durable_already_stored", &self.already_stored),
            ("mesh_outbox_dropped", &self.outbox_dropped),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.load(Ordering::Relaxed)))
        .collect()
    }
}

/// Reads `root` (`<data_dir>/mesh`) into `node` (before any link), starts the persister
/// and rewrites every outbox file from the restored (renumbered) state.
pub(crate) fn open(
    node: &mut MeshNode,
    root: &Path,
    owner: tokio::sync::mpsc::Sender<super::owner::Command>,
) -> Result<Persister, StoreError> {
    let loaded = store::load(root)?;
    let now = std::time::Instant::now();
    let restored = loaded.outbox.destinations.len();
    let waiting: usize = loaded
        .outbox
        .destinations
        .values()
        .map(|outbox| outbox.entries.len())
        .sum();
    node.restore_outbox(loaded.outbox);
    node.restore_inbox(loaded.inbox);
    node.restore_durable_interest(now, loaded.durable_interest);
    if waiting > 0 {
        tracing::info!(
            destinations = restored,
            events = waiting,
            "restored mesh outboxes"
        );
    }
    let persister = Persister::start(root.to_path_buf(), owner)?;
    let snapshot = node.outbox_snapshot();
    let dir = store::outbox_dir(root);
    for entry in std::fs::read_dir(&dir)
        .map_err(store::io_error(&dir, "list"))?
        .flatten()
    {
        let known = entry
            .file_name()
            .to_str()
            .and_then(|name| NodeName::new(name).ok())
            .is_some_and(|name| snapshot.destinations.contains_key(&name));
        if !known {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    for (destination, outbox) in snapshot.destinations {
        persister.send(Op::Rewrite {
            destination,
            stream: outbox.stream,
            entries: outbox.entries.into_iter().collect(),
        });
    }
    Ok(persister)
}

/// The owner's persistence state.
pub(crate) struct Journal {
    persister: Persister,
    /// Records appended per destination since its file was last rewritten.
    appended: BTreeMap<NodeName, u64>,
    /// Per destination, the stream and the last sequence the journal has written (an
    /// entry the node holds beyond it is written by a change still to come).
    journalled: BTreeMap<NodeName, (u64, u64)>,
    /// Publishers waiting for the next sync.
    waiting: Vec<SyncReply>,
    /// The inbox version last written.
    inbox_version: u64,
    /// The highest stream id recorded in `incarnation.json`.
    highest_stream: u64,
    /// What was last written: filters and whether unreachable, per node (the ages
    /// grow by themselves and are not a reason to write again).
    last_interest: BTreeMap<NodeName, (Vec<Filter>, bool)>,
    /// The interest table's generation when it was last compared.
    interest_generation: u64,
}

impl Journal {
    /// The journal of `node`, whose outbox files were just rewritten from its state
    /// ([`open`]).
    pub(crate) fn new(persister: Persister, node: &MeshNode) -> Self {
        let journalled = node
            .outbox_snapshot()
            .destinations
            .into_iter()
            .map(|(destination, outbox)| {
                (
                    destination,
                    (outbox.stream, outbox.next_sequence.saturating_sub(1)),
                )
            })
            .collect();
        Journal {
            persister,
            appended: BTreeMap::new(),
            journalled,
            waiting: Vec::new(),
            inbox_version: node.inbox_version(),
            highest_stream: node.config().incarnation,
            last_interest: BTreeMap::new(),
            interest_generation: 0,
        }
    }

    pub(crate) fn errors(&self) -> u64 {
        self.persister.errors.load(Ordering::Relaxed)
    }

    /// Queues an outbox change; compacts the destination's file when it is all acked
    /// or has grown far beyond what waits, and rewrites it when its entries moved to a
    /// new stream.
    ///
    /// The node may have changed further since it made `change` (the owner drains the
    /// changes of several inputs at once), so a rewrite takes from the node's current
    /// outbox only the entries journalled so far: those of later changes are appended
    /// when their turn comes, never twice.
    pub(crate) fn change(&mut self, node: &MeshNode, change: OutboxChange) {
        let destination = match &change {
            OutboxChange::Stored {
                destination,
                stream,
                entry,
            } => {
                self.journalled
                    .insert(destination.clone(), (*stream, entry.sequence));
                destination.clone()
            }
            OutboxChange::Acked { destination, .. } => destination.clone(),
            OutboxChange::Discarded { destination } => {
                self.appended.remove(destination);
                self.journalled.remove(destination);
                self.persister.send(Op::Change(change));
                return;
            }
            OutboxChange::Renumbered {
                destination,
                stream,
                up_to,
            } => {
                self.journalled
                    .insert(destination.clone(), (*stream, *up_to));
                self.appended.insert(destination.clone(), 0);
                self.rewrite(node, destination.clone());
                return;
            }
        };
        let acked = matches!(change, OutboxChange::Acked { .. });
        self.persister.send(Op::Change(change));
        let appended = self.appended.entry(destination.clone()).or_default();
        *appended += 1;
        let depth = node.outbox_depth(&destination) as u64;
        let compact = (acked && depth == 0) || (*appended > REWRITE_AFTER && *appended > 4 * depth);
        if compact {
            *appended = 0;
            self.rewrite(node, destination);
        }
    }

    /// Replaces `destination`'s file with its entries journalled so far.
    fn rewrite(&mut self, node: &MeshNode, destination: NodeName) {
        let snapshot = node.outbox_snapshot();
        let Some(outbox) = snapshot.destinations.get(&destination) else {
            return;
        };
        let journalled = self.journalled.get(&destination).copied();
        let entries = match journalled {
            Some((stream, up_to)) if stream == outbox.stream => outbox
                .entries
                .iter()
                .filter(|entry| entry.sequence <= up_to)
                .cloned()
                .collect(),
            // Renumbered since: the `Renumbered` change still to come rewrites it.
            Some(_) => return,
            None => Vec::new(),
        };
        self.persister.send(Op::Rewrite {
            destination,
            stream: outbox.stream,
            entries,
        });
    }

    /// A publisher waits for the next sync.
    pub(crate) fn wait_for_sync(&mut self, reply: SyncReply) {
        self.waiting.push(reply);
    }

    /// After each drain: one sync for every publisher waiting, after the remembered
    /// durable interest if it changed (so an acknowledged durable publish implies that
    /// a restart still knows who it was for).
    pub(crate) fn flush(&mut self, node: &MeshNode) {
        if !self.waiting.is_empty() {
            self.remember_interest(node);
            self.remember_streams(node);
            let waiting = std::mem::take(&mut self.waiting);
            self.persister.send(Op::Sync(waiting));
        }
    }

    /// Every tick: the inbox positions when they moved (a durable event stored, or one
    /// stored before passed over; their acks wait for it), and the remembered durable
    /// interest when it changed.
    pub(crate) fn tick(&mut self, node: &MeshNode) {
        if node.inbox_version() != self.inbox_version {
            self.inbox_version = node.inbox_version();
            self.persister.send(Op::Inbox(node.inbox_snapshot()));
        }
        self.remember_interest(node);
        self.remember_streams(node);
    }

    /// Records a stream id above this life's incarnation once one is opened (an outbox
    /// renumbered, or discarded and opened again), so that the next life starts above
    /// it: within a tick, and before the sync that acknowledges a publish.
    fn remember_streams(&mut self, node: &MeshNode) {
        let highest = node.highest_stream();
        if highest > self.highest_stream {
            self.highest_stream = highest;
            self.persister.send(Op::Incarnation(highest));
        }
    }

    fn remember_interest(&mut self, node: &MeshNode) {
        let generation = node.remote_interest().generation();
        if generation == self.interest_generation {
            return;
        }
        self.interest_generation = generation;
        let interest = node.durable_interest_snapshot(std::time::Instant::now());
        let summary: BTreeMap<NodeName, (Vec<Filter>, bool)> = interest
            .iter()
            .map(|(node, remembered)| {
                let unreachable = remembered.unreachable_for.is_some();
                (node.clone(), (remembered.filters.clone(), unreachable))
            })
            .collect();
        if summary != self.last_interest {
            self.persister.send(Op::Interest(interest));
            self.last_interest = summary;
        }
    }
}

/// What the broker's forwarder checks before a publish stores anything: the durable
/// filters of destinations whose outbox is full (rebuilt by the owner when that set
/// changes), so that most refusals happen before the event is stored or delivered;
/// and the durable filters of every remote node (rebuilt by the owner whenever its
/// interest table changes), so that an event no remote durable interest matches is
/// handed to the owner without a receipt (see "The publisher's acknowledgement" in
/// `docs/design/mesh.md`).
#[derive(Default)]
pub(crate) struct Admission {
    full: std::sync::RwLock<Option<(weft_topic::SubscriptionIndex<NodeName>, String)>>,
    /// `None` until the owner first set it: every event then waits for the owner.
    durable: std::sync::RwLock<Option<RemoteDurable>>,
    pub(crate) refused: AtomicU64,
}

/// The remote durable filters as the owner last published them.
enum RemoteDurable {
    /// No remote node has durable interest.
    Nothing,
    /// Their filters (the values are not used).
    Filters(weft_topic::SubscriptionIndex<()>),
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission").finish_non_exhaustive()
    }
}

impl Admission {
    /// Why a publish on `topic` would be refused now, if it would.
    pub(crate) fn refusal(&self, topic: &weft_core::Topic) -> Option<String> {
        let full = self
            .full
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (index, limits) = full.as_ref()?;
        let mut node = None;
        index.for_each_match(topic, |full| {
            node.get_or_insert_with(|| full.clone());
        });
        let node = node?;
        self.refused.fetch_add(1, Ordering::Relaxed);
        Some(format!(
            "store-and-forward outbox for node {node} is full ({limits})"
        ))
    }

    /// Whether a local event on `topic` may be for remote durable interest, so that its
    /// publisher must wait for the owner's answer. True until the owner first set the
    /// filters ([`Self::set_durable`]).
    pub(crate) fn may_be_durable(&self, topic: &weft_core::Topic) -> bool {
        let durable = self
            .durable
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match durable.as_ref() {
            None => true,
            Some(RemoteDurable::Nothing) => false,
            Some(RemoteDurable::Filters(index)) => {
                let mut matched = false;
                index.for_each_match(topic, |_| matched = true);
                matched
            }
        }
    }

    /// Replaces the remote durable filters (the owner calls it whenever its interest
    /// table changed, before it handles its next input).
    pub(crate) fn set_durable(&self, filters: Vec<Filter>) {
        let value = if filters.is_empty() {
            RemoteDurable::Nothing
        } else {
            let mut index = weft_topic::SubscriptionIndex::new();
            for filter in &filters {
                index.insert(filter, ());
            }
            RemoteDurable::Filters(index)
        };
        *self
            .durable
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(value);
    }

    /// Replaces the full destinations' filters.
    pub(crate) fn set(&self, full: Vec<(NodeName, Vec<Filter>)>, limits: String) {
        let value = if full.is_empty() {
            None
        } else {
            let mut index = weft_topic::SubscriptionIndex::new();
            for (node, filters) in full {
                for filter in filters {
                    index.insert(&filter, node.clone());
                }
            }
            Some((index, limits))
        };
        *self
            .full
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = value;
    }
}
