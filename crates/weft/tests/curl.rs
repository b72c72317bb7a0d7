//! curl as the HTTP client: binary-mode publish and an SSE subscription with `curl -N`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use common::ServeProcess;

fn curl() -> Command {
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error"]);
    command
}

#[test]
fn curl_publishes_binary_and_structured_events_and_reads_them_over_sse() {
    let node = ServeProcess::start();
    let mut subscriber = curl()
        .arg("-N")
        .arg(format!("{}/v1/subscribe?filter=shop/%3E", node.url()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), ": subscribed");

    let binary = curl()
        .args([
            "-X",
            "POST",
            "-H",
            "ce-specversion: 1.0",
            "-H",
            "ce-id: c-1",
            "-H",
            "ce-source: /curl",
        ])
        .args([
            "-H",
            "ce-type: shop.order",
            "-H",
            "ce-subject: caf%C3%A9%20au%20lait",
            "-H",
            "content-type: text/plain",
        ])
        .args(["--data-binary", "two coffees", "-w", "\n%{http_code}"])
        .arg(format!("{}/v1/topics/shop/orders", node.url()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(binary.stdout).unwrap(),
        "{\"ids\":[\"c-1\"]}\n202"
    );

    let structured = curl()
        .args(["-H", "content-type: application/cloudevents+json", "-w", "\n%{http_code}"])
        .args(["--data-binary", r#"{"specversion":"1.0","id":"c-2","source":"/curl","type":"shop.refund","data":{"amount":3}}"#])
        .arg(format!("{}/v1/topics/shop/refunds", node.url()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(structured.stdout).unwrap(),
        "{\"ids\":[\"c-2\"]}\n202"
    );

    let mut events = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            events.push(serde_json::from_str::<serde_json::Value>(data).unwrap());
            if events.len() == 2 {
                break;
            }
        }
    }
    assert_eq!(events[0]["id"], "c-1");
    assert_eq!(events[0]["subject"], "caf\u{e9} au lait");
    assert_eq!(events[0]["data"], "two coffees");
    assert_eq!(events[0]["wefttopic"], "shop/orders");
    assert_eq!(events[1]["id"], "c-2");
    assert_eq!(events[1]["data"], serde_json::json!({"amount": 3}));
    subscriber.kill().unwrap();
    subscriber.wait().unwrap();
}

#[test]
fn curl_sees_problem_json_for_bad_requests() {
    let node = ServeProcess::start();
    let output = curl()
        .args([
            "-H",
            "content-type: application/cloudevents+json",
            "--data-binary",
            "{nope",
            "-w",
            "\n%{http_code} %{content_type}",
        ])
        .arg(format!("{}/v1/topics/t", node.url()))
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.ends_with("\n400 application/problem+json"), "{text}");
}
