//! Another backend plugs into the seam: an in-memory store, written against the traits
//! only, carries a broker's streams — publish, read, Kafka fetch and produce, durable
//! consumers — with no change anywhere above the seam.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};
use weft_log::{
    AppendError, Appended, BatchView, Offset, ReadError, Record, RetentionPolicy, encode_batch,
    rewrite_base_offset,
};

use super::{AppendDone, PartitionReader, PartitionStore, StoreClosed, StoreFactory, StoreFuture};
use crate::stream::{FlushPolicy, StorageError, StreamsOptions};
use crate::{
    AllowAll, Broker, ConsumerConfig, ConsumerName, Principal, ReadFrom, StreamConfig, StreamName,
};

/// Batches kept in a vector; every append is "durable" at once. Retention and
/// compaction keep everything (this store has no segments to drop).
#[derive(Debug, Default)]
struct MemoryStore {
    batches: Mutex<Vec<Bytes>>,
    closed: AtomicBool,
}

impl MemoryStore {
    fn append(&self, batch: Result<Bytes, AppendError>) -> Result<Appended, AppendError> {
        let mut batches = self.batches.lock().unwrap();
        let next = next_offset(&batches);
        let mut bytes = batch?.to_vec();
        rewrite_base_offset(&mut bytes, Offset::new(next)).map_err(AppendError::from)?;
        let view = BatchView::parse(Bytes::from(bytes)).map_err(AppendError::from)?;
        let appended = Appended {
            base_offset: view.header().base_offset,
            last_offset: view.last_offset(),
            duplicate: false,
        };
        batches.push(view.into_bytes());
        Ok(appended)
    }

    fn queue(
        &self,
        batch: Result<Bytes, AppendError>,
        done: AppendDone,
    ) -> Result<(), StoreClosed> {
        if self.closed.load(Ordering::SeqCst) {
            done(Err(AppendError::Closed));
            return Err(StoreClosed);
        }
        done(self.append(batch));
        Ok(())
    }
}

fn next_offset(batches: &[Bytes]) -> u64 {
    batches.last().map_or(0, |batch| {
        BatchView::parse(batch.clone())
            .map(|view| view.last_offset().get() + 1)
            .unwrap_or(0)
    })
}

impl PartitionStore for MemoryStore {
    fn queue_record(
        &self,
        record: Record,
        done: AppendDone,
    ) -> StoreFuture<'_, Result<(), StoreClosed>> {
        let batch = encode_batch(Offset::new(0), &[record]).map_err(AppendError::from);
        Box::pin(std::future::ready(self.queue(batch, done)))
    }

    fn queue_batch(
        &self,
        batch: Bytes,
        done: AppendDone,
    ) -> StoreFuture<'_, Result<(), StoreClosed>> {
        Box::pin(std::future::ready(self.queue(Ok(batch), done)))
    }

    fn reader(&self) -> Option<Arc<dyn PartitionReader>> {
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let batches = self.batches.lock().unwrap().clone();
        Some(Arc::new(MemoryReader(batches)))
    }

    fn apply_retention(
        &self,
        _policy: RetentionPolicy,
        _now_ms: i64,
    ) -> StoreFuture<'_, Result<(), StorageError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn compact(&self, _: Duration, _: i64) -> StoreFuture<'_, Result<(), StorageError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        self.closed.store(true, Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }
}

/// A snapshot of the batches.
struct MemoryReader(Vec<Bytes>);

impl PartitionReader for MemoryReader {
    fn first_offset(&self) -> u64 {
        0
    }

    fn next_offset(&self) -> u64 {
        next_offset(&self.0)
    }

    fn size_bytes(&self) -> u64 {
        self.0.iter().map(|batch| batch.len() as u64).sum()
    }

    fn read_cached(&self, from: u64, max_bytes: usize) -> Option<Result<Vec<Bytes>, ReadError>> {
        Some(self.read(from, max_bytes))
    }

    fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<Bytes>, ReadError> {
        let next = self.next_offset();
        if from > next {
            return Err(ReadError::OffsetOutOfRange {
                requested: Offset::new(from),
                first: Offset::ZERO,
                next: Offset::new(next),
            });
        }
        let mut out = Vec::new();
        let mut budget = max_bytes;
        for batch in &self.0 {
            let last = BatchView::parse(batch.clone())
                .map(|view| view.last_offset().get())
                .unwrap_or(0);
            if last < from {
                continue;
            }
            if !out.is_empty() && batch.len() > budget {
                break;
            }
            budget = budget.saturating_sub(batch.len());
            out.push(batch.clone());
        }
        Ok(out)
    }

    fn offset_for_time(&self, _timestamp_ms: i64) -> Result<Option<u64>, ReadError> {
        Ok(Some(0).filter(|_| !self.0.is_empty()))
    }
}

/// Opens a [`MemoryStore`] per partition and counts them.
#[derive(Default)]
struct MemoryStores {
    opened: Mutex<Vec<(u32, FlushPolicy)>>,
}

impl StoreFactory for MemoryStores {
    fn open(
        &self,
        _dir: &Path,
        partition: u32,
        flush: FlushPolicy,
    ) -> Result<Arc<dyn PartitionStore>, StorageError> {
        self.opened.lock().unwrap().push((partition, flush));
        Ok(Arc::new(MemoryStore::default()))
    }
}

fn event(topic: &str, id: &str) -> Event {
    let attributes = Attributes::new(id, "/test", "test.event").unwrap();
    Event::new(
        CloudEvent::new(attributes, Some(Bytes::from_static(b"{}"))),
        Topic::new(topic).unwrap(),
        "node-a",
        SystemTime::now(),
    )
}

#[tokio::test]
async fn a_store_written_against_the_seam_carries_streams_consumers_and_kafka_batches() {
    let dir = tempfile::tempdir().unwrap();
    let stores = Arc::new(MemoryStores::default());
    let options = StreamsOptions {
        store: Arc::clone(&stores) as Arc<dyn StoreFactory>,
        ..StreamsOptions::default()
    };
    let broker = Broker::open(Arc::new(AllowAll), dir.path().to_owned(), options)
        .await
        .unwrap();
    let anyone = Principal::anonymous();
    let orders = StreamName::new("orders").unwrap();
    let mut config = StreamConfig::new(orders.clone(), vec![Filter::new("orders/>").unwrap()]);
    config.partitions = 2;
    broker.create_stream(&anyone, config).await.unwrap();
    assert_eq!(
        *stores.opened.lock().unwrap(),
        [(0, FlushPolicy::Always), (1, FlushPolicy::Always)]
    );

    for id in ["1", "2", "3", "4"] {
        let published = broker
            .publish(&anyone, event("orders/x", id))
            .await
            .unwrap();
        assert_eq!(published.stored.len(), 1);
    }
    let stored = broker
        .read_stream(&anyone, &orders, None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    let mut ids: Vec<&str> = stored
        .iter()
        .map(|stored| stored.event.cloudevent.attributes.id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["1", "2", "3", "4"]);

    // A Kafka fetch serves the stored batches; a Kafka produce of one of them appends it.
    let fetched = broker
        .fetch_batches(&anyone, &orders, 0, 0, 1 << 20)
        .await
        .unwrap();
    assert_eq!(fetched.high_watermark, 2);
    let produced = broker
        .submit_produce(&anyone, &orders, 0, fetched.batches[0].clone())
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(produced.base_offset, 2);

    // A durable consumer reads every partition through the store's readers.
    let billing = ConsumerName::new("billing").unwrap();
    broker
        .create_consumer(
            &anyone,
            ConsumerConfig::new(orders.clone(), billing.clone()),
        )
        .await
        .unwrap();
    let deliveries = broker
        .pull(&anyone, &orders, &billing, "m", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 5);
    broker.close_streams().await;
}
