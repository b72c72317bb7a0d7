//! End to end over real HTTP on port 0: every CloudEvents HTTP mode in, SSE and
//! WebSocket out, attributes and data byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use weft_core::{CloudEvent, ExtensionName, ExtensionValue};
use weft_test::{ReceivedEvent, TestNode, accepted_ids};

/// The event as received, minus the `wefttopic` extension the node adds.
fn without_topic(received: &ReceivedEvent) -> CloudEvent {
    let mut event = received.event.clone();
    event
        .attributes
        .extensions
        .remove(&ExtensionName::new("wefttopic").unwrap());
    event
}

#[tokio::test]
async fn binary_mode_event_arrives_over_sse_and_websocket_byte_identical() {
    let node = TestNode::start().await.unwrap();
    let mut sse = node.subscribe_sse(&["orders/>"]).await.unwrap();
    let mut ws = node.subscribe_ws(&["orders/*/created"]).await.unwrap();

    let data: &[u8] = b"{\"order\": 1,\n \"note\": \"caf\xc3\xa9 \\\"quoted\\\"\"}";
    let response = node
        .publish_request("orders/eu/created")
        .header("ce-specversion", "1.0")
        .header("ce-id", "order-1")
        .header("ce-source", "/shop/eu")
        .header("ce-type", "com.example.order.created")
        .header("ce-subject", "Hello%20%22world%22%20%E2%82%AC%25")
        .header("ce-time", "2026-11-22T10:00:00.123+01:00")
        .header("ce-dataschema", "https://example.com/order.json")
        .header("ce-traceparent", "00-abc-def-01")
        .header("content-type", "application/json")
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted_ids(response).await.unwrap(), ["order-1"]);

    for received in [
        sse.next_event().await.unwrap(),
        ws.next_event().await.unwrap(),
    ] {
        assert_eq!(received.topic, "orders/eu/created");
        let event = without_topic(&received);
        let attributes = &event.attributes;
        assert_eq!(attributes.id, "order-1");
        assert_eq!(attributes.source, "/shop/eu");
        assert_eq!(attributes.ty, "com.example.order.created");
        assert_eq!(attributes.subject.as_deref(), Some("Hello \"world\" €%"));
        assert_eq!(
            attributes.time.as_ref().unwrap().as_str(),
            "2026-11-22T10:00:00.123+01:00"
        );
        assert_eq!(
            attributes.dataschema.as_deref(),
            Some("https://example.com/order.json")
        );
        assert_eq!(
            attributes.datacontenttype.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            attributes
                .extensions
                .get(&ExtensionName::new("traceparent").unwrap()),
            Some(&ExtensionValue::String("00-abc-def-01".to_owned()))
        );
        assert_eq!(event.data.as_deref(), Some(data));
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn structured_mode_event_round_trips_exactly() {
    let node = TestNode::start().await.unwrap();
    let mut sse = node.subscribe_sse(&["sensors/>"]).await.unwrap();
    let mut ws = node.subscribe_ws(&["sensors/>"]).await.unwrap();
    let sent = r#"{"specversion":"1.0","id":"r-7","source":"urn:sensor:7","type":"reading",
        "subject":"temp","time":"2026-01-02T03:04:05Z","datacontenttype":"text/plain",
        "comexampleflag":true,"comexamplecount":42,"data":"21.5 °C"}"#;
    let response = node
        .publish_request("sensors/7/temp")
        .header(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        )
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted_ids(response).await.unwrap(), ["r-7"]);
    let expected = weft_core::json::decode(sent.as_bytes()).unwrap();
    for received in [
        sse.next_event().await.unwrap(),
        ws.next_event().await.unwrap(),
    ] {
        assert_eq!(without_topic(&received), expected);
        assert_eq!(received.event.data.as_deref(), Some("21.5 °C".as_bytes()));
    }
}

#[tokio::test]
async fn binary_data_travels_as_base64_and_arrives_unchanged() {
    let node = TestNode::start().await.unwrap();
    let mut sse = node.subscribe_sse(&["blobs"]).await.unwrap();
    let data: Vec<u8> = (0..=255u8).collect();
    let response = node
        .publish_request("blobs")
        .header("ce-specversion", "1.0")
        .header("ce-id", "blob-1")
        .header("ce-source", "/blobs")
        .header("ce-type", "blob")
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    accepted_ids(response).await.unwrap();
    let received = sse.next_event().await.unwrap();
    assert!(received.json.contains("\"data_base64\""));
    assert_eq!(received.event.data.as_deref(), Some(&data[..]));
}

#[tokio::test]
async fn batch_publishes_every_event_in_order() {
    let node = TestNode::start().await.unwrap();
    let mut sse = node.subscribe_sse(&["batch/>"]).await.unwrap();
    let batch = r#"[
        {"specversion":"1.0","id":"b1","source":"/s","type":"t","data":{"n":1}},
        {"specversion":"1.0","id":"b2","source":"/s","type":"t","data_base64":"AAEC"},
        {"specversion":"1.0","id":"b3","source":"/s","type":"t"}
    ]"#;
    let response = node
        .publish_request("batch/x")
        .header("content-type", "application/cloudevents-batch+json")
        .body(batch)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted_ids(response).await.unwrap(), ["b1", "b2", "b3"]);
    let sent = weft_core::json::decode_batch(batch.as_bytes()).unwrap();
    for expected in sent {
        let received = sse.next_event().await.unwrap();
        assert_eq!(without_topic(&received), expected);
    }
}

#[tokio::test]
async fn plain_body_gets_synthesised_attributes() {
    let node = TestNode::start().await.unwrap();
    let mut sse = node.subscribe_sse(&["plain"]).await.unwrap();
    let first = node
        .publish_plain("plain", "text/plain", b"hello")
        .await
        .unwrap();
    let second = node
        .publish_plain("plain", "text/plain", b"again")
        .await
        .unwrap();
    assert_ne!(first, second, "synthesised ids are unique");

    let received = sse.next_event().await.unwrap();
    let attributes = &received.event.attributes;
    assert_eq!(attributes.id, first[0]);
    assert!(
        attributes
            .source
            .starts_with(&format!("weft://{}/http/", node.config().node_name)),
        "{}",
        attributes.source
    );
    assert_eq!(attributes.ty, "weft.http.publish");
    let time = attributes.time.as_ref().expect("time is synthesised");
    time::OffsetDateTime::parse(
        time.as_str(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(attributes.datacontenttype.as_deref(), Some("text/plain"));
    assert_eq!(received.event.data.as_deref(), Some(&b"hello"[..]));
}

#[tokio::test]
async fn wildcards_follow_the_documented_semantics() {
    let node = TestNode::start().await.unwrap();
    let mut us = node.subscribe_sse(&["orders/*/us/>"]).await.unwrap();
    let mut everything = node.subscribe_sse(&[">"]).await.unwrap();
    let mut system = node.subscribe_sse(&["$sys/>"]).await.unwrap();

    // Published in this order; each subscriber must see exactly its matches, in order.
    for topic in [
        "orders/1/eu/x",
        "orders/1/us",
        "$sys/health",
        "orders/1/us/ny",
        "orders/2/us/ca/sf",
    ] {
        node.publish_plain(topic, "text/plain", b"x").await.unwrap();
    }
    let topics =
        |events: Vec<ReceivedEvent>| events.into_iter().map(|e| e.topic).collect::<Vec<_>>();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(us.next_event().await.unwrap());
    }
    assert_eq!(topics(got), ["orders/1/us/ny", "orders/2/us/ca/sf"]);

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(everything.next_event().await.unwrap());
    }
    assert_eq!(
        topics(got),
        [
            "orders/1/eu/x",
            "orders/1/us",
            "orders/1/us/ny",
            "orders/2/us/ca/sf"
        ],
        "a leading wildcard does not match $-topics"
    );
    assert_eq!(system.next_event().await.unwrap().topic, "$sys/health");
}

#[tokio::test]
async fn empty_levels_are_addressable_in_the_path_plain_or_percent_encoded() {
    let node = TestNode::start().await.unwrap();
    let mut sse = node.subscribe_sse(&["/a", "*/b", "c/>"]).await.unwrap();
    let mut ws = node.subscribe_ws(&["c//d", "/"]).await.unwrap();

    // (the path after /v1/topics/, the topic it publishes on)
    let published = [
        ("/a", "/a"),
        ("a", "a"),
        ("%2Fb", "/b"),
        ("c", "c"),
        ("c/", "c/"),
        ("c%2F%2Fd", "c//d"),
        ("c//d", "c//d"),
        ("/", "/"),
    ];
    for (path, _) in published {
        node.publish_plain(path, "text/plain", b"x").await.unwrap();
    }
    let mut sse_topics = Vec::new();
    for _ in 0..5 {
        sse_topics.push(sse.next_event().await.unwrap().topic);
    }
    assert_eq!(sse_topics, ["/a", "/b", "c/", "c//d", "c//d"]);
    let mut ws_topics = Vec::new();
    for _ in 0..3 {
        ws_topics.push(ws.next_event().await.unwrap().topic);
    }
    assert_eq!(ws_topics, ["c//d", "c//d", "/"]);
    node.shutdown().await.unwrap();
}
