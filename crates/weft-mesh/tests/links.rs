//! In-process meshes over real TCP links on 127.0.0.1:0, each node with its own broker.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use weft_broker::{Broker, Principal, PublishOptions, SubscribeOptions, Subscription};
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};
use weft_mesh::server::{MeshContext, MeshHandle, MeshOptions, MeshStatus, serve};

const LIMIT: Duration = Duration::from_secs(10);

struct TestNode {
    name: String,
    broker: Broker,
    handle: MeshHandle,
    addr: SocketAddr,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

fn options(mesh: &str, name: &str, join: Vec<SocketAddr>) -> MeshOptions {
    let mut options = MeshOptions::new(mesh, name);
    options.join = join;
    options.heartbeat_interval = Duration::from_millis(200);
    options.link_timeout = Duration::from_secs(3);
    options.reconnect_max = Duration::from_millis(500);
    options
}

fn start_on(listener: TcpListener, options: MeshOptions) -> TestNode {
    let broker = Broker::default();
    let addr = listener.local_addr().unwrap();
    let name = options.node.clone();
    let handle = MeshContext::start(broker.clone(), options).unwrap();
    tokio::spawn(serve(listener, handle.clone(), std::future::pending()));
    TestNode {
        name,
        broker,
        handle,
        addr,
    }
}

/// Starts `names` linked by `edges` (indexes; the first of each pair dials the second).
async fn mesh(names: &[&str], edges: &[(usize, usize)]) -> Vec<TestNode> {
    let mut listeners = Vec::new();
    for _ in names {
        listeners.push(bind().await);
    }
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let nodes: Vec<TestNode> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let join = edges
                .iter()
                .filter(|(from, _)| *from == i)
                .map(|(_, to)| addrs[*to])
                .collect();
            start_on(listener, options("test", names[i], join))
        })
        .collect();
    let count = names.len();
    for node in &nodes {
        wait_status(node, |status| status.reachable == count).await;
    }
    nodes
}

async fn wait_status(node: &TestNode, check: impl Fn(&MeshStatus) -> bool) -> MeshStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        let status = node.handle.status().await.unwrap();
        if check(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting on {}: {status:#?}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Subscribes `count` times on `node` to `filter`, advertises it, and waits until every
/// node of `all` knows the interest.
async fn subscribe(
    node: &TestNode,
    all: &[TestNode],
    filter: &str,
    count: usize,
) -> Vec<Subscription> {
    let filter = Filter::new(filter).unwrap();
    let subscriptions = (0..count)
        .map(|_| {
            node.broker
                .subscribe(
                    &Principal::anonymous(),
                    vec![filter.clone()],
                    SubscribeOptions::default(),
                )
                .unwrap()
        })
        .collect();
    node.handle.set_local_interest(vec![filter]).await.unwrap();
    for other in all {
        wait_status(other, |status| {
            status.node(&node.name).is_some_and(|n| n.interest > 0)
        })
        .await;
    }
    subscriptions
}

async fn publish(node: &TestNode, topic: &str, id: &str) {
    publish_on(&node.broker, &node.name, topic, id).await;
}

async fn publish_on(broker: &Broker, origin: &str, topic: &str, id: &str) {
    let attributes = Attributes::new(id, "/test", "test.event").unwrap();
    let cloudevent = CloudEvent::new(attributes, Some(Bytes::from_static(b"{\"n\":1}")));
    let mut event = Event::new(
        cloudevent,
        Topic::new(topic).unwrap(),
        origin,
        SystemTime::now(),
    );
    event.key = Some(Bytes::from_static(b"k\x00y"));
    broker
        .submit(
            &Principal::anonymous(),
            event,
            weft_broker::PublishOptions::default(),
        )
        .await
        .unwrap();
}

async fn recv(subscription: &mut Subscription, within: Duration) -> Option<Arc<Event>> {
    timeout(within, subscription.recv())
        .await
        .ok()
        .map(|event| event.unwrap())
}

/// Publishes `count` events on `from` and checks every subscription gets each exactly
/// once (a final marker event flushes the paths), with the origin and key kept.
async fn exactly_once(from: &TestNode, subscriptions: &mut [Subscription], count: usize) {
    for i in 0..count {
        publish(from, &format!("orders/{i}"), &format!("e{i}")).await;
    }
    publish(from, "orders/end", "end").await;
    for subscription in subscriptions.iter_mut() {
        let mut seen = BTreeMap::new();
        loop {
            let event = recv(subscription, LIMIT).await.expect("event in time");
            assert_eq!(event.origin, from.name);
            assert_eq!(event.key.as_deref(), Some(&b"k\x00y"[..]));
            assert!(event.cloudevent.attributes.extensions.is_empty());
            let id = event.cloudevent.attributes.id.clone();
            *seen.entry(id.clone()).or_insert(0) += 1;
            if id == "end" {
                break;
            }
        }
        assert_eq!(seen.len(), count + 1, "every event arrives: {seen:?}");
        assert!(seen.values().all(|&n| n == 1), "no duplicates: {seen:?}");
        if let Some(extra) = subscription.try_recv() {
            panic!("nothing more after {seen:?}, got {extra:?}");
        }
    }
}

/// Sum of events received on all links of all nodes.
async fn link_events(nodes: &[TestNode]) -> u64 {
    let mut total = 0;
    for node in nodes {
        let status = node.handle.status().await.unwrap();
        total += status.links.iter().map(|link| link.events_in).sum::<u64>();
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_of_three_delivers_once() {
    let nodes = mesh(&["a", "b", "c"], &[(0, 1), (1, 2)]).await;
    let mut subscriptions = subscribe(&nodes[2], &nodes, "orders/>", 1).await;
    exactly_once(&nodes[0], &mut subscriptions, 20).await;
    // Two links per event, no more.
    assert_eq!(link_events(&nodes).await, 2 * 21);
    let status = nodes[0].handle.status().await.unwrap();
    let link = status.link_to("b").unwrap();
    assert_eq!(link.events_out, 21);
    assert!(link.bytes_out > 0 && link.bytes_in > 0);
    serde_json::to_string(&status).unwrap();
    // Nothing goes back to the origin's local subscribers twice either.
    let mut local = nodes[0]
        .broker
        .subscribe(
            &Principal::anonymous(),
            vec![Filter::new(">").unwrap()],
            SubscribeOptions::default(),
        )
        .unwrap();
    publish(&nodes[2], "orders/back", "back").await;
    assert!(recv(&mut local, Duration::from_millis(200)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_of_four_delivers_once() {
    let nodes = mesh(&["a", "b", "c", "d"], &[(0, 1), (1, 2), (2, 3), (3, 0)]).await;
    let mut on_c = subscribe(&nodes[2], &nodes, "orders/>", 1).await;
    let mut on_b = subscribe(&nodes[1], &nodes, "orders/>", 1).await;
    on_c.append(&mut on_b);
    exactly_once(&nodes[0], &mut on_c, 20).await;
    // a→b, b→c for each event (ties go to the smaller name): two links, none twice.
    assert_eq!(link_events(&nodes).await, 2 * 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mesh_of_four_delivers_once() {
    let edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
    let nodes = mesh(&["a", "b", "c", "d"], &edges).await;
    let mut subscriptions = Vec::new();
    for node in &nodes[1..] {
        subscriptions.extend(subscribe(node, &nodes, "orders/>", 1).await);
    }
    exactly_once(&nodes[0], &mut subscriptions, 10).await;
    // One direct link per subscriber node per event.
    assert_eq!(link_events(&nodes).await, 3 * 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_crosses_each_link_once() {
    let nodes = mesh(&["a", "b", "c"], &[(0, 1), (1, 2)]).await;
    let mut subscriptions = subscribe(&nodes[2], &nodes, "orders/>", 25).await;
    exactly_once(&nodes[0], &mut subscriptions, 10).await;
    let a = nodes[0].handle.status().await.unwrap();
    assert_eq!(a.link_to("b").unwrap().events_out, 11);
    let b = nodes[1].handle.status().await.unwrap();
    assert_eq!(b.link_to("a").unwrap().events_in, 11);
    assert_eq!(b.link_to("c").unwrap().events_out, 11);
    let c = nodes[2].handle.status().await.unwrap();
    assert_eq!(c.link_to("b").unwrap().events_in, 11);
    assert_eq!(c.counters.events_delivered, 11);
}

/// Checks `node` still accepts a good link and routes over it.
async fn still_serving(node: &TestNode, name: &str) {
    let good = start_on(bind().await, options("test", name, vec![node.addr]));
    wait_status(node, |status| status.link_to(name).is_some()).await;
    wait_status(&good, |status| status.link_to(&node.name).is_some()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_mesh_is_refused_and_node_keeps_serving() {
    let nodes = mesh(&["a"], &[]).await;
    let stranger = start_on(bind().await, options("other", "x", vec![nodes[0].addr]));
    let status = wait_status(&stranger, |status| {
        status.joins[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("different mesh"))
    })
    .await;
    assert!(status.links.iter().all(|link| !link.established));
    let a = wait_status(&nodes[0], |s| {
        s.recent_errors.iter().any(|e| e.contains("different mesh"))
    })
    .await;
    assert!(a.counters.links_refused >= 1);
    still_serving(&nodes[0], "y").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_node_name_is_refused_and_node_keeps_serving() {
    let nodes = mesh(&["a", "b"], &[(0, 1)]).await;
    let impostor = start_on(bind().await, options("test", "b", vec![nodes[0].addr]));
    wait_status(&impostor, |status| {
        status.joins[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("duplicate node name"))
    })
    .await;
    wait_status(&nodes[0], |s| {
        s.recent_errors
            .iter()
            .any(|e| e.contains("duplicate node name"))
    })
    .await;
    // The first b keeps its link.
    let a = nodes[0].handle.status().await.unwrap();
    assert_eq!(a.links.iter().filter(|link| link.established).count(), 1);
    assert_eq!(a.link_to("b").unwrap().remote.port(), nodes[1].addr.port());
    still_serving(&nodes[0], "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_peer_is_disconnected() {
    let nodes = mesh(&["a"], &[]).await;
    let mut socket = TcpStream::connect(nodes[0].addr).await.unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    // The node sends its hello, then closes the connection.
    let mut buffer = Vec::new();
    let read = timeout(LIMIT, socket.read_to_end(&mut buffer))
        .await
        .expect("closed in time");
    assert!(read.is_ok() || read.is_err());
    let status = wait_status(&nodes[0], |s| s.counters.malformed_frames == 1).await;
    assert!(status.links.is_empty(), "{status:#?}");
    assert!(status.recent_errors.iter().any(|e| e.contains("malformed")));
    still_serving(&nodes[0], "b").await;
}

/// A TCP proxy between two nodes that a test can cut.
struct Proxy {
    addr: SocketAddr,
    tasks: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = bind().await;
        let addr = listener.local_addr().unwrap();
        let tasks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let spawned = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let copy = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                spawned.lock().unwrap().push(copy);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    /// Closes every connection and stops accepting.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_link_in_a_ring_reroutes() {
    // Ring a-b-c-d-a; the a-b link goes through a proxy.
    let names = ["a", "b", "c", "d"];
    let listeners = [bind().await, bind().await, bind().await, bind().await];
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let proxy = Proxy::start(addrs[1]).await;
    let joins = [
        vec![proxy.addr],
        vec![addrs[2]],
        vec![addrs[3]],
        vec![addrs[0]],
    ];
    let nodes: Vec<TestNode> = listeners
        .into_iter()
        .zip(joins)
        .zip(names)
        .map(|((listener, join), name)| start_on(listener, options("test", name, join)))
        .collect();
    for node in &nodes {
        wait_status(node, |status| status.reachable == 4).await;
    }
    let mut on_b = subscribe(&nodes[1], &nodes, "orders/>", 1).await;
    exactly_once(&nodes[0], &mut on_b, 5).await;
    assert_eq!(
        nodes[0]
            .handle
            .status()
            .await
            .unwrap()
            .link_to("b")
            .unwrap()
            .events_out,
        6
    );

    proxy.cut();
    // Events published after the cut arrive through d and c within seconds.
    let deadline = Instant::now() + LIMIT;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = format!("after{attempt}");
        publish(&nodes[0], "orders/after", &id).await;
        if let Some(event) = recv(&mut on_b[0], Duration::from_millis(100)).await {
            assert!(event.cloudevent.attributes.id.starts_with("after"));
            break;
        }
        assert!(Instant::now() < deadline, "no reroute in time");
    }
    while recv(&mut on_b[0], Duration::from_millis(50))
        .await
        .is_some()
    {}
    exactly_once(&nodes[0], &mut on_b, 10).await;
    let a = nodes[0].handle.status().await.unwrap();
    assert!(a.link_to("b").is_none());
    assert!(a.link_to("d").unwrap().events_out >= 11);
    assert!(a.joins[0].last_error.is_some());
}

/// A publisher waits for the mesh only for an event remote durable interest matches:
/// once the origin's status shows the interest, the forwarder sees it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_events_for_remote_durable_interest_wait_for_the_mesh() {
    let nodes = mesh(&["a", "b"], &[(0, 1)]).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let submit = |topic: &str| {
        let attributes = Attributes::new("e", "/test", "test.event").unwrap();
        let cloudevent = CloudEvent::new(attributes, Some(Bytes::from_static(b"{}")));
        let event = Event::new(
            cloudevent,
            Topic::new(topic).unwrap(),
            "a",
            SystemTime::now(),
        );
        let mut submission =
            a.broker
                .submit(&Principal::anonymous(), event, PublishOptions::default());
        // No stream captures these topics: submitted when `submit` returns.
        futures_util::FutureExt::now_or_never(&mut submission)
            .expect("ready at once")
            .unwrap()
    };
    assert!(submit("stored/x").is_settled(), "no durable interest yet");
    b.handle
        .set_interest(vec![weft_mesh::interest::InterestEntry::durable(
            Filter::new("stored/>").unwrap(),
        )])
        .await
        .unwrap();
    wait_status(a, |status| status.node("b").is_some_and(|n| n.interest > 0)).await;
    let stored = submit("stored/x");
    assert!(!stored.is_settled(), "the mesh's receipt is due");
    stored.finish().await.unwrap();
    assert!(submit("live/x").is_settled(), "nothing to wait for");
}

/// A node closed with [`MeshHandle::close`] has persisted the position of every durable
/// event it stored, so a restart receives none of them again: read back from its
/// `inbox.json` right after, with events arriving until the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_node_has_persisted_the_position_of_everything_it_stored() {
    use weft_broker::{AllowAll, ReadFrom, StreamConfig, StreamName, StreamsOptions};

    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(
        Arc::new(AllowAll),
        dir.path().join("streams"),
        StreamsOptions::default(),
    )
    .await
    .unwrap();
    let orders = StreamName::new("orders").unwrap();
    let config = StreamConfig::new(orders.clone(), vec![Filter::new("orders/>").unwrap()]);
    broker
        .create_stream(&Principal::anonymous(), config)
        .await
        .unwrap();
    let listener = bind().await;
    let mut receiver_options = options("test", "c", Vec::new());
    receiver_options.data_dir = Some(dir.path().to_owned());
    receiver_options.follow_broker_interest = true;
    let addr = listener.local_addr().unwrap();
    let handle = MeshContext::start(broker.clone(), receiver_options).unwrap();
    tokio::spawn(serve(listener, handle.clone(), std::future::pending()));
    let receiver = TestNode {
        name: "c".to_owned(),
        broker: broker.clone(),
        handle,
        addr,
    };
    let origin = start_on(bind().await, options("test", "a", vec![receiver.addr]));
    wait_status(&origin, |status| {
        status.node("c").is_some_and(|node| node.interest > 0)
    })
    .await;

    let count = 400;
    let publisher = {
        let broker = origin.broker.clone();
        tokio::spawn(async move {
            for i in 1..=count {
                publish_on(&broker, "a", &format!("orders/{i}"), &format!("e{i}")).await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    // Close while events still arrive.
    let deadline = Instant::now() + LIMIT;
    loop {
        let stored = broker
            .read_stream(
                &Principal::anonymous(),
                &orders,
                None,
                ReadFrom::Earliest,
                1000,
            )
            .await
            .unwrap();
        if stored.len() >= 100 {
            break;
        }
        assert!(Instant::now() < deadline, "only {} stored", stored.len());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    receiver.handle.close().await;
    publisher.await.unwrap();
    let stored = broker
        .read_stream(
            &Principal::anonymous(),
            &orders,
            None,
            ReadFrom::Earliest,
            1000,
        )
        .await
        .unwrap();
    let inbox = std::fs::read(dir.path().join("mesh").join("inbox.json")).unwrap();
    let inbox: serde_json::Value = serde_json::from_slice(&inbox).unwrap();
    let remembered = inbox["a"]["last_stored"]["sequence"].as_u64().unwrap();
    assert_eq!(
        remembered,
        stored.len() as u64,
        "the newest event stored is remembered: {inbox}"
    );
}
