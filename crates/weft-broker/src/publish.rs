//! The one publish API: [`Broker::submit`] does everything before the wait (authorise,
//! let the forwarder admit it, submit to the capturing streams, fan out to live
//! subscribers and the mesh), and [`PendingPublish::finish`] waits until it is durable.
//! A caller that does not want to wait (an at-most-once publish) drops the pending
//! publish. A connection can submit its next events while earlier ones wait for their
//! fsync (one group commit covers them) and acknowledge them in order as they finish.
//!
//! [`Broker::submit_batch`] is the same for the events of one received batch (the mesh),
//! sharing the per-call work.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use weft_core::Event;

use crate::auth::{Action, Principal};
use crate::broker::{Broker, PublishError, Published};
use crate::forward::{ForwardReceipt, GroupSelection};
use crate::stream::Capture;

/// How to publish. The default offers the event to every queue group.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// The queue groups the event may go to (the mesh delivers an event to the groups
    /// this node was chosen for).
    pub groups: GroupSelection,
}

impl PublishOptions {
    /// Offers the event only to the queue groups in `groups`.
    #[must_use]
    pub fn groups(groups: GroupSelection) -> Self {
        PublishOptions { groups }
    }
}

type Capturing = Pin<Box<dyn Future<Output = Result<PendingPublish, PublishError>> + Send>>;

/// A publish on its way in; resolves to the [`PendingPublish`] once every capturing
/// stream has the append queued (which may wait for room). An event that no stream
/// captures was already fanned out when [`Broker::submit`] returned, and its submission
/// resolves at its first poll — the fast path costs no allocation and no wait, and a
/// caller that cannot wait may poll once (`now_or_never` on `&mut submission`) and keep
/// the submission to await later when it is not ready.
#[must_use = "a submission does nothing for a captured event until it is awaited"]
pub struct Submission(SubmissionState);

enum SubmissionState {
    Ready(Option<Result<PendingPublish, PublishError>>),
    Capturing(Capturing),
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            SubmissionState::Ready(_) => "Submission::Ready",
            SubmissionState::Capturing(_) => "Submission::Capturing",
        })
    }
}

impl Submission {
    fn ready(result: Result<PendingPublish, PublishError>) -> Self {
        Submission(SubmissionState::Ready(Some(result)))
    }
}

impl Future for Submission {
    type Output = Result<PendingPublish, PublishError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            // A finished submission is not polled again (it never resolves twice).
            SubmissionState::Ready(result) => result.take().map_or(Poll::Pending, Poll::Ready),
            SubmissionState::Capturing(future) => future.as_mut().poll(cx),
        }
    }
}

impl Broker {
    /// [`Self::submit`] with the default options, then [`PendingPublish::finish`]: the
    /// publish of a caller that simply waits for it.
    pub async fn publish(
        &self,
        principal: &Principal,
        event: Event,
    ) -> Result<Published, PublishError> {
        self.submit(principal, event, PublishOptions::default())
            .await?
            .finish()
            .await
    }

    /// Publishes one event, up to the wait for durability: authorises it, asks the
    /// forwarder (the mesh) whether it can take it, submits it to every capturing stream
    /// (in order, so a publisher's events reach each partition in the order it
    /// submitted them) and queues it, shared, to every matching live subscription (never
    /// waiting for a subscriber). Await the submission for the [`PendingPublish`];
    /// [`PendingPublish::finish`] waits until every capturing stream stored the event
    /// durably and the mesh took it; dropping the pending publish instead does not wait.
    pub fn submit(
        &self,
        principal: &Principal,
        event: Event,
        options: PublishOptions,
    ) -> Submission {
        if let Err(error) = self.authorize(principal, Action::Publish(&event.topic)) {
            return Submission::ready(Err(error.into()));
        }
        if let Err(error) = self.admit(&event) {
            return Submission::ready(Err(error));
        }
        match self.streams() {
            Some(streams) if streams.captures(&event.topic) => {
                let broker = self.clone();
                Submission(SubmissionState::Capturing(Box::pin(async move {
                    let capture = match broker.streams() {
                        Some(streams) => streams.capture(&event, None).await?,
                        None => Capture::default(),
                    };
                    let (subscribers, receipt) = broker.fan_out(event, &options.groups);
                    Ok(PendingPublish {
                        subscribers,
                        capture,
                        receipt,
                    })
                })))
            }
            _ => {
                let (subscribers, receipt) = self.fan_out(event, &options.groups);
                Submission::ready(Ok(PendingPublish {
                    subscribers,
                    capture: Capture::default(),
                    receipt,
                }))
            }
        }
    }
}

/// A submitted publish; see [`Broker::submit`].
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

    /// Waits until every capturing stream stored the event durably (under its flush
    /// policy) and the mesh took it, when it must.
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

    use crate::stream::Streams;
    use crate::{AllowAll, Broker, Principal, PublishOptions, StreamConfig, StreamName};
    use futures_util::FutureExt;

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
            .submit(
                &principal,
                event("stored/a", "1"),
                PublishOptions::default(),
            )
            .await
            .unwrap();
        let second = broker
            .submit(
                &principal,
                event("stored/a", "2"),
                PublishOptions::default(),
            )
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
    async fn an_uncaptured_event_is_fanned_out_when_submit_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, streams) = broker_with_stream(dir.path()).await;
        let principal = Principal::anonymous();
        let mut subscription = broker
            .subscribe(
                &principal,
                vec![
                    Filter::new("live/>").unwrap(),
                    Filter::new("stored/>").unwrap(),
                ],
                crate::SubscribeOptions::default(),
            )
            .unwrap();
        // Not awaited yet: an event no stream captures is already with its subscribers.
        let mut live = broker.submit(&principal, event("live/a", "1"), PublishOptions::default());
        assert_eq!(
            subscription.try_recv().unwrap().unwrap().topic.as_str(),
            "live/a"
        );
        let live = (&mut live).now_or_never().unwrap().unwrap();
        assert!(live.is_settled());
        assert_eq!(live.subscribers(), 1);
        // A captured event is submitted to its stream first, when the submission runs.
        let captured = broker.submit(
            &principal,
            event("stored/a", "2"),
            PublishOptions::default(),
        );
        assert!(subscription.try_recv().is_none());
        let stored = captured.await.unwrap().finish().await.unwrap();
        assert_eq!(stored.stored.len(), 1);
        assert_eq!(
            subscription.try_recv().unwrap().unwrap().topic.as_str(),
            "stored/a"
        );
        streams.close().await;
    }
}
