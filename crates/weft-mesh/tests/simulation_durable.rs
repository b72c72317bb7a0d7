//! Deterministic simulation of store-and-forward across partitions and restarts, and of
//! queue groups, over the seeded network of `tests/simulation/network.rs`.
//!
//! Restarts model what a real node keeps on disk: its outbox (persisted before the
//! publisher is acknowledged), its inbox positions as last persisted (acks wait for
//! that), and the remembered durable interest. Scenario counts scale with
//! `WEFT_MESH_SIM_SCALE` (default 1); a failing scenario prints its seed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "simulation/network.rs"]
mod network;

use std::collections::BTreeMap;

use network::{NetConfig, Rng, SHAPES, Sim, filter, node_name, scale, topic};
use weft_core::topic::Topic;
use weft_mesh::{GroupName, InterestEntry, InterestKind, Output};

const TOPICS: [&str; 4] = [
    "orders/eu/created",
    "orders/us/created",
    "users/eu/created",
    "users/us/deleted",
];

const FILTERS: [&str; 5] = ["orders/>", "*/us/*", "users/eu/>", ">", "orders/eu/created"];

/// Salt of the link costs of this file's scenarios.
const SALT: u64 = 0x5EED;

/// This file's scenarios take their shape from the seed.
fn build(seed: u64, net: NetConfig, count: usize) -> (Sim, Vec<usize>) {
    let shape = SHAPES[(seed % SHAPES.len() as u64) as usize];
    network::build(seed, SALT, net, shape, count)
}

fn wants_durably(interest: &[InterestEntry], topic: &Topic) -> bool {
    interest
        .iter()
        .any(|entry| entry.kind == InterestKind::Durable && entry.filter.matches(topic))
}

fn known_everywhere(sim: &Sim) -> bool {
    sim.nodes.iter().enumerate().all(|(i, node)| {
        sim.nodes.iter().enumerate().all(|(j, other)| {
            i == j
                || other.advertised_interest().all(|entry| {
                    node.remote_interest()
                        .entries(other.name())
                        .any(|known| known == entry)
                })
        })
    })
}

#[test]
fn durable_events_survive_partitions_and_restarts_of_either_side_arriving_once_in_order() {
    let scenarios = 500 * scale();
    let mut redelivered = 0;
    for seed in 0..scenarios {
        let mut rng = Rng::new(seed.wrapping_add(7_000_000));
        let count = rng.range(3, 6) as usize;
        let net = NetConfig {
            min_delay_ms: 1,
            max_delay_ms: 20,
            drop_per_million: 10_000,
            reorder: true,
        };
        let (mut sim, links) = build(seed, net, count);
        sim.persist_every_ms = Some(100 * rng.range(1, 4));
        sim.store_delay_ms = Some((0, 30));
        sim.store_failure_per_million = 2_000;
        let interest: Vec<Vec<InterestEntry>> = (0..count)
            .map(|_| {
                (0..rng.below(3))
                    .map(|_| InterestEntry::durable(filter(rng.pick::<&str>(&FILTERS))))
                    .collect()
            })
            .collect();
        for (node, entries) in interest.iter().enumerate() {
            sim.set_interest(node, entries.clone());
        }
        let known = sim.run_until(15_000, |sim| sim.converged() && known_everywhere(sim));
        assert!(known.is_some(), "seed {seed}: interest did not spread");
        let mut published = Vec::new();
        for _ in 0..rng.range(15, 40) {
            match rng.below(12) {
                0 => sim.cut(*rng.pick(&links)),
                1 => sim.heal(*rng.pick(&links)),
                2 => sim.restart(rng.below(count as u64) as usize),
                _ => {
                    let origin = rng.below(count as u64) as usize;
                    let topic = topic(rng.pick::<&str>(&TOPICS));
                    let incarnation = sim.nodes[origin].config().incarnation;
                    if let Some(sequence) = sim.publish(origin, &topic, b"x") {
                        published.push((origin, incarnation, sequence, topic));
                    }
                }
            }
            let pause = rng.range(0, 150);
            sim.run(pause);
        }
        for &link in &links {
            sim.heal(link);
        }
        sim.net.drop_per_million = 0;
        let drained = sim.run_until(60_000, |sim| {
            sim.converged() && sim.nodes.iter().all(|node| node.outbox_total_depth() == 0)
        });
        assert!(drained.is_some(), "seed {seed}: outboxes did not drain");
        for (origin, incarnation, sequence, topic) in &published {
            let id = (node_name(*origin), *incarnation, *sequence);
            for (node, entries) in interest.iter().enumerate() {
                if node != *origin && wants_durably(entries, topic) {
                    let got = sim.delivered[node].get(&id).copied().unwrap_or(0);
                    assert_eq!(
                        got, 1,
                        "seed {seed}: {id:?} on {topic} not stored once at {node}"
                    );
                }
            }
        }
        for (node, origins) in sim.durable_first.iter().enumerate() {
            for (origin, firsts) in origins {
                assert!(
                    firsts.windows(2).all(|pair| pair[0] < pair[1]),
                    "seed {seed}: node {node} stored {origin}'s events out of order: {firsts:?}"
                );
            }
        }
        redelivered += sim.redelivered;
    }
    // Only a receiver's own restart redelivers (what it stored but had not yet
    // remembered, checked event by event by the simulation); an origin's never does.
    println!("redelivered after receiver restarts: {redelivered}");
}

/// Receivers remember what they store as soon as it is stored (`persist_every_ms`
/// unset), and storing takes a while and sometimes fails. Origins restart at random,
/// resending what receivers had stored but not acknowledged under a new stream, long
/// after or while it is still being stored; receivers recognise it by the origin's own
/// (incarnation, sequence). Nothing is stored twice (the simulation fails the run at
/// once) except what a receiver that restarted itself had stored without hearing of it
/// before its crash (checked event by event).
#[test]
fn restarted_origins_never_make_a_receiver_store_an_event_twice() {
    let scenarios = 300 * scale();
    let mut redelivered = 0;
    for seed in 0..scenarios {
        let mut rng = Rng::new(seed.wrapping_add(8_000_000));
        let count = rng.range(2, 5) as usize;
        let net = NetConfig {
            min_delay_ms: 1,
            max_delay_ms: 20,
            drop_per_million: 20_000,
            reorder: true,
        };
        let (mut sim, links) = build(seed, net, count);
        sim.store_delay_ms = Some((1, 40));
        sim.store_failure_per_million = 5_000;
        let interest: Vec<Vec<InterestEntry>> = (0..count)
            .map(|_| {
                (0..rng.range(1, 2))
                    .map(|_| InterestEntry::durable(filter(rng.pick::<&str>(&FILTERS))))
                    .collect()
            })
            .collect();
        for (node, entries) in interest.iter().enumerate() {
            sim.set_interest(node, entries.clone());
        }
        let known = sim.run_until(15_000, |sim| sim.converged() && known_everywhere(sim));
        assert!(known.is_some(), "seed {seed}: interest did not spread");
        let mut published = Vec::new();
        for _ in 0..rng.range(20, 50) {
            match rng.below(10) {
                0 => sim.cut(*rng.pick(&links)),
                1 => sim.heal(*rng.pick(&links)),
                2 | 3 => sim.restart(rng.below(count as u64) as usize),
                _ => {
                    let origin = rng.below(count as u64) as usize;
                    let topic = topic(rng.pick::<&str>(&TOPICS));
                    let incarnation = sim.nodes[origin].config().incarnation;
                    if let Some(sequence) = sim.publish(origin, &topic, b"x") {
                        published.push((origin, incarnation, sequence, topic));
                    }
                }
            }
            // Often shorter than a link's delay: acks are still on their way when
            // their origin restarts.
            let pause = rng.range(0, 60);
            sim.run(pause);
        }
        for &link in &links {
            sim.heal(link);
        }
        sim.net.drop_per_million = 0;
        let drained = sim.run_until(60_000, |sim| {
            sim.converged() && sim.nodes.iter().all(|node| node.outbox_total_depth() == 0)
        });
        assert!(drained.is_some(), "seed {seed}: outboxes did not drain");
        for (origin, incarnation, sequence, topic) in &published {
            let id = (node_name(*origin), *incarnation, *sequence);
            for (node, entries) in interest.iter().enumerate() {
                if node != *origin && wants_durably(entries, topic) {
                    let got = sim.delivered[node].get(&id).copied().unwrap_or(0);
                    assert_eq!(got, 1, "seed {seed}: {id:?} on {topic} at {node}");
                }
            }
        }
        redelivered += sim.redelivered;
    }
    println!("redelivered after receiver crashes while storing: {redelivered}");
}

#[test]
fn an_origin_restarted_after_the_receiver_stored_but_before_the_ack_resends_much_later_and_nothing_is_stored_twice()
 {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, links) = build(5, net, 2);
    sim.set_interest(1, vec![InterestEntry::durable(filter("orders/>"))]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged()
            && sim.nodes[0].remote_interest().nodes().count() == 1)
            .is_some()
    );
    let orders = topic("orders/eu/created");
    let mut published = Vec::new();
    for _ in 0..10 {
        published.push(sim.publish(0, &orders, b"e").unwrap());
    }
    // The events arrive (5 ms), the receiver stores them and acknowledges; the acks
    // are still on their way (5 ms more) when the origin restarts.
    sim.run(6);
    let origin = node_name(0);
    assert_eq!(sim.durable_first[1][&origin].len(), 10, "stored");
    assert_eq!(
        sim.nodes[0].outbox_depth(&node_name(1)),
        10,
        "not acked yet"
    );
    sim.restart(0);
    sim.cut(links[0]);
    // Far longer than any stream's dedupe window (2 minutes by default).
    sim.run(10 * 60 * 1000);
    assert_eq!(sim.nodes[0].outbox_depth(&node_name(1)), 10, "kept");
    sim.heal(links[0]);
    sim.run_until(30_000, |sim| sim.nodes[0].outbox_total_depth() == 0)
        .expect("the resent events are acknowledged");
    // Stored once (a second delivery would have failed the run), in order, and the
    // next event from the new life is delivered as usual.
    let firsts: Vec<(u64, u64)> = published.iter().map(|&sequence| (1, sequence)).collect();
    assert_eq!(sim.durable_first[1][&origin], firsts);
    assert_eq!(sim.redelivered, 0);
    let next = sim.publish(0, &orders, b"f").unwrap();
    sim.run_until(5_000, |sim| sim.nodes[0].outbox_total_depth() == 0)
        .expect("acknowledged");
    assert_eq!(sim.durable_first[1][&origin].last(), Some(&(2, next)));
}

#[test]
fn restarted_receiver_with_stale_positions_gets_no_gap_and_no_loss() {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, _) = build(3, net, 2);
    sim.persist_every_ms = Some(1_000);
    sim.set_interest(1, vec![InterestEntry::durable(filter("orders/>"))]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged()
            && sim.nodes[0].remote_interest().nodes().count() == 1)
            .is_some()
    );
    let orders = topic("orders/eu/created");
    for _ in 0..10 {
        sim.publish(0, &orders, b"e");
    }
    sim.run(50);
    assert_eq!(
        sim.nodes[0].outbox_depth(&node_name(1)),
        10,
        "nothing is acked before the receiver persisted its position"
    );
    sim.restart(1);
    sim.run_until(10_000, |sim| sim.nodes[0].outbox_total_depth() == 0)
        .expect("drains");
    let firsts = &sim.durable_first[1][&node_name(0)];
    assert_eq!(firsts.len(), 10);
    assert!(
        sim.redelivered >= 10,
        "stored before the restart, stored again"
    );
}

#[test]
fn sticky_interest_survives_an_origin_restart_and_expires_counted_from_when_the_node_left() {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, links) = build(4, net, 2);
    sim.set_interest(1, vec![InterestEntry::durable(filter("orders/>"))]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged()
            && sim.nodes[0].remote_interest().nodes().count() == 1)
            .is_some()
    );
    sim.cut(links[0]);
    // Long enough for node 1's advertisement to age out at node 0 (10 s).
    sim.run(15_000);
    sim.restart(0);
    let orders = topic("orders/eu/created");
    let now = sim.now();
    let publication = sim.nodes[0]
        .publish_local(now, orders.clone(), bytes::Bytes::from_static(b"e"))
        .unwrap();
    assert_eq!(publication.durable, vec![node_name(1)], "kept for node 1");
    sim.drain(0);
    // Node 1 aged out about 5 s before the restart (10 s after the cut); the restart
    // carried that age over, so the expiry comes about 5 s early, not reset.
    let expiry = sim.nodes[0].config().durable_interest_expiry;
    let restarted = sim.now();
    sim.nodes[0].tick(restarted + expiry - std::time::Duration::from_secs(7));
    assert_eq!(sim.nodes[0].outbox_total_depth(), 1, "not yet expired");
    sim.nodes[0].tick(restarted + expiry - std::time::Duration::from_secs(3));
    let discarded = std::iter::from_fn(|| sim.nodes[0].poll_output())
        .any(|output| matches!(output, Output::Persist(_)));
    assert!(
        discarded,
        "the expired outbox is discarded (and persisted so)"
    );
    assert_eq!(sim.nodes[0].outbox_total_depth(), 0);
    assert_eq!(sim.nodes[0].stats().outbox_dropped, 1);
}

#[test]
fn a_forgotten_receiver_that_comes_back_gets_what_is_published_after_it_returned() {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, links) = build(6, net, 2);
    let receiver = node_name(1);
    sim.set_interest(1, vec![InterestEntry::durable(filter("orders/>"))]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged()
            && sim.nodes[0].remote_interest().nodes().count() == 1)
            .is_some()
    );
    let orders = topic("orders/eu/created");
    let first = sim.publish(0, &orders, b"1").unwrap();
    sim.run_until(5_000, |sim| sim.nodes[0].outbox_total_depth() == 0)
        .expect("acknowledged");
    sim.cut(links[0]);
    sim.run_until(15_000, |sim| !sim.nodes[0].reachable().contains(&receiver))
        .expect("unreachable");
    let dropped = sim.publish(0, &orders, b"2").unwrap();
    let forgotten = sim.nodes[0].forget_node(&receiver).unwrap();
    assert_eq!(forgotten.dropped_events, 1);
    sim.drain(0);
    // Back, in the same life of the origin: what is published now reaches it, although
    // the origin's new stream towards it starts again from 1.
    sim.heal(links[0]);
    assert!(
        sim.run_until(10_000, |sim| sim.converged()
            && sim.nodes[0].remote_interest().nodes().count() == 1)
            .is_some()
    );
    let after = sim.publish(0, &orders, b"3").unwrap();
    sim.run_until(10_000, |sim| sim.nodes[0].outbox_total_depth() == 0)
        .expect("acknowledged");
    let origin = node_name(0);
    assert_eq!(sim.durable_first[1][&origin], vec![(1, first), (1, after)]);
    assert!(dropped < after);
}

/// A node that lost its data directory comes back with the same name: as an origin its
/// sequences start again (under a newer incarnation) and are not taken for repeats; as a
/// receiver it has no positions, and what other nodes kept for it still arrives.
#[test]
fn a_node_that_lost_its_data_directory_sends_and_receives_as_before() {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, _) = build(7, net, 2);
    let durable = vec![InterestEntry::durable(filter("orders/>"))];
    sim.set_interest(0, durable.clone());
    sim.set_interest(1, durable);
    let both_known = |sim: &Sim| {
        sim.converged() && (0..2).all(|node| sim.nodes[node].remote_interest().nodes().count() == 1)
    };
    assert!(sim.run_until(5_000, both_known).is_some());
    let orders = topic("orders/eu/created");
    let mut sent = [Vec::new(), Vec::new()];
    for node in [0, 1, 0, 1, 0] {
        sent[node].push((1, sim.publish(node, &orders, b"e").unwrap()));
    }
    let drained = |sim: &Sim| sim.nodes.iter().all(|node| node.outbox_total_depth() == 0);
    sim.run_until(5_000, drained).expect("acknowledged");

    sim.restart_wiped(1);
    assert!(sim.run_until(10_000, both_known).is_some());
    for node in [1, 0, 1, 0] {
        let incarnation = sim.nodes[node].config().incarnation;
        sent[node].push((incarnation, sim.publish(node, &orders, b"f").unwrap()));
    }
    sim.run_until(10_000, drained).expect("acknowledged");
    assert_eq!(sent[1][2], (2, 1), "the wiped node numbers from 1 again");
    for (node, other) in [(0, 1), (1, 0)] {
        assert_eq!(
            sim.durable_first[node][&node_name(other)],
            sent[other],
            "{node} stored everything {other} published, once"
        );
    }
}

#[test]
fn queue_groups_get_each_event_once_per_group_preferring_a_local_member() {
    let scenarios = 300 * scale();
    for seed in 0..scenarios {
        let mut rng = Rng::new(seed.wrapping_add(9_000_000));
        let count = rng.range(3, 7) as usize;
        let (mut sim, _) = build(seed, NetConfig::reliable(), count);
        let groups = [GroupName::new("a").unwrap(), GroupName::new("b").unwrap()];
        let mut members: BTreeMap<GroupName, Vec<usize>> = BTreeMap::new();
        for node in 0..count {
            let mut entries = Vec::new();
            for group in &groups {
                if rng.chance(400_000) {
                    let filter = filter(rng.pick::<&str>(&FILTERS));
                    entries.push(InterestEntry::queue(filter, group.clone()));
                    members.entry(group.clone()).or_default().push(node);
                }
            }
            sim.set_interest(node, entries);
        }
        assert!(
            sim.run_until(15_000, |sim| sim.converged()).is_some(),
            "seed {seed}: did not converge"
        );
        sim.run(1_000);
        for _ in 0..20 {
            let origin = rng.below(count as u64) as usize;
            let topic = topic(rng.pick::<&str>(&TOPICS));
            let now = sim.now();
            let publication = sim.nodes[origin]
                .publish_local(now, topic.clone(), bytes::Bytes::from_static(b"j"))
                .unwrap();
            sim.drain(origin);
            sim.run(300);
            for group in &groups {
                let matching: Vec<usize> = members
                    .get(group)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&node| {
                        sim.nodes[node].local_interest().iter().any(|entry| {
                            entry.kind == InterestKind::Queue(group.clone())
                                && entry.filter.matches(&topic)
                        })
                    })
                    .collect();
                let remote = publication
                    .remote_groups
                    .iter()
                    .filter(|assignment| &assignment.group == group)
                    .count();
                let expected = usize::from(!matching.is_empty() && !matching.contains(&origin));
                assert_eq!(
                    remote, expected,
                    "seed {seed}: group {group} on {topic} from {origin}, members {matching:?}"
                );
                let id = (node_name(origin), 1, publication.sequence);
                let served = sim
                    .group_deliveries
                    .get(&(id, group.clone()))
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(
                    served.len(),
                    expected,
                    "seed {seed}: {group} served {served:?}"
                );
                assert!(served.iter().all(|node| matching.contains(node)));
            }
        }
    }
}
