//! Byte-stream services over WebSocket: the seam through which another front end (MQTT
//! over WebSocket at `/mqtt`) is served on the HTTP listener without weft-http knowing
//! its protocol.
//!
//! A [`WebSocketService`] names a path, the WebSocket subprotocol it requires and a
//! handler. A handshake on the path that does not offer the subprotocol is refused with
//! `400` (nothing is upgraded); otherwise the answer names the subprotocol
//! (`Sec-WebSocket-Protocol`) and the handler gets a [`WebSocketBytes`] stream: the
//! payloads of the client's binary messages, concatenated, are what it reads; what it
//! writes goes to the client as binary messages. Message boundaries carry no meaning
//! (a protocol unit may span messages, a message may hold several). A text message is a
//! protocol violation (MQTT-6.0.0-1): the WebSocket is closed with `1003`.
//!
//! Per connection one task pumps both directions through a bounded in-memory pipe
//! ([`PIPE_CAPACITY`] each way; a full pipe stops reading from the client, a slow client
//! stops the service's writes). When the client closes or goes away, the handler reads
//! end of stream; when the handler drops (or shuts down) its end, the WebSocket is closed
//! with `1000`.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::context::HttpContext;
use crate::problem::Problem;

/// The byte stream a [`WebSocketService`] handler reads from and writes to.
pub type WebSocketBytes = tokio::io::DuplexStream;

/// The future a handler returns; it may outlive the connection or end before it (the
/// connection ends when the handler drops its [`WebSocketBytes`]).
pub type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A handler: called once per accepted connection with its byte stream and a name of
/// the peer for logs (`ws://ADDRESS`, or `ws://unknown`).
pub type WebSocketHandler = Arc<dyn Fn(WebSocketBytes, String) -> HandlerFuture + Send + Sync>;

/// Bytes buffered in each direction between the WebSocket and the handler.
pub const PIPE_CAPACITY: usize = 64 * 1024;

/// Largest single read from the handler, so largest binary message sent.
const READ_CHUNK: usize = 16 * 1024;

/// How long the pump waits, once the client has gone, for the handler to close its end.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket close code 1003, "unsupported data": a text message on a binary service.
const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// WebSocket close code 1000, "normal closure".
const CLOSE_NORMAL: u16 = 1000;

/// A byte-stream protocol served over WebSocket on the HTTP listener.
#[derive(Clone)]
pub struct WebSocketService {
    /// The path it is served on (`/mqtt`). Must start with `/` and be distinct from the
    /// API's routes and every other service's path (the router panics otherwise).
    pub path: String,
    /// The subprotocol a client must offer (`mqtt`); the handshake names it back.
    pub subprotocol: String,
    /// The largest WebSocket message accepted from a client, in bytes; a larger one
    /// closes the connection (`1009`).
    pub max_message_bytes: usize,
    /// Serves one connection.
    pub handler: WebSocketHandler,
}

impl WebSocketService {
    /// A service on `path` requiring `subprotocol`, served by `handler`, accepting
    /// messages up to 1 MiB + 64 bytes.
    pub fn new<F, Fut>(path: impl Into<String>, subprotocol: impl Into<String>, handler: F) -> Self
    where
        F: Fn(WebSocketBytes, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            path: path.into(),
            subprotocol: subprotocol.into(),
            max_message_bytes: 1024 * 1024 + 64,
            handler: Arc::new(move |stream, peer| Box::pin(handler(stream, peer))),
        }
    }
}

impl fmt::Debug for WebSocketService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketService")
            .field("path", &self.path)
            .field("subprotocol", &self.subprotocol)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

/// The route handler of one service: checks the handshake, then starts the pump.
pub(crate) async fn upgrade(
    service: Arc<WebSocketService>,
    State(context): State<HttpContext>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let peer = match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => format!("ws://{address}"),
        None => "ws://unknown".to_owned(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let status = rejection.status();
            let detail = rejection.body_text();
            return context.reject(Problem::new(
                status,
                "websocket-required",
                "websocket handshake required",
                format!("{} needs a websocket handshake: {detail}", service.path),
            ));
        }
    };
    let upgrade = upgrade
        .protocols([service.subprotocol.clone()])
        .max_message_size(service.max_message_bytes)
        .max_frame_size(service.max_message_bytes);
    if upgrade.selected_protocol().is_none() {
        return context.reject(Problem::new(
            StatusCode::BAD_REQUEST,
            "websocket-subprotocol-required",
            "websocket subprotocol required",
            format!(
                "{} needs the websocket subprotocol `{}` (Sec-WebSocket-Protocol)",
                service.path, service.subprotocol
            ),
        ));
    }
    upgrade
        .on_upgrade(move |socket| pump(socket, service, peer))
        .into_response()
}

/// Bridges one WebSocket to the service's byte stream until either side is done.
async fn pump(socket: WebSocket, service: Arc<WebSocketService>, peer: String) {
    let (ours, theirs) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::spawn((service.handler)(theirs, peer));
    let (mut reader, mut writer) = tokio::io::split(ours);
    let (mut sink, mut messages) = socket.split();
    let close = {
        // Client → service. Ends (shutting the service's input down) when the client
        // closes or goes away; returns a close frame for a protocol violation.
        let inbound = async {
            while let Some(message) = messages.next().await {
                match message {
                    Ok(Message::Binary(bytes)) => {
                        if writer.write_all(&bytes).await.is_err() {
                            return None;
                        }
                    }
                    Ok(Message::Text(_)) => {
                        return Some(CloseFrame {
                            code: CLOSE_UNSUPPORTED_DATA,
                            reason: "binary messages only".into(),
                        });
                    }
                    // Pings are answered by the WebSocket layer.
                    Ok(Message::Ping(_) | Message::Pong(_)) => {}
                    Ok(Message::Close(_)) | Err(_) => break,
                }
            }
            let _ = writer.shutdown().await;
            None
        };
        // Service → client, until the service closes its end or the client is gone.
        let outbound = async {
            let mut buffer = BytesMut::new();
            loop {
                buffer.reserve(READ_CHUNK);
                match (&mut reader)
                    .take(READ_CHUNK as u64)
                    .read_buf(&mut buffer)
                    .await
                {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let message = Message::Binary(buffer.split().freeze());
                        if sink.send(message).await.is_err() {
                            return;
                        }
                    }
                }
            }
        };
        tokio::pin!(inbound, outbound);
        let mut client_open = true;
        // Armed (reset) once the client is gone; disabled until then.
        let drained = tokio::time::sleep(DRAIN_TIMEOUT);
        tokio::pin!(drained);
        loop {
            tokio::select! {
                refused = &mut inbound, if client_open => match refused {
                    Some(frame) => break Some(frame),
                    None => {
                        // Let the service write its last bytes and close.
                        client_open = false;
                        drained.as_mut().reset(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                    }
                },
                () = &mut outbound => break None,
                () = &mut drained, if !client_open => break None,
            }
        }
    };
    let frame = close.unwrap_or(CloseFrame {
        code: CLOSE_NORMAL,
        reason: "".into(),
    });
    // Fails harmlessly when the client already closed.
    let _ = sink.send(Message::Close(Some(frame))).await;
}
