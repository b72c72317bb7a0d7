//! Durable store-and-forward, queue groups and route explanation across whole nodes.
//!
//! The line is A – B – C with B as the hub (A and C dial B's fixed address), so A and C
//! can be stopped and started again on the same data directory. C's stream `orders`
//! captures `orders/>`: that is C's durable interest, advertised to the mesh.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_broker::{Principal, SubscribeOptions};
use weft_core::Filter;
use weft_server::RunningNode;
use weft_server::config::{Config, Listen};
use weft_test::WAIT;

/// A node whose data directory outlives it (so it can be started again).
struct Node {
    running: Option<RunningNode>,
    config: Config,
    http: SocketAddr,
    client: reqwest::Client,
}

impl Node {
    async fn start(name: &str, dir: PathBuf, join: Option<SocketAddr>, listen: bool) -> Node {
        let mut config = Config::defaults();
        config.node_name = name.parse().unwrap();
        config.data_dir = dir;
        let loopback = Listen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.http.listen = loopback;
        config.kafka.listen = Listen::Off;
        config.mqtt.listen = Listen::Off;
        config.mesh.listen = if listen { loopback } else { Listen::Off };
        config.mesh.join = join.into_iter().collect();
        Node::start_config(config).await
    }

    async fn start_config(config: Config) -> Node {
        let listeners = weft_server::bind(&config).await.unwrap();
        let running = weft_server::start(&config, listeners).await.unwrap();
        let http = running.addresses()["http"];
        Node {
            running: Some(running),
            config,
            http,
            client: reqwest::Client::new(),
        }
    }

    fn mesh(&self) -> Option<SocketAddr> {
        self.running.as_ref()?.addresses().get("mesh").copied()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.unwrap();
        }
    }

    async fn restart(&mut self) {
        self.stop().await;
        let config = self.config.clone();
        *self = Node::start_config(config).await;
    }

    async fn get(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Publishes order `sequence`; returns the HTTP status and body.
    async fn publish(&self, sequence: u64) -> (u16, String) {
        let response = self
            .client
            .post(self.url(&format!("/v1/topics/orders/{sequence}")))
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("e{sequence}"))
            .header("ce-source", "/mesh-durable")
            .header("ce-type", "order")
            .header("content-type", "text/plain")
            .body(sequence.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn create_stream(&self) {
        self.create_stream_with(json!({})).await;
    }

    /// Creates stream `orders` (`orders/>`, one partition) with `settings` on top.
    async fn create_stream_with(&self, settings: Value) {
        let mut body = json!({ "name": "orders", "filters": ["orders/>"], "partitions": 1 });
        if let (Some(body), Some(settings)) = (body.as_object_mut(), settings.as_object()) {
            body.extend(settings.clone());
        }
        let response = self
            .client
            .post(self.url("/v1/streams"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// The sequence numbers in stream `orders`, in stream order.
    async fn stream(&self) -> Vec<u64> {
        let page = self
            .get("/v1/streams/orders/events?partition=0&max=1000&from=0")
            .await;
        page["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|event| {
                let id = event["id"].as_str().unwrap();
                id.trim_start_matches('e').parse().unwrap()
            })
            .collect()
    }

    async fn durable_counters(&self) -> Value {
        self.get("/v1/mesh").await["counters"]["durable"].clone()
    }

    /// Waits until every durable event published here is acknowledged.
    async fn wait_for_empty_outbox(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let counters = self.durable_counters().await;
            if counters["outbox_depth"] == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the outbox never drained: {counters}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until an event on `topic` published here would be stored for `peer`.
    async fn wait_for_durable_interest(&self, topic: &str, peer: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let route = self.get(&format!("/v1/mesh/route?topic={topic}")).await;
            let durable = route["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|target| target["node"] == peer && target["durable"] == true);
            if durable {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no durable interest of {peer}: {route}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until C's stream holds exactly `expected`, in order.
async fn wait_for_stream(node: &Node, expected: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored = node.stream().await;
        if stored == expected {
            return;
        }
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        stored
            .iter()
            .for_each(|sequence| *counts.entry(*sequence).or_default() += 1);
        assert!(
            counts.values().all(|count| *count == 1),
            "an event is stored twice: {stored:?}"
        );
        assert!(
            Instant::now() < deadline,
            "stream holds {stored:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Line {
    a: Node,
    b: Node,
    c: Node,
    _dirs: [tempfile::TempDir; 3],
}

async fn line(configure_a: impl FnOnce(&mut Config)) -> Line {
    line_with(configure_a, json!({})).await
}

/// The line, C's stream with `stream` settings on top of the defaults.
async fn line_with(configure_a: impl FnOnce(&mut Config), stream: Value) -> Line {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let b = Node::start("b", dirs[1].path().to_owned(), None, true).await;
    let hub = b.mesh();
    let c = Node::start("c", dirs[2].path().to_owned(), hub, false).await;
    c.create_stream_with(stream).await;
    let mut a = Node::start("a", dirs[0].path().to_owned(), hub, false).await;
    configure_a(&mut a.config);
    a.restart().await;
    a.wait_for_durable_interest("orders/1", "c").await;
    Line {
        a,
        b,
        c,
        _dirs: dirs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_while_the_receiver_is_down_arrive_once_and_in_order_after_it_restarts() {
    let mut line = line(|_| {}).await;
    for sequence in 1..=10 {
        assert_eq!(line.a.publish(sequence).await.0, 202);
    }
    wait_for_stream(&line.c, &(1..=10).collect::<Vec<_>>()).await;
    line.a.wait_for_empty_outbox().await;

    line.c.stop().await;
    for sequence in 11..=30 {
        assert_eq!(
            line.a.publish(sequence).await.0,
            202,
            "accepted while c is down"
        );
    }
    let counters = line.a.durable_counters().await;
    assert_eq!(counters["outbox_depth"], 20, "kept at a: {counters}");
    // `/v1/node` reads gauges the mesh refreshes every tick.
    let deadline = Instant::now() + WAIT;
    loop {
        let node = line.a.get("/v1/node").await;
        if node["counters"]["mesh_outbox_depth"] == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "{node}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    line.c.restart().await;
    wait_for_stream(&line.c, &(1..=30).collect::<Vec<_>>()).await;
    line.a.wait_for_empty_outbox().await;
    line.b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origin_remembers_its_outbox_and_the_receivers_interest_across_its_own_restart() {
    let mut line = line(|_| {}).await;
    line.c.stop().await;
    for sequence in 1..=5 {
        assert_eq!(line.a.publish(sequence).await.0, 202);
    }
    // a restarts while c is away: its outbox and c's durable interest (sticky) are
    // read back from its data directory.
    line.a.restart().await;
    for sequence in 6..=10 {
        assert_eq!(line.a.publish(sequence).await.0, 202);
    }
    let counters = line.a.durable_counters().await;
    assert_eq!(counters["outbox_depth"], 10, "{counters}");

    line.c.restart().await;
    wait_for_stream(&line.c, &(1..=10).collect::<Vec<_>>()).await;
    line.b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_refuses_durable_publishes_with_a_clear_error_and_counts_them() {
    let mut line = line(|config| config.mesh.outbox_max_events = 3).await;
    // a's own stream shows whether a refused publish was stored locally.
    line.a.create_stream().await;
    line.c.stop().await;
    for sequence in 1..=3 {
        assert_eq!(line.a.publish(sequence).await.0, 202);
    }
    // Once the mesh has published which destinations are full, the refusal comes
    // before anything is stored.
    let deadline = Instant::now() + WAIT;
    while line.a.durable_counters().await["full"] != json!(["c"]) {
        assert!(Instant::now() < deadline, "c's outbox never reported full");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = line.a.publish(4).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("outbox for node c is full"), "{body}");
    assert_eq!(
        line.a.stream().await,
        vec![1, 2, 3],
        "refused before storing"
    );
    let counters = line.a.durable_counters().await;
    assert_eq!(counters["publishes_refused"], 1, "{counters}");
    assert_eq!(counters["outbox_depth"], 3);

    // Once c is back and has acknowledged, publishes are accepted again.
    line.c.restart().await;
    wait_for_stream(&line.c, &[1, 2, 3]).await;
    let deadline = Instant::now() + WAIT;
    while line.a.publish(5).await.0 != 202 {
        assert!(Instant::now() < deadline, "publishes stay refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_stream(&line.c, &[1, 2, 3, 5]).await;
    line.b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_group_gets_each_event_once_preferring_a_local_member() {
    let line = line(|_| {}).await;
    let group = SubscribeOptions {
        group: Some(Arc::from("workers")),
        ..SubscribeOptions::default()
    };
    let principal = Principal::named("test");
    let filters = vec![Filter::new("jobs/>").unwrap()];
    let broker = |node: &Node| node.running.as_ref().unwrap().broker().clone();
    let mut remote = broker(&line.c)
        .subscribe(&principal, filters.clone(), group.clone())
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let route = line.a.get("/v1/mesh/route?topic=jobs/1").await;
        if route["groups"][0]["chosen"] == "c" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "c's member never advertised: {route}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let publish = |node: &Node, sequence: u64| {
        let request = node
            .client
            .post(node.url(&format!("/v1/topics/jobs/{sequence}")))
            .header("content-type", "text/plain")
            .body(sequence.to_string());
        async move { assert_eq!(request.send().await.unwrap().status(), 202) }
    };
    // No member on a: every job goes to the one on c, once.
    for sequence in 1..=5 {
        publish(&line.a, sequence).await;
    }
    for _ in 1..=5 {
        tokio::time::timeout(WAIT, remote.recv())
            .await
            .unwrap()
            .unwrap();
    }
    // A member on a: preferred, nothing crosses the mesh for the group.
    let mut local = broker(&line.a)
        .subscribe(&principal, filters, group)
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let route = line.a.get("/v1/mesh/route?topic=jobs/1").await;
        if route["groups"][0]["chosen"] == "a" {
            break;
        }
        assert!(Instant::now() < deadline, "local member not seen: {route}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for sequence in 6..=10 {
        publish(&line.a, sequence).await;
    }
    for _ in 6..=10 {
        tokio::time::timeout(WAIT, local.recv())
            .await
            .unwrap()
            .unwrap();
    }
    // A published on c is served on c (its own member), once.
    publish(&line.c, 11).await;
    tokio::time::timeout(WAIT, remote.recv())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        remote.try_recv().is_none(),
        "the remote member got a job twice"
    );
    assert!(
        local.try_recv().is_none(),
        "the local member got a remote job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_explains_the_path_the_matching_interest_and_durability() {
    let line = line(|_| {}).await;
    let route = line.a.get("/v1/mesh/route?topic=orders/eu/1").await;
    let target = &route["targets"][0];
    assert_eq!(target["node"], "c", "{route}");
    assert_eq!(target["durable"], true);
    assert_eq!(target["path"], json!(["a", "b", "c"]));
    assert_eq!(target["matches"][0]["filter"], "orders/>");
    assert_eq!(target["matches"][0]["kind"], "durable");
    assert_eq!(route["edges"], json!([["a", "b"], ["b", "c"]]));
    assert_eq!(route["next_hops"], json!(["b"]));

    let nowhere = line.a.get("/v1/mesh/route?topic=users/1").await;
    assert_eq!(nowhere["targets"], json!([]), "{nowhere}");
    let response = line
        .a
        .client
        .get(line.a.url("/v1/mesh/route?topic=orders/%2A/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "an invalid topic is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_origin_keeps_storing_for_a_receiver_it_cannot_reach_from_its_own_memory() {
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let mut c = Node::start("c", dirs[1].path().to_owned(), None, true).await;
    c.create_stream().await;
    let mut a = Node::start("a", dirs[0].path().to_owned(), c.mesh(), true).await;
    a.wait_for_durable_interest("orders/1", "c").await;
    // The remembered interest is written within a second of changing.
    let file = dirs[0].path().join("mesh").join("durable-interest.json");
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&file).is_ok_and(|text| text.contains("orders/>")) {
        assert!(
            Instant::now() < deadline,
            "durable interest never persisted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c_config = c.config.clone();
    c.stop().await;
    a.restart().await;
    for sequence in 1..=5 {
        assert_eq!(a.publish(sequence).await.0, 202);
    }
    let counters = a.durable_counters().await;
    assert_eq!(counters["outbox_depth"], 5, "kept for c: {counters}");
    // c comes back on a new port: a's join address is stale, so c dials a instead.
    let mut c_config = c_config;
    c_config.mesh.join = a.mesh().into_iter().collect();
    let c = Node::start_config(c_config).await;
    wait_for_stream(&c, &[1, 2, 3, 4, 5]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_a_departed_node_drops_what_was_kept_for_it() {
    let mut line = line(|_| {}).await;
    let forget = |node: &Node, name: &str| {
        let request = node
            .client
            .delete(node.url(&format!("/v1/mesh/nodes/{name}")))
            .send();
        async move {
            let response = request.await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    // c is reachable: it would advertise its interest again.
    assert_eq!(forget(&line.a, "c").await.0, 409);
    line.c.stop().await;
    for sequence in 1..=5 {
        assert_eq!(line.a.publish(sequence).await.0, 202);
    }
    assert_eq!(line.a.durable_counters().await["outbox_depth"], 5);
    // Gone for good: forgotten, with what was kept for it.
    let deadline = Instant::now() + WAIT;
    let answer = loop {
        let (status, answer) = forget(&line.a, "c").await;
        if status == 200 {
            break answer;
        }
        // Until a sees c unreachable, c still counts as reachable.
        assert_eq!(status, 409, "{answer}");
        assert!(Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer["dropped_events"], 5, "{answer}");
    assert_eq!(line.a.durable_counters().await["outbox_depth"], 0);
    // Nothing is kept for it any more, and a second forget finds nothing.
    assert_eq!(line.a.publish(6).await.0, 202);
    assert_eq!(line.a.durable_counters().await["outbox_depth"], 0);
    assert_eq!(forget(&line.a, "c").await.0, 404);
    assert_eq!(forget(&line.a, "not a name").await.0, 400);
    line.b.stop().await;
    line.a.stop().await;
}

/// C's stream keeps no dedupe window: only the mesh can tell an event it stored before.
fn without_dedupe_window() -> Value {
    json!({ "dedupe_window": 0 })
}

/// The events stored in C's stream, each at most once (panics otherwise).
async fn stored_once(node: &Node) -> Vec<u64> {
    let stored = node.stream().await;
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    stored
        .iter()
        .for_each(|sequence| *counts.entry(*sequence).or_default() += 1);
    assert!(
        counts.values().all(|count| *count == 1),
        "an event is stored twice: {stored:?}"
    );
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_restarts_after_the_receiver_stored_but_before_it_heard_the_ack_resends_and_nothing_is_stored_twice()
 {
    let mut line = line_with(|_| {}, without_dedupe_window()).await;
    line.c.stop().await;
    for sequence in 1..=10 {
        assert_eq!(line.a.publish(sequence).await.0, 202);
    }
    // a's outbox file for c as it was before c acknowledged anything (fsynced before
    // each 202).
    let outbox = line.a.config.data_dir.join("mesh").join("outbox").join("c");
    let unacknowledged = std::fs::read(&outbox).unwrap();

    line.c.restart().await;
    wait_for_stream(&line.c, &(1..=10).collect::<Vec<_>>()).await;
    line.a.wait_for_empty_outbox().await;
    // (a moves what waits for c to a new stream when it sees c's new incarnation: c
    // may already have passed over some of them once.)
    let before = line.c.durable_counters().await["already_stored"]
        .as_u64()
        .unwrap();
    // a stops, and its disk says what it would say had it crashed before the acks
    // reached its file (ack records are not fsynced): all ten wait for c.
    line.a.stop().await;
    std::fs::write(&outbox, &unacknowledged).unwrap();
    // However long a stays away, c's stream has no window to catch a second copy. a
    // resends all ten as soon as it is back.
    line.a.restart().await;
    line.a.wait_for_empty_outbox().await;
    assert_eq!(
        stored_once(&line.c).await,
        (1..=10).collect::<Vec<_>>(),
        "passed over, acknowledged, not stored again"
    );
    let counters = line.c.durable_counters().await;
    let passed_over = counters["already_stored"].as_u64().unwrap() - before;
    assert_eq!(passed_over, 10, "all resent: {counters}");

    // The origin's new life goes on as usual.
    assert_eq!(line.a.publish(11).await.0, 202);
    wait_for_stream(&line.c, &(1..=11).collect::<Vec<_>>()).await;
    line.a.wait_for_empty_outbox().await;
    line.b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_and_origin_restarting_while_events_flow_store_each_event_once_without_a_dedupe_window()
 {
    let mut line = line_with(|_| {}, without_dedupe_window()).await;
    let (client, url) = (line.a.client.clone(), line.a.url(""));
    let publish = |from: u64, to: u64| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            for sequence in from..=to {
                let response = client
                    .post(format!("{url}/v1/topics/orders/{sequence}"))
                    .header("ce-specversion", "1.0")
                    .header("ce-id", format!("e{sequence}"))
                    .header("ce-source", "/mesh-durable")
                    .header("ce-type", "order")
                    .header("content-type", "text/plain")
                    .body(sequence.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 202);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // c stops and starts again (gracefully) while a publishes: what c had stored when
    // it stopped is remembered, so it is not stored again when a resends it.
    let publisher = publish(1, 150);
    tokio::time::sleep(Duration::from_millis(150)).await;
    line.c.restart().await;
    publisher.await.unwrap();
    wait_for_stream(&line.c, &(1..=150).collect::<Vec<_>>()).await;

    // a stops and starts again right after publishing, its last acks still on their
    // way: it resends those events and c passes over them.
    publish(151, 250).await.unwrap();
    line.a.restart().await;
    line.a.wait_for_empty_outbox().await;
    wait_for_stream(&line.c, &(1..=250).collect::<Vec<_>>()).await;
    line.b.stop().await;
}
