//! Macro numbers of the mesh I/O layer, in one process: nodes with their own in-memory
//! brokers linked over loopback TCP (`MeshContext` + `serve`, the same code a `weft
//! serve --mesh` node runs). Events are published with `Broker::publish` (no protocol
//! front end) and received by a broker subscription on the last node.
//!
//! `cargo run --release -p weft-mesh --example mesh_bench -- [--plain] [--uncompressed]
//! [--zstd] [--only throughput|latency|interest|reroute|ceiling|link]` (`--plain`: no
//! batching, no compression, as before batching existed; `--uncompressed`: batching
//! only; `--zstd`: zstd instead of lz4). Prints one line per measurement. See
//! `scripts/bench/mesh.sh`. `ceiling` and `link` (`parts.rs`) measure parts of the path
//! alone and run only when asked for.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod parts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::TcpListener;
use weft_broker::{Broker, Principal, SubscribeOptions, Subscription};
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};
use weft_mesh::server::{MeshContext, MeshHandle, MeshOptions, MeshStatus, serve};
use weft_mesh::wire::Compression;

/// Events in flight at most in the throughput runs (published, not yet received).
const WINDOW: u64 = 20_000;
const THROUGHPUT_EVENTS: u64 = 400_000;
const LATENCY_RATE: u64 = 10_000;
const LATENCY_SECONDS: u64 = 3;

#[derive(Clone, Copy)]
struct Mode {
    batching: bool,
    compression: Option<Compression>,
}

struct Node {
    name: String,
    broker: Broker,
    handle: MeshHandle,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn start(mode: Mode, names: &[&str], edges: &[(usize, usize)]) -> Vec<Node> {
    let mut listeners = Vec::new();
    for _ in names {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut nodes = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        let mut options = MeshOptions::new("bench", names[index]);
        options.join = edges
            .iter()
            .filter(|(from, _)| *from == index)
            .map(|(_, to)| addrs[*to])
            .collect();
        options.batching = mode.batching;
        options.compression = mode.compression;
        options.link_queue = 65_536;
        let broker = Broker::default();
        let handle = MeshContext::start(broker.clone(), options).unwrap();
        tokio::spawn(serve(listener, handle.clone(), std::future::pending()));
        nodes.push(Node {
            name: names[index].to_owned(),
            broker,
            handle,
        });
    }
    for node in &nodes {
        wait(node, |status| status.reachable == names.len()).await;
    }
    nodes
}

async fn wait(node: &Node, done: impl Fn(&MeshStatus) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let status = node.handle.status().await.unwrap();
        if done(&status) {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{status:#?}");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn line(count: usize) -> Vec<(usize, usize)> {
    (1..count).map(|index| (index, index - 1)).collect()
}

/// Subscribes on the last node to `bench/>` and waits until the first knows it.
async fn subscribe(nodes: &[Node]) -> Subscription {
    let last = nodes.last().unwrap();
    let filter = Filter::new("bench/>").unwrap();
    let options = SubscribeOptions {
        queue_capacity: 1 << 20,
        ..SubscribeOptions::default()
    };
    let subscription = last
        .broker
        .subscribe(&Principal::anonymous(), vec![filter.clone()], options)
        .unwrap();
    last.handle.set_local_interest(vec![filter]).await.unwrap();
    let name = last.name.clone();
    wait(&nodes[0], |status| {
        status.node(&name).is_some_and(|node| node.interest > 0)
    })
    .await;
    subscription
}

/// A 100-byte data payload that starts with `stamp` (the publish time in µs).
fn event(origin: &str, sequence: u64, stamp: u64) -> Event {
    let mut data = format!("{stamp:020}:{sequence:020}:").into_bytes();
    data.resize(100, b'x');
    let attributes = Attributes::new(format!("e{sequence}"), "/bench", "bench.event").unwrap();
    let cloudevent = CloudEvent::new(attributes, Some(Bytes::from(data)));
    Event::new(
        cloudevent,
        Topic::new("bench/events").unwrap(),
        origin,
        SystemTime::now(),
    )
}

fn stamp_of(event: &Event) -> u64 {
    let data = event.cloudevent.data.as_deref().unwrap_or_default();
    std::str::from_utf8(&data[..20]).unwrap().parse().unwrap()
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (Linux,
/// 100 ticks per second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime
    // the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
}

/// Events per second over `hops` links, publishing with a bounded window, and events
/// per CPU-second of the whole process (every node's work together).
async fn throughput(mode: Mode, hops: usize) -> (f64, f64, MeshStatus) {
    let names = ["n0", "n1", "n2", "n3"];
    let nodes = start(mode, &names[..=hops], &line(hops + 1)).await;
    let subscription = subscribe(&nodes).await;
    let first = &nodes[0];
    let (rate, per_cpu) = closed_loop(&first.broker, &first.name, subscription).await;
    (rate, per_cpu, first.handle.status().await.unwrap())
}

/// Publishes `THROUGHPUT_EVENTS` events on `broker` as node `origin`, at most `WINDOW`
/// ahead of what `subscription` has received; returns events per second (first publish
/// to last receipt) and per CPU-second of the process.
async fn closed_loop(broker: &Broker, origin: &str, mut subscription: Subscription) -> (f64, f64) {
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let receiver = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(1024);
        while counter.load(Ordering::Relaxed) < THROUGHPUT_EVENTS {
            batch.clear();
            let got = subscription.recv_many(&mut batch, 1024).await.unwrap();
            counter.fetch_add(got as u64, Ordering::Relaxed);
        }
        Instant::now()
    });
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    for sequence in 0..THROUGHPUT_EVENTS {
        while sequence - received.load(Ordering::Relaxed).min(sequence) > WINDOW {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
        broker
            .submit(
                &Principal::anonymous(),
                event(origin, sequence, 0),
                weft_broker::PublishOptions::default(),
            )
            .await
            .unwrap();
    }
    let ended = tokio::time::timeout(Duration::from_secs(60), receiver)
        .await
        .expect("every event arrived")
        .unwrap();
    let rate = THROUGHPUT_EVENTS as f64 / (ended - started).as_secs_f64();
    let per_cpu = THROUGHPUT_EVENTS as f64 / (cpu_seconds() - cpu_started).max(0.01);
    (rate, per_cpu)
}

/// Publish-to-deliver latency percentiles (µs) at a fixed rate over `hops` links.
async fn latency(mode: Mode, hops: usize) -> (u64, u64, u64) {
    let names = ["n0", "n1", "n2", "n3"];
    let nodes = start(mode, &names[..=hops], &line(hops + 1)).await;
    let mut subscription = subscribe(&nodes).await;
    let epoch = Instant::now();
    let total = LATENCY_RATE * LATENCY_SECONDS;
    let receiver = tokio::spawn(async move {
        let mut samples = Vec::with_capacity(total as usize);
        while (samples.len() as u64) < total {
            let event = subscription.recv().await.unwrap();
            let now = epoch.elapsed().as_micros() as u64;
            samples.push(now - stamp_of(&event));
        }
        samples
    });
    let first = &nodes[0];
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let per_tick = LATENCY_RATE / 1000;
    let mut sequence = 0;
    while sequence < total {
        ticker.tick().await;
        for _ in 0..per_tick {
            let stamp = epoch.elapsed().as_micros() as u64;
            let event = event(&first.name, sequence, stamp);
            first
                .broker
                .submit(
                    &Principal::anonymous(),
                    event,
                    weft_broker::PublishOptions::default(),
                )
                .await
                .unwrap();
            sequence += 1;
        }
    }
    let mut samples = tokio::time::timeout(Duration::from_secs(30), receiver)
        .await
        .expect("every event arrived")
        .unwrap();
    // The first tenth warms up.
    samples.drain(..samples.len() / 10);
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), *samples.last().unwrap())
}

/// Time from a subscription's interest on the last of 5 nodes in a line to the first
/// node knowing it, several times (ms).
async fn interest_propagation(mode: Mode) -> Vec<f64> {
    let names = ["n0", "n1", "n2", "n3", "n4"];
    let nodes = start(mode, &names, &line(5)).await;
    let mut times = Vec::new();
    for round in 0..5 {
        let filter = Filter::new(format!("round/{round}/>")).unwrap();
        let started = Instant::now();
        nodes[4]
            .handle
            .set_local_interest(vec![filter])
            .await
            .unwrap();
        let version_seen = wait(&nodes[0], |status| {
            status.node("n4").is_some_and(|node| node.interest > 0)
        });
        version_seen.await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        nodes[4]
            .handle
            .set_local_interest(Vec::new())
            .await
            .unwrap();
        wait(&nodes[0], |status| {
            status.node("n4").is_some_and(|node| node.interest == 0)
        })
        .await;
    }
    times
}

/// Ring a-b-c-d; events from a to c take a-b-c; b is shut down. Time from the shutdown
/// to the first event published after it arriving at c (ms).
async fn reroute(mode: Mode) -> f64 {
    let names = ["a", "b", "c", "d"];
    let nodes = start(mode, &names, &[(1, 0), (2, 1), (3, 2), (0, 3)]).await;
    let filter = Filter::new("bench/>").unwrap();
    let mut subscription = nodes[2]
        .broker
        .subscribe(
            &Principal::anonymous(),
            vec![filter.clone()],
            SubscribeOptions::default(),
        )
        .unwrap();
    nodes[2]
        .handle
        .set_local_interest(vec![filter])
        .await
        .unwrap();
    wait(&nodes[0], |status| {
        status.node("c").is_some_and(|node| node.interest > 0)
    })
    .await;
    let epoch = Instant::now();
    let publisher = nodes[0].broker.clone();
    let publishing = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_micros(500));
        for sequence in 0.. {
            ticker.tick().await;
            let stamp = epoch.elapsed().as_micros() as u64;
            let event = event("a", sequence, stamp);
            let _ = publisher
                .submit(
                    &Principal::anonymous(),
                    event,
                    weft_broker::PublishOptions::default(),
                )
                .await;
        }
    });
    // Traffic flows through b first.
    let _ = subscription.recv().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cut = epoch.elapsed().as_micros() as u64;
    nodes[1].handle.shutdown();
    let arrived = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), subscription.recv())
            .await
            .expect("rerouted in time")
            .unwrap();
        if stamp_of(&event) > cut {
            break epoch.elapsed().as_micros() as u64;
        }
    };
    publishing.abort();
    (arrived - cut) as f64 / 1000.0
}

fn wire_summary(status: &MeshStatus) -> String {
    let link = status.links.first().unwrap();
    format!(
        "link out: {} frames, {} B on the wire, {} B uncompressed ({:.2}x), {} dropped",
        link.frames_out,
        link.bytes_out,
        link.uncompressed_bytes_out,
        link.uncompressed_bytes_out as f64 / link.bytes_out.max(1) as f64,
        link.events_dropped
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|arg| arg == name);
    let plain = flag("--plain");
    let only = args
        .iter()
        .position(|arg| arg == "--only")
        .and_then(|index| args.get(index + 1))
        .cloned();
    let runs = |part: &str| only.as_deref().is_none_or(|only| only == part);
    let asked = |part: &str| only.as_deref() == Some(part);
    let mode = Mode {
        batching: !plain,
        compression: if plain || flag("--uncompressed") {
            None
        } else if args.iter().any(|arg| arg == "--zstd") {
            Some(Compression::Zstd)
        } else {
            Some(Compression::Lz4)
        },
    };
    let label = match (mode.batching, mode.compression) {
        (false, _) => "plain (no batching, no compression)",
        (true, Some(Compression::Zstd)) => "batching + zstd",
        (true, Some(Compression::Lz4)) => "batching + lz4",
        (true, None) => "batching, no compression",
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("mode: {label}");
        if asked("ceiling") {
            let (rate, per_cpu) = parts::ceiling().await;
            println!(
                "ceiling, one broker to one subscription (no mesh): {rate:.0} events/s \
                 ({per_cpu:.0} per CPU-second)"
            );
        }
        if asked("link") {
            for json in [false, true] {
                let (rate, per_cpu) = parts::link(mode, json).await;
                let envelope = if json { "json" } else { "binary" };
                println!(
                    "link alone, {envelope} envelope (frames encoded, batched, compressed, \
                     over TCP, decoded; no brokers): {rate:.0} events/s ({per_cpu:.0} per \
                     CPU-second)"
                );
            }
        }
        for hops in (1..=3).filter(|_| runs("throughput")) {
            let (rate, per_cpu, status) = throughput(mode, hops).await;
            println!(
                "throughput {hops} hop(s): {rate:.0} events/s of 100 B data \
                 ({per_cpu:.0} per CPU-second, all nodes); {}",
                wire_summary(&status)
            );
        }
        for hops in (1..=3).filter(|_| runs("latency")) {
            let (p50, p99, max) = latency(mode, hops).await;
            println!(
                "latency {hops} hop(s) at {LATENCY_RATE} events/s: p50 {p50} µs, p99 {p99} µs, max {max} µs"
            );
        }
        if runs("interest") {
            let times = interest_propagation(mode).await;
        let rendered: Vec<String> = times.iter().map(|ms| format!("{ms:.1}")).collect();
        println!(
            "interest propagation across 5 nodes (4 links): {} ms",
            rendered.join(", ")
        );
        }
        if !runs("reroute") {
            return;
        }
        let rounds: Vec<String> = [reroute(mode).await, reroute(mode).await, reroute(mode).await]
            .iter()
            .map(|ms| format!("{ms:.1}"))
            .collect();
        println!(
            "reroute after a transit node stops (ring of 4): {} ms",
            rounds.join(", ")
        );
    });
}
