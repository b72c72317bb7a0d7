use super::*;
use crate::load_str;

fn state(text: &str) -> DesiredState {
    DesiredState::from_set(&load_str("state.yaml", text).unwrap())
}

const BASE: &str = "
apiVersion: weft/v1
kind: Route
metadata: {name: big-us-orders}
spec: {from: {topic: a/>}, to: {topic: b}}
---
apiVersion: weft/v1
kind: Stream
metadata: {name: orders}
spec: {filters: [orders/>]}
---
apiVersion: weft/v1
kind: Sink
metadata: {name: old}
spec: {topic: x}
";

const NEXT: &str = "
apiVersion: weft/v1
kind: Route
metadata: {name: big-us-orders}
spec: {from: {topic: a/>}, to: {topic: c}}
---
apiVersion: weft/v1
kind: Stream
metadata: {name: orders}
spec:
  filters: [orders/>]
---
apiVersion: weft/v1
kind: Sink
metadata: {name: new}
spec: {topic: x}
";

#[test]
fn diff_against_empty_creates_everything_in_creation_order() {
    let plan = diff(&DesiredState::new(), &state(BASE), Prune::Keep);
    assert_eq!(
        plan.to_string(),
        "stream/orders created\nsink/old created\nroute/big-us-orders created"
    );
}

#[test]
fn diff_reports_configured_unchanged_and_keeps_extra_resources_without_prune() {
    let plan = diff(&state(BASE), &state(NEXT), Prune::Keep);
    assert_eq!(
        plan.to_string(),
        "stream/orders unchanged\nsink/new created\nroute/big-us-orders configured"
    );
    assert!(plan.delete.is_empty());
    let next = plan.apply(&state(BASE), &state(NEXT));
    assert_eq!(next.len(), 4, "the old sink stays");
}

#[test]
fn prune_deletes_what_is_no_longer_declared() {
    let plan = diff(&state(BASE), &state(NEXT), Prune::Delete);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.lines()[0].to_string(), "sink/old deleted");
    assert_eq!(plan.apply(&state(BASE), &state(NEXT)), state(NEXT));
}

#[test]
fn formatting_and_defaults_do_not_change_the_digest() {
    let written_out = "
apiVersion: weft/v1
kind: Route
metadata: {name: big-us-orders}
spec:
  to: {topic: b}
  from: {topic: a/>}
  delivery: {retries: 3, timeout: 30s}
  ordering: {by: key}
  maxInFlight: 64
";
    let plan = diff(&state(BASE), &state(written_out), Prune::Keep);
    assert_eq!(plan.to_string(), "route/big-us-orders unchanged");
    assert!(plan.is_noop());
}

#[test]
fn labels_change_the_digest() {
    let labelled = BASE.replacen(
        "{name: big-us-orders}",
        "{name: big-us-orders, labels: {a: b}}",
        1,
    );
    let plan = diff(&state(BASE), &state(&labelled), Prune::Keep);
    assert_eq!(plan.update.len(), 1);
}

#[test]
fn delete_plan_lists_missing_resources_as_not_found() {
    let keys: Vec<ResourceKey> = ["route/big-us-orders", "stream/orders", "sink/ghost"]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect();
    let plan = delete_plan(&state(BASE), &keys);
    assert_eq!(
        plan.to_string(),
        "route/big-us-orders deleted\nstream/orders deleted\nsink/ghost not found"
    );
}

#[test]
fn desired_state_round_trips_through_json() {
    let original = state(BASE);
    let json = serde_json::to_string(&original).unwrap();
    assert!(json.starts_with("{\"resources\":["), "{json}");
    assert!(json.contains("\"digest\":\"fnv1a64:"), "{json}");
    let back: DesiredState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, original);
}
