#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic
//! Power loss under the broker: streams (partition logs and `stream.json`) and durable
//! consumers' cursors on one `SimulatedDisk`, cut at seeded random moments while
//! publishers, a consumer and stream administration run. After each cut the broker is
//! opened again on what survived and must show that:
//!
//! * every acknowledged publish is in its stream exactly once (publishes that were not
//!   acknowledged are retried with the same `source` + `id`, and the dedupe window
//!   rebuilt from the log must drop the ones that had been stored);
//! * no offset the consumer acknowledged is delivered again (its cursors never went
//!   back past an acknowledgement);
//! * a stream whose creation was acknowledged exists with its configuration, and one
//!   whose deletion was acknowledged does not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weft_broker::state::{SimulatedDisk, TornWrite};
use weft_broker::storage::LocalLog;
use weft_broker::{
    AllowAll, Broker, ConsumerConfig, ConsumerName, Principal, ReadFrom, StreamConfig, StreamName,
    StreamsOptions,
};
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};

const ROUNDS: usize = 6;
const PUBLISHERS: usize = 4;

/// splitmix64: a small seeded generator, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("WEFT_POWER_LOSS_SEED") {
        Ok(seed) => vec![seed.parse().expect("WEFT_POWER_LOSS_SEED is a number")],
        Err(_) => vec![1, 2, 3],
    }
}

fn name(text: &str) -> StreamName {
    StreamName::new(text).unwrap()
}

fn orders() -> StreamName {
    name("orders")
}

fn billing() -> ConsumerName {
    ConsumerName::new("billing").unwrap()
}

fn event(id: &str) -> Event {
    let attributes = Attributes::new(id, "/publisher", "test.order").unwrap();
    Event::new(
        CloudEvent::new(attributes, Some(Bytes::from(format!("order {id}")))),
        Topic::new("orders/new").unwrap(),
        "node",
        SystemTime::now(),
    )
}

fn orders_config() -> StreamConfig {
    let mut config = StreamConfig::new(orders(), vec![Filter::new("orders/>").unwrap()]);
    config.settings.partitions = 3;
    config
}

fn extra_config(round: usize) -> StreamConfig {
    StreamConfig::new(
        name(&format!("extra-{round}")),
        vec![Filter::new(format!("extra/{round}")).unwrap()],
    )
}

/// What was acknowledged, across rounds.
#[derive(Debug, Clone, Default)]
struct Acknowledged {
    /// Publishes acknowledged, by id.
    events: BTreeSet<String>,
    /// Publishes submitted and not (yet) acknowledged: retried after the next start.
    pending: BTreeSet<String>,
    /// Consumer acks that returned `Ok`: (partition, offset).
    consumed: BTreeSet<(u32, u64)>,
    /// Streams whose creation returned `Ok` and whose deletion did not.
    streams: BTreeMap<StreamName, StreamConfig>,
    /// Streams whose deletion returned `Ok`.
    deleted: BTreeSet<StreamName>,
}

async fn open(disk: &SimulatedDisk) -> Broker {
    let mount = disk.mount();
    let mut log = LocalLog::on(Arc::clone(&mount));
    // Small segments, so that runs roll segments (a creation and a directory sync).
    log.log.segment_bytes = 4096;
    let options = StreamsOptions {
        store: Arc::new(log),
        ..StreamsOptions::on_disk(mount)
    };
    Broker::open(
        Arc::new(AllowAll),
        Path::new("/node/streams").to_owned(),
        options,
    )
    .await
    .expect("the broker opens on what survived")
}

/// Checks what survived against what was acknowledged.
async fn check(broker: &Broker, acknowledged: &Acknowledged, seed: u64, round: usize) {
    let who = Principal::anonymous();
    let context = format!("seed {seed}, after the cut of round {round}");
    let stored = broker
        .read_stream(&who, &orders(), None, ReadFrom::Earliest, usize::MAX)
        .await
        .unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for stored in &stored {
        *counts
            .entry(stored.event.cloudevent.attributes.id.as_str())
            .or_default() += 1;
    }
    for id in &acknowledged.events {
        assert_eq!(
            counts.get(id.as_str()).copied().unwrap_or(0),
            1,
            "{context}: acknowledged event {id} must be stored exactly once"
        );
    }
    for (id, count) in &counts {
        assert_eq!(*count, 1, "{context}: event {id} is stored {count} times");
    }
    for (stream, config) in &acknowledged.streams {
        let info = broker
            .describe_stream(&who, stream)
            .await
            .unwrap_or_else(|error| {
                panic!("{context}: stream {stream} was created, then lost: {error}")
            });
        assert_eq!(&info.config, config, "{context}: the config of {stream}");
    }
    for stream in &acknowledged.deleted {
        assert!(
            broker.describe_stream(&who, stream).await.is_err(),
            "{context}: stream {stream} was deleted, then came back"
        );
    }
}

/// Pulls and acks until nothing is left, checking that nothing acknowledged comes again.
async fn drain(broker: &Broker, model: &Mutex<Acknowledged>, context: &str) {
    let who = Principal::anonymous();
    loop {
        let deliveries = broker
            .pull(
                &who,
                &orders(),
                &billing(),
                "m",
                100,
                Duration::from_millis(20),
            )
            .await
            .unwrap();
        if deliveries.is_empty() {
            return;
        }
        for delivery in deliveries {
            let position = (delivery.partition, delivery.offset);
            assert!(
                !model.lock().unwrap().consumed.contains(&position),
                "{context}: offset {position:?} was acknowledged before the cut and is delivered again"
            );
            broker
                .ack(&who, &orders(), &billing(), &delivery.token)
                .await
                .unwrap();
            model.lock().unwrap().consumed.insert(position);
        }
    }
}

async fn publisher(broker: Broker, model: Arc<Mutex<Acknowledged>>, ids: Vec<String>) {
    let who = Principal::anonymous();
    for id in ids {
        model.lock().unwrap().pending.insert(id.clone());
        if broker.publish(&who, event(&id)).await.is_ok() {
            let mut model = model.lock().unwrap();
            model.pending.remove(&id);
            model.events.insert(id);
        }
    }
}

async fn consumer(broker: Broker, model: Arc<Mutex<Acknowledged>>) {
    let who = Principal::anonymous();
    loop {
        let Ok(deliveries) = broker
            .pull(
                &who,
                &orders(),
                &billing(),
                "m",
                10,
                Duration::from_millis(20),
            )
            .await
        else {
            return;
        };
        for delivery in deliveries {
            let acked = broker
                .ack(&who, &orders(), &billing(), &delivery.token)
                .await;
            if acked.is_ok() {
                model
                    .lock()
                    .unwrap()
                    .consumed
                    .insert((delivery.partition, delivery.offset));
            }
        }
    }
}

async fn administrator(broker: Broker, model: Arc<Mutex<Acknowledged>>, round: usize) {
    let who = Principal::anonymous();
    let config = extra_config(round);
    if broker.create_stream(&who, config.clone()).await.is_ok() {
        model
            .lock()
            .unwrap()
            .streams
            .insert(config.name.clone(), config);
    }
    if round > 0 {
        let previous = extra_config(round - 1).name;
        if broker.delete_stream(&who, &previous).await.is_ok() {
            let mut model = model.lock().unwrap();
            model.streams.remove(&previous);
            model.deleted.insert(previous);
        }
    }
}

async fn run(seed: u64) {
    let mut rng = Rng(seed);
    let disk = SimulatedDisk::new();
    let model = Arc::new(Mutex::new(Acknowledged::default()));
    let who = Principal::anonymous();
    {
        let broker = open(&disk).await;
        broker.create_stream(&who, orders_config()).await.unwrap();
        broker
            .create_consumer(&who, ConsumerConfig::new(orders(), billing()))
            .await
            .unwrap();
        model
            .lock()
            .unwrap()
            .streams
            .insert(orders(), orders_config());
    }
    for round in 0..ROUNDS {
        let broker = open(&disk).await;
        let acknowledged = model.lock().unwrap().clone();
        check(&broker, &acknowledged, seed, round).await;
        drain(&broker, &model, &format!("seed {seed}, round {round}")).await;

        // Retry what was never acknowledged, then new events, from several publishers.
        let retries: Vec<String> = std::mem::take(&mut model.lock().unwrap().pending)
            .into_iter()
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for publisher_index in 0..PUBLISHERS {
            let mut ids: Vec<String> = retries
                .iter()
                .skip(publisher_index)
                .step_by(PUBLISHERS)
                .cloned()
                .collect();
            ids.extend((0..10_000).map(|i| format!("r{round}-p{publisher_index}-{i}")));
            tasks.spawn(publisher(broker.clone(), Arc::clone(&model), ids));
        }
        tasks.spawn(consumer(broker.clone(), Arc::clone(&model)));
        tasks.spawn(administrator(broker.clone(), Arc::clone(&model), round));

        tokio::time::sleep(Duration::from_millis(5 + rng.below(60))).await;
        let torn = match rng.below(3) {
            0 => TornWrite::DropUnsynced,
            1 => TornWrite::KeepPrefix(rng.below(300) as usize),
            _ => TornWrite::ZeroFilled(rng.below(300) as usize),
        };
        disk.power_loss(torn);
        // What was left of the "dead" process: stopped, its I/O failing since the cut.
        tasks.shutdown().await;
        drop(broker);
    }
    let broker = open(&disk).await;
    let acknowledged = model.lock().unwrap().clone();
    check(&broker, &acknowledged, seed, ROUNDS).await;
    drain(&broker, &model, &format!("seed {seed}, the end")).await;
    let model = model.lock().unwrap();
    assert!(
        model.events.len() > ROUNDS * 10,
        "seed {seed}: the rounds did acknowledged work ({} events)",
        model.events.len()
    );
    assert!(
        !model.consumed.is_empty(),
        "seed {seed}: the consumer acked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_events_cursors_and_streams_survive_power_loss() {
    for seed in seeds() {
        run(seed).await;
    }
}
