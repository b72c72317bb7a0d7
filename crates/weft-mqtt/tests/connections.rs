//! 10,000 concurrent MQTT connections on one in-process node, each of which receives a
//! message addressed to it and a fan-out message addressed to all of them.
//!
//! Every TCP connection on loopback costs two file descriptors, one per end. This
//! machine's hard limit on open files is 20,000 per process, so the two ends live in two
//! processes: the node (a `Broker`, an `MqttContext` and `serve` on port 0) runs in the
//! test process, the clients in a child process, which is this same test binary run again
//! with `WEFT_MQTT_CONNECTIONS_ADDR` set (under `sh -c 'ulimit -n <hard limit>'`, so the
//! child's soft limit is as high as it may be). The child speaks over stdout
//! (`weft-connections: ...` lines) and listens on stdin.
//!
//! When a process's open-file limit does not fit 10,000 connections, the count is scaled
//! down to what fits and printed (`./scripts/test` raises the soft limit to the hard
//! limit first).
//!
//! Phases (everything within [`DEADLINE`]):
//! 1. the child opens the connections, at most [`CONNECTING_AT_ONCE`] at a time: CONNECT
//!    (half MQTT 3.1.1, half 5.0, clean start, no keep alive) and one SUBSCRIBE at QoS 1
//!    to its own topic `conn/<i>` and to `conn/all`; it reports `ready N`;
//! 2. the node checks that N connections are open; a publisher connection sends one
//!    QoS 1 message to every `conn/<i>` (pipelined) and one QoS 1 message to `conn/all`;
//! 3. every client receives (and PUBACKs) both; the child reports `received N`;
//! 4. the node asks the child to disconnect: every client sends DISCONNECT and closes;
//!    the node sees every connection and every (clean) session end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use weft_broker::Broker;
use weft_mqtt::codec::{
    self, Connect, Disconnect, Packet, Properties, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, Subscribe, SubscriptionOptions,
};
use weft_mqtt::{MqttConfig, MqttContext};

/// How many connections the test wants.
const CONNECTIONS: usize = 10_000;
/// Connections being set up (CONNECT … SUBACK) at the same time.
const CONNECTING_AT_ONCE: usize = 256;
/// The whole test fails after this.
const DEADLINE: Duration = Duration::from_secs(120);
/// File descriptors a process keeps for everything but the connections.
const RESERVED_FDS: usize = 128;
/// QoS 1 publishes the publisher keeps unacknowledged (below the node's receive maximum).
const PUBLISH_WINDOW: usize = 64;

/// Set in the child: the node's address.
const ADDR_ENV: &str = "WEFT_MQTT_CONNECTIONS_ADDR";
/// Set in the child: how many connections to open.
const COUNT_ENV: &str = "WEFT_MQTT_CONNECTIONS_COUNT";
/// The prefix of the child's report lines.
const REPORT: &str = "weft-connections:";

const FANOUT_TOPIC: &str = "conn/all";
const FANOUT_PAYLOAD: &[u8] = b"to everyone";

fn own_topic(index: usize) -> String {
    format!("conn/{index}")
}

fn own_payload(index: usize) -> Bytes {
    Bytes::from(format!("to {index}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_connections_each_receive_a_message() {
    if let Ok(addr) = std::env::var(ADDR_ENV) {
        // The child process: the clients.
        let count = std::env::var(COUNT_ENV).unwrap().parse().unwrap();
        clients(addr.parse().unwrap(), count).await;
        return;
    }
    node_side().await;
}

/// The soft limit on open files of this process (`/proc/self/limits`).
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .map_or(1024, |soft| soft.parse().unwrap_or(usize::MAX))
}

/// How many connections fit in this process's open-file limit (one descriptor each).
fn connections_that_fit(wanted: usize) -> usize {
    wanted.min(open_files_limit().saturating_sub(RESERVED_FDS))
}

// --- the node side (the test process) ------------------------------------------------

/// The child process; killed when dropped.
struct ChildClients {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
}

impl ChildClients {
    fn spawn(addr: SocketAddr, count: usize) -> ChildClients {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@""#)
            .arg(exe)
            .args([
                "--exact",
                "ten_thousand_concurrent_connections_each_receive_a_message",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ADDR_ENV, addr.to_string())
            .env(COUNT_ENV, count.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the client process");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may have started the line ("test NAME ... ").
                // Anything else is the child's test harness talking (its failures go to
                // stderr, which the child shares with this process).
                if let Some((_, report)) = line.split_once(REPORT) {
                    let _ = tx.send(report.trim().to_owned());
                }
            }
        });
        ChildClients {
            child,
            stdin,
            lines,
        }
    }

    /// The child's next report; fails at `deadline` or when the child exits.
    async fn report(&mut self, deadline: Instant, waiting_for: &str) -> String {
        match tokio::time::timeout_at(deadline, self.lines.recv()).await {
            Ok(Some(line)) if line.starts_with("failed") => {
                panic!("the client process {line} (waiting for {waiting_for})")
            }
            Ok(Some(line)) => line,
            Ok(None) => panic!(
                "the client process exited ({:?}) while the test waited for {waiting_for}",
                self.child.wait()
            ),
            Err(_) => panic!("timed out after {DEADLINE:?} waiting for {waiting_for}"),
        }
    }

    fn tell(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for ChildClients {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn node_side() {
    let started = Instant::now();
    let deadline = started + DEADLINE;
    let count = connections_that_fit(CONNECTIONS);
    if count < CONNECTIONS {
        println!(
            "the open-file limit ({}) fits {count} connections, not {CONNECTIONS}: raise \
             `ulimit -n` to test all of them",
            open_files_limit()
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::default();
    let context = MqttContext::open(broker.clone(), dir.path().to_owned(), MqttConfig::default())
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(weft_mqtt::serve(listener, context.clone(), async {
        let _ = stopped.await;
    }));

    // 1. Connect and subscribe (in the child).
    let mut clients = ChildClients::spawn(addr, count);
    let ready = clients.report(deadline, "the clients to connect").await;
    let count: usize = ready
        .strip_prefix("ready ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected report {ready:?}"));
    let connected = started.elapsed();
    assert_eq!(context.stats().connections_open, count as u64);
    assert!(context.stats().sessions >= count as u64);

    // 2. One message to each connection, then one to all of them.
    let mut publisher = MiniClient::connect(addr, ProtocolVersion::V311, "conn-publisher")
        .await
        .unwrap();
    let messages = (0..count)
        .map(|index| (own_topic(index), own_payload(index)))
        .chain(std::iter::once((
            FANOUT_TOPIC.to_owned(),
            Bytes::from_static(FANOUT_PAYLOAD),
        )));
    tokio::time::timeout_at(deadline, publisher.publish_all(messages))
        .await
        .expect("timed out publishing")
        .unwrap();
    let published = started.elapsed();

    // 3. Every connection got both (the child counted them).
    let received = clients.report(deadline, "every client to receive").await;
    assert_eq!(received, format!("received {count}"));
    let delivered = started.elapsed();
    assert_eq!(context.stats().connections_open, count as u64 + 1);

    // 4. Disconnect all of them.
    clients.tell("disconnect");
    let done = clients.report(deadline, "the clients to disconnect").await;
    assert_eq!(done, format!("disconnected {count}"));
    publisher.disconnect().await;
    while context.stats().connections_open > 0 || context.stats().sessions > 0 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the connections to close: {:?}",
            context.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let closed = started.elapsed();
    let stats = context.stats();
    assert_eq!(stats.connections_accepted, count as u64 + 1);
    assert_eq!(stats.connections_refused, 0);
    println!(
        "{count} connections: connected and subscribed after {connected:.2?}, \
         {} messages published after {published:.2?}, all received after {delivered:.2?}, \
         all closed after {closed:.2?}",
        count + 1
    );

    drop(clients);
    let _ = stop.send(());
    served.await.unwrap();
    context.close().await;
    broker.shutdown();
}

// --- the client side (the child process) ---------------------------------------------

/// Prints a report line for the node side.
fn report(line: &str) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "\n{REPORT} {line}").unwrap();
    stdout.flush().unwrap();
}

async fn clients(addr: SocketAddr, wanted: usize) {
    let count = connections_that_fit(wanted);
    let deadline = Instant::now() + DEADLINE;
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let subscribed = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    let (failed_tx, mut failed) = mpsc::unbounded_channel::<String>();
    let (disconnect_tx, disconnect) = watch::channel(false);

    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let connecting = Arc::clone(&connecting);
        let subscribed = Arc::clone(&subscribed);
        let received = Arc::clone(&received);
        let failed_tx = failed_tx.clone();
        let mut disconnect = disconnect.clone();
        tasks.spawn(async move {
            let result = async {
                let permit = connecting.acquire().await.map_err(|e| e.to_string())?;
                let version = if index % 2 == 0 {
                    ProtocolVersion::V311
                } else {
                    ProtocolVersion::V5
                };
                let mut client =
                    MiniClient::connect(addr, version, &format!("conn-{index}")).await?;
                client
                    .subscribe(&[own_topic(index).as_str(), FANOUT_TOPIC])
                    .await?;
                drop(permit);
                subscribed.fetch_add(1, Ordering::Relaxed);
                client.receive_own_and_fanout(index).await?;
                received.fetch_add(1, Ordering::Relaxed);
                // Stay connected until every client has its messages.
                let _ = disconnect.wait_for(|now| *now).await;
                client.disconnect().await;
                Ok::<(), String>(())
            }
            .await;
            if let Err(error) = result {
                let _ = failed_tx.send(format!("client {index}: {error}"));
            }
        });
    }
    drop(failed_tx);

    let progress = Progress {
        count,
        deadline,
        subscribed: &subscribed,
        received: &received,
    };
    progress
        .wait_until("the subscriptions", &mut failed, |n| n.0 == count)
        .await;
    report(&format!("ready {count}"));
    progress
        .wait_until("the messages", &mut failed, |n| n.1 == count)
        .await;
    report(&format!("received {count}"));

    // Wait for the node side's word (stdin), then disconnect everyone.
    let (told_tx, mut told) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let _ = told_tx.send(line);
        }
    });
    match tokio::time::timeout_at(deadline, told.recv()).await {
        Ok(Some(line)) if line == "disconnect" => {}
        // The node side went away: just end.
        other => panic!("expected `disconnect` from the node side, got {other:?}"),
    }
    disconnect_tx.send_replace(true);
    let mut disconnected = 0;
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
        disconnected += 1;
    }
    if let Ok(error) = failed.try_recv() {
        report(&format!("failed: {error}"));
        panic!("{error}");
    }
    report(&format!("disconnected {disconnected}"));
}

/// How far the clients are.
struct Progress<'a> {
    count: usize,
    deadline: Instant,
    subscribed: &'a AtomicUsize,
    received: &'a AtomicUsize,
}

impl Progress<'_> {
    /// Waits until `done((subscribed, received))`; on the first client error or at the
    /// deadline, reports the failure to the node side and fails.
    async fn wait_until(
        &self,
        what: &str,
        failed: &mut mpsc::UnboundedReceiver<String>,
        done: impl Fn((usize, usize)) -> bool,
    ) {
        loop {
            let now = (
                self.subscribed.load(Ordering::Relaxed),
                self.received.load(Ordering::Relaxed),
            );
            if done(now) {
                return;
            }
            if let Ok(error) = failed.try_recv() {
                report(&format!("failed: {error}"));
                panic!("{error}");
            }
            if Instant::now() > self.deadline {
                let error = format!(
                    "timed out waiting for {what}: {} subscribed, {} received of {}",
                    now.0, now.1, self.count
                );
                report(&format!("failed: {error}"));
                panic!("{error}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A minimal MQTT client: small buffers, errors as strings, QoS 1 only.
struct MiniClient {
    stream: TcpStream,
    input: BytesMut,
    version: ProtocolVersion,
}

impl MiniClient {
    async fn connect(
        addr: SocketAddr,
        version: ProtocolVersion,
        client_id: &str,
    ) -> Result<MiniClient, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut client = MiniClient {
            stream,
            input: BytesMut::new(),
            version,
        };
        client
            .send(&Packet::Connect(Box::new(Connect {
                version,
                clean_start: true,
                keep_alive: 0,
                properties: Properties::default(),
                client_id: client_id.to_owned(),
                will: None,
                username: None,
                password: None,
            })))
            .await?;
        match client.recv().await? {
            Packet::ConnAck(connack) if connack.code == ReasonCode::Success => Ok(client),
            other => Err(format!("expected a successful CONNACK, got {other:?}")),
        }
    }

    async fn send(&mut self, packet: &Packet) -> Result<(), String> {
        let mut out = BytesMut::new();
        codec::encode(packet, self.version, &mut out);
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn recv(&mut self) -> Result<Packet, String> {
        loop {
            if let Some(packet) = codec::decode(&mut self.input, self.version, 64 * 1024)
                .map_err(|e| format!("decode: {e}"))?
            {
                if self.input.is_empty() {
                    // Keep idle clients small.
                    self.input = BytesMut::new();
                }
                return Ok(packet);
            }
            self.input.reserve(512);
            match self.stream.read_buf(&mut self.input).await {
                Ok(0) => return Err("closed by the server".to_owned()),
                Ok(_) => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    async fn subscribe(&mut self, filters: &[&str]) -> Result<(), String> {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::default(),
            filters: filters
                .iter()
                .map(|filter| {
                    (
                        (*filter).to_owned(),
                        SubscriptionOptions::new(QoS::AtLeastOnce),
                    )
                })
                .collect(),
        }))
        .await?;
        match self.recv().await? {
            Packet::SubAck(suback)
                if suback.packet_id == 1
                    && suback.codes.len() == filters.len()
                    && suback
                        .codes
                        .iter()
                        .all(|code| *code == ReasonCode::GrantedQos1) =>
            {
                Ok(())
            }
            other => Err(format!("expected a SUBACK granting QoS 1, got {other:?}")),
        }
    }

    /// Receives (and acknowledges) the message to `conn/<index>` and the fan-out one.
    async fn receive_own_and_fanout(&mut self, index: usize) -> Result<(), String> {
        let (mut own, mut fanout) = (false, false);
        let own_topic = own_topic(index);
        while !(own && fanout) {
            let publish = match self.recv().await? {
                Packet::Publish(publish) => publish,
                other => return Err(format!("expected PUBLISH, got {other:?}")),
            };
            if let Some(packet_id) = publish.packet_id {
                self.send(&Packet::PubAck(PubResponse::new(packet_id)))
                    .await?;
            }
            if publish.topic == own_topic && publish.payload == own_payload(index) && !own {
                own = true;
            } else if publish.topic == FANOUT_TOPIC && publish.payload == FANOUT_PAYLOAD && !fanout
            {
                fanout = true;
            } else {
                return Err(format!(
                    "unexpected PUBLISH to {} ({:?})",
                    publish.topic, publish.payload
                ));
            }
        }
        Ok(())
    }

    /// Publishes every `(topic, payload)` at QoS 1, up to [`PUBLISH_WINDOW`] unacknowledged.
    async fn publish_all(
        &mut self,
        messages: impl Iterator<Item = (String, Bytes)>,
    ) -> Result<(), String> {
        let mut in_flight = 0;
        let mut next_id: u16 = 0;
        let mut out = BytesMut::new();
        let mut messages = messages.peekable();
        while messages.peek().is_some() || in_flight > 0 {
            while in_flight < PUBLISH_WINDOW {
                let Some((topic, payload)) = messages.next() else {
                    break;
                };
                next_id = next_id.checked_add(1).unwrap_or(1);
                let mut publish = Publish::new(topic, payload);
                publish.qos = QoS::AtLeastOnce;
                publish.packet_id = Some(next_id);
                codec::encode(&Packet::Publish(publish), self.version, &mut out);
                in_flight += 1;
            }
            if !out.is_empty() {
                self.stream
                    .write_all(&out)
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                out.clear();
            }
            match self.recv().await? {
                Packet::PubAck(ack) if ack.code == ReasonCode::Success => in_flight -= 1,
                other => return Err(format!("expected a successful PUBACK, got {other:?}")),
            }
        }
        Ok(())
    }

    async fn disconnect(mut self) {
        let _ = self
            .send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)))
            .await;
        let _ = self.stream.shutdown().await;
    }
}
