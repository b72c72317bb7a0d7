//! The stream commands with the real binary: the README's three commands, info, ls, rm.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::process::Output;

use common::{ServeProcess, weft};

fn run(node: &ServeProcess, args: &[&str]) -> Output {
    let output = weft()
        .args(args)
        .args(["--server", &node.url()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "weft {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn a_durable_stream_in_three_commands_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = ServeProcess::start_in(dir.path());
    run(
        &node,
        &["stream", "create", "orders", "--filter", "orders/>"],
    );
    run(&node, &["pub", "orders/1/us/ny", r#"{"id":1}"#]);
    run(&node, &["pub", "elsewhere/x", "not captured"]);
    let read = stdout(&run(&node, &["stream", "read", "orders"]));
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines.len(), 1, "{read}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["data"], serde_json::json!({"id": 1}));
    assert_eq!(event["wefttopic"], "orders/1/us/ny");
    assert_eq!(event["weftpartition"], "0");
    assert_eq!(event["weftoffset"], "0");

    node.kill_9();
    let node = ServeProcess::start_in(dir.path());
    let again = stdout(&run(&node, &["stream", "read", "orders"]));
    assert_eq!(again, read, "the stored event survives kill -9 unchanged");
    node.terminate();
}

#[test]
fn stream_info_ls_read_positions_and_rm() {
    let node = ServeProcess::start();
    run(
        &node,
        &[
            "stream",
            "create",
            "metrics",
            "--filter",
            "metrics/>",
            "--partitions",
            "2",
            "--retention-age",
            "7d",
        ],
    );
    for value in 0..6 {
        let key = format!("partitionkey=host{}", value % 2);
        run(
            &node,
            &["pub", "metrics/cpu", &value.to_string(), "--attr", &key],
        );
    }
    let info: serde_json::Value = serde_json::from_str(&stdout(&run(
        &node,
        &["stream", "info", "metrics", "-o", "json"],
    )))
    .unwrap();
    assert_eq!(info["partitions"], 2);
    assert_eq!(info["events"], 6);
    assert_eq!(info["retention"]["max_age_ms"], 7 * 86_400_000u64);
    let text = stdout(&run(&node, &["stream", "info", "metrics"]));
    assert!(
        text.contains("metrics/>") && text.contains("partition"),
        "{text}"
    );
    assert!(stdout(&run(&node, &["stream", "ls"])).contains("metrics"));

    let two = stdout(&run(
        &node,
        &["stream", "read", "metrics", "--count", "2", "-o", "data"],
    ));
    assert_eq!(two.lines().count(), 2);
    let latest = stdout(&run(
        &node,
        &["stream", "read", "metrics", "--from", "latest"],
    ));
    assert_eq!(latest, "", "nothing after the end");
    let count = |partition: &str| {
        stdout(&run(
            &node,
            &[
                "stream",
                "read",
                "metrics",
                "--partition",
                partition,
                "-o",
                "data",
            ],
        ))
        .lines()
        .count()
    };
    let (first, second) = (count("0"), count("1"));
    assert_eq!(first + second, 6);
    assert!(
        first % 3 == 0,
        "each key's three events land on one partition: {first} + {second}"
    );

    run(&node, &["stream", "rm", "metrics"]);
    let missing = weft()
        .args(["stream", "info", "metrics", "--server", &node.url()])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("metrics"));
}

#[test]
fn consume_acknowledges_what_it_prints_and_resumes_after_it() {
    let node = ServeProcess::start();
    run(&node, &["stream", "create", "jobs", "--filter", "jobs/>"]);
    for job in ["one", "two", "three"] {
        run(&node, &["pub", "jobs/new", job]);
    }
    let first = stdout(&run(
        &node,
        &[
            "consume", "jobs", "--group", "workers", "--count", "2", "-o", "data",
        ],
    ));
    assert_eq!(first, "one\ntwo\n");
    let rest = stdout(&run(
        &node,
        &[
            "consume", "jobs", "--group", "workers", "--count", "1", "-o", "data",
        ],
    ));
    assert_eq!(
        rest, "three\n",
        "acknowledged events are not delivered again"
    );
    let list = stdout(&run(&node, &["consumer", "ls", "jobs"]));
    assert!(list.contains("workers"), "{list}");
    run(&node, &["consumer", "rm", "jobs", "workers"]);
}

#[test]
fn a_full_stream_with_discard_new_refuses_the_publish_clearly() {
    let node = ServeProcess::start();
    run(
        &node,
        &[
            "stream",
            "create",
            "tiny",
            "--filter",
            "tiny",
            "--retention-events",
            "1",
            "--discard",
            "new",
        ],
    );
    run(&node, &["pub", "tiny", "first"]);
    let refused = weft()
        .args(["pub", "tiny", "second", "--server", &node.url()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("507") && stderr.contains("tiny"),
        "{stderr}"
    );
    assert_eq!(
        stdout(&run(&node, &["stream", "read", "tiny", "-o", "data"])),
        "first\n"
    );
}
