//! The streams API over HTTP: create, describe, list, update, delete, read, and the
//! publish acknowledgement.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use serde_json::{Value, json};
use weft_test::{TestNode, accepted_ids, call_json};

async fn call(_node: &TestNode, request: reqwest::RequestBuilder) -> (u16, Value) {
    call_json(request).await.unwrap()
}

#[tokio::test]
async fn streams_are_created_described_listed_updated_and_deleted() {
    let node = TestNode::start().await.unwrap();
    let client = node.client();
    let definition = json!({"name": "orders", "filters": ["orders/>"], "partitions": 2, "retention": {"max_age": "1d"}});
    let (status, created) = call(
        &node,
        client.post(node.url("/v1/streams")).json(&definition),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["partitions"], 2);
    assert_eq!(created["retention"]["max_age_ms"], 86_400_000);

    let (status, _) = call(
        &node,
        client.post(node.url("/v1/streams")).json(&definition),
    )
    .await;
    assert_eq!(
        status, 201,
        "creating an identical stream again is idempotent"
    );
    let different = json!({"name": "orders", "filters": ["other/>"]});
    let (status, problem) =
        call(&node, client.post(node.url("/v1/streams")).json(&different)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("urn:weft:problem:stream-exists"))
    );

    let (status, list) = call(&node, client.get(node.url("/v1/streams"))).await;
    assert_eq!(status, 200);
    assert_eq!(list["streams"][0]["name"], "orders");

    let grown = json!({"filters": ["orders/>", "refunds/>"], "partitions": 4});
    let (status, updated) = call(
        &node,
        client.put(node.url("/v1/streams/orders")).json(&grown),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["partitions"], 4);
    let shrunk = json!({"filters": ["orders/>"], "partitions": 1});
    let (status, _) = call(
        &node,
        client.put(node.url("/v1/streams/orders")).json(&shrunk),
    )
    .await;
    assert_eq!(status, 400, "partitions may only grow");

    let (status, _) = call(&node, client.delete(node.url("/v1/streams/orders"))).await;
    assert_eq!(status, 204);
    let (status, problem) = call(&node, client.get(node.url("/v1/streams/orders"))).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("urn:weft:problem:stream-not-found"))
    );
}

#[tokio::test]
async fn bad_stream_definitions_are_400_naming_the_problem() {
    let node = TestNode::start().await.unwrap();
    let client = node.client();
    for (definition, needle) in [
        (json!({"name": "no/slash", "filters": ["a"]}), "stream name"),
        (json!({"name": "s", "filters": ["a//b*"]}), "wildcard"),
        (
            json!({"name": "s", "filters": ["a"], "partitons": 2}),
            "partitons",
        ),
        (
            json!({"name": "s", "filters": ["a"], "retention": {"max_age": "soon"}}),
            "max_age",
        ),
    ] {
        let (status, problem) = call(
            &node,
            client.post(node.url("/v1/streams")).json(&definition),
        )
        .await;
        assert_eq!(status, 400, "{definition}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{definition}: {problem}"
        );
    }
}

#[tokio::test]
async fn a_published_event_is_stored_before_the_answer_and_read_back() {
    let node = TestNode::start().await.unwrap();
    let client = node.client();
    let definition = json!({"name": "audit", "filters": ["audit/>"]});
    assert_eq!(
        call(
            &node,
            client.post(node.url("/v1/streams")).json(&definition)
        )
        .await
        .0,
        201
    );
    let ids = node
        .publish_plain("audit/login", "text/plain", b"alice")
        .await
        .unwrap();
    // No waiting: a durable acknowledgement means it is already readable.
    let (status, read) = call(
        &node,
        client.get(node.url("/v1/streams/audit/events?from=earliest")),
    )
    .await;
    assert_eq!(status, 200);
    let event = &read["events"][0];
    assert_eq!(event["id"], ids[0].as_str());
    assert_eq!(event["data"], "alice");
    assert_eq!(event["wefttopic"], "audit/login");
    assert_eq!(
        (
            event["weftpartition"].as_str(),
            event["weftoffset"].as_str()
        ),
        (Some("0"), Some("0"))
    );

    let response = node
        .publish_request("audit/x?ack=none")
        .header("content-type", "text/plain")
        .body("bob")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted_ids(response).await.unwrap().len(), 1);
    let response = node
        .publish_request("audit/x?ack=maybe")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (status, problem) = call(
        &node,
        client.get(node.url("/v1/streams/audit/events?from=someday")),
    )
    .await;
    assert_eq!(status, 400);
    assert!(problem["detail"].as_str().unwrap().contains("`from`"));
}

#[tokio::test]
async fn a_stream_captures_topics_with_empty_levels() {
    let node = TestNode::start().await.unwrap();
    let client = node.client();
    let definition = json!({"name": "legacy", "filters": ["/devices/>", "x//y"]});
    let (status, created) = call(
        &node,
        client.post(node.url("/v1/streams")).json(&definition),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["filters"], json!(["/devices/>", "x//y"]));
    for topic in ["devices/1", "%2Fdevices/1", "/devices/", "x/y", "x//y"] {
        node.publish_plain(topic, "text/plain", b"x").await.unwrap();
    }
    let (status, read) = call(
        &node,
        client.get(node.url("/v1/streams/legacy/events?from=earliest")),
    )
    .await;
    assert_eq!(status, 200);
    let topics: Vec<&str> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["wefttopic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["/devices/1", "/devices/", "x//y"]);
}

#[tokio::test]
async fn a_stream_that_discards_new_events_answers_507_at_its_limit_and_describe_shows_bytes() {
    let node = TestNode::start().await.unwrap();
    let client = node.client();
    let definition = json!({"name": "capped", "filters": ["capped/>"], "discard": "new",
                            "retention": {"max_events": 2}});
    let (status, created) = call(
        &node,
        client.post(node.url("/v1/streams")).json(&definition),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["discard"], "new");
    assert_eq!(created["bytes"], 0);

    for body in ["one", "two"] {
        let response = node
            .publish_request("capped/x")
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(accepted_ids(response).await.unwrap().len(), 1, "{body}");
    }
    let response = node
        .publish_request("capped/x")
        .header("content-type", "text/plain")
        .body("three")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 507);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:weft:problem:stream-full");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("capped") && detail.contains("max_events"),
        "{detail}"
    );

    let (status, described) = call(&node, client.get(node.url("/v1/streams/capped"))).await;
    assert_eq!(status, 200);
    assert_eq!(described["events"], 2);
    let bytes = described["bytes"].as_u64().unwrap();
    assert!(bytes > 0, "{described}");
    assert_eq!(described["partition_offsets"][0]["bytes"], bytes);
}
