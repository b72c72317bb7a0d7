//! `serve_connection`: an MQTT client on a byte stream other than TCP (what MQTT over
//! WebSocket uses), sharing the node's sessions with TCP clients.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use weft_broker::Broker;
use weft_mqtt::MqttConfig;
use weft_mqtt::codec::{self, Packet, ProtocolVersion, QoS, ReasonCode};

use crate::client::{Client, Node, WAIT, connect_packet, wait_for};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// A client on an in-memory pipe served by `serve_connection`, and the serving task.
fn pipe_client(node: &Node, peer: &str) -> (Client, tokio::task::JoinHandle<()>) {
    // A small pipe: packets larger than it cross in several pieces.
    let (ours, theirs) = tokio::io::duplex(512);
    let serving = tokio::spawn(weft_mqtt::serve_connection(
        theirs,
        peer.to_owned(),
        node.context.clone(),
    ));
    (Client::over(ours, V5), serving)
}

#[tokio::test]
async fn connect_subscribe_publish_on_a_byte_stream_with_split_packets() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let (mut client, serving) = pipe_client(&node, "pipe:1");
    // The CONNECT one byte at a time: a packet may span any number of reads.
    let mut connect = BytesMut::new();
    codec::encode(
        &Packet::Connect(Box::new(connect_packet(V5, "piped"))),
        V5,
        &mut connect,
    );
    for byte in connect.iter() {
        client.send_raw(&[*byte]).await;
    }
    match client.recv().await {
        Some(Packet::ConnAck(connack)) => assert_eq!(connack.code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let suback = client.subscribe("pipe/+", QoS::AtLeastOnce).await;
    assert_eq!(suback.codes, vec![ReasonCode::GrantedQos1]);

    // TCP → stream, with a payload larger than the pipe.
    let mut tcp = Client::connect(node.addr, V5, "tcp-side").await;
    tcp.subscribe("back/+", QoS::AtLeastOnce).await;
    let big: &'static [u8] = Box::leak(vec![7u8; 5000].into_boxed_slice());
    assert_eq!(
        tcp.publish("pipe/a", big, QoS::AtLeastOnce, false).await,
        ReasonCode::Success
    );
    let received = client.recv_publish().await;
    assert_eq!(received.topic, "pipe/a");
    assert_eq!(received.payload, Bytes::from_static(big));

    // Stream → TCP, QoS 2.
    assert_eq!(
        client
            .publish("back/b", b"from the pipe", QoS::ExactlyOnce, false)
            .await,
        ReasonCode::Success
    );
    assert_eq!(
        tcp.recv_publish().await.payload,
        Bytes::from_static(b"from the pipe")
    );

    // `serve_connection` returns once the connection is closed.
    client.disconnect().await;
    tokio::time::timeout(WAIT, serving).await.unwrap().unwrap();
    let context = node.context.clone();
    wait_for("the pipe connection to be closed", move || {
        context.stats().connections_open == 1
    })
    .await;
    tcp.disconnect().await;
    node.stop().await;
}

#[tokio::test]
async fn a_session_moves_between_a_byte_stream_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let (mut client, serving) = pipe_client(&node, "pipe:2");
    let mut connect = connect_packet(V5, "roamer");
    connect.properties.session_expiry_interval = Some(300);
    client
        .send(&Packet::Connect(Box::new(connect.clone())))
        .await;
    assert!(matches!(client.recv().await, Some(Packet::ConnAck(_))));
    client.subscribe("roam/t", QoS::AtLeastOnce).await;
    // An abrupt close of the stream: the session lives on offline.
    drop(client);
    tokio::time::timeout(WAIT, serving).await.unwrap().unwrap();
    let mut publisher = Client::connect(node.addr, V5, "roam-pub").await;
    publisher
        .publish("roam/t", b"queued", QoS::AtLeastOnce, false)
        .await;
    connect.clean_start = false;
    let (mut tcp, connack) = Client::connect_with(node.addr, connect).await;
    assert!(connack.session_present);
    assert_eq!(
        tcp.recv_publish().await.payload,
        Bytes::from_static(b"queued")
    );
    node.stop().await;
}

#[tokio::test]
async fn a_byte_stream_over_max_connections_is_closed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = MqttConfig {
        max_connections: 0,
        ..MqttConfig::default()
    };
    let node = Node::start_with(dir.path(), config, Broker::default()).await;
    let (mut ours, theirs) = tokio::io::duplex(64);
    tokio::time::timeout(
        WAIT,
        weft_mqtt::serve_connection(theirs, "pipe:3".to_owned(), node.context.clone()),
    )
    .await
    .unwrap();
    assert!(ours.write_all(b"\x10").await.is_err(), "the pipe is closed");
    assert_eq!(node.context.stats().connections_refused, 1);
    node.stop().await;
}
