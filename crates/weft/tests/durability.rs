//! An acknowledged event survives `kill -9`: a client publishes continuously with durable
//! acks while the node is killed with SIGKILL and restarted, several times; afterwards
//! every acknowledged event is in the stream exactly once, in order within its partition.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;

use common::{ServeProcess, weft};

const KILLS: usize = 3;
/// Acknowledged events per round before the node is killed.
const ACKS_PER_ROUND: usize = 150;
const PARTITIONS: u64 = 3;

fn create_stream(node: &ServeProcess) {
    let output = weft()
        .args([
            "stream",
            "create",
            "orders",
            "--filter",
            "orders/>",
            "--partitions",
            "3",
        ])
        .args(["--server", &node.url()])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Publishes `orders/<seq>` with key `k<seq % 7>` until `stop` acks were received,
/// then goes on publishing (unacknowledged or failing) until told to stop. Returns the
/// acknowledged sequence numbers in order.
async fn publish_round(
    url: String,
    first: u64,
    kill_after: usize,
    kill: tokio::sync::oneshot::Sender<()>,
) -> (Vec<u64>, u64) {
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    let mut kill = Some(kill);
    let mut sequence = first;
    loop {
        let response = client
            .post(format!("{url}/v1/topics/orders/{sequence}"))
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("order-{sequence}"))
            .header("ce-source", "/durability-test")
            .header("ce-type", "order")
            .header("ce-partitionkey", format!("k{}", sequence % 7))
            .header("content-type", "text/plain")
            .body(sequence.to_string())
            .send()
            .await;
        sequence += 1;
        match response {
            Ok(response) if response.status() == 202 => acknowledged.push(sequence - 1),
            // The node died under this request: whatever was acknowledged is all we know.
            _ => return (acknowledged, sequence),
        }
        if acknowledged.len() == kill_after {
            // Signal the killer, and keep publishing so the kill lands mid-traffic.
            if let Some(kill) = kill.take() {
                let _ = kill.send(());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_repeated_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: Vec<u64> = Vec::new();
    let mut next_sequence = 0;
    for round in 0..KILLS {
        let node = ServeProcess::start_in(dir.path());
        if round == 0 {
            create_stream(&node);
        }
        let (kill, killed) = tokio::sync::oneshot::channel();
        let publisher = tokio::spawn(publish_round(
            node.url(),
            next_sequence,
            ACKS_PER_ROUND,
            kill,
        ));
        killed.await.expect("the publisher reached its acks");
        node.kill_9();
        let (acks, next) = tokio::time::timeout(common::WAIT, publisher)
            .await
            .expect("publisher stopped")
            .unwrap();
        assert!(acks.len() >= ACKS_PER_ROUND);
        acknowledged.extend(acks);
        next_sequence = next;
    }

    let node = ServeProcess::start_in(dir.path());
    let output = weft()
        .args(["stream", "read", "orders", "--server", &node.url()])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut stored: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new(); // partition → (offset, seq)
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let partition: u64 = event["weftpartition"].as_str().unwrap().parse().unwrap();
        let offset: u64 = event["weftoffset"].as_str().unwrap().parse().unwrap();
        let sequence: u64 = event["id"]
            .as_str()
            .unwrap()
            .trim_start_matches("order-")
            .parse()
            .unwrap();
        assert!(partition < PARTITIONS);
        stored
            .entry(partition)
            .or_default()
            .push((offset, sequence));
        *seen.entry(sequence).or_default() += 1;
    }
    for sequence in &acknowledged {
        assert_eq!(
            seen.get(sequence),
            Some(&1),
            "acknowledged event {sequence} must be stored exactly once"
        );
    }
    for (partition, events) in &stored {
        let sequences: Vec<u64> = events.iter().map(|(_, sequence)| *sequence).collect();
        let mut sorted = sequences.clone();
        sorted.sort_unstable();
        assert_eq!(
            sequences, sorted,
            "partition {partition} keeps publish order"
        );
        // One key always lands on one partition.
        for (_, sequence) in events {
            let same_key_elsewhere = stored.iter().any(|(other, list)| {
                other != partition && list.iter().any(|(_, s)| s % 7 == sequence % 7)
            });
            assert!(
                !same_key_elsewhere,
                "key k{} split across partitions",
                sequence % 7
            );
        }
    }
    node.terminate();
}

/// One node per data directory: a second `weft serve` on a directory a running node
/// holds exits non-zero naming the directory and the holder, touching nothing; once the
/// holder is killed with SIGKILL (its lock file left behind), a new node starts there.
#[test]
fn a_second_node_on_a_held_data_directory_exits_and_kill_9_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let first = ServeProcess::start_in(dir.path());
    let holder_pid = first.child.id();
    let second_ready_file = dir.path().join("second-ready.json");

    let output = weft()
        .args(["serve", "--http", "127.0.0.1:0", "--kafka", "off"])
        .args(["--mqtt", "off", "--node-name", "second", "--ready-file"])
        .arg(&second_ready_file)
        .arg("--data-dir")
        .arg(&data_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the second node must not run: {stderr}"
    );
    let expected = format!(
        "weft: data directory {} is in use by another weft node (pid {holder_pid}, node test-node, started ",
        data_dir.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("; stop it or choose another --data-dir"),
        "{stderr}"
    );
    assert!(
        !second_ready_file.exists(),
        "the refused node wrote no ready file"
    );

    first.kill_9();
    assert!(
        data_dir.join("weft.lock").exists(),
        "kill -9 leaves the lock file behind"
    );
    let restarted = ServeProcess::start_in(dir.path());
    let lock_text = std::fs::read_to_string(data_dir.join("weft.lock")).unwrap();
    assert!(
        lock_text.contains(&format!("\"pid\":{}", restarted.child.id())),
        "{lock_text}"
    );
    restarted.terminate();
}
