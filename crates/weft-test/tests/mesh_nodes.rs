//! Whole nodes linked into a mesh with `mesh.listen` / `mesh.join`: a subscriber on one
//! node receives what is published on another, with no other configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use weft_server::config::Listen;
use weft_test::{SseSubscriber, TestNode, WAIT};

async fn node(name: &str, listen: bool, join: Option<SocketAddr>) -> TestNode {
    let name = name.to_owned();
    TestNode::start_with(move |config| {
        config.node_name = name.parse().unwrap();
        config.kafka.listen = Listen::Off;
        config.mqtt.listen = Listen::Off;
        if listen {
            config.mesh.listen = Listen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        config.mesh.join = join.into_iter().collect();
    })
    .await
    .unwrap()
}

async fn mesh_status(node: &TestNode) -> serde_json::Value {
    node.client()
        .get(node.url("/v1/mesh"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until `node` sees `peer` reachable with at least one interest entry.
async fn wait_for_interest(node: &TestNode, peer: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = mesh_status(node).await;
        let known = status["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|entry| {
                entry["name"] == peer
                    && entry["reachable"] == true
                    && entry["interest"].as_u64() >= Some(1)
            });
        if known {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{peer} never advertised interest: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_subscriber_on_the_third_node_receives_what_the_first_publishes_once() {
    let first = node("first", true, None).await;
    let second = node("second", true, first.mesh_address()).await;
    let third = node("third", false, second.mesh_address()).await;

    let mut subscriber =
        SseSubscriber::connect(third.client(), &third.url("/v1/subscribe?filter=orders/>"))
            .await
            .unwrap();
    wait_for_interest(&first, "third").await;

    let status = first
        .client()
        .post(first.url("/v1/topics/orders/eu/1"))
        .header("content-type", "application/json")
        .body(r#"{"id":1}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    let received = subscriber.next_event().await.unwrap();
    assert_eq!(received.topic, "orders/eu/1");
    assert_eq!(received.event.data.as_deref(), Some(&br#"{"id":1}"#[..]));

    // Exactly once: nothing else arrives.
    let more = tokio::time::timeout(Duration::from_millis(300), subscriber.next_event()).await;
    assert!(more.is_err(), "a second copy arrived: {more:?}");

    let status = mesh_status(&first).await;
    assert_eq!(status["reachable"], 3, "{status}");
    let out: u64 = status["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|link| link["events_out"].as_u64().unwrap())
        .sum();
    assert_eq!(out, 1, "one copy left the first node: {status}");
}

#[tokio::test]
async fn a_node_outside_a_mesh_answers_404_for_its_status() {
    let alone = TestNode::start().await.unwrap();
    let response = alone
        .client()
        .get(alone.url("/v1/mesh"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
