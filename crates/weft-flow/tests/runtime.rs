//! The route runtime end to end: a real broker, a real local HTTP sink that fails as
//! scripted, retries, backoff, dead letters, key ordering, replies and stream sources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use runtime_support::*;
use weft_broker::{AllowAll, Broker, ConsumerName, Principal, StreamConfig, StreamName};
use weft_core::Filter;
use weft_flow::RouteRunner;

/// A route from `in/>` to the `billing` HTTP sink with `delivery` (YAML lines).
fn sink_route(url: &str, delivery: &str, extra: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: bill}}\nspec:\n  from: {{topic: \"in/>\"}}\n  transform:\n    - set: {{attribute: type, value: billing.order}}\n  to: {{sink: billing}}\n  delivery:\n{delivery}\n{extra}---\n{}",
        http_sink(url, "")
    )
}

async fn start(broker: &Broker, yaml: &str) -> RouteRunner {
    let (name, spec, sink) = manifests(yaml);
    RouteRunner::start(broker, &name, &spec, sink.as_ref())
        .await
        .unwrap()
}

#[tokio::test]
async fn retries_follow_exponential_backoff_then_deliver_once() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.plan("e1", [503, 500, 404].map(Reply::status));
    let delivery =
        "    retries: 4\n    backoff: {policy: exponential, delay: 40ms, max: 1s, jitter: false}";
    let runner = start(&broker, &sink_route(&sink.url, delivery, "")).await;
    publish(
        &broker,
        event("in/a", "e1", "order.created", r#"{"total":5}"#),
    )
    .await;

    let requests = sink.take(4).await;
    assert!(requests.iter().all(|request| request.id == "e1"));
    let gaps: Vec<Duration> = requests.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (gap, least) in gaps.iter().zip([40, 80, 160]) {
        assert!(*gap >= Duration::from_millis(least), "{gaps:?}");
    }
    assert!(gaps[1] > gaps[0] && gaps[2] > gaps[1], "{gaps:?}");
    sink.assert_quiet(Duration::from_millis(300)).await;

    // Binary mode: the transformed event as ce- headers, the data as the body.
    let last = &requests[3];
    assert_eq!(last.headers["ce-type"], "billing.order");
    assert_eq!(last.headers["ce-source"], "/shop");
    assert_eq!(last.headers["ce-specversion"], "1.0");
    assert_eq!(last.headers["content-type"], "application/json");
    assert_eq!(last.headers["x-team"], "billing");
    assert_eq!(&last.body[..], br#"{"total":5}"#);

    let status = runner.stop().await;
    assert_eq!(
        (status.received, status.delivered, status.retried),
        (1, 1, 3)
    );
    assert_eq!((status.dead_lettered, status.failed), (0, 0));
}

#[tokio::test]
async fn exhausted_retries_dead_letter_the_original_event() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.plan("e1", [500, 502, 503, 500].map(Reply::status));
    let mut dead = subscribe(&broker, "dlq/>");
    let delivery = "    retries: 2\n    backoff: {policy: linear, delay: 10ms, max: 1s, jitter: false}\n    deadLetter: {topic: dlq/billing}";
    let runner = start(&broker, &sink_route(&sink.url, delivery, "")).await;
    publish(
        &broker,
        event("in/a", "e1", "order.created", r#"{"total":5}"#),
    )
    .await;

    let letter = next_event(&mut dead).await;
    assert_eq!(sink.take(3).await.len(), 3);
    sink.assert_quiet(Duration::from_millis(200)).await;
    assert_eq!(letter.topic.as_str(), "dlq/billing");
    // The original event: attributes (type before the transform) and data unchanged.
    assert_eq!(letter.cloudevent.attributes.id, "e1");
    assert_eq!(letter.cloudevent.attributes.ty, "order.created");
    assert_eq!(
        letter.cloudevent.data.as_deref(),
        Some(&br#"{"total":5}"#[..])
    );
    assert_eq!(attribute(&letter, "weftdlreason"), "retries-exhausted");
    assert_eq!(attribute(&letter, "weftdlattempts"), "3");
    assert_eq!(attribute(&letter, "weftdlroute"), "bill");
    assert_eq!(attribute(&letter, "weftdldestination"), "sink:billing");
    assert_eq!(attribute(&letter, "weftdltopic"), "in/a");
    assert_eq!(
        attribute(&letter, "weftdlerror"),
        "http status 503 Service Unavailable"
    );

    let status = runner.stop().await;
    assert_eq!(
        (status.delivered, status.retried, status.dead_lettered),
        (0, 2, 1)
    );
    assert!(status.last_error.unwrap().contains("503"));
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.plan("e1", [Reply::status(400)]);
    let mut dead = subscribe(&broker, "dlq/>");
    let delivery = "    retries: 5\n    backoff: {policy: constant, delay: 10ms, max: 1s, jitter: false}\n    deadLetter: {topic: dlq/billing}";
    let runner = start(&broker, &sink_route(&sink.url, delivery, "")).await;
    publish(&broker, event("in/a", "e1", "order.created", "{}")).await;

    let letter = next_event(&mut dead).await;
    assert_eq!(sink.next().await.id, "e1");
    sink.assert_quiet(Duration::from_millis(200)).await;
    assert_eq!(attribute(&letter, "weftdlreason"), "non-retryable");
    assert_eq!(attribute(&letter, "weftdlattempts"), "1");
    let status = runner.stop().await;
    assert_eq!((status.retried, status.dead_lettered), (0, 1));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.plan(
        "e1",
        [Reply {
            status: 429,
            retry_after: Some("1"),
        }],
    );
    let delivery =
        "    retries: 1\n    backoff: {policy: constant, delay: 10ms, max: 5s, jitter: false}";
    let runner = start(&broker, &sink_route(&sink.url, delivery, "")).await;
    publish(&broker, event("in/a", "e1", "order.created", "{}")).await;
    let requests = sink.take(2).await;
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));
    assert_eq!(runner.stop().await.delivered, 1);
}

#[tokio::test]
async fn key_order_holds_under_retries_while_other_keys_proceed() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.plan("a1", [503, 503].map(Reply::status));
    let delivery =
        "    retries: 3\n    backoff: {policy: constant, delay: 150ms, max: 1s, jitter: false}";
    let extra = "  ordering: {by: key}\n  maxInFlight: 8\n";
    let runner = start(&broker, &sink_route(&sink.url, delivery, extra)).await;
    for (id, key) in [
        ("a1", "A"),
        ("a2", "A"),
        ("b1", "B"),
        ("a3", "A"),
        ("b2", "B"),
    ] {
        publish(&broker, keyed("in/a", id, key)).await;
    }
    let order: Vec<String> = sink.take(7).await.into_iter().map(|r| r.id).collect();
    let a: Vec<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|id| id.starts_with('a'))
        .collect();
    assert_eq!(a, ["a1", "a1", "a1", "a2", "a3"], "{order:?}");
    let position = |id: &str| order.iter().position(|seen| seen == id).unwrap();
    let a1_success = order.iter().rposition(|seen| seen == "a1").unwrap();
    assert!(position("b1") < position("b2"), "{order:?}");
    assert!(
        position("b2") < a1_success,
        "key B waited for key A: {order:?}"
    );
    let status = runner.stop().await;
    assert_eq!((status.delivered, status.retried), (5, 2));
}

#[tokio::test]
async fn topic_to_topic_route_filters_and_transforms() {
    let broker = Broker::default();
    let yaml = r#"
apiVersion: weft/v1
kind: Route
metadata: {name: big-orders}
spec:
  from: {topic: "orders/>"}
  filter: "type = 'order.created' AND total > 100"
  transform:
    - set: {attribute: type, value: billing.order}
    - set: {data: routed, value: true}
  to: {topic: billing/orders}
"#;
    let mut out = subscribe(&broker, "billing/>");
    let runner = start(&broker, yaml).await;
    publish(
        &broker,
        event("orders/eu", "small", "order.created", r#"{"total":5}"#),
    )
    .await;
    publish(
        &broker,
        event("orders/eu", "other", "order.paid", r#"{"total":500}"#),
    )
    .await;
    publish(
        &broker,
        event("orders/us", "big", "order.created", r#"{"total":250}"#),
    )
    .await;
    let routed = next_event(&mut out).await;
    assert_eq!(routed.topic.as_str(), "billing/orders");
    assert_eq!(routed.cloudevent.attributes.id, "big");
    assert_eq!(routed.cloudevent.attributes.ty, "billing.order");
    let data: serde_json::Value =
        serde_json::from_slice(routed.cloudevent.data.as_deref().unwrap()).unwrap();
    assert_eq!(data, serde_json::json!({"total": 250, "routed": true}));
    let status = runner.stop().await;
    assert_eq!(
        (status.received, status.filtered_out, status.delivered),
        (3, 2, 1)
    );
}

#[tokio::test]
async fn a_failing_transform_is_dead_lettered_with_its_error() {
    let broker = Broker::default();
    let yaml = r#"
apiVersion: weft/v1
kind: Route
metadata: {name: reshape}
spec:
  from: {topic: "raw/>"}
  transform:
    - set: {data: checked, value: true}
  to: {topic: out/x}
  delivery: {deadLetter: {topic: dlq/reshape}}
"#;
    let mut dead = subscribe(&broker, "dlq/>");
    let runner = start(&broker, yaml).await;
    let mut text = event("raw/a", "t1", "note", "{}");
    text.cloudevent.attributes.datacontenttype = Some("text/plain".to_owned());
    text.cloudevent.data = Some("not json".into());
    publish(&broker, text).await;
    let letter = next_event(&mut dead).await;
    assert_eq!(attribute(&letter, "weftdlreason"), "transform-failed");
    assert_eq!(attribute(&letter, "weftdlattempts"), "0");
    assert_eq!(attribute(&letter, "weftdldestination"), "topic:out/x");
    assert!(attribute(&letter, "weftdlerror").starts_with("transform failed"));
    assert_eq!(letter.cloudevent.data.as_deref(), Some(&b"not json"[..]));
    assert_eq!(runner.stop().await.dead_lettered, 1);
}

#[tokio::test]
async fn a_200_reply_event_is_published_on_the_reply_topic() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.reply_with_events();
    let mut replies = subscribe(&broker, "billing/receipts");
    let yaml = format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: bill}}\nspec:\n  from: {{topic: \"in/>\"}}\n  to: {{sink: billing}}\n---\n{}",
        http_sink(&sink.url, "  reply: billing/receipts\n")
    );
    let runner = start(&broker, &yaml).await;
    publish(&broker, event("in/a", "e1", "order.created", "{}")).await;
    let reply = next_event(&mut replies).await;
    assert_eq!(reply.cloudevent.attributes.id, "reply-e1");
    assert_eq!(reply.cloudevent.attributes.ty, "billing.receipt");
    assert_eq!(
        reply.cloudevent.data.as_deref(),
        Some(&br#"{"paid":true}"#[..])
    );
    assert_eq!(sink.next().await.id, "e1");
    assert_eq!(runner.stop().await.replies, 1);
}

#[tokio::test]
async fn stream_routes_ack_deliveries_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(
        Arc::new(AllowAll),
        dir.path().to_owned(),
        Default::default(),
    )
    .await
    .unwrap();
    let orders = StreamName::new("orders").unwrap();
    broker
        .create_stream(
            &Principal::anonymous(),
            StreamConfig::new(orders.clone(), vec![Filter::new("orders/>").unwrap()]),
        )
        .await
        .unwrap();
    let mut sink = Sink::start().await;
    sink.plan("e2", [500, 500].map(Reply::status));
    let mut dead = subscribe(&broker, "dlq/>");
    let yaml = format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: bill}}\nspec:\n  from: {{stream: orders, group: billing}}\n  to: {{sink: billing}}\n  delivery:\n    retries: 1\n    backoff: {{policy: constant, delay: 10ms, max: 1s, jitter: false}}\n    deadLetter: {{topic: dlq/billing}}\n---\n{}",
        http_sink(&sink.url, "")
    );
    let runner = start(&broker, &yaml).await;
    publish(&broker, event("orders/eu", "e1", "order.created", "{}")).await;
    publish(&broker, event("orders/eu", "e2", "order.created", "{}")).await;

    let letter = next_event(&mut dead).await;
    assert_eq!(letter.cloudevent.attributes.id, "e2");
    assert_eq!(attribute(&letter, "weftdlreason"), "retries-exhausted");
    assert_eq!(attribute(&letter, "weftdlstream"), "orders");
    assert_eq!(attribute(&letter, "weftdlpartition"), "0");
    assert_eq!(attribute(&letter, "weftdloffset"), "1");
    let mut ids: Vec<String> = sink.take(3).await.into_iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, ["e1", "e2", "e2"]);
    let status = runner.stop().await;
    assert_eq!((status.delivered, status.dead_lettered), (1, 1));

    // Both were acknowledged: nothing is pending or in flight, and a restarted route
    // receives nothing again.
    let consumer = ConsumerName::new("route-bill").unwrap();
    let info = broker
        .describe_consumer(&Principal::anonymous(), &orders, &consumer)
        .await
        .unwrap();
    assert_eq!((info.pending, info.in_flight, info.acked), (0, 0, 2));
    let runner = start(&broker, &yaml).await;
    sink.assert_quiet(Duration::from_millis(300)).await;
    publish(&broker, event("orders/eu", "e3", "order.created", "{}")).await;
    assert_eq!(sink.next().await.id, "e3");
    runner.stop().await;
}

#[tokio::test]
async fn structured_mode_posts_the_event_as_json() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    let yaml = format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: bill}}\nspec:\n  from: {{topic: \"in/>\"}}\n  to: {{sink: billing}}\n---\napiVersion: weft/v1\nkind: Sink\nmetadata: {{name: billing}}\nspec:\n  http: {{url: \"{}\", mode: structured}}\n",
        sink.url
    );
    let runner = start(&broker, &yaml).await;
    publish(
        &broker,
        event("in/a", "e1", "order.created", r#"{"total":1}"#),
    )
    .await;
    let request = sink.next().await;
    assert_eq!(
        request.headers["content-type"],
        "application/cloudevents+json"
    );
    assert!(request.headers.get("ce-id").is_none());
    let posted = weft_core::json::decode(&request.body).unwrap();
    assert_eq!(posted.attributes.id, "e1");
    assert_eq!(posted.data.as_deref(), Some(&br#"{"total":1}"#[..]));
    assert_eq!(runner.stop().await.delivered, 1);
}

#[tokio::test]
async fn stop_ends_a_pending_retry_at_once() {
    let broker = Broker::default();
    let mut sink = Sink::start().await;
    sink.plan("e1", [Reply::status(503)]);
    let delivery =
        "    retries: 3\n    backoff: {policy: constant, delay: 60s, max: 60s, jitter: false}";
    let runner = start(&broker, &sink_route(&sink.url, delivery, "")).await;
    publish(&broker, event("in/a", "e1", "order.created", "{}")).await;
    assert_eq!(sink.next().await.id, "e1");
    let status = within("the route to stop", runner.stop()).await;
    assert_eq!(
        (status.delivered, status.abandoned, status.in_flight),
        (0, 1, 0)
    );
}
