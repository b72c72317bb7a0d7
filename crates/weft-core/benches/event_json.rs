//! The CloudEvents JSON format: encode and decode of a typical event (all eight core
//! attributes, two extensions, ~300 bytes of JSON data) and of a batch of 100.
//!
//! Run: `cargo bench -p weft-core --bench event_json`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weft_core::{Attributes, CloudEvent, ExtensionValue, json};

const DATA: &str = r#"{"orderId":"ORD-2024-000123","customer":{"id":"C-98431","name":"Jane Doe","tier":"gold"},"items":[{"sku":"SKU-1","quantity":2,"price":19.99},{"sku":"SKU-22","quantity":1,"price":5.25}],"total":45.23,"currency":"EUR","shipping":{"method":"express","country":"DE"},"tags":["web","promo"]}"#;

fn typical_event(index: usize) -> Result<CloudEvent, weft_core::EventError> {
    let mut attributes = Attributes::new(
        format!("0190a1b2-c3d4-7e5f-8a9b-{index:012}"),
        "https://shop.example.com/orders",
        "com.example.order.created",
    )?;
    let optional = [
        ("subject", "orders/ORD-2024-000123"),
        ("time", "2024-05-01T12:34:56.789Z"),
        ("datacontenttype", "application/json"),
        ("dataschema", "https://schemas.example.com/order/v1.json"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    ];
    for (name, value) in optional {
        attributes.set(name, ExtensionValue::String(value.to_owned()))?;
    }
    attributes.set("priority", ExtensionValue::Integer(3))?;
    Ok(CloudEvent::new(
        attributes,
        Some(Bytes::from_static(DATA.as_bytes())),
    ))
}

fn bench_event_json(c: &mut Criterion) {
    let Ok(event) = typical_event(0) else {
        panic!("the benchmark event is invalid");
    };
    let encoded = json::encode(&event);
    let mut group = c.benchmark_group("event_json/single");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| b.iter(|| json::encode(black_box(&event))));
    group.bench_function("decode", |b| b.iter(|| json::decode(black_box(&encoded))));
    group.finish();

    let events: Vec<CloudEvent> = (0..100)
        .filter_map(|index| typical_event(index).ok())
        .collect();
    let batch = json::encode_batch(&events);
    let mut group = c.benchmark_group("event_json/batch100");
    group.throughput(Throughput::Bytes(batch.len() as u64));
    group.bench_function("encode", |b| {
        b.iter(|| json::encode_batch(black_box(&events)))
    });
    group.bench_function("decode", |b| {
        b.iter(|| json::decode_batch(black_box(&batch)))
    });
    group.finish();
}

criterion_group!(benches, bench_event_json);
criterion_main!(benches);
