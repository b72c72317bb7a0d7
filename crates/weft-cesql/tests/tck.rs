//! Runs the CESQL conformance suite (the YAML files in `tests/tck/`, see its README)
//! case by case and fails on any unexpected result. Run with `--nocapture` to see the
//! per-file report.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::path::Path;

use weft_cesql::{EvalOptions, Value};
use weft_core::CloudEvent;
use yaml_rust2::{Yaml, YamlLoader};

/// Cases whose expected outcome contradicts CESQL v1 itself: (file, case, reason).
const KNOWN_DEVIATIONS: &[(&str, &str, &str)] = &[
    (
        "context_attributes_access.yaml",
        "Absent optional attribute",
        "CESQL v1 §3.2 requires a missingAttribute error for an absent attribute; the \
         stored suite file expects none",
    ),
    (
        "subscriptions_api_recreations.yaml",
        "Conjunctive Normal Form (4)",
        "for this event (id myId, type *.success, source http://...) every term of the \
         second disjunction is false, so the conjunction is false, not true",
    ),
    (
        "subscriptions_api_recreations.yaml",
        "Conjunctive Normal Form (5)",
        "the same event makes the second conjunct false, so AND short-circuits before \
         `myext` and no missingAttribute error can arise",
    ),
];

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
    skipped: Vec<String>,
    deviations: Vec<String>,
}

#[test]
fn conformance_suite_passes() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tck");
    let mut files: Vec<_> = fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 14,
        "the suite files are missing from {directory:?}"
    );

    let mut total = Tally::default();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(path).unwrap();
        let documents = YamlLoader::load_from_str(&text).unwrap();
        let tests = documents[0]["tests"].as_vec().expect("a `tests` list");
        let before = total.passed;
        for case in tests {
            run_case(&file, case, &mut total);
        }
        println!(
            "{file}: {} of {} passed",
            total.passed - before,
            tests.len()
        );
    }
    let cases = total.passed + total.failed.len() + total.skipped.len() + total.deviations.len();
    println!(
        "tck: {} passed, {} failed, {} skipped, {} known deviations, {cases} cases",
        total.passed,
        total.failed.len(),
        total.skipped.len(),
        total.deviations.len()
    );
    for skipped in &total.skipped {
        println!("skipped: {skipped}");
    }
    for deviation in &total.deviations {
        println!("known deviation: {deviation}");
    }
    assert!(
        total.failed.is_empty(),
        "failures:\n{}",
        total.failed.join("\n")
    );
    assert!(total.passed >= 200, "only {} cases ran", total.passed);
}

fn run_case(file: &str, case: &Yaml, tally: &mut Tally) {
    let name = scalar_text(&case["name"]).unwrap_or_default();
    let label = format!("{file} / {name}");
    let Some(expression) = scalar_text(&case["expression"]) else {
        tally.skipped.push(format!("{label}: no `expression` key"));
        return;
    };
    let event = event_for(case);
    let evaluation = weft_cesql::evaluate(&expression, &event, &EvalOptions::default());

    let mut problems = Vec::new();
    let expected_error = case["error"].as_str();
    let kinds: Vec<&str> = evaluation
        .errors
        .iter()
        .map(|error| error.kind.as_str())
        .collect();
    match expected_error {
        Some(kind) if !kinds.contains(&kind) => {
            problems.push(format!("expected a {kind} error, got {kinds:?}"));
        }
        None if !kinds.is_empty() => problems.push(format!("expected no error, got {kinds:?}")),
        _ => {}
    }
    if !case["result"].is_badvalue() && !result_matches(&case["result"], &evaluation.value) {
        problems.push(format!(
            "expected result {:?}, got {:?}",
            case["result"], evaluation.value
        ));
    }

    if problems.is_empty() {
        tally.passed += 1;
        return;
    }
    let detail = format!("{label}: `{expression}`: {}", problems.join("; "));
    let known = KNOWN_DEVIATIONS
        .iter()
        .find(|(known_file, known_case, _)| *known_file == file && *known_case == name);
    match known {
        Some((_, _, reason)) => tally.deviations.push(format!("{detail} ({reason})")),
        None => tally.failed.push(detail),
    }
}

fn scalar_text(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(text) | Yaml::Real(text) => Some(text.clone()),
        Yaml::Integer(number) => Some(number.to_string()),
        Yaml::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// YAML 1.2 reads `FALSE` as a string; the suite means the boolean.
fn result_matches(expected: &Yaml, actual: &Value) -> bool {
    match (expected, actual) {
        (Yaml::Boolean(expected), Value::Boolean(actual)) => expected == actual,
        (Yaml::Integer(expected), Value::Integer(actual)) => *expected == i64::from(*actual),
        (Yaml::String(expected), Value::Boolean(actual)) => {
            expected.eq_ignore_ascii_case(&actual.to_string())
        }
        (Yaml::String(expected), Value::String(actual)) => expected == actual,
        _ => false,
    }
}

fn to_json(yaml: &Yaml) -> serde_json::Value {
    match yaml {
        Yaml::Integer(number) => serde_json::Value::from(*number),
        Yaml::Boolean(flag) => serde_json::Value::from(*flag),
        Yaml::Hash(members) => serde_json::Value::Object(
            members
                .iter()
                .map(|(key, value)| (scalar_text(key).unwrap(), to_json(value)))
                .collect(),
        ),
        Yaml::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        other => serde_json::Value::from(scalar_text(other).unwrap_or_default()),
    }
}

/// The case's `event`, or a valid default event with its `eventOverrides` applied.
fn event_for(case: &Yaml) -> CloudEvent {
    let json = if case["event"].is_badvalue() {
        let mut event = serde_json::json!({
            "specversion": "1.0", "id": "tck-id", "source": "/tck", "type": "tck.type"
        });
        if let serde_json::Value::Object(overrides) = to_json(&case["eventOverrides"]) {
            for (key, value) in overrides {
                event[key] = value;
            }
        }
        event
    } else {
        to_json(&case["event"])
    };
    weft_core::json::decode(json.to_string().as_bytes()).expect("a valid suite event")
}
