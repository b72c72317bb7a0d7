//! Kafka-style produce: whole record batches into one stream partition, then onto the
//! topic space.
//!
//! A Kafka producer writes to a stream by name. The batches are stored as sent (see
//! `Streams::append_batches`); once they are acknowledged, every record is published
//! as an event — to live subscribers and to every *other* stream that captures its topic
//! — so that MQTT, HTTP and (later) the mesh see what Kafka clients produce. The copies
//! in other streams are best effort: the producer's acknowledgement is the stream it
//! wrote to, and a failed copy is logged, never reported as a failed produce.

use crate::auth::{Action, Principal};
use crate::broker::{Broker, PublishError};
use crate::stream::{BatchesAppended, StreamError, StreamName, Streams, SubmittedBatches};

impl Broker {
    /// Stores `records` (record batches, as a Kafka producer sends a partition's data) in
    /// partition `partition` of stream `stream` ([`Action::WriteStream`]): validates and
    /// queues the batches on the partition (waiting only for queue room).
    /// [`PendingProduce::finish`] waits until they are stored, then publishes each record
    /// as an event (live subscribers and other capturing streams); finishing pending
    /// produces in submission order keeps the published events in stored order.
    pub async fn submit_produce(
        &self,
        principal: &Principal,
        stream: &StreamName,
        partition: u32,
        records: bytes::Bytes,
    ) -> Result<PendingProduce, PublishError> {
        let storage = |source: StreamError| PublishError::Storage {
            stream: stream.clone(),
            source,
        };
        let streams: &Streams = self.streams().ok_or_else(|| {
            storage(StreamError::NotFound {
                name: stream.to_string(),
            })
        })?;
        self.authorize(principal, Action::WriteStream(stream))?;
        let submitted = streams
            .submit_batches(stream, partition, records)
            .await
            .map_err(storage)?;
        Ok(PendingProduce {
            broker: self.clone(),
            submitted,
        })
    }
}

#[cfg(test)]
impl Broker {
    /// [`Self::submit_produce`], then [`PendingProduce::finish`].
    pub(crate) async fn produce(
        &self,
        principal: &Principal,
        stream: &StreamName,
        partition: u32,
        records: bytes::Bytes,
    ) -> Result<BatchesAppended, PublishError> {
        self.submit_produce(principal, stream, partition, records)
            .await?
            .finish()
            .await
    }
}

/// A produce whose batches are queued; see [`Broker::submit_produce`].
pub struct PendingProduce {
    broker: Broker,
    submitted: SubmittedBatches,
}

impl std::fmt::Debug for PendingProduce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingProduce")
            .field("submitted", &self.submitted)
            .finish_non_exhaustive()
    }
}

impl PendingProduce {
    /// Waits until the batches are stored, then publishes every record as an event to
    /// live subscribers and to the other streams that capture its topic.
    pub async fn finish(self) -> Result<BatchesAppended, PublishError> {
        let stream = self.submitted.stream().clone();
        let appended = self
            .submitted
            .wait()
            .await
            .map_err(|source| PublishError::Storage {
                stream: stream.clone(),
                source,
            })?;
        if let Some(streams) = self.broker.streams() {
            for (offset, event) in &appended.events {
                if let Err(error) = streams.capture(event, Some(&stream)).await {
                    tracing::warn!(%error, stream = %stream, offset, "produced record not copied to a capturing stream");
                }
            }
        }
        for (_, event) in &appended.events {
            // The mesh's receipt is not waited for: the records are acknowledged once
            // stored here (Kafka produces are not refused by a full mesh outbox).
            let _ = self
                .broker
                .fan_out(event.clone(), &crate::forward::GroupSelection::All);
        }
        Ok(appended)
    }
}
