//! Flows in a whole node: the resources API, durable desired state, the GitOps
//! directory, webhook and schedule sources, and a route to a failing HTTP sink.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use weft_core::Filter;
use weft_test::{TestNode, WAIT, call_json};

fn route(name: &str, from: &str, to: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  from: {{topic: \"{from}\"}}\n  to: {{topic: \"{to}\"}}\n"
    )
}

async fn post(node: &TestNode, path: &str, body: Value) -> (u16, Value) {
    call_json(node.client().post(node.url(path)).json(&body))
        .await
        .unwrap()
}

async fn apply(node: &TestNode, name: &str, text: &str) -> (u16, Value) {
    let body = json!({"files": [{"name": name, "text": text}], "prune": false});
    post(node, "/v1/resources/apply?dryRun=false", body).await
}

async fn get(node: &TestNode, path: &str) -> (u16, Value) {
    call_json(node.client().get(node.url(path))).await.unwrap()
}

/// Publishes a JSON event on `from` and expects it on `to`.
async fn delivers(node: &TestNode, from: &str, to: &str) {
    let mut subscriber = node.subscribe_sse(&[to]).await.unwrap();
    let ids = node
        .publish_plain(from, "application/json", b"{\"n\":1}")
        .await
        .unwrap();
    let received = subscriber.next_event().await.unwrap();
    assert_eq!(received.id(), ids[0]);
}

/// Polls `GET path` until `done` holds for the answer; fails after [`WAIT`].
async fn until(node: &TestNode, path: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = get(node, path).await;
        if done(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "GET {path} never got there: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn applying_over_http_runs_the_route_and_reapplying_is_unchanged() {
    let node = TestNode::start().await.unwrap();
    let text = route("copy", "orders/>", "copied");
    let (status, body) = apply(&node, "flows/copy.yaml", &text).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"dryRun": false, "changes": [{"kind": "Route", "name": "copy", "action": "created"}], "text": "route/copy created"})
    );
    delivers(&node, "orders/eu", "copied").await;
    let (_, again) = apply(&node, "flows/copy.yaml", &text).await;
    assert_eq!(again["text"], "route/copy unchanged");
    assert_eq!(again["changes"][0]["action"], "unchanged");

    let (status, resource) = get(&node, "/v1/resources/routes/copy").await;
    assert_eq!(status, 200);
    assert_eq!(resource["apiVersion"], "weft/v1");
    assert_eq!(resource["kind"], "Route");
    assert_eq!(resource["metadata"]["generation"], 1);
    assert_eq!(resource["spec"]["to"]["topic"], "copied");
    let status_json = &resource["status"];
    assert_eq!(status_json["observedGeneration"], 1);
    assert!(
        status_json["digest"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );
    let ready = &status_json["conditions"][0];
    assert_eq!(
        (ready["type"].as_str(), ready["status"].as_str()),
        (Some("Ready"), Some("True"))
    );
    assert_eq!(ready["reason"], "Running");
    assert!(ready["lastTransitionTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(status_json["counters"]["delivered"], 1);
    let (_, list) = get(&node, "/v1/resources").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, sinks) = get(&node, "/v1/resources/Sink").await;
    assert_eq!(sinks, json!({"items": []}));
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_changed_route_is_configured_and_a_dry_run_changes_nothing() {
    let node = TestNode::start().await.unwrap();
    apply(&node, "a.yaml", &route("copy", "in/>", "first")).await;
    let changed = json!({"files": [{"name": "a.yaml", "text": route("copy", "in/>", "second")}]});
    let (_, dry) = post(&node, "/v1/resources/apply?dryRun=true", changed.clone()).await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["text"], "route/copy configured");
    delivers(&node, "in/x", "first").await;
    let (status, body) = post(&node, "/v1/resources/apply", changed).await;
    assert_eq!(
        (status, body["text"].as_str()),
        (200, Some("route/copy configured"))
    );
    delivers(&node, "in/y", "second").await;
    let (_, resource) = get(&node, "/v1/resources/route/copy").await;
    assert_eq!(resource["metadata"]["generation"], 2);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_invalid_apply_is_422_with_positioned_errors_and_the_old_route_keeps_running() {
    let node = TestNode::start().await.unwrap();
    apply(&node, "a.yaml", &route("copy", "in/>", "out")).await;
    let bad = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: copy}\nspec:\n  from: {topic: \"in/#\"}\n  to: {sink: nowhere}\n  filtr: x\n";
    let (status, problem) = apply(&node, "flows/bad.yaml", bad).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:weft:problem:invalid-manifests");
    let errors = problem["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{problem}");
    assert_eq!(errors[0]["file"], "flows/bad.yaml");
    assert_eq!(
        (errors[0]["line"].as_u64(), errors[0]["column"].as_u64()),
        (Some(5), Some(17))
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("mqtt wildcard")
    );
    assert!(
        errors
            .iter()
            .any(|error| error["message"].as_str().unwrap().contains("filtr"))
    );
    delivers(&node, "in/still", "out").await;
    let (_, resource) = get(&node, "/v1/resources/route/copy").await;
    assert_eq!(resource["metadata"]["generation"], 1);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleting_stops_the_route_and_missing_resources_are_reported() {
    let node = TestNode::start().await.unwrap();
    let text = route("copy", "in/>", "out");
    apply(&node, "a.yaml", &text).await;
    assert_eq!(node.broker().stats().subscriptions, 1);
    let (status, deleted) = call_json(node.client().delete(node.url("/v1/resources/route/copy")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"dryRun": false, "changes": [{"kind": "Route", "name": "copy", "action": "deleted"}], "text": "route/copy deleted"})
    );
    assert_eq!(
        node.broker().stats().subscriptions,
        0,
        "the route's subscription is gone"
    );
    let (status, _) = call_json(node.client().delete(node.url("/v1/resources/route/copy")))
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = get(&node, "/v1/resources/route/copy").await;
    assert_eq!(status, 404);
    let (status, problem) = get(&node, "/v1/resources/widgets").await;
    assert_eq!(status, 400, "{problem}");
    let body = json!({"files": [{"name": "a.yaml", "text": text}]});
    let (status, absent) = post(&node, "/v1/resources/delete", body).await;
    assert_eq!(status, 200);
    assert_eq!(absent["changes"][0]["action"], "unchanged");
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn applied_flows_survive_a_node_restart() {
    let node = TestNode::start().await.unwrap();
    apply(&node, "a.yaml", &route("copy", "in/>", "out")).await;
    let node = node.restart().await.unwrap();
    let (status, resource) = get(&node, "/v1/resources/route/copy").await;
    assert_eq!(status, 200);
    assert_eq!(resource["status"]["conditions"][0]["status"], "True");
    delivers(&node, "in/after-restart", "out").await;
    node.shutdown().await.unwrap();
}

fn write(dir: &Path, name: &str, text: &str) {
    // Written beside and renamed, as editors and git do, so a poll never reads half.
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(temporary, dir.join(name)).unwrap();
}

#[tokio::test]
async fn a_watched_directory_is_applied_and_followed_edit_by_edit() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "copy.yaml", &route("copy", "in/>", "first"));
    let watched = dir.path().to_owned();
    let node = TestNode::start_with(|config| {
        config.flows.resources = Some(watched);
        config.flows.watch = true;
    })
    .await
    .unwrap();
    // Applied at start.
    delivers(&node, "in/a", "first").await;

    // An edit changes the running route.
    write(dir.path(), "copy.yaml", &route("copy", "in/>", "second"));
    until(&node, "/v1/resources/route/copy", |_, body| {
        body["spec"]["to"]["topic"] == "second"
    })
    .await;
    delivers(&node, "in/b", "second").await;

    // An invalid edit is refused; the route keeps running as it was.
    write(
        dir.path(),
        "copy.yaml",
        "apiVersion: weft/v1\nkind: Route\nmetadata: {name: copy}\nspec:\n  from: {topic: \"in/#\"}\n  to: {topic: third}\n",
    );
    // A valid file added at the same time is not applied either (all or nothing).
    write(dir.path(), "other.yaml", &route("other", "x/>", "y"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, list) = get(&node, "/v1/resources").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    delivers(&node, "in/c", "second").await;

    // Fixing it applies both; deleting a file removes its route.
    write(dir.path(), "copy.yaml", &route("copy", "in/>", "second"));
    until(&node, "/v1/resources", |_, body| {
        body["items"].as_array().unwrap().len() == 2
    })
    .await;
    std::fs::remove_file(dir.path().join("copy.yaml")).unwrap();
    until(&node, "/v1/resources/route/copy", |status, _| status == 404).await;
    assert_eq!(
        node.broker().stats().subscriptions,
        1,
        "only route/other subscribes"
    );
    node.shutdown().await.unwrap();
}

fn webhook(name: &str, path: &str, secret: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Source\nmetadata: {{name: {name}}}\nspec:\n  topic: hooks/{name}\n  webhook:\n    path: {path}\n    type: com.github.push\n    source: /github\n{secret}"
    )
}

#[tokio::test]
async fn webhook_sources_publish_signed_json_and_refuse_the_rest() {
    let node = TestNode::start().await.unwrap();
    let text = format!(
        "{}---\n{}",
        webhook(
            "signed",
            "/hooks/github",
            "    secret: {value: topsecret}\n"
        ),
        webhook("open", "/hooks/open", "")
    );
    let (status, body) = apply(&node, "hooks.yaml", &text).await;
    assert_eq!(status, 200, "{body}");
    let mut subscriber = node.subscribe_sse(&["hooks/>"]).await.unwrap();
    let payload = br#"{"ref":"refs/heads/main"}"#;
    let signature = weft_flow::runtime::webhook::sign(b"topsecret", payload);
    let hook = |path: &str| node.client().post(node.url(path));

    let (status, accepted) = call_json(
        hook("/hooks/github")
            .header("x-hub-signature-256", &signature)
            .body(&payload[..]),
    )
    .await
    .unwrap();
    assert_eq!(status, 202, "{accepted}");
    let event = subscriber.next_event().await.unwrap();
    assert_eq!(event.id(), accepted["ids"][0]);
    assert_eq!(event.topic, "hooks/signed");
    assert_eq!(event.event.attributes.ty, "com.github.push");
    assert_eq!(event.event.data.as_deref(), Some(&payload[..]));

    let wrong = weft_flow::runtime::webhook::sign(b"guess", payload);
    for request in [
        hook("/hooks/github").body(&payload[..]),
        hook("/hooks/github")
            .header("x-hub-signature-256", wrong)
            .body(&payload[..]),
    ] {
        let (status, problem) = call_json(request).await.unwrap();
        assert_eq!(status, 401, "{problem}");
        assert_eq!(problem["type"], "urn:weft:problem:invalid-signature");
    }
    // Without a secret anything JSON is accepted; non-JSON is 400, too large 413.
    let (status, _) = call_json(hook("/hooks/open").body("[1,2]")).await.unwrap();
    assert_eq!(status, 202);
    assert_eq!(subscriber.next_event().await.unwrap().topic, "hooks/open");
    let (status, _) = call_json(hook("/hooks/open").body("not json"))
        .await
        .unwrap();
    assert_eq!(status, 400);
    let big = format!("\"{}\"", "x".repeat(2 * 1024 * 1024));
    let (status, _) = call_json(hook("/hooks/open").body(big)).await.unwrap();
    assert_eq!(status, 413);
    let (status, _) = call_json(node.client().get(node.url("/hooks/open")))
        .await
        .unwrap();
    assert_eq!(status, 405);
    let (status, _) = call_json(hook("/hooks/none").body("{}")).await.unwrap();
    assert_eq!(status, 404);
    let (_, source) = get(&node, "/v1/resources/source/signed").await;
    assert_eq!(source["spec"]["webhook"]["secret"]["value"], "(redacted)");
    assert_eq!(source["status"]["counters"]["events_emitted"], 1);
    assert_eq!(source["status"]["counters"]["requests_rejected"], 2);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_schedule_source_fires_every_minute_in_a_running_node() {
    let node = TestNode::start().await.unwrap();
    let mut subscription = node
        .broker()
        .subscribe(
            &weft_broker::Principal::anonymous(),
            vec![Filter::new("ticks").unwrap()],
            Default::default(),
        )
        .unwrap();
    let text = "apiVersion: weft/v1\nkind: Source\nmetadata: {name: tick}\nspec:\n  topic: ticks\n  schedule:\n    cron: \"* * * * *\"\n    type: com.example.tick\n    source: /weft/schedule\n";
    let (status, body) = apply(&node, "tick.yaml", text).await;
    assert_eq!(status, 200, "{body}");
    let (_, source) = get(&node, "/v1/resources/source/tick").await;
    assert_eq!(source["status"]["conditions"][0]["reason"], "Scheduled");
    // The first whole minute is at most 60 seconds away.
    let fired = tokio::time::timeout(Duration::from_secs(75), subscription.recv())
        .await
        .expect("the schedule fired within a minute")
        .unwrap();
    assert_eq!(fired.cloudevent.attributes.ty, "com.example.tick");
    assert!(fired.cloudevent.data.is_none());
    node.shutdown().await.unwrap();
}

/// A local HTTP sink that answers `503` to the first `failures` requests, then `200`.
async fn flaky_sink(failures: usize) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move || {
            let counter = Arc::clone(&counter);
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < failures {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/events"), requests)
}

fn sink_route(url: &str, retries: u32) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Sink\nmetadata: {{name: billing}}\nspec:\n  http: {{url: \"{url}\", timeout: 2s}}\n---\napiVersion: weft/v1\nkind: Route\nmetadata: {{name: bill}}\nspec:\n  from: {{topic: \"orders/>\"}}\n  to: {{sink: billing}}\n  delivery:\n    retries: {retries}\n    backoff: {{policy: constant, delay: 10ms, max: 10ms, jitter: false}}\n    deadLetter: {{topic: dlq/billing}}\n"
    )
}

#[tokio::test]
async fn a_route_to_a_failing_http_sink_retries_and_dead_letters_on_exhaustion() {
    let node = TestNode::start().await.unwrap();
    let (url, requests) = flaky_sink(2).await;
    let (status, body) = apply(&node, "bill.yaml", &sink_route(&url, 3)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "sink/billing created\nroute/bill created");
    node.publish_plain("orders/1", "application/json", b"{}")
        .await
        .unwrap();
    let resource = until(&node, "/v1/resources/route/bill", |_, body| {
        body["status"]["counters"]["delivered"] == 1
    })
    .await;
    assert_eq!(resource["status"]["counters"]["retried"], 2);
    assert_eq!(requests.load(Ordering::SeqCst), 3);

    // One retry is not enough against a sink that fails three times: dead letter.
    let (url, _) = flaky_sink(3).await;
    let mut dead = node.subscribe_sse(&["dlq/>"]).await.unwrap();
    let (_, body) = apply(&node, "bill.yaml", &sink_route(&url, 1)).await;
    assert_eq!(
        body["text"],
        "sink/billing configured\nroute/bill configured"
    );
    let ids = node
        .publish_plain("orders/2", "application/json", b"{}")
        .await
        .unwrap();
    let letter = dead.next_event().await.unwrap();
    assert_eq!(letter.id(), ids[0]);
    let value: Value = serde_json::from_str(&letter.json).unwrap();
    assert_eq!(value["weftdlreason"], "retries-exhausted");
    assert_eq!(value["weftdlroute"], "bill");
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_resource_that_cannot_start_is_422_and_nothing_changes() {
    let node = TestNode::start().await.unwrap();
    apply(&node, "a.yaml", &route("copy", "in/>", "out")).await;
    let text = format!(
        "{}---\n{}",
        route("copy", "in/>", "elsewhere"),
        webhook(
            "hook",
            "/hooks/x",
            "    secret: {env: WEFT_TEST_UNSET_WEBHOOK_SECRET}\n"
        )
    );
    let (status, problem) = apply(&node, "b.yaml", &text).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:weft:problem:start-failed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("WEFT_TEST_UNSET_WEBHOOK_SECRET"),
        "{problem}"
    );
    delivers(&node, "in/unchanged", "out").await;
    let (status, _) = get(&node, "/v1/resources/source/hook").await;
    assert_eq!(status, 404);
    node.shutdown().await.unwrap();
}
