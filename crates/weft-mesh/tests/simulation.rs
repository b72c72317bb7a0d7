//! Deterministic simulation of meshes of `MeshNode`s over a seeded network.
//!
//! Scenario counts scale with `WEFT_MESH_SIM_SCALE` (default 1); a failing scenario
//! prints its seed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // shared with simulation_durable.rs, which uses the rest
#[path = "simulation/network.rs"]
mod network;

use std::collections::BTreeSet;

use network::{NetConfig, Rng, SHAPES, Shape, Sim, build, filter, node_name, scale, topic};
use weft_core::topic::Topic;
use weft_mesh::{GroupName, InterestEntry, InterestKind};

const TOPICS: [&str; 8] = [
    "orders/eu/created",
    "orders/eu/deleted",
    "orders/us/created",
    "orders/us/deleted",
    "users/eu/created",
    "users/eu/deleted",
    "users/us/created",
    "users/us/deleted",
];

const FILTERS: [&str; 7] = [
    "orders/>",
    "orders/*/created",
    "users/eu/>",
    "*/us/*",
    "orders/eu/created",
    ">",
    "users/*/deleted",
];

/// Salt of the link costs of this file's scenarios.
const SALT: u64 = 0xABCD;

fn random_interest(rng: &mut Rng, durable_chance: u64) -> Vec<InterestEntry> {
    (0..rng.below(3))
        .map(|_| {
            let filter = filter(rng.pick::<&str>(&FILTERS));
            if rng.chance(durable_chance) {
                InterestEntry::durable(filter)
            } else {
                InterestEntry::live(filter)
            }
        })
        .collect()
}

fn wants(sim: &Sim, node: usize, topic: &Topic) -> bool {
    sim.nodes[node]
        .local_interest()
        .iter()
        .any(|entry| entry.kind != InterestKind::Queue(group()) && entry.filter.matches(topic))
}

fn wants_durably(sim: &Sim, node: usize, topic: &Topic) -> bool {
    sim.nodes[node]
        .local_interest()
        .iter()
        .any(|entry| entry.kind == InterestKind::Durable && entry.filter.matches(topic))
}

fn group() -> GroupName {
    GroupName::new("workers").unwrap()
}

/// Every node knows every other node's advertised interest.
fn interest_known(sim: &Sim) -> bool {
    sim.nodes.iter().enumerate().all(|(i, node)| {
        sim.nodes.iter().enumerate().all(|(j, other)| {
            i == j || {
                let known: BTreeSet<_> = node.remote_interest().entries(other.name()).collect();
                let advertised: BTreeSet<_> = other.advertised_interest().collect();
                known == advertised
            }
        })
    })
}

#[test]
fn stable_random_topologies_deliver_every_live_event_once_and_once_per_link() {
    let scenarios = 700 * scale();
    for seed in 0..scenarios {
        let mut rng = Rng::new(seed);
        let shape = SHAPES[(seed % SHAPES.len() as u64) as usize];
        let count = rng.range(3, 8) as usize;
        let (mut sim, _) = build(seed, SALT, NetConfig::reliable(), shape, count);
        for node in 0..count {
            let interest = random_interest(&mut rng, 0);
            sim.set_interest(node, interest);
        }
        let converged = sim.run_until(5_000, |sim| sim.converged() && interest_known(sim));
        assert!(
            converged.is_some(),
            "seed {seed}: {shape:?} of {count} did not converge"
        );
        let mut published = Vec::new();
        for _ in 0..rng.range(1, 12) {
            let origin = rng.below(count as u64) as usize;
            let topic = topic(rng.pick::<&str>(&TOPICS));
            let sequence = sim.publish(origin, &topic, b"payload").expect("publish");
            published.push((origin, topic, sequence));
        }
        sim.run(500);
        for (origin, topic, sequence) in &published {
            let id = (node_name(*origin), 1, *sequence);
            for node in 0..count {
                let got = sim.delivered[node].get(&id).copied().unwrap_or(0);
                let expected = u32::from(node != *origin && wants(&sim, node, topic));
                assert_eq!(
                    got, expected,
                    "seed {seed}: {shape:?} node {node} event {id:?} on {topic}"
                );
            }
        }
        for (key, copies) in &sim.crossings {
            assert_eq!(
                *copies, 1,
                "seed {seed}: {shape:?} event crossed a link twice: {key:?}"
            );
        }
        assert!(
            usize::from(sim.max_hops) < count,
            "seed {seed}: a path longer than the graph"
        );
    }
}

#[test]
fn chaos_never_duplicates_and_durable_events_arrive_in_order_after_healing() {
    let scenarios = 40 * scale();
    for seed in 0..scenarios {
        let mut rng = Rng::new(seed.wrapping_add(1_000_000));
        let shape = SHAPES[(seed % SHAPES.len() as u64) as usize];
        let count = rng.range(3, 7) as usize;
        let net = NetConfig {
            min_delay_ms: 1,
            max_delay_ms: 30,
            drop_per_million: 20_000,
            reorder: true,
        };
        let (mut sim, links) = build(seed, SALT, net, shape, count);
        for node in 0..count {
            let interest = random_interest(&mut rng, 500_000);
            sim.set_interest(node, interest);
        }
        let converged = sim.run_until(15_000, |sim| sim.converged() && interest_known(sim));
        assert!(
            converged.is_some(),
            "seed {seed}: {shape:?} of {count} did not converge"
        );
        let mut published = Vec::new();
        for _ in 0..rng.range(10, 40) {
            match rng.below(10) {
                0 => {
                    let link = *rng.pick(&links);
                    sim.cut(link);
                }
                1 => {
                    let link = *rng.pick(&links);
                    sim.heal(link);
                }
                _ => {
                    let origin = rng.below(count as u64) as usize;
                    let topic = topic(rng.pick::<&str>(&TOPICS));
                    if let Some(sequence) = sim.publish(origin, &topic, b"x") {
                        published.push((origin, topic, sequence));
                    }
                }
            }
            let pause = rng.range(0, 200);
            sim.run(pause);
        }
        // Heal everything, stop losing messages, and let store-and-forward finish.
        for &link in &links {
            sim.heal(link);
        }
        sim.net.drop_per_million = 0;
        let drained = sim.run_until(60_000, |sim| {
            sim.converged() && sim.nodes.iter().all(|node| node.outbox_total_depth() == 0)
        });
        assert!(
            drained.is_some(),
            "seed {seed}: {shape:?} outboxes did not drain"
        );
        for (origin, topic, sequence) in &published {
            let id = (node_name(*origin), 1, *sequence);
            for node in 0..count {
                if node != *origin && wants_durably(&sim, node, topic) {
                    let got = sim.delivered[node].get(&id).copied().unwrap_or(0);
                    assert_eq!(
                        got, 1,
                        "seed {seed}: durable {id:?} on {topic} missing at node {node}"
                    );
                }
            }
        }
        for (node, origins) in sim.delivered_order.iter().enumerate() {
            for (origin, sequences) in origins {
                assert!(
                    sequences.windows(2).all(|pair| pair[0] < pair[1]),
                    "seed {seed}: node {node} got {origin}'s durable events out of order: {sequences:?}"
                );
            }
        }
        assert!(sim.max_hops <= 32, "seed {seed}: hop limit exceeded");
    }
}

#[test]
fn interest_is_known_across_a_five_node_mesh_within_diameter_rounds() {
    for shape in SHAPES {
        let mut net = NetConfig::reliable();
        (net.min_delay_ms, net.max_delay_ms) = (10, 10);
        let (mut sim, _) = build(7, SALT, net, shape, 5);
        assert!(sim.run_until(5_000, Sim::converged).is_some());
        sim.set_interest(3, vec![InterestEntry::live(filter("orders/>"))]);
        let took = sim
            .run_until(1_000, interest_known)
            .expect("interest propagates");
        // One round is one link delay (10 ms); the diameter of 5 nodes is at most 4.
        assert!(took <= 50, "{shape:?}: interest took {took} ms");
        sim.set_interest(3, vec![]);
        let took = sim
            .run_until(1_000, interest_known)
            .expect("removal propagates");
        assert!(took <= 50, "{shape:?}: removal took {took} ms");
        for node in &sim.nodes {
            assert_eq!(node.remote_interest().entries(&node_name(3)).count(), 0);
        }
    }
}

#[test]
fn a_ring_reroutes_around_a_failed_link_and_a_failed_node() {
    let mut rng = Rng::new(1);
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, links) = build(3, SALT, net, Shape::Ring, 6);
    let _ = &mut rng;
    sim.set_interest(3, vec![InterestEntry::live(filter("orders/>"))]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged() && interest_known(sim))
            .is_some()
    );
    let orders = topic("orders/eu/created");
    let first = sim.publish(0, &orders, b"1").unwrap();
    sim.run(100);
    assert_eq!(sim.delivered[3].get(&(node_name(0), 1, first)), Some(&1));
    // Cut 1-2: the path 0-1-2-3 breaks, 0-5-4-3 remains.
    sim.cut(links[1]);
    let took = sim.run_until(2_000, Sim::converged).expect("reconverges");
    assert!(took <= 100, "rerouting took {took} ms");
    let second = sim.publish(0, &orders, b"2").unwrap();
    sim.run(100);
    assert_eq!(sim.delivered[3].get(&(node_name(0), 1, second)), Some(&1));
    assert_eq!(
        sim.nodes[0].next_hop(&node_name(3)),
        sim.nodes[0].neighbours().get(&node_name(5)).copied()
    );
    // Now node 4 fails (all its links drop): 3 is cut off from 0 until 1-2 heals.
    sim.cut(links[3]);
    sim.cut(links[4]);
    sim.heal(links[1]);
    sim.run_until(2_000, |sim| {
        sim.nodes[0].reachable().contains(&node_name(3)) && sim.link_is_up(links[1])
    })
    .expect("reroutes back");
    sim.run(100);
    let third = sim.publish(0, &orders, b"3").unwrap();
    sim.run(100);
    assert_eq!(sim.delivered[3].get(&(node_name(0), 1, third)), Some(&1));
}

#[test]
fn queue_groups_get_one_delivery_preferring_the_nearest_member() {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, _) = build(11, SALT, net, Shape::Line, 5);
    let member = InterestEntry::queue(filter("jobs/>"), group());
    sim.set_interest(2, vec![member.clone()]);
    sim.set_interest(4, vec![member.clone()]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged() && interest_known(sim))
            .is_some()
    );
    let jobs = topic("jobs/render");
    for _ in 0..5 {
        sim.publish(0, &jobs, b"job");
    }
    sim.run(200);
    assert_eq!(
        sim.delivered[2].len(),
        5,
        "the nearest member gets every job"
    );
    assert_eq!(sim.delivered[4].len(), 0);
    // From node 4 the local member is preferred: nothing goes to the mesh.
    let now = sim.now();
    let publication = sim.nodes[4]
        .publish_local(now, jobs.clone(), bytes::Bytes::from_static(b"local"))
        .unwrap();
    assert!(publication.links.is_empty() && publication.remote_groups.is_empty());
    // From node 3, equidistant from 2 and 4: one of them, by name.
    sim.drain(4);
    sim.publish(3, &jobs, b"tie");
    sim.run(200);
    assert_eq!(sim.delivered[2].len(), 6);
}

#[test]
fn durable_events_wait_for_a_partition_and_flow_in_order_after_it_heals() {
    let mut net = NetConfig::reliable();
    (net.min_delay_ms, net.max_delay_ms) = (5, 5);
    let (mut sim, links) = build(5, SALT, net, Shape::Line, 3);
    sim.set_interest(2, vec![InterestEntry::durable(filter("orders/>"))]);
    assert!(
        sim.run_until(5_000, |sim| sim.converged() && interest_known(sim))
            .is_some()
    );
    sim.cut(links[1]);
    sim.run(100);
    let orders = topic("orders/eu/created");
    let sequences: Vec<u64> = (0..20)
        .map(|_| sim.publish(0, &orders, b"e").unwrap())
        .collect();
    sim.run(5_000);
    assert_eq!(
        sim.nodes[0].outbox_depth(&node_name(2)),
        20,
        "kept while unreachable"
    );
    assert!(sim.delivered[2].is_empty());
    sim.heal(links[1]);
    sim.run_until(5_000, |sim| sim.nodes[0].outbox_total_depth() == 0)
        .expect("drains");
    let order = &sim.delivered_order[2][&node_name(0)];
    assert_eq!(order, &sequences);
}
