//! [`MeshNode`]: the sans-I/O state machine of one node of the mesh.
//!
//! The I/O layer drives it with [`link_up`](MeshNode::link_up),
//! [`link_down`](MeshNode::link_down), [`handle`](MeshNode::handle) (a message read from
//! a link), [`publish_local`](MeshNode::publish_local),
//! [`set_local_interest`](MeshNode::set_local_interest) and [`tick`](MeshNode::tick), and
//! after each call drains [`poll_output`](MeshNode::poll_output): messages to send,
//! events to deliver to local subscribers, links to close. Time is always passed in.

mod durable;
mod explain;
mod flood;
mod forward;
mod link;
mod route_cache;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use weft_core::topic::Topic;
use weft_topic::SubscriptionIndex;

use crate::dedupe::DedupeGuard;
use crate::inbox::{Inbox, StreamPosition};
use crate::interest::{InterestEntry, InterestKind, InterestTable, RememberedInterest};
use crate::name::{GroupName, LinkId, MeshName, NodeName};
use crate::outbox::{Outbox, OutboxChange, OutboxSnapshot, OverflowPolicy};
use crate::routing::{LinkStateDatabase, ShortestPathTree};
use crate::wire::{Capabilities, LinkStateAdvertisement, MeshEvent, Message, RefuseReason};

pub use self::explain::{GroupChoice, RouteExplanation, RouteMatch, RouteTarget};
pub use self::forward::{Publication, PublishError};
use self::link::Link;

/// Settings of a [`MeshNode`].
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// The mesh this node belongs to.
    pub mesh: MeshName,
    /// This node's unique name.
    pub node: NodeName,
    /// Grows with every restart (e.g. start time in milliseconds): makes sequence
    /// numbers of a restarted node newer than those of its previous life. It must be
    /// above the previous life's [`MeshNode::highest_stream`] too.
    pub incarnation: u64,
    /// What this node offers on its links.
    pub capabilities: Capabilities,
    /// How often established links are probed.
    pub heartbeat_interval: Duration,
    /// A link silent this long (or not through its handshake) is closed.
    pub link_timeout: Duration,
    /// How often the node re-floods its own advertisement (repairs lost floods).
    pub refresh_interval: Duration,
    /// How long an unreachable node's advertisement is kept.
    pub unreachable_max_age: Duration,
    /// How long a forgotten node's durable interest is still honoured.
    pub durable_interest_expiry: Duration,
    /// Sequence numbers remembered per origin by the dedupe guard.
    pub dedupe_window: u64,
    /// Events that crossed this many links are dropped (last-resort loop guard).
    pub max_hops: u8,
    /// Unacknowledged durable events kept per destination.
    pub outbox_capacity: usize,
    /// Payload bytes of unacknowledged durable events kept per destination.
    pub outbox_max_bytes: u64,
    /// What a full outbox does (it refuses the publish).
    pub overflow_policy: OverflowPolicy,
    /// How long an unacknowledged durable event waits before it is resent.
    pub retransmit_interval: Duration,
    /// Durable events resent per destination per tick.
    pub retransmit_batch: usize,
    /// Out-of-order durable events held back per origin.
    pub hold_capacity: usize,
}

impl MeshConfig {
    /// Defaults for a node: 1 s heartbeats, 5 s link timeout, 100 000 events and
    /// 256 MiB per outbox, refusing publishes when full, sticky durable interest kept
    /// for 7 days.
    pub fn new(mesh: MeshName, node: NodeName, incarnation: u64) -> Self {
        Self {
            mesh,
            node,
            incarnation,
            capabilities: Capabilities::ALL,
            heartbeat_interval: Duration::from_secs(1),
            link_timeout: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(30),
            unreachable_max_age: Duration::from_secs(60),
            durable_interest_expiry: Duration::from_secs(7 * 24 * 3600),
            dedupe_window: 65_536,
            max_hops: 32,
            outbox_capacity: 100_000,
            outbox_max_bytes: 256 * 1024 * 1024,
            overflow_policy: OverflowPolicy::RejectPublish,
            retransmit_interval: Duration::from_secs(2),
            retransmit_batch: 256,
            hold_capacity: 4096,
        }
    }
}

/// Why the node wants a link closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer's hello was refused (we sent a `Refuse`).
    RefusedPeer(RefuseReason),
    /// The peer refused our hello.
    RefusedByPeer {
        /// The peer's reason.
        reason: RefuseReason,
        /// The peer's detail text.
        detail: String,
    },
    /// Nothing heard for the link timeout, or no handshake in time.
    Timeout,
}

/// What the node asks of the I/O layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write `message` to `link`.
    Send {
        /// The link.
        link: LinkId,
        /// The message.
        message: Message,
    },
    /// Hand `event` to local subscribers (once: the mesh has deduplicated it). Live and
    /// durable local interest is matched by the broker; queue groups only for `groups`.
    Deliver {
        /// The event.
        event: MeshEvent,
        /// The queue groups this node was chosen to serve for this event.
        groups: Vec<GroupName>,
        /// Set for a durable event: store it, then call
        /// [`MeshNode::durable_stored`] (or [`MeshNode::durable_failed`]) with it, in
        /// delivery order. The origin keeps the event until then.
        durable: Option<DurableReceipt>,
    },
    /// Persist this change of the store-and-forward outbox (in order).
    Persist(OutboxChange),
    /// Close `link`; the node has already forgotten it (do not call `link_down`).
    CloseLink {
        /// The link.
        link: LinkId,
        /// Why.
        reason: CloseReason,
    },
    /// The handshake on `link` completed.
    LinkEstablished {
        /// The link.
        link: LinkId,
        /// The node at the other end.
        peer: NodeName,
    },
    /// The set of reachable nodes or the routes to them changed.
    RouteChanged {
        /// Nodes reachable now, this one included.
        reachable: usize,
    },
}

/// A durable event delivered but not yet confirmed stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableReceipt {
    /// The origin node.
    pub origin: NodeName,
    /// The origin's stream towards this node.
    pub stream: u64,
    /// The place in that stream.
    pub sequence: u64,
}

/// Counters of one node (all monotonic except the depths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshStats {
    /// Events published locally.
    pub events_published: u64,
    /// Event copies sent on links (first transmissions and forwards).
    pub events_sent: u64,
    /// Events received on links.
    pub events_received: u64,
    /// Events handed to local subscribers.
    pub events_delivered: u64,
    /// Repeats dropped by the dedupe guard or the durable stream.
    pub duplicates_dropped: u64,
    /// Durable events received again, after a restart of either side, that this node
    /// had stored before (recognised by the origin's high-water mark; not delivered
    /// again).
    pub durable_already_stored: u64,
    /// Events dropped at the hop limit.
    pub hop_limit_drops: u64,
    /// Publishes refused because an outbox was full.
    pub publishes_refused: u64,
    /// Durable events resent.
    pub retransmissions: u64,
    /// Durable events acknowledged by their destinations.
    pub durable_acked: u64,
    /// Durable events dropped because their destination's durable interest expired.
    pub outbox_dropped: u64,
    /// Links refused or closed by the handshake.
    pub links_refused: u64,
}

/// Per-link counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Events sent.
    pub events_sent: u64,
    /// Events received.
    pub events_received: u64,
    /// Last measured round-trip time.
    pub round_trip: Option<Duration>,
}

/// One node of the mesh, without I/O.
#[derive(Debug)]
pub struct MeshNode {
    config: MeshConfig,
    links: BTreeMap<LinkId, Link>,
    /// Established links by peer name.
    neighbours: BTreeMap<NodeName, LinkId>,
    database: LinkStateDatabase,
    own_sequence: u64,
    last_originated: Option<Instant>,
    /// Shortest-path trees by root, computed on demand, cleared when the database changes.
    trees: BTreeMap<NodeName, ShortestPathTree>,
    reachable: BTreeSet<NodeName>,
    local_interest: BTreeSet<InterestEntry>,
    local_index: SubscriptionIndex<InterestKind>,
    advertised: BTreeSet<InterestEntry>,
    interest_version: u64,
    remote: InterestTable,
    dedupe: DedupeGuard,
    next_sequence: u64,
    outbox: Outbox,
    inbox: Inbox,
    /// Grows whenever the database, the trees or the neighbours change (with the
    /// interest table's generation, it keys `route_cache`).
    route_generation: u64,
    /// Forwarding decisions per topic, valid for one pair of generations.
    route_cache: route_cache::RouteCache,
    /// Drained by the I/O layer after every call, so it stays short.
    outputs: VecDeque<Output>,
    stats: MeshStats,
    next_nonce: u64,
}

/// What [`MeshNode::forget_node`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Forgotten {
    /// The node's interest entries (durable filters among them).
    pub interest_entries: usize,
    /// Durable events that were kept for it, now dropped.
    pub dropped_events: usize,
}

/// Why a node cannot be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForgetError {
    /// It is reachable (or it is this node): it would advertise its interest again.
    #[error("the node is reachable; only a node that left the mesh can be forgotten")]
    Reachable,
    /// Nothing is known about it: no interest, no stored events.
    #[error("no interest or stored events are known for that node")]
    Unknown,
}

impl MeshNode {
    /// A node with no links.
    pub fn new(config: MeshConfig) -> Self {
        let outbox = Outbox::new(
            config.incarnation,
            config.outbox_capacity,
            config.outbox_max_bytes,
        );
        let mut node = Self {
            links: BTreeMap::new(),
            neighbours: BTreeMap::new(),
            database: LinkStateDatabase::new(),
            own_sequence: 0,
            last_originated: None,
            trees: BTreeMap::new(),
            reachable: BTreeSet::new(),
            local_interest: BTreeSet::new(),
            local_index: SubscriptionIndex::new(),
            advertised: BTreeSet::new(),
            interest_version: 0,
            remote: InterestTable::new(),
            dedupe: DedupeGuard::new(config.dedupe_window),
            next_sequence: 1,
            outbox,
            inbox: Inbox::new(config.hold_capacity),
            route_generation: 0,
            route_cache: route_cache::RouteCache::default(),
            outputs: VecDeque::new(),
            stats: MeshStats::default(),
            next_nonce: 1,
            config,
        };
        node.install_own_lsa();
        node.reachable.insert(node.config.node.clone());
        node
    }

    /// This node's name.
    pub fn name(&self) -> &NodeName {
        &self.config.node
    }

    /// The configuration.
    pub fn config(&self) -> &MeshConfig {
        &self.config
    }

    /// The next thing for the I/O layer to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        for change in self.outbox.take_changes() {
            self.outputs.push_back(Output::Persist(change));
        }
        self.outputs.pop_front()
    }

    /// Replaces the local interest (what local subscriptions, streams and durable
    /// consumers want). The summarised difference is flooded as a delta.
    pub fn set_local_interest(
        &mut self,
        _now: Instant,
        entries: impl IntoIterator<Item = InterestEntry>,
    ) {
        self.local_interest = entries.into_iter().collect();
        self.local_index = SubscriptionIndex::new();
        for entry in &self.local_interest {
            self.local_index.insert(&entry.filter, entry.kind.clone());
        }
        self.advertise_local_interest();
    }

    /// The local interest as last set.
    pub fn local_interest(&self) -> &BTreeSet<InterestEntry> {
        &self.local_interest
    }

    /// Counters.
    pub fn stats(&self) -> MeshStats {
        let mut stats = self.stats.clone();
        stats.outbox_dropped = self.outbox.dropped();
        stats
    }

    /// Counters of `link`.
    pub fn link_stats(&self, link: LinkId) -> Option<&LinkStats> {
        self.links.get(&link).map(|link| &link.stats)
    }

    /// What `link` negotiated in its handshake (the default, nothing, until then).
    pub fn link_capabilities(&self, link: LinkId) -> Option<Capabilities> {
        self.links.get(&link).map(|link| link.capabilities)
    }

    /// The established links, by peer name.
    pub fn neighbours(&self) -> &BTreeMap<NodeName, LinkId> {
        &self.neighbours
    }

    /// The link-state database.
    pub fn database(&self) -> &LinkStateDatabase {
        &self.database
    }

    /// The nodes reachable from this one (itself included).
    pub fn reachable(&self) -> &BTreeSet<NodeName> {
        &self.reachable
    }

    /// Remote interest known to this node.
    pub fn remote_interest(&self) -> &InterestTable {
        &self.remote
    }

    /// Unacknowledged durable events waiting for `destination`.
    pub fn outbox_depth(&self, destination: &NodeName) -> usize {
        self.outbox.depth(destination)
    }

    /// Unacknowledged durable events for all destinations.
    pub fn outbox_total_depth(&self) -> usize {
        self.outbox.total_depth()
    }

    /// The durable filters of every destination whose outbox is full: a publish on a
    /// topic they match would be refused now.
    pub fn full_durable_interest(&self) -> Vec<(NodeName, Vec<weft_core::Filter>)> {
        self.outbox
            .full_destinations()
            .into_iter()
            .map(|node| {
                let filters = self
                    .remote
                    .entries(&node)
                    .filter(|entry| entry.kind == InterestKind::Durable)
                    .map(|entry| entry.filter.clone())
                    .collect();
                (node, filters)
            })
            .collect()
    }

    /// The durable filters of every other node in the interest table (reachable or
    /// sticky): exactly what [`Self::publish_local`] matches to choose the destinations
    /// an event is stored for. It changes only with
    /// [`InterestTable::generation`](crate::interest::InterestTable::generation).
    pub fn remote_durable_filters(&self) -> Vec<weft_core::Filter> {
        let me = &self.config.node;
        self.remote
            .nodes()
            .filter(|node| *node != me)
            .flat_map(|node| self.remote.entries(node))
            .filter(|entry| entry.kind == InterestKind::Durable)
            .map(|entry| entry.filter.clone())
            .collect()
    }

    /// Unacknowledged durable events per destination that has any, by name.
    pub fn outbox_depths(&self) -> BTreeMap<String, u64> {
        self.outbox
            .destinations()
            .into_iter()
            .map(|node| (node.to_string(), self.outbox.depth(&node) as u64))
            .filter(|(_, depth)| *depth > 0)
            .collect()
    }

    /// Payload bytes of unacknowledged durable events for all destinations.
    pub fn outbox_total_bytes(&self) -> u64 {
        self.outbox.total_bytes()
    }

    /// The store-and-forward state to persist.
    pub fn outbox_snapshot(&self) -> OutboxSnapshot {
        self.outbox.snapshot()
    }

    /// Restores persisted store-and-forward state (at start, before any link).
    pub fn restore_outbox(&mut self, snapshot: OutboxSnapshot) {
        self.outbox.restore(snapshot);
    }

    /// The highest store-and-forward stream id this life has opened: its incarnation, or
    /// more once an outbox moved to a newer stream (its destination restarted, or it was
    /// discarded and opened again). The next life's incarnation must be above it, so
    /// that its streams are newer than any of this life's for every receiver; the I/O
    /// layer persists it.
    pub fn highest_stream(&self) -> u64 {
        self.outbox.highest_stream()
    }

    /// The durable stream positions received from each origin, to persist.
    pub fn inbox_snapshot(&self) -> BTreeMap<NodeName, StreamPosition> {
        self.inbox.snapshot()
    }

    /// Restores persisted durable stream positions (at start, before any link).
    pub fn restore_inbox(&mut self, positions: BTreeMap<NodeName, StreamPosition>) {
        self.inbox.restore(positions);
    }

    /// Grows whenever [`inbox_snapshot`](Self::inbox_snapshot) changed: a durable event
    /// was stored ([`durable_stored`](Self::durable_stored)), or one stored before
    /// came again and was passed over. The I/O layer persists the positions (and so
    /// acknowledges them) when it moved.
    pub fn inbox_version(&self) -> u64 {
        self.inbox.version()
    }

    /// Remote nodes' durable filters (reachable or sticky) and how long they have been
    /// unreachable, to persist: a restarted node keeps storing events for them until
    /// the expiry, counted from when they became unreachable.
    pub fn durable_interest_snapshot(
        &self,
        now: Instant,
    ) -> BTreeMap<NodeName, RememberedInterest> {
        self.remote.durable_filters(now)
    }

    /// Restores remembered durable interest (at start, before any link) as sticky.
    pub fn restore_durable_interest(
        &mut self,
        now: Instant,
        interest: BTreeMap<NodeName, RememberedInterest>,
    ) {
        for (node, remembered) in interest {
            if node != self.config.node {
                self.remote.restore_sticky(now, &node, remembered);
            }
        }
    }

    /// The link towards `node` on this node's shortest path to it.
    pub fn next_hop(&mut self, node: &NodeName) -> Option<LinkId> {
        let me = self.config.node.clone();
        let first = self.tree(&me).child_towards(&me, node)?.clone();
        self.neighbours.get(&first).copied()
    }

    /// Periodic work: heartbeats, timeouts, re-advertisement, ageing, retransmission.
    pub fn tick(&mut self, now: Instant) {
        self.tick_links(now);
        let refresh_due = self
            .last_originated
            .is_none_or(|last| now.saturating_duration_since(last) >= self.config.refresh_interval);
        if refresh_due {
            self.originate(now);
        }
        self.age_out(now);
        self.retransmit(now);
    }

    /// The shortest-path tree rooted at `root` (cached until the database changes).
    fn tree(&mut self, root: &NodeName) -> &ShortestPathTree {
        let database = &self.database;
        self.trees
            .entry(root.clone())
            .or_insert_with(|| ShortestPathTree::compute(database, root))
    }

    fn send(&mut self, link: LinkId, message: Message) {
        if let Some(state) = self.links.get_mut(&link) {
            state.stats.messages_sent += 1;
            if let Message::Events(events) = &message {
                state.stats.events_sent += events.events.len() as u64;
                self.stats.events_sent += events.events.len() as u64;
            }
        }
        self.outputs.push_back(Output::Send { link, message });
    }

    /// The advertisement describing this node now.
    fn own_lsa(&self) -> LinkStateAdvertisement {
        let mut neighbours: Vec<_> = self
            .neighbours
            .iter()
            .filter_map(|(peer, link)| {
                let cost = self.links.get(link)?.cost;
                Some(crate::wire::Adjacency {
                    node: peer.clone(),
                    cost,
                })
            })
            .collect();
        neighbours.sort();
        LinkStateAdvertisement {
            node: self.config.node.clone(),
            incarnation: self.config.incarnation,
            sequence: self.own_sequence,
            interest_version: self.interest_version,
            neighbours,
        }
    }

    fn install_own_lsa(&mut self) {
        self.own_sequence += 1;
        let lsa = self.own_lsa();
        self.database.install(lsa);
        self.trees.clear();
        self.route_generation += 1;
    }

    /// Whether local subscribers want `topic` (live or durable interest).
    fn wants_locally(&self, topic: &Topic) -> bool {
        let mut wanted = false;
        self.local_index.for_each_match(topic, |kind| {
            wanted |= !matches!(kind, InterestKind::Queue(_));
        });
        wanted
    }
}

#[cfg(test)]
mod tests;
