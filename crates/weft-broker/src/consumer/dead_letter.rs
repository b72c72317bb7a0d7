//! Dead letters: the event, unchanged but for `weftdl*` extension attributes, sent to the
//! consumer's dead-letter destination.

use std::sync::atomic::Ordering;

use tokio::sync::oneshot;
use weft_core::{Event, ExtensionValue};

use super::config::{ConsumerName, DeadLetter};
use super::state::DeadLetterOrder;
use crate::stream::{PendingAppend, StreamName, Streams, partition_for_key, record};
use crate::{Ack, Principal};

/// `max-deliveries` or `terminated`.
pub const REASON_ATTRIBUTE: &str = "weftdlreason";
/// How many times the event was delivered.
pub const ATTEMPTS_ATTRIBUTE: &str = "weftdlattempts";
/// The consumer that gave up on it.
pub const CONSUMER_ATTRIBUTE: &str = "weftdlconsumer";
/// The terminate reason, or the last nack reason; absent when there was none.
pub const ERROR_ATTRIBUTE: &str = "weftdlerror";
/// The stream it was read from.
pub const STREAM_ATTRIBUTE: &str = "weftdlstream";
/// Its partition in that stream.
pub const PARTITION_ATTRIBUTE: &str = "weftdlpartition";
/// Its offset in that partition.
pub const OFFSET_ATTRIBUTE: &str = "weftdloffset";
/// The topic it was published on (a dead letter to a topic is published on another).
pub const TOPIC_ATTRIBUTE: &str = "weftdltopic";

/// Why a dead letter was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeadLetterError {
    /// Publishing to the dead-letter topic failed.
    #[error("cannot publish the dead letter")]
    Publish(#[source] crate::PublishError),
    /// The dead-letter stream does not exist.
    #[error("dead-letter stream {stream} does not exist")]
    NoStream { stream: StreamName },
    /// The dead-letter stream refused or failed to store it.
    #[error("dead-letter stream {stream} did not store the event")]
    Append { stream: StreamName, reason: String },
}

/// `event` with the `weftdl*` attributes of `order` added (every value a string).
pub(crate) fn dead_letter_event(
    mut event: Event,
    order: &DeadLetterOrder,
    stream: &StreamName,
    consumer: &ConsumerName,
) -> Event {
    let topic = event.topic.to_string();
    let mut values = vec![
        (REASON_ATTRIBUTE, order.reason.as_str().to_owned()),
        (ATTEMPTS_ATTRIBUTE, order.attempts.to_string()),
        (CONSUMER_ATTRIBUTE, consumer.to_string()),
        (STREAM_ATTRIBUTE, stream.to_string()),
        (PARTITION_ATTRIBUTE, order.partition.to_string()),
        (OFFSET_ATTRIBUTE, order.offset.to_string()),
        (TOPIC_ATTRIBUTE, topic),
    ];
    if let Some(error) = &order.error {
        values.push((ERROR_ATTRIBUTE, error.clone()));
    }
    for (name, value) in values {
        if let Err(error) = event
            .cloudevent
            .attributes
            .set(name, ExtensionValue::String(value))
        {
            // Only a value with characters CloudEvents forbids (from a terminate reason)
            // can fail; the dead letter goes without it.
            tracing::warn!(%error, attribute = name, "dead-letter attribute left out");
        }
    }
    event
}

impl Streams {
    /// Sends a dead letter to `target`. `Ok(false)`: there is no broker to publish to
    /// a topic through (the event is dropped).
    pub(crate) async fn send_dead_letter(
        &self,
        target: &DeadLetter,
        consumer: &ConsumerName,
        mut event: Event,
    ) -> Result<bool, DeadLetterError> {
        match target {
            DeadLetter::Topic(topic) => {
                let Some(broker) = self.broker() else {
                    return Ok(false);
                };
                event.topic = topic.clone();
                let principal = Principal::named(format!("$consumer/{consumer}"));
                broker
                    .publish(&principal, event, Ack::Durable)
                    .await
                    .map_err(DeadLetterError::Publish)?;
                Ok(true)
            }
            DeadLetter::Stream(stream) => {
                self.append_to(stream, &event).await?;
                Ok(true)
            }
        }
    }

    /// Stores `event` in `stream` whatever its filters, without deduplication (the same
    /// event may be dead-lettered by several consumers), and waits until it is stored.
    async fn append_to(&self, name: &StreamName, event: &Event) -> Result<(), DeadLetterError> {
        let append_error = |reason: String| DeadLetterError::Append {
            stream: name.clone(),
            reason,
        };
        let stream = self.get(name).map_err(|_| DeadLetterError::NoStream {
            stream: name.clone(),
        })?;
        let stored = record::encode(event);
        let size = record::stored_size(&stored);
        if size > stream.config.max_event_bytes {
            return Err(append_error(format!(
                "{size} bytes exceed the limit of {}",
                stream.config.max_event_bytes
            )));
        }
        let count = stream.partitions.len() as u32;
        let index = match crate::stream::partition_key(event) {
            Some(key) => partition_for_key(&key, count),
            None => stream.round_robin.fetch_add(1, Ordering::Relaxed) % count.max(1),
        };
        let partition = stream
            .partitions
            .get(index as usize)
            .ok_or_else(|| append_error(format!("no partition {index}")))?;
        let (reply, answer) = oneshot::channel();
        partition
            .submit(PendingAppend {
                record: stored,
                size,
                reply,
                forget: None,
            })
            .await
            .map_err(|_| append_error("the stream is closed".to_owned()))?;
        match answer.await {
            Ok(Ok(_offset)) => Ok(()),
            Ok(Err(error)) => Err(append_error(error.to_string())),
            Err(_) => Err(append_error("the stream is closed".to_owned())),
        }
    }
}
