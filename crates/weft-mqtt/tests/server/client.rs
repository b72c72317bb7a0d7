//! A tiny raw MQTT client on `weft_mqtt::codec`, and a test node around `serve`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weft_broker::Broker;
use weft_mqtt::codec::{
    self, ConnAck, Connect, Disconnect, LastWill, Packet, Properties, ProtocolVersion, PubResponse,
    Publish, QoS, ReasonCode, SubAck, Subscribe, SubscriptionOptions,
};
use weft_mqtt::{MqttConfig, MqttContext};

/// How long a test waits for anything before failing.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// A node: a broker, an MQTT context and `serve` on port 0.
pub(crate) struct Node {
    pub addr: SocketAddr,
    pub context: MqttContext,
    pub broker: Broker,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<()>>,
}

impl Node {
    pub(crate) async fn start(dir: &Path) -> Node {
        Self::start_with(dir, MqttConfig::default(), Broker::default()).await
    }

    pub(crate) async fn start_with(dir: &Path, config: MqttConfig, broker: Broker) -> Node {
        let context = MqttContext::open(broker.clone(), dir.to_owned(), config)
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(weft_mqtt::serve(listener, context.clone(), async {
            let _ = stopped.await;
        }));
        Node {
            addr,
            context,
            broker,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Stops serving and closes the context (a clean node shutdown).
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
        self.context.close().await;
        self.broker.shutdown();
    }
}

/// A CONNECT with clean start, keep alive 60 and no properties.
pub(crate) fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        version,
        clean_start: true,
        keep_alive: 60,
        properties: Properties::default(),
        client_id: client_id.to_owned(),
        will: None,
        username: None,
        password: None,
    }
}

/// A will for [`Connect::will`].
pub(crate) fn will(topic: &str, payload: &'static [u8], qos: QoS) -> LastWill {
    LastWill {
        topic: topic.to_owned(),
        payload: Bytes::from_static(payload),
        qos,
        retain: false,
        properties: Properties::default(),
    }
}

/// What a client talks over: TCP, or an in-memory pipe to `serve_connection`.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(crate) struct Client {
    stream: Box<dyn Io>,
    buf: BytesMut,
    pub version: ProtocolVersion,
    next_id: u16,
    /// Packets received while waiting for another one.
    stash: std::collections::VecDeque<Packet>,
}

impl Client {
    pub(crate) async fn open(addr: SocketAddr, version: ProtocolVersion) -> Client {
        Client::over(TcpStream::connect(addr).await.unwrap(), version)
    }

    /// A client on any byte stream (not connected yet: send a CONNECT).
    pub(crate) fn over(stream: impl Io + 'static, version: ProtocolVersion) -> Client {
        Client {
            stream: Box::new(stream),
            buf: BytesMut::new(),
            version,
            next_id: 1,
            stash: Default::default(),
        }
    }

    /// Connects with `connect`; returns the client and the CONNACK.
    pub(crate) async fn connect_with(addr: SocketAddr, connect: Connect) -> (Client, ConnAck) {
        let mut client = Client::open(addr, connect.version).await;
        client.send(&Packet::Connect(Box::new(connect))).await;
        match client.recv().await {
            Some(Packet::ConnAck(connack)) => (client, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with clean start; asserts success.
    pub(crate) async fn connect(
        addr: SocketAddr,
        version: ProtocolVersion,
        client_id: &str,
    ) -> Client {
        let (client, connack) = Self::connect_with(addr, connect_packet(version, client_id)).await;
        assert_eq!(connack.code, ReasonCode::Success);
        client
    }

    pub(crate) async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        codec::encode(packet, self.version, &mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next packet; `None` when the server closed the connection. Fails after
    /// [`WAIT`].
    pub(crate) async fn recv(&mut self) -> Option<Packet> {
        self.recv_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("nothing received within {WAIT:?}"))
    }

    /// The next packet within `wait`: `None` on timeout, `Some(None)` when closed.
    pub(crate) async fn recv_within(&mut self, wait: Duration) -> Option<Option<Packet>> {
        if let Some(packet) = self.stash.pop_front() {
            return Some(Some(packet));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(packet) =
                codec::decode(&mut self.buf, self.version, codec::MAX_PACKET_SIZE).unwrap()
            {
                return Some(Some(packet));
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(None),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Every packet until the server closes the connection, and how it closed: `Ok`
    /// for an orderly end of stream, the error for a reset. Fails after [`WAIT`].
    pub(crate) async fn read_to_end(&mut self) -> (Vec<Packet>, std::io::Result<()>) {
        let mut packets: Vec<Packet> = self.stash.drain(..).collect();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some(packet) =
                codec::decode(&mut self.buf, self.version, codec::MAX_PACKET_SIZE).unwrap()
            {
                packets.push(packet);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .unwrap_or_else(|_| panic!("the connection did not close within {WAIT:?}"));
            match read {
                Ok(0) => return (packets, Ok(())),
                Ok(_) => {}
                Err(error) => return (packets, Err(error)),
            }
        }
    }

    /// Asserts nothing arrives for a short while.
    pub(crate) async fn expect_silence(&mut self) {
        if let Some(packet) = self.recv_within(Duration::from_millis(300)).await {
            panic!("expected nothing, got {packet:?}");
        }
    }

    fn packet_id(&mut self) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    pub(crate) async fn subscribe(&mut self, filter: &str, qos: QoS) -> SubAck {
        self.subscribe_with(filter, SubscriptionOptions::new(qos))
            .await
    }

    pub(crate) async fn subscribe_with(
        &mut self,
        filter: &str,
        options: SubscriptionOptions,
    ) -> SubAck {
        let packet_id = self.packet_id();
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            properties: Properties::default(),
            filters: vec![(filter.to_owned(), options)],
        }))
        .await;
        match self.recv().await {
            Some(Packet::SubAck(suback)) => {
                assert_eq!(suback.packet_id, packet_id);
                suback
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the QoS handshake; returns the PUBACK/PUBREC reason code.
    pub(crate) async fn publish(
        &mut self,
        topic: &str,
        payload: &'static [u8],
        qos: QoS,
        retain: bool,
    ) -> ReasonCode {
        let mut publish = Publish::new(topic, Bytes::from_static(payload));
        publish.qos = qos;
        publish.retain = retain;
        self.publish_packet(publish).await
    }

    pub(crate) async fn publish_packet(&mut self, mut publish: Publish) -> ReasonCode {
        let qos = publish.qos;
        if qos != QoS::AtMostOnce {
            publish.packet_id = Some(self.packet_id());
        }
        let packet_id = publish.packet_id;
        self.send(&Packet::Publish(publish)).await;
        match qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => match self.recv().await {
                Some(Packet::PubAck(ack)) => {
                    assert_eq!(Some(ack.packet_id), packet_id);
                    ack.code
                }
                other => panic!("expected PUBACK, got {other:?}"),
            },
            QoS::ExactlyOnce => {
                let code = match self.recv().await {
                    Some(Packet::PubRec(rec)) => rec.code,
                    other => panic!("expected PUBREC, got {other:?}"),
                };
                let packet_id = packet_id.unwrap();
                self.send(&Packet::PubRel(PubResponse::new(packet_id)))
                    .await;
                match self.recv().await {
                    Some(Packet::PubComp(comp)) => assert_eq!(comp.packet_id, packet_id),
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
                code
            }
        }
    }

    /// The next PUBLISH, acknowledged per its QoS (QoS 2: PUBREC, PUBREL, PUBCOMP).
    pub(crate) async fn recv_publish(&mut self) -> Publish {
        let publish = match self.recv().await {
            Some(Packet::Publish(publish)) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        };
        self.ack(&publish).await;
        publish
    }

    pub(crate) async fn ack(&mut self, publish: &Publish) {
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(PubResponse::new(id))).await,
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(&Packet::PubRec(PubResponse::new(id))).await;
                let mut stashed = Vec::new();
                loop {
                    match self.recv().await {
                        Some(Packet::PubRel(rel)) => {
                            assert_eq!(rel.packet_id, id);
                            break;
                        }
                        Some(packet @ Packet::Publish(_)) => stashed.push(packet),
                        other => panic!("expected PUBREL, got {other:?}"),
                    }
                }
                self.stash.extend(stashed);
                self.send(&Packet::PubComp(PubResponse::new(id))).await;
            }
            _ => {}
        }
    }

    /// A normal DISCONNECT (the will is discarded), then close.
    pub(crate) async fn disconnect(mut self) {
        self.send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)))
            .await;
        let _ = self.stream.shutdown().await;
    }

    /// Waits until the server closes the connection; returns the DISCONNECT it sent.
    pub(crate) async fn expect_closed(&mut self) -> Option<Disconnect> {
        let mut disconnect = None;
        loop {
            match self.recv().await {
                None => return disconnect,
                Some(Packet::Disconnect(packet)) => disconnect = Some(packet),
                Some(_) => {}
            }
        }
    }
}

/// Polls `condition` every 10 ms until it holds; fails after [`WAIT`].
pub(crate) async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
