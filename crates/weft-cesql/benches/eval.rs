//! Criterion benchmarks: CESQL evaluation per event for a simple and a complex
//! expression, plus parsing. Smoke run: `cargo bench -p weft-cesql -- --test`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use weft_cesql::{EvalOptions, Expression};
use weft_core::{Attributes, CloudEvent, ExtensionValue};

const SIMPLE: &str = "type = 'order.created'";
const COMPLEX: &str = "type LIKE 'order.%' AND source LIKE '/shop/%' \
    AND (INT(priority) >= 3 OR region IN ('eu', 'us', 'apac')) \
    AND NOT (LOWER(subject) LIKE '%test%') AND LENGTH(id) > 4";
const DATA: &str = "type = 'order.created' AND total > 100";

fn event() -> CloudEvent {
    let mut attributes = Attributes::new("order-1234", "/shop/eu", "order.created").unwrap();
    attributes.set("subject", "orders/42".into()).unwrap();
    attributes
        .set("priority", ExtensionValue::String("4".into()))
        .unwrap();
    attributes.set("region", "eu".into()).unwrap();
    let data = br#"{"total": 120, "currency": "EUR", "items": [{"sku": "a"}]}"#;
    CloudEvent::new(attributes, Some(bytes::Bytes::from_static(data)))
}

fn evaluation(c: &mut Criterion) {
    let event = event();
    let spec = EvalOptions::default();
    for (name, source, options) in [
        ("eval/simple", SIMPLE, spec),
        ("eval/complex", COMPLEX, spec),
        ("eval/data_field", DATA, EvalOptions::with_data_fields()),
    ] {
        let expression = Expression::parse(source).unwrap();
        assert!(expression.evaluate(&event, &options).is_match(), "{name}");
        c.bench_function(name, |b| {
            b.iter(|| black_box(&expression).evaluate(black_box(&event), &options));
        });
    }
    c.bench_function("parse/complex", |b| {
        b.iter(|| Expression::parse(black_box(COMPLEX)));
    });
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
