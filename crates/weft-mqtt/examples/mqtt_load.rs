//! A load generator for any MQTT 3.1.1 broker (weft, Mosquitto, …), used for the MQTT
//! numbers in docs/BENCHMARKS.md. It speaks MQTT 3.1.1 through `weft_mqtt::codec` over
//! plain TCP, clean sessions, no keep alive.
//!
//! Modes:
//!
//! - `throughput`: `--subscribers` subscribers, then `--publishers` publishers each
//!   publishing `--messages` messages of `--size` bytes to `load/RUN/<i>` as fast as
//!   they can (QoS 0: pipelined writes; QoS 1: up to `--inflight` unacknowledged).
//!   `--pattern fanout` (default): every subscriber subscribes to `load/RUN/+` (one-to-many:
//!   each message reaches every subscriber); `--pattern pairs`: subscriber `j` subscribes
//!   to publisher `j % publishers`'s topic (one-to-one). Subscribers subscribe at the same
//!   QoS and acknowledge at once. A publisher stays at most `--ahead` messages (default
//!   1000) ahead of the slowest subscriber that hears it (end-to-end flow control, so a
//!   broker's queue limits do not turn the measurement into a count of drops; `--ahead 0`:
//!   open loop, as fast as the broker takes them). Reports messages published per second, messages
//!   delivered per second (all subscribers together, from the first publish to the last
//!   delivery), payload MB/s delivered and the loss (QoS 0 may drop under overload).
//! - `latency`: one publisher at a steady `--rate` messages/s for `--seconds`, each payload
//!   starting with its send time; `--subscribers` subscribers on the topic. Reports
//!   publish-to-deliver latency percentiles (the first `--warmup` messages are left out).
//! - `idle`: opens `--connections` connections (CONNECT, and with `--subscribe 1` one
//!   SUBSCRIBE to its own topic each), `--connecting` at a time, then holds them for
//!   `--hold` seconds. With `--pid PID` it reads the broker's resident memory (VmRSS in
//!   `/proc/PID/status`) before and after and prints the cost per connection.
//!
//! Every mode ends with one `RESULT key=value …` line for scripts
//! (`scripts/bench/mqtt.sh`).
//!
//! ```sh
//! cargo build --release -p weft-mqtt --example mqtt_load
//! target/release/examples/mqtt_load throughput --broker 127.0.0.1:1883 --qos 1 \
//!     --publishers 1 --subscribers 100 --messages 2000 --size 64
//! target/release/examples/mqtt_load latency --broker 127.0.0.1:1883 --qos 0 --rate 1000 --seconds 10
//! target/release/examples/mqtt_load idle --broker 127.0.0.1:1883 --connections 10000 --pid PID
//! ```
//!
//! The tool holds one descriptor per connection: raise `ulimit -n` for 10,000.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: failures should panic

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use weft_mqtt::codec::{
    self, Connect, Disconnect, Packet, Properties, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, Subscribe, SubscriptionOptions,
};

const VERSION: ProtocolVersion = ProtocolVersion::V311;
/// Encoded publishes are written once this many bytes are buffered.
const WRITE_BATCH: usize = 64 * 1024;
/// Subscribers stop when nothing arrived for this long after the publishers finished.
const QUIET: Duration = Duration::from_secs(3);

const USAGE: &str = "usage: mqtt_load throughput|latency|idle [--broker HOST:PORT] [options]
  throughput: --publishers 1 --subscribers 1 --pattern fanout|pairs --messages 100000
              --size 64 --qos 0|1 --inflight 32 --ahead 1000
  latency:    --rate 1000 --seconds 10 --size 64 --qos 0|1 --subscribers 1 --warmup 100
  idle:       --connections 10000 --connecting 256 --subscribe 0|1 --hold 0 --pid PID";

/// `--flag value` pairs after the mode.
struct Options {
    mode: String,
    values: HashMap<String, String>,
}

impl Options {
    fn parse() -> Options {
        let mut args = std::env::args().skip(1);
        let mode = args.next().unwrap_or_default();
        if !matches!(mode.as_str(), "throughput" | "latency" | "idle") {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
        let mut values = HashMap::new();
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                eprintln!("unexpected argument {flag}\n{USAGE}");
                std::process::exit(2);
            };
            let value = args.next().unwrap_or_else(|| {
                eprintln!("{flag} needs a value\n{USAGE}");
                std::process::exit(2);
            });
            values.insert(name.to_owned(), value);
        }
        Options { mode, values }
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            Some(value) => value.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: cannot parse {value:?}\n{USAGE}");
                std::process::exit(2);
            }),
            None => default,
        }
    }

    fn broker(&self) -> SocketAddr {
        self.get("broker", "127.0.0.1:1883".parse().unwrap())
    }

    fn qos(&self) -> QoS {
        match self.get("qos", 0u8) {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            other => {
                eprintln!("--qos {other}: only 0 and 1 are supported");
                std::process::exit(2);
            }
        }
    }
}

/// A distinct prefix for this run's client ids and topics.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{}-{nanos:x}", std::process::id())
}

// --- connections ------------------------------------------------------------------------

/// The receiving half of a connection and its decode buffer.
struct Reader {
    half: OwnedReadHalf,
    buf: BytesMut,
}

impl Reader {
    /// The next packet; `None` when the connection closed.
    async fn next(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = self.decoded() {
                return Some(packet);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// A packet already in the buffer.
    fn decoded(&mut self) -> Option<Packet> {
        codec::decode(&mut self.buf, VERSION, codec::MAX_PACKET_SIZE).expect("a valid packet")
    }

    /// Reads more bytes; false when the connection closed.
    async fn fill(&mut self) -> bool {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf
                .reserve(if self.buf.is_empty() { 1024 } else { 64 * 1024 });
        }
        matches!(self.half.read_buf(&mut self.buf).await, Ok(read) if read > 0)
    }
}

/// Connects with clean session and no keep alive; returns the halves after CONNACK.
async fn connect(broker: SocketAddr, client_id: &str) -> (Reader, OwnedWriteHalf) {
    let stream = TcpStream::connect(broker)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {broker}: {error}"));
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    send(
        &mut write,
        &Packet::Connect(Box::new(Connect {
            version: VERSION,
            clean_start: true,
            keep_alive: 0,
            properties: Properties::default(),
            client_id: client_id.to_owned(),
            will: None,
            username: None,
            password: None,
        })),
    )
    .await;
    let mut reader = Reader {
        half: read,
        buf: BytesMut::new(),
    };
    match reader.next().await {
        Some(Packet::ConnAck(connack)) if connack.code == ReasonCode::Success => {}
        other => panic!("{client_id}: expected a successful CONNACK, got {other:?}"),
    }
    if reader.buf.is_empty() {
        reader.buf = BytesMut::new();
    }
    (reader, write)
}

async fn send(write: &mut OwnedWriteHalf, packet: &Packet) {
    let mut out = BytesMut::new();
    codec::encode(packet, VERSION, &mut out);
    write.write_all(&out).await.expect("write");
}

async fn subscribe(reader: &mut Reader, write: &mut OwnedWriteHalf, filter: &str, qos: QoS) {
    send(
        write,
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::default(),
            filters: vec![(filter.to_owned(), SubscriptionOptions::new(qos))],
        }),
    )
    .await;
    match reader.next().await {
        Some(Packet::SubAck(suback)) if suback.codes.iter().all(|code| code.as_u8() < 0x80) => {}
        other => panic!("expected a SUBACK for {filter}, got {other:?}"),
    }
}

async fn disconnect(mut write: OwnedWriteHalf) {
    send(
        &mut write,
        &Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    )
    .await;
    let _ = write.shutdown().await;
}

/// Opens `count` connections, at most `at_once` at a time, each set up by `setup`.
async fn connect_many<F, Fut>(
    count: usize,
    at_once: usize,
    setup: F,
) -> Vec<(Reader, OwnedWriteHalf)>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = (Reader, OwnedWriteHalf)> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(at_once));
    let mut tasks = Vec::with_capacity(count);
    for index in 0..count {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let connecting = setup(index);
        tasks.push(tokio::spawn(async move {
            let connection = connecting.await;
            drop(permit);
            connection
        }));
    }
    let mut connections = Vec::with_capacity(count);
    for task in tasks {
        connections.push(task.await.unwrap());
    }
    connections
}

// --- publishing and receiving --------------------------------------------------------------

/// Nanoseconds since the tool started: the send time carried in latency payloads.
fn now_nanos(origin: Instant) -> u64 {
    u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What one subscriber saw.
#[derive(Default)]
struct Received {
    messages: u64,
    payload_bytes: u64,
    last: Option<Instant>,
    /// Publish-to-deliver latencies in nanoseconds (latency mode).
    latencies: Vec<u64>,
}

/// End-to-end flow control for throughput runs: publisher `i` waits while it is `ahead`
/// messages ahead of the slowest subscriber that hears it.
struct Flow {
    ahead: u64,
    /// `[publisher][subscriber]`: messages from that publisher the subscriber received.
    heard: Vec<Vec<AtomicU64>>,
    /// `[publisher]`: the subscribers that hear it.
    listeners: Vec<Vec<usize>>,
    /// `[publisher]`: woken when one of its listeners made progress.
    progress: Vec<Notify>,
}

impl Flow {
    fn new(
        ahead: u64,
        publishers: usize,
        subscribers: usize,
        hears: impl Fn(usize, usize) -> bool,
    ) -> Flow {
        Flow {
            ahead,
            heard: (0..publishers)
                .map(|_| (0..subscribers).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            listeners: (0..publishers)
                .map(|publisher| {
                    (0..subscribers)
                        .filter(|subscriber| hears(publisher, *subscriber))
                        .collect()
                })
                .collect(),
            progress: (0..publishers).map(|_| Notify::new()).collect(),
        }
    }

    /// The fewest messages of `publisher` any of its listeners received.
    fn slowest(&self, publisher: usize) -> u64 {
        self.listeners[publisher]
            .iter()
            .map(|subscriber| self.heard[publisher][*subscriber].load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// A subscriber's part in the [`Flow`].
struct FlowSide {
    flow: Arc<Flow>,
    /// This subscriber's index.
    index: usize,
}

/// Receives until `expected` messages arrived, or until nothing arrived for [`QUIET`] after
/// `publishing` turned false. Acknowledges QoS 1 messages at once (one write per read).
async fn receive(
    mut reader: Reader,
    mut write: OwnedWriteHalf,
    expected: u64,
    mut publishing: watch::Receiver<bool>,
    latency_origin: Option<Instant>,
    flow: Option<FlowSide>,
) -> Received {
    let mut received = Received::default();
    let mut heard_from = vec![false; flow.as_ref().map_or(0, |side| side.flow.heard.len())];
    let mut acks = BytesMut::new();
    let mut quiet_since = None::<Instant>;
    while received.messages < expected {
        while let Some(packet) = reader.decoded() {
            let Packet::Publish(publish) = packet else {
                panic!("expected PUBLISH, got {packet:?}");
            };
            let now = Instant::now();
            received.messages += 1;
            received.payload_bytes += publish.payload.len() as u64;
            received.last = Some(now);
            if let Some(origin) = latency_origin {
                let sent = u64::from_be_bytes(publish.payload[..8].try_into().unwrap());
                received
                    .latencies
                    .push(now_nanos(origin).saturating_sub(sent));
            }
            if let Some(packet_id) = publish.packet_id {
                codec::encode(
                    &Packet::PubAck(PubResponse::new(packet_id)),
                    VERSION,
                    &mut acks,
                );
            }
            if let Some(side) = &flow {
                // Topics are `load/RUN/<publisher>`.
                let publisher: usize = publish
                    .topic
                    .rsplit('/')
                    .next()
                    .and_then(|index| index.parse().ok())
                    .expect("a load topic");
                side.flow.heard[publisher][side.index].fetch_add(1, Ordering::Relaxed);
                heard_from[publisher] = true;
            }
        }
        if let Some(side) = &flow {
            for (publisher, heard) in heard_from.iter_mut().enumerate() {
                if std::mem::take(heard) {
                    side.flow.progress[publisher].notify_one();
                }
            }
        }
        if !acks.is_empty() {
            write.write_all(&acks).await.expect("write PUBACKs");
            acks.clear();
        }
        if received.messages >= expected {
            break;
        }
        let done_publishing = !*publishing.borrow();
        let wait = if done_publishing {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            let left = QUIET.saturating_sub(since.elapsed());
            if left.is_zero() {
                break;
            }
            left
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            filled = reader.fill() => {
                if !filled {
                    eprintln!("a subscriber was disconnected by the broker");
                    break;
                }
                quiet_since = None;
            }
            () = tokio::time::sleep(wait) => {}
            _ = publishing.changed(), if !done_publishing => {}
        }
    }
    disconnect(write).await;
    received
}

/// What one publisher did.
struct Published {
    messages: u64,
}

/// Publishes `count` messages to `topic`; QoS 1 keeps up to `inflight` unacknowledged.
/// `payload(i)` makes the i-th payload; with `rate` (messages/s) they are paced, else sent
/// as fast as possible. Returns when every QoS 1 message is acknowledged.
/// What a publisher sends.
struct Plan {
    topic: String,
    count: u64,
    qos: QoS,
    inflight: usize,
    /// Messages per second; `None`: as fast as possible.
    rate: Option<f64>,
    /// End-to-end flow control: this publisher's index in it.
    flow: Option<(Arc<Flow>, usize)>,
}

async fn publish(
    mut reader: Reader,
    mut write: OwnedWriteHalf,
    plan: Plan,
    payload: impl Fn(u64) -> Bytes,
) -> Published {
    let Plan {
        topic,
        count,
        qos,
        inflight,
        rate,
        flow,
    } = plan;
    let window = Arc::new(Semaphore::new(inflight));
    let acked = Arc::new(AtomicU64::new(0));
    let acks = (qos == QoS::AtLeastOnce).then(|| {
        let window = Arc::clone(&window);
        let acked = Arc::clone(&acked);
        tokio::spawn(async move {
            while acked.load(Ordering::Relaxed) < count {
                match reader.next().await {
                    Some(Packet::PubAck(_)) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                        window.add_permits(1);
                    }
                    Some(other) => panic!("expected PUBACK, got {other:?}"),
                    None => panic!("the broker closed a publisher's connection"),
                }
            }
        })
    });
    let start = Instant::now();
    let mut out = BytesMut::with_capacity(WRITE_BATCH + 1024);
    let mut packet_id: u16 = 0;
    for index in 0..count {
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(index as f64 / rate);
            if due > Instant::now() {
                if !out.is_empty() {
                    write.write_all(&out).await.expect("write");
                    out.clear();
                }
                tokio::time::sleep_until(due).await;
            }
        }
        if let Some((flow, publisher)) = &flow {
            while index >= flow.slowest(*publisher).saturating_add(flow.ahead) {
                if !out.is_empty() {
                    write.write_all(&out).await.expect("write");
                    out.clear();
                }
                // `notify_one` keeps a permit: progress made before this await is not lost.
                flow.progress[*publisher].notified().await;
            }
        }
        let mut message = Publish::new(topic.clone(), payload(index));
        message.qos = qos;
        if qos == QoS::AtLeastOnce {
            match Arc::clone(&window).try_acquire_owned() {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    if !out.is_empty() {
                        write.write_all(&out).await.expect("write");
                        out.clear();
                    }
                    window.acquire().await.unwrap().forget();
                }
            }
            packet_id = packet_id.checked_add(1).unwrap_or(1);
            message.packet_id = Some(packet_id);
        }
        codec::encode(&Packet::Publish(message), VERSION, &mut out);
        if out.len() >= WRITE_BATCH || rate.is_some() {
            write.write_all(&out).await.expect("write");
            out.clear();
        }
    }
    if !out.is_empty() {
        write.write_all(&out).await.expect("write");
    }
    if let Some(acks) = acks {
        acks.await.unwrap();
    }
    disconnect(write).await;
    Published { messages: count }
}

// --- modes ----------------------------------------------------------------------------------

async fn throughput(options: &Options) {
    let broker = options.broker();
    let publishers: usize = options.get("publishers", 1);
    let subscribers: usize = options.get("subscribers", 1);
    let messages: u64 = options.get("messages", 100_000);
    let size: usize = options.get("size", 64);
    let qos = options.qos();
    let inflight: usize = options.get("inflight", 32);
    let pattern: String = options.get("pattern", "fanout".to_owned());
    let ahead: u64 = options.get("ahead", 1000);
    let pairs = match pattern.as_str() {
        "fanout" => false,
        "pairs" => true,
        other => panic!("--pattern {other}: fanout or pairs"),
    };
    let run = run_id();

    // Subscribers first, each with what it should receive.
    let subscriptions = connect_many(subscribers, 64, |index| {
        let run = run.clone();
        async move {
            let (mut reader, mut write) = connect(broker, &format!("load-sub-{run}-{index}")).await;
            let filter = if pairs {
                format!("load/{run}/{}", index % publishers)
            } else {
                format!("load/{run}/+")
            };
            subscribe(&mut reader, &mut write, &filter, qos).await;
            (reader, write)
        }
    })
    .await;
    // Pairs: subscriber j hears publisher j % publishers; fan-out: every publisher.
    let expected_per_subscriber = if pairs {
        messages
    } else {
        messages * publishers as u64
    };
    let publishing_connections = connect_many(publishers, 64, |index| {
        let run = run.clone();
        async move { connect(broker, &format!("load-pub-{run}-{index}")).await }
    })
    .await;
    let expected = expected_per_subscriber * subscribers as u64;

    let flow = (ahead > 0).then(|| {
        Arc::new(Flow::new(
            ahead,
            publishers,
            subscribers,
            |publisher, subscriber| !pairs || subscriber % publishers == publisher,
        ))
    });
    let (publishing_tx, publishing) = watch::channel(true);
    let start = Instant::now();
    let receiving: Vec<_> = subscriptions
        .into_iter()
        .enumerate()
        .map(|(index, (reader, write))| {
            let side = flow.as_ref().map(|flow| FlowSide {
                flow: Arc::clone(flow),
                index,
            });
            tokio::spawn(receive(
                reader,
                write,
                expected_per_subscriber,
                publishing.clone(),
                None,
                side,
            ))
        })
        .collect();
    let payload = Bytes::from(vec![b'x'; size]);
    let sending: Vec<_> = publishing_connections
        .into_iter()
        .enumerate()
        .map(|(index, (reader, write))| {
            let payload = payload.clone();
            let plan = Plan {
                topic: format!("load/{run}/{index}"),
                count: messages,
                qos,
                inflight,
                rate: None,
                flow: flow.as_ref().map(|flow| (Arc::clone(flow), index)),
            };
            tokio::spawn(publish(reader, write, plan, move |_| payload.clone()))
        })
        .collect();
    let mut published = 0;
    for task in sending {
        published += task.await.unwrap().messages;
    }
    let publish_time = start.elapsed();
    publishing_tx.send_replace(false);
    let (mut delivered, mut bytes, mut last) = (0, 0, start);
    for task in receiving {
        let received = task.await.unwrap();
        delivered += received.messages;
        bytes += received.payload_bytes;
        last = last.max(received.last.unwrap_or(start));
    }
    let delivery_time = (last - start).max(Duration::from_micros(1));
    let published_per_s = published as f64 / publish_time.as_secs_f64();
    let delivered_per_s = delivered as f64 / delivery_time.as_secs_f64();
    let mb_per_s = bytes as f64 / delivery_time.as_secs_f64() / 1e6;
    let loss = 100.0 * (expected - delivered.min(expected)) as f64 / expected.max(1) as f64;
    println!(
        "throughput: QoS {} {publishers} publisher(s) x {subscribers} subscriber(s) ({pattern}), \
         {messages} messages of {size} B each, at most {ahead} ahead (0: open loop)",
        qos.as_u8()
    );
    println!(
        "  published {published} in {publish_time:.2?}: {published_per_s:.0} msgs/s; \
         delivered {delivered} of {expected} in {delivery_time:.2?}: {delivered_per_s:.0} msgs/s, \
         {mb_per_s:.1} MB/s payload; loss {loss:.2}%"
    );
    println!(
        "RESULT mode=throughput qos={} publishers={publishers} subscribers={subscribers} \
         pattern={pattern} size={size} ahead={ahead} published_per_s={published_per_s:.0} \
         delivered={delivered} expected={expected} delivered_per_s={delivered_per_s:.0} \
         mb_per_s={mb_per_s:.2} loss_pct={loss:.2}",
        qos.as_u8()
    );
}

async fn latency(options: &Options) {
    let broker = options.broker();
    let rate: f64 = options.get("rate", 1000.0);
    let seconds: f64 = options.get("seconds", 10.0);
    let size: usize = options.get("size", 64).max(8);
    let qos = options.qos();
    let subscribers: usize = options.get("subscribers", 1);
    let warmup: usize = options.get("warmup", 100);
    let inflight: usize = options.get("inflight", 32);
    let count = (rate * seconds).round() as u64;
    let run = run_id();
    let topic = format!("load/{run}/latency");
    let origin = Instant::now();

    let subscriptions = connect_many(subscribers, 64, |index| {
        let (run, topic) = (run.clone(), topic.clone());
        async move {
            let (mut reader, mut write) = connect(broker, &format!("lat-sub-{run}-{index}")).await;
            subscribe(&mut reader, &mut write, &topic, qos).await;
            (reader, write)
        }
    })
    .await;
    let (reader, write) = connect(broker, &format!("lat-pub-{run}")).await;
    let (publishing_tx, publishing) = watch::channel(true);
    let receiving: Vec<_> = subscriptions
        .into_iter()
        .map(|(reader, write)| {
            tokio::spawn(receive(
                reader,
                write,
                count,
                publishing.clone(),
                Some(origin),
                None,
            ))
        })
        .collect();
    let filler = vec![b'x'; size - 8];
    let plan = Plan {
        topic,
        count,
        qos,
        inflight,
        rate: Some(rate),
        flow: None,
    };
    publish(reader, write, plan, move |_| {
        let mut payload = BytesMut::with_capacity(size);
        payload.put_u64(now_nanos(origin));
        payload.put_slice(&filler);
        payload.freeze()
    })
    .await;
    publishing_tx.send_replace(false);
    let mut latencies = Vec::new();
    let mut delivered = 0;
    for task in receiving {
        let received = task.await.unwrap();
        delivered += received.messages;
        latencies.extend(received.latencies.into_iter().skip(warmup));
    }
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1] as f64 / 1e3
    };
    let (p50, p90, p99, max) = (
        percentile(50.0),
        percentile(90.0),
        percentile(99.0),
        percentile(100.0),
    );
    let expected = count * subscribers as u64;
    println!(
        "latency: QoS {} {rate} msgs/s for {seconds} s to {subscribers} subscriber(s), {size} B: \
         delivered {delivered} of {expected}; publish-to-deliver p50 {p50:.0} µs, p90 {p90:.0} µs, \
         p99 {p99:.0} µs, max {max:.0} µs",
        qos.as_u8()
    );
    println!(
        "RESULT mode=latency qos={} rate={rate} subscribers={subscribers} size={size} \
         delivered={delivered} expected={expected} p50_us={p50:.0} p90_us={p90:.0} \
         p99_us={p99:.0} max_us={max:.0}",
        qos.as_u8()
    );
}

/// The resident memory of process `pid` in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|error| panic!("cannot read /proc/{pid}/status: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

async fn idle(options: &Options) {
    let broker = options.broker();
    let connections: usize = options.get("connections", 10_000);
    let at_once: usize = options.get("connecting", 256);
    let with_subscription = options.get("subscribe", 0u8) == 1;
    let hold: f64 = options.get("hold", 0.0);
    let pid: Option<u32> = options.values.get("pid").map(|pid| pid.parse().unwrap());
    let settle = Duration::from_secs(2);
    let run = run_id();

    let before = pid.map(rss_kib);
    let start = Instant::now();
    let opened = Arc::new(AtomicUsize::new(0));
    let open = connect_many(connections, at_once, |index| {
        let run = run.clone();
        let opened = Arc::clone(&opened);
        async move {
            let (mut reader, mut write) = connect(broker, &format!("idle-{run}-{index}")).await;
            if with_subscription {
                let filter = format!("idle/{run}/{index}");
                subscribe(&mut reader, &mut write, &filter, QoS::AtLeastOnce).await;
            }
            reader.buf = BytesMut::new();
            opened.fetch_add(1, Ordering::Relaxed);
            (reader, write)
        }
    })
    .await;
    let connect_time = start.elapsed();
    tokio::time::sleep(settle).await;
    let after = pid.map(rss_kib);
    println!(
        "idle: {} connections{} open in {connect_time:.2?}",
        opened.load(Ordering::Relaxed),
        if with_subscription {
            " (one subscription each)"
        } else {
            ""
        }
    );
    let mut result = format!(
        "RESULT mode=idle connections={connections} subscribe={}",
        u8::from(with_subscription)
    );
    if let (Some(before), Some(after)) = (before, after) {
        let per_connection = after.saturating_sub(before) as f64 * 1024.0 / connections as f64;
        println!(
            "  broker RSS {before} KiB before, {after} KiB after {settle:?}: \
             {per_connection:.0} bytes per connection"
        );
        result.push_str(&format!(
            " rss_before_kib={before} rss_after_kib={after} bytes_per_connection={per_connection:.0}"
        ));
    }
    println!("{result}");
    if hold > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    }
    let closing: Vec<_> = open
        .into_iter()
        .map(|(reader, write)| {
            tokio::spawn(async move {
                disconnect(write).await;
                drop(reader);
            })
        })
        .collect();
    for task in closing {
        task.await.unwrap();
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    match options.mode.as_str() {
        "throughput" => throughput(&options).await,
        "latency" => latency(&options).await,
        _ => idle(&options).await,
    }
}
