use weft_core::Attributes;

use super::*;
use crate::load_str;

const MANIFESTS: &str = r#"
apiVersion: weft/v1
kind: Route
metadata: {name: big}
spec:
  from: {topic: "orders/>"}
  filter: "total > 100"
  transform:
    - set: {attribute: type, value: big.order}
    - set: {data: priority, value: high}
    - set: {attribute: region, expression: "UPPER(country)"}
  to: {sink: billing}
  delivery:
    deadLetter: {topic: dlq/big}
---
apiVersion: weft/v1
kind: Sink
metadata: {name: billing}
spec:
  http: {url: "http://127.0.0.1:9000/events"}
---
apiVersion: weft/v1
kind: Route
metadata: {name: split}
spec:
  from: {stream: orders}
  transform:
    - jq: '.[]'
  to: {topic: out}
"#;

fn sets() -> Vec<ManifestSet> {
    vec![load_str("flows.yaml", MANIFESTS).unwrap()]
}

fn order(data: &str) -> CloudEvent {
    let mut attributes = Attributes::new("o-1", "/shop", "order").unwrap();
    attributes.datacontenttype = Some("application/json".into());
    CloudEvent::new(attributes, Some(bytes::Bytes::from(data.to_owned())))
}

fn explained(route: &str, event: &CloudEvent, topic: Option<&str>) -> Explanation {
    let (spec, sink) = find_route(&sets(), route).unwrap();
    let topic = topic.map(|topic| Topic::new(topic).unwrap());
    explain(route, &spec, sink.as_ref(), event, topic.as_ref())
}

#[test]
fn explanation_and_process_agree_on_every_kind_of_outcome() {
    let (big, _) = find_route(&sets(), "big").unwrap();
    let (split, _) = find_route(&sets(), "split").unwrap();
    let cases = [
        (&big, "big", order(r#"{"total":250,"country":"us"}"#)),
        (&big, "big", order(r#"{"total":5}"#)),
        (&big, "big", order(r#"{"total":250}"#)),
        (&split, "split", order("[1]")),
        (&split, "split", order("[1,2]")),
    ];
    for (route, name, event) in cases {
        let explanation = explain(name, route, None, &event, None);
        match (process(route, &event), &explanation.verdict) {
            (Ok(Outcome::Dropped), Verdict::Dropped) => {}
            (Ok(Outcome::Delivered(expected)), Verdict::Delivered { event, .. }) => {
                assert_eq!(event, &expected);
                let last = explanation.steps.last().unwrap();
                assert_eq!(last.result.as_ref(), Ok(&expected));
            }
            (Err(expected), Verdict::DeadLettered { error, .. } | Verdict::Failed { error }) => {
                assert_eq!(error, &expected);
            }
            (processed, verdict) => panic!("{name}: process {processed:?}, explain {verdict:?}"),
        }
    }
}

#[test]
fn each_step_shows_the_event_after_it_and_the_first_failure_ends_the_steps() {
    let explanation = explained("split", &order("[1,2]"), None);
    assert_eq!(explanation.steps.len(), 1);
    assert!(explanation.steps[0].result.is_err());
    assert!(matches!(explanation.verdict, Verdict::Failed { .. }));

    let explanation = explained("big", &order(r#"{"total":250,"country":"us"}"#), None);
    let types: Vec<String> = explanation
        .steps
        .iter()
        .map(|step| step.result.as_ref().unwrap().attributes.ty.clone())
        .collect();
    assert_eq!(types, ["big.order", "big.order", "big.order"]);
    let data = |index: usize| {
        let event = explanation.steps[index].result.as_ref().unwrap();
        serde_json::from_slice::<serde_json::Value>(event.data.as_ref().unwrap()).unwrap()
    };
    assert_eq!(data(0)["priority"], serde_json::Value::Null);
    assert_eq!(data(1)["priority"], "high");
    let last = explanation.steps[2].result.as_ref().unwrap();
    assert_eq!(
        last.attributes.get("region"),
        Some(AttributeValue::String("US"))
    );
}

#[test]
fn text_names_the_trace_steps_and_the_sink_destination() {
    let event = order(r#"{"total":250,"country":"us"}"#);
    let text = explained("big", &event, Some("orders/eu")).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "route/big");
    assert_eq!(
        lines[1],
        "from: topic filter `orders/>`: `orders/eu` matches"
    );
    assert_eq!(lines[2], "filter: total > 100 → passes");
    assert_eq!(lines[3], "    total > 100 => TRUE");
    assert_eq!(lines[4], "      total => 250");
    assert_eq!(
        lines[5],
        r#"transform[0]: {"set":{"attribute":"type","value":"big.order"}}"#
    );
    assert!(
        lines[6].starts_with("    {\"specversion\":\"1.0\""),
        "{text}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &"outcome: delivered to sink `billing` (http POST http://127.0.0.1:9000/events, binary mode)"
    );
}

#[test]
fn a_topic_that_does_not_match_stops_before_the_filter() {
    let explanation = explained("big", &order(r#"{"total":250}"#), Some("billing/x"));
    assert_eq!(explanation.verdict, Verdict::NotReceived);
    assert_eq!(explanation.filter, None);
    assert!(explanation.to_string().ends_with(
        "`billing/x` does not match\noutcome: not received (the topic does not match `from`)\n"
    ));
    let json = explanation.to_json();
    assert_eq!(json["from"]["matches"], false);
    assert_eq!(json["outcome"]["result"], "not-received");
    assert!(json.get("filter").is_none() && json.get("transform").is_none());
}

#[test]
fn a_dropped_event_has_a_filter_but_no_transform_in_json() {
    let explanation = explained("big", &order(r#"{"total":5}"#), None);
    assert_eq!(explanation.from.matches(), None);
    assert!(
        explanation
            .to_string()
            .ends_with("outcome: dropped (the filter is FALSE, not true)\n")
    );
    let json = explanation.to_json();
    assert_eq!(json["filter"]["passed"], false);
    assert!(json.get("transform").is_none());
    assert_eq!(json["outcome"]["result"], "dropped");
}

#[test]
fn a_failing_step_is_dead_lettered_when_the_route_has_a_dead_letter() {
    let explanation = explained("big", &order(r#"{"total":250}"#), None);
    let Verdict::DeadLettered { error, .. } = &explanation.verdict else {
        panic!("{:?}", explanation.verdict);
    };
    assert!(
        matches!(error, TransformError::Expression { step: 2, .. }),
        "{error}"
    );
    let json = explanation.to_json();
    assert_eq!(json["outcome"]["destination"], "topic `dlq/big`");
    assert_eq!(json["outcome"]["reason"], "transform-failed");
    assert!(json.get("result").is_none());
}

#[test]
fn find_route_takes_the_sink_from_any_set_and_the_topic_from_wefttopic() {
    let (route, sink) = find_route(&sets(), "big").unwrap();
    assert_eq!(sink_name(&route).map(ResourceName::as_str), Some("billing"));
    assert!(matches!(sink.unwrap().target, SinkTarget::Http(_)));
    assert!(
        find_route(&sets(), "billing").is_none(),
        "a sink is not a route"
    );

    let mut event = order("{}");
    assert_eq!(published_topic(&event), None);
    event
        .attributes
        .set(
            TOPIC_ATTRIBUTE,
            weft_core::ExtensionValue::String("orders/eu".into()),
        )
        .unwrap();
    assert_eq!(published_topic(&event), Some("orders/eu"));
}
