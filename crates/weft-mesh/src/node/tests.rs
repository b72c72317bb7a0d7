use std::time::Instant;

use super::*;
use crate::wire::{Hello, LinkStateAdvertisement, PROTOCOL_VERSION};

fn node(name: &str, mesh: &str) -> MeshNode {
    MeshNode::new(MeshConfig::new(
        MeshName::new(mesh).unwrap(),
        NodeName::new(name).unwrap(),
        1,
    ))
}

fn hello(name: &str, mesh: &str, version: u16) -> Message {
    Message::Hello(Hello {
        mesh: MeshName::new(mesh).unwrap(),
        node: NodeName::new(name).unwrap(),
        incarnation: 1,
        protocol_version: version,
        capabilities: Capabilities::ALL,
    })
}

fn outputs(node: &mut MeshNode) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

fn refused_with(outputs: &[Output]) -> Option<RefuseReason> {
    outputs.iter().find_map(|output| match output {
        Output::Send {
            message: Message::Refuse(refuse),
            ..
        } => Some(refuse.reason),
        _ => None,
    })
}

#[test]
fn a_different_mesh_a_duplicate_name_and_a_wrong_version_are_refused() {
    let now = Instant::now();
    for (peer, reason) in [
        (
            hello("b", "other", PROTOCOL_VERSION),
            RefuseReason::DifferentMesh,
        ),
        (
            hello("a", "m", PROTOCOL_VERSION),
            RefuseReason::DuplicateNodeName,
        ),
        (hello("b", "m", 99), RefuseReason::UnsupportedVersion),
    ] {
        let mut a = node("a", "m");
        a.link_up(now, LinkId(1), 1);
        a.handle(now, LinkId(1), peer);
        let out = outputs(&mut a);
        assert_eq!(refused_with(&out), Some(reason));
        assert!(out.iter().any(|o| matches!(
            o,
            Output::CloseLink {
                link: LinkId(1),
                ..
            }
        )));
        assert!(a.neighbours().is_empty());
        assert_eq!(a.stats().links_refused, 1);
    }
}

#[test]
fn a_second_link_to_the_same_node_is_refused() {
    let now = Instant::now();
    let mut a = node("a", "m");
    for link in [LinkId(1), LinkId(2)] {
        a.link_up(now, link, 1);
        a.handle(now, link, hello("b", "m", PROTOCOL_VERSION));
        a.handle(
            now,
            link,
            Message::HelloAck(crate::wire::HelloAck {
                node: NodeName::new("b").unwrap(),
                capabilities: Capabilities::ALL,
            }),
        );
    }
    let out = outputs(&mut a);
    assert_eq!(refused_with(&out), Some(RefuseReason::DuplicateNodeName));
    assert_eq!(a.neighbours().len(), 1);
}

#[test]
fn anything_before_hello_is_a_protocol_violation() {
    let now = Instant::now();
    let mut a = node("a", "m");
    a.link_up(now, LinkId(1), 1);
    a.handle(now, LinkId(1), Message::Heartbeat { nonce: 1 });
    assert_eq!(
        refused_with(&outputs(&mut a)),
        Some(RefuseReason::ProtocolViolation)
    );
}

#[test]
fn a_silent_link_times_out() {
    let now = Instant::now();
    let mut a = node("a", "m");
    a.link_up(now, LinkId(1), 1);
    outputs(&mut a);
    a.tick(now + a.config().link_timeout);
    assert!(outputs(&mut a).iter().any(|o| matches!(
        o,
        Output::CloseLink {
            reason: CloseReason::Timeout,
            ..
        }
    )));
}

#[test]
fn a_full_outbox_refuses_the_publish_and_counts_it() {
    let now = Instant::now();
    let mut config = MeshConfig::new(MeshName::new("m").unwrap(), NodeName::new("a").unwrap(), 1);
    config.outbox_capacity = 2;
    let mut a = MeshNode::new(config);
    let b = NodeName::new("b").unwrap();
    a.remote.apply_full(
        &b,
        1,
        1,
        vec![InterestEntry::durable(
            weft_core::topic::Filter::new("t/>").unwrap(),
        )],
    );
    let topic = Topic::new("t/x").unwrap();
    for _ in 0..2 {
        let publication = a
            .publish_local(now, topic.clone(), bytes::Bytes::new())
            .unwrap();
        assert_eq!(publication.durable, vec![b.clone()]);
    }
    assert!(matches!(
        a.publish_local(now, topic, bytes::Bytes::new()),
        Err(PublishError::OutboxFull(_))
    ));
    assert_eq!(a.stats().publishes_refused, 1);
    assert_eq!(a.outbox_depth(&b), 2);
    let snapshot = a.outbox_snapshot();
    assert_eq!(snapshot.destinations[&b].entries.len(), 2);
}

fn durable_node(name: &str, incarnation: u64, configure: impl FnOnce(&mut MeshConfig)) -> MeshNode {
    let mut config = MeshConfig::new(
        MeshName::new("m").unwrap(),
        NodeName::new(name).unwrap(),
        incarnation,
    );
    configure(&mut config);
    let mut node = MeshNode::new(config);
    node.remote.apply_full(
        &NodeName::new("b").unwrap(),
        1,
        1,
        vec![InterestEntry::durable(
            weft_core::topic::Filter::new("t/>").unwrap(),
        )],
    );
    node
}

#[test]
fn the_byte_limit_refuses_publishes_and_journals_nothing_for_them() {
    let now = Instant::now();
    let mut a = durable_node("a", 1, |config| config.outbox_max_bytes = 10);
    let topic = Topic::new("t/x").unwrap();
    a.publish_local(now, topic.clone(), bytes::Bytes::from_static(b"123456"))
        .unwrap();
    let error = a
        .publish_local(now, topic, bytes::Bytes::from_static(b"123456"))
        .unwrap_err();
    assert!(
        error.to_string().contains("outbox for node b is full"),
        "{error}"
    );
    let stored = outputs(&mut a)
        .into_iter()
        .filter(|output| matches!(output, Output::Persist(OutboxChange::Stored { .. })))
        .count();
    assert_eq!(stored, 1);
    assert_eq!(a.outbox_total_bytes(), 6);
}

#[test]
fn forgetting_a_departed_node_drops_its_interest_and_stored_events() {
    let now = Instant::now();
    let mut a = durable_node("a", 1, |config| config.outbox_capacity = 2);
    let b = NodeName::new("b").unwrap();
    let topic = Topic::new("t/x").unwrap();
    for _ in 0..2 {
        a.publish_local(now, topic.clone(), bytes::Bytes::new())
            .unwrap();
    }
    // Full: publishes for b are refused until it comes back, or is forgotten.
    assert!(
        a.publish_local(now, topic.clone(), bytes::Bytes::new())
            .is_err()
    );
    let forgotten = a.forget_node(&b).unwrap();
    assert_eq!(
        forgotten,
        Forgotten {
            interest_entries: 1,
            dropped_events: 2
        }
    );
    let discarded = outputs(&mut a)
        .into_iter()
        .filter(|output| matches!(output, Output::Persist(OutboxChange::Discarded { .. })))
        .count();
    assert_eq!(discarded, 1, "the dropped outbox is persisted");
    let publication = a.publish_local(now, topic, bytes::Bytes::new()).unwrap();
    assert!(publication.durable.is_empty());
    assert_eq!(a.forget_node(&b), Err(ForgetError::Unknown));
    assert_eq!(
        a.forget_node(&NodeName::new("a").unwrap()),
        Err(ForgetError::Reachable)
    );
}

#[test]
fn a_restored_outbox_moves_waiting_events_to_this_lifes_stream_in_order() {
    let now = Instant::now();
    let mut old = durable_node("a", 1, |_| {});
    let topic = Topic::new("t/x").unwrap();
    for payload in [&b"1"[..], b"2", b"3"] {
        old.publish_local(now, topic.clone(), bytes::Bytes::from_static(payload))
            .unwrap();
    }
    let b = NodeName::new("b").unwrap();
    let mut snapshot = old.outbox_snapshot();
    snapshot
        .destinations
        .get_mut(&b)
        .unwrap()
        .entries
        .pop_front();
    let mut new = durable_node("a", 2, |_| {});
    new.restore_outbox(snapshot);
    let restored = new.outbox_snapshot();
    let outbox = &restored.destinations[&b];
    assert_eq!(outbox.stream, 2);
    let numbered: Vec<(u64, &[u8])> = outbox
        .entries
        .iter()
        .map(|entry| (entry.sequence, &entry.payload[..]))
        .collect();
    assert_eq!(numbered, vec![(1, &b"2"[..]), (2, &b"3"[..])]);
    let publication = new
        .publish_local(now, topic, bytes::Bytes::from_static(b"4"))
        .unwrap();
    assert_eq!(publication.durable, vec![b.clone()]);
    assert_eq!(new.outbox_snapshot().destinations[&b].next_sequence, 4);
}

fn advertisement(node: &str, incarnation: u64) -> LinkStateAdvertisement {
    LinkStateAdvertisement {
        node: NodeName::new(node).unwrap(),
        incarnation,
        sequence: 1,
        interest_version: 0,
        neighbours: Vec::new(),
    }
}

fn outbox_stream(node: &MeshNode, destination: &NodeName) -> (u64, Vec<(u64, Vec<u8>)>) {
    let snapshot = node.outbox_snapshot();
    let outbox = &snapshot.destinations[destination];
    let entries = outbox
        .entries
        .iter()
        .map(|entry| (entry.sequence, entry.payload.to_vec()))
        .collect();
    (outbox.stream, entries)
}

#[test]
fn a_destination_back_with_a_new_incarnation_gets_its_waiting_events_in_a_newer_stream() {
    let now = Instant::now();
    let mut a = durable_node("a", 10, |_| {});
    let b = NodeName::new("b").unwrap();
    let topic = Topic::new("t/x").unwrap();
    a.on_link_state(now, LinkId(9), advertisement("b", 5));
    for payload in [&b"1"[..], b"2", b"3"] {
        a.publish_local(now, topic.clone(), bytes::Bytes::from_static(payload))
            .unwrap();
    }
    a.on_ack(crate::wire::Ack {
        origin: NodeName::new("a").unwrap(),
        acker: b.clone(),
        stream: 10,
        up_to_sequence: 1,
    });
    outputs(&mut a);
    // A newer advertisement of the same life changes nothing.
    let mut same = advertisement("b", 5);
    same.sequence = 2;
    a.on_link_state(now, LinkId(9), same);
    assert_eq!(outbox_stream(&a, &b).0, 10);
    assert!(
        outputs(&mut a)
            .iter()
            .all(|o| !matches!(o, Output::Persist(_)))
    );
    // b restarted (or lost its data directory): what waits moves to stream 11, from 1,
    // keeping each event's identity; the file is rewritten.
    a.on_link_state(now, LinkId(9), advertisement("b", 6));
    let (stream, entries) = outbox_stream(&a, &b);
    assert_eq!(stream, 11);
    assert_eq!(entries, vec![(1, b"2".to_vec()), (2, b"3".to_vec())]);
    let origin_sequences: Vec<u64> = a.outbox_snapshot().destinations[&b]
        .entries
        .iter()
        .map(|entry| entry.origin_sequence)
        .collect();
    assert_eq!(origin_sequences, vec![2, 3]);
    assert!(outputs(&mut a).iter().any(|o| matches!(
        o,
        Output::Persist(OutboxChange::Renumbered {
            stream: 11,
            up_to: 2,
            ..
        })
    )));
    assert_eq!(a.highest_stream(), 11, "the next life starts above it");
    // Acks of the old stream no longer count.
    a.on_ack(crate::wire::Ack {
        origin: NodeName::new("a").unwrap(),
        acker: b.clone(),
        stream: 10,
        up_to_sequence: 3,
    });
    assert_eq!(a.outbox_depth(&b), 2);
}

#[test]
fn an_outbox_opened_again_after_a_forget_starts_a_newer_stream() {
    let now = Instant::now();
    let mut a = durable_node("a", 10, |_| {});
    let b = NodeName::new("b").unwrap();
    let topic = Topic::new("t/x").unwrap();
    a.publish_local(now, topic.clone(), bytes::Bytes::from_static(b"1"))
        .unwrap();
    a.forget_node(&b).unwrap();
    // b comes back with its streams: its receiver position in stream 10 is past 1, so
    // the origin must not number from 1 in stream 10 again.
    a.remote.apply_full(
        &b,
        1,
        2,
        vec![InterestEntry::durable(
            weft_core::topic::Filter::new("t/>").unwrap(),
        )],
    );
    a.publish_local(now, topic, bytes::Bytes::from_static(b"2"))
        .unwrap();
    assert_eq!(outbox_stream(&a, &b), (11, vec![(1, b"2".to_vec())]));
    assert_eq!(a.highest_stream(), 11);
}

#[test]
fn a_peer_without_the_binary_envelope_is_accepted_without_it() {
    // A node from before the binary envelope: it sends (and intersects) bits 0..=2 only.
    let now = Instant::now();
    let mut a = node("a", "m");
    a.link_up(now, LinkId(1), 1);
    let old = Capabilities {
        binary_envelope: false,
        ..Capabilities::ALL
    };
    let mut hello = hello("b", "m", PROTOCOL_VERSION);
    if let Message::Hello(hello) = &mut hello {
        hello.capabilities = old;
    }
    a.handle(now, LinkId(1), hello);
    let acked = outputs(&mut a).into_iter().find_map(|output| match output {
        Output::Send {
            message: Message::HelloAck(ack),
            ..
        } => Some(ack.capabilities),
        _ => None,
    });
    assert_eq!(acked, Some(old));
    a.handle(
        now,
        LinkId(1),
        Message::HelloAck(crate::wire::HelloAck {
            node: NodeName::new("b").unwrap(),
            capabilities: old,
        }),
    );
    assert_eq!(a.neighbours().len(), 1, "the link is established");
    assert_eq!(a.link_capabilities(LinkId(1)), Some(old));
}

/// Nodes linked in memory: every `Send` is handed to the other end of its link at once.
struct Wired {
    nodes: Vec<MeshNode>,
    /// (node, link id) at both ends of each link that is up.
    edges: Vec<[(usize, LinkId); 2]>,
}

impl Wired {
    fn new(names: &[&str]) -> Self {
        let nodes = names.iter().map(|name| node(name, "m")).collect();
        Self {
            nodes,
            edges: Vec::new(),
        }
    }

    fn connect(&mut self, now: Instant, a: usize, b: usize, id: u64) {
        let ends = [(a, LinkId(id)), (b, LinkId(id))];
        self.edges.push(ends);
        for (node, link) in ends {
            self.nodes[node].link_up(now, link, 1);
        }
        self.pump(now);
    }

    fn disconnect(&mut self, now: Instant, id: u64) {
        self.edges.retain(|ends| ends[0].1 != LinkId(id));
        for node in &mut self.nodes {
            node.link_down(now, LinkId(id));
        }
        self.pump(now);
    }

    fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            for from in 0..self.nodes.len() {
                while let Some(output) = self.nodes[from].poll_output() {
                    let Output::Send { link, message } = output else {
                        continue;
                    };
                    let Some(ends) = self.edges.iter().find(|ends| ends.contains(&(from, link)))
                    else {
                        continue;
                    };
                    let (to, at) = if ends[0] == (from, link) {
                        ends[1]
                    } else {
                        ends[0]
                    };
                    self.nodes[to].handle(now, at, message);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn subscribe(&mut self, now: Instant, node: usize, filters: &[&str]) {
        let entries = filters
            .iter()
            .map(|filter| InterestEntry::live(weft_core::Filter::new(*filter).unwrap()));
        self.nodes[node].set_local_interest(now, entries);
        self.pump(now);
    }

    /// The links `node` sends an event on `topic` on (published there).
    fn publish(&mut self, now: Instant, node: usize, topic: &str) -> Vec<LinkId> {
        let publication = self.nodes[node]
            .publish_local(
                now,
                Topic::new(topic).unwrap(),
                bytes::Bytes::from_static(b"x"),
            )
            .unwrap();
        self.pump(now);
        publication.links
    }
}

#[test]
fn the_forwarding_cache_is_invalidated_by_interest_link_and_route_changes() {
    let now = Instant::now();
    // a - b - c, and a - c directly.
    let (a, b, c) = (0, 1, 2);
    let mut net = Wired::new(&["a", "b", "c"]);
    net.connect(now, a, b, 1);
    net.connect(now, b, c, 2);
    net.connect(now, a, c, 3);
    net.subscribe(now, c, &["t/>"]);
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(3)]);
    let hits = net.nodes[a].route_cache_hits();
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(3)]);
    assert!(
        net.nodes[a].route_cache_hits() > hits,
        "the second publish is a hit"
    );

    // Interest change: c loses interest, then wants it again, then b wants it too.
    net.subscribe(now, c, &["other"]);
    assert_eq!(net.publish(now, a, "t/x"), Vec::<LinkId>::new());
    net.subscribe(now, c, &["t/x"]);
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(3)]);
    net.subscribe(now, b, &["t/x"]);
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(1), LinkId(3)]);
    net.subscribe(now, b, &[]);
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(3)]);

    // Link down: a reaches c through b now.
    net.disconnect(now, 3);
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(1)]);
    // Forwarded at b: from a on link 1, out on link 2 (cached at b too).
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(1)]);
    assert!(
        net.nodes[b].route_cache_hits() > 0,
        "b forwards from its cache"
    );

    // Route change elsewhere in the mesh: b - c goes down, c is unreachable from a
    // (a's own links did not change); then a new link a - c brings it back.
    net.disconnect(now, 2);
    assert_eq!(net.publish(now, a, "t/x"), Vec::<LinkId>::new());
    net.connect(now, a, c, 4);
    assert_eq!(net.publish(now, a, "t/x"), vec![LinkId(4)]);
    assert_eq!(net.nodes[c].stats().events_delivered, 8);
}
