//! An [`Explanation`] for people (`Display`, what `weft flow explain` prints) and for
//! programs ([`Explanation::to_json`], `-o json`). The format is described in
//! `docs/flows.md`.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value, json};
use weft_cesql::TraceNode;
use weft_core::CloudEvent;

use super::{
    Destination, Explanation, FilterCheck, FromCheck, StepCheck, TOPIC_ATTRIBUTE, Verdict,
};
use crate::manifest::route::{self, DeadLetter};
use crate::manifest::sink::{HttpMode, SinkTarget};
use crate::runtime::REASON_TRANSFORM_FAILED;

/// Why the event is not received (text and JSON say the same).
const NOT_RECEIVED: &str = "the topic does not match `from`";

impl fmt::Display for Explanation {
    /// `route/NAME`, then one part per stage that ran, then `outcome: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "route/{}", self.route)?;
        write_from(f, &self.from)?;
        if self.verdict == Verdict::NotReceived {
            return writeln!(f, "outcome: not received ({NOT_RECEIVED})");
        }
        match &self.filter {
            Some(filter) => {
                let verdict = if filter.passed() {
                    "passes"
                } else {
                    "does not pass"
                };
                writeln!(f, "filter: {} → {verdict}", filter.expression)?;
                write_trace(f, &filter.trace, 2)?;
            }
            None => writeln!(f, "filter: none (every event passes)")?,
        }
        if self.verdict == Verdict::Dropped {
            return writeln!(f, "outcome: dropped ({})", self.drop_reason());
        }
        if self.steps.is_empty() {
            writeln!(f, "transform: none")?;
        }
        for step in &self.steps {
            writeln!(f, "transform[{}]: {}", step.index, step_json(step))?;
            match &step.result {
                Ok(after) => {
                    for line in event_text(after).lines() {
                        writeln!(f, "    {line}")?;
                    }
                }
                Err(error) => writeln!(f, "    failed: {error}")?,
            }
        }
        match &self.verdict {
            Verdict::NotReceived | Verdict::Dropped => Ok(()),
            Verdict::Delivered { destination, .. } => {
                writeln!(f, "outcome: delivered to {destination}")
            }
            Verdict::DeadLettered { dead_letter, error } => writeln!(
                f,
                "outcome: dead-lettered to {} (reason {REASON_TRANSFORM_FAILED}: {error})",
                dead_letter_text(dead_letter)
            ),
            Verdict::Failed { error } => writeln!(
                f,
                "outcome: failed, dropped (no deadLetter; reason {REASON_TRANSFORM_FAILED}: {error})"
            ),
        }
    }
}

impl Explanation {
    /// One JSON object: `route`, `event`, `from`, then `filter`, `transform`, `result`
    /// as far as the event got, and `outcome`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut json = Map::new();
        json.insert("route".into(), json!(self.route));
        json.insert("event".into(), event_json(&self.event));
        json.insert("from".into(), from_json(&self.from));
        let outcome = match &self.verdict {
            Verdict::NotReceived => json!({"result": "not-received", "reason": NOT_RECEIVED}),
            Verdict::Dropped => {
                json.insert("filter".into(), filter_json(self.filter.as_ref()));
                json!({"result": "dropped", "reason": self.drop_reason()})
            }
            Verdict::Delivered { destination, event } => {
                self.insert_stages(&mut json);
                json.insert("result".into(), event_json(event));
                json!({"result": "delivered", "destination": destination.to_string()})
            }
            Verdict::DeadLettered { dead_letter, error } => {
                self.insert_stages(&mut json);
                json!({"result": "dead-lettered", "destination": dead_letter_text(dead_letter),
                    "reason": REASON_TRANSFORM_FAILED, "error": error.to_string()})
            }
            Verdict::Failed { error } => {
                self.insert_stages(&mut json);
                json!({"result": "failed", "reason": REASON_TRANSFORM_FAILED, "error": error.to_string()})
            }
        };
        json.insert("outcome".into(), outcome);
        Value::Object(json)
    }

    /// `filter` and `transform`, for an event that got past the filter.
    fn insert_stages(&self, json: &mut Map<String, Value>) {
        json.insert("filter".into(), filter_json(self.filter.as_ref()));
        let steps = self.steps.iter().map(|step| {
            let mut entry = json!({"index": step.index, "step": step_json(step)});
            match &step.result {
                Ok(after) => entry["event"] = event_json(after),
                Err(error) => entry["error"] = json!(error.to_string()),
            }
            entry
        });
        json.insert("transform".into(), Value::Array(steps.collect()));
    }

    /// Why the filter dropped the event.
    fn drop_reason(&self) -> String {
        match &self.filter {
            Some(filter) if !filter.evaluation.errors.is_empty() => {
                "the filter raised errors".to_owned()
            }
            Some(filter) => format!("the filter is {}, not true", filter.evaluation.value),
            None => "the filter did not pass".to_owned(),
        }
    }
}

impl fmt::Display for Destination {
    /// ``topic `T` ``, ``stream `S` ``, or ``sink `NAME` (http POST URL, binary mode)``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.to {
            route::Destination::Topic { topic } => write!(f, "topic `{topic}`"),
            route::Destination::Stream { stream } => write!(f, "stream `{stream}`"),
            route::Destination::Sink { sink: name } => match &self.sink {
                Some(SinkTarget::Http(http)) => {
                    let mode = match http.mode {
                        HttpMode::Binary => "binary",
                        HttpMode::Structured => "structured",
                    };
                    write!(f, "sink `{name}` (http POST {}, {mode} mode)", http.url)
                }
                Some(SinkTarget::Topic(topic)) => write!(f, "sink `{name}` (topic `{topic}`)"),
                Some(SinkTarget::Stream(stream)) => {
                    write!(f, "sink `{name}` (stream `{stream}`)")
                }
                None => write!(f, "sink `{name}`"),
            },
        }
    }
}

fn write_from(f: &mut fmt::Formatter<'_>, from: &FromCheck) -> fmt::Result {
    match from {
        FromCheck::Topic {
            filter,
            topic: Some(topic),
        } => {
            let verdict = if filter.matches(topic) {
                "matches"
            } else {
                "does not match"
            };
            writeln!(f, "from: topic filter `{filter}`: `{topic}` {verdict}")
        }
        FromCheck::Topic {
            filter,
            topic: None,
        } => writeln!(
            f,
            "from: topic filter `{filter}`: not checked (give --topic, or a `{TOPIC_ATTRIBUTE}` attribute)"
        ),
        FromCheck::Stream { stream, group } => writeln!(
            f,
            "from: stream `{stream}`, consumer group `{group}` (the event is read from the stream)"
        ),
    }
}

fn from_json(from: &FromCheck) -> Value {
    match from {
        FromCheck::Topic { filter, topic } => json!({
            "topic": filter.as_str(),
            "eventTopic": topic.as_ref().map(|topic| topic.as_str()),
            "matches": from.matches(),
        }),
        FromCheck::Stream { stream, group } => json!({"stream": stream.as_str(), "group": group}),
    }
}

fn filter_json(filter: Option<&FilterCheck>) -> Value {
    let Some(filter) = filter else {
        return Value::Null;
    };
    let errors: Vec<Value> = filter
        .evaluation
        .errors
        .iter()
        .map(weft_cesql::EvalError::to_json)
        .collect();
    json!({
        "expression": filter.expression.source(),
        "passed": filter.passed(),
        "value": filter.evaluation.value.to_json(),
        "errors": errors,
        "trace": filter.trace.to_json(),
    })
}

fn step_json(step: &StepCheck) -> Value {
    serde_json::to_value(&step.step).unwrap_or(Value::Null)
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

/// The event in the CloudEvents JSON format, as text (one line, unless its data is JSON
/// written over several).
fn event_text(event: &CloudEvent) -> String {
    String::from_utf8_lossy(&weft_core::json::encode(event)).into_owned()
}

/// The trace, one sub-expression per line (`text => value  [kind: error]`), indented by
/// depth; literals (whose value is their text) are left out.
fn write_trace(f: &mut fmt::Formatter<'_>, node: &TraceNode, depth: usize) -> fmt::Result {
    let value = node
        .value
        .as_ref()
        .map_or_else(|| "<missing>".to_owned(), ToString::to_string);
    write!(
        f,
        "{:width$}{} => {value}",
        "",
        node.text,
        width = depth * 2
    )?;
    for error in &node.errors {
        write!(f, "  [{error}]")?;
    }
    f.write_char('\n')?;
    for child in &node.children {
        let literal = child.children.is_empty()
            && child.errors.is_empty()
            && child
                .value
                .as_ref()
                .is_some_and(|value| value.to_string() == child.text);
        if !literal {
            write_trace(f, child, depth + 1)?;
        }
    }
    Ok(())
}
