//! Early refusals reach clients that write their whole body before reading (what
//! Python's urllib does): a raw TCP client sends the headers and the whole body without
//! waiting, then reads, and must get the answer, never a reset.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use weft_broker::Broker;
use weft_http::{
    HttpContext, HttpOptions, NodeDescription, RequestService, ServicePaths, ServiceResponse,
};

const WAIT: Duration = Duration::from_secs(5);
const MIB: usize = 1024 * 1024;
/// A body the operating system's socket buffers cannot hold (a few MiB each side on
/// loopback): the client is still writing when the server answers, as a client sending
/// over a real network is. With less, the whole body sits in buffers before the answer,
/// and a reset after it can go unnoticed.
const LARGE_BODY: usize = 32 * MIB;

async fn start(options: HttpOptions) -> (SocketAddr, oneshot::Sender<()>) {
    let node = NodeDescription {
        name: "test".to_owned(),
        version: "0".to_owned(),
        listeners: BTreeMap::new(),
        started: Instant::now(),
    };
    let context = HttpContext::new(Broker::default(), node, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(weft_http::serve(listener, context, async {
        let _ = stopped.await;
    }));
    (address, stop)
}

struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Client {
    async fn connect(address: SocketAddr) -> Client {
        let (reader, writer) = TcpStream::connect(address).await.unwrap().into_split();
        Client {
            reader: BufReader::new(reader),
            writer,
        }
    }

    /// Writes a request head; `headers` are extra lines, each ending in `\r\n`.
    async fn send_head(&mut self, request_line: &str, headers: &str) {
        let head = format!("{request_line} HTTP/1.1\r\nhost: weft\r\n{headers}\r\n");
        self.writer.write_all(head.as_bytes()).await.unwrap();
    }

    /// Writes `length` bytes of body at once, as urllib does; fails on a reset.
    async fn send_body(&mut self, length: usize) -> std::io::Result<()> {
        self.writer.write_all(&vec![b'x'; length]).await
    }

    /// Reads one response (head and a `content-length` body).
    async fn read_answer(&mut self) -> std::io::Result<Answer> {
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).await?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no status line: {status_line:?}")))?;
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length = headers
            .get("content-length")
            .map_or(0, |length| length.parse().unwrap());
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

fn assert_problem(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status);
    assert_eq!(
        answer.headers.get("content-type").map(String::as_str),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(problem["status"], status);
}

#[tokio::test]
async fn an_oversize_body_sent_whole_without_expect_gets_the_413_on_a_connection_that_stays_open() {
    let (address, _stop) = start(HttpOptions::default()).await;
    let mut client = Client::connect(address).await;
    let length = LARGE_BODY;
    client
        .send_head(
            "POST /v1/topics/orders",
            &format!("content-type: text/plain\r\ncontent-length: {length}\r\n"),
        )
        .await;
    let sent = tokio::time::timeout(WAIT, client.send_body(length))
        .await
        .expect("the server reads the body");
    sent.expect("the whole body is written without a reset");
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .unwrap()
        .expect("the answer is read without a reset");
    assert_problem(&answer, 413);
    let problem: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("larger than the limit of 1048576 bytes"),
        "{problem}"
    );

    // Everything was read, so the connection serves the next request.
    client.send_head("GET /healthz", "").await;
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_body_over_the_limit_without_a_declared_length_gets_the_413() {
    let (address, _stop) = start(HttpOptions::default()).await;
    let mut client = Client::connect(address).await;
    client
        .send_head(
            "POST /v1/topics/orders",
            "content-type: text/plain\r\ntransfer-encoding: chunked\r\n",
        )
        .await;
    // Found over the limit while reading, not from a header.
    let chunk = vec![b'x'; 64 * 1024];
    let mut chunked = Vec::new();
    for _ in 0..(LARGE_BODY / chunk.len()) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    tokio::time::timeout(WAIT, client.writer.write_all(&chunked))
        .await
        .unwrap()
        .expect("the whole body is written without a reset");
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .unwrap()
        .unwrap();
    assert_problem(&answer, 413);
}

#[tokio::test]
async fn a_request_refused_before_its_body_is_read_still_gets_its_answer() {
    let (address, _stop) = start(HttpOptions::default()).await;
    let mut client = Client::connect(address).await;
    let length = LARGE_BODY;
    // The query is refused before the body is looked at; the body is within the limit
    // of a batch, so only the early refusal leaves it unread.
    client
        .send_head(
            "POST /v1/topics/orders?ack=maybe",
            &format!(
                "content-type: application/cloudevents-batch+json\r\ncontent-length: {length}\r\n"
            ),
        )
        .await;
    tokio::time::timeout(WAIT, client.send_body(length))
        .await
        .unwrap()
        .expect("the whole body is written without a reset");
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .unwrap()
        .unwrap();
    assert_problem(&answer, 400);
}

#[tokio::test]
async fn a_request_service_refusing_an_oversize_body_gets_its_answer_through() {
    // Services are the router's fallback: they are covered as the API's routes are.
    let service = RequestService::new(
        ServicePaths::Prefix("/hooks".to_owned()),
        1024,
        |_request| async {
            ServiceResponse::json(axum::http::StatusCode::OK, &serde_json::json!({}))
        },
    );
    let options = HttpOptions {
        request_services: vec![service],
        ..HttpOptions::default()
    };
    let (address, _stop) = start(options).await;
    for path in ["/hooks/github", "/nowhere"] {
        let mut client = Client::connect(address).await;
        client
            .send_head(
                &format!("POST {path}"),
                &format!("content-length: {LARGE_BODY}\r\n"),
            )
            .await;
        tokio::time::timeout(WAIT, client.send_body(LARGE_BODY))
            .await
            .unwrap()
            .expect("the whole body is written without a reset");
        let answer = tokio::time::timeout(WAIT, client.read_answer())
            .await
            .unwrap()
            .unwrap();
        let expected = if path == "/nowhere" { 404 } else { 413 };
        assert_eq!(answer.status, expected, "{path}");
    }
}

#[tokio::test]
async fn a_body_declared_beyond_what_the_node_reads_is_refused_at_once() {
    // A timeout far beyond WAIT: if the node tried to read this body, the test fails.
    let options = HttpOptions {
        unread_body_timeout: Duration::from_secs(600),
        ..HttpOptions::default()
    };
    let limit = options.unread_body_limit();
    let (address, _stop) = start(options).await;
    let mut client = Client::connect(address).await;
    client
        .send_head(
            "POST /v1/topics/orders",
            &format!("content-length: {}\r\n", limit + 1),
        )
        .await;
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    assert_problem(&answer, 413);
}

#[tokio::test]
async fn a_client_that_stops_sending_is_answered_after_the_timeout() {
    let options = HttpOptions {
        unread_body_timeout: Duration::from_millis(200),
        ..HttpOptions::default()
    };
    let (address, _stop) = start(options).await;
    let mut client = Client::connect(address).await;
    client
        .send_head(
            "POST /v1/topics/orders",
            &format!("content-length: {}\r\n", 3 * MIB),
        )
        .await;
    client.send_body(1024).await.unwrap();
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .expect("answered once the node stopped waiting")
        .unwrap();
    assert_problem(&answer, 413);
}

#[tokio::test]
async fn a_client_that_expects_100_continue_is_refused_without_being_asked_to_send() {
    let (address, _stop) = start(HttpOptions::default()).await;
    let mut client = Client::connect(address).await;
    client
        .send_head(
            "POST /v1/topics/orders",
            &format!(
                "content-type: text/plain\r\ncontent-length: {}\r\nexpect: 100-continue\r\n",
                3 * MIB
            ),
        )
        .await;
    // The first answer is the refusal, not `100 Continue`, and it comes without a body.
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .unwrap()
        .unwrap();
    assert_problem(&answer, 413);
}

#[tokio::test]
async fn an_accepted_publish_is_unchanged() {
    let (address, _stop) = start(HttpOptions::default()).await;
    let mut client = Client::connect(address).await;
    client
        .send_head(
            "POST /v1/topics/orders",
            "content-type: text/plain\r\ncontent-length: 5\r\n",
        )
        .await;
    client.writer.write_all(b"hello").await.unwrap();
    let answer = tokio::time::timeout(WAIT, client.read_answer())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, 202);
}
