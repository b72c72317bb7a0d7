//! Retained messages and persistent sessions across disconnects and node restarts.

use std::sync::Arc;

use bytes::Bytes;
use weft_broker::{AllowAll, Broker, ReadFrom, StreamConfig, StreamName};
use weft_core::Filter;
use weft_mqtt::MqttConfig;
use weft_mqtt::codec::{ProtocolVersion, QoS, ReasonCode};

use crate::client::{Client, Node, connect_packet, wait_for};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V311;

#[tokio::test]
async fn retained_message_reaches_new_subscribers_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut publisher = Client::connect(node.addr, V5, "retainer").await;
    publisher
        .publish("r/a", b"kept", QoS::AtLeastOnce, true)
        .await;
    publisher
        .publish("r/b", b"gone", QoS::AtLeastOnce, true)
        .await;
    // An empty retained payload deletes.
    publisher.publish("r/b", b"", QoS::AtLeastOnce, true).await;
    assert_eq!(node.context.stats().retained_messages, 1);
    let mut late = Client::connect(node.addr, V311, "late").await;
    late.subscribe("r/#", QoS::AtLeastOnce).await;
    let received = late.recv_publish().await;
    assert_eq!((received.topic.as_str(), received.retain), ("r/a", true));
    late.expect_silence().await;
    node.stop().await;

    let node = Node::start(dir.path()).await;
    assert_eq!(node.context.stats().retained_messages, 1);
    let mut later = Client::connect(node.addr, V5, "later").await;
    later.subscribe("r/+", QoS::AtMostOnce).await;
    let received = later.recv_publish().await;
    assert_eq!(received.payload, Bytes::from_static(b"kept"));
    assert!(received.retain);
    node.stop().await;
}

/// Connects `client_id` as a persistent 5.0 session (expiry 300 s).
async fn persistent(node: &Node, client_id: &str, clean_start: bool) -> (Client, bool) {
    let mut connect = connect_packet(V5, client_id);
    connect.clean_start = clean_start;
    connect.properties.session_expiry_interval = Some(300);
    let (client, connack) = Client::connect_with(node.addr, connect).await;
    assert_eq!(connack.code, ReasonCode::Success);
    (client, connack.session_present)
}

#[tokio::test]
async fn persistent_session_gets_what_was_published_while_it_was_offline() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let (mut device, _) = persistent(&node, "device", true).await;
    device.subscribe("cmd/device", QoS::AtLeastOnce).await;
    device.disconnect().await;
    // Offline once the server has read the DISCONNECT (until then, what matches is
    // sent to the connection, QoS 0 included).
    wait_for("the device to be offline", || {
        node.context.stats().connections_open == 0
    })
    .await;
    let mut sender = Client::connect(node.addr, V5, "sender").await;
    for payload in [&b"one"[..], b"two"] {
        let code = sender
            .publish_packet({
                let mut publish = weft_mqtt::codec::Publish::new("cmd/device", payload);
                publish.qos = QoS::AtLeastOnce;
                publish
            })
            .await;
        assert_eq!(code, ReasonCode::Success, "the offline session matches");
    }
    // QoS 0 is not queued for an offline session.
    sender
        .publish("cmd/device", b"lost", QoS::AtMostOnce, false)
        .await;
    let (mut device, present) = persistent(&node, "device", false).await;
    assert!(present);
    assert_eq!(
        device.recv_publish().await.payload,
        Bytes::from_static(b"one")
    );
    assert_eq!(
        device.recv_publish().await.payload,
        Bytes::from_static(b"two")
    );
    device.expect_silence().await;
    wait_for("the qos 0 drop to be counted", || {
        node.context.stats().dropped_qos0 == 1
    })
    .await;
    node.stop().await;
}

#[tokio::test]
async fn persistent_session_survives_a_node_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let (mut device, _) = persistent(&node, "sensor/7", true).await;
    device.subscribe("cmd/+", QoS::ExactlyOnce).await;
    device.disconnect().await;
    let mut sender = Client::connect(node.addr, V5, "sender").await;
    sender
        .publish("cmd/x", b"queued", QoS::ExactlyOnce, false)
        .await;
    node.stop().await;
    assert!(
        std::fs::read_dir(dir.path().join("mqtt/sessions"))
            .unwrap()
            .count()
            == 1,
        "one stored session"
    );

    let node = Node::start(dir.path()).await;
    assert_eq!(node.context.stats().sessions, 1);
    // The restored session is subscribed before any client connects.
    let mut sender = Client::connect(node.addr, V5, "sender").await;
    let code = sender
        .publish("cmd/y", b"after", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(code, ReasonCode::Success);
    let (mut device, present) = persistent(&node, "sensor/7", false).await;
    assert!(present);
    let first = device.recv_publish().await;
    assert_eq!(
        (first.payload.as_ref(), first.qos),
        (&b"queued"[..], QoS::ExactlyOnce)
    );
    let second = device.recv_publish().await;
    assert_eq!(second.payload, Bytes::from_static(b"after"));
    // A clean start ends the stored session.
    device.disconnect().await;
    let (device, present) = {
        let mut connect = connect_packet(V5, "sensor/7");
        connect.clean_start = true;
        let (client, connack) = Client::connect_with(node.addr, connect).await;
        (client, connack.session_present)
    };
    assert!(!present);
    device.disconnect().await;
    wait_for("the stored session to be removed", || {
        std::fs::read_dir(dir.path().join("mqtt/sessions"))
            .unwrap()
            .count()
            == 0
    })
    .await;
    node.stop().await;
}

#[tokio::test]
async fn qos_1_publish_is_stored_by_a_capturing_stream_before_puback() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(
        Arc::new(AllowAll),
        dir.path().join("streams"),
        Default::default(),
    )
    .await
    .unwrap();
    let name = StreamName::new("telemetry").unwrap();
    let anonymous = weft_broker::Principal::anonymous();
    broker
        .create_stream(
            &anonymous,
            StreamConfig::new(name.clone(), vec![Filter::new("telemetry/>").unwrap()]),
        )
        .await
        .unwrap();
    let node = Node::start_with(dir.path(), MqttConfig::default(), broker.clone()).await;
    let mut publisher = Client::connect(node.addr, V5, "meter").await;
    let code = publisher
        .publish("telemetry/meter", b"42", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(code, ReasonCode::Success);
    let stored = broker
        .read_stream(&anonymous, &name, None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let event = &stored[0].event;
    assert_eq!(event.topic.as_str(), "telemetry/meter");
    assert_eq!(event.cloudevent.attributes.source, "weft://weft/mqtt/meter");
    node.stop().await;
}

#[tokio::test]
async fn acknowledged_messages_for_a_full_session_are_never_dropped_new_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = MqttConfig::default();
    config.session.offline_queue_limit = 5;
    config.subscription_queue_capacity = 5;
    let node = Node::start_with(dir.path(), config, Broker::default()).await;
    let (mut device, _) = persistent(&node, "slow-device", true).await;
    device.subscribe("load/t", QoS::AtLeastOnce).await;
    device.disconnect().await;
    wait_for("the device to be offline", || {
        node.context.stats().connections_open == 0
    })
    .await;
    // Far more than the session and its broker queue hold: the first ones are
    // acknowledged, then the publisher is told 0x97 Quota exceeded instead of the
    // session dropping what was acknowledged.
    let mut publisher = Client::connect(node.addr, V5, "fast").await;
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for n in 0..40u32 {
        let payload: &'static [u8] = Box::leak(n.to_string().into_bytes().into_boxed_slice());
        match publisher
            .publish("load/t", payload, QoS::AtLeastOnce, false)
            .await
        {
            ReasonCode::Success => acknowledged.push(payload.to_vec()),
            ReasonCode::QuotaExceeded => refused += 1,
            other => panic!("publish {n}: {other:?}"),
        }
    }
    assert!(
        (5..=10).contains(&acknowledged.len()),
        "acknowledged {}",
        acknowledged.len()
    );
    assert_eq!(acknowledged.len() + refused, 40);
    // Every acknowledged message arrives, in order, and nothing else.
    let (mut device, present) = persistent(&node, "slow-device", false).await;
    assert!(present);
    for want in &acknowledged {
        assert_eq!(
            device.recv_publish().await.payload.as_ref(),
            want.as_slice()
        );
    }
    device.expect_silence().await;
    assert_eq!(node.context.stats().offline_queue_overflow, 0);
    // Caught up: publishes are acknowledged again.
    assert_eq!(
        publisher
            .publish("load/t", b"again", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::Success
    );
    assert_eq!(device.recv_publish().await.payload.as_ref(), b"again");
    node.stop().await;
}

#[tokio::test]
async fn an_unreadable_session_or_retained_file_is_set_aside_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let (mut keeper, _) = persistent(&node, "keeper", true).await;
    keeper.subscribe("kept/t", QoS::AtLeastOnce).await;
    keeper.disconnect().await;
    let mut publisher = Client::connect(node.addr, V5, "retainer").await;
    publisher
        .publish("kept/r", b"kept", QoS::AtLeastOnce, true)
        .await;
    node.stop().await;
    let mqtt = dir.path().join("mqtt");
    std::fs::write(mqtt.join("sessions").join("00ff.json"), b"{\"torn").unwrap();
    std::fs::write(mqtt.join("retained").join("00fe.json"), b"not json").unwrap();

    let node = Node::start(dir.path()).await;
    let stats = node.context.stats();
    assert_eq!(stats.state_files_set_aside, 2);
    assert_eq!(stats.retained_messages, 1);
    assert!(mqtt.join("sessions").join("00ff.json.bad").exists());
    assert!(mqtt.join("retained").join("00fe.json.bad").exists());
    let (_, present) = persistent(&node, "keeper", false).await;
    assert!(present, "the readable session is restored");
    node.stop().await;
    // Set aside once: the next start does not count them again.
    let node = Node::start(dir.path()).await;
    assert_eq!(node.context.stats().state_files_set_aside, 0);
    node.stop().await;
}
