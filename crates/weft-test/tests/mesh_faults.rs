//! Real `weft serve` processes linked into a mesh through fault-injecting proxies
//! ([`weft_test::Proxy`]): links are cut and restored, nodes are killed with SIGKILL and
//! restarted on their data directories, and the events that matter still arrive once.
//!
//! The `weft` binary is built by this test (`cargo build -p weft`, into the same target
//! directory and profile as the test) unless `WEFT_BIN` names one. Every child process is
//! killed when its handle drops; every wait has a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

#[path = "mesh_faults/faults.rs"]
mod faults;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use faults::{WeftNode, read_stream};
use serde_json::json;
use tokio::sync::mpsc;
use weft_test::{Proxy, SseSubscriber};

/// The longest any one scenario may take.
const SCENARIO: Duration = Duration::from_secs(150);
/// How long a reroute may take after a link is cut.
const REROUTE: Duration = Duration::from_secs(5);

// --- (a) live rerouting --------------------------------------------------------------

/// Publishes `orders/<n>` (id `e<n>`) on `node` every `interval` until `stop` fires;
/// reports each accepted sequence number with its publish time.
async fn publish_live(
    client: reqwest::Client,
    url: String,
    interval: Duration,
    published: mpsc::UnboundedSender<(u64, Instant)>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut ticker = tokio::time::interval(interval);
    for sequence in 1.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => return,
        }
        let sent = faults::publish(&client, &url, sequence, "none").await;
        if sent && published.send((sequence, Instant::now())).is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_subscriber_keeps_receiving_once_when_a_ring_link_is_cut() {
    faults::weft_binary(); // built before the clock starts
    tokio::time::timeout(SCENARIO, ring_reroute())
        .await
        .expect("the scenario finished in time");
}

async fn ring_reroute() {
    // Ring a-b-c-d-a, every link through a proxy.
    let a = WeftNode::start("a", &[]).await;
    let a_b = Proxy::start(a.mesh()).await.unwrap();
    let b = WeftNode::start("b", &[a_b.addr()]).await;
    let b_c = Proxy::start(b.mesh()).await.unwrap();
    let c = WeftNode::start("c", &[b_c.addr()]).await;
    let c_d = Proxy::start(c.mesh()).await.unwrap();
    let d_a = Proxy::start(a.mesh()).await.unwrap();
    let d = WeftNode::start("d", &[c_d.addr(), d_a.addr()]).await;
    for node in [&a, &b, &c, &d] {
        node.wait_status("all four nodes reachable", |status| {
            status["reachable"] == 4
        })
        .await;
    }

    let mut subscriber =
        SseSubscriber::connect(b.client(), &b.url("/v1/subscribe?filter=orders/>"))
            .await
            .unwrap();
    a.wait_for_interest("b").await;

    let (published_tx, mut published) = mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let publisher = tokio::spawn(publish_live(
        a.client().clone(),
        a.url(""),
        Duration::from_millis(2),
        published_tx,
        stopped,
    ));
    let (received_tx, mut received) = mpsc::unbounded_channel();
    let collector = tokio::spawn(async move {
        while let Ok(event) = subscriber.next_event().await {
            let sequence: u64 = event.id().trim_start_matches('e').parse().unwrap();
            if received_tx.send((sequence, Instant::now())).is_err() {
                return;
            }
        }
    });

    let mut seen: Vec<u64> = Vec::new();
    let mut publish_times: HashMap<u64, Instant> = HashMap::new();
    let mut drain = |seen: &mut Vec<u64>, publish_times: &mut HashMap<u64, Instant>| {
        while let Ok((sequence, at)) = published.try_recv() {
            publish_times.insert(sequence, at);
        }
        let mut latest = None;
        while let Ok((sequence, at)) = received.try_recv() {
            seen.push(sequence);
            latest = Some(at);
        }
        latest
    };
    // Traffic flows on the direct link first.
    let deadline = Instant::now() + faults::WAIT;
    while seen.len() < 50 {
        assert!(
            Instant::now() < deadline,
            "only {} events arrived",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        drain(&mut seen, &mut publish_times);
    }
    let status = a.status().await;
    let direct = faults::link_to(&status, "b").expect("a links to b");
    assert!(direct["events_out"].as_u64().unwrap() >= 50, "{status}");

    a_b.cut();
    let cut_at = Instant::now();
    // Some event published after the cut arrives through d and c.
    let rerouted = loop {
        assert!(
            cut_at.elapsed() < REROUTE,
            "no event published after the cut arrived within {REROUTE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        drain(&mut seen, &mut publish_times);
        let after_cut = seen
            .iter()
            .find(|sequence| publish_times.get(sequence).is_some_and(|at| *at > cut_at));
        if let Some(&first) = after_cut {
            break first;
        }
    };
    let convergence = cut_at.elapsed();
    // Keep publishing for a while on the new path, then let the tail arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    publisher.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain(&mut seen, &mut publish_times);
    collector.abort();

    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event arrived twice");
    let after: Vec<u64> = seen.iter().copied().filter(|s| *s >= rerouted).collect();
    let last = *publish_times.keys().max().unwrap();
    assert_eq!(
        after.len() as u64,
        last - rerouted + 1,
        "after the reroute every event arrives (sent {rerouted}..={last})"
    );
    let status = a.status().await;
    assert!(faults::link_to(&status, "b").is_none(), "{status}");
    let via_d = faults::link_to(&status, "d").expect("a links to d");
    assert!(
        via_d["events_out"].as_u64().unwrap() >= after.len() as u64,
        "{status}"
    );
    eprintln!("reroute: first event after the cut arrived {convergence:?} after it");

    // Restored, the direct link comes back.
    a_b.restore();
    let status = a
        .wait_status("the link to b re-established", |status| {
            faults::link_to(status, "b").is_some()
        })
        .await;
    assert!(faults::link_to(&status, "d").is_some(), "{status}");
    let status = b
        .wait_status("b's join reconnected", |status| {
            status["joins"][0]["connected"] == true
        })
        .await;
    assert!(
        status["joins"][0]["reconnects"].as_u64().unwrap() >= 1,
        "{status}"
    );
    let link = faults::link_to(&status, "a").unwrap();
    assert!(link["reconnects"].as_u64().unwrap() >= 1, "{status}");
}

// --- (b)–(d) durable delivery to a remote stream --------------------------------------

/// What goes wrong while events are published towards the remote stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The link is cut for a third of the events, then restored.
    CutLink,
    /// The receiving node is killed with SIGKILL and restarted on its data directory.
    KillReceiver,
    /// The publishing node is killed (while the link is cut, so its outbox holds
    /// events) and restarted on its data directory.
    KillPublisher,
}

/// Events published in each scenario; the fault hits at a third, is healed at two.
const DURABLE_EVENTS: u64 = 300;

/// Creates stream `orders`; without a dedupe window (`dedupe_window: 0`) nothing but the
/// mesh can keep an event the receiver stored before from being stored again.
async fn create_stream(node: &WeftNode, dedupe_window: Option<u64>) {
    let mut body = json!({ "name": "orders", "filters": ["orders/>"], "partitions": 1 });
    if let Some(window) = dedupe_window {
        body["dedupe_window"] = json!(window);
    }
    let response = node
        .client()
        .post(node.url("/v1/streams"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "stream created: {}",
        response.text().await.unwrap()
    );
}

async fn durable_delivery(fault: Fault) {
    let mut receiver = WeftNode::start("receiver", &[]).await;
    // What the publisher resends after a cut or its own restart the receiver recognises
    // by the publisher's own sequence numbers: no dedupe window is needed. A receiver
    // killed between storing an event and persisting its position (one tick) gets it
    // again; only its streams' dedupe window catches that (docs/guarantees.md).
    let dedupe_window = match fault {
        Fault::CutLink | Fault::KillPublisher => Some(0),
        Fault::KillReceiver => None,
    };
    create_stream(&receiver, dedupe_window).await;
    let proxy = Proxy::start(receiver.mesh()).await.unwrap();
    let mut publisher = WeftNode::start("publisher", &[proxy.addr()]).await;
    publisher.wait_for_interest("receiver").await;

    let third = DURABLE_EVENTS / 3;
    let mut acknowledged = Vec::new();
    let mut sequence = 0;
    while sequence < DURABLE_EVENTS {
        sequence += 1;
        if sequence == third {
            match fault {
                Fault::CutLink | Fault::KillPublisher => proxy.cut(),
                Fault::KillReceiver => receiver.kill_9(),
            }
        }
        if fault == Fault::KillPublisher && sequence == third + third / 2 {
            publisher.kill_9();
            publisher.restart().await;
        }
        if sequence == 2 * third {
            match fault {
                Fault::CutLink | Fault::KillPublisher => proxy.restore(),
                Fault::KillReceiver => {
                    receiver.restart().await;
                    proxy.set_target(receiver.mesh());
                }
            }
        }
        let url = publisher.url("");
        if faults::publish(publisher.client(), &url, sequence, "durable").await {
            acknowledged.push(sequence);
        }
    }
    assert!(
        acknowledged.len() as u64 >= DURABLE_EVENTS * 9 / 10,
        "most publishes were acknowledged: {}",
        acknowledged.len()
    );

    // Every acknowledged event arrives once, in publish order.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let stored = read_stream(&receiver, "orders").await;
        let have: BTreeSet<u64> = stored.iter().copied().collect();
        if acknowledged.iter().all(|sequence| have.contains(sequence)) {
            break stored;
        }
        let missing: Vec<u64> = acknowledged
            .iter()
            .copied()
            .filter(|sequence| !have.contains(sequence))
            .take(20)
            .collect();
        assert!(
            Instant::now() < deadline,
            "acknowledged events missing from the remote stream (first 20): {missing:?}; \
             publisher: {}; receiver: {}",
            publisher.status().await,
            receiver.status().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for sequence in &stored {
        *counts.entry(*sequence).or_default() += 1;
    }
    for sequence in &acknowledged {
        assert_eq!(counts[sequence], 1, "event {sequence} is stored once");
    }
    let in_stream_order: Vec<u64> = stored
        .iter()
        .copied()
        .filter(|sequence| acknowledged.binary_search(sequence).is_ok())
        .collect();
    assert_eq!(in_stream_order, acknowledged, "publish order is kept");
    eprintln!(
        "{fault:?}: {} of {DURABLE_EVENTS} publishes acknowledged, {} events in the remote stream",
        acknowledged.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_reach_a_remote_stream_once_in_order_after_a_link_cut() {
    faults::weft_binary(); // built before the clock starts
    tokio::time::timeout(SCENARIO, durable_delivery(Fault::CutLink))
        .await
        .expect("the scenario finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_reach_a_remote_stream_once_in_order_after_the_receiver_is_killed() {
    faults::weft_binary(); // built before the clock starts
    tokio::time::timeout(SCENARIO, durable_delivery(Fault::KillReceiver))
        .await
        .expect("the scenario finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_reach_a_remote_stream_once_in_order_after_the_publisher_is_killed() {
    faults::weft_binary(); // built before the clock starts
    tokio::time::timeout(SCENARIO, durable_delivery(Fault::KillPublisher))
        .await
        .expect("the scenario finished in time");
}
