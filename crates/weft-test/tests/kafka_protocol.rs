//! The Kafka listener byte by byte: bad input gets the right error code or a clean
//! disconnect and harms no other connection; version edges; zero-copy fetch; long polls.
//! Behaviour with real clients is tested by `tests/compat/kafka_compat.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::time::{Duration, Instant};

use bytes::Bytes;
use weft_kafka::protocol::{
    ApiVersionsRequest, ErrorCode, FetchPartition, FetchRequest, FetchTopic, MetadataRequest,
    MetadataRequestTopic, ProducePartition, ProduceRequest, ProduceTopic, Request, Response,
    decode_response,
};
use weft_log::{BatchBuilder, Compression, Offset, Producer, Record};
use weft_test::{KafkaClient, TestNode};

async fn node_and_client() -> (TestNode, KafkaClient) {
    let node = TestNode::start().await.unwrap();
    let client = KafkaClient::connect(node.kafka_address().unwrap())
        .await
        .unwrap();
    (node, client)
}

fn batch(values: &[&str], producer: Producer) -> Bytes {
    let mut builder = BatchBuilder::new(Offset::new(0))
        .with_compression(Compression::Zstd)
        .with_producer(producer);
    for value in values {
        builder
            .push(&Record {
                timestamp_ms: 1_700_000_000_000,
                key: None,
                value: Some(Bytes::copy_from_slice(value.as_bytes())),
                headers: Vec::new(),
            })
            .unwrap();
    }
    builder.finish().unwrap()
}

fn produce(topic: &str, partition: i32, records: Bytes) -> Request {
    Request::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topics: vec![ProduceTopic {
            name: topic.to_owned(),
            partitions: vec![ProducePartition {
                index: partition,
                records: Some(records),
            }],
        }],
        ..Default::default()
    })
}

fn fetch(topic: &str, offset: i64, max_wait_ms: i32) -> Request {
    Request::Fetch(FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.to_owned(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
        }],
        ..Default::default()
    })
}

async fn create_topic(client: &mut KafkaClient, topic: &str) {
    let Response::Metadata(metadata) = client
        .call(
            9,
            Request::Metadata(MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(topic.to_owned()),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap()
    else {
        panic!("not a metadata response");
    };
    assert_eq!(metadata.topics[0].error_code, ErrorCode::NONE);
}

fn produce_code(response: &Response) -> (ErrorCode, i64) {
    let Response::Produce(produce) = response else {
        panic!("not a produce response: {response:?}");
    };
    let partition = &produce.responses[0].partitions[0];
    (partition.error_code, partition.base_offset)
}

async fn still_serving(node: &TestNode) {
    let mut other = KafkaClient::connect(node.kafka_address().unwrap())
        .await
        .unwrap();
    let response = other
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
        .unwrap();
    assert!(
        matches!(response, Response::ApiVersions(ref versions) if versions.error_code == ErrorCode::NONE)
    );
}

#[tokio::test]
async fn a_malformed_frame_closes_only_its_own_connection() {
    let (node, mut client) = node_and_client().await;
    // A frame of 12 bytes of garbage: api key 18 (ApiVersions) v3, then nonsense.
    client
        .write_raw(&[0, 0, 0, 12, 0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f])
        .await
        .unwrap();
    client.expect_closed(Duration::from_secs(5)).await.unwrap();
    still_serving(&node).await;
}

#[tokio::test]
async fn an_unknown_api_key_closes_the_connection() {
    let (node, mut client) = node_and_client().await;
    client
        .write_raw(&[0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 7, 0xff, 0xff])
        .await
        .unwrap();
    client.expect_closed(Duration::from_secs(5)).await.unwrap();
    still_serving(&node).await;
}

#[tokio::test]
async fn a_request_over_the_maximum_size_is_refused_before_it_is_read() {
    let (node, mut client) = node_and_client().await;
    client.write_raw(&[0x10, 0, 0, 0]).await.unwrap(); // 256 MiB announced
    client.expect_closed(Duration::from_secs(5)).await.unwrap();
    still_serving(&node).await;
}

#[tokio::test]
async fn a_too_new_api_versions_request_gets_the_supported_list_at_v0() {
    let (_node, mut client) = node_and_client().await;
    // ApiVersions v99 with an empty body; the answer is encoded at v0.
    client
        .write_raw(&[0, 0, 0, 10, 0, 18, 0, 99, 0, 0, 0, 5, 0xff, 0xff])
        .await
        .unwrap();
    let frame = client.read_frame(Duration::from_secs(5)).await.unwrap();
    let Response::ApiVersions(versions) = decode_response(18, 0, frame).unwrap() else {
        panic!("not an api versions response");
    };
    assert_eq!(versions.error_code, ErrorCode::UNSUPPORTED_VERSION);
    let produce = versions
        .api_keys
        .iter()
        .find(|api| api.api_key == 0)
        .unwrap();
    assert_eq!(
        (produce.min_version, produce.max_version),
        (0, 9),
        "produce is advertised from version 0, or librdkafka disables compression"
    );
}

#[tokio::test]
async fn an_invalid_topic_name_is_invalid_topic_exception() {
    let (_node, mut client) = node_and_client().await;
    let Response::Metadata(metadata) = client
        .call(
            1,
            Request::Metadata(MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some("bad/name".to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
    else {
        panic!("not a metadata response");
    };
    assert_eq!(
        metadata.topics[0].error_code,
        ErrorCode::INVALID_TOPIC_EXCEPTION
    );
    let response = client
        .call(3, produce("bad/name", 0, batch(&["x"], Producer::NONE)))
        .await
        .unwrap();
    assert_eq!(
        produce_code(&response).0,
        ErrorCode::INVALID_TOPIC_EXCEPTION
    );
}

#[tokio::test]
async fn produce_errors_name_the_partition_the_crc_and_the_sequence() {
    let (node, mut client) = node_and_client().await;
    create_topic(&mut client, "orders").await;
    let one = batch(&["a"], Producer::NONE);
    let missing = client
        .call(7, produce("orders", 5, one.clone()))
        .await
        .unwrap();
    assert_eq!(
        produce_code(&missing).0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    let unknown = client
        .call(7, produce("no-such-topic", 0, one.clone()))
        .await
        .unwrap();
    assert_eq!(
        produce_code(&unknown).0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    let mut corrupt = one.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    let response = client
        .call(7, produce("orders", 0, Bytes::from(corrupt)))
        .await
        .unwrap();
    assert_eq!(produce_code(&response).0, ErrorCode::CORRUPT_MESSAGE);

    let producer = |base_sequence| Producer {
        id: 4242,
        epoch: 0,
        base_sequence,
    };
    let first = batch(&["p0", "p1"], producer(0));
    let stored = client
        .call(9, produce("orders", 0, first.clone()))
        .await
        .unwrap();
    assert_eq!(produce_code(&stored), (ErrorCode::NONE, 0));
    let retried = client.call(9, produce("orders", 0, first)).await.unwrap();
    assert_eq!(
        produce_code(&retried),
        (ErrorCode::NONE, 0),
        "a retry answers with the first offset"
    );
    let gap = client
        .call(9, produce("orders", 0, batch(&["p5"], producer(5))))
        .await
        .unwrap();
    assert_eq!(
        produce_code(&gap).0,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    still_serving(&node).await;
}

#[tokio::test]
async fn fetch_returns_the_stored_batch_bytes_unchanged() {
    let (_node, mut client) = node_and_client().await;
    create_topic(&mut client, "raw").await;
    let sent = batch(&["one", "two"], Producer::NONE);
    client
        .call(9, produce("raw", 0, sent.clone()))
        .await
        .unwrap();
    let Response::Fetch(response) = client.call(12, fetch("raw", 1, 0)).await.unwrap() else {
        panic!("not a fetch response");
    };
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, ErrorCode::NONE);
    assert_eq!(partition.high_watermark, 2);
    let records: Vec<u8> = partition
        .records
        .iter()
        .flat_map(|chunk| chunk.to_vec())
        .collect();
    // The whole batch holding offset 1, byte for byte as produced (base offset 0).
    assert_eq!(records, sent.to_vec());
}

#[tokio::test]
async fn an_offset_out_of_range_says_so_with_the_watermarks() {
    let (_node, mut client) = node_and_client().await;
    create_topic(&mut client, "range").await;
    client
        .call(9, produce("range", 0, batch(&["a"], Producer::NONE)))
        .await
        .unwrap();
    let Response::Fetch(response) = client.call(11, fetch("range", 7, 0)).await.unwrap() else {
        panic!("not a fetch response");
    };
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, ErrorCode::OFFSET_OUT_OF_RANGE);
    assert_eq!(
        (partition.log_start_offset, partition.high_watermark),
        (0, 1)
    );
}

#[tokio::test]
async fn a_long_poll_wakes_on_a_produce_and_otherwise_waits_its_time() {
    let node = TestNode::start().await.unwrap();
    let address = node.kafka_address().unwrap();
    let mut consumer = KafkaClient::connect(address).await.unwrap();
    create_topic(&mut consumer, "poll").await;

    let started = Instant::now();
    let Response::Fetch(empty) = consumer.call(12, fetch("poll", 0, 300)).await.unwrap() else {
        panic!("not a fetch response");
    };
    assert!(empty.responses[0].partitions[0].records.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the fetch waited"
    );

    let waiting = tokio::spawn(async move {
        let response = consumer.call(12, fetch("poll", 0, 10_000)).await.unwrap();
        (response, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut producer = KafkaClient::connect(address).await.unwrap();
    let produced_at = Instant::now();
    producer
        .call(9, produce("poll", 0, batch(&["wake"], Producer::NONE)))
        .await
        .unwrap();
    let (response, answered_at) = waiting.await.unwrap();
    let Response::Fetch(response) = response else {
        panic!("not a fetch response");
    };
    assert!(!response.responses[0].partitions[0].records.is_empty());
    assert!(
        answered_at.duration_since(produced_at) < Duration::from_secs(5),
        "the produce woke the fetch long before its 10 s wait"
    );
}

#[tokio::test]
async fn acks_zero_gets_no_response_but_is_stored() {
    let (_node, mut client) = node_and_client().await;
    create_topic(&mut client, "fire").await;
    let Request::Produce(mut request) = produce("fire", 0, batch(&["x"], Producer::NONE)) else {
        unreachable!()
    };
    request.acks = 0;
    client.send(9, &Request::Produce(request)).await.unwrap();
    // The next response on the connection belongs to the next request.
    let Response::Fetch(response) = client.call(12, fetch("fire", 0, 1000)).await.unwrap() else {
        panic!("the produce was answered");
    };
    assert_eq!(response.responses[0].partitions[0].high_watermark, 1);
}
