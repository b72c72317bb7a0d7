//! A seeded, simulated network of `MeshNode`s: links with delay, loss, reordering and
//! partitions; every message goes through the codec; invariants are checked as it runs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use weft_core::topic::{Filter, Topic};
use weft_mesh::inbox::StreamPosition;
use weft_mesh::wire::{DEFAULT_MAX_FRAME, MeshEvent, Message, Route, decode_frame, encode_frame};
use weft_mesh::{
    DurableReceipt, GroupName, InterestEntry, LinkId, MeshConfig, MeshName, MeshNode, NodeName,
    Output,
};

/// xorshift64*: tiny, seeded, good enough for scenario generation.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
    pub(crate) fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
    pub(crate) fn chance(&mut self, per_million: u64) -> bool {
        self.below(1_000_000) < per_million
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How links behave.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetConfig {
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Loss of post-handshake messages, per million.
    pub drop_per_million: u64,
    /// Whether post-handshake messages may overtake each other on one link.
    pub reorder: bool,
}

impl NetConfig {
    pub(crate) fn reliable() -> Self {
        Self {
            min_delay_ms: 1,
            max_delay_ms: 20,
            drop_per_million: 0,
            reorder: false,
        }
    }
}

#[derive(Debug)]
struct SimLink {
    ends: [usize; 2],
    ids: [LinkId; 2],
    cost: u32,
    up: bool,
    /// The latest delivery time per direction (FIFO floor), and of handshake messages.
    last_at: [u64; 2],
    handshake_at: [u64; 2],
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: u64,
    order: u64,
    link: usize,
    /// Index into `ends`: the receiving side.
    to: usize,
    frame: Vec<u8>,
}

pub(crate) type EventId = (NodeName, u64, u64);

/// A durable delivery being stored.
struct Store {
    due: u64,
    receipt: DurableReceipt,
    event: MeshEvent,
}

pub(crate) struct Sim {
    pub rng: Rng,
    pub seed: u64,
    base: Instant,
    pub now_ms: u64,
    pub nodes: Vec<MeshNode>,
    links: Vec<SimLink>,
    /// (node, link id) → sim link index.
    link_index: BTreeMap<(usize, LinkId), usize>,
    next_link_id: u64,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    pub net: NetConfig,
    /// Per node: deliveries per event.
    pub delivered: Vec<BTreeMap<EventId, u32>>,
    /// Per node: durable delivery order per origin (origin sequence).
    pub delivered_order: Vec<BTreeMap<NodeName, Vec<u64>>>,
    /// Tree copies per (sim link, event).
    pub crossings: BTreeMap<(usize, EventId), u32>,
    pub max_hops: u8,
    pub tick_every_ms: u64,
    /// Links the scenario wants up (reconnected after a timeout close).
    wanted: BTreeSet<usize>,
    /// Per node: its configuration (a restart bumps the incarnation).
    configs: Vec<MeshConfig>,
    /// Per node: its local interest as last set (set again after a restart).
    interest: Vec<Vec<InterestEntry>>,
    /// Per node: the inbox positions on "disk"; `None` persists at once.
    pub persist_every_ms: Option<u64>,
    disk_inbox: Vec<BTreeMap<NodeName, StreamPosition>>,
    /// Per node: durable events stored since its inbox positions were last persisted.
    unremembered: Vec<BTreeSet<EventId>>,
    /// Per node: durable events it had stored but not yet remembered when it restarted
    /// (a crash of the receiver between storing and persisting its position): the only
    /// events that may be stored there a second time.
    in_doubt: Vec<BTreeSet<EventId>>,
    /// How long a durable delivery takes to be stored, (min, max) ms; `None` stores it
    /// at once. Stores complete in delivery order, like the I/O layer's.
    pub store_delay_ms: Option<(u64, u64)>,
    /// Chance, per million, that a store fails (with every store queued after it).
    pub store_failure_per_million: u64,
    /// Per node: durable deliveries being stored.
    storing: Vec<VecDeque<Store>>,
    /// Durable deliveries of an event a node had stored but not yet remembered when it
    /// restarted (a real node's stream drops them by `source` + `id` within its dedupe
    /// window). Any other second delivery fails the run.
    pub redelivered: u64,
    /// Per node, per origin: first deliveries of durable events, (incarnation, sequence).
    pub durable_first: Vec<BTreeMap<NodeName, Vec<(u64, u64)>>>,
    /// Per (event, queue group): the nodes that delivered it to the group.
    pub group_deliveries: BTreeMap<(EventId, GroupName), Vec<usize>>,
}

/// How many times the default scenario counts to run (`WEFT_MESH_SIM_SCALE`, default 1).
pub(crate) fn scale() -> u64 {
    std::env::var("WEFT_MESH_SIM_SCALE")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
}

pub(crate) fn topic(text: &str) -> Topic {
    Topic::new(text).unwrap_or_else(|error| panic!("{error}"))
}

pub(crate) fn filter(text: &str) -> Filter {
    Filter::new(text).unwrap_or_else(|error| panic!("{error}"))
}

/// A simulated mesh of `count` nodes linked in `shape`, each link with a random cost of 1
/// or 2; returns the links. `salt` varies the link costs between test files that use
/// the same seeds.
pub(crate) fn build(
    seed: u64,
    salt: u64,
    net: NetConfig,
    shape: Shape,
    count: usize,
) -> (Sim, Vec<usize>) {
    let mut sim = Sim::new(seed, count, net);
    let mut rng = Rng::new(seed ^ salt);
    let links = edges(shape, count, &mut rng)
        .into_iter()
        .map(|(a, b)| {
            let cost = rng.range(1, 3) as u32;
            sim.connect(a, b, cost)
        })
        .collect();
    (sim, links)
}

pub(crate) fn node_name(index: usize) -> NodeName {
    NodeName::new(&format!("n{index:02}")).unwrap_or_else(|error| panic!("{error}"))
}

pub(crate) fn fast_config(index: usize) -> MeshConfig {
    let mesh = MeshName::new("sim").unwrap_or_else(|error| panic!("{error}"));
    let mut config = MeshConfig::new(mesh, node_name(index), 1);
    config.heartbeat_interval = Duration::from_millis(200);
    config.link_timeout = Duration::from_millis(1500);
    config.refresh_interval = Duration::from_secs(2);
    config.unreachable_max_age = Duration::from_secs(10);
    config.retransmit_interval = Duration::from_millis(500);
    config
}

impl Sim {
    pub(crate) fn new(seed: u64, count: usize, net: NetConfig) -> Self {
        Self::with_configs(seed, (0..count).map(fast_config).collect(), net)
    }

    pub(crate) fn with_configs(seed: u64, configs: Vec<MeshConfig>, net: NetConfig) -> Self {
        let count = configs.len();
        let nodes = configs.iter().cloned().map(MeshNode::new).collect();
        Self {
            rng: Rng::new(seed),
            seed,
            base: Instant::now(),
            now_ms: 0,
            nodes,
            links: Vec::new(),
            link_index: BTreeMap::new(),
            next_link_id: 1,
            in_flight: BinaryHeap::new(),
            order: 0,
            net,
            delivered: vec![BTreeMap::new(); count],
            delivered_order: vec![BTreeMap::new(); count],
            crossings: BTreeMap::new(),
            max_hops: 0,
            tick_every_ms: 50,
            wanted: BTreeSet::new(),
            configs,
            interest: vec![Vec::new(); count],
            persist_every_ms: None,
            disk_inbox: vec![BTreeMap::new(); count],
            store_delay_ms: None,
            store_failure_per_million: 0,
            storing: (0..count).map(|_| VecDeque::new()).collect(),
            unremembered: vec![BTreeSet::new(); count],
            in_doubt: vec![BTreeSet::new(); count],
            redelivered: 0,
            durable_first: vec![BTreeMap::new(); count],
            group_deliveries: BTreeMap::new(),
        }
    }

    /// Restarts `node`: its links drop, it comes back with a newer incarnation (above
    /// every stream id its old life opened) and
    /// what a real node keeps on disk (outbox, inbox positions as last persisted,
    /// remembered durable interest), sets its interest again and redials.
    pub(crate) fn restart(&mut self, node: usize) {
        let touching: Vec<usize> = (0..self.links.len())
            .filter(|&index| self.links[index].ends.contains(&node))
            .collect();
        for &index in &touching {
            self.take_down(index, None);
        }
        let now = self.now();
        let old = &self.nodes[node];
        let outbox = old.outbox_snapshot();
        let interest = old.durable_interest_snapshot(now);
        let inbox = match self.persist_every_ms {
            Some(_) => self.disk_inbox[node].clone(),
            None => old.inbox_snapshot(),
        };
        // A crash while stores are in progress: a prefix of them reached the streams
        // without the node hearing of it (stored, never remembered), the rest did not.
        let storing = std::mem::take(&mut self.storing[node]);
        let reached = self.rng.below(storing.len() as u64 + 1) as usize;
        for store in storing.into_iter().take(reached) {
            self.record(node, &store.event, true);
            let event = &store.event;
            let id = (event.origin.clone(), event.incarnation, event.sequence);
            self.in_doubt[node].insert(id);
        }
        let unremembered = std::mem::take(&mut self.unremembered[node]);
        self.in_doubt[node].extend(unremembered);
        // Above anything the old life used (`incarnation.json` in a real node).
        let used = self.nodes[node].highest_stream();
        self.configs[node].incarnation = used.max(self.configs[node].incarnation) + 1;
        let mut fresh = MeshNode::new(self.configs[node].clone());
        fresh.restore_outbox(outbox);
        fresh.restore_inbox(inbox);
        fresh.restore_durable_interest(now, interest);
        fresh.set_local_interest(now, self.interest[node].clone());
        self.nodes[node] = fresh;
        self.drain(node);
        for index in touching {
            if self.wanted.contains(&index) {
                self.bring_up(index);
            }
        }
    }

    /// Restarts `node` on an empty data directory (wiped, or a new machine with the
    /// same name): a newer incarnation and nothing kept.
    pub(crate) fn restart_wiped(&mut self, node: usize) {
        let touching: Vec<usize> = (0..self.links.len())
            .filter(|&index| self.links[index].ends.contains(&node))
            .collect();
        for &index in &touching {
            self.take_down(index, None);
        }
        self.storing[node].clear();
        self.unremembered[node].clear();
        self.disk_inbox[node].clear();
        // A real node takes the clock, which is past anything its old life used.
        let used = self.nodes[node].highest_stream();
        self.configs[node].incarnation = used.max(self.configs[node].incarnation) + 1;
        let now = self.now();
        let mut fresh = MeshNode::new(self.configs[node].clone());
        fresh.set_local_interest(now, self.interest[node].clone());
        self.nodes[node] = fresh;
        self.drain(node);
        for index in touching {
            if self.wanted.contains(&index) {
                self.bring_up(index);
            }
        }
    }

    fn persist_inboxes(&mut self) {
        for node in 0..self.nodes.len() {
            let positions = self.nodes[node].inbox_snapshot();
            self.nodes[node].acknowledge_persisted(&positions);
            self.disk_inbox[node] = positions;
            self.unremembered[node].clear();
            self.drain(node);
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.base + Duration::from_millis(self.now_ms)
    }

    /// Adds a link between `a` and `b` and brings it up. Returns its index.
    pub(crate) fn connect(&mut self, a: usize, b: usize, cost: u32) -> usize {
        let index = self.links.len();
        self.links.push(SimLink {
            ends: [a, b],
            ids: [LinkId(0), LinkId(0)],
            cost,
            up: false,
            last_at: [0; 2],
            handshake_at: [0; 2],
        });
        self.wanted.insert(index);
        self.bring_up(index);
        index
    }

    fn bring_up(&mut self, index: usize) {
        let ids = [LinkId(self.next_link_id), LinkId(self.next_link_id + 1)];
        self.next_link_id += 2;
        let link = &mut self.links[index];
        link.ids = ids;
        link.up = true;
        link.last_at = [self.now_ms; 2];
        link.handshake_at = [self.now_ms; 2];
        let (ends, cost) = (link.ends, link.cost);
        for side in 0..2 {
            self.link_index.insert((ends[side], ids[side]), index);
        }
        let now = self.now();
        for side in 0..2 {
            self.nodes[ends[side]].link_up(now, ids[side], cost);
            self.drain(ends[side]);
        }
    }

    /// Cuts link `index` (both sides see it go down) and keeps it down.
    pub(crate) fn cut(&mut self, index: usize) {
        self.wanted.remove(&index);
        self.take_down(index, None);
    }

    /// Restores a cut link.
    pub(crate) fn heal(&mut self, index: usize) {
        if self.wanted.insert(index) && !self.links[index].up {
            self.bring_up(index);
        }
    }

    pub(crate) fn link_is_up(&self, index: usize) -> bool {
        self.links[index].up
    }

    /// `closed_by`: the side that closed it itself (it already forgot the link).
    fn take_down(&mut self, index: usize, closed_by: Option<usize>) {
        let link = &mut self.links[index];
        if !link.up {
            return;
        }
        link.up = false;
        let (ends, ids) = (link.ends, link.ids);
        self.in_flight.retain(|flight| flight.0.link != index);
        let now = self.now();
        for side in 0..2 {
            if Some(side) != closed_by {
                self.nodes[ends[side]].link_down(now, ids[side]);
                self.drain(ends[side]);
            }
        }
    }

    pub(crate) fn set_interest(&mut self, node: usize, entries: Vec<InterestEntry>) {
        self.interest[node] = entries.clone();
        let now = self.now();
        self.nodes[node].set_local_interest(now, entries);
        self.drain(node);
    }

    pub(crate) fn publish(
        &mut self,
        node: usize,
        topic: &Topic,
        payload: &'static [u8],
    ) -> Option<u64> {
        let now = self.now();
        let result =
            self.nodes[node].publish_local(now, topic.clone(), Bytes::from_static(payload));
        self.drain(node);
        result.ok().map(|publication| publication.sequence)
    }

    /// Processes the outputs of `node`. With `persist_every_ms` unset, positions are
    /// persisted as they move (a durable event stored, or recognised as stored before)
    /// and acknowledged at once.
    pub(crate) fn drain(&mut self, node: usize) {
        self.drain_outputs(node);
        if self.persist_every_ms.is_none() {
            let positions = self.nodes[node].inbox_snapshot();
            self.nodes[node].acknowledge_persisted(&positions);
            self.drain_outputs(node);
        }
    }

    fn drain_outputs(&mut self, node: usize) {
        while let Some(output) = self.nodes[node].poll_output() {
            match output {
                Output::Send { link, message } => self.transmit(node, link, &message),
                Output::Deliver {
                    event,
                    durable,
                    groups,
                } => {
                    for group in groups {
                        let key = (
                            (event.origin.clone(), event.incarnation, event.sequence),
                            group,
                        );
                        self.group_deliveries.entry(key).or_default().push(node);
                    }
                    match durable {
                        Some(receipt) => match self.store_delay_ms {
                            Some((low, high)) => {
                                let delay = self.rng.range(low, high);
                                let queue = &mut self.storing[node];
                                let floor = queue.back().map_or(0, |store| store.due);
                                let due = (self.now_ms + delay).max(floor);
                                queue.push_back(Store {
                                    due,
                                    receipt,
                                    event,
                                });
                            }
                            None => {
                                self.nodes[node].durable_stored(&receipt);
                                self.record(node, &event, true);
                            }
                        },
                        None => self.record(node, &event, false),
                    }
                }
                Output::CloseLink { link, .. } => {
                    if let Some(&index) = self.link_index.get(&(node, link)) {
                        let side = usize::from(
                            self.links[index].ends[1] == node && self.links[index].ids[1] == link,
                        );
                        self.take_down(index, Some(side));
                    }
                }
                Output::LinkEstablished { .. }
                | Output::RouteChanged { .. }
                | Output::Persist(_) => {}
            }
        }
    }

    /// `node` delivered `event` (a durable one: stored it).
    fn record(&mut self, node: usize, event: &MeshEvent, durable: bool) {
        let id = (event.origin.clone(), event.incarnation, event.sequence);
        if durable && self.persist_every_ms.is_some() {
            self.unremembered[node].insert(id.clone());
        }
        let count = self.delivered[node].entry(id.clone()).or_default();
        if durable && *count > 0 && self.in_doubt[node].remove(&id) {
            self.redelivered += 1;
            return;
        }
        *count += 1;
        if durable {
            self.durable_first[node]
                .entry(event.origin.clone())
                .or_default()
                .push((event.incarnation, event.sequence));
        }
        assert!(
            *count == 1,
            "seed {}: node {node} got {id:?} twice",
            self.seed
        );
        if event.durable_tag(self.nodes[node].name()).is_some() {
            self.delivered_order[node]
                .entry(event.origin.clone())
                .or_default()
                .push(event.sequence);
        }
    }

    /// Completes the stores that are due, in delivery order; a failed one fails every
    /// store queued after it too (the node's streams are failing).
    fn complete_stores(&mut self) {
        for node in 0..self.nodes.len() {
            let mut moved = false;
            while self.storing[node]
                .front()
                .is_some_and(|store| store.due <= self.now_ms)
            {
                moved = true;
                if self.rng.chance(self.store_failure_per_million) {
                    for store in std::mem::take(&mut self.storing[node]) {
                        self.nodes[node].durable_failed(&store.receipt);
                    }
                    break;
                }
                let Some(store) = self.storing[node].pop_front() else {
                    break;
                };
                self.nodes[node].durable_stored(&store.receipt);
                self.record(node, &store.event, true);
            }
            if moved {
                self.drain(node);
            }
        }
    }

    fn transmit(&mut self, node: usize, link: LinkId, message: &Message) {
        let Some(&index) = self.link_index.get(&(node, link)) else {
            return;
        };
        let sim_link = &self.links[index];
        if !sim_link.up || sim_link.ids[0] != link && sim_link.ids[1] != link {
            return;
        }
        let from = usize::from(sim_link.ids[1] == link);
        let to = 1 - from;
        let handshake = matches!(
            message,
            Message::Hello(_) | Message::HelloAck(_) | Message::Refuse(_)
        );
        if !handshake && self.rng.chance(self.net.drop_per_million) {
            return;
        }
        if let Message::Events(events) = message
            && events.route == Route::Tree
        {
            for event in &events.events {
                self.max_hops = self.max_hops.max(event.hops);
                let id = (event.origin.clone(), event.incarnation, event.sequence);
                *self.crossings.entry((index, id)).or_default() += 1;
            }
        }
        let mut frame = BytesMut::new();
        encode_frame(message, &mut frame);
        let delay = self.rng.range(self.net.min_delay_ms, self.net.max_delay_ms);
        let sim_link = &mut self.links[index];
        let mut at = self.now_ms + delay;
        if handshake || !self.net.reorder {
            at = at.max(sim_link.last_at[from]);
        } else {
            at = at.max(sim_link.handshake_at[from]);
        }
        if handshake {
            sim_link.handshake_at[from] = at;
        }
        sim_link.last_at[from] = sim_link.last_at[from].max(at);
        self.order += 1;
        self.in_flight.push(Reverse(InFlight {
            at,
            order: self.order,
            link: index,
            to,
            frame: frame.to_vec(),
        }));
    }

    /// Runs the network for `ms` simulated milliseconds.
    pub(crate) fn run(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        while self.now_ms < end {
            let next_tick = (self.now_ms / self.tick_every_ms + 1) * self.tick_every_ms;
            let next_arrival = self.in_flight.peek().map_or(u64::MAX, |flight| flight.0.at);
            let next_store = self
                .storing
                .iter()
                .filter_map(|queue| queue.front().map(|store| store.due))
                .min()
                .unwrap_or(u64::MAX);
            self.now_ms = next_tick
                .min(next_arrival)
                .min(next_store)
                .min(end)
                .max(self.now_ms + 1);
            while self
                .in_flight
                .peek()
                .is_some_and(|flight| flight.0.at <= self.now_ms)
            {
                let Some(Reverse(flight)) = self.in_flight.pop() else {
                    break;
                };
                self.arrive(flight);
            }
            self.complete_stores();
            if self.now_ms.is_multiple_of(self.tick_every_ms) {
                let now = self.now();
                for node in 0..self.nodes.len() {
                    self.nodes[node].tick(now);
                    self.drain(node);
                }
                if self
                    .persist_every_ms
                    .is_some_and(|every| self.now_ms.is_multiple_of(every))
                {
                    self.persist_inboxes();
                }
                self.reconnect();
            }
        }
    }

    fn reconnect(&mut self) {
        let down: Vec<usize> = self
            .wanted
            .iter()
            .copied()
            .filter(|&index| !self.links[index].up)
            .collect();
        for index in down {
            if self.rng.chance(200_000) {
                self.bring_up(index);
            }
        }
    }

    fn arrive(&mut self, flight: InFlight) {
        let link = &self.links[flight.link];
        if !link.up {
            return;
        }
        let node = link.ends[flight.to];
        let id = link.ids[flight.to];
        let mut buffer = BytesMut::from(&flight.frame[..]);
        let message = match decode_frame(&mut buffer, DEFAULT_MAX_FRAME) {
            Ok(Some(message)) => message,
            other => panic!("seed {}: a frame did not decode: {other:?}", self.seed),
        };
        assert!(buffer.is_empty());
        let now = self.now();
        self.nodes[node].handle(now, id, message);
        self.drain(node);
    }

    /// Whether every node is linked to all its wanted neighbours and every node's
    /// database and reachability cover the whole (connected) graph.
    pub(crate) fn converged(&self) -> bool {
        let all: BTreeSet<NodeName> = self.nodes.iter().map(|node| node.name().clone()).collect();
        let freshness = |node: &MeshNode| -> Vec<(NodeName, (u64, u64))> {
            node.database()
                .iter()
                .map(|lsa| (lsa.node.clone(), lsa.freshness()))
                .collect()
        };
        let first = freshness(&self.nodes[0]);
        self.nodes
            .iter()
            .all(|node| node.reachable() == &all && freshness(node) == first)
    }

    /// Runs until `done` holds, checking every 10 ms, for at most `limit_ms`. Returns
    /// the time it took.
    pub(crate) fn run_until(
        &mut self,
        limit_ms: u64,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Option<u64> {
        let start = self.now_ms;
        while self.now_ms - start < limit_ms {
            if done(self) {
                return Some(self.now_ms - start);
            }
            self.run(10);
        }
        done(self).then_some(self.now_ms - start)
    }
}

/// The topologies the issue names, plus random connected graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Line,
    Star,
    Ring,
    FullMesh,
    TwoRingsAndBridge,
    Random,
}

pub(crate) const SHAPES: [Shape; 6] = [
    Shape::Line,
    Shape::Star,
    Shape::Ring,
    Shape::FullMesh,
    Shape::TwoRingsAndBridge,
    Shape::Random,
];

/// The edges of `shape` over `count` nodes (connected).
pub(crate) fn edges(shape: Shape, count: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    match shape {
        Shape::Line => (1..count).for_each(|i| edges.push((i - 1, i))),
        Shape::Star => (1..count).for_each(|i| edges.push((0, i))),
        Shape::Ring => {
            (1..count).for_each(|i| edges.push((i - 1, i)));
            if count > 2 {
                edges.push((count - 1, 0));
            }
        }
        Shape::FullMesh => {
            for a in 0..count {
                for b in a + 1..count {
                    edges.push((a, b));
                }
            }
        }
        Shape::TwoRingsAndBridge => {
            // Node 0 is the bridge; ring A is 0..=half, ring B is 0 and the rest.
            let half = count / 2;
            let ring_a: Vec<usize> = (0..=half).collect();
            let ring_b: Vec<usize> = std::iter::once(0).chain(half + 1..count).collect();
            for ring in [ring_a, ring_b] {
                for window in ring.windows(2) {
                    edges.push((window[0], window[1]));
                }
                if ring.len() > 2 {
                    edges.push((ring[ring.len() - 1], ring[0]));
                }
            }
        }
        Shape::Random => {
            for i in 1..count {
                edges.push((rng.below(i as u64) as usize, i));
            }
            for _ in 0..count {
                let a = rng.below(count as u64) as usize;
                let b = rng.below(count as u64) as usize;
                if a != b && !edges.contains(&(a, b)) && !edges.contains(&(b, a)) {
                    edges.push((a.min(b), a.max(b)));
                }
            }
        }
    }
    edges
}
