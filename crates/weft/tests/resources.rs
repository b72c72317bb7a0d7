//! `weft apply`, `diff`, `get` and `delete` against a real node (`weft serve` on port 0).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::path::Path;

use common::{ServeProcess, weft};
use serde_json::Value;

const STREAM: &str = "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: orders}\nspec:\n  filters: [\"orders/>\"]\n";
const SINK: &str =
    "apiVersion: weft/v1\nkind: Sink\nmetadata: {name: audit}\nspec:\n  topic: audit/orders\n";
const ROUTE: &str = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: copy, labels: {team: shop}}\nspec:\n  from: {stream: orders}\n  filter: \"total > 1\"\n  to: {sink: audit}\n";

fn run(node: &ServeProcess, args: &[&str]) -> (i32, String, String) {
    let output = weft()
        .args(args)
        .args(["--server", &node.url()])
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn apply_get_diff_and_delete_speak_the_resources_api() {
    let node = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a-stream.yaml", STREAM);
    write(dir.path(), "b-sink.yaml", SINK);
    write(dir.path(), "c-route.yaml", ROUTE);
    let flows = dir.path().to_str().unwrap();

    let (code, stdout, stderr) = run(&node, &["apply", "-f", flows, "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "stream/orders created (dry run)\nsink/audit created (dry run)\nroute/copy created (dry run)\n"
    );
    let (code, stdout, stderr) = run(&node, &["apply", "-f", flows]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "stream/orders created\nsink/audit created\nroute/copy created\n"
    );
    let (_, stdout, _) = run(&node, &["apply", "-f", flows]);
    assert_eq!(
        stdout,
        "stream/orders unchanged\nsink/audit unchanged\nroute/copy unchanged\n"
    );

    let (code, stdout, _) = run(&node, &["get"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("KIND "), "{stdout}");
    assert!(
        lines[0].contains(" READY ")
            && lines[0].contains(" GENERATION ")
            && lines[0].ends_with("AGE")
    );
    assert!(
        lines.iter().any(|line| line.starts_with("route ")
            && line.contains(" copy ")
            && line.contains(" 1/1 ")),
        "{stdout}"
    );

    let (code, stdout, _) = run(&node, &["get", "Routes", "copy", "-o", "yaml"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("apiVersion: weft/v1\nkind: Route\nmetadata:\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  filter: total > 1\n"), "{stdout}");
    let (_, stdout, _) = run(&node, &["get", "route", "-o", "json"]);
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["items"][0]["metadata"]["name"], "copy");

    write(
        dir.path(),
        "c-route.yaml",
        &ROUTE.replace("total > 1", "total > 2"),
    );
    let (code, stdout, _) = run(&node, &["diff", "-f", flows]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "stream/orders unchanged\nsink/audit unchanged\nroute/copy configured\n"
    );
    let (_, stdout, _) = run(&node, &["get", "route", "copy", "-o", "json"]);
    let resource: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        resource["spec"]["filter"], "total > 1",
        "diff changes nothing"
    );

    let only_stream = dir.path().join("a-stream.yaml");
    let (_, stdout, _) = run(
        &node,
        &["apply", "-f", only_stream.to_str().unwrap(), "--prune"],
    );
    assert_eq!(
        stdout,
        "route/copy deleted\nsink/audit deleted\nstream/orders unchanged\n"
    );

    let (code, stdout, _) = run(&node, &["delete", "stream", "orders"]);
    assert_eq!((code, stdout.as_str()), (0, "stream/orders deleted\n"));
    let (code, _, stderr) = run(&node, &["delete", "stream", "orders"]);
    assert_eq!((code, stderr.as_str()), (1, "stream/orders not found\n"));
    let (code, _, stderr) = run(&node, &["get", "route", "copy"]);
    assert_eq!((code, stderr.as_str()), (1, "route/copy not found\n"));
}

#[test]
fn delete_by_file_removes_what_the_files_declare() {
    let node = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "stream.yaml", STREAM);
    let file = dir.path().join("stream.yaml");
    let file = file.to_str().unwrap();
    run(&node, &["apply", "-f", file]);
    let (_, stdout, _) = run(&node, &["delete", "-f", file, "--dry-run"]);
    assert_eq!(stdout, "stream/orders deleted (dry run)\n");
    let (code, stdout, _) = run(&node, &["delete", "-f", file]);
    assert_eq!((code, stdout.as_str()), (0, "stream/orders deleted\n"));
    let (_, stdout, _) = run(&node, &["get", "streams"]);
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the header is left: {stdout}"
    );
}

#[test]
fn the_nodes_positioned_errors_print_as_file_line_column() {
    let node = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    // Valid on its own, so it passes the local check; the node finds the sink missing.
    write(dir.path(), "route.yaml", ROUTE);
    let file = dir.path().join("route.yaml");
    let file = file.to_str().unwrap();
    let (code, stdout, stderr) = run(&node, &["apply", "-f", file]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{file}:5:18: spec.from.stream: stream `orders`")),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!("{file}:7:14: spec.to.sink: sink `audit` is not defined")
    );
    let (_, stdout, _) = run(&node, &["get", "routes"]);
    assert_eq!(stdout.lines().count(), 1, "nothing was applied: {stdout}");
}

#[test]
fn explain_reads_the_route_from_the_node() {
    let node = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", STREAM);
    write(dir.path(), "b.yaml", SINK);
    write(dir.path(), "c.yaml", ROUTE);
    run(&node, &["apply", "-f", dir.path().to_str().unwrap()]);
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"total":5}}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = run(
        &node,
        &[
            "flow",
            "explain",
            "copy",
            "--event",
            event.to_str().unwrap(),
            "--url",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("from: stream `orders`, consumer group `copy`"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("outcome: delivered to sink `audit` (topic `audit/orders`)\n"),
        "{stdout}"
    );
}
