//! The consumer API of [`Streams`]: administration, pull, ack, nack and terminate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weft_core::Event;
use weft_log::ReadError;

use super::config::{ConsumerConfig, ConsumerName, StartPosition};
use super::cursor::Cursor;
use super::dead_letter::{consumer_note, consumer_principal};
use super::error::ConsumerError;
use super::state::DeadLetterOrder;
use super::token::{DeliveryId, DeliveryToken};
use super::{Consumer, ConsumerInfo, Delivery, store};
use crate::stream::{
    Partition, ReadFrom, StorageError, Stream, StreamError, StreamName, Streams, partition_key,
};

/// Records read per call while scanning for [`StartPosition::LastPerKey`].
const SCAN_CHUNK: usize = 1024;

impl Streams {
    /// Creates a consumer. Creating one that exists with an identical configuration
    /// succeeds and changes nothing; with another it is [`ConsumerError::AlreadyExists`].
    pub(crate) async fn create_consumer(
        &self,
        config: ConsumerConfig,
    ) -> Result<ConsumerInfo, ConsumerError> {
        config.validate()?;
        let _admin = self.admin_lock().await;
        let stream = self.stream_for(&config.stream)?;
        if let Some(existing) = stream.consumers.get(&config.name) {
            if existing.config == config {
                return existing.info(&stream).await;
            }
            return Err(ConsumerError::AlreadyExists {
                stream: config.stream.to_string(),
                name: config.name.to_string(),
            });
        }
        let mut cursors = Vec::with_capacity(stream.partitions.len());
        for partition in &stream.partitions {
            let cursor = start_cursor(partition, config.start)
                .await
                .map_err(|source| storage(&config, source))?;
            cursors.push(cursor);
        }
        let consumer = Consumer::new(
            config,
            cursors.clone(),
            &self.stream_dir(&stream.config.name),
        );
        consumer.write(cursors).await?;
        let consumer = Arc::new(consumer);
        stream
            .consumers
            .lock()
            .insert(consumer.config.name.clone(), Arc::clone(&consumer));
        tracing::info!(stream = %consumer.config.stream, consumer = %consumer.config.name, "consumer created");
        consumer.info(&stream).await
    }

    /// Deletes a consumer and its cursor. Its pending pulls end with
    /// [`ConsumerError::NotFound`].
    pub(crate) async fn delete_consumer(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
    ) -> Result<(), ConsumerError> {
        let _admin = self.admin_lock().await;
        let (stream_runtime, consumer) = self.consumer_for(stream, name)?;
        // Held so that no cursor write recreates the file after it is removed.
        let _persisted = consumer.persisted.lock().await;
        let dir = store::consumers_dir(&self.stream_dir(stream));
        let file_name = name.clone();
        tokio::task::spawn_blocking(move || store::remove(&dir, &file_name))
            .await
            .unwrap_or(Err(StorageError::Task))
            .map_err(|source| consumer.storage_error(source))?;
        stream_runtime.consumers.lock().remove(name);
        consumer.mark_deleted();
        tracing::info!(%stream, consumer = %name, "consumer deleted");
        Ok(())
    }

    /// Every consumer of a stream, by name.
    pub(crate) async fn list_consumers(
        &self,
        stream: &StreamName,
    ) -> Result<Vec<ConsumerInfo>, ConsumerError> {
        let stream = self.stream_for(stream)?;
        let mut infos = Vec::new();
        for consumer in stream.consumers.all() {
            infos.push(consumer.info(&stream).await?);
        }
        Ok(infos)
    }

    /// One consumer.
    pub(crate) async fn describe_consumer(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
    ) -> Result<ConsumerInfo, ConsumerError> {
        let (stream, consumer) = self.consumer_for(stream, name)?;
        consumer.info(&stream).await
    }

    /// Up to `max` deliveries for `member` (a client-chosen member id; members that
    /// pulled within the session timeout share the partitions), waiting up to `wait` for
    /// the first one (long poll; empty on timeout).
    pub(crate) async fn pull(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
        member: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, ConsumerError> {
        if member.is_empty() {
            return Err(ConsumerError::invalid("member id is empty"));
        }
        let deadline = Instant::now() + wait;
        loop {
            let (stream_runtime, consumer) = self.consumer_for(stream, name)?;
            if consumer.is_deleted() {
                return Err(not_found(stream, name));
            }
            // Registered before looking, so no append or ack in between is missed.
            let appended = stream_runtime.appended.notified();
            let changed = consumer.changed.notified();
            tokio::pin!(appended, changed);
            appended.as_mut().enable();
            changed.as_mut().enable();
            let (deliveries, wakeup) = self
                .fill_and_take(&stream_runtime, &consumer, member, max)
                .await?;
            let now = Instant::now();
            if !deliveries.is_empty() || max == 0 || now >= deadline {
                return Ok(deliveries);
            }
            let until = wakeup.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = appended => {}
                () = changed => {}
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(until)) => {}
            }
        }
    }

    /// Acknowledges a delivery. When this returns `Ok`, the ack is on disk.
    pub(crate) async fn ack(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
        token: &DeliveryToken,
    ) -> Result<(), ConsumerError> {
        let (_, consumer, id) = self.locate(stream, name, token)?;
        let version = {
            let mut runtime = consumer.runtime.lock().await;
            runtime.core.ack(id).map_err(|_| token.unknown())?;
            runtime.core.version()
        };
        consumer.changed.notify_waiters();
        consumer.persist(version).await
    }

    /// Negatively acknowledges a delivery: redelivered after `delay`, else after the
    /// backoff; after the last attempt the event is dead-lettered.
    pub(crate) async fn nack(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
        token: &DeliveryToken,
        delay: Option<Duration>,
    ) -> Result<(), ConsumerError> {
        let (stream_runtime, consumer, id) = self.locate(stream, name, token)?;
        let order = {
            let mut runtime = consumer.runtime.lock().await;
            runtime
                .core
                .nack(id, delay, None, Instant::now())
                .map_err(|_| token.unknown())?
        };
        consumer.changed.notify_waiters();
        if let Some(order) = order {
            self.dead_letter(&stream_runtime, &consumer, vec![order])
                .await?;
        }
        Ok(())
    }

    /// Gives up on a delivery: the event is dead-lettered at once with `reason` as
    /// `weftdlerror`. Returns once the dead letter is stored and the cursor written.
    pub(crate) async fn terminate(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
        token: &DeliveryToken,
        reason: Option<String>,
    ) -> Result<(), ConsumerError> {
        let (stream_runtime, consumer, id) = self.locate(stream, name, token)?;
        let order = {
            let mut runtime = consumer.runtime.lock().await;
            runtime
                .core
                .terminate(id, reason)
                .map_err(|_| token.unknown())?
        };
        self.dead_letter(&stream_runtime, &consumer, vec![order])
            .await
    }

    /// The stream and consumer a token belongs to, and the delivery it names.
    fn locate(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
        token: &DeliveryToken,
    ) -> Result<(Arc<Stream>, Arc<Consumer>, DeliveryId), ConsumerError> {
        let (stream_runtime, consumer) = self.consumer_for(stream, name)?;
        let id = token.id().ok_or_else(|| token.unknown())?;
        Ok((stream_runtime, consumer, id))
    }

    fn stream_for(&self, name: &StreamName) -> Result<Arc<Stream>, ConsumerError> {
        self.get(name).map_err(|_| ConsumerError::StreamNotFound {
            stream: name.to_string(),
        })
    }

    fn consumer_for(
        &self,
        stream: &StreamName,
        name: &ConsumerName,
    ) -> Result<(Arc<Stream>, Arc<Consumer>), ConsumerError> {
        let stream_runtime = self.stream_for(stream)?;
        let consumer = stream_runtime
            .consumers
            .get(name)
            .ok_or_else(|| not_found(stream, name))?;
        Ok((stream_runtime, consumer))
    }

    /// Reads what the member's partitions need, takes deliveries, and carries out dead
    /// letters that timeouts produced. Returns the deliveries and when to look again.
    async fn fill_and_take(
        &self,
        stream: &Stream,
        consumer: &Consumer,
        member: &str,
        max: usize,
    ) -> Result<(Vec<Delivery>, Option<Instant>), ConsumerError> {
        let storage = |source| consumer.storage_error(source);
        let mut runtime = consumer.runtime.lock().await;
        // A stream that gained partitions: the new ones are read from their start.
        while (runtime.core.partition_count() as usize) < stream.partitions.len() {
            let partition = &stream.partitions[runtime.core.partition_count() as usize];
            let (first, _) = partition.offsets().await.map_err(storage)?;
            runtime.core.add_partition(Cursor::at(first));
        }
        let now = Instant::now();
        let orders = runtime.core.touch(member, now);
        for (index, from, room) in runtime.core.read_requests(member) {
            let Some(partition) = stream.partitions.get(index as usize) else {
                continue;
            };
            for (offset, event) in read_events(partition, from, room).await.map_err(storage)? {
                let key = partition_key(&event);
                if runtime.core.offer(index, offset, key) {
                    runtime.read_ahead.insert((index, offset), event);
                }
            }
        }
        let mut deliveries = Vec::new();
        for id in runtime.core.take(member, max, now) {
            let event = match runtime.read_ahead.remove(&(id.partition, id.offset)) {
                Some(event) => Some(event),
                None => read_one(stream, id).await.map_err(storage)?,
            };
            match event {
                Some(event) => deliveries.push(Delivery {
                    token: DeliveryToken::for_delivery(id),
                    partition: id.partition,
                    offset: id.offset,
                    attempt: id.attempt,
                    event,
                }),
                None => runtime.core.gone(id),
            }
        }
        let wakeup = runtime.core.next_wakeup(now);
        drop(runtime);
        if !orders.is_empty() {
            self.dead_letter(stream, consumer, orders).await?;
        }
        Ok((deliveries, wakeup))
    }

    /// Sends each order's event to the dead-letter destination, then records the
    /// outcome and writes the cursor.
    async fn dead_letter(
        &self,
        stream: &Stream,
        consumer: &Consumer,
        orders: Vec<DeadLetterOrder>,
    ) -> Result<(), ConsumerError> {
        let config = &consumer.config;
        let mut outcomes = Vec::with_capacity(orders.len());
        for order in orders {
            let stored = read_one(
                stream,
                DeliveryId {
                    partition: order.partition,
                    offset: order.offset,
                    attempt: order.attempts,
                    incarnation: 0,
                },
            )
            .await
            .map_err(|source| consumer.storage_error(source))?;
            let delivered = match (stored, &config.dead_letter) {
                (None, _) => true,
                (Some(_), None) => {
                    tracing::warn!(stream = %config.stream, consumer = %config.name, partition = order.partition, offset = order.offset, reason = order.reason.as_str(), "event dropped: no dead-letter destination");
                    true
                }
                (Some(event), Some(target)) => {
                    let note = consumer_note(&order, &config.stream, &config.name);
                    let sent = match self.broker() {
                        Some(broker) => {
                            let principal = consumer_principal(&config.name);
                            broker
                                .send_dead_letter(&principal, target, event, &note)
                                .await
                        }
                        None => {
                            tracing::warn!(stream = %config.stream, consumer = %config.name, offset = order.offset, "event dropped: no broker to send the dead letter through");
                            Ok(())
                        }
                    };
                    match sent {
                        Ok(()) => true,
                        Err(error) => {
                            tracing::warn!(%error, stream = %config.stream, consumer = %config.name, partition = order.partition, offset = order.offset, "dead letter failed; the event will be redelivered");
                            false
                        }
                    }
                }
            };
            outcomes.push((order, delivered));
        }
        let version = {
            let mut runtime = consumer.runtime.lock().await;
            let now = Instant::now();
            for (order, delivered) in &outcomes {
                if *delivered {
                    runtime.core.dead_letter_done(order.partition, order.offset);
                } else {
                    runtime.core.dead_letter_failed(order, now);
                }
            }
            runtime.core.version()
        };
        consumer.changed.notify_waiters();
        consumer.persist(version).await
    }
}

impl Consumer {
    async fn info(&self, stream: &Stream) -> Result<ConsumerInfo, ConsumerError> {
        let mut next_offsets = HashMap::new();
        for partition in &stream.partitions {
            let (_, next) = partition
                .offsets()
                .await
                .map_err(|source| self.storage_error(source))?;
            next_offsets.insert(partition.index, next);
        }
        let runtime = self.runtime.lock().await;
        let core = &runtime.core;
        let pending = next_offsets
            .iter()
            .map(
                |(partition, next)| match core.partition_progress(*partition) {
                    Some((floor, taken)) => next.saturating_sub(floor).saturating_sub(taken),
                    None => 0,
                },
            )
            .sum();
        let counters = core.counters();
        Ok(ConsumerInfo {
            config: self.config.clone(),
            pending,
            in_flight: core.in_flight() as u64,
            redelivered: counters.redelivered,
            acked: counters.acked,
            dead_lettered: counters.dead_lettered,
            members: core.members(),
        })
    }
}

fn not_found(stream: &StreamName, name: &ConsumerName) -> ConsumerError {
    ConsumerError::NotFound {
        stream: stream.to_string(),
        name: name.to_string(),
    }
}

fn storage(config: &ConsumerConfig, source: StorageError) -> ConsumerError {
    ConsumerError::Storage {
        stream: config.stream.to_string(),
        name: config.name.to_string(),
        source,
    }
}

/// The cursor a new consumer starts with in `partition`.
async fn start_cursor(partition: &Partition, start: StartPosition) -> Result<Cursor, StorageError> {
    let (first, next) = partition.offsets().await?;
    Ok(match start {
        StartPosition::All => Cursor::at(first),
        StartPosition::New => Cursor::at(next),
        StartPosition::Offset(offset) => Cursor::at(offset.clamp(first, next)),
        StartPosition::Time(time) => Cursor::at(partition.resolve(ReadFrom::Time(time)).await?),
        StartPosition::LastPerKey => last_per_key(partition, first, next).await?,
    })
}

/// A cursor that leaves only the last stored event of each key unacknowledged (keyless
/// events are skipped), found by reading the partition once.
async fn last_per_key(
    partition: &Partition,
    first: u64,
    next: u64,
) -> Result<Cursor, StorageError> {
    let mut last: HashMap<Bytes, u64> = HashMap::new();
    let mut from = first;
    while from < next {
        let events = read_events(partition, from, SCAN_CHUNK).await?;
        let Some((end, _)) = events.last() else {
            break;
        };
        from = end + 1;
        for (offset, event) in events {
            if let Some(key) = partition_key(&event) {
                last.insert(key, offset);
            }
        }
    }
    let mut keep: Vec<u64> = last.into_values().collect();
    keep.sort_unstable();
    let mut cursor = Cursor::at(first);
    let mut acked_from = first;
    for offset in keep {
        cursor.ack_range(acked_from, offset);
        acked_from = offset + 1;
    }
    cursor.ack_range(acked_from, next);
    Ok(cursor)
}

/// Up to `max` events from `from` on; an offset below the partition's first (removed by
/// retention) reads from the first.
async fn read_events(
    partition: &Partition,
    from: u64,
    max: usize,
) -> Result<Vec<(u64, Event)>, StorageError> {
    match partition.read_events(from, max).await {
        Err(StorageError::Read {
            source: ReadError::OffsetOutOfRange { first, .. },
            ..
        }) if from < first.get() => partition.read_events(first.get(), max).await,
        other => other,
    }
}

/// The event at exactly this delivery's offset, or `None` if it is no longer stored.
async fn read_one(stream: &Stream, id: DeliveryId) -> Result<Option<Event>, StorageError> {
    let Some(partition) = stream.partitions.get(id.partition as usize) else {
        return Ok(None);
    };
    let events = read_events(partition, id.offset, 1).await?;
    Ok(events
        .into_iter()
        .next()
        .filter(|(offset, _)| *offset == id.offset)
        .map(|(_, event)| event))
}

impl From<StreamError> for ConsumerError {
    fn from(error: StreamError) -> Self {
        match error {
            StreamError::NotFound { name } => ConsumerError::StreamNotFound { stream: name },
            StreamError::Invalid { reason } => ConsumerError::Invalid { reason },
            other => ConsumerError::invalid(other.to_string()),
        }
    }
}
