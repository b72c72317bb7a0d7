//! The status of each applied resource: its `Ready` condition and counters, and the
//! JSON form the resources API returns.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::running::Running;
use super::store::Entry;
use crate::manifest::route::Destination;
use crate::manifest::{Kind, Manifest, Spec};
use crate::state::ResourceKey;

/// The `Ready` condition of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Whether the resource does what its manifest says.
    pub ready: bool,
    /// A CamelCase word: `Running`, `StartFailed`, `Stopped`, `Listening`, …
    pub reason: String,
    /// For humans.
    pub message: String,
    /// When `ready` or `reason` last changed.
    pub last_transition: SystemTime,
}

/// One applied resource with its status.
#[derive(Debug, Clone)]
pub struct ResourceStatus {
    /// The manifest as applied.
    pub manifest: Manifest,
    /// Bumped each time the manifest's digest changed.
    pub generation: u64,
    /// The generation the controller acted on (applies are transactional, so it is
    /// `generation`).
    pub observed_generation: u64,
    /// The manifest's digest.
    pub digest: String,
    /// The `Ready` condition.
    pub condition: Condition,
    /// Counters by name (routes: `received`, `delivered`, …; sources:
    /// `events_emitted`, …; streams: `events`, `bytes`, `partitions`).
    pub counters: BTreeMap<String, u64>,
}

impl ResourceStatus {
    /// The resources API's form: `apiVersion`, `kind`, `metadata` (with `generation`),
    /// `spec` (webhook secret values redacted) and `status`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(&self.manifest).unwrap_or(Value::Null);
        value["metadata"]["generation"] = json!(self.generation);
        if let Some(secret) = value.pointer_mut("/spec/webhook/secret/value") {
            *secret = json!("(redacted)");
        }
        let condition = &self.condition;
        let time = weft_core::Timestamp::from_system_time(condition.last_transition)
            .map(|time| time.as_str().to_owned())
            .unwrap_or_default();
        value["status"] = json!({
            "observedGeneration": self.observed_generation,
            "digest": self.digest,
            "conditions": [{
                "type": "Ready",
                "status": if condition.ready { "True" } else { "False" },
                "reason": condition.reason,
                "message": condition.message,
                "lastTransitionTime": time,
            }],
            "counters": self.counters,
        });
        value
    }
}

/// What a resource's condition is now (without the transition time).
pub(crate) async fn observe(
    key: &ResourceKey,
    entry: &Entry,
    entries: &BTreeMap<ResourceKey, Entry>,
    running: &Running,
) -> (bool, &'static str, String, BTreeMap<String, u64>) {
    let mut counters = BTreeMap::new();
    if let Some(reason) = running.failures.get(key) {
        return (false, "StartFailed", reason.clone(), counters);
    }
    match &entry.manifest.spec {
        Spec::Stream(_) => {
            let described = match weft_broker::StreamName::new(key.name.as_str()) {
                Ok(name) => running
                    .broker
                    .describe_stream(&super::controller_principal(), &name)
                    .await
                    .ok(),
                Err(_) => None,
            };
            match described {
                Some(info) => {
                    counters.insert("events".to_owned(), info.stored_events());
                    counters.insert("bytes".to_owned(), info.stored_bytes());
                    counters.insert("partitions".to_owned(), u64::from(info.config.partitions));
                    let message = format!("capturing {} filter(s)", info.config.filters.len());
                    (true, "Ready", message, counters)
                }
                None => (
                    false,
                    "Missing",
                    "the stream does not exist".to_owned(),
                    counters,
                ),
            }
        }
        Spec::Sink(_) => {
            let users = entries
                .values()
                .filter(|other| match &other.manifest.spec {
                    Spec::Route(route) => {
                        matches!(&route.to, Destination::Sink { sink } if *sink == key.name)
                    }
                    _ => false,
                })
                .count() as u64;
            counters.insert("routes".to_owned(), users);
            (
                true,
                "Configured",
                format!("used by {users} route(s)"),
                counters,
            )
        }
        Spec::Route(_) => match running.routes.get(&key.name) {
            None => (
                false,
                "NotRunning",
                "the route is not running".to_owned(),
                counters,
            ),
            Some(route) => {
                let status = route.runner.status();
                for (name, value) in [
                    ("received", status.received),
                    ("filtered_out", status.filtered_out),
                    ("delivered", status.delivered),
                    ("retried", status.retried),
                    ("dead_lettered", status.dead_lettered),
                    ("failed", status.failed),
                    ("abandoned", status.abandoned),
                    ("dropped", status.dropped),
                    ("replies", status.replies),
                    ("in_flight", status.in_flight),
                    ("over_budget", status.over_budget),
                    ("runaway", status.runaway),
                ] {
                    counters.insert(name.to_owned(), value);
                }
                if route.runner.is_finished() {
                    let message = status
                        .last_error
                        .unwrap_or_else(|| "the route's source ended".to_owned());
                    (false, "Stopped", message, counters)
                } else if status.runaway > 0 {
                    let message = format!(
                        "transform over budget: {} evaluation(s) still running past their budget; the route takes no events until they end, or it is changed or deleted",
                        status.runaway
                    );
                    (false, "OverBudget", message, counters)
                } else {
                    let message = match status.last_error {
                        Some(error) => format!("running; last error: {error}"),
                        None => "running".to_owned(),
                    };
                    (true, "Running", message, counters)
                }
            }
        },
        Spec::Source(_) => {
            if let Some((_, webhook)) = running.webhooks.get(&key.name) {
                let status = webhook.status();
                counters.insert("events_emitted".to_owned(), status.events_emitted);
                counters.insert("requests_rejected".to_owned(), status.requests_rejected);
                let signed = if webhook.verifies() { ", signed" } else { "" };
                let message = format!("accepting POST {}{signed}", webhook.path());
                (true, "Listening", message, counters)
            } else if let Some((_, schedule)) = running.schedules.get(&key.name) {
                let status = schedule.status();
                counters.insert("events_emitted".to_owned(), status.events_emitted);
                counters.insert("publish_failures".to_owned(), status.publish_failures);
                let next = status
                    .next_fire
                    .and_then(|at| weft_core::Timestamp::from_system_time(at).ok());
                match next {
                    Some(next) => (true, "Scheduled", format!("next event at {next}"), counters),
                    None => (
                        false,
                        "Finished",
                        "the schedule never fires again".to_owned(),
                        counters,
                    ),
                }
            } else {
                (
                    false,
                    "NotRunning",
                    "the source is not running".to_owned(),
                    counters,
                )
            }
        }
    }
}

/// Whether a kind filter and a name filter select `key`.
pub(crate) fn selected(key: &ResourceKey, kind: Option<Kind>, name: Option<&str>) -> bool {
    kind.is_none_or(|kind| key.kind == kind) && name.is_none_or(|name| key.name.as_str() == name)
}
