//! `weft flow explain ROUTE --event FILE`: what a route does with one event, step by
//! step — the `from` topic match, the filter clause by clause (weft-cesql's traced
//! evaluation), the event after each transform step, and the outcome. Nothing is
//! delivered: the outcome names the destination the event would be sent to.
//!
//! The route (and its sink) come from the manifests given with `-f` (default `.`), or
//! with `--url` from the node's `/v1/resources/route/NAME` (and `/sink/NAME`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Value, json};
use weft_cesql::{EvalOptions, TraceNode};
use weft_core::{CloudEvent, Topic};
use weft_flow::manifest::route::{DeadLetter, Destination, Input, RouteSpec};
use weft_flow::manifest::sink::{HttpMode, SinkSpec, SinkTarget};
use weft_flow::{Kind, Spec, transform};

use super::EXIT_INVALID_INPUT;
use crate::cli::{FlowExplainArgs, TextOrJson};
use crate::client::NodeClient;
use crate::manifests;

pub async fn run(args: FlowExplainArgs) -> anyhow::Result<ExitCode> {
    let event = match manifests::read_event(&args.event) {
        Ok(event) => event,
        Err(error) => {
            eprintln!("weft: {error:#}");
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let (route, sink) = if args.url {
        from_node(&args).await?
    } else {
        let files = if args.files.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.files.clone()
        };
        let sources = manifests::read_sources(&files)?;
        let sets = match manifests::load(&sources) {
            Ok(sets) => sets,
            Err(errors) => {
                manifests::print_errors(&errors);
                return Ok(ExitCode::from(EXIT_INVALID_INPUT));
            }
        };
        let find = |kind: Kind, name: &str| {
            sets.iter()
                .find_map(|set| set.get(kind, name))
                .map(|loaded| loaded.manifest.spec.clone())
        };
        let Some(Spec::Route(route)) = find(Kind::Route, &args.route) else {
            return Err(anyhow!("route `{}` is not in the manifests", args.route));
        };
        let sink = match &route.to {
            Destination::Sink { sink } => match find(Kind::Sink, sink.as_str()) {
                Some(Spec::Sink(sink)) => Some(sink),
                _ => None,
            },
            _ => None,
        };
        (route, sink)
    };
    let topic = args
        .topic
        .clone()
        .or_else(|| match event.attributes.get("wefttopic") {
            Some(weft_core::AttributeValue::String(topic)) => Some(topic.to_owned()),
            _ => None,
        });
    let topic = topic.map(Topic::new).transpose()?;
    let explanation = explain(&args.route, &route, sink.as_ref(), &event, topic.as_ref());
    match args.output {
        TextOrJson::Json => outln!("{}", serde_json::to_string_pretty(&explanation.json)?)?,
        TextOrJson::Text => out!("{}", explanation.text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The route (and its sink) as the node has them.
async fn from_node(args: &FlowExplainArgs) -> anyhow::Result<(RouteSpec, Option<SinkSpec>)> {
    let client = NodeClient::new(&args.server.server)?;
    let resource = client
        .get_json(&format!("/v1/resources/route/{}", args.route))
        .await?;
    let spec = resource.get("spec").cloned().unwrap_or(Value::Null);
    let route: RouteSpec = serde_json::from_value(spec)
        .map_err(|error| anyhow!("the node's route `{}` is unreadable: {error}", args.route))?;
    let sink = match &route.to {
        Destination::Sink { sink } => {
            let resource = client.get_json(&format!("/v1/resources/sink/{sink}")).await;
            resource
                .ok()
                .and_then(|resource| serde_json::from_value(resource.get("spec")?.clone()).ok())
        }
        _ => None,
    };
    Ok((route, sink))
}

/// The explanation in both forms.
pub struct Explanation {
    pub text: String,
    pub json: Value,
}

/// Explains what `route` does with `event` published on `topic`.
pub fn explain(
    name: &str,
    route: &RouteSpec,
    sink: Option<&SinkSpec>,
    event: &CloudEvent,
    topic: Option<&Topic>,
) -> Explanation {
    let mut text = format!("route/{name}\n");
    let mut json = serde_json::Map::new();
    json.insert("route".into(), json!(name));
    json.insert("event".into(), event_json(event));

    // from
    let (from_text, from_json, received) = from(route, topic);
    text.push_str(&from_text);
    json.insert("from".into(), from_json);
    if !received {
        let outcome =
            json!({"result": "not-received", "reason": "the topic does not match `from`"});
        text.push_str("outcome: not received (the topic does not match `from`)\n");
        json.insert("outcome".into(), outcome);
        return Explanation {
            text,
            json: Value::Object(json),
        };
    }

    // filter
    if let Some(filter) = &route.filter {
        let options = EvalOptions::with_data_fields();
        let (evaluation, trace) = filter.expression().evaluate_traced(event, &options);
        let passed = evaluation.is_match();
        text.push_str(&format!(
            "filter: {} → {}\n",
            filter.source(),
            if passed { "passes" } else { "does not pass" }
        ));
        render_trace(&mut text, &trace, 2);
        json.insert(
            "filter".into(),
            json!({
                "expression": filter.source(),
                "passed": passed,
                "value": evaluation.value.to_json(),
                "errors": evaluation.errors.iter().map(weft_cesql::EvalError::to_json).collect::<Vec<_>>(),
                "trace": TraceNode::to_json(&trace),
            }),
        );
        if !passed {
            let reason = if evaluation.errors.is_empty() {
                format!("the filter is {}, not true", evaluation.value)
            } else {
                "the filter raised errors".to_owned()
            };
            text.push_str(&format!("outcome: dropped ({reason})\n"));
            json.insert(
                "outcome".into(),
                json!({"result": "dropped", "reason": reason}),
            );
            return Explanation {
                text,
                json: Value::Object(json),
            };
        }
    } else {
        text.push_str("filter: none (every event passes)\n");
        json.insert("filter".into(), Value::Null);
    }

    // transform
    let mut steps = Vec::new();
    let mut current = event.clone();
    let mut failure = None;
    if route.transform.is_empty() {
        text.push_str("transform: none\n");
    }
    for (index, step) in route.transform.iter().enumerate() {
        let step_json = serde_json::to_value(step).unwrap_or(Value::Null);
        text.push_str(&format!("transform[{index}]: {step_json}\n"));
        match transform::apply(&route.transform[..=index], event) {
            Ok(after) => {
                text.push_str(&indent(&event_text(&after), 4));
                steps.push(json!({"index": index, "step": step_json, "event": event_json(&after)}));
                current = after;
            }
            Err(error) => {
                text.push_str(&format!("    failed: {error}\n"));
                steps.push(json!({"index": index, "step": step_json, "error": error.to_string()}));
                failure = Some(error.to_string());
                break;
            }
        }
    }
    json.insert("transform".into(), Value::Array(steps));

    // outcome
    let outcome = match failure {
        Some(error) => match &route.delivery.dead_letter {
            Some(dead_letter) => {
                let to = dead_letter_text(dead_letter);
                text.push_str(&format!(
                    "outcome: dead-lettered to {to} (reason transform-failed: {error})\n"
                ));
                json!({"result": "dead-lettered", "destination": to, "reason": "transform-failed", "error": error})
            }
            None => {
                text.push_str(&format!(
                    "outcome: failed, dropped (no deadLetter; reason transform-failed: {error})\n"
                ));
                json!({"result": "failed", "reason": "transform-failed", "error": error})
            }
        },
        None => {
            let to = destination_text(&route.to, sink);
            text.push_str(&format!("outcome: delivered to {to}\n"));
            json.insert("result".into(), event_json(&current));
            json!({"result": "delivered", "destination": to})
        }
    };
    json.insert("outcome".into(), outcome);
    Explanation {
        text,
        json: Value::Object(json),
    }
}

/// The `from` part: text, JSON, and whether the event is received.
fn from(route: &RouteSpec, topic: Option<&Topic>) -> (String, Value, bool) {
    match &route.from {
        Input::Topic { topic: filter } => match topic {
            Some(topic) => {
                let matches = filter.matches(topic);
                let verdict = if matches { "matches" } else { "does not match" };
                (
                    format!("from: topic filter `{filter}`: `{topic}` {verdict}\n"),
                    json!({"topic": filter.as_str(), "eventTopic": topic.as_str(), "matches": matches}),
                    matches,
                )
            }
            None => (
                format!(
                    "from: topic filter `{filter}`: not checked (give --topic, or a `wefttopic` attribute)\n"
                ),
                json!({"topic": filter.as_str(), "eventTopic": null, "matches": null}),
                true,
            ),
        },
        Input::Stream { stream, group } => (
            format!(
                "from: stream `{stream}`, consumer group `{group}` (the event is read from the stream)\n"
            ),
            json!({"stream": stream.as_str(), "group": group}),
            true,
        ),
    }
}

fn destination_text(to: &Destination, sink: Option<&SinkSpec>) -> String {
    match to {
        Destination::Topic { topic } => format!("topic `{topic}`"),
        Destination::Stream { stream } => format!("stream `{stream}`"),
        Destination::Sink { sink: name } => match sink.map(|sink| &sink.target) {
            Some(SinkTarget::Http(http)) => {
                let mode = match http.mode {
                    HttpMode::Binary => "binary",
                    HttpMode::Structured => "structured",
                };
                format!("sink `{name}` (http POST {}, {mode} mode)", http.url)
            }
            Some(SinkTarget::Topic(topic)) => format!("sink `{name}` (topic `{topic}`)"),
            Some(SinkTarget::Stream(stream)) => format!("sink `{name}` (stream `{stream}`)"),
            None => format!("sink `{name}`"),
        },
    }
}

fn dead_letter_text(dead_letter: &DeadLetter) -> String {
    match dead_letter {
        DeadLetter::Topic { topic } => format!("topic `{topic}`"),
        DeadLetter::Stream { stream } => format!("stream `{stream}`"),
    }
}

/// The event in the CloudEvents JSON format, as a JSON value.
fn event_json(event: &CloudEvent) -> Value {
    serde_json::from_slice(&weft_core::json::encode(event)).unwrap_or(Value::Null)
}

/// The event as one line of JSON.
fn event_text(event: &CloudEvent) -> String {
    format!(
        "{}\n",
        String::from_utf8_lossy(&weft_core::json::encode(event))
    )
}

/// The trace, one sub-expression per line (`text => value  [kind: error]`), indented by
/// depth; literals (whose value is their text) are left out.
fn render_trace(out: &mut String, node: &TraceNode, depth: usize) {
    let value = node
        .value
        .as_ref()
        .map_or_else(|| "<missing>".to_owned(), ToString::to_string);
    out.push_str(&format!(
        "{:width$}{} => {value}",
        "",
        node.text,
        width = depth * 2
    ));
    for error in &node.errors {
        out.push_str(&format!("  [{error}]"));
    }
    out.push('\n');
    for child in &node.children {
        let literal = child.children.is_empty()
            && child.errors.is_empty()
            && child
                .value
                .as_ref()
                .is_some_and(|value| value.to_string() == child.text);
        if !literal {
            render_trace(out, child, depth + 1);
        }
    }
}

fn indent(text: &str, spaces: usize) -> String {
    text.lines()
        .map(|line| format!("{:spaces$}{line}\n", ""))
        .collect()
}
