//! A bounded load generator for a running weft node's HTTP API, used for the macro
//! numbers in docs/BENCHMARKS.md.
//!
//! It opens `--subscribers` SSE subscriptions on `load/>`, then `--publishers` tasks
//! publish `--events` events in total (binary mode, `--size` bytes of data each) and
//! reports: publish throughput, delivery throughput (events × subscribers), and the
//! latency from the start of a publish request to its arrival at a subscriber (p50/p99).
//!
//! ```sh
//! cargo run --release -p weft-test --example http_load -- \
//!     --server http://127.0.0.1:8080 --events 20000 --publishers 8 --subscribers 4 --size 256
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: failures should panic

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use weft_http::event_stream::EventStreamParser;

struct Options {
    server: String,
    events: usize,
    publishers: usize,
    subscribers: usize,
    size: usize,
}

fn parse_options() -> Options {
    let mut options = Options {
        server: "http://127.0.0.1:8080".to_owned(),
        events: 10_000,
        publishers: 8,
        subscribers: 1,
        size: 256,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => options.server = value,
            "--events" => options.events = value.parse().unwrap(),
            "--publishers" => options.publishers = value.parse().unwrap(),
            "--subscribers" => options.subscribers = value.parse().unwrap(),
            "--size" => options.size = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    options
}

/// Microseconds since `origin`, carried in the event's `loadsent` extension.
fn micros_since(origin: Instant) -> u64 {
    u64::try_from(origin.elapsed().as_micros()).unwrap()
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    let origin = Instant::now();
    let client = reqwest::Client::new();

    let mut subscribers = Vec::new();
    for _ in 0..options.subscribers {
        let url = format!(
            "{}/v1/subscribe?filter=load/%3E&queue=1000000",
            options.server
        );
        let response = client.get(&url).send().await.expect("subscribe");
        assert!(
            response.status().is_success(),
            "subscribe answered {}",
            response.status()
        );
        let expected = options.events;
        subscribers.push(tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut parser = EventStreamParser::default();
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let chunk = tokio::time::timeout(Duration::from_secs(30), body.next())
                    .await
                    .expect("events stopped arriving")
                    .expect("stream ended")
                    .expect("stream error");
                for message in parser.push(&chunk) {
                    let event: serde_json::Value = serde_json::from_str(&message.data).unwrap();
                    let sent: u64 = event["loadsent"].as_str().unwrap().parse().unwrap();
                    latencies.push(micros_since(origin).saturating_sub(sent));
                }
            }
            (latencies, Instant::now())
        }));
    }
    // Let the subscriptions' opening comments arrive before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let data = Arc::new(vec![b'x'; options.size]);
    let started = Instant::now();
    let per_publisher = options.events / options.publishers;
    let remainder = options.events % options.publishers;
    let mut publishers = Vec::new();
    for index in 0..options.publishers {
        let count = per_publisher + usize::from(index < remainder);
        let client = client.clone();
        let url = format!("{}/v1/topics/load/data", options.server);
        let data = Arc::clone(&data);
        publishers.push(tokio::spawn(async move {
            let mut acks = Vec::with_capacity(count);
            for _ in 0..count {
                let request_started = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/octet-stream")
                    .header("ce-loadsent", micros_since(origin).to_string())
                    .body(data.to_vec())
                    .send()
                    .await
                    .expect("publish");
                assert_eq!(response.status(), 202);
                let _ = response.bytes().await;
                acks.push(u64::try_from(request_started.elapsed().as_micros()).unwrap());
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for publisher in publishers {
        acks.append(&mut publisher.await.unwrap());
    }
    acks.sort_unstable();
    let published = started.elapsed();

    let mut latencies = Vec::new();
    let mut last_delivery = started;
    for subscriber in subscribers {
        let (mut own, finished) = subscriber.await.unwrap();
        latencies.append(&mut own);
        last_delivery = last_delivery.max(finished);
    }
    let delivered = last_delivery
        .duration_since(started)
        .max(Duration::from_micros(1));
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };

    let events = options.events as f64;
    println!(
        "events={} size={}B publishers={} subscribers={}",
        options.events, options.size, options.publishers, options.subscribers
    );
    println!(
        "publish: {:.0} events/s ({:.1} MB/s of data)",
        events / published.as_secs_f64(),
        events * options.size as f64 / published.as_secs_f64() / 1e6
    );
    println!(
        "delivery: {:.0} events/s to subscribers ({} deliveries in {:.2}s)",
        latencies.len() as f64 / delivered.as_secs_f64(),
        latencies.len(),
        delivered.as_secs_f64()
    );
    let ack_percentile = |p: f64| {
        acks.get(((acks.len() as f64 * p) as usize).min(acks.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "publish answered (ack latency): p50 {} µs, p99 {} µs",
        ack_percentile(0.50),
        ack_percentile(0.99)
    );
    println!(
        "latency publish→subscriber: p50 {} µs, p99 {} µs, max {} µs",
        percentile(0.50),
        percentile(0.99),
        latencies.last().copied().unwrap_or(0)
    );
}
