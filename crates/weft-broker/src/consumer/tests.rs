//! Consumers through `Streams` and a broker, on temporary directories.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};

use super::*;
use crate::{
    AllowAll, Broker, Principal, ReadFrom, StreamConfig, StreamName, SubscribeOptions,
    stream::Streams,
};

const WAIT: Duration = Duration::from_secs(5);

struct Node {
    dir: tempfile::TempDir,
    streams: Streams,
    broker: Broker,
}

impl Node {
    async fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let streams = Streams::open(dir.path().to_owned()).await.unwrap();
        let broker = Broker::with_streams(Arc::new(AllowAll), streams.clone());
        Node {
            dir,
            streams,
            broker,
        }
    }

    async fn restart(self) -> Node {
        self.streams.close().await;
        let streams = Streams::open(self.dir.path().to_owned()).await.unwrap();
        let broker = Broker::with_streams(Arc::new(AllowAll), streams.clone());
        Node {
            dir: self.dir,
            streams,
            broker,
        }
    }

    async fn stream(&self, name: &str, filter: &str, partitions: u32) {
        let mut config = StreamConfig::new(stream(name), vec![Filter::new(filter).unwrap()]);
        config.partitions = partitions;
        self.streams.create(config).await.unwrap();
    }

    async fn publish(&self, event: Event) {
        self.broker
            .publish(&Principal::anonymous(), event)
            .await
            .unwrap();
    }

    async fn pull(&self, consumer: &str, member: &str, max: usize) -> Vec<Delivery> {
        self.streams
            .pull(
                &stream("orders"),
                &name(consumer),
                member,
                max,
                Duration::ZERO,
            )
            .await
            .unwrap()
    }

    async fn pull_waiting(&self, consumer: &str, member: &str) -> Vec<Delivery> {
        self.streams
            .pull(&stream("orders"), &name(consumer), member, 10, WAIT)
            .await
            .unwrap()
    }

    async fn ack(&self, consumer: &str, delivery: &Delivery) -> Result<(), ConsumerError> {
        self.streams
            .ack(&stream("orders"), &name(consumer), &delivery.token)
            .await
    }
}

fn stream(text: &str) -> StreamName {
    StreamName::new(text).unwrap()
}

fn name(text: &str) -> ConsumerName {
    ConsumerName::new(text).unwrap()
}

fn config(consumer: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(stream("orders"), name(consumer));
    config.backoff = Backoff::Delays(vec![Duration::from_millis(20)]);
    config
}

fn event(id: &str, key: Option<&'static str>) -> Event {
    event_at(id, key, SystemTime::now())
}

fn event_at(id: &str, key: Option<&'static str>, at: SystemTime) -> Event {
    let attributes = Attributes::new(id, "/test", "test.event").unwrap();
    let mut event = Event::new(
        CloudEvent::new(attributes, Some(Bytes::from(format!("data-{id}")))),
        Topic::new("orders/new").unwrap(),
        "node-a",
        at,
    );
    event.key = key.map(|key| Bytes::from_static(key.as_bytes()));
    event
}

fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|delivery| delivery.event.cloudevent.attributes.id.clone())
        .collect()
}

fn extension(event: &Event, attribute: &str) -> Option<String> {
    event
        .cloudevent
        .attributes
        .get(attribute)
        .map(|value| value.canonical().into_owned())
}

async fn node_with(events: &[&str], consumer: ConsumerConfig) -> Node {
    let node = Node::new().await;
    node.stream("orders", "orders/>", 1).await;
    for id in events {
        node.publish(event(id, None)).await;
    }
    node.streams.create_consumer(consumer).await.unwrap();
    node
}

#[tokio::test]
async fn acked_events_are_not_delivered_again_and_describe_counts_them() {
    let node = node_with(&["e0", "e1", "e2"], config("c")).await;
    let deliveries = node.pull("c", "m", 10).await;
    assert_eq!(ids(&deliveries), ["e0", "e1", "e2"]);
    assert!(deliveries.iter().all(|d| d.attempt == 1));
    node.ack("c", &deliveries[0]).await.unwrap();
    let info = node
        .streams
        .describe_consumer(&stream("orders"), &name("c"))
        .await
        .unwrap();
    assert_eq!((info.acked, info.in_flight, info.pending), (1, 2, 0));
    assert_eq!(info.members, ["m"]);
    assert!(matches!(
        node.ack("c", &deliveries[0]).await,
        Err(ConsumerError::UnknownToken { .. })
    ));
}

#[tokio::test]
async fn nack_redelivers_after_the_backoff_with_the_next_attempt() {
    let node = node_with(&["e0"], config("c")).await;
    let first = node.pull("c", "m", 1).await.remove(0);
    node.streams
        .nack(&stream("orders"), &name("c"), &first.token, None)
        .await
        .unwrap();
    let again = node.pull_waiting("c", "m").await;
    assert_eq!(ids(&again), ["e0"]);
    assert_eq!(again[0].attempt, 2);
    assert!(matches!(
        node.ack("c", &first).await,
        Err(ConsumerError::UnknownToken { .. })
    ));
    node.ack("c", &again[0]).await.unwrap();
}

#[tokio::test]
async fn an_unacked_delivery_is_redelivered_after_ack_wait() {
    let mut consumer = config("c");
    consumer.ack_wait = Duration::from_millis(100);
    let node = node_with(&["e0"], consumer).await;
    assert_eq!(node.pull("c", "m", 1).await[0].attempt, 1);
    let again = node.pull_waiting("c", "m").await;
    assert_eq!(again[0].attempt, 2);
    let info = node
        .streams
        .describe_consumer(&stream("orders"), &name("c"))
        .await
        .unwrap();
    assert_eq!(info.redelivered, 1);
}

#[tokio::test]
async fn max_deliveries_moves_the_event_to_the_dead_letter_stream_with_its_attributes() {
    let mut consumer = config("c");
    consumer.max_deliveries = 2;
    consumer.dead_letter = Some(DeadLetter::Stream(stream("dead")));
    let node = Node::new().await;
    node.stream("orders", "orders/>", 1).await;
    node.stream("dead", "nothing/captured", 1).await;
    node.publish(event("e0", None)).await;
    node.publish(event("e1", None)).await;
    node.streams.create_consumer(consumer).await.unwrap();
    for _ in 0..2 {
        let delivery = node.pull("c", "m", 1).await.remove(0);
        assert_eq!(delivery.event.cloudevent.attributes.id, "e0");
        node.streams
            .nack(
                &stream("orders"),
                &name("c"),
                &delivery.token,
                Some(Duration::ZERO),
            )
            .await
            .unwrap();
    }
    let dead = node
        .streams
        .read(&stream("dead"), None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let letter = &dead[0].event;
    assert_eq!(letter.cloudevent.attributes.id, "e0");
    assert_eq!(letter.cloudevent.data, Some(Bytes::from("data-e0")));
    assert_eq!(letter.topic.as_str(), "orders/new");
    for (attribute, value) in [
        ("weftdlreason", Some("max-deliveries")),
        ("weftdlattempts", Some("2")),
        ("weftdlconsumer", Some("c")),
        ("weftdlstream", Some("orders")),
        ("weftdlpartition", Some("0")),
        ("weftdloffset", Some("0")),
        ("weftdltopic", Some("orders/new")),
        ("weftdlerror", None),
    ] {
        assert_eq!(
            extension(letter, attribute).as_deref(),
            value,
            "{attribute}"
        );
    }
    // Dead-lettered counts as done: the next event comes, e0 does not.
    assert_eq!(ids(&node.pull("c", "m", 10).await), ["e1"]);
    let info = node
        .streams
        .describe_consumer(&stream("orders"), &name("c"))
        .await
        .unwrap();
    assert_eq!(info.dead_lettered, 1);
}

#[tokio::test]
async fn terminate_dead_letters_at_once_to_a_topic() {
    let mut consumer = config("c");
    consumer.dead_letter = Some(DeadLetter::Topic(Topic::new("dead/orders").unwrap()));
    let node = node_with(&["e0"], consumer).await;
    let mut subscription = node
        .broker
        .subscribe(
            &Principal::anonymous(),
            vec![Filter::new("dead/>").unwrap()],
            SubscribeOptions::default(),
        )
        .unwrap();
    let delivery = node.pull("c", "m", 1).await.remove(0);
    node.streams
        .terminate(
            &stream("orders"),
            &name("c"),
            &delivery.token,
            Some("cannot parse".to_owned()),
        )
        .await
        .unwrap();
    let letter = tokio::time::timeout(WAIT, subscription.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(letter.topic.as_str(), "dead/orders");
    assert_eq!(
        extension(&letter, "weftdlreason").as_deref(),
        Some("terminated")
    );
    assert_eq!(
        extension(&letter, "weftdlerror").as_deref(),
        Some("cannot parse")
    );
    assert_eq!(extension(&letter, "weftdlattempts").as_deref(), Some("1"));
    assert!(node.pull("c", "m", 10).await.is_empty());
}

#[tokio::test]
async fn an_ack_survives_a_restart_and_unacked_events_are_delivered_again() {
    let node = node_with(&["e0", "e1", "e2"], config("c")).await;
    let deliveries = node.pull("c", "m", 10).await;
    node.ack("c", &deliveries[0]).await.unwrap();
    node.ack("c", &deliveries[2]).await.unwrap();
    let node = node.restart().await;
    let again = node.pull("c", "m", 10).await;
    assert_eq!(ids(&again), ["e1"]);
    assert_eq!(
        again[0].attempt, 1,
        "attempt counts do not survive a restart"
    );
    assert!(matches!(
        node.ack("c", &deliveries[1]).await,
        Err(ConsumerError::UnknownToken { .. })
    ));
    node.ack("c", &again[0]).await.unwrap();
    let node = node.restart().await;
    assert!(node.pull("c", "m", 10).await.is_empty());
}

#[tokio::test]
async fn by_key_keeps_each_key_in_order_and_runs_keys_in_parallel() {
    let mut consumer = config("c");
    consumer.ordering = KeyOrdering::ByKey;
    let node = Node::new().await;
    node.stream("orders", "orders/>", 1).await;
    for (id, key) in [
        ("a1", "a"),
        ("b1", "b"),
        ("a2", "a"),
        ("b2", "b"),
        ("a3", "a"),
    ] {
        node.publish(event(id, Some(key))).await;
    }
    node.streams.create_consumer(consumer).await.unwrap();
    let first = node.pull("c", "m", 10).await;
    assert_eq!(ids(&first), ["a1", "b1"]);
    node.ack("c", &first[0]).await.unwrap();
    let second = node.pull("c", "m", 10).await;
    assert_eq!(ids(&second), ["a2"]);
    node.ack("c", &first[1]).await.unwrap();
    node.ack("c", &second[0]).await.unwrap();
    assert_eq!(ids(&node.pull("c", "m", 10).await), ["b2", "a3"]);
}

#[tokio::test]
async fn two_members_share_the_partitions_of_a_stream() {
    let node = Node::new().await;
    node.stream("orders", "orders/>", 2).await;
    for index in 0..4 {
        node.publish(event(&format!("e{index}"), None)).await;
    }
    node.streams.create_consumer(config("c")).await.unwrap();
    // Both members join before either takes work.
    assert!(node.pull("c", "b", 0).await.is_empty());
    let of_a = node.pull("c", "a", 10).await;
    let of_b = node.pull("c", "b", 10).await;
    assert_eq!((of_a.len(), of_b.len()), (2, 2));
    assert_ne!(of_a[0].partition, of_b[0].partition);
    let info = node
        .streams
        .describe_consumer(&stream("orders"), &name("c"))
        .await
        .unwrap();
    assert_eq!(info.members, ["a", "b"]);
}

#[tokio::test]
async fn max_in_flight_bounds_outstanding_deliveries() {
    let mut consumer = config("c");
    consumer.max_in_flight = 2;
    let node = node_with(&["e0", "e1", "e2"], consumer).await;
    let first = node.pull("c", "m", 10).await;
    assert_eq!(first.len(), 2);
    assert!(node.pull("c", "m", 10).await.is_empty());
    node.ack("c", &first[0]).await.unwrap();
    assert_eq!(ids(&node.pull("c", "m", 10).await), ["e2"]);
}

#[tokio::test]
async fn a_waiting_pull_is_woken_by_an_append() {
    let node = node_with(&[], config("c")).await;
    let streams = node.streams.clone();
    let waiting = tokio::spawn(async move {
        streams
            .pull(&stream("orders"), &name("c"), "m", 10, WAIT)
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    node.publish(event("late", None)).await;
    let started = std::time::Instant::now();
    let deliveries = waiting.await.unwrap().unwrap();
    assert_eq!(ids(&deliveries), ["late"]);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn start_positions_choose_the_first_event() {
    let node = Node::new().await;
    node.stream("orders", "orders/>", 1).await;
    let base = SystemTime::now() - Duration::from_secs(100);
    for (index, key) in ["x", "y", "x", "z", "y"].iter().enumerate() {
        let at = base + Duration::from_secs(index as u64 * 10);
        node.publish(event_at(&format!("e{index}"), Some(key), at))
            .await;
    }
    let mut starts = [
        ("all", StartPosition::All),
        ("new", StartPosition::New),
        ("offset", StartPosition::Offset(3)),
        ("time", StartPosition::Time(base + Duration::from_secs(15))),
        ("last", StartPosition::LastPerKey),
    ];
    for (consumer, start) in &mut starts {
        let mut config = config(consumer);
        config.start = *start;
        node.streams.create_consumer(config).await.unwrap();
    }
    node.publish(event("e5", Some("x"))).await;
    let mut seen = Vec::new();
    for (consumer, _) in &starts {
        seen.push(ids(&node.pull(consumer, "m", 10).await).join(","));
    }
    assert_eq!(
        seen,
        [
            "e0,e1,e2,e3,e4,e5",
            "e5",
            "e3,e4,e5",
            "e2,e3,e4,e5",
            "e2,e3,e4,e5",
        ]
    );
}

#[tokio::test]
async fn create_is_idempotent_and_a_different_config_is_refused() {
    let node = node_with(&[], config("c")).await;
    node.streams.create_consumer(config("c")).await.unwrap();
    let mut other = config("c");
    other.max_deliveries = 9;
    assert!(matches!(
        node.streams.create_consumer(other).await,
        Err(ConsumerError::AlreadyExists { .. })
    ));
    let mut missing = config("c");
    missing.stream = stream("nope");
    assert!(matches!(
        node.streams.create_consumer(missing).await,
        Err(ConsumerError::StreamNotFound { .. })
    ));
    let names: Vec<String> = node
        .streams
        .list_consumers(&stream("orders"))
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.config.name.to_string())
        .collect();
    assert_eq!(names, ["c"]);
}

#[tokio::test]
async fn deleting_a_consumer_or_its_stream_removes_it_for_good() {
    let node = node_with(&["e0"], config("c")).await;
    node.streams
        .delete_consumer(&stream("orders"), &name("c"))
        .await
        .unwrap();
    assert!(matches!(
        node.streams
            .describe_consumer(&stream("orders"), &name("c"))
            .await,
        Err(ConsumerError::NotFound { .. })
    ));
    node.streams.create_consumer(config("d")).await.unwrap();
    let node = node.restart().await;
    let names: Vec<String> = node
        .streams
        .list_consumers(&stream("orders"))
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.config.name.to_string())
        .collect();
    assert_eq!(
        names,
        ["d"],
        "the deleted consumer stays deleted after a restart"
    );
    node.streams.delete(&stream("orders")).await.unwrap();
    assert!(matches!(
        node.streams
            .describe_consumer(&stream("orders"), &name("d"))
            .await,
        Err(ConsumerError::StreamNotFound { .. })
    ));
}

#[tokio::test]
async fn malformed_tokens_are_unknown() {
    let node = node_with(&["e0"], config("c")).await;
    let token: DeliveryToken = "0.0.1.ffff".parse().unwrap();
    assert!(matches!(
        node.streams
            .ack(&stream("orders"), &name("c"), &token)
            .await,
        Err(ConsumerError::UnknownToken { .. })
    ));
}
