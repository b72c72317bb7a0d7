//! Streams with a broker, on temporary directories.

use std::sync::Mutex;

use bytes::Bytes;
use weft_core::{Attributes, CloudEvent, Filter, Topic};
use weft_log::SimulatedStorage;

use super::*;
use crate::stream::LocalLog;
use crate::{AllowAll, Broker, Principal, PublishError};

/// A clock that moves only when told to.
struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

fn name(text: &str) -> StreamName {
    StreamName::new(text).unwrap()
}

fn config(stream: &str, filters: &[&str]) -> StreamConfig {
    StreamConfig::new(
        name(stream),
        filters.iter().map(|f| Filter::new(*f).unwrap()).collect(),
    )
}

fn event(topic: &str, id: &str) -> Event {
    event_at(topic, id, SystemTime::now())
}

fn event_at(topic: &str, id: &str, at: SystemTime) -> Event {
    let attributes = Attributes::new(id, "/test", "test.event").unwrap();
    Event::new(
        CloudEvent::new(attributes, Some(Bytes::from(format!("data-{id}")))),
        Topic::new(topic).unwrap(),
        "node-a",
        at,
    )
}

fn keyed(topic: &str, id: &str, key: &'static str) -> Event {
    let mut event = event(topic, id);
    event.key = Some(Bytes::from_static(key.as_bytes()));
    event
}

fn ids(events: &[StoredEvent]) -> Vec<String> {
    events
        .iter()
        .map(|stored| stored.event.cloudevent.attributes.id.clone())
        .collect()
}

async fn publish(broker: &Broker, event: Event) -> Result<crate::Published, PublishError> {
    broker.publish(&Principal::anonymous(), event).await
}

fn broker(streams: &Streams) -> Broker {
    Broker::with_streams(Arc::new(AllowAll), streams.clone())
}

#[tokio::test]
async fn a_stream_captures_only_topics_matching_its_filters() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().join("streams")).await.unwrap();
    streams
        .create(config("orders", &["orders/>"]))
        .await
        .unwrap();
    streams
        .create(config("other", &["payments/*"]))
        .await
        .unwrap();
    let broker = broker(&streams);
    let published = publish(&broker, event("orders/eu/1", "a")).await.unwrap();
    assert_eq!(published.stored.len(), 1);
    assert_eq!(published.stored[0].stream, name("orders"));
    publish(&broker, event("elsewhere", "b")).await.unwrap();
    let orders = streams
        .read(&name("orders"), None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    assert_eq!(ids(&orders), ["a"]);
    let other = streams
        .read(&name("other"), None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    assert!(other.is_empty());
    streams.close().await;
}

#[tokio::test]
async fn durably_acknowledged_events_survive_close_and_reopen_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streams");
    let streams = Streams::open(path.clone()).await.unwrap();
    streams.create(config("s", &["t/>"])).await.unwrap();
    let broker = broker(&streams);
    for (index, id) in ["1", "2", "3", "4"].iter().enumerate() {
        let published = publish(&broker, event("t/x", id)).await.unwrap();
        assert_eq!(
            published.stored,
            [StoredAt {
                stream: name("s"),
                partition: 0,
                offset: index as u64
            }]
        );
    }
    streams.close().await;
    assert!(publish(&broker, event("t/x", "late")).await.is_err());

    let reopened = Streams::open(path).await.unwrap();
    let events = reopened
        .read(&name("s"), Some(0), ReadFrom::Earliest, 100)
        .await
        .unwrap();
    assert_eq!(ids(&events), ["1", "2", "3", "4"]);
    assert_eq!(events[3].offset, 3);
    assert_eq!(events[0].event.topic.as_str(), "t/x");
    let info = reopened.describe(&name("s")).await.unwrap();
    assert_eq!(info.partitions[0].next_offset, 4);
    reopened.close().await;
}

use crate::StoredAt;

#[tokio::test]
async fn keyed_events_use_kafkas_partition_and_keyless_events_are_spread() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    let mut four = config("s", &["k"]);
    four.partitions = 4;
    streams.create(four).await.unwrap();
    let broker = broker(&streams);
    let expected = partition_for_key(b"customer-42", 4);
    for id in 0..5 {
        let published = publish(&broker, keyed("k", &format!("k{id}"), "customer-42"))
            .await
            .unwrap();
        assert_eq!(published.stored[0].partition, expected);
    }
    // The partitionkey extension partitions an event without a key.
    let mut extension = event("k", "ext");
    extension
        .cloudevent
        .attributes
        .set(PARTITION_KEY_EXTENSION, "customer-42".into())
        .unwrap();
    assert_eq!(
        publish(&broker, extension).await.unwrap().stored[0].partition,
        expected
    );

    let mut per_partition = [0usize; 4];
    for id in 0..8 {
        let published = publish(&broker, event("k", &format!("n{id}")))
            .await
            .unwrap();
        per_partition[published.stored[0].partition as usize] += 1;
    }
    assert_eq!(per_partition, [2, 2, 2, 2]);
    streams.close().await;
}

#[tokio::test]
async fn a_repeated_source_and_id_is_stored_once_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let options = StreamsOptions {
        clock: clock.clone(),
        ..StreamsOptions::default()
    };
    let path = dir.path().to_owned();
    let streams = Streams::open_with(path.clone(), options.clone())
        .await
        .unwrap();
    let mut windowed = config("s", &["t"]);
    windowed.dedupe_window = Duration::from_secs(60);
    streams.create(windowed).await.unwrap();
    let broker = broker(&streams);

    let first = publish(&broker, event("t", "same")).await.unwrap();
    assert_eq!((first.stored.len(), first.duplicates), (1, 0));
    clock.advance(Duration::from_secs(59));
    let second = publish(&broker, event("t", "same")).await.unwrap();
    assert_eq!((second.stored.len(), second.duplicates), (0, 1));
    clock.advance(Duration::from_secs(2));
    let third = publish(&broker, event("t", "same")).await.unwrap();
    assert_eq!((third.stored.len(), third.duplicates), (1, 0));
    let stored = streams
        .read(&name("s"), None, ReadFrom::Earliest, 10)
        .await
        .unwrap();
    assert_eq!(ids(&stored), ["same", "same"]);
    streams.close().await;
}

#[tokio::test]
async fn the_dedupe_window_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let options = StreamsOptions {
        clock: clock.clone(),
        ..StreamsOptions::default()
    };
    let path = dir.path().to_owned();
    let streams = Streams::open_with(path.clone(), options.clone())
        .await
        .unwrap();
    let mut windowed = config("s", &["t"]);
    windowed.dedupe_window = Duration::from_secs(60);
    streams.create(windowed).await.unwrap();
    // Record timestamps are receive times, so the event is received "now" on the clock.
    publish(&broker(&streams), event_at("t", "once", clock.now()))
        .await
        .unwrap();
    streams.close().await;

    clock.advance(Duration::from_secs(30));
    let reopened = Streams::open_with(path, options).await.unwrap();
    let again = publish(&broker(&reopened), event_at("t", "once", clock.now()))
        .await
        .unwrap();
    assert_eq!(again.duplicates, 1);
    reopened.close().await;
}

#[tokio::test]
async fn an_event_larger_than_a_capturing_stream_accepts_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    let mut small = config("small", &["t"]);
    small.max_event_bytes = 200;
    streams.create(small).await.unwrap();
    streams.create(config("large", &["t"])).await.unwrap();
    let broker = broker(&streams);
    let mut big = event("t", "big");
    big.cloudevent.data = Some(Bytes::from(vec![b'x'; 500]));
    let error = publish(&broker, big).await.unwrap_err();
    assert!(
        matches!(&error, PublishError::EventTooLarge { stream, max: 200, .. } if stream.as_str() == "small"),
        "{error:?}"
    );
    for stream in ["small", "large"] {
        let stored = streams
            .read(&name(stream), None, ReadFrom::Earliest, 10)
            .await
            .unwrap();
        assert!(stored.is_empty());
    }
    streams.close().await;
}

#[tokio::test]
async fn update_adds_partitions_and_refuses_to_remove_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let streams = Streams::open(path.clone()).await.unwrap();
    let mut two = config("s", &["t"]);
    two.partitions = 2;
    streams.create(two.clone()).await.unwrap();

    let mut three = two.clone();
    three.partitions = 3;
    three.filters.push(Filter::new("u/>").unwrap());
    let info = streams.update(three.clone()).await.unwrap();
    assert_eq!(info.partitions.len(), 3);
    assert!(path.join("s").join("2").is_dir());
    let published = publish(&broker(&streams), event("u/x", "new-filter"))
        .await
        .unwrap();
    assert_eq!(published.stored.len(), 1);

    let error = streams.update(two).await.unwrap_err();
    assert!(matches!(error, StreamError::Invalid { .. }), "{error:?}");
    let mut never = three.clone();
    never.flush = crate::FlushPolicy::Never;
    assert!(matches!(
        streams.update(never).await,
        Err(StreamError::Invalid { .. })
    ));
    streams.close().await;

    let reopened = Streams::open(path).await.unwrap();
    assert_eq!(reopened.describe(&name("s")).await.unwrap().config, three);
    reopened.close().await;
}

#[tokio::test]
async fn create_is_idempotent_for_an_identical_config_only() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    streams.create(config("s", &["t"])).await.unwrap();
    streams.create(config("s", &["t"])).await.unwrap();
    let error = streams.create(config("s", &["other"])).await.unwrap_err();
    assert!(matches!(error, StreamError::AlreadyExists { .. }));
    assert_eq!(streams.list().await.len(), 1);
    streams.close().await;
}

#[tokio::test]
async fn delete_removes_the_stream_and_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    streams.create(config("gone", &["t"])).await.unwrap();
    let broker = broker(&streams);
    publish(&broker, event("t", "1")).await.unwrap();
    streams.delete(&name("gone")).await.unwrap();
    assert!(!dir.path().join("gone").exists());
    assert!(matches!(
        streams.describe(&name("gone")).await,
        Err(StreamError::NotFound { .. })
    ));
    let published = publish(&broker, event("t", "2")).await.unwrap();
    assert!(published.stored.is_empty());
    assert!(streams.list().await.is_empty());
}

#[tokio::test]
async fn reads_start_at_earliest_latest_an_offset_or_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    streams.create(config("s", &["t"])).await.unwrap();
    let broker = broker(&streams);
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for index in 0..5u64 {
        let at = base + Duration::from_secs(index * 10);
        publish(&broker, event_at("t", &index.to_string(), at))
            .await
            .unwrap();
    }
    let s = name("s");
    let read = |from| streams.read(&s, None, from, 100);
    assert_eq!(
        ids(&read(ReadFrom::Earliest).await.unwrap()),
        ["0", "1", "2", "3", "4"]
    );
    assert!(read(ReadFrom::Latest).await.unwrap().is_empty());
    assert_eq!(ids(&read(ReadFrom::Offset(3)).await.unwrap()), ["3", "4"]);
    assert!(read(ReadFrom::Offset(99)).await.unwrap().is_empty());
    let from_time = read(ReadFrom::Time(base + Duration::from_secs(15)))
        .await
        .unwrap();
    assert_eq!(ids(&from_time), ["2", "3", "4"]);
    assert_eq!(
        from_time[0].event.received_at,
        base + Duration::from_secs(20)
    );
    let limited = streams
        .read(&s, Some(0), ReadFrom::Earliest, 2)
        .await
        .unwrap();
    assert_eq!(ids(&limited), ["0", "1"]);
    assert!(matches!(
        streams.read(&s, Some(1), ReadFrom::Earliest, 2).await,
        Err(StreamError::Invalid { .. })
    ));
    streams.close().await;
}

#[tokio::test]
async fn a_failed_sync_reaches_the_publisher_as_an_error_and_a_retry_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SimulatedStorage::new();
    let shared = disk.clone();
    let options = StreamsOptions {
        store: Arc::new(LocalLog {
            storage: Arc::new(move |_: &std::path::Path| {
                Ok(Arc::new(shared.clone()) as Arc<dyn weft_log::Storage>)
            }),
            ..LocalLog::default()
        }),
        ..StreamsOptions::default()
    };
    let streams = Streams::open_with(dir.path().to_owned(), options)
        .await
        .unwrap();
    streams.create(config("s", &["t"])).await.unwrap();
    let broker = broker(&streams);
    disk.fail_syncs(true);
    let error = publish(&broker, event("t", "x")).await.unwrap_err();
    assert!(matches!(error, PublishError::Storage { .. }), "{error:?}");
    disk.fail_syncs(false);
    let retry = publish(&broker, event("t", "x")).await.unwrap();
    assert_eq!((retry.stored.len(), retry.duplicates), (1, 0));
    streams.close().await;
}

#[tokio::test]
async fn ack_none_still_stores_in_publish_order() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    streams.create(config("s", &["t"])).await.unwrap();
    let broker = broker(&streams);
    for id in 0..50 {
        let pending = broker
            .submit(
                &Principal::anonymous(),
                event("t", &id.to_string()),
                crate::PublishOptions::default(),
            )
            .await
            .unwrap();
        drop(pending); // not waited for
    }
    // Close stores everything submitted before it.
    streams.close().await;
    let reopened = Streams::open(dir.path().to_owned()).await.unwrap();
    let stored = reopened
        .read(&name("s"), None, ReadFrom::Earliest, 100)
        .await
        .unwrap();
    let expected: Vec<String> = (0..50).map(|id: i32| id.to_string()).collect();
    assert_eq!(ids(&stored), expected);
    reopened.close().await;
}

#[test]
fn stream_and_publish_futures_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    let dir = std::path::PathBuf::new();
    let streams_future = Streams::open(dir);
    send(&streams_future);
    drop(streams_future);
    fn check(streams: &Streams, broker: &Broker, stream: &StreamName) {
        send(&streams.create(config("s", &["t"])));
        send(&streams.update(config("s", &["t"])));
        send(&streams.delete(stream));
        send(&streams.list());
        send(&streams.describe(stream));
        send(&streams.read(stream, None, ReadFrom::Earliest, 1));
        send(&streams.maintain());
        send(&streams.close());
        send(&broker.publish(&Principal::anonymous(), event("t", "x")));
    }
    let _ = check;
}

fn discard_new(stream: &str, filters: &[&str], retention: StreamRetention) -> StreamConfig {
    let mut config = config(stream, filters);
    config.discard = Discard::New;
    config.retention = retention;
    config
}

fn is_full(error: &PublishError, stream: &str, expected: StreamLimit) -> bool {
    matches!(
        error,
        PublishError::Storage { source: StreamError::Full { stream: full, limit, .. }, .. }
            if full == stream && *limit == expected
    )
}

#[tokio::test]
async fn discard_new_refuses_the_event_past_max_events_and_stores_it_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    let limits = StreamRetention {
        max_events: Some(2),
        ..StreamRetention::default()
    };
    streams
        .create(discard_new("full", &["t"], limits))
        .await
        .unwrap();
    streams.create(config("other", &["t"])).await.unwrap();
    let broker = broker(&streams);
    let mut live = broker
        .subscribe(
            &Principal::anonymous(),
            vec![Filter::new("t").unwrap()],
            crate::SubscribeOptions::default(),
        )
        .unwrap();
    publish(&broker, event("t", "1")).await.unwrap();
    publish(&broker, event("t", "2")).await.unwrap();
    let error = publish(&broker, event("t", "3")).await.unwrap_err();
    assert!(
        is_full(&error, "full", StreamLimit::MaxEvents(2)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "stream full could not store the event",
        "the cause names the limit: {:?}",
        std::error::Error::source(&error).map(ToString::to_string)
    );
    for stream in ["full", "other"] {
        let stored = streams
            .read(&name(stream), None, ReadFrom::Earliest, 10)
            .await
            .unwrap();
        assert_eq!(ids(&stored), ["1", "2"], "stream {stream}");
    }
    let mut delivered = Vec::new();
    // Fan-out is queued within publish, so everything delivered is already queued.
    while let Some(event) = live.try_recv() {
        delivered.push(event.unwrap().cloudevent.attributes.id.clone());
    }
    assert_eq!(
        delivered,
        ["1", "2"],
        "the refused event reached no subscriber"
    );

    // Raising the limit lets the same event in, into both streams: neither remembered
    // the refused event as a duplicate.
    let mut raised = discard_new("full", &["t"], limits);
    raised.retention.max_events = Some(3);
    streams.update(raised).await.unwrap();
    let published = publish(&broker, event("t", "3")).await.unwrap();
    assert_eq!(published.duplicates, 0);
    assert_eq!(published.stored.len(), 2);
    streams.close().await;
}

#[tokio::test]
async fn discard_old_keeps_accepting_past_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    let mut config = config("s", &["t"]);
    config.retention.max_events = Some(2);
    config.retention.max_bytes = Some(100);
    streams.create(config).await.unwrap();
    let broker = broker(&streams);
    for id in ["1", "2", "3", "4", "5"] {
        publish(&broker, event("t", id)).await.unwrap();
    }
    let info = streams.describe(&name("s")).await.unwrap();
    assert_eq!(info.partitions[0].next_offset, 5);
    streams.close().await;
}

#[tokio::test]
async fn discard_new_keeps_a_partition_within_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    let limits = StreamRetention {
        max_bytes: Some(1000),
        ..StreamRetention::default()
    };
    streams
        .create(discard_new("s", &["t"], limits))
        .await
        .unwrap();
    let broker = broker(&streams);
    let mut accepted = 0;
    let mut refusal = None;
    for id in 0..50 {
        match publish(&broker, event("t", &id.to_string())).await {
            Ok(_) => accepted += 1,
            Err(error) => {
                refusal = Some(error);
                break;
            }
        }
    }
    let error = refusal.expect("a publish past max_bytes is refused");
    assert!(
        is_full(&error, "s", StreamLimit::MaxBytes(1000)),
        "{error:?}"
    );
    assert!(accepted > 0);
    let info = streams.describe(&name("s")).await.unwrap();
    assert_eq!(info.partitions[0].next_offset, accepted);
    assert!(info.partitions[0].bytes <= 1000, "{:?}", info.partitions);
    streams.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_never_take_a_partition_past_max_events() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::open(dir.path().to_owned()).await.unwrap();
    let limits = StreamRetention {
        max_events: Some(10),
        ..StreamRetention::default()
    };
    streams
        .create(discard_new("s", &["t"], limits))
        .await
        .unwrap();
    let broker = broker(&streams);
    let tasks: Vec<_> = (0..40)
        .map(|id| {
            let broker = broker.clone();
            tokio::spawn(async move { publish(&broker, event("t", &id.to_string())).await })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(error) => assert!(
                is_full(&error, "s", StreamLimit::MaxEvents(10)),
                "{error:?}"
            ),
        }
    }
    assert_eq!(accepted, 10);
    let info = streams.describe(&name("s")).await.unwrap();
    assert_eq!(info.partitions[0].next_offset, 10);
    streams.close().await;
}

#[tokio::test]
async fn bytes_grow_with_appends_and_limits_hold_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streams");
    let streams = Streams::open(path.clone()).await.unwrap();
    let limits = StreamRetention {
        max_events: Some(2),
        ..StreamRetention::default()
    };
    streams
        .create(discard_new("s", &["t"], limits))
        .await
        .unwrap();
    let first = broker(&streams);
    let bytes = |info: StreamInfo| info.partitions[0].bytes;
    assert_eq!(bytes(streams.describe(&name("s")).await.unwrap()), 0);
    publish(&first, event("t", "1")).await.unwrap();
    let one = bytes(streams.describe(&name("s")).await.unwrap());
    assert!(one > 0);
    publish(&first, event("t", "2")).await.unwrap();
    let two = bytes(streams.describe(&name("s")).await.unwrap());
    assert!(two > one, "{two} > {one}");
    streams.close().await;

    let streams = Streams::open(path).await.unwrap();
    let info = streams.describe(&name("s")).await.unwrap();
    assert_eq!(info.config.discard, Discard::New);
    assert_eq!(bytes(info), two);
    let reopened = broker(&streams);
    let error = publish(&reopened, event("t", "3")).await.unwrap_err();
    assert!(is_full(&error, "s", StreamLimit::MaxEvents(2)), "{error:?}");
    streams.close().await;
}
