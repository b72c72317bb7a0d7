//! Topic names and filters with empty levels (`/TopicA`, `a//b`, `a/`), which MQTT allows
//! and devices in the field use, end to end: CONNECT with such a will, SUBSCRIBE, PUBLISH.

use bytes::Bytes;
use weft_mqtt::codec::{QoS, ReasonCode};

use crate::client::{Client, Node, connect_packet, will};
use crate::{V5, V311};

/// The topic of the next PUBLISH `client` receives.
async fn next_topic(client: &mut Client) -> String {
    client.recv_publish().await.topic
}

#[tokio::test]
async fn empty_levels_are_subscribed_published_and_matched_as_mqtt_says() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut leading = Client::connect(node.addr, V5, "leading").await;
    let mut plus = Client::connect(node.addr, V311, "plus").await;
    let mut hash = Client::connect(node.addr, V5, "hash").await;
    for (client, filter) in [
        (&mut leading, "/TopicA"),
        (&mut plus, "+/TopicA"),
        (&mut hash, "a/#"),
    ] {
        let suback = client.subscribe(filter, QoS::AtLeastOnce).await;
        assert_eq!(suback.codes, [ReasonCode::GrantedQos1], "{filter}");
    }
    let mut publisher = Client::connect(node.addr, V5, "publisher").await;
    for topic in ["/TopicA", "a//b", "a/", "a"] {
        let code = publisher
            .publish(topic, b"x", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(code, ReasonCode::Success, "{topic}");
    }
    assert_eq!(next_topic(&mut leading).await, "/TopicA");
    assert_eq!(next_topic(&mut plus).await, "/TopicA");
    for topic in ["a//b", "a/", "a"] {
        assert_eq!(next_topic(&mut hash).await, topic);
    }
    leading.expect_silence().await;
    plus.expect_silence().await;
    hash.expect_silence().await;
    node.stop().await;
}

#[tokio::test]
async fn will_on_a_topic_with_a_leading_slash_is_accepted_and_published() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut watcher = Client::connect(node.addr, V5, "watcher").await;
    watcher.subscribe("/TopicA", QoS::AtLeastOnce).await;
    for (version, client_id) in [(V311, "dying-311"), (V5, "dying-5")] {
        let mut connect = connect_packet(version, client_id);
        connect.will = Some(will("/TopicA", b"gone", QoS::AtLeastOnce));
        let (dying, connack) = Client::connect_with(node.addr, connect).await;
        assert_eq!(connack.code, ReasonCode::Success, "{client_id}");
        drop(dying);
        let received = watcher.recv_publish().await;
        assert_eq!(received.topic, "/TopicA");
        assert_eq!(received.payload, Bytes::from_static(b"gone"));
    }
    node.stop().await;
}
