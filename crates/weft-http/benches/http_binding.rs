//! The CloudEvents HTTP binding in binary mode: decoding a request with ten `ce-`
//! headers (one of them percent-encoded) and encoding an event to headers.
//!
//! Run: `cargo bench -p weft-http --bench http_binding`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::SystemTime;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use weft_http::binding::{Synthesis, decode_request, encode_binary};

const HEADERS: [(&str, &str); 11] = [
    ("ce-specversion", "1.0"),
    ("ce-id", "0190a1b2-c3d4-7e5f-8a9b-000000000001"),
    ("ce-source", "https://shop.example.com/orders"),
    ("ce-type", "com.example.order.created"),
    ("ce-subject", "orders/caf%C3%A9%20%22berlin%22"),
    ("ce-time", "2024-05-01T12:34:56.789Z"),
    ("ce-dataschema", "https://schemas.example.com/order/v1.json"),
    (
        "ce-traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
    ("ce-priority", "3"),
    ("content-type", "application/json"),
    ("user-agent", "bench/1.0"),
];

const BODY: &[u8] = br#"{"orderId":"ORD-2024-000123","total":45.23,"currency":"EUR"}"#;

fn request_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers
}

fn bench_binary_mode(c: &mut Criterion) {
    let headers = request_headers();
    let synthesis = Synthesis {
        source: "weft://bench/http".to_owned(),
        ty: "weft.http.publish".to_owned(),
        now: SystemTime::now(),
    };
    let body = Bytes::from_static(BODY);
    let mut group = c.benchmark_group("http_binding/binary");
    group.bench_function("decode_request", |b| {
        b.iter(|| decode_request(black_box(&headers), body.clone(), &synthesis))
    });
    let Ok(events) = decode_request(&headers, body.clone(), &synthesis) else {
        panic!("the benchmark request is invalid");
    };
    let Some(event) = events.first() else {
        panic!("the benchmark request decoded to no event");
    };
    group.bench_function("encode_binary", |b| {
        b.iter(|| {
            let mut headers = HeaderMap::with_capacity(16);
            let body = encode_binary(black_box(event), &mut headers);
            (headers, body)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_binary_mode);
criterion_main!(benches);
