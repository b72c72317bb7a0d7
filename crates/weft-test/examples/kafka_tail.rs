//! Tail reads under durable writes, over the Kafka protocol: the macro numbers for
//! "reads never wait behind appends" in docs/BENCHMARKS.md.
//!
//! Starts its own node (`weft serve` from `--weft`, Kafka on port 0, data in a temporary
//! directory, default flush policy: fsync before every acknowledgement), then runs two
//! phases of `--seconds` each, on fresh one-partition topics:
//!
//! 1. **durable produce**: `--producers` connections each send Produce requests (acks=-1,
//!    one uncompressed batch of `--batch` records of `--size` bytes) in a closed loop,
//!    one request in flight each. Reports records/s, MB/s and request latency p50/p99.
//! 2. **tail fetch under load**: the same producers on another topic, and one consumer
//!    connection that sends Fetch requests with `max_wait_ms = 0` and `min_bytes = 1`
//!    from the offset after the last record it got, back to back. The latency of a
//!    fetch is the time from writing the request to having read its whole response, on
//!    the client, per request (empty answers included: the consumer is at the tail).
//!    Reports fetch p50/p99/p99.9/max, fetches/s, the consume rate (records/s) and the
//!    produce rate during the phase. `--fetch-interval-us N` starts a fetch at most every
//!    N µs (default 0: back to back), so a consumer answered at once does not spin on
//!    the cores the node and producers share.
//!
//! ```sh
//! cargo build --release -p weft
//! cargo run --release -p weft-test --example kafka_tail -- \
//!     --weft target/release/weft --seconds 10 --producers 4 --batch 100 --size 100 \
//!     [--fetch-interval-us 1000]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: failures should panic

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use weft_kafka::protocol::{
    ErrorCode, FetchPartition, FetchRequest, FetchTopic, MetadataRequest, MetadataRequestTopic,
    ProducePartition, ProduceRequest, ProduceTopic, Request, Response,
};
use weft_log::{BatchBuilder, BatchHeader, Offset, Record};
use weft_test::KafkaClient;

const PRODUCE_VERSION: i16 = 8;
const FETCH_VERSION: i16 = 11;
const METADATA_VERSION: i16 = 8;

struct Options {
    weft: PathBuf,
    seconds: u64,
    producers: usize,
    batch: usize,
    size: usize,
    /// Least time between the starts of two fetches (0: back to back).
    fetch_interval: Duration,
}

fn parse_options() -> Options {
    let mut options = Options {
        weft: PathBuf::from("target/release/weft"),
        seconds: 10,
        producers: 4,
        batch: 100,
        size: 100,
        fetch_interval: Duration::ZERO,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--weft" => options.weft = PathBuf::from(value),
            "--seconds" => options.seconds = value.parse().unwrap(),
            "--producers" => options.producers = value.parse().unwrap(),
            "--batch" => options.batch = value.parse().unwrap(),
            "--size" => options.size = value.parse().unwrap(),
            "--fetch-interval-us" => {
                options.fetch_interval = Duration::from_micros(value.parse().unwrap());
            }
            other => panic!("unknown flag {other}"),
        }
    }
    options
}

/// A running `weft serve`, killed on drop.
struct Node {
    child: Child,
    kafka: SocketAddr,
    _data: tempfile::TempDir,
}

impl Node {
    /// CPU seconds (user + system) the node has used so far, from `/proc` (Linux; 0 if
    /// unreadable), assuming the usual 100 clock ticks per second.
    fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) else {
            return 0.0;
        };
        // Fields after the command name (which may hold spaces) start at state (field 3);
        // utime and stime are fields 14 and 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return 0.0;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok());
        (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(weft: &Path) -> Node {
    let data = tempfile::tempdir().unwrap();
    let ready = data.path().join("ready.json");
    let child = Command::new(weft)
        .args(["serve", "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"])
        .args(["--mqtt", "off", "--log-level", "warn", "--data-dir"])
        .arg(data.path().join("data"))
        .arg("--ready-file")
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let kafka = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(address) = json["kafka"].as_str()
        {
            break address.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "weft did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    Node {
        child,
        kafka,
        _data: data,
    }
}

/// Creates `topic` (one partition) through Metadata auto-creation.
async fn create_topic(address: SocketAddr, topic: &str) {
    let mut client = KafkaClient::connect(address).await.unwrap();
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.to_owned()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let Response::Metadata(response) = client
        .call(METADATA_VERSION, Request::Metadata(request))
        .await
        .unwrap()
    else {
        panic!("not a metadata response");
    };
    assert_eq!(
        response.topics[0].error_code,
        ErrorCode::NONE,
        "topic not created"
    );
}

fn batch(count: usize, size: usize) -> Bytes {
    let value = Bytes::from(vec![b'x'; size]);
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let mut builder = BatchBuilder::new(Offset::ZERO);
    for _ in 0..count {
        builder
            .push(&Record {
                timestamp_ms: now,
                key: None,
                value: Some(value.clone()),
                headers: Vec::new(),
            })
            .unwrap();
    }
    builder.finish().unwrap()
}

/// One producer: closed loop until `stop`; returns the latencies of its requests.
async fn produce(
    address: SocketAddr,
    topic: String,
    options: (usize, usize),
    stop: Arc<AtomicBool>,
    produced: Arc<AtomicU64>,
) -> Vec<Duration> {
    let (count, size) = options;
    let mut client = KafkaClient::connect(address).await.unwrap();
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topics: vec![ProduceTopic {
                name: topic.clone(),
                partitions: vec![ProducePartition {
                    index: 0,
                    records: Some(batch(count, size)),
                }],
            }],
            ..Default::default()
        };
        let started = Instant::now();
        let Response::Produce(response) = client
            .call(PRODUCE_VERSION, Request::Produce(request))
            .await
            .unwrap()
        else {
            panic!("not a produce response");
        };
        latencies.push(started.elapsed());
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, ErrorCode::NONE, "produce failed");
        produced.fetch_add(count as u64, Ordering::Relaxed);
    }
    latencies
}

/// What the tail consumer saw.
struct Consumed {
    latencies: Vec<Duration>,
    records: u64,
    empty: u64,
    /// Bytes of record batches received.
    bytes: u64,
}

/// One consumer fetching at the tail with `max_wait_ms = 0` until `stop`, starting a
/// fetch at most every `interval`.
async fn consume(
    address: SocketAddr,
    topic: String,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> Consumed {
    let mut client = KafkaClient::connect(address).await.unwrap();
    let mut offset = 0i64;
    let mut consumed = Consumed {
        latencies: Vec::new(),
        records: 0,
        empty: 0,
        bytes: 0,
    };
    let mut next_start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if !interval.is_zero() {
            tokio::time::sleep_until(next_start.into()).await;
            next_start = Instant::now().max(next_start + interval);
        }
        let request = FetchRequest {
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 16 << 20,
            topics: vec![FetchTopic {
                topic: topic.clone(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let started = Instant::now();
        let Response::Fetch(response) = client
            .call(FETCH_VERSION, Request::Fetch(request))
            .await
            .unwrap()
        else {
            panic!("not a fetch response");
        };
        consumed.latencies.push(started.elapsed());
        let data = &response.responses[0].partitions[0];
        assert_eq!(data.error_code, ErrorCode::NONE, "fetch failed");
        if data.records.is_empty() {
            consumed.empty += 1;
        }
        // The decoder hands the records field over as one chunk of back-to-back batches.
        for chunk in &data.records {
            consumed.bytes += chunk.len() as u64;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let header = BatchHeader::parse(rest).unwrap();
                let last = i64::try_from(header.last_offset().get()).unwrap();
                let first = i64::try_from(header.base_offset.get()).unwrap();
                consumed.records += u64::try_from(last + 1 - first.max(offset)).unwrap_or(0);
                offset = offset.max(last + 1);
                rest = &rest[header.size()..];
            }
        }
    }
    consumed
}

fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * quantile) as usize).min(sorted.len() - 1);
    sorted[index].as_secs_f64() * 1000.0
}

async fn run_producers(
    options: &Options,
    address: SocketAddr,
    topic: &str,
    stop: &Arc<AtomicBool>,
    produced: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<Vec<Duration>>> {
    (0..options.producers)
        .map(|_| {
            tokio::spawn(produce(
                address,
                topic.to_owned(),
                (options.batch, options.size),
                Arc::clone(stop),
                Arc::clone(produced),
            ))
        })
        .collect()
}

async fn join_latencies(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>) -> Vec<Duration> {
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = parse_options();
    let node = start_node(&options.weft);
    let address = node.kafka;
    let run_for = Duration::from_secs(options.seconds);
    println!(
        "weft {} | {} producers x {} records x {} B per request, acks=-1 (fsync), {} s per phase",
        options.weft.display(),
        options.producers,
        options.batch,
        options.size,
        options.seconds
    );

    create_topic(address, "durable-produce").await;
    let cpu_start = node.cpu_seconds();
    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks = run_producers(&options, address, "durable-produce", &stop, &produced).await;
    tokio::time::sleep(run_for).await;
    stop.store(true, Ordering::Relaxed);
    let latencies = join_latencies(tasks).await;
    let elapsed = started.elapsed().as_secs_f64();
    let records = produced.load(Ordering::Relaxed) as f64;
    let cpu = node.cpu_seconds() - cpu_start;
    println!(
        "durable produce: {:>10.0} records/s {:>7.1} MB/s | produce request p50 {:.2} ms p99 {:.2} ms | node cpu {:.2} us/record",
        records / elapsed,
        records * options.size as f64 / elapsed / 1e6,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        cpu * 1e6 / records.max(1.0),
    );

    create_topic(address, "tail-fetch").await;
    let cpu_start = node.cpu_seconds();
    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks = run_producers(&options, address, "tail-fetch", &stop, &produced).await;
    let consumer = tokio::spawn(consume(
        address,
        "tail-fetch".to_owned(),
        options.fetch_interval,
        Arc::clone(&stop),
    ));
    tokio::time::sleep(run_for).await;
    stop.store(true, Ordering::Relaxed);
    let mut consumed = consumer.await.unwrap();
    let produce_latencies = join_latencies(tasks).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = node.cpu_seconds() - cpu_start;
    consumed.latencies.sort();
    let fetches = consumed.latencies.len();
    println!(
        "tail fetch (max_wait 0) under load: p50 {:.3} ms p99 {:.3} ms p99.9 {:.3} ms max {:.3} ms | {} fetches ({:.0}/s, {} empty, {:.0} KB per non-empty) | consume {:.0} records/s | produce {:.0} records/s (request p99 {:.2} ms) | node cpu {:.0}%",
        percentile(&consumed.latencies, 0.50),
        percentile(&consumed.latencies, 0.99),
        percentile(&consumed.latencies, 0.999),
        percentile(&consumed.latencies, 1.0),
        fetches,
        fetches as f64 / elapsed,
        consumed.empty,
        consumed.bytes as f64 / (fetches as u64 - consumed.empty).max(1) as f64 / 1e3,
        consumed.records as f64 / elapsed,
        produced.load(Ordering::Relaxed) as f64 / elapsed,
        percentile(&produce_latencies, 0.99),
        cpu * 100.0 / elapsed,
    );
    drop(node);
}
