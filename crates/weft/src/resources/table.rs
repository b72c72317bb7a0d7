//! How `weft get` prints resources: a table (`KIND NAME READY GENERATION AGE`) or YAML
//! manifests with their status.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `KIND NAME READY GENERATION AGE`: READY is the status of the `Ready` condition
/// (`True`, `False`, `Unknown`; `-` without one) with its reason when not ready;
/// GENERATION is `observed/generation`; AGE is the time since the `Ready` condition
/// last changed.
pub(super) fn table(items: &[Value], now: OffsetDateTime) -> String {
    let mut rows = vec![[
        "KIND".to_owned(),
        "NAME".to_owned(),
        "READY".to_owned(),
        "GENERATION".to_owned(),
        "AGE".to_owned(),
    ]];
    for item in items {
        let text = |pointer: &str| item.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let number = |pointer: &str| item.pointer(pointer).and_then(Value::as_u64);
        let ready = item
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|conditions| {
                conditions.iter().find(|condition| {
                    condition.get("type").and_then(Value::as_str) == Some("Ready")
                })
            });
        let ready_text = match ready {
            None => "-".to_owned(),
            Some(condition) => {
                let status = condition
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("Unknown");
                match condition.get("reason").and_then(Value::as_str) {
                    Some(reason) if status != "True" && !reason.is_empty() => {
                        format!("{status} ({reason})")
                    }
                    _ => status.to_owned(),
                }
            }
        };
        let generation = match (
            number("/status/observedGeneration"),
            number("/metadata/generation"),
        ) {
            (Some(observed), Some(generation)) => format!("{observed}/{generation}"),
            (None, Some(generation)) => format!("-/{generation}"),
            _ => "-".to_owned(),
        };
        let age = ready
            .and_then(|condition| condition.get("lastTransitionTime")?.as_str())
            .and_then(|time| OffsetDateTime::parse(time, &Rfc3339).ok())
            .map_or_else(|| "-".to_owned(), |since| age(now - since));
        rows.push([
            text("/kind").to_ascii_lowercase(),
            text("/metadata/name").to_owned(),
            ready_text,
            generation,
            age,
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `45s`, `12m`, `3h`, `2d` (the largest whole unit, kubectl-style).
fn age(elapsed: time::Duration) -> String {
    let seconds = elapsed.whole_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

/// Each resource as a YAML document, separated by `---`.
pub(super) fn yaml(items: &[Value]) -> String {
    items
        .iter()
        .map(weft_yaml::emit::to_string)
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn route(name: &str, status: &str, reason: &str) -> Value {
        json!({
            "apiVersion": "weft/v1", "kind": "Route",
            "metadata": {"name": name, "labels": {}, "generation": 2},
            "spec": {"from": {"topic": "a/>"}, "to": {"topic": "b"}},
            "status": {
                "observedGeneration": 2, "digest": "fnv1a64:0000000000000000",
                "conditions": [{"type": "Ready", "status": status, "reason": reason,
                    "message": "", "lastTransitionTime": "2026-12-05T03:00:00Z"}],
                "counters": {}
            }
        })
    }

    #[test]
    fn table_aligns_columns_and_shows_why_a_resource_is_not_ready() {
        let items = [
            route("big-us-orders", "True", "Running"),
            route("x", "False", "SinkMissing"),
            json!({"kind": "Stream", "metadata": {"name": "orders"}}),
        ];
        let now = datetime!(2026-12-05 04:30:00 UTC);
        assert_eq!(
            table(&items, now),
            "KIND     NAME            READY                 GENERATION   AGE\n\
             route    big-us-orders   True                  2/2          1h\n\
             route    x               False (SinkMissing)   2/2          1h\n\
             stream   orders          -                     -            -\n"
        );
    }

    #[test]
    fn ages_use_the_largest_whole_unit() {
        assert_eq!(age(time::Duration::seconds(59)), "59s");
        assert_eq!(age(time::Duration::seconds(61)), "1m");
        assert_eq!(age(time::Duration::hours(25)), "1d");
        assert_eq!(age(time::Duration::seconds(-5)), "0s");
    }

    #[test]
    fn yaml_separates_documents() {
        let text = yaml(&[json!({"kind": "Sink"}), json!({"kind": "Route"})]);
        assert_eq!(text, "kind: Sink\n---\nkind: Route\n");
    }
}
