//! Record batches in and out of streams, as the Kafka front end uses them.

use std::sync::Arc;

use bytes::Bytes;
use weft_core::Filter;
use weft_log::{BatchBuilder, BatchView, Compression, Offset, Producer, Record};

use crate::stream::{StreamConfig, StreamError, StreamName, Streams};
use crate::{AllowAll, Broker, Principal, PublishError, SubscribeOptions};

fn name(text: &str) -> StreamName {
    StreamName::new(text).unwrap()
}

fn record(key: Option<&'static str>, value: &'static str, headers: &[(&str, &str)]) -> Record {
    Record {
        timestamp_ms: 1_700_000_000_000,
        key: key.map(|key| Bytes::from_static(key.as_bytes())),
        value: Some(Bytes::from_static(value.as_bytes())),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    (*name).to_owned(),
                    Some(Bytes::copy_from_slice(value.as_bytes())),
                )
            })
            .collect(),
    }
}

fn batch(records: &[Record], compression: Compression, producer: Producer) -> Bytes {
    let mut builder = BatchBuilder::new(Offset::new(0))
        .with_compression(compression)
        .with_producer(producer);
    for record in records {
        builder.push(record).unwrap();
    }
    builder.finish().unwrap()
}

async fn setup(dir: &tempfile::TempDir) -> (Streams, Broker) {
    let streams = Streams::open(dir.path().to_path_buf()).await.unwrap();
    let broker = Broker::with_streams(Arc::new(AllowAll), streams.clone());
    let mut orders = StreamConfig::new(name("orders"), vec![Filter::new("orders").unwrap()]);
    orders.partitions = 2;
    streams.create(orders).await.unwrap();
    (streams, broker)
}

#[tokio::test]
async fn produced_batches_are_stored_as_sent_and_fetched_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (streams, broker) = setup(&dir).await;
    let sent = batch(
        &[
            record(Some("k"), "one", &[("x-trace", "t1")]),
            record(None, "two", &[]),
        ],
        Compression::Zstd,
        Producer::NONE,
    );
    let appended = broker
        .produce(&Principal::anonymous(), &name("orders"), 1, sent.clone())
        .await
        .unwrap();
    assert_eq!((appended.base_offset, appended.last_offset), (0, 1));
    assert!(!appended.duplicate);
    let fetched = streams
        .fetch_batches(&name("orders"), 1, 0, 1 << 20)
        .await
        .unwrap();
    assert_eq!(fetched.batches.len(), 1);
    assert_eq!(fetched.high_watermark, 2);
    // Byte for byte what the producer sent (its base offset happened to be 0 already).
    assert_eq!(fetched.batches[0], sent);
    let at_end = streams
        .fetch_batches(&name("orders"), 1, 2, 1 << 20)
        .await
        .unwrap();
    assert!(at_end.batches.is_empty());
}

#[tokio::test]
async fn produced_records_reach_live_subscribers_and_other_streams_as_events() {
    let dir = tempfile::tempdir().unwrap();
    let (streams, broker) = setup(&dir).await;
    streams
        .create(StreamConfig::new(
            name("copy"),
            vec![Filter::new(">").unwrap()],
        ))
        .await
        .unwrap();
    let mut subscription = broker
        .subscribe(
            &Principal::anonymous(),
            vec![Filter::new("orders").unwrap()],
            SubscribeOptions::default(),
        )
        .unwrap();
    broker
        .produce(
            &Principal::anonymous(),
            &name("orders"),
            0,
            batch(
                &[record(Some("k"), "hello", &[])],
                Compression::Lz4,
                Producer::NONE,
            ),
        )
        .await
        .unwrap();
    let event = subscription.recv().await.unwrap();
    assert_eq!(event.cloudevent.attributes.id, "orders-0-0");
    assert_eq!(event.cloudevent.attributes.ty, "weft.kafka.record");
    assert_eq!(event.cloudevent.data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(event.key.as_deref(), Some(&b"k"[..]));
    let info = streams.describe(&name("copy")).await.unwrap();
    // The copy is best effort and asynchronous: wait for it.
    let mut copied = info.partitions[0].next_offset;
    for _ in 0..100 {
        if copied == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        copied = streams.describe(&name("copy")).await.unwrap().partitions[0].next_offset;
    }
    assert_eq!(copied, 1, "the other capturing stream got one copy");
    let orders = streams.describe(&name("orders")).await.unwrap();
    let stored: u64 = orders.partitions.iter().map(|p| p.next_offset).sum();
    assert_eq!(stored, 1, "the produced-to stream is not written twice");
}

#[tokio::test]
async fn an_idempotent_retry_is_stored_once_and_a_gap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (streams, broker) = setup(&dir).await;
    let producer = |base_sequence| Producer {
        id: 77,
        epoch: 0,
        base_sequence,
    };
    let first = batch(
        &[record(None, "a", &[]), record(None, "b", &[])],
        Compression::Gzip,
        producer(0),
    );
    let anonymous = Principal::anonymous();
    broker
        .produce(&anonymous, &name("orders"), 0, first.clone())
        .await
        .unwrap();
    let retry = broker
        .produce(&anonymous, &name("orders"), 0, first)
        .await
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.base_offset, retry.last_offset), (0, 1));
    assert!(
        retry.events.is_empty(),
        "a duplicate is not published again"
    );
    let gap = batch(&[record(None, "c", &[])], Compression::None, producer(5));
    let error = broker
        .produce(&anonymous, &name("orders"), 0, gap)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            PublishError::Storage {
                source: StreamError::Storage { .. },
                ..
            }
        ),
        "{error:?}"
    );
    let (_, next) = streams.partition_offsets(&name("orders"), 0).await.unwrap();
    assert_eq!(next, 2);
}

#[tokio::test]
async fn several_batches_in_one_produce_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let (streams, broker) = setup(&dir).await;
    let mut records = batch(
        &[record(None, "a", &[])],
        Compression::Snappy,
        Producer::NONE,
    )
    .to_vec();
    records.extend_from_slice(&batch(
        &[record(None, "b", &[]), record(None, "c", &[])],
        Compression::None,
        Producer::NONE,
    ));
    let appended = broker
        .produce(
            &Principal::anonymous(),
            &name("orders"),
            0,
            Bytes::from(records),
        )
        .await
        .unwrap();
    assert_eq!((appended.base_offset, appended.last_offset), (0, 2));
    let values: Vec<Bytes> = appended
        .events
        .iter()
        .map(|(_, event)| event.cloudevent.data.clone().unwrap())
        .collect();
    assert_eq!(values, ["a", "b", "c"]);
    let fetched = streams
        .fetch_batches(&name("orders"), 0, 1, 1 << 20)
        .await
        .unwrap();
    let first = BatchView::parse(fetched.batches[0].clone()).unwrap();
    assert_eq!(
        first.base_offset(),
        Offset::new(1),
        "the batch holding offset 1"
    );
}

#[tokio::test]
async fn bad_requests_get_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (streams, broker) = setup(&dir).await;
    let anonymous = Principal::anonymous();
    let one = batch(&[record(None, "a", &[])], Compression::None, Producer::NONE);
    let no_partition = broker
        .produce(&anonymous, &name("orders"), 9, one.clone())
        .await
        .unwrap_err();
    assert!(matches!(
        no_partition,
        PublishError::Storage {
            source: StreamError::NoPartition { partitions: 2, .. },
            ..
        }
    ));
    let missing = broker
        .produce(&anonymous, &name("nope"), 0, one.clone())
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        PublishError::Storage {
            source: StreamError::NotFound { .. },
            ..
        }
    ));
    let mut corrupt = one.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert!(
        broker
            .produce(&anonymous, &name("orders"), 0, Bytes::from(corrupt))
            .await
            .is_err()
    );
    let out_of_range = streams
        .fetch_batches(&name("orders"), 0, 5, 1024)
        .await
        .unwrap_err();
    assert!(matches!(
        out_of_range,
        StreamError::OffsetOutOfRange {
            offset: 5,
            first: 0,
            next: 0,
            ..
        }
    ));
}
