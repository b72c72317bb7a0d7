use std::time::Duration;

use super::*;
use crate::manifest::route::{Destination, Input, OrderBy};
use crate::manifest::sink::{HttpMode, SinkTarget};
use crate::manifest::source::{Secret, SourceKind};
use crate::manifest::stream::{Discard, Flush};

fn errors(text: &str) -> String {
    load_str("m.yaml", text).unwrap_err().to_string()
}

const ISSUE_ROUTE: &str = r#"
apiVersion: weft/v1
kind: Route
metadata: {name: big-us-orders}
spec:
  from: {topic: "orders/*/us/>"}
  filter: "type = 'order.created' AND total > 100"
  transform:
    - set: {attribute: type, value: "billing.order"}
  to: {sink: billing}
  delivery:
    retries: 5
    backoff: {policy: exponential, delay: 200ms, max: 30s, jitter: true}
    timeout: 5s
    deadLetter: {topic: "dlq/billing"}
  ordering: {by: key}
  maxInFlight: 64
---
apiVersion: weft/v1
kind: Sink
metadata: {name: billing}
spec:
  http:
    url: "http://127.0.0.1:9000/events"
    mode: binary
    headers: {x-team: billing}
    timeout: 5s
"#;

#[test]
fn the_issue_examples_load() {
    let set = load_str("issue.yaml", ISSUE_ROUTE).unwrap();
    assert_eq!(set.len(), 2);
    let Spec::Route(route) = &set.items()[0].manifest.spec else {
        panic!("not a route");
    };
    assert!(matches!(&route.from, Input::Topic { topic } if topic.as_str() == "orders/*/us/>"));
    assert!(matches!(&route.to, Destination::Sink { sink } if sink.as_str() == "billing"));
    assert_eq!(route.delivery.retries, 5);
    assert_eq!(route.delivery.timeout, Duration::from_secs(5));
    assert_eq!(route.ordering.by, OrderBy::Key);
    assert_eq!(route.max_in_flight, 64);
    let Spec::Sink(sink) = &set.items()[1].manifest.spec else {
        panic!("not a sink");
    };
    let SinkTarget::Http(http) = &sink.target else {
        panic!("not http");
    };
    assert_eq!(http.mode, HttpMode::Binary);
    assert!(
        !http.tls.insecure_skip_verify,
        "tls verification is on by default"
    );
    assert_eq!(http.headers["x-team"], "billing");
}

#[test]
fn stream_spec_uses_the_http_api_field_names_and_defaults() {
    let set = load_str(
        "s.yaml",
        "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: orders}\nspec:\n  filters: [orders/>]\n  \
         retention: {max_age: 7d, max_events: 10}\n  max_event_bytes: 2KiB\n  flush: interval:250ms\n  \
         discard: new\n",
    )
    .unwrap();
    let Spec::Stream(stream) = &set.items()[0].manifest.spec else {
        panic!("not a stream");
    };
    assert_eq!(stream.partitions, 1);
    assert_eq!(
        stream.retention.max_age,
        Some(Duration::from_secs(7 * 86_400))
    );
    assert_eq!(stream.max_event_bytes, 2048);
    assert_eq!(stream.flush, Flush::Interval(Duration::from_millis(250)));
    assert_eq!(stream.discard, Discard::New);
    assert_eq!(stream.dedupe_window, Duration::from_secs(120));
}

#[test]
fn sources_read_webhooks_and_schedules() {
    let text = "apiVersion: weft/v1\nkind: Source\nmetadata: {name: gh}\nspec:\n  topic: github/push\n  \
                webhook: {path: /hooks/gh, type: com.github.push, source: /github, secret: {env: GH_SECRET}}\n\
                ---\napiVersion: weft/v1\nkind: Source\nmetadata: {name: tick}\nspec:\n  topic: tick\n  \
                schedule: {cron: '@hourly', type: tick, source: /cron, data: {n: 1}}\n";
    let set = load_str("s.yaml", text).unwrap();
    let Spec::Source(source) = &set.items()[0].manifest.spec else {
        panic!("not a source");
    };
    let SourceKind::Webhook(webhook) = &source.kind else {
        panic!("not a webhook");
    };
    assert_eq!(webhook.secret, Some(Secret::Env("GH_SECRET".into())));
    let Spec::Source(source) = &set.items()[1].manifest.spec else {
        panic!("not a source");
    };
    assert!(
        matches!(&source.kind, SourceKind::Schedule(schedule) if schedule.data == Some(serde_json::json!({"n": 1})))
    );
}

#[test]
fn a_route_reading_a_stream_defaults_its_group_to_its_name() {
    let text = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\nspec: {from: {stream: orders}, to: {topic: t}}\n";
    let set = load_str("r.yaml", text).unwrap();
    let Spec::Route(route) = &set.items()[0].manifest.spec else {
        panic!("not a route");
    };
    assert!(matches!(&route.from, Input::Stream { group, .. } if group == "r"));
}

#[test]
fn topics_and_filters_may_have_empty_levels_quoted_or_not() {
    let text = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\n\
                spec: {from: {topic: /devices/*}, to: {topic: \"a//b\"}}\n---\n\
                apiVersion: weft/v1\nkind: Stream\nmetadata: {name: legacy}\n\
                spec: {filters: [\"/TopicA\", a/>]}\n";
    let set = load_str("m.yaml", text).unwrap();
    let Spec::Route(route) = &set.items()[0].manifest.spec else {
        panic!("not a route");
    };
    assert!(matches!(&route.from, Input::Topic { topic } if topic.as_str() == "/devices/*"));
    assert!(matches!(&route.to, Destination::Topic { topic } if topic.as_str() == "a//b"));
    let Spec::Stream(stream) = &set.items()[1].manifest.spec else {
        panic!("not a stream");
    };
    let filters: Vec<&str> = stream.filters.iter().map(|f| f.as_str()).collect();
    assert_eq!(filters, ["/TopicA", "a/>"]);
}

#[test]
fn exactly_one_destination_is_required() {
    let base =
        "apiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\nspec: {from: {topic: a}, to: TO}\n";
    assert_eq!(
        errors(&base.replace("TO", "{}")),
        "m.yaml:4:30: spec.to: expected one of `sink`, `topic`, `stream`"
    );
    assert_eq!(
        errors(&base.replace("TO", "{sink: s, topic: t}")),
        "m.yaml:4:47: spec.to.topic: `topic` cannot be used together with `sink`"
    );
}

#[test]
fn empty_documents_are_skipped_and_kinds_must_be_spelled_exactly() {
    assert!(
        load_str("e.yaml", "---\n# nothing\n---\n")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        errors(
            "apiVersion: weft/v1\nkind: route\nmetadata: {name: r}\nspec: {from: {topic: a}, to: {topic: b}}\n"
        ),
        "m.yaml:2:7: kind: write the kind as `Route`"
    );
}

#[test]
fn missing_top_level_fields_are_reported_together() {
    assert_eq!(
        errors("kind: Sink\n"),
        "m.yaml:1:1: missing required field `apiVersion`\n\
         m.yaml:1:1: missing required field `metadata`\n\
         m.yaml:1:1: missing required field `spec`"
    );
}

#[test]
fn sink_and_source_mistakes_are_positioned() {
    let text = "apiVersion: weft/v1\nkind: Sink\nmetadata: {name: s}\nspec:\n  topic: t\n  reply: r\n\
                ---\napiVersion: weft/v1\nkind: Source\nmetadata: {name: w}\nspec:\n  topic: t\n  \
                webhook: {path: hooks, type: t, source: /s}\n\
                ---\napiVersion: weft/v1\nkind: Source\nmetadata: {name: c}\nspec:\n  topic: t\n  \
                schedule: {cron: '61 * * * *', type: t, source: /s}\n";
    assert_eq!(
        errors(text),
        "m.yaml:6:10: spec.reply: `reply` is only for http sinks\n\
         m.yaml:13:19: spec.webhook.path: a webhook path starts with `/`, got `hooks`\n\
         m.yaml:20:20: spec.schedule.cron: invalid cron expression `61 * * * *`: minute: 61 is outside 0-59"
    );
}

#[test]
fn directories_load_yaml_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let route = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: NAME}\nspec: {from: {topic: a}, to: {topic: b}}\n";
    std::fs::write(dir.path().join("b.yml"), route.replace("NAME", "second")).unwrap();
    std::fs::write(dir.path().join("a.yaml"), route.replace("NAME", "first")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();
    std::fs::write(dir.path().join(".hidden.yaml"), "broken: [").unwrap();
    let set = load_path(dir.path()).unwrap();
    let names: Vec<&str> = set.manifests().map(|m| m.metadata.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);

    std::fs::write(dir.path().join("c.yaml"), route.replace("NAME", "first")).unwrap();
    let errors = load_path(dir.path()).unwrap_err().to_string();
    assert!(
        errors.contains("c.yaml:3:18: metadata.name: duplicate route `first`, first defined at"),
        "{errors}"
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let errors = load_path(Path::new("/nonexistent/weft-flows.yaml")).unwrap_err();
    assert!(
        errors
            .to_string()
            .starts_with("/nonexistent/weft-flows.yaml:1:1: cannot read:")
    );
}

#[test]
fn a_route_budget_defaults_to_one_second_and_is_stored_only_when_set() {
    let route = |extra: &str| {
        format!(
            "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: r}}\nspec:\n  from: {{topic: a}}\n  to: {{topic: b}}\n{extra}"
        )
    };
    let spec = |text: &str| {
        let set = load_str("r.yaml", text).unwrap();
        let Spec::Route(route) = &set.items()[0].manifest.spec else {
            panic!("not a route");
        };
        route.clone()
    };
    let default = spec(&route(""));
    assert_eq!(default.budget, Duration::from_secs(1));
    // Routes stored before the setting existed keep their digests.
    let stored = serde_json::to_value(&default).unwrap();
    assert!(stored.get("budget").is_none(), "{stored}");

    let set = spec(&route("  budget: 250ms\n"));
    assert_eq!(set.budget, Duration::from_millis(250));
    let stored = serde_json::to_value(&set).unwrap();
    assert_eq!(stored["budget"], "250ms");
    let back: crate::manifest::route::RouteSpec = serde_json::from_value(stored).unwrap();
    assert_eq!(back, set);

    assert!(
        errors(&route("  budget: 0\n")).contains("spec.budget: must be longer than zero"),
        "{}",
        errors(&route("  budget: 0\n"))
    );
    assert!(
        errors(&route("  budget: 2m\n")).contains("spec.budget: must be at most 1m"),
        "{}",
        errors(&route("  budget: 2m\n"))
    );
}
