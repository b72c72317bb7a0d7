//! A publish in two halves, for front ends that pipeline: [`Broker::submit_publish`]
//! does everything [`Broker::publish`] does before it waits (authorise, submit to the
//! capturing streams, fan out), and [`PendingPublish::finish`] waits for durability.
//! A connection can submit its next events while earlier ones wait for their fsync
//! (one group commit covers them) and acknowledge them in order as they finish.

use crate::auth::{Action, Principal};
use crate::broker::{Broker, PublishError, Published};
use crate::forward::{ForwardReceipt, GroupSelection};
use crate::stream::Capture;

impl Broker {
    /// The first half of [`Self::publish`] with [`crate::Ack::Durable`]: authorises the
    /// event, submits it to every capturing stream (in this call, so a publisher's
    /// events reach each partition in the order it submitted them) and queues it to the
    /// matching live subscriptions. [`PendingPublish::finish`] waits for the stores;
    /// dropping the pending publish instead is [`crate::Ack::None`].
    pub async fn submit_publish(
        &self,
        principal: &Principal,
        event: weft_core::Event,
    ) -> Result<PendingPublish, PublishError> {
        self.submit_publish_with(principal, event, GroupSelection::All)
            .await
    }

    /// [`Self::submit_publish`], offering the event only to the queue groups in
    /// `groups` (the mesh delivers an event to the groups this node was chosen for).
    /// The forwarder (the mesh) may refuse it first, before anything is stored.
    pub async fn submit_publish_with(
        &self,
        principal: &Principal,
        event: weft_core::Event,
        groups: GroupSelection,
    ) -> Result<PendingPublish, PublishError> {
        self.authorize(principal, Action::Publish(&event.topic))?;
        self.admit(&event)?;
        let capture = match self.streams() {
            Some(streams) => streams.capture(&event, None).await?,
            None => Capture::default(),
        };
        let (subscribers, receipt) = self.fan_out(event, &groups);
        Ok(PendingPublish {
            subscribers,
            capture,
            receipt,
        })
    }
}

impl Broker {
    /// [`Self::submit_publish`] without waiting, for the common case that no stream
    /// captures the event's topic: authorises it and queues it to the matching live
    /// subscriptions. When a stream captures it (its appends may have to wait for
    /// room), nothing is done and the event is given back (`Ok(Err(event))`) for
    /// [`Self::submit_publish`].
    pub fn try_submit_publish(
        &self,
        principal: &Principal,
        event: weft_core::Event,
    ) -> Result<Result<PendingPublish, weft_core::Event>, PublishError> {
        self.authorize(principal, Action::Publish(&event.topic))?;
        self.admit(&event)?;
        if self
            .streams()
            .is_some_and(|streams| streams.captures(&event.topic))
        {
            return Ok(Err(event));
        }
        let (subscribers, receipt) = self.fan_out(event, &GroupSelection::All);
        Ok(Ok(PendingPublish {
            subscribers,
            capture: Capture::default(),
            receipt,
        }))
    }
}

/// A submitted publish; see [`Broker::submit_publish`].
pub struct PendingPublish {
    pub(crate) subscribers: usize,
    pub(crate) capture: Capture,
    pub(crate) receipt: Option<ForwardReceipt>,
}

impl std::fmt::Debug for PendingPublish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingPublish")
            .field("subscribers", &self.subscribers)
            .field("settled", &self.is_settled())
            .finish_non_exhaustive()
    }
}

impl PendingPublish {
    /// How many live subscriptions the event was queued to.
    pub fn subscribers(&self) -> usize {
        self.subscribers
    }

    /// Capturing streams that had already stored this `source` + `id` within their
    /// dedupe window.
    pub fn duplicates(&self) -> usize {
        self.capture.duplicates
    }

    /// Whether there is nothing to wait for (no stream stores the event and no mesh
    /// receipt is due): [`Self::finish`] then completes at its first poll.
    pub fn is_settled(&self) -> bool {
        self.capture.is_settled() && self.receipt.is_none()
    }

    /// Waits until every capturing stream stored the event durably (and the mesh took
    /// it, when it must); what [`Broker::publish`] returns with [`crate::Ack::Durable`].
    pub async fn finish(self) -> Result<Published, PublishError> {
        let duplicates = self.capture.duplicates;
        let stored = self.capture.wait().await?;
        if let Some(receipt) = self.receipt {
            receipt.wait().await.map_err(PublishError::Forward)?;
        }
        Ok(Published {
            subscribers: self.subscribers,
            stored,
            duplicates,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use bytes::Bytes;
    use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};

    use crate::{AllowAll, Broker, Principal, StreamConfig, StreamName, Streams};

    fn event(topic: &str, id: &str) -> Event {
        let attributes = Attributes::new(id, "/test", "test.event").unwrap();
        Event::new(
            CloudEvent::new(attributes, Some(Bytes::from_static(b"x"))),
            Topic::new(topic).unwrap(),
            "node-a",
            SystemTime::now(),
        )
    }

    async fn broker_with_stream(dir: &std::path::Path) -> (Broker, Streams) {
        let streams = Streams::open(dir.join("streams")).await.unwrap();
        streams
            .create(StreamConfig::new(
                StreamName::new("s").unwrap(),
                vec![Filter::new("stored/>").unwrap()],
            ))
            .await
            .unwrap();
        (
            Broker::with_streams(Arc::new(AllowAll), streams.clone()),
            streams,
        )
    }

    #[tokio::test]
    async fn submitted_publishes_finish_with_where_they_were_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, streams) = broker_with_stream(dir.path()).await;
        let principal = Principal::anonymous();
        let first = broker
            .submit_publish(&principal, event("stored/a", "1"))
            .await
            .unwrap();
        let second = broker
            .submit_publish(&principal, event("stored/a", "2"))
            .await
            .unwrap();
        assert!(!first.is_settled());
        let second = second.finish().await.unwrap();
        let first = first.finish().await.unwrap();
        assert_eq!(first.stored.len(), 1);
        assert_eq!(second.stored[0].offset, first.stored[0].offset + 1);
        streams.close().await;
    }

    #[tokio::test]
    async fn try_submit_gives_back_an_event_a_stream_captures() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, streams) = broker_with_stream(dir.path()).await;
        let principal = Principal::anonymous();
        let mut subscription = broker
            .subscribe(
                &principal,
                vec![Filter::new("live/>").unwrap()],
                crate::SubscribeOptions::default(),
            )
            .unwrap();
        let captured = broker
            .try_submit_publish(&principal, event("stored/a", "1"))
            .unwrap();
        assert!(captured.is_err(), "a captured event is given back");
        let live = broker
            .try_submit_publish(&principal, event("live/a", "2"))
            .unwrap()
            .unwrap();
        assert!(live.is_settled());
        assert_eq!(live.subscribers(), 1);
        assert_eq!(
            subscription.try_recv().unwrap().unwrap().topic.as_str(),
            "live/a"
        );
        streams.close().await;
    }
}
