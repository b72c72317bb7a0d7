use std::time::SystemTime;

use weft_core::{Attributes, CloudEvent, Topic};

use super::*;
use crate::OverflowPolicy;

fn event(topic: &str, id: &str) -> Event {
    let attributes = Attributes::new(id, "test", "test.event").unwrap();
    Event::new(
        CloudEvent::new(attributes, None),
        Topic::new(topic).unwrap(),
        "node-a",
        SystemTime::now(),
    )
}

fn filters(list: &[&str]) -> Vec<Filter> {
    list.iter().map(|f| Filter::new(*f).unwrap()).collect()
}

fn subscribe(broker: &Broker, list: &[&str], options: SubscribeOptions) -> Subscription {
    broker
        .subscribe(&Principal::anonymous(), filters(list), options)
        .unwrap()
}

fn drain_ids(sub: &mut Subscription) -> Vec<String> {
    let mut ids = Vec::new();
    while let Some(Ok(event)) = sub.try_recv() {
        ids.push(event.cloudevent.attributes.id.clone());
    }
    ids
}

#[tokio::test]
async fn publish_reaches_only_matching_subscribers() {
    let broker = Broker::default();
    let mut us = subscribe(&broker, &["orders/*/us/>"], SubscribeOptions::default());
    let mut all = subscribe(&broker, &["orders/>"], SubscribeOptions::default());
    let published = broker
        .publish(&Principal::anonymous(), event("orders/1/us/ny", "a"))
        .await
        .unwrap();
    assert_eq!(published.subscribers, 2);
    broker
        .publish(&Principal::anonymous(), event("orders/1/eu/x", "b"))
        .await
        .unwrap();
    assert_eq!(drain_ids(&mut us), ["a"]);
    assert_eq!(drain_ids(&mut all), ["a", "b"]);
}

#[tokio::test]
async fn a_queue_group_gets_each_event_once_spread_over_its_members() {
    let broker = Broker::default();
    let grouped = || SubscribeOptions {
        group: Some(Arc::from("workers")),
        ..SubscribeOptions::default()
    };
    let mut first = subscribe(&broker, &["jobs/>"], grouped());
    let mut second = subscribe(&broker, &["jobs/*"], grouped());
    let mut other_group = subscribe(
        &broker,
        &["jobs/>"],
        SubscribeOptions {
            group: Some(Arc::from("auditors")),
            ..SubscribeOptions::default()
        },
    );
    let mut plain = subscribe(&broker, &["jobs/>"], SubscribeOptions::default());
    for id in ["1", "2", "3", "4"] {
        broker
            .submit(
                &Principal::anonymous(),
                event("jobs/x", id),
                crate::PublishOptions::default(),
            )
            .await
            .unwrap();
    }
    let (a, b) = (drain_ids(&mut first), drain_ids(&mut second));
    assert_eq!(
        a.len() + b.len(),
        4,
        "each event once per group: {a:?} {b:?}"
    );
    assert!(!a.is_empty() && !b.is_empty(), "both members take turns");
    assert_eq!(drain_ids(&mut other_group).len(), 4);
    assert_eq!(drain_ids(&mut plain), ["1", "2", "3", "4"]);

    // A member that is gone passes its turn on.
    drop(first);
    for id in ["5", "6"] {
        broker
            .submit(
                &Principal::anonymous(),
                event("jobs/x", id),
                crate::PublishOptions::default(),
            )
            .await
            .unwrap();
    }
    assert_eq!(drain_ids(&mut second), ["5", "6"]);
}

#[tokio::test]
async fn interest_follows_subscribe_and_drop_but_not_internal_subscriptions() {
    let broker = Broker::default();
    let mut changes = broker.interest_changes();
    let first = subscribe(&broker, &["a/>", "b"], SubscribeOptions::default());
    let _second = subscribe(&broker, &["a/>"], SubscribeOptions::default());
    let _internal = subscribe(
        &broker,
        &[">"],
        SubscribeOptions {
            internal: true,
            ..SubscribeOptions::default()
        },
    );
    assert!(changes.has_changed().unwrap());
    let wanted: Vec<String> = broker
        .interest()
        .iter()
        .map(|interest| interest.filter.to_string())
        .collect();
    assert_eq!(wanted, ["a/>", "b"]);
    changes.mark_unchanged();
    drop(first);
    assert!(changes.has_changed().unwrap(), "b is no longer wanted");
    let wanted: Vec<String> = broker
        .interest()
        .iter()
        .map(|interest| interest.filter.to_string())
        .collect();
    assert_eq!(
        wanted,
        ["a/>"],
        "a/> is still wanted by the second subscription"
    );
}

#[tokio::test]
async fn overlapping_filters_deliver_once() {
    let broker = Broker::default();
    let mut sub = subscribe(&broker, &["a/>", "a/*", "a/b"], SubscribeOptions::default());
    broker
        .publish(&Principal::anonymous(), event("a/b", "x"))
        .await
        .unwrap();
    assert_eq!(drain_ids(&mut sub), ["x"]);
}

#[tokio::test]
async fn payload_is_shared_not_copied_per_subscriber() {
    let broker = Broker::default();
    let mut first = subscribe(&broker, &["t"], SubscribeOptions::default());
    let mut second = subscribe(&broker, &["t"], SubscribeOptions::default());
    broker
        .publish(&Principal::anonymous(), event("t", "x"))
        .await
        .unwrap();
    let a = first.try_recv().unwrap().unwrap();
    let b = second.try_recv().unwrap().unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[tokio::test]
async fn drop_oldest_keeps_newest_and_counts_drops() {
    let broker = Broker::default();
    let options = SubscribeOptions {
        queue_capacity: 2,
        overflow: OverflowPolicy::DropOldest,
        group: None,
        internal: false,
    };
    let mut slow = subscribe(&broker, &["t"], options);
    let mut fast = subscribe(&broker, &["t"], SubscribeOptions::default());
    for id in ["1", "2", "3", "4"] {
        broker
            .publish(&Principal::anonymous(), event("t", id))
            .await
            .unwrap();
    }
    assert_eq!(drain_ids(&mut slow), ["3", "4"]);
    assert_eq!(slow.dropped(), 2);
    assert_eq!(drain_ids(&mut fast), ["1", "2", "3", "4"]);
    assert_eq!(broker.stats().dropped, 2);
}

/// Options of a subscription that refuses publishes when its `capacity` is reached.
fn refusing(capacity: usize) -> SubscribeOptions {
    SubscribeOptions {
        queue_capacity: capacity,
        overflow: OverflowPolicy::RefusePublish,
        ..SubscribeOptions::default()
    }
}

#[tokio::test]
async fn a_full_refusing_queue_refuses_publishes_instead_of_dropping() {
    let broker = Broker::default();
    let mut careful = subscribe(&broker, &["t"], refusing(2));
    let mut live = subscribe(&broker, &["t", "other"], SubscribeOptions::default());
    let anonymous = Principal::anonymous();
    for id in ["1", "2"] {
        broker.publish(&anonymous, event("t", id)).await.unwrap();
    }
    // Full: the third publish is refused, for every subscriber (nothing delivered),
    // and counted; other topics go on.
    let refused = broker.publish(&anonymous, event("t", "3")).await;
    assert!(
        matches!(refused, Err(PublishError::SubscriberFull { subscription }) if subscription == careful.id()),
        "{refused:?}"
    );
    broker
        .publish(&anonymous, event("other", "4"))
        .await
        .unwrap();
    assert_eq!(broker.stats().refused_subscriber_full, 1);
    assert_eq!(drain_ids(&mut live), ["1", "2", "4"]);
    // Room again once the subscriber takes one.
    assert_eq!(
        careful
            .try_recv()
            .unwrap()
            .unwrap()
            .cloudevent
            .attributes
            .id,
        "1"
    );
    broker.publish(&anonymous, event("t", "5")).await.unwrap();
    assert_eq!(drain_ids(&mut careful), ["2", "5"]);
    assert_eq!(careful.dropped(), 0);
    assert_eq!(broker.stats().dropped, 0);
}

#[tokio::test]
async fn a_refusing_queue_takes_unrefused_events_up_to_its_slack_then_drops_oldest() {
    let broker = Broker::default();
    let mut careful = subscribe(&broker, &["t"], refusing(2));
    // Events with no publisher to refuse (as from another node) bypass admission.
    for id in ["1", "2", "3", "4", "5"] {
        broker.fan_out(event("t", id), &crate::forward::GroupSelection::All);
    }
    assert_eq!(drain_ids(&mut careful), ["2", "3", "4", "5"]);
    assert_eq!(careful.dropped(), 1);
    // Emptied: publishes are admitted again, and the full count is back to zero.
    assert_eq!(broker.inner.full_queues.load(Ordering::Relaxed), 0);
    broker
        .publish(&Principal::anonymous(), event("t", "6"))
        .await
        .unwrap();
}

#[tokio::test]
async fn dropping_a_full_refusing_subscription_admits_publishes_again() {
    let broker = Broker::default();
    let careful = subscribe(&broker, &["t"], refusing(1));
    let anonymous = Principal::anonymous();
    broker.publish(&anonymous, event("t", "1")).await.unwrap();
    assert!(broker.publish(&anonymous, event("t", "2")).await.is_err());
    drop(careful);
    assert_eq!(broker.inner.full_queues.load(Ordering::Relaxed), 0);
    broker.publish(&anonymous, event("t", "3")).await.unwrap();
}

#[tokio::test]
async fn disconnect_policy_closes_only_the_slow_subscriber() {
    let broker = Broker::default();
    let options = SubscribeOptions {
        queue_capacity: 1,
        overflow: OverflowPolicy::Disconnect,
        group: None,
        internal: false,
    };
    let mut slow = subscribe(&broker, &["t"], options);
    let mut fast = subscribe(&broker, &["t"], SubscribeOptions::default());
    for id in ["1", "2", "3"] {
        broker
            .publish(&Principal::anonymous(), event("t", id))
            .await
            .unwrap();
    }
    assert_eq!(
        slow.try_recv(),
        Some(Err(RecvError::Overflow { capacity: 1 }))
    );
    assert_eq!(drain_ids(&mut fast), ["1", "2", "3"]);
    assert_eq!(broker.stats().disconnected, 1);
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes_it() {
    let broker = Broker::default();
    let sub = subscribe(&broker, &["t", "u/>"], SubscribeOptions::default());
    assert_eq!(broker.stats().subscriptions, 1);
    drop(sub);
    assert_eq!(broker.stats().subscriptions, 0);
    let published = broker
        .publish(&Principal::anonymous(), event("t", "x"))
        .await
        .unwrap();
    assert_eq!(published.subscribers, 0);
}

#[tokio::test]
async fn subscribe_needs_a_filter() {
    let broker = Broker::default();
    let error = broker
        .subscribe(
            &Principal::anonymous(),
            Vec::new(),
            SubscribeOptions::default(),
        )
        .unwrap_err();
    assert_eq!(error, SubscribeError::NoFilters);
}

struct DenyTopic(&'static str);

impl Authorizer for DenyTopic {
    fn authorize(&self, principal: &Principal, action: Action<'_>) -> Result<(), Denied> {
        let name = match action {
            Action::Publish(topic) => topic.as_str(),
            Action::Subscribe(filter) => filter.as_str(),
            _ => return Ok(()),
        };
        if name == self.0 {
            return Err(Denied::new(principal, action));
        }
        Ok(())
    }
}

#[tokio::test]
async fn authorizer_sees_every_publish_and_subscribe() {
    let broker = Broker::new(Arc::new(DenyTopic("secret")));
    let alice = Principal::named("alice");
    let error = broker
        .publish(&alice, event("secret", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "principal alice may not publish on secret"
    );
    let error = broker
        .subscribe(
            &alice,
            filters(&["ok", "secret"]),
            SubscribeOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(error, SubscribeError::Denied(_)));
    assert_eq!(broker.stats().denied, 2);
    assert_eq!(broker.stats().subscriptions, 0);
}

#[tokio::test]
async fn recv_wakes_on_publish_and_ends_on_shutdown() {
    let broker = Broker::default();
    let mut sub = subscribe(&broker, &["t"], SubscribeOptions::default());
    let publisher = broker.clone();
    let task = tokio::spawn(async move {
        let first = sub.recv().await.map(|e| e.cloudevent.attributes.id.clone());
        let second = sub.recv().await.map(|e| e.cloudevent.attributes.id.clone());
        (first, second)
    });
    tokio::task::yield_now().await;
    publisher
        .publish(&Principal::anonymous(), event("t", "x"))
        .await
        .unwrap();
    publisher.shutdown();
    let (first, second) = tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.unwrap(), "x");
    assert_eq!(second, Err(RecvError::Shutdown));
}
