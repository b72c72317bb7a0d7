//! Durable consumers over HTTP: pull, ack, nack, terminate to a dead-letter topic, push
//! over SSE.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use serde_json::{Value, json};
use weft_http::event_stream::EventStreamParser;
use weft_test::{TestNode, call_json};

async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    call_json(request).await.unwrap()
}

async fn setup(node: &TestNode, consumer: Value) {
    let client = node.client();
    let stream = json!({"name": "orders", "filters": ["orders/>"]});
    assert_eq!(
        call(client.post(node.url("/v1/streams")).json(&stream))
            .await
            .0,
        201
    );
    let (status, body) = call(
        client
            .post(node.url("/v1/streams/orders/consumers"))
            .json(&consumer),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn pull(node: &TestNode, max: usize) -> Vec<Value> {
    let url = node.url(&format!(
        "/v1/streams/orders/consumers/billing/pull?member=m1&max={max}&wait=5s"
    ));
    let (status, body) = call(node.client().post(url)).await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

async fn settle(node: &TestNode, how: &str, body: Value) -> Value {
    let url = node.url(&format!("/v1/streams/orders/consumers/billing/{how}"));
    let (status, answer) = call(node.client().post(url).json(&body)).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn pull_ack_nack_and_terminate_to_a_dead_letter_topic() {
    let node = TestNode::start().await.unwrap();
    setup(&node, json!({"name": "billing", "dead_letter": {"topic": "dlq/billing"}, "backoff": {"delays": [0]}})).await;
    let mut dead_letters = node.subscribe_sse(&["dlq/>"]).await.unwrap();
    for id in ["a", "b", "c"] {
        let response = node
            .publish_request("orders/eu")
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-source", "/test")
            .header("ce-type", "order")
            .header("content-type", "text/plain")
            .body(id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }

    let first = pull(&node, 3).await;
    let ids: Vec<&str> = first
        .iter()
        .map(|d| d["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(first.iter().all(|d| d["attempt"] == 1));
    let token = |index: usize| first[index]["token"].as_str().unwrap().to_owned();

    assert_eq!(
        settle(&node, "ack", json!({"tokens": [token(0)]})).await["settled"],
        1
    );
    settle(&node, "nack", json!({"tokens": [token(1)], "delay": 0})).await;
    settle(
        &node,
        "terminate",
        json!({"tokens": [token(2)], "reason": "bad order"}),
    )
    .await;

    let again = pull(&node, 10).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["event"]["id"], "b");
    assert_eq!(again[0]["attempt"], 2);
    let stale = settle(&node, "ack", json!({"tokens": [token(1)]})).await;
    assert_eq!(
        stale["unknown"],
        json!([token(1)]),
        "a token of an earlier attempt is unknown"
    );
    settle(&node, "ack", json!({"tokens": [again[0]["token"]]})).await;

    let dead = dead_letters.next_event().await.unwrap();
    assert_eq!(dead.topic, "dlq/billing");
    let dead: Value = serde_json::from_str(&dead.json).unwrap();
    assert_eq!(dead["id"], "c");
    assert_eq!(dead["data"], "c");
    assert_eq!(dead["weftdlreason"], "terminated");
    assert_eq!(dead["weftdlerror"], "bad order");
    assert_eq!(dead["weftdlstream"], "orders");
    assert_eq!(dead["weftdlconsumer"], "billing");

    let (_, info) = call(
        node.client()
            .get(node.url("/v1/streams/orders/consumers/billing")),
    )
    .await;
    assert_eq!(info["acked"], 2);
    assert_eq!(info["in_flight"], 0);
    assert_eq!(info["pending"], 0);
    assert_eq!(info["dead_lettered"], 1);
}

#[tokio::test]
async fn deliveries_can_be_pushed_over_sse() {
    let node = TestNode::start().await.unwrap();
    setup(&node, json!({"name": "billing"})).await;
    node.publish_plain("orders/x", "text/plain", b"pushed")
        .await
        .unwrap();
    let response = node
        .client()
        .get(node.url("/v1/streams/orders/consumers/billing/events?member=pusher"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut parser = EventStreamParser::default();
    let delivery: Value = loop {
        let chunk = tokio::time::timeout(weft_test::WAIT, futures_util::StreamExt::next(&mut body))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Some(message) = parser.push(&chunk).into_iter().next() {
            break serde_json::from_str(&message.data).unwrap();
        }
    };
    assert_eq!(delivery["event"]["data"], "pushed");
    let answer = settle(&node, "ack", json!({"tokens": [delivery["token"]]})).await;
    assert_eq!(answer["settled"], 1);
}

#[tokio::test]
async fn consumer_errors_are_clear() {
    let node = TestNode::start().await.unwrap();
    let client = node.client();
    let (status, problem) = call(
        client
            .post(node.url("/v1/streams/none/consumers"))
            .json(&json!({"name": "c"})),
    )
    .await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("urn:weft:problem:stream-not-found"))
    );
    setup(&node, json!({"name": "billing"})).await;
    let (status, problem) = call(
        client
            .post(node.url("/v1/streams/orders/consumers"))
            .json(&json!({"name": "x", "ordering": "random"})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    let (status, _) = call(client.get(node.url("/v1/streams/orders/consumers/nobody"))).await;
    assert_eq!(status, 404);
}
