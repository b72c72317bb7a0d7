//! [`Broker::submit_batch`]: many events submitted in one call, for a caller that
//! receives them in batches (the mesh hands a node the events of one received frame at
//! once). Each event is handled exactly as [`Broker::submit`] handles it, in order; the
//! batch only shares the per-call work: the forwarder is looked up once and the matching
//! subscriptions are collected in one reused vector.

use weft_core::Event;

use crate::auth::{Action, Principal};
use crate::broker::{Broker, PublishError};
use crate::publish::{PendingPublish, PublishOptions};
use crate::stream::Capture;

impl Broker {
    /// [`Self::submit`] for each of `events` (each with its own options), in order,
    /// awaited. Returns one result per event, in the same order: an event refused
    /// (authoriser, forwarder, a capturing stream) does not stop the ones after it.
    /// Dropping an event's [`PendingPublish`] does not wait for it.
    pub async fn submit_batch(
        &self,
        principal: &Principal,
        events: impl IntoIterator<Item = (Event, PublishOptions)>,
    ) -> Vec<Result<PendingPublish, PublishError>> {
        let events = events.into_iter();
        let mut results = Vec::with_capacity(events.size_hint().0);
        let forwarder = self.forwarder();
        let mut targets = Vec::new();
        for (event, options) in events {
            let result = async {
                self.authorize(principal, Action::Publish(&event.topic))?;
                if let Some(forwarder) = &forwarder {
                    forwarder.admit(&event).map_err(PublishError::Forward)?;
                }
                let capture = match self.streams() {
                    Some(streams) if streams.captures(&event.topic) => {
                        streams.capture(&event, None).await?
                    }
                    _ => Capture::default(),
                };
                let (subscribers, receipt) =
                    self.fan_out_with(event, &options.groups, forwarder.as_deref(), &mut targets);
                Ok(PendingPublish {
                    subscribers,
                    capture,
                    receipt,
                })
            }
            .await;
            results.push(result);
        }
        results
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use bytes::Bytes;
    use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};

    use crate::{
        Action, Authorizer, Broker, Denied, GroupSelection, Principal, PublishOptions,
        SubscribeOptions,
    };

    fn event(topic: &str, id: &str) -> Event {
        let attributes = Attributes::new(id, "/test", "test.event").unwrap();
        Event::new(
            CloudEvent::new(attributes, Some(Bytes::from_static(b"x"))),
            Topic::new(topic).unwrap(),
            "node-a",
            SystemTime::now(),
        )
    }

    /// Refuses publishes on `secret/...`.
    struct NoSecrets;

    impl Authorizer for NoSecrets {
        fn authorize(&self, _: &Principal, action: Action<'_>) -> Result<(), Denied> {
            match action {
                Action::Publish(topic) if topic.as_str().starts_with("secret") => Err(Denied {
                    principal: String::new(),
                    action: "publish".to_owned(),
                }),
                _ => Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn a_batch_is_published_in_order_one_result_per_event() {
        let broker = Broker::new(Arc::new(NoSecrets));
        let principal = Principal::anonymous();
        let mut all = broker
            .subscribe(
                &principal,
                vec![Filter::new(">").unwrap()],
                SubscribeOptions::default(),
            )
            .unwrap();
        let mut grouped = broker
            .subscribe(
                &principal,
                vec![Filter::new("a/>").unwrap()],
                SubscribeOptions {
                    group: Some(Arc::from("g")),
                    ..SubscribeOptions::default()
                },
            )
            .unwrap();
        let batch = vec![
            (event("a/1", "1"), PublishOptions::default()),
            (event("secret/2", "2"), PublishOptions::default()),
            (
                event("a/3", "3"),
                PublishOptions::groups(GroupSelection::Only(Vec::new())),
            ),
            (event("b/4", "4"), PublishOptions::default()),
        ];
        let results = broker.submit_batch(&principal, batch).await;
        let subscribers: Vec<Option<usize>> = results
            .iter()
            .map(|result| result.as_ref().ok().map(|pending| pending.subscribers()))
            .collect();
        assert_eq!(subscribers, vec![Some(2), None, Some(2), Some(1)]);
        let mut ids = Vec::new();
        while let Some(Ok(event)) = all.try_recv() {
            ids.push(event.topic.as_str().to_owned());
        }
        assert_eq!(
            ids,
            ["a/1", "a/3", "b/4"],
            "in order, the refused one left out"
        );
        let grouped = grouped.try_recv().unwrap().unwrap();
        assert_eq!(grouped.topic.as_str(), "a/1", "only the selected groups");
        assert!(matches!(results[1], Err(crate::PublishError::Denied(_))));
    }
}
