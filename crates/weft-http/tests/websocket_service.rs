//! The WebSocket byte-stream seam (`HttpOptions::websocket_services`) end to end: a real
//! listener, tokio-tungstenite as the client, a test protocol as the service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use weft_broker::Broker;
use weft_http::{HttpContext, HttpOptions, NodeDescription, WebSocketService};

const WAIT: Duration = Duration::from_secs(5);

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves two test protocols: `/echo` (subprotocol `echo`: sends the peer name and a
/// newline, then echoes every byte until end of stream) and `/bye` (subprotocol `bye`:
/// sends `bye` and closes).
async fn start() -> (SocketAddr, oneshot::Sender<()>) {
    let echo = WebSocketService::new("/echo", "echo", |stream, peer: String| async move {
        let (mut reader, mut writer) = tokio::io::split(stream);
        writer
            .write_all(format!("{peer}\n").as_bytes())
            .await
            .unwrap();
        let _ = tokio::io::copy(&mut reader, &mut writer).await;
    });
    let bye = WebSocketService::new("/bye", "bye", |mut stream, _peer| async move {
        let _ = stream.write_all(b"bye").await;
    });
    let options = HttpOptions {
        websocket_services: vec![echo, bye],
        ..HttpOptions::default()
    };
    let node = NodeDescription {
        name: "test".to_owned(),
        version: "0".to_owned(),
        listeners: BTreeMap::new(),
        started: Instant::now(),
    };
    let context = HttpContext::new(Broker::default(), node, options);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(weft_http::serve(listener, context, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

async fn open(addr: SocketAddr, path: &str, subprotocol: Option<&str>) -> Result<Client, WsError> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(subprotocol) = subprotocol {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", subprotocol.parse().unwrap());
    }
    let (client, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|value| value.to_str().unwrap()),
        subprotocol,
        "the handshake names the subprotocol"
    );
    Ok(client)
}

/// The next message, failing after [`WAIT`]; `None` when the stream ended.
async fn next(client: &mut Client) -> Option<Message> {
    tokio::time::timeout(WAIT, client.next())
        .await
        .expect("a message in time")
        .map(Result::unwrap)
}

/// Reads binary messages until at least `want` bytes arrived (boundaries do not matter).
async fn read_bytes(client: &mut Client, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        match next(client).await {
            Some(Message::Binary(bytes)) => got.extend_from_slice(&bytes),
            other => panic!("expected binary data, got {other:?}"),
        }
    }
    got
}

/// Waits for the close frame; returns its code.
async fn close_code(client: &mut Client) -> Option<CloseCode> {
    loop {
        match next(client).await {
            Some(Message::Close(frame)) => return frame.map(|frame| frame.code),
            None => return None,
            Some(_) => {}
        }
    }
}

#[tokio::test]
async fn binary_messages_are_one_byte_stream_both_ways() {
    let (addr, _stop) = start().await;
    let mut client = open(addr, "/echo", Some("echo")).await.unwrap();
    let mut greeting = read_bytes(&mut client, 1).await;
    while greeting.last() != Some(&b'\n') {
        greeting.extend(read_bytes(&mut client, 1).await);
    }
    let greeting = String::from_utf8(greeting).unwrap();
    assert!(greeting.starts_with("ws://127.0.0.1:"), "peer {greeting:?}");
    // One unit split over messages, and two in one: the service sees bytes only.
    client.send(Message::binary(&b"hel"[..])).await.unwrap();
    client.send(Message::binary(&b"lo|wor"[..])).await.unwrap();
    client.send(Message::binary(&b"ld"[..])).await.unwrap();
    assert_eq!(read_bytes(&mut client, 11).await, b"hello|world");
    // More than the pipe holds, in both directions.
    let big = vec![42u8; 3 * weft_http::websocket_service::PIPE_CAPACITY];
    client.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(read_bytes(&mut client, big.len()).await, big);
    // The client closes: the service reads end of stream, and the close completes.
    client.close(None).await.unwrap();
    assert!(matches!(
        tokio::time::timeout(WAIT, client.next()).await.unwrap(),
        None | Some(Ok(Message::Close(_)) | Err(_))
    ));
}

#[tokio::test]
async fn a_handshake_without_the_subprotocol_is_refused() {
    let (addr, _stop) = start().await;
    for offered in [None, Some("other")] {
        match open(addr, "/echo", offered).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
            Err(other) => panic!("expected an http error, got {other}"),
            Ok(_) => panic!("the handshake offering {offered:?} was accepted"),
        }
    }
    // A plain GET (no upgrade) is refused too.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(
        answer.contains("urn:weft:problem:websocket-required"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_text_message_closes_with_unsupported_data() {
    let (addr, _stop) = start().await;
    let mut client = open(addr, "/echo", Some("echo")).await.unwrap();
    client.send(Message::text("not binary")).await.unwrap();
    assert_eq!(close_code(&mut client).await, Some(CloseCode::Unsupported));
}

#[tokio::test]
async fn the_service_closing_its_end_closes_the_websocket_after_its_data() {
    let (addr, _stop) = start().await;
    let mut client = open(addr, "/bye", Some("bye")).await.unwrap();
    assert_eq!(read_bytes(&mut client, 3).await, b"bye");
    assert_eq!(close_code(&mut client).await, Some(CloseCode::Normal));
}
