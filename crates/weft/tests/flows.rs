//! The flow commands that need no node: `weft cesql eval`, `weft flow test`,
//! `weft flow explain -f`, and the local checks of `weft apply`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::path::{Path, PathBuf};

use common::weft;
use serde_json::{Value, json};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = weft().args(args).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn cesql_eval_prints_value_and_errors_and_exits_zero() {
    let (code, stdout, _) = run(&["cesql", "eval", "1 / 0"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "{\"value\":0,\"errors\":[{\"kind\":\"math\",\"message\":\"1 / 0: division by zero\"}]}\n"
    );
}

#[test]
fn cesql_eval_reports_each_error_kind_by_its_conformance_name() {
    let cases = [
        ("nosuch", "missingAttribute"),
        ("'a' + 1", "cast"),
        ("NOPE(1)", "missingFunction"),
        ("LEFT('abc', -1) = 'a'", "functionEvaluation"),
        ("2147483647 + 1", "math"),
    ];
    for (expression, kind) in cases {
        let (code, stdout, _) = run(&["cesql", "eval", expression]);
        assert_eq!(code, 0, "{expression}");
        let output: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(output["errors"][0]["kind"], kind, "{expression}: {stdout}");
    }
}

#[test]
fn cesql_eval_exits_two_on_a_parse_error_and_still_prints_the_json() {
    let (code, stdout, _) = run(&["cesql", "eval", "type ="]);
    assert_eq!(code, 2);
    let output: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output["value"], false);
    assert_eq!(output["errors"][0]["kind"], "parse");
}

#[test]
fn cesql_eval_reads_the_event_file_and_data_fields() {
    let dir = tempfile::tempdir().unwrap();
    let event = json!({"specversion": "1.0", "id": "7", "source": "/s", "type": "t",
        "subject": "x", "data": {"total": 150}});
    let file = write(dir.path(), "event.json", &event.to_string());
    let (_, stdout, _) = run(&["cesql", "eval", "CONCAT(subject, id)", "--event", &file]);
    assert_eq!(stdout, "{\"value\":\"x7\",\"errors\":[]}\n");
    let (_, stdout, _) = run(&[
        "cesql",
        "eval",
        "total > 100",
        "--event",
        &file,
        "--data-fields",
    ]);
    assert_eq!(stdout, "{\"value\":true,\"errors\":[]}\n");

    let bad = write(dir.path(), "bad.json", "{\"id\": 1}");
    let (code, stdout, stderr) = run(&["cesql", "eval", "TRUE", "--event", &bad]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("is not a cloudevent"), "{stderr}");
}

#[test]
fn flow_test_passes_on_the_shipped_examples() {
    let (code, stdout, stderr) = run(&["flow", "test", "-f", examples().to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ok     route/receipts-to-orders a receipt is reshaped for the shop"));
    assert!(stdout.ends_with("4 passed, 0 failed\n"), "{stdout}");
}

const FAILING: &str = r#"apiVersion: weft/v1
kind: Route
metadata: {name: big}
spec:
  from: {topic: "orders/>"}
  filter: "total > 100"
  transform:
    - jq: '{total}'
  to: {topic: big}
  tests:
    - name: big passes
      input: {specversion: "1.0", id: "1", source: /s, type: t, data: {total: 150, x: 1}}
      expect: {specversion: "1.0", id: "1", source: /s, type: t, data: {total: 150}}
    - name: small is wrongly expected
      input: {specversion: "1.0", id: "2", source: /s, type: t, data: {total: 5}}
      expect: {specversion: "1.0", id: "2", source: /s, type: t, data: {total: 5}}
"#;

#[test]
fn flow_test_prints_each_failure_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "route.yaml", FAILING);
    let (code, stdout, _) = run(&["flow", "test", "-f", &file]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stdout,
        "ok     route/big big passes\n\
         FAILED route/big small is wrongly expected\n       \
         expected an event, but the filter dropped it\n\
         1 passed, 1 failed\n"
    );
}

#[test]
fn invalid_manifests_print_positioned_errors_without_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  from: {topic: a}\n  filtr: x\n  to: {topic: b}\n  transform:\n    - jq: '.a |'\n",
    );
    let (code, _, stderr) = run(&["flow", "test", "-f", &file]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("{file}:6:3: spec.filtr: unknown field `filtr`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:9:16: spec.transform[0].jq: invalid jq program"
        )),
        "{stderr}"
    );

    // apply checks locally before it needs a node (none listens on port 9).
    let (code, stdout, stderr) = run(&["apply", "-f", &file, "--server", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(&format!("{file}:6:3: spec.filtr")),
        "{stderr}"
    );
}

#[test]
fn flow_explain_shows_filter_clauses_steps_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let event = json!({"specversion": "1.0", "id": "o-1", "source": "/shop/webhook",
        "type": "com.example.shop.order.created", "datacontenttype": "application/json",
        "data": {"id": "1042", "country": "us", "total": 250, "internal": {"trace": "t", "by": "web"}}});
    let file = write(dir.path(), "event.json", &event.to_string());
    let examples = examples();
    let examples = examples.to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "flow",
        "explain",
        "big-us-orders",
        "--event",
        &file,
        "-f",
        examples,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("filter: type = 'com.example.shop.order.created' AND country = 'us' AND total > 100 → passes"), "{stdout}");
    assert!(
        stdout.contains("      total > 100 => TRUE\n        total => 250\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("transform[4]: {\"delete\":{\"data\":\"audit.trace\"}}"),
        "{stdout}"
    );
    assert!(stdout.ends_with("outcome: delivered to sink `billing` (http POST http://127.0.0.1:9000/events, binary mode)\n"), "{stdout}");

    let (_, stdout, _) = run(&[
        "flow",
        "explain",
        "big-us-orders",
        "--event",
        &file,
        "-f",
        examples,
        "-o",
        "json",
    ]);
    let output: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output["filter"]["passed"], true);
    assert_eq!(output["transform"].as_array().unwrap().len(), 5);
    assert_eq!(output["result"]["subject"], "order-1042");
    assert_eq!(output["outcome"]["result"], "delivered");

    let small = json!({"specversion": "1.0", "id": "o-2", "source": "/s",
        "type": "com.example.shop.order.created", "data": {"country": "us", "total": 5}});
    let small = write(dir.path(), "small.json", &small.to_string());
    let (_, stdout, _) = run(&[
        "flow",
        "explain",
        "big-us-orders",
        "--event",
        &small,
        "-f",
        examples,
    ]);
    assert!(stdout.contains("→ does not pass"), "{stdout}");
    assert!(stdout.contains("total > 100 => FALSE"), "{stdout}");
    assert!(
        stdout.ends_with("outcome: dropped (the filter is FALSE, not true)\n"),
        "{stdout}"
    );

    let (_, stdout, _) = run(&[
        "flow",
        "explain",
        "receipts-to-orders",
        "--event",
        &small,
        "-f",
        examples,
        "--topic",
        "billing/other",
    ]);
    assert!(
        stdout.contains("`billing/other` does not match"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("outcome: not received (the topic does not match `from`)\n"),
        "{stdout}"
    );
}

#[test]
fn flow_explain_names_the_dead_letter_destination_when_a_step_fails() {
    let dir = tempfile::tempdir().unwrap();
    let route = write(
        dir.path(),
        "route.yaml",
        "apiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  from: {topic: a}\n  transform:\n    - jq: '.[]'\n  to: {topic: b}\n  delivery:\n    deadLetter: {topic: dlq/r}\n",
    );
    let event = write(
        dir.path(),
        "e.json",
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":[1,2]}"#,
    );
    let (code, stdout, _) = run(&["flow", "explain", "r", "--event", &event, "-f", &route]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("    failed: step 0: jq program produced more than one output\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("outcome: dead-lettered to topic `dlq/r` (reason transform-failed: step 0: jq program produced more than one output)\n"), "{stdout}");
}

#[test]
fn flow_test_reads_manifests_from_standard_input() {
    use std::io::Write as _;
    let mut child = weft()
        .args(["flow", "test", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(FAILING.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.ends_with("1 passed, 1 failed\n"), "{stdout}");
}
