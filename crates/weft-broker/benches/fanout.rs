//! Fan-out cost: one publish queued to N live subscribers (the enqueue work a publisher
//! pays; delivery to sockets is measured end to end in docs/BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use weft_broker::{Broker, OverflowPolicy, Principal, SubscribeOptions};
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};

fn event() -> Event {
    let attributes = Attributes::new("id-1", "bench", "bench.event").unwrap();
    let data = bytes::Bytes::from_static(br#"{"order":42,"total":129.5}"#);
    Event::new(
        CloudEvent::new(attributes, Some(data)),
        Topic::new("orders/eu/de/berlin/created").unwrap(),
        "bench-node",
        SystemTime::now(),
    )
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_fanout");
    for subscribers in [1usize, 100, 1000] {
        let broker = Broker::default();
        // Small queues with drop-oldest keep memory flat while the bench publishes
        // millions of events nobody reads.
        let options = SubscribeOptions {
            queue_capacity: 16,
            overflow: OverflowPolicy::DropOldest,
            group: None,
            internal: false,
        };
        let filters = ["orders/>", "orders/*/de/>", "orders/eu/de/berlin/created"];
        let _subscriptions: Vec<_> = (0..subscribers)
            .map(|index| {
                let filter = Filter::new(filters[index % filters.len()]).unwrap();
                broker
                    .subscribe(&Principal::anonymous(), vec![filter], options.clone())
                    .unwrap()
            })
            .collect();
        let principal = Principal::anonymous();
        let template = event();
        // Without streams a publish never waits, so a current-thread runtime just polls it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        group.bench_with_input(
            BenchmarkId::from_parameter(subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    runtime
                        .block_on(broker.publish(&principal, template.clone()))
                        .unwrap()
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
