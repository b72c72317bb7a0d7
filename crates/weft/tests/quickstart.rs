//! The README's quickstart, exactly as written, with the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::process::Stdio;

use common::{Lines, ServeProcess, weft};

#[test]
fn quickstart_delivers_matching_events_and_not_others() {
    let node = ServeProcess::start();
    let ready: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&node.ready_file).unwrap()).unwrap();
    assert_eq!(ready["node"], "test-node");
    assert_eq!(ready["http"], node.http.to_string());
    assert!(
        ready["kafka"]
            .as_str()
            .is_some_and(|kafka| kafka.starts_with("127.0.0.1:")),
        "the ready file names the kafka listener: {ready}"
    );
    assert!(
        ready["mqtt"]
            .as_str()
            .is_some_and(|mqtt| mqtt.starts_with("127.0.0.1:")),
        "the ready file names the mqtt listener: {ready}"
    );

    let mut sub = weft()
        .args([
            "sub",
            "orders/*/us/>",
            "--count",
            "1",
            "--server",
            &node.url(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sub_stderr = Lines::new(sub.stderr.take().unwrap());
    sub_stderr.wait_for("subscribed to orders/*/us/>");

    // Published first: if it were delivered, `--count 1` would print it instead.
    let skipped = weft()
        .args([
            "pub",
            "orders/1/eu/x",
            r#"{"id":0}"#,
            "--server",
            &node.url(),
        ])
        .output()
        .unwrap();
    assert!(skipped.status.success(), "{skipped:?}");
    let published = weft()
        .args([
            "pub",
            "orders/1/us/ny",
            r#"{"id":1}"#,
            "--type",
            "order.created",
            "--attr",
            "region=us",
        ])
        .args(["--server", &node.url()])
        .output()
        .unwrap();
    assert!(published.status.success(), "{published:?}");
    let id = String::from_utf8(published.stdout)
        .unwrap()
        .trim()
        .to_owned();

    let output = sub.wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["wefttopic"], "orders/1/us/ny");
    assert_eq!(event["type"], "order.created");
    assert_eq!(event["region"], "us");
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["data"], serde_json::json!({"id": 1}));

    assert!(node.terminate().success(), "graceful shutdown exits 0");
}

#[test]
fn sub_can_print_only_the_data() {
    let node = ServeProcess::start();
    let mut sub = weft()
        .args([
            "sub",
            "notes",
            "--count",
            "2",
            "--output",
            "data",
            "--server",
            &node.url(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Lines::new(sub.stderr.take().unwrap()).wait_for("subscribed to notes");
    for note in ["plain text", "caf\u{e9}"] {
        let status = weft()
            .args(["pub", "notes", note, "--server", &node.url()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let output = sub.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "plain text\ncaf\u{e9}\n"
    );
}

#[test]
fn pub_reads_data_from_a_file_and_publishes_count_times() {
    let node = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, [0u8, 159, 146, 150]).unwrap();
    let output = weft()
        .args([
            "pub",
            "files/x",
            &format!("@{}", file.display()),
            "--count",
            "3",
            "--server",
            &node.url(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let ids: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2],
        "each publish gets its own id"
    );
}

#[test]
fn pub_and_sub_address_topics_with_empty_levels() {
    let node = ServeProcess::start();
    let mut sub = weft()
        .args([
            "sub",
            "/TopicA",
            "a/*/b",
            "--count",
            "3",
            "--server",
            &node.url(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Lines::new(sub.stderr.take().unwrap()).wait_for("subscribed to /TopicA");
    // `TopicA` and `a/b` would be delivered in the place of the later ones if they matched.
    for topic in ["TopicA", "/TopicA", "a/b", "a//b", "/TopicA"] {
        let status = weft()
            .args(["pub", topic, topic, "--server", &node.url()])
            .status()
            .unwrap();
        assert!(status.success(), "{topic}");
    }
    let output = sub.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let topics: Vec<String> = stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            event["wefttopic"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(topics, ["/TopicA", "a//b", "/TopicA"]);
}
