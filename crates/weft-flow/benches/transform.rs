//! Per-event cost of route transforms: declarative steps (set, rename, delete on JSON
//! data) and a jq step, and a route's filter plus transform as the runtime and
//! `weft flow test` run it (`explain::process`).
//! CESQL evaluation alone (simple vs complex expressions) is benched in weft-cesql.
//!
//! `cargo bench -p weft-flow --bench transform`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use weft_core::{Attributes, CloudEvent};
use weft_flow::transform::{self, Step};
use weft_flow::{Spec, explain, load_str};

const ROUTE: &str = r#"
apiVersion: weft/v1
kind: Route
metadata: {name: bench}
spec:
  from: {topic: "shop/>"}
  filter: "type = 'order.created' AND country = 'us' AND total > 100"
  transform:
    - set: {attribute: type, value: billing.order}
    - set: {data: billing.priority, value: high}
    - rename: {from: {data: internal}, to: {data: audit}}
    - delete: {data: audit.trace}
  to: {topic: billing}
---
apiVersion: weft/v1
kind: Route
metadata: {name: jq}
spec:
  from: {topic: "shop/>"}
  transform:
    - jq: '{id, total, lines: [.items[] | {sku, amount: (.price * .qty)}]}'
  to: {topic: billing}
"#;

fn event() -> CloudEvent {
    let mut attributes = Attributes::new("order-1", "/shop", "order.created").unwrap();
    attributes.datacontenttype = Some("application/json".into());
    let data = r#"{"id":"1042","country":"us","total":250,"internal":{"trace":"abc","by":"web"},
        "items":[{"sku":"a","price":10,"qty":2},{"sku":"b","price":5,"qty":1},{"sku":"c","price":1,"qty":9}]}"#;
    CloudEvent::new(attributes, Some(Bytes::from(data)))
}

fn transforms(c: &mut Criterion) {
    let set = load_str("bench.yaml", ROUTE).unwrap();
    let route = |name: &str| match &set.get(weft_flow::Kind::Route, name).unwrap().manifest.spec {
        Spec::Route(route) => route.clone(),
        _ => unreachable!("a route"),
    };
    let steps_route = route("bench");
    let jq_route = route("jq");
    let event = event();
    let attribute_only: Vec<Step> = steps_route.transform[..1].to_vec();

    c.bench_function("transform/set-attribute", |b| {
        b.iter(|| transform::apply(black_box(&attribute_only), black_box(&event)).unwrap())
    });
    c.bench_function("transform/set-rename-delete-data", |b| {
        b.iter(|| transform::apply(black_box(&steps_route.transform), black_box(&event)).unwrap())
    });
    c.bench_function("transform/jq", |b| {
        b.iter(|| transform::apply(black_box(&jq_route.transform), black_box(&event)).unwrap())
    });
    c.bench_function("route/filter-and-transform", |b| {
        b.iter(|| explain::process(black_box(&steps_route), black_box(&event)).unwrap())
    });
}

criterion_group!(benches, transforms);
criterion_main!(benches);
