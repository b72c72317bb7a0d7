//! Shared subscriptions: a message a disconnecting member cannot deliver goes to another
//! member, or waits for the group's next member.

use std::time::Duration;

use weft_mqtt::codec::{Packet, QoS};

use crate::V5;
use crate::client::{Client, Node, wait_for};

#[tokio::test]
async fn a_shared_message_in_flight_to_the_last_member_waits_for_the_next_member() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let mut member = Client::connect(node.addr, V5, "worker-1").await;
    member
        .subscribe("$share/crew/tasks/+", QoS::AtLeastOnce)
        .await;
    let mut publisher = Client::connect(node.addr, V5, "boss").await;
    publisher
        .publish("tasks/a", b"dig", QoS::AtLeastOnce, false)
        .await;
    // Received and never acknowledged: in flight when the member goes away.
    match member.recv().await {
        Some(Packet::Publish(publish)) => assert_eq!(publish.topic, "tasks/a"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    drop(member);
    wait_for("the message to be held", || {
        node.context.stats().shared_held_now == 1
    })
    .await;
    let mut next = Client::connect(node.addr, V5, "worker-2").await;
    next.subscribe("$share/crew/tasks/+", QoS::AtLeastOnce)
        .await;
    let publish = next.recv_publish().await;
    assert_eq!(publish.topic, "tasks/a");
    assert_eq!(&publish.payload[..], b"dig");
    let stats = node.context.stats();
    assert_eq!(
        (
            stats.shared_held,
            stats.shared_held_now,
            stats.shared_redeliver_dropped
        ),
        (1, 0, 0)
    );
    // Delivered once.
    assert!(next.recv_within(Duration::from_millis(200)).await.is_none());
    node.stop().await;
}
