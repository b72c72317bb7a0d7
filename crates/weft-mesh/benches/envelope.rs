//! The mesh event envelope: encoding an event at its origin and decoding it where it is
//! delivered, in the binary envelope (what nodes write now) and in the JSON envelope
//! (what they wrote before, still read). `cargo bench -p weft-mesh --bench envelope`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::SystemTime;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use weft_core::{Attributes, CloudEvent, Event, Topic};
use weft_mesh::NodeName;
use weft_mesh::envelope::{decode_event, encode_event, json};
use weft_mesh::wire::MeshEvent;

/// The event of the mesh macro benchmark: three attributes and 100 bytes of data.
fn small() -> Event {
    let mut data = format!("{:020}:{:020}:", 0, 42).into_bytes();
    data.resize(100, b'x');
    let attributes = Attributes::new("e42", "/bench", "bench.event").unwrap();
    Event::new(
        CloudEvent::new(attributes, Some(Bytes::from(data))),
        Topic::new("bench/events").unwrap(),
        "n0",
        SystemTime::now(),
    )
}

/// A fuller event: every optional attribute, three extensions, a key, JSON data.
fn full() -> Event {
    let mut attributes = Attributes::new(
        "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
        "https://shop.example/orders",
        "com.example.order.created",
    )
    .unwrap();
    attributes.set("subject", "orders/4711".into()).unwrap();
    attributes
        .set("time", "2026-12-05T10:20:30.123Z".into())
        .unwrap();
    attributes
        .set("datacontenttype", "application/json".into())
        .unwrap();
    attributes
        .set("dataschema", "https://shop.example/schemas/order".into())
        .unwrap();
    attributes.set("region", "eu-west".into()).unwrap();
    attributes.set("priority", 3.into()).unwrap();
    attributes.set("replay", false.into()).unwrap();
    let data = br#"{"order":4711,"customer":"c-42","lines":[{"sku":"a-1","qty":2}],"total":129.5}"#;
    let mut event = Event::new(
        CloudEvent::new(attributes, Some(Bytes::from_static(data))),
        Topic::new("orders/eu/de/created").unwrap(),
        "n0",
        SystemTime::now(),
    );
    event.key = Some(Bytes::from_static(b"customer-42"));
    event
}

fn mesh_event(event: &Event, payload: Bytes) -> MeshEvent {
    MeshEvent {
        origin: NodeName::new(&event.origin).unwrap(),
        incarnation: 1,
        sequence: 1,
        topic: event.topic.clone(),
        hops: 1,
        durable: Vec::new(),
        groups: Vec::new(),
        payload,
    }
}

fn envelope(c: &mut Criterion) {
    for (name, event) in [("small", small()), ("full", full())] {
        let mut group = c.benchmark_group(format!("envelope_{name}"));
        group.bench_function("encode_binary", |b| b.iter(|| encode_event(&event)));
        group.bench_function("encode_json", |b| b.iter(|| json::encode(&event)));
        let binary = mesh_event(&event, encode_event(&event));
        let old = mesh_event(&event, json::encode(&event));
        group.bench_function("decode_binary", |b| {
            b.iter(|| decode_event(&binary).unwrap())
        });
        group.bench_function("decode_json", |b| b.iter(|| decode_event(&old).unwrap()));
        group.finish();
        println!(
            "envelope_{name}: binary {} bytes, json {} bytes",
            binary.payload.len(),
            old.payload.len()
        );
    }
}

criterion_group!(benches, envelope);
criterion_main!(benches);
