//! The MQTT listener end to end, in process: `serve` on port 0 with a real broker and a
//! raw client built on `weft_mqtt::codec`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod client;
mod empty_levels;
mod persistence;
mod pipeline;
mod power_loss;
mod shared;
mod stream;

use std::time::Duration;

use bytes::Bytes;
use client::{Client, Node, connect_packet, wait_for, will};
use weft_broker::Broker;
use weft_mqtt::MqttConfig;
use weft_mqtt::codec::{Packet, ProtocolVersion, Publish, QoS, ReasonCode};

pub(crate) const V5: ProtocolVersion = ProtocolVersion::V5;
pub(crate) const V311: ProtocolVersion = ProtocolVersion::V311;

#[tokio::test]
async fn qos_0_1_2_publishes_reach_subscribers_of_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    for (version, name) in [(V5, "v5"), (V311, "v311")] {
        let mut subscriber = Client::connect(node.addr, version, &format!("sub-{name}")).await;
        let suback = subscriber.subscribe("q/+/t", QoS::ExactlyOnce).await;
        assert_eq!(suback.codes, vec![ReasonCode::GrantedQos2]);
        let mut publisher = Client::connect(node.addr, version, &format!("pub-{name}")).await;
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let code = publisher.publish("q/x/t", b"hello", qos, false).await;
            assert_eq!(code, ReasonCode::Success);
            let received = subscriber.recv_publish().await;
            assert_eq!(received.topic, "q/x/t");
            assert_eq!(received.payload, Bytes::from_static(b"hello"));
            assert_eq!(received.qos, qos);
        }
        subscriber.disconnect().await;
        publisher.disconnect().await;
    }
    assert!(node.context.stats().connections_accepted >= 4);
    node.stop().await;
}

#[tokio::test]
async fn publish_without_subscribers_gets_no_matching_subscribers_on_v5() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut publisher = Client::connect(node.addr, V5, "lonely").await;
    let code = publisher
        .publish("nobody/here", b"x", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(code, ReasonCode::NoMatchingSubscribers);
    node.stop().await;
}

#[tokio::test]
async fn overlapping_filters_deliver_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut subscriber = Client::connect(node.addr, V5, "overlap").await;
    subscriber.subscribe("o/#", QoS::AtLeastOnce).await;
    subscriber.subscribe("o/+", QoS::AtMostOnce).await;
    let mut publisher = Client::connect(node.addr, V5, "overlap-pub").await;
    publisher
        .publish("o/a", b"1", QoS::AtLeastOnce, false)
        .await;
    let received = subscriber.recv_publish().await;
    assert_eq!(received.qos, QoS::AtLeastOnce);
    subscriber.expect_silence().await;
    node.stop().await;
}

#[tokio::test]
async fn dollar_topics_are_refused_except_shared() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut client = Client::connect(node.addr, V5, "dollar").await;
    let suback = client.subscribe("$SYS/#", QoS::AtMostOnce).await;
    assert_eq!(suback.codes, vec![ReasonCode::NotAuthorized]);
    let suback = client.subscribe("$share/g/ok/+", QoS::AtMostOnce).await;
    assert_eq!(suback.codes, vec![ReasonCode::Success]);
    node.stop().await;
}

#[tokio::test]
async fn session_takeover_disconnects_the_old_connection_and_keeps_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut connect = connect_packet(V5, "twin");
    connect.properties.session_expiry_interval = Some(300);
    let (mut first, connack) = Client::connect_with(node.addr, connect.clone()).await;
    assert!(!connack.session_present);
    first.subscribe("twin/t", QoS::AtLeastOnce).await;
    connect.clean_start = false;
    let (mut second, connack) = Client::connect_with(node.addr, connect).await;
    assert!(connack.session_present);
    let disconnect = first.expect_closed().await.expect("a DISCONNECT");
    assert_eq!(disconnect.code, ReasonCode::SessionTakenOver);
    let mut publisher = Client::connect(node.addr, V5, "twin-pub").await;
    publisher
        .publish("twin/t", b"x", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(
        second.recv_publish().await.payload,
        Bytes::from_static(b"x")
    );
    assert_eq!(node.context.stats().sessions, 2);
    node.stop().await;
}

#[tokio::test]
async fn shared_subscription_gives_each_message_to_one_member() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut members = Vec::new();
    for name in ["m1", "m2"] {
        let mut member = Client::connect(node.addr, V5, name).await;
        member.subscribe("$share/g/jobs/+", QoS::AtLeastOnce).await;
        members.push(member);
    }
    let mut publisher = Client::connect(node.addr, V5, "jobs-pub").await;
    for _ in 0..10 {
        publisher
            .publish("jobs/a", b"job", QoS::AtLeastOnce, false)
            .await;
    }
    let mut counts = Vec::new();
    for member in &mut members {
        let mut count = 0;
        while let Some(Some(Packet::Publish(publish))) =
            member.recv_within(Duration::from_millis(300)).await
        {
            member.ack(&publish).await;
            count += 1;
        }
        counts.push(count);
    }
    assert_eq!(counts.iter().sum::<usize>(), 10, "{counts:?}");
    assert!(counts.iter().all(|count| *count > 0), "{counts:?}");
    node.stop().await;
}

#[tokio::test]
async fn will_is_published_when_the_connection_drops() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut watcher = Client::connect(node.addr, V5, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut connect = connect_packet(V311, "dying");
    connect.will = Some(will("wills/dying", b"gone", QoS::AtLeastOnce));
    let (dying, _) = Client::connect_with(node.addr, connect.clone()).await;
    drop(dying);
    let received = watcher.recv_publish().await;
    assert_eq!(received.topic, "wills/dying");
    assert_eq!(received.payload, Bytes::from_static(b"gone"));
    // A normal DISCONNECT discards the will.
    let (polite, _) = Client::connect_with(node.addr, connect).await;
    polite.disconnect().await;
    watcher.expect_silence().await;
    node.stop().await;
}

#[tokio::test]
async fn keep_alive_timeout_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut connect = connect_packet(V5, "sleepy");
    connect.keep_alive = 1;
    let (mut client, _) = Client::connect_with(node.addr, connect).await;
    let disconnect = client.expect_closed().await.expect("a DISCONNECT");
    assert_eq!(disconnect.code, ReasonCode::KeepAliveTimeout);
    wait_for("the connection count to drop", || {
        node.context.stats().connections_open == 0
    })
    .await;
    node.stop().await;
}

#[tokio::test]
async fn malformed_packet_gets_disconnect_0x81_and_others_are_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut subscriber = Client::connect(node.addr, V5, "bystander").await;
    subscriber.subscribe("safe/t", QoS::AtLeastOnce).await;
    let mut bad = Client::connect(node.addr, V5, "bad").await;
    // PINGREQ with a reserved flag bit set.
    bad.send_raw(&[0xC1, 0x00]).await;
    let disconnect = bad.expect_closed().await.expect("a DISCONNECT");
    assert_eq!(disconnect.code, ReasonCode::MalformedPacket);
    let mut publisher = Client::connect(node.addr, V5, "still-fine").await;
    publisher
        .publish("safe/t", b"ok", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(
        subscriber.recv_publish().await.payload,
        Bytes::from_static(b"ok")
    );
    node.stop().await;
}

#[tokio::test]
async fn packet_over_the_maximum_size_gets_disconnect_0x95() {
    let dir = tempfile::tempdir().unwrap();
    let config = MqttConfig {
        max_packet_size: 1024,
        ..MqttConfig::default()
    };
    let node = Node::start_with(dir.path(), config, Broker::default()).await;
    let mut client = Client::connect(node.addr, V5, "big").await;
    let mut publish = Publish::new("big/t", Bytes::from(vec![b'x'; 2000]));
    publish.qos = QoS::AtMostOnce;
    client.send(&Packet::Publish(publish)).await;
    let disconnect = client.expect_closed().await.expect("a DISCONNECT");
    assert_eq!(disconnect.code, ReasonCode::PacketTooLarge);
    node.stop().await;
}

#[tokio::test]
async fn no_local_subscription_does_not_get_own_messages() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut client = Client::connect(node.addr, V5, "narcissus").await;
    let mut options = weft_mqtt::codec::SubscriptionOptions::new(QoS::AtMostOnce);
    options.no_local = true;
    client.subscribe_with("echo/t", options).await;
    client
        .publish("echo/t", b"me", QoS::AtMostOnce, false)
        .await;
    client.expect_silence().await;
    let mut other = Client::connect(node.addr, V5, "other").await;
    other
        .publish("echo/t", b"you", QoS::AtMostOnce, false)
        .await;
    assert_eq!(
        client.recv_publish().await.payload,
        Bytes::from_static(b"you")
    );
    node.stop().await;
}

#[tokio::test]
async fn a_subscription_matches_the_publish_read_right_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    for (version, session_expiry) in [(V5, 0), (V5, 3600), (V311, 0)] {
        let mut connect = connect_packet(version, "pipeliner");
        connect.properties.session_expiry_interval = Some(session_expiry);
        let (mut client, connack) = Client::connect_with(node.addr, connect).await;
        assert_eq!(connack.code, ReasonCode::Success);
        // SUBSCRIBE and a PUBLISH on its topic in one write, without waiting for the
        // SUBACK: the subscription is in force once read, so the message comes back.
        let mut both = bytes::BytesMut::new();
        let subscribe = Packet::Subscribe(weft_mqtt::codec::Subscribe {
            packet_id: 1,
            properties: Default::default(),
            filters: vec![(
                "pipelined/t".to_owned(),
                weft_mqtt::codec::SubscriptionOptions::new(QoS::AtMostOnce),
            )],
        });
        weft_mqtt::codec::encode(&subscribe, version, &mut both);
        let publish = Packet::Publish(Publish::new("pipelined/t", Bytes::from_static(b"own")));
        weft_mqtt::codec::encode(&publish, version, &mut both);
        client.send_raw(&both).await;
        assert!(matches!(client.recv().await, Some(Packet::SubAck(_))));
        assert_eq!(
            client.recv_publish().await.payload,
            Bytes::from_static(b"own"),
            "{version:?} expiry {session_expiry}"
        );
        client.disconnect().await;
    }
    node.stop().await;
}
