//! Kafka-style produce: whole record batches into one stream partition, then onto the
//! topic space.
//!
//! A Kafka producer writes to a stream by name. The batches are stored as sent (see
//! [`Streams::append_batches`]); once they are acknowledged, every record is published
//! as an event — to live subscribers and to every *other* stream that captures its topic
//! — so that MQTT, HTTP and (later) the mesh see what Kafka clients produce. The copies
//! in other streams are best effort: the producer's acknowledgement is the stream it
//! wrote to, and a failed copy is logged, never reported as a failed produce.

use weft_core::Topic;

use crate::auth::{Action, Principal};
use crate::broker::{Broker, PublishError};
use crate::stream::{BatchesAppended, StreamError, StreamName, Streams};

impl Broker {
    /// Stores `records` (record batches) in partition `partition` of stream `stream`,
    /// then publishes each record as an event (live subscribers and other capturing
    /// streams). The principal must be allowed to publish on the stream's name as a topic.
    pub async fn produce(
        &self,
        principal: &Principal,
        stream: &StreamName,
        partition: u32,
        records: bytes::Bytes,
    ) -> Result<BatchesAppended, PublishError> {
        let storage = |source: StreamError| PublishError::Storage {
            stream: stream.clone(),
            source,
        };
        let streams: &Streams = self.streams().ok_or_else(|| {
            storage(StreamError::NotFound {
                name: stream.to_string(),
            })
        })?;
        let topic = Topic::new(stream.as_str()).map_err(|_| {
            storage(StreamError::invalid(format!(
                "stream name {stream} is not a valid topic"
            )))
        })?;
        self.authorize(principal, Action::Publish(&topic))?;
        let appended = streams
            .append_batches(stream, partition, records)
            .await
            .map_err(storage)?;
        for (offset, event) in &appended.events {
            let captured = streams.capture(event, Some(stream)).await;
            if let Err(error) = captured {
                tracing::warn!(%error, stream = %stream, partition, offset, "produced record not copied to a capturing stream");
            }
            self.fan_out(event.clone());
        }
        Ok(appended)
    }
}
