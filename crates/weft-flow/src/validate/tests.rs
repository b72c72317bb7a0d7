use super::*;
use crate::{check_str, load_str};

fn route(name: &str, from: &str, to: &str) -> String {
    format!(
        "---\napiVersion: weft/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec: {{from: {from}, to: {to}}}\n"
    )
}

fn cycle_texts(text: &str) -> Vec<String> {
    let set = load_str("c.yaml", text).unwrap();
    cycles(&set)
        .iter()
        .map(|cycle| cycle.describe(&set))
        .collect()
}

#[test]
fn a_route_into_its_own_filter_is_a_cycle() {
    let text = route("echo", "{topic: \"a/>\"}", "{topic: a/b}");
    assert_eq!(
        cycle_texts(&text),
        ["route/echo → topic `a/b` → route/echo"]
    );
}

#[test]
fn wildcards_connect_routes_into_a_cycle_reported_once() {
    let text = route("one", "{topic: \"x/*\"}", "{topic: y/1/z}")
        + &route("two", "{topic: \"y/>\"}", "{topic: w}")
        + &route("three", "{topic: w}", "{topic: x/9}");
    assert_eq!(
        cycle_texts(&text),
        [
            "route/one → topic `y/1/z` → route/two → topic `w` → route/three → topic `x/9` → route/one"
        ]
    );
}

#[test]
fn a_chain_without_a_way_back_is_not_a_cycle() {
    let text = route("one", "{topic: a}", "{topic: b}") + &route("two", "{topic: b}", "{topic: c}");
    assert!(cycle_texts(&text).is_empty());
}

#[test]
fn cycles_through_streams_and_sinks_are_found() {
    let text = "---\napiVersion: weft/v1\nkind: Stream\nmetadata: {name: s}\nspec: {filters: [\"in/>\"]}\n\
                ---\napiVersion: weft/v1\nkind: Sink\nmetadata: {name: back}\nspec: {topic: in/again}\n"
        .to_owned()
        + &route("loop", "{stream: s}", "{sink: back}");
    assert_eq!(cycle_texts(&text), ["route/loop → stream `s` → route/loop"]);
    let reply = "---\napiVersion: weft/v1\nkind: Sink\nmetadata: {name: svc}\n\
                 spec: {http: {url: \"http://h/\"}, reply: r/out}\n"
        .to_owned()
        + &route("ask", "{topic: \"r/>\"}", "{sink: svc}");
    assert_eq!(
        cycle_texts(&reply),
        ["route/ask → topic `r/out` → route/ask"]
    );
}

#[test]
fn existing_streams_satisfy_references() {
    let text = route("r", "{stream: legacy.orders}", "{stream: archive}");
    let errors = check_str("r.yaml", &text, &Context::default()).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors}");
    let context = Context::with_existing_streams(["legacy.orders", "archive"]);
    check_str("r.yaml", &text, &context).unwrap();
}

#[test]
fn duplicate_webhook_paths_are_rejected() {
    let source = |name: &str| {
        format!(
            "---\napiVersion: weft/v1\nkind: Source\nmetadata: {{name: {name}}}\nspec:\n  topic: t\n  webhook: {{path: /hook, type: t, source: /s}}\n"
        )
    };
    let text = source("a") + &source("b");
    let errors = check_str("w.yaml", &text, &Context::default()).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "w.yaml:14:19: spec.webhook.path: webhook path `/hook` is already used by source `a`"
    );
}
