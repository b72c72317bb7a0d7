//! Inbound QoS 1/2 publishes are pipelined: the task keeps reading while earlier
//! publishes wait for the broker's durable answer, and acknowledges them in packet order.
//! The durable answer is held by a test [`Forwarder`] (the mesh's seam: a publish with
//! a durable ack waits for its receipt), so the test decides when each one completes.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::oneshot;
use weft_broker::{Broker, ForwardReceipt, ForwardRefused, Forwarder};
use weft_core::Event;
use weft_mqtt::MqttConfig;
use weft_mqtt::codec::{Packet, Publish, QoS, ReasonCode};

use crate::client::{Client, Node, wait_for};
use crate::{V5, V311};

type Answer = oneshot::Sender<Result<(), ForwardRefused>>;

/// Holds every event's receipt until the test answers it.
#[derive(Default)]
struct HeldReceipts {
    held: Mutex<Vec<(String, Option<Answer>)>>,
}

impl Forwarder for HeldReceipts {
    fn forward(&self, event: &Arc<Event>) -> Option<ForwardReceipt> {
        let (answer, receipt) = ForwardReceipt::channel();
        self.held
            .lock()
            .unwrap()
            .push((event.topic.as_str().to_owned(), Some(answer)));
        Some(receipt)
    }
}

impl HeldReceipts {
    fn count(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    /// Answers the receipt of the `index`th event forwarded.
    fn answer(&self, index: usize, result: Result<(), ForwardRefused>) {
        let answer = self.held.lock().unwrap()[index].1.take().unwrap();
        let _ = answer.send(result);
    }
}

async fn node_with_held_receipts(
    config: MqttConfig,
) -> (Node, Arc<HeldReceipts>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::default();
    let receipts = Arc::new(HeldReceipts::default());
    broker.set_forwarder(receipts.clone());
    let node = Node::start_with(dir.path(), config, broker).await;
    (node, receipts, dir)
}

fn publish(topic: &str, packet_id: u16) -> Packet {
    let mut publish = Publish::new(topic, Bytes::from_static(b"x"));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = Some(packet_id);
    Packet::Publish(publish)
}

async fn next_puback(client: &mut Client) -> (u16, ReasonCode) {
    match client.recv().await {
        Some(Packet::PubAck(ack)) => (ack.packet_id, ack.code),
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn qos_1_publishes_are_submitted_while_earlier_ones_wait_and_acked_in_order() {
    let (node, receipts, _dir) = node_with_held_receipts(MqttConfig::default()).await;
    let mut watcher = Client::connect(node.addr, V5, "watcher").await;
    watcher.subscribe("pipe/+", QoS::AtMostOnce).await;
    let mut publisher = Client::connect(node.addr, V5, "piper").await;
    for id in 1..=5 {
        publisher.send(&publish(&format!("pipe/{id}"), id)).await;
    }
    // All five reached the broker (and the live subscriber) before any is durable.
    wait_for("five submitted publishes", || receipts.count() == 5).await;
    for id in 1..=5 {
        assert_eq!(watcher.recv_publish().await.topic, format!("pipe/{id}"));
    }
    // Answered newest first; acknowledged oldest first.
    for index in (0..5).rev() {
        receipts.answer(index, Ok(()));
    }
    for id in 1..=5 {
        assert_eq!(next_puback(&mut publisher).await, (id, ReasonCode::Success));
    }
    node.stop().await;
}

#[tokio::test]
async fn a_failed_durable_publish_gets_its_reason_code_and_only_that_one() {
    let (node, receipts, _dir) = node_with_held_receipts(MqttConfig::default()).await;
    let mut watcher = Client::connect(node.addr, V5, "watcher").await;
    watcher.subscribe("pipe/+", QoS::AtMostOnce).await;
    let mut publisher = Client::connect(node.addr, V5, "piper").await;
    for id in 1..=3 {
        publisher.send(&publish(&format!("pipe/{id}"), id)).await;
    }
    wait_for("three submitted publishes", || receipts.count() == 3).await;
    receipts.answer(0, Ok(()));
    receipts.answer(
        1,
        Err(ForwardRefused {
            reason: "outbox full".to_owned(),
        }),
    );
    receipts.answer(2, Ok(()));
    assert_eq!(next_puback(&mut publisher).await, (1, ReasonCode::Success));
    assert_eq!(
        next_puback(&mut publisher).await,
        (2, ReasonCode::QuotaExceeded)
    );
    assert_eq!(next_puback(&mut publisher).await, (3, ReasonCode::Success));
    node.stop().await;
}

#[tokio::test]
async fn publishes_waiting_for_the_broker_are_bounded_by_the_receive_maximum() {
    let mut config = MqttConfig::default();
    config.session.receive_maximum = 3;
    let (node, receipts, _dir) = node_with_held_receipts(config).await;
    // MQTT 3.1.1 has no receive maximum: the server stops reading instead.
    let mut publisher = Client::connect(node.addr, V311, "eager").await;
    for id in 1..=6 {
        publisher.send(&publish("bound/t", id)).await;
    }
    wait_for("three submitted publishes", || receipts.count() == 3).await;
    // The fourth is not read while three wait.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(receipts.count(), 3);
    receipts.answer(0, Ok(()));
    assert_eq!(next_puback(&mut publisher).await.0, 1);
    wait_for("the fourth publish", || receipts.count() == 4).await;
    for index in 1..6 {
        wait_for("the next publish", || receipts.count() > index).await;
        receipts.answer(index, Ok(()));
    }
    for id in 2..=6 {
        assert_eq!(next_puback(&mut publisher).await.0, id);
    }
    node.stop().await;
}

/// Publishes of `qos` with packet ids `ids`, encoded back to back for one write.
fn burst(qos: QoS, ids: std::ops::RangeInclusive<u16>) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for id in ids {
        let mut publish = Publish::new("burst/t", Bytes::from_static(b"x"));
        publish.qos = qos;
        publish.packet_id = Some(id);
        weft_mqtt::codec::encode(&Packet::Publish(publish), V5, &mut out);
    }
    out.to_vec()
}

/// The DISCONNECT among `packets`, after nothing but acknowledgements.
fn disconnect_code(packets: &[Packet]) -> ReasonCode {
    let (last, before) = packets.split_last().expect("a DISCONNECT");
    assert!(
        before
            .iter()
            .all(|packet| matches!(packet, Packet::PubAck(_) | Packet::PubRec(_))),
        "{before:?}"
    );
    match last {
        Packet::Disconnect(disconnect) => disconnect.code,
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[tokio::test]
async fn a_v5_client_past_the_receive_maximum_reads_disconnect_0x93_and_an_orderly_close() {
    let mut config = MqttConfig::default();
    config.session.receive_maximum = 10;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(dir.path(), config, Broker::default()).await;
    let mut publisher = Client::connect(node.addr, V5, "flood").await;
    // 20,000 QoS 2 publishes never released, written without reading: the eleventh is
    // one too many. Every write must succeed (no reset while the client still sends),
    // and the client then reads the DISCONNECT and an orderly end of stream.
    for chunk in 0..20u16 {
        let first = chunk * 1000 + 1;
        publisher
            .send_raw(&burst(QoS::ExactlyOnce, first..=first + 999))
            .await;
    }
    let (packets, closed) = publisher.read_to_end().await;
    closed.expect("an orderly close, not a reset");
    assert_eq!(
        disconnect_code(&packets),
        ReasonCode::ReceiveMaximumExceeded
    );
    node.stop().await;
}

#[tokio::test]
async fn publishes_waiting_for_the_broker_count_against_a_v5_clients_receive_maximum() {
    let mut config = MqttConfig::default();
    config.session.receive_maximum = 10;
    let (node, receipts, _dir) = node_with_held_receipts(config).await;
    // 5.0 clients are read on past the limit (unlike 3.1.1 ones): the eleventh publish
    // while ten wait for the broker is answered with DISCONNECT 0x93.
    let mut publisher = Client::connect(node.addr, V5, "eager").await;
    publisher.send_raw(&burst(QoS::AtLeastOnce, 1..=10)).await;
    wait_for("ten submitted publishes", || receipts.count() == 10).await;
    publisher.send_raw(&burst(QoS::AtLeastOnce, 11..=11)).await;
    let (packets, closed) = publisher.read_to_end().await;
    closed.expect("an orderly close");
    assert_eq!(
        disconnect_code(&packets),
        ReasonCode::ReceiveMaximumExceeded
    );
    for index in 0..10 {
        receipts.answer(index, Ok(()));
    }
    node.stop().await;
}
