//! Routed events per second: one route from a topic to another topic through a CESQL
//! filter and a transform, on an in-process broker (no front end, no network), so the
//! number is the route's own cost — subscription queue, filter, transform, publish.
//!
//! ```sh
//! cargo run --release -p weft-flow --example route_bench -- [EVENTS]
//! ```
//!
//! Half of the events pass the filter. Each shape is run three times; the best run is
//! printed (the machine is shared, so the best run is the least disturbed one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime};

use weft_broker::{Broker, Principal, SubscribeOptions};
use weft_core::{Event, Filter, Topic};
use weft_flow::manifest::Spec;
use weft_flow::{RouteRunner, RunnerOptions};

/// The route shapes measured: a name and the route's `filter` + `transform` YAML.
const SHAPES: [(&str, &str); 3] = [
    (
        "filter only",
        "  filter: \"type = 'order.created' AND total > 100\"\n",
    ),
    (
        "filter + set attribute + set data",
        "  filter: \"type = 'order.created' AND total > 100\"\n  transform:\n    - set: {attribute: type, value: billing.order}\n    - set: {data: billing.priority, value: high}\n",
    ),
    (
        "filter + jq",
        "  filter: \"type = 'order.created' AND total > 100\"\n  transform:\n    - jq: '{id, total, priority: \"high\"}'\n",
    ),
];

fn route_yaml(body: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: bench}}\nspec:\n  from: {{topic: \"in/>\"}}\n{body}  to: {{topic: out/routed}}\n  maxInFlight: 64\n"
    )
}

fn event(index: usize) -> Event {
    // Alternating totals: every other event passes `total > 100`. About 100 bytes of data.
    let total = if index.is_multiple_of(2) { 250 } else { 20 };
    let json = format!(
        r#"{{"specversion":"1.0","id":"e{index}","source":"/shop","type":"order.created","datacontenttype":"application/json","data":{{"id":"{index}","country":"us","total":{total},"items":["a","b"],"note":"padding to a hundred bytes"}}}}"#
    );
    let cloudevent = weft_core::json::decode(json.as_bytes()).unwrap();
    Event::new(
        cloudevent,
        Topic::new("in/orders").unwrap(),
        "bench",
        SystemTime::now(),
    )
}

async fn run_once(yaml: &str, events: &[Event]) -> Duration {
    let set = weft_flow::load_str("bench.yaml", yaml).unwrap_or_else(|errors| panic!("{errors}"));
    let manifest = set.manifests().next().unwrap().clone();
    let Spec::Route(spec) = &manifest.spec else {
        panic!("not a route")
    };
    let broker = Broker::default();
    let big = events.len() + 1024;
    let options = RunnerOptions {
        queue_capacity: Some(big),
        ..RunnerOptions::default()
    };
    let runner = RouteRunner::start_with(&broker, &manifest.metadata.name, spec, None, options)
        .await
        .unwrap();
    let mut out = broker
        .subscribe(
            &Principal::anonymous(),
            vec![Filter::new("out/>").unwrap()],
            SubscribeOptions {
                queue_capacity: big,
                ..SubscribeOptions::default()
            },
        )
        .unwrap();
    let expected = events.len().div_ceil(2);
    let started = Instant::now();
    let publisher = {
        let broker = broker.clone();
        let events = events.to_vec();
        tokio::spawn(async move {
            for event in events {
                broker
                    .submit(
                        &Principal::anonymous(),
                        event,
                        weft_broker::PublishOptions::default(),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let mut received = 0;
    let mut batch = Vec::with_capacity(1024);
    while received < expected {
        batch.clear();
        received += tokio::time::timeout(Duration::from_secs(30), out.recv_many(&mut batch, 1024))
            .await
            .expect("routed events stopped arriving")
            .expect("the subscription ended");
    }
    let elapsed = started.elapsed();
    publisher.await.unwrap();
    let status = runner.stop().await;
    assert_eq!(status.received as usize, events.len(), "{status:?}");
    assert_eq!(status.delivered as usize, expected, "{status:?}");
    elapsed
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map_or(200_000, |text| text.parse().expect("EVENTS is a number"));
    let events: Vec<Event> = (0..count).map(event).collect();
    println!(
        "{count} events in, {} routed out, best of 3",
        count.div_ceil(2)
    );
    for (name, body) in SHAPES {
        let yaml = route_yaml(body);
        let mut best = Duration::MAX;
        for _ in 0..3 {
            best = best.min(run_once(&yaml, &events).await);
        }
        let rate = count as f64 / best.as_secs_f64();
        println!("{name:<36} {rate:>12.0} events/s in ({best:.2?})");
    }
}
