//! What a client can make the listener hold while a request arrives: memory grows with
//! the bytes that arrived, an incomplete request has a deadline, and the bytes held for
//! incomplete requests over all connections stay under one cap. Raw sockets on a
//! listener bound to port 0, so every byte is under the test's control.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use weft_broker::Broker;
use weft_kafka::group::{CoordinatorConfig, GroupCoordinator};
use weft_kafka::protocol::{
    ApiKey, ApiVersionsRequest, ErrorCode, Request, RequestHeader, Response, decode_response,
    encode_request,
};
use weft_kafka::{KafkaConfig, KafkaContext, KafkaStats};

/// How long a test waits for something before failing loudly.
const WAIT: Duration = Duration::from_secs(10);

/// A listener on port 0 serving a broker without streams (these tests need none).
struct Listener {
    address: SocketAddr,
    context: KafkaContext,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Listener {
    async fn start(config: KafkaConfig) -> Listener {
        let dir = tempfile::tempdir().unwrap();
        let groups = GroupCoordinator::spawn(CoordinatorConfig::default(), dir.path())
            .await
            .unwrap();
        let context = KafkaContext::new(Broker::default(), groups, config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(weft_kafka::serve(listener, context.clone(), async move {
            let _ = stopped.await;
        }));
        Listener {
            address,
            context,
            _stop: stop,
            _dir: dir,
        }
    }

    fn stats(&self) -> KafkaStats {
        self.context.stats()
    }

    fn held(&self) -> u64 {
        self.stats().incomplete_request_bytes
    }

    /// Waits until `condition` holds of the counters, failing loudly after [`WAIT`].
    async fn wait_for(&self, what: &str, condition: impl Fn(&KafkaStats) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let stats = self.stats();
            if condition(&stats) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {WAIT:?} for {what}; stats: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn connect(&self) -> TcpStream {
        let socket = TcpStream::connect(self.address).await.unwrap();
        socket.set_nodelay(true).unwrap();
        socket
    }
}

/// An ApiVersions v3 request (with its size prefix) whose client software name makes
/// it `padding` bytes longer than the smallest one.
fn api_versions(correlation_id: i32, padding: usize) -> Bytes {
    let header = RequestHeader {
        api_key: ApiKey::ApiVersions as i16,
        api_version: 3,
        correlation_id,
        client_id: Some("request-limits".to_owned()),
    };
    let request = Request::ApiVersions(ApiVersionsRequest {
        client_software_name: "x".repeat(padding.max(1)),
        client_software_version: "1".to_owned(),
    });
    encode_request(&header, &request)
}

/// Reads one response and checks it answers ApiVersions `correlation_id` without error.
async fn expect_api_versions(socket: &mut TcpStream, correlation_id: i32) {
    let frame = within(WAIT, async {
        let size = socket.read_i32().await.unwrap();
        let mut frame = BytesMut::zeroed(usize::try_from(size).unwrap());
        socket.read_exact(&mut frame).await.unwrap();
        frame.freeze()
    })
    .await;
    assert_eq!(frame[..4], correlation_id.to_be_bytes(), "answers in order");
    let response = decode_response(ApiKey::ApiVersions as i16, 3, frame).unwrap();
    let Response::ApiVersions(response) = response else {
        panic!("not an ApiVersions response: {response:?}");
    };
    assert_eq!(response.error_code, ErrorCode::NONE);
}

/// Waits until the listener closes `socket`, and says how long that took.
async fn closed_by_listener(socket: &mut TcpStream) -> Duration {
    let started = tokio::time::Instant::now();
    within(WAIT, async {
        let mut byte = [0u8; 1];
        // A close is a clean end of stream, or a reset if unread bytes were left.
        match socket.read(&mut byte).await {
            Ok(0) | Err(_) => {}
            Ok(_) => panic!("the listener answered an incomplete request"),
        }
    })
    .await;
    started.elapsed()
}

/// A socket that announced a request of `size` bytes and sent `sent` of them.
async fn stalled(listener: &Listener, size: usize, sent: usize) -> TcpStream {
    let mut socket = listener.connect().await;
    let mut bytes = i32::try_from(size).unwrap().to_be_bytes().to_vec();
    bytes.resize(4 + sent, 0);
    socket.write_all(&bytes).await.unwrap();
    socket
}

async fn within<T>(wait: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(wait, future)
        .await
        .expect("timed out waiting")
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

#[tokio::test]
async fn a_huge_announced_request_holds_only_about_what_arrived() {
    let listener = Listener::start(KafkaConfig::default()).await;
    let mut socket = stalled(&listener, 100 * MIB, 10).await;
    listener
        .wait_for("the first bytes to be held", |stats| {
            stats.incomplete_request_bytes > 0
        })
        .await;
    assert!(
        listener.held() <= 64 * KIB as u64,
        "ten bytes of a 100 MiB request hold {} bytes",
        listener.held()
    );

    // More bytes: the buffer grows with them, never to the announced size.
    let sent = 10 + MIB;
    socket.write_all(&vec![0; MIB]).await.unwrap();
    listener
        .wait_for("the next megabyte to be held", |stats| {
            stats.incomplete_request_bytes >= sent as u64
        })
        .await;
    let held = listener.held();
    assert!(
        held <= (2 * sent + 64 * KIB) as u64,
        "{sent} bytes of a 100 MiB request hold {held} bytes"
    );

    // Its share is given back when the client goes away.
    drop(socket);
    listener
        .wait_for("the bytes to be given back", |stats| {
            stats.incomplete_request_bytes == 0
        })
        .await;
}

#[tokio::test]
async fn a_request_that_stalls_is_closed_at_its_deadline_and_counted() {
    let timeout = Duration::from_millis(300);
    let listener = Listener::start(KafkaConfig {
        request_read_timeout: timeout,
        ..KafkaConfig::default()
    })
    .await;
    let mut idle = listener.connect().await;
    let mut mid_body = stalled(&listener, 100, 10).await;
    let mut mid_prefix = listener.connect().await;
    mid_prefix.write_all(&[0, 0]).await.unwrap();

    let waited = closed_by_listener(&mut mid_body).await;
    assert!(
        waited >= timeout - Duration::from_millis(50),
        "closed after {waited:?}"
    );
    closed_by_listener(&mut mid_prefix).await;
    listener
        .wait_for("both timeouts to be counted", |stats| {
            stats.requests_timed_out == 2
        })
        .await;
    listener
        .wait_for("the bytes to be given back", |stats| {
            stats.incomplete_request_bytes == 0
        })
        .await;

    // A connection between requests may be idle for longer than the deadline.
    idle.write_all(&api_versions(1, 0)).await.unwrap();
    expect_api_versions(&mut idle, 1).await;
    assert_eq!(listener.stats().requests_timed_out, 2);
}

#[tokio::test]
async fn stalled_clients_together_hold_no_more_than_the_cap() {
    let cap = 256 * KIB;
    let listener = Listener::start(KafkaConfig {
        max_incomplete_request_bytes: cap,
        request_read_timeout: Duration::from_secs(60),
        ..KafkaConfig::default()
    })
    .await;
    let mut stallers = Vec::new();
    for _ in 0..8 {
        stallers.push(stalled(&listener, 128 * KIB, 100 * KIB).await);
    }
    listener
        .wait_for("the budget to fill", |stats| {
            stats.request_budget_waits > 0 && stats.incomplete_request_bytes == cap as u64
        })
        .await;
    for _ in 0..20 {
        let held = listener.held();
        assert!(held <= cap as u64, "{held} bytes held over a cap of {cap}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A well-behaved client waits for room rather than failing, and is answered once
    // the stalled clients have gone.
    let mut client = listener.connect().await;
    client.write_all(&api_versions(7, 0)).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(100), client.peek(&mut byte)).await;
    assert!(early.is_err(), "answered while the budget was full");
    drop(stallers);
    expect_api_versions(&mut client, 7).await;
    listener
        .wait_for("every byte to be given back", |stats| {
            stats.incomplete_request_bytes == 0
        })
        .await;
    assert_eq!(listener.stats().requests_timed_out, 0);
}

#[tokio::test]
async fn requests_that_together_outgrow_the_cap_all_complete() {
    // Eight requests of 120 KiB, each half sent before any is complete: together they
    // need four times the shared room, and each holds part of it while waiting for more.
    let cap = 256 * KIB;
    let listener = Listener::start(KafkaConfig {
        max_incomplete_request_bytes: cap,
        request_read_timeout: Duration::from_secs(60),
        ..KafkaConfig::default()
    })
    .await;
    let mut clients = Vec::new();
    for id in 0..8 {
        let request = api_versions(id, 120 * KIB);
        let mut client = listener.connect().await;
        client.write_all(&request[..60 * KIB]).await.unwrap();
        clients.push((client, request));
    }
    listener
        .wait_for("requests to wait for room", |stats| {
            stats.request_budget_waits > 0
        })
        .await;
    for (client, request) in &mut clients {
        client.write_all(&request[60 * KIB..]).await.unwrap();
    }
    for (id, (client, _)) in (0..).zip(&mut clients) {
        expect_api_versions(client, id).await;
        assert!(listener.held() <= cap as u64);
    }
    listener
        .wait_for("every byte to be given back", |stats| {
            stats.incomplete_request_bytes == 0
        })
        .await;
    assert_eq!(listener.stats().requests_timed_out, 0);
}

#[tokio::test]
async fn a_request_over_the_maximum_or_half_the_cap_is_refused_before_it_is_read() {
    let listener = Listener::start(KafkaConfig {
        max_request_bytes: MIB,
        max_incomplete_request_bytes: 256 * KIB,
        ..KafkaConfig::default()
    })
    .await;
    let mut over_maximum = stalled(&listener, 2 * MIB, 0).await;
    closed_by_listener(&mut over_maximum).await;
    let mut over_half_the_cap = stalled(&listener, 128 * KIB + 1, 0).await;
    closed_by_listener(&mut over_half_the_cap).await;
    let mut negative = listener.connect().await;
    negative.write_all(&(-1i32).to_be_bytes()).await.unwrap();
    closed_by_listener(&mut negative).await;
    listener
        .wait_for("three refusals", |stats| stats.requests_too_large == 3)
        .await;
    assert_eq!(listener.held(), 0);
}

#[tokio::test]
async fn pipelined_and_large_requests_are_answered_in_order() {
    let listener = Listener::start(KafkaConfig::default()).await;
    let mut client = listener.connect().await;

    // Fifty small requests in one write, then one of 3 MiB in uneven pieces.
    let mut burst = Vec::new();
    for id in 0..50 {
        burst.extend_from_slice(&api_versions(id, 0));
    }
    let large = api_versions(50, 3 * MIB);
    let (head, tail) = large.split_at(100_003);
    burst.extend_from_slice(head);
    client.write_all(&burst).await.unwrap();
    for id in 0..50 {
        expect_api_versions(&mut client, id).await;
    }
    client.write_all(tail).await.unwrap();
    expect_api_versions(&mut client, 50).await;

    client.write_all(&api_versions(51, 0)).await.unwrap();
    expect_api_versions(&mut client, 51).await;
    assert_eq!(listener.held(), 0);
    assert_eq!(listener.stats(), KafkaStats::default());
}
