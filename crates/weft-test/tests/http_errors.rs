//! Bad input gets a clear problem+json error, and the node keeps serving.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use serde_json::Value;
use weft_test::TestNode;

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    (status, response.json().await.unwrap())
}

async fn assert_still_serving(node: &TestNode) {
    let mut sse = node.subscribe_sse(&["ok"]).await.unwrap();
    node.publish_plain("ok", "text/plain", b"fine")
        .await
        .unwrap();
    assert_eq!(sse.next_event().await.unwrap().topic, "ok");
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_problem() {
    let node = TestNode::start().await.unwrap();
    let response = node
        .publish_request("t")
        .header("content-type", "application/cloudevents+json")
        .body(r#"{"specversion":"1.0","id":"#)
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "urn:weft:problem:invalid-event");
    assert!(body["detail"].as_str().unwrap().contains("json"), "{body}");
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn missing_required_attributes_are_named() {
    let node = TestNode::start().await.unwrap();
    let structured = node
        .publish_request("t")
        .header("content-type", "application/cloudevents+json")
        .body(r#"{"specversion":"1.0","source":"/s","type":"t"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = problem(structured).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("`id`"), "{body}");

    let binary = node
        .publish_request("t")
        .header("ce-specversion", "1.0")
        .header("ce-id", "1")
        .header("ce-source", "/s")
        .body("x")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(binary).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("`type`"),
        "{body}"
    );
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn invalid_topics_and_filters_are_400() {
    let node = TestNode::start().await.unwrap();
    for topic in ["a/b*", "a/*/b", "a/%3E", "a/+"] {
        let response = node.publish_request(topic).body("x").send().await.unwrap();
        let (status, body) = problem(response).await;
        assert_eq!(status, 400, "{topic}");
        assert_eq!(body["type"], "urn:weft:problem:invalid-topic", "{topic}");
    }
    let response = node
        .client()
        .get(node.url("/v1/subscribe?filter=a/%3E/b"))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "urn:weft:problem:invalid-filter");
    let response = node
        .client()
        .get(node.url("/v1/subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await.0,
        400,
        "a subscription needs a filter"
    );
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let node = TestNode::start_with(|config| config.http.max_event_bytes = 1024)
        .await
        .unwrap();
    let response = node
        .publish_request("big")
        .header("content-type", "text/plain")
        .body(vec![b'x'; 1025])
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 413);
    assert!(body["detail"].as_str().unwrap().contains("1024"), "{body}");

    // Without a Content-Length the limit is enforced while streaming the body.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'y'; 512])).collect();
    let response = node
        .publish_request("big")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 413);
    let accepted = node
        .publish_plain("big", "text/plain", &[b'z'; 1024])
        .await
        .unwrap();
    assert_eq!(
        accepted.len(),
        1,
        "an event of exactly the limit is accepted"
    );
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn unsupported_cloudevents_formats_are_415() {
    let node = TestNode::start().await.unwrap();
    let response = node
        .publish_request("t")
        .header("content-type", "application/cloudevents+xml")
        .body("<event/>")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 415);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("application/cloudevents+xml"),
        "{body}"
    );
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn node_information_health_and_openapi_are_served() {
    let node = TestNode::start().await.unwrap();
    let get = |path: &'static str| node.client().get(node.url(path)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    node.publish_plain("t", "text/plain", b"x").await.unwrap();
    let info: Value = get("/v1/node").await.unwrap().json().await.unwrap();
    assert_eq!(info["name"], node.config().node_name.to_string());
    assert_eq!(info["listeners"]["http"], node.http_address().to_string());
    assert_eq!(info["counters"]["events_published"], 1);
    // The Kafka listener's request limits are counted where operators look.
    assert_eq!(info["counters"]["kafka_requests_timed_out"], 0, "{info}");
    assert_eq!(info["counters"]["kafka_incomplete_request_bytes"], 0);
    assert_eq!(info["counters"]["flows_evaluations_abandoned"], 0, "{info}");
    let openapi: Value = get("/v1/openapi.json").await.unwrap().json().await.unwrap();
    assert!(openapi["paths"]["/v1/topics/{topic}"]["post"].is_object());
    let (status, _) = problem(get("/v2/nothing").await.unwrap()).await;
    assert_eq!(status, 404);
}
