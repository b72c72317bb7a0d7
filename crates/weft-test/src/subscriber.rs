//! Subscribers that read what a node sends, as a real client would.

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use weft_core::CloudEvent;
use weft_http::event_stream::EventStreamParser;

use crate::WAIT;

/// One event as a subscriber received it.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// The exact JSON text that arrived.
    pub json: String,
    /// That JSON decoded as a CloudEvent (the `wefttopic` extension included).
    pub event: CloudEvent,
    /// The topic, from the `wefttopic` extension.
    pub topic: String,
}

impl ReceivedEvent {
    fn parse(json: String) -> anyhow::Result<Self> {
        let event = weft_core::json::decode(json.as_bytes())
            .with_context(|| format!("not a cloudevent: {json}"))?;
        let value: serde_json::Value = serde_json::from_str(&json)?;
        let topic = value["wefttopic"]
            .as_str()
            .context("no wefttopic in the event")?
            .to_owned();
        Ok(Self { json, event, topic })
    }

    /// The CloudEvents `id`.
    pub fn id(&self) -> &str {
        &self.event.attributes.id
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// A Server-Sent Events subscriber.
pub struct SseSubscriber {
    body: ByteStream,
    parser: EventStreamParser,
    pending: std::collections::VecDeque<weft_http::event_stream::EventStreamMessage>,
}

impl SseSubscriber {
    /// Connects and waits for the node's opening comment, so the subscription is live
    /// when this returns.
    pub async fn connect(client: &reqwest::Client, url: &str) -> anyhow::Result<Self> {
        let response = tokio::time::timeout(WAIT, client.get(url).send())
            .await
            .context("subscribe timed out")??;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("subscribe answered {status}: {body}");
        }
        let mut body: ByteStream = Box::pin(response.bytes_stream());
        // The opening `: subscribed` comment proves the response is streaming.
        let first = tokio::time::timeout(WAIT, body.next())
            .await
            .context("no opening comment")?;
        let first = first.context("stream ended before the opening comment")??;
        let mut parser = EventStreamParser::default();
        let pending = parser.push(&first).into();
        Ok(Self {
            body,
            parser,
            pending,
        })
    }

    /// The next event; fails after [`WAIT`] or if the stream ends or reports an error.
    pub async fn next_event(&mut self) -> anyhow::Result<ReceivedEvent> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                if message.event.as_deref() == Some("weft-error") {
                    bail!("subscription ended by the node: {}", message.data);
                }
                return ReceivedEvent::parse(message.data);
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .context("no event within the wait time")?
                .ok_or_else(|| anyhow!("the stream ended"))??;
            self.pending.extend(self.parser.push(&chunk));
        }
    }

    /// Reads until the stream ends and returns the `weft-error` message that ended it,
    /// skipping events.
    pub async fn closing_error(&mut self) -> anyhow::Result<String> {
        loop {
            while let Some(message) = self.pending.pop_front() {
                if message.event.as_deref() == Some("weft-error") {
                    return Ok(message.data);
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .context("the stream did not end within the wait time")?
                .ok_or_else(|| anyhow!("the stream ended without an error message"))??;
            self.pending.extend(self.parser.push(&chunk));
        }
    }
}

/// A WebSocket subscriber.
pub struct WsSubscriber {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsSubscriber {
    /// Connects; the node subscribes before it completes the handshake, so the
    /// subscription is live when this returns.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let (socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .context("websocket connect timed out")??;
        Ok(Self { socket })
    }

    /// The next event; fails after [`WAIT`] or if the socket closes.
    pub async fn next_event(&mut self) -> anyhow::Result<ReceivedEvent> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .context("no event within the wait time")?
                .ok_or_else(|| anyhow!("the socket closed"))??;
            match message {
                Message::Text(text) => return ReceivedEvent::parse(text.to_string()),
                Message::Close(frame) => bail!("the node closed the socket: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.socket.send(Message::Close(None)).await?;
        Ok(())
    }
}
