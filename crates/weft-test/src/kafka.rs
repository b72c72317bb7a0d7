//! [`KafkaClient`]: a minimal Kafka client over weft's own codec, for tests that need
//! exact control of the bytes (bad input, version edges, zero-copy checks). Tests of
//! behaviour use real clients (kcat, confluent-kafka, kafka-python) in `tests/compat`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_kafka::protocol::{Request, RequestHeader, Response, decode_response, encode_request};

use crate::WAIT;

/// One connection to a Kafka listener.
#[derive(Debug)]
pub struct KafkaClient {
    socket: TcpStream,
    correlation_id: i32,
}

impl KafkaClient {
    /// Connects to `address`.
    pub async fn connect(address: SocketAddr) -> anyhow::Result<Self> {
        let socket = tokio::time::timeout(WAIT, TcpStream::connect(address))
            .await
            .context("connecting timed out")?
            .context("connecting to the kafka listener")?;
        socket.set_nodelay(true)?;
        Ok(KafkaClient {
            socket,
            correlation_id: 0,
        })
    }

    /// Sends `request` at `version` and reads its response.
    pub async fn call(&mut self, version: i16, request: Request) -> anyhow::Result<Response> {
        let key = request.api_key() as i16;
        self.send(version, &request).await?;
        let frame = self.read_frame(WAIT).await?;
        decode_response(key, version, frame).context("decoding the response")
    }

    /// Sends `request` at `version` without reading an answer.
    pub async fn send(&mut self, version: i16, request: &Request) -> anyhow::Result<()> {
        self.correlation_id += 1;
        let header = RequestHeader {
            api_key: request.api_key() as i16,
            api_version: version,
            correlation_id: self.correlation_id,
            client_id: Some("weft-test".to_owned()),
        };
        let bytes = encode_request(&header, request);
        self.write_raw(&bytes).await
    }

    /// Writes raw bytes (for malformed frames).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.socket
            .write_all(bytes)
            .await
            .context("writing to the kafka listener")
    }

    /// Reads one response frame (without its size prefix) within `wait`.
    pub async fn read_frame(&mut self, wait: Duration) -> anyhow::Result<Bytes> {
        tokio::time::timeout(wait, async {
            let size = self
                .socket
                .read_i32()
                .await
                .context("reading a response size")?;
            let size = usize::try_from(size).context("negative response size")?;
            let mut frame = BytesMut::zeroed(size);
            self.socket
                .read_exact(&mut frame)
                .await
                .context("reading a response")?;
            Ok(frame.freeze())
        })
        .await
        .context("no response in time")?
    }

    /// Waits until the server closes the connection (reads return end of file), failing
    /// if it sends anything or stays open past `wait`.
    pub async fn expect_closed(&mut self, wait: Duration) -> anyhow::Result<()> {
        let mut buffer = [0u8; 64];
        match tokio::time::timeout(wait, self.socket.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Ok(()),
            Ok(Ok(read)) => bail!("expected the connection to close, got {read} bytes"),
            Err(_) => bail!("the connection stayed open"),
        }
    }
}
