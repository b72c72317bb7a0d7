//! The durable entrance asks the authoriser for every operation, names the action, and
//! does nothing when refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};

use crate::auth::{Action, Authorizer, Denied, Principal};
use crate::{
    Broker, ConsumerConfig, ConsumerError, ConsumerName, DeadLetter, ReadFrom, StreamConfig,
    StreamError, StreamName,
};

/// Lets `admin` do everything and anyone else only what `allowed` says; records every
/// action asked about, as text.
struct Rules {
    allowed: fn(&Action<'_>) -> bool,
    asked: Mutex<Vec<String>>,
}

impl Authorizer for Rules {
    fn authorize(&self, principal: &Principal, action: Action<'_>) -> Result<(), Denied> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("{principal}: {action}"));
        if principal.name() == "admin" || (self.allowed)(&action) {
            Ok(())
        } else {
            Err(Denied::new(principal, action))
        }
    }
}

fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

fn event(topic: &str, id: &str) -> Event {
    let attributes = Attributes::new(id, "/test", "test.event").unwrap();
    Event::new(
        CloudEvent::new(attributes, Some(Bytes::from_static(b"x"))),
        Topic::new(topic).unwrap(),
        "node-a",
        SystemTime::now(),
    )
}

async fn broker(allowed: fn(&Action<'_>) -> bool) -> (tempfile::TempDir, Broker, Arc<Rules>) {
    let dir = tempfile::tempdir().unwrap();
    let rules = Arc::new(Rules {
        allowed,
        asked: Mutex::default(),
    });
    let broker = Broker::open(
        Arc::clone(&rules) as Arc<dyn Authorizer>,
        dir.path().to_owned(),
        Default::default(),
    )
    .await
    .unwrap();
    let admin = Principal::named("admin");
    broker
        .create_stream(
            &admin,
            StreamConfig::new(stream("orders"), vec![Filter::new("orders/>").unwrap()]),
        )
        .await
        .unwrap();
    broker
        .create_consumer(
            &admin,
            ConsumerConfig::new(stream("orders"), ConsumerName::new("billing").unwrap()),
        )
        .await
        .unwrap();
    broker
        .publish(&admin, event("orders/1", "1"))
        .await
        .unwrap();
    (dir, broker, rules)
}

fn denied<T: std::fmt::Debug>(result: Result<T, StreamError>) -> String {
    match result {
        Err(StreamError::Denied(denied)) => denied.action,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn consumer_denied<T: std::fmt::Debug>(result: Result<T, ConsumerError>) -> String {
    match result {
        Err(ConsumerError::Denied(denied)) => denied.action,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn every_durable_operation_names_its_action_and_a_refusal_changes_nothing() {
    let (_dir, broker, _) = broker(|_| false).await;
    let guest = Principal::named("guest");
    let orders = stream("orders");
    let billing = ConsumerName::new("billing").unwrap();
    let before = broker.stats().denied;

    let new_stream = StreamConfig::new(stream("new"), vec![Filter::new("new/>").unwrap()]);
    assert_eq!(
        denied(broker.create_stream(&guest, new_stream).await),
        "manage stream new"
    );
    assert_eq!(
        denied(broker.delete_stream(&guest, &orders).await),
        "manage stream orders"
    );
    let read = broker
        .read_stream(&guest, &orders, None, ReadFrom::Earliest, 10)
        .await;
    assert_eq!(denied(read), "read stream orders");
    assert_eq!(
        denied(broker.fetch_batches(&guest, &orders, 0, 0, 1024).await),
        "read stream orders"
    );
    assert_eq!(
        denied(broker.partition_offsets(&guest, &orders, 0).await),
        "read stream orders"
    );
    let append = broker
        .append_to_stream(&guest, &orders, &event("x", "2"))
        .await;
    assert_eq!(denied(append), "write to stream orders");
    let pull = broker
        .pull(&guest, &orders, &billing, "m", 10, Duration::ZERO)
        .await;
    assert_eq!(
        consumer_denied(pull),
        "consume through billing of stream orders"
    );
    assert_eq!(
        consumer_denied(broker.delete_consumer(&guest, &orders, &billing).await),
        "manage consumer billing of stream orders"
    );
    let produce = broker
        .submit_produce(&guest, &orders, 0, Bytes::from_static(b"not a batch"))
        .await;
    assert!(
        matches!(produce, Err(crate::PublishError::Denied(_))),
        "{produce:?}"
    );
    assert_eq!(
        broker.stats().denied,
        before + 9,
        "every refusal is counted"
    );
    assert!(
        broker.list_streams(&guest).await.is_empty(),
        "a listing leaves out what may not be read"
    );

    // Nothing changed: the stream, its one event and the consumer are all still there.
    let admin = Principal::named("admin");
    let stored = broker
        .read_stream(&admin, &orders, None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let deliveries = broker
        .pull(&admin, &orders, &billing, "m", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert!(
        broker
            .describe_stream(&admin, &stream("new"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_reader_may_read_and_consume_without_managing() {
    let (_dir, broker, rules) =
        broker(|action| matches!(action, Action::ReadStream(_) | Action::Consume { .. })).await;
    let reader = Principal::named("reader");
    let orders = stream("orders");
    let billing = ConsumerName::new("billing").unwrap();
    assert_eq!(broker.list_streams(&reader).await.len(), 1);
    let deliveries = broker
        .pull(&reader, &orders, &billing, "m", 10, Duration::ZERO)
        .await
        .unwrap();
    broker
        .ack(&reader, &orders, &billing, &deliveries[0].token)
        .await
        .unwrap();
    let mine = ConsumerConfig::new(orders.clone(), ConsumerName::new("mine").unwrap());
    assert_eq!(
        consumer_denied(broker.create_consumer(&reader, mine).await),
        "manage consumer mine of stream orders"
    );
    let asked = rules.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"reader: consume through billing of stream orders".to_owned()),
        "{asked:?}"
    );
}

#[tokio::test]
async fn a_dead_letter_is_sent_as_the_consumer_with_its_note() {
    let (_dir, broker, rules) = broker(|_| true).await;
    let admin = Principal::named("admin");
    let mut config = ConsumerConfig::new(stream("orders"), ConsumerName::new("strict").unwrap());
    config.dead_letter = Some(DeadLetter::Topic(Topic::new("dead/orders").unwrap()));
    broker.create_consumer(&admin, config).await.unwrap();
    let mut dead = broker
        .subscribe(
            &admin,
            vec![Filter::new("dead/>").unwrap()],
            crate::SubscribeOptions::default(),
        )
        .unwrap();
    let orders = stream("orders");
    let strict = ConsumerName::new("strict").unwrap();
    let deliveries = broker
        .pull(&admin, &orders, &strict, "m", 1, Duration::ZERO)
        .await
        .unwrap();
    let reason = Some("bad\ninput".to_owned());
    broker
        .terminate(&admin, &orders, &strict, &deliveries[0].token, reason)
        .await
        .unwrap();
    let letter = dead.try_recv().unwrap().unwrap();
    let attribute = |name: &str| {
        letter
            .cloudevent
            .attributes
            .get(name)
            .map(|value| value.canonical().into_owned())
    };
    assert_eq!(attribute("weftdlreason").as_deref(), Some("terminated"));
    assert_eq!(attribute("weftdlconsumer").as_deref(), Some("strict"));
    assert_eq!(attribute("weftdlerror").as_deref(), Some("bad input"));
    assert_eq!(attribute("weftdltopic").as_deref(), Some("orders/1"));
    let asked = rules.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"$consumer/strict: publish on dead/orders".to_owned()),
        "{asked:?}"
    );
}
