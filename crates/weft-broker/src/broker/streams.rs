//! The durable half of the broker's one entrance: streams (administration, reads, Kafka
//! record batches in and out, direct appends) and their durable consumers.
//!
//! Every method takes the caller's [`Principal`], names its [`Action`] and asks the
//! authoriser before it touches anything; the stream and consumer machinery behind it
//! ([`crate::stream`], [`crate::consumer`]) is private to this crate. A broker without
//! streams answers as if no stream existed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Broker, StoredAt};
use crate::auth::{Action, Principal};
use crate::consumer::{ConsumerConfig, ConsumerError, ConsumerInfo, ConsumerName, Delivery};
use crate::consumer::{DeliveryToken, dead_letter};
use crate::stream::{
    FetchedBatches, ReadFrom, StoredEvent, StreamConfig, StreamError, StreamInfo, StreamName,
    Streams,
};

impl Broker {
    /// The streams, or [`StreamError::NotFound`] for `name` when this broker has none.
    fn streams_for(&self, name: &StreamName) -> Result<&Streams, StreamError> {
        self.streams().ok_or_else(|| StreamError::NotFound {
            name: name.to_string(),
        })
    }

    fn check(&self, principal: &Principal, action: Action<'_>) -> Result<(), StreamError> {
        self.authorize(principal, action).map_err(StreamError::from)
    }

    /// Authorises `action` on a consumer of `stream` and returns the streams.
    fn check_consumer(
        &self,
        principal: &Principal,
        stream: &StreamName,
        action: Action<'_>,
    ) -> Result<&Streams, ConsumerError> {
        self.authorize(principal, action)?;
        self.streams().ok_or_else(|| ConsumerError::StreamNotFound {
            stream: stream.to_string(),
        })
    }

    /// Whether this broker keeps durable streams (every node's does; a broker built with
    /// [`Broker::new`] does not).
    pub fn has_streams(&self) -> bool {
        self.streams().is_some()
    }

    // --- administration -----------------------------------------------------------------

    /// Creates a stream ([`Action::ManageStream`]). Creating one that exists with an
    /// identical configuration succeeds and changes nothing; with another configuration
    /// it is [`StreamError::AlreadyExists`].
    pub async fn create_stream(
        &self,
        principal: &Principal,
        config: StreamConfig,
    ) -> Result<StreamInfo, StreamError> {
        self.check(principal, Action::ManageStream(&config.name))?;
        self.streams_for(&config.name)?.create(config).await
    }

    /// Changes a stream ([`Action::ManageStream`]): filters, retention, limits, the
    /// discard policy and the dedupe window may change; partitions may only be added;
    /// `flush` and `compact` are fixed at creation.
    pub async fn update_stream(
        &self,
        principal: &Principal,
        config: StreamConfig,
    ) -> Result<StreamInfo, StreamError> {
        self.check(principal, Action::ManageStream(&config.name))?;
        self.streams_for(&config.name)?.update(config).await
    }

    /// Deletes a stream, its consumers and its files ([`Action::ManageStream`]).
    pub async fn delete_stream(
        &self,
        principal: &Principal,
        name: &StreamName,
    ) -> Result<(), StreamError> {
        self.check(principal, Action::ManageStream(name))?;
        self.streams_for(name)?.delete(name).await
    }

    /// Every stream the principal may read ([`Action::ReadStream`]; the others are left
    /// out, not refused), by name.
    pub async fn list_streams(&self, principal: &Principal) -> Vec<StreamInfo> {
        let Some(streams) = self.streams() else {
            return Vec::new();
        };
        let mut infos = streams.list().await;
        infos.retain(|info| {
            // Not counted as a refusal: a listing only shows what may be seen.
            self.authorizer()
                .authorize(principal, Action::ReadStream(&info.config.name))
                .is_ok()
        });
        infos
    }

    /// One stream ([`Action::ReadStream`]).
    pub async fn describe_stream(
        &self,
        principal: &Principal,
        name: &StreamName,
    ) -> Result<StreamInfo, StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?.describe(name).await
    }

    /// How many partitions a stream has ([`Action::ReadStream`]).
    pub fn partition_count(
        &self,
        principal: &Principal,
        name: &StreamName,
    ) -> Result<u32, StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?.partition_count(name)
    }

    // --- reads ---------------------------------------------------------------------------

    /// Up to `max_events` stored events of one partition, or of every partition in turn
    /// when `partition` is `None` ([`Action::ReadStream`]).
    pub async fn read_stream(
        &self,
        principal: &Principal,
        name: &StreamName,
        partition: Option<u32>,
        from: ReadFrom,
        max_events: usize,
    ) -> Result<Vec<StoredEvent>, StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?
            .read(name, partition, from, max_events)
            .await
    }

    /// Whole stored record batches of one partition from `offset` on, up to about
    /// `max_bytes` ([`Action::ReadStream`]): the Kafka fetch, served from stored bytes.
    pub async fn fetch_batches(
        &self,
        principal: &Principal,
        name: &StreamName,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<FetchedBatches, StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?
            .fetch_batches(name, partition, offset, max_bytes)
            .await
    }

    /// The first stored offset and the next offset of one partition
    /// ([`Action::ReadStream`]).
    pub async fn partition_offsets(
        &self,
        principal: &Principal,
        name: &StreamName,
        partition: u32,
    ) -> Result<(u64, u64), StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?
            .partition_offsets(name, partition)
            .await
    }

    /// The first offset whose record timestamp is at or after `timestamp_ms`, with that
    /// record's timestamp ([`Action::ReadStream`]; Kafka's `ListOffsets` by time).
    pub async fn offset_for_timestamp(
        &self,
        principal: &Principal,
        name: &StreamName,
        partition: u32,
        timestamp_ms: i64,
    ) -> Result<Option<(u64, i64)>, StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?
            .offset_for_timestamp(name, partition, timestamp_ms)
            .await
    }

    /// Woken after every append to any partition of the stream, for long polls
    /// ([`Action::ReadStream`]).
    pub fn appended_signal(
        &self,
        principal: &Principal,
        name: &StreamName,
    ) -> Result<Arc<Notify>, StreamError> {
        self.check(principal, Action::ReadStream(name))?;
        self.streams_for(name)?.appended_signal(name)
    }

    // --- direct writes -------------------------------------------------------------------

    /// Stores `event` in stream `name` only, whatever the stream's filters and without
    /// deduplication (no live subscriber sees it), in the partition of its key (else in
    /// turn), and waits until it is stored ([`Action::WriteStream`]). The path of routes
    /// whose destination is a stream and of dead letters to a stream.
    pub async fn append_to_stream(
        &self,
        principal: &Principal,
        name: &StreamName,
        event: &weft_core::Event,
    ) -> Result<StoredAt, StreamError> {
        self.check(principal, Action::WriteStream(name))?;
        self.streams_for(name)?.append_event(name, event).await
    }

    /// Sends `event`, with the `weftdl*` attributes of `note`, to a dead-letter
    /// destination: published on a topic ([`Action::Publish`]) or stored in a stream
    /// ([`Action::WriteStream`]). The one dead-letter path of durable consumers and
    /// routes.
    pub async fn send_dead_letter(
        &self,
        principal: &Principal,
        target: &crate::DeadLetter,
        event: weft_core::Event,
        note: &dead_letter::DeadLetterNote,
    ) -> Result<(), dead_letter::DeadLetterError> {
        let letter = note.apply(event);
        dead_letter::send(self, principal, target, letter).await
    }

    // --- durable consumers ---------------------------------------------------------------

    /// Creates a durable consumer ([`Action::ManageConsumer`]). Creating one that exists
    /// with an identical configuration succeeds and changes nothing.
    pub async fn create_consumer(
        &self,
        principal: &Principal,
        config: ConsumerConfig,
    ) -> Result<ConsumerInfo, ConsumerError> {
        let streams = self.check_consumer(
            principal,
            &config.stream,
            Action::ManageConsumer {
                stream: &config.stream,
                consumer: &config.name,
            },
        )?;
        streams.create_consumer(config).await
    }

    /// Deletes a consumer and its cursor ([`Action::ManageConsumer`]).
    pub async fn delete_consumer(
        &self,
        principal: &Principal,
        stream: &StreamName,
        consumer: &ConsumerName,
    ) -> Result<(), ConsumerError> {
        self.check_consumer(
            principal,
            stream,
            Action::ManageConsumer { stream, consumer },
        )?
        .delete_consumer(stream, consumer)
        .await
    }

    /// Every consumer of a stream ([`Action::ReadStream`]).
    pub async fn list_consumers(
        &self,
        principal: &Principal,
        stream: &StreamName,
    ) -> Result<Vec<ConsumerInfo>, ConsumerError> {
        self.check_consumer(principal, stream, Action::ReadStream(stream))?
            .list_consumers(stream)
            .await
    }

    /// One consumer ([`Action::ReadStream`]).
    pub async fn describe_consumer(
        &self,
        principal: &Principal,
        stream: &StreamName,
        consumer: &ConsumerName,
    ) -> Result<ConsumerInfo, ConsumerError> {
        self.check_consumer(principal, stream, Action::ReadStream(stream))?
            .describe_consumer(stream, consumer)
            .await
    }

    /// Up to `max` deliveries for `member`, waiting up to `wait` for the first one
    /// ([`Action::Consume`]).
    pub async fn pull(
        &self,
        principal: &Principal,
        stream: &StreamName,
        consumer: &ConsumerName,
        member: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, ConsumerError> {
        self.check_consumer(principal, stream, Action::Consume { stream, consumer })?
            .pull(stream, consumer, member, max, wait)
            .await
    }

    /// Acknowledges a delivery; when this returns `Ok`, the ack is on disk
    /// ([`Action::Consume`]).
    pub async fn ack(
        &self,
        principal: &Principal,
        stream: &StreamName,
        consumer: &ConsumerName,
        token: &DeliveryToken,
    ) -> Result<(), ConsumerError> {
        self.check_consumer(principal, stream, Action::Consume { stream, consumer })?
            .ack(stream, consumer, token)
            .await
    }

    /// Negatively acknowledges a delivery: redelivered after `delay`, else after the
    /// backoff; after the last attempt it is dead-lettered ([`Action::Consume`]).
    pub async fn nack(
        &self,
        principal: &Principal,
        stream: &StreamName,
        consumer: &ConsumerName,
        token: &DeliveryToken,
        delay: Option<Duration>,
    ) -> Result<(), ConsumerError> {
        self.check_consumer(principal, stream, Action::Consume { stream, consumer })?
            .nack(stream, consumer, token, delay)
            .await
    }

    /// Gives up on a delivery: dead-lettered at once with `reason` as `weftdlerror`
    /// ([`Action::Consume`]).
    pub async fn terminate(
        &self,
        principal: &Principal,
        stream: &StreamName,
        consumer: &ConsumerName,
        token: &DeliveryToken,
        reason: Option<String>,
    ) -> Result<(), ConsumerError> {
        self.check_consumer(principal, stream, Action::Consume { stream, consumer })?
            .terminate(stream, consumer, token, reason)
            .await
    }

    // --- the node's own upkeep (not client operations, so no principal) ------------------

    /// Every stream's filters, by stream name: what this node wants durably (the mesh
    /// advertises it).
    pub fn durable_interest(&self) -> Vec<(StreamName, Vec<weft_core::Filter>)> {
        self.streams().map(Streams::filters).unwrap_or_default()
    }

    /// A version number that changes whenever a stream is created, updated or deleted
    /// (and so, maybe, [`Self::durable_interest`]); `None` without streams.
    pub fn durable_interest_changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.streams().map(Streams::changes)
    }

    /// Applies every stream's retention and compacts compacted streams; the node runs
    /// this periodically.
    pub async fn maintain_streams(&self) {
        if let Some(streams) = self.streams() {
            streams.maintain().await;
        }
    }

    /// Stores what was submitted, then closes every stream (synced). Later publishes to
    /// streams fail.
    pub async fn close_streams(&self) {
        if let Some(streams) = self.streams() {
            streams.close().await;
        }
    }
}

#[cfg(test)]
mod tests;
