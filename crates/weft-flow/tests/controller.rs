//! The flows controller against a real broker with streams: apply, re-apply, change,
//! invalid changes, start failures, delete, prune by origin, durable state, sources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runtime_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weft_broker::{AllowAll, Broker, Principal, StreamName};
use weft_flow::controller::StartFailure;
use weft_flow::{
    ApplyOptions, Controller, ControllerError, ControllerOptions, Kind, ManifestFile, Prune,
};

use runtime_support::{attribute, event, next_event, publish, subscribe, within};

struct Node {
    broker: Broker,
    controller: Controller,
    dir: tempfile::TempDir,
}

async fn broker(dir: &std::path::Path) -> Broker {
    Broker::open(Arc::new(AllowAll), dir.join("streams"), Default::default())
        .await
        .unwrap()
}

async fn node_with(options: impl FnOnce(&mut ControllerOptions)) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path()).await;
    let mut controller_options = ControllerOptions::new(dir.path().join("flows"), "test");
    options(&mut controller_options);
    let controller = Controller::open(broker.clone(), controller_options)
        .await
        .unwrap();
    Node {
        broker,
        controller,
        dir,
    }
}

async fn node() -> Node {
    node_with(|_| {}).await
}

fn file(name: &str, text: &str) -> Vec<ManifestFile> {
    vec![ManifestFile {
        name: name.to_owned(),
        text: text.to_owned(),
    }]
}

fn route(name: &str, from: &str, to: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  from: {{topic: \"{from}\"}}\n  to: {{topic: \"{to}\"}}\n"
    )
}

async fn apply(node: &Node, files: &[ManifestFile]) -> Result<String, ControllerError> {
    node.controller
        .apply(files, &ApplyOptions::default())
        .await
        .map(|applied| applied.text)
}

/// Publishes on `from` and expects the event on `to`.
async fn flows(node: &Node, from: &str, to: &str, id: &str) {
    let mut output = subscribe(&node.broker, to);
    publish(&node.broker, event(from, id, "order.created", "{}")).await;
    let received = next_event(&mut output).await;
    assert_eq!(attribute(&received, "id"), id);
}

#[tokio::test]
async fn applied_route_runs_and_reapplying_it_is_unchanged() {
    let node = node().await;
    let text = route("copy", "a/>", "b/out");
    assert_eq!(
        apply(&node, &file("a.yaml", &text)).await.unwrap(),
        "route/copy created"
    );
    flows(&node, "a/x", "b/out", "e1").await;
    assert_eq!(
        apply(&node, &file("a.yaml", &text)).await.unwrap(),
        "route/copy unchanged"
    );
    let status = &node.controller.get(Some(Kind::Route), Some("copy")).await[0];
    assert_eq!(status.generation, 1);
    assert!(status.condition.ready, "{:?}", status.condition);
    assert_eq!(status.condition.reason, "Running");
    assert_eq!(status.counters["delivered"], 1);
}

#[tokio::test]
async fn a_changed_route_is_configured_and_takes_effect() {
    let node = node().await;
    apply(&node, &file("a.yaml", &route("copy", "a/>", "b/out")))
        .await
        .unwrap();
    let changed = apply(&node, &file("a.yaml", &route("copy", "a/>", "c/out"))).await;
    assert_eq!(changed.unwrap(), "route/copy configured");
    flows(&node, "a/x", "c/out", "e2").await;
    let status = &node.controller.get(Some(Kind::Route), None).await[0];
    assert_eq!(status.generation, 2);
    assert_eq!(status.observed_generation, 2);
}

#[tokio::test]
async fn invalid_manifests_report_every_positioned_problem_and_change_nothing() {
    let node = node().await;
    apply(&node, &file("a.yaml", &route("copy", "a/>", "b/out")))
        .await
        .unwrap();
    let bad = format!(
        "{}---\napiVersion: weft/v1\nkind: Route\nmetadata: {{name: other}}\nspec:\n  from: {{topic: \"x/#\"}}\n  to: {{topic: y}}\n---\napiVersion: weft/v1\nkind: Route\nmetadata: {{name: third}}\nspec:\n  from: {{topic: z}}\n  to: {{sink: nowhere}}\n",
        route("copy", "a/>", "c/out")
    );
    let Err(ControllerError::Invalid { errors }) = apply(&node, &file("bad.yaml", &bad)).await
    else {
        panic!("expected invalid manifests");
    };
    let lines: Vec<String> = errors
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        lines.iter().all(|line| line.starts_with("bad.yaml:")),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("bad.yaml:12:17: spec.from.topic:"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("sink `nowhere` is not defined"),
        "{lines:?}"
    );
    // The old route still delivers where it did.
    flows(&node, "a/y", "b/out", "e3").await;
    assert_eq!(node.controller.get(None, None).await.len(), 1);
}

#[tokio::test]
async fn a_source_that_cannot_start_fails_the_whole_apply() {
    let node = node().await;
    apply(&node, &file("a.yaml", &route("copy", "a/>", "b/out")))
        .await
        .unwrap();
    let text = format!(
        "{}---\napiVersion: weft/v1\nkind: Stream\nmetadata: {{name: fresh}}\nspec: {{filters: [\"f/>\"]}}\n---\napiVersion: weft/v1\nkind: Source\nmetadata: {{name: hook}}\nspec:\n  topic: hooks/in\n  webhook:\n    path: /hooks/in\n    type: t\n    source: /s\n    secret: {{env: WEFT_TEST_SECRET_THAT_IS_NOT_SET}}\n",
        route("copy", "a/>", "c/out")
    );
    let error = apply(&node, &file("b.yaml", &text)).await.unwrap_err();
    let ControllerError::Start(StartFailure { resource, reason }) = error else {
        panic!("expected a start failure, got {error:?}");
    };
    assert_eq!(resource, "source/hook");
    assert!(
        reason.contains("WEFT_TEST_SECRET_THAT_IS_NOT_SET"),
        "{reason}"
    );
    assert!(
        node.broker
            .describe_stream(&Principal::anonymous(), &StreamName::new("fresh").unwrap())
            .await
            .is_err()
    );
    flows(&node, "a/z", "b/out", "e4").await;
}

#[tokio::test]
async fn streams_are_created_by_manifests_and_removed_with_them() {
    let node = node().await;
    let text = "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: orders}\nspec: {filters: [\"orders/>\"], partitions: 2}\n";
    assert_eq!(
        apply(&node, &file("s.yaml", text)).await.unwrap(),
        "stream/orders created"
    );
    let name = StreamName::new("orders").unwrap();
    let anonymous = Principal::anonymous();
    let describe = || node.broker.describe_stream(&anonymous, &name);
    assert_eq!(describe().await.unwrap().config.partitions, 2);
    publish(&node.broker, event("orders/1", "o1", "order.created", "{}")).await;
    let status = &node.controller.get(Some(Kind::Stream), None).await[0];
    assert_eq!(status.counters["events"], 1);
    let deleted = node
        .controller
        .delete(&file("s.yaml", text), false)
        .await
        .unwrap();
    assert_eq!(deleted.text, "stream/orders deleted");
    assert!(describe().await.is_err());
}

#[tokio::test]
async fn deleting_reports_absent_resources_and_keeps_sinks_that_routes_use() {
    let node = node().await;
    let text = String::from(
        "apiVersion: weft/v1\nkind: Sink\nmetadata: {name: out}\nspec: {topic: sunk}\n---\napiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  from: {topic: \"in/>\"}\n  to: {sink: out}\n",
    );
    apply(&node, &file("a.yaml", &text)).await.unwrap();
    flows(&node, "in/1", "sunk", "s1").await;
    let sink_only = "apiVersion: weft/v1\nkind: Sink\nmetadata: {name: out}\nspec: {topic: sunk}\n";
    assert!(matches!(
        node.controller
            .delete(&file("d.yaml", sink_only), false)
            .await,
        Err(ControllerError::Invalid { .. })
    ));
    let absent = route("ghost", "g/>", "h");
    let deleted = node
        .controller
        .delete(&file("g.yaml", &absent), false)
        .await
        .unwrap();
    assert_eq!(deleted.text, "route/ghost not found");
    let all = node
        .controller
        .delete(&file("a.yaml", &text), false)
        .await
        .unwrap();
    assert_eq!(all.text, "route/r deleted\nsink/out deleted");
    assert!(node.controller.get(None, None).await.is_empty());
}

#[tokio::test]
async fn prune_with_an_origin_deletes_only_that_origins_resources() {
    let node = node().await;
    apply(&node, &file("api.yaml", &route("by-api", "p/>", "q")))
        .await
        .unwrap();
    let gitops = ApplyOptions {
        prune: Prune::Delete,
        dry_run: false,
        origin: Some("dir:/flows".to_owned()),
    };
    let both = format!(
        "{}---\n{}",
        route("one", "o/>", "q"),
        route("two", "t/>", "q")
    );
    node.controller
        .apply(&file("dir/a.yaml", &both), &gitops)
        .await
        .unwrap();
    let pruned = node
        .controller
        .apply(&file("dir/a.yaml", &route("one", "o/>", "q")), &gitops)
        .await
        .unwrap();
    assert_eq!(pruned.text, "route/two deleted\nroute/one unchanged");
    let names: Vec<String> = node
        .controller
        .get(None, None)
        .await
        .iter()
        .map(|resource| resource.manifest.metadata.name.to_string())
        .collect();
    assert_eq!(names, ["by-api", "one"]);
}

#[tokio::test]
async fn dry_runs_plan_without_changing_anything() {
    let node = node().await;
    let options = ApplyOptions {
        dry_run: true,
        ..ApplyOptions::default()
    };
    let planned = node
        .controller
        .apply(&file("a.yaml", &route("copy", "a/>", "b")), &options)
        .await
        .unwrap();
    assert!(planned.dry_run);
    assert_eq!(planned.text, "route/copy created");
    assert!(node.controller.get(None, None).await.is_empty());
}

#[tokio::test]
async fn applied_flows_survive_a_restart() {
    let first = node().await;
    apply(&first, &file("a.yaml", &route("copy", "a/>", "b/out")))
        .await
        .unwrap();
    apply(&first, &file("a.yaml", &route("copy", "a/>", "c/out")))
        .await
        .unwrap();
    first.controller.shutdown().await;
    let Node { broker, dir, .. } = first;
    broker.shutdown();
    drop(broker);
    let broker = self::broker(dir.path()).await;
    let options = ControllerOptions::new(dir.path().join("flows"), "test");
    let controller = Controller::open(broker.clone(), options).await.unwrap();
    let again = Node {
        broker,
        controller,
        dir,
    };
    let status = &again.controller.get(Some(Kind::Route), Some("copy")).await[0];
    assert_eq!(status.generation, 2);
    assert!(status.condition.ready);
    flows(&again, "a/x", "c/out", "r1").await;
}

#[tokio::test]
async fn webhook_sources_publish_json_and_verify_signatures() {
    let node = node().await;
    let text = "apiVersion: weft/v1\nkind: Source\nmetadata: {name: hook}\nspec:\n  topic: hooks/gh\n  webhook:\n    path: /hooks/gh\n    type: com.github.push\n    source: /github\n    secret: {value: s3cret}\n";
    apply(&node, &file("w.yaml", text)).await.unwrap();
    let source = node.controller.webhook("/hooks/gh").expect("a webhook");
    assert!(node.controller.webhook("/hooks/other").is_none());
    let mut output = subscribe(&node.broker, "hooks/>");
    let body = bytes::Bytes::from_static(br#"{"ref":"main"}"#);
    let signature = weft_flow::runtime::webhook::sign(b"s3cret", &body);
    let id = source
        .receive(Some(&signature), body.clone())
        .await
        .unwrap();
    let received = next_event(&mut output).await;
    assert_eq!(attribute(&received, "id"), id);
    assert_eq!(attribute(&received, "type"), "com.github.push");
    assert_eq!(attribute(&received, "datacontenttype"), "application/json");
    assert_eq!(received.cloudevent.data.as_deref(), Some(&body[..]));
    assert!(source.receive(None, body.clone()).await.is_err());
    assert!(source.receive(Some("sha256=00"), body).await.is_err());
    let status = &node.controller.get(Some(Kind::Source), None).await[0];
    assert_eq!(status.counters["events_emitted"], 1);
    assert_eq!(status.counters["requests_rejected"], 2);
}

/// The system clock moved forward so that the next whole minute is `lead` away.
struct AheadClock {
    offset: Duration,
}

impl AheadClock {
    fn new(lead: Duration) -> AheadClock {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let minute = 60_000_000_000;
        let into_minute = now.as_nanos() % minute;
        // Modulo a minute, so that a test started in the last `lead` of a minute does not
        // ask for a negative offset (it then skips ahead to the minute after).
        let ahead = (2 * minute - into_minute - lead.as_nanos()) % minute;
        AheadClock {
            offset: Duration::from_nanos(ahead as u64),
        }
    }
}

impl weft_core::Clock for AheadClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.offset
    }
}

#[tokio::test]
async fn a_schedule_fires_at_the_next_minute_of_its_clock() {
    let node = node_with(|options| {
        options.clock = Arc::new(AheadClock::new(Duration::from_millis(1500)));
    })
    .await;
    let mut output = subscribe(&node.broker, "ticks");
    let text = "apiVersion: weft/v1\nkind: Source\nmetadata: {name: tick}\nspec:\n  topic: ticks\n  schedule:\n    cron: \"* * * * *\"\n    type: com.example.tick\n    source: /weft/schedule\n    data: {service: billing}\n";
    apply(&node, &file("t.yaml", text)).await.unwrap();
    let fired = within("a scheduled event", next_event(&mut output)).await;
    assert_eq!(attribute(&fired, "type"), "com.example.tick");
    assert_eq!(attribute(&fired, "source"), "/weft/schedule");
    assert!(
        attribute(&fired, "time").ends_with(":00Z"),
        "{}",
        attribute(&fired, "time")
    );
    let data: serde_json::Value =
        serde_json::from_slice(fired.cloudevent.data.as_deref().unwrap()).unwrap();
    assert_eq!(data, serde_json::json!({"service": "billing"}));
    let status = &node.controller.get(Some(Kind::Source), None).await[0];
    assert_eq!(status.condition.reason, "Scheduled");
}

#[tokio::test]
async fn changing_only_a_sink_restarts_the_routes_that_use_it() {
    let node = node().await;
    let flow = |topic: &str| {
        format!(
            "apiVersion: weft/v1\nkind: Sink\nmetadata: {{name: out}}\nspec: {{topic: {topic}}}\n---\napiVersion: weft/v1\nkind: Route\nmetadata: {{name: r}}\nspec:\n  from: {{topic: \"in/>\"}}\n  to: {{sink: out}}\n"
        )
    };
    apply(&node, &file("a.yaml", &flow("first"))).await.unwrap();
    flows(&node, "in/1", "first", "k1").await;
    let changed = apply(&node, &file("a.yaml", &flow("second")))
        .await
        .unwrap();
    assert_eq!(changed, "sink/out configured\nroute/r unchanged");
    flows(&node, "in/2", "second", "k2").await;
    let route = &node.controller.get(Some(Kind::Route), None).await[0];
    assert_eq!(
        route.generation, 1,
        "the route's own manifest did not change"
    );
}
