//! Measurements of the parts of the data path alone, to know where a link's limit is:
//! `ceiling` (one broker, one subscription, no mesh: what a node's `Broker::publish` to
//! one live subscription costs, with the same publisher as the mesh runs) and `link`
//! (mesh frames of 100-byte events, batched and compressed as a link writes them, over
//! loopback TCP and decoded back to mesh events: no broker, no owner task).

use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weft_broker::{Broker, Principal, SubscribeOptions};
use weft_core::Filter;
use weft_mesh::NodeName;
use weft_mesh::envelope::encode_event;
use weft_mesh::wire::{
    DEFAULT_MAX_BATCH, DEFAULT_MAX_FRAME, EventsFrame, FrameBatcher, FrameOptions, MeshEvent,
    Message, Route, decode_frame,
};

use super::{Mode, THROUGHPUT_EVENTS, closed_loop, cpu_seconds, event};

/// Events per second through one broker to one subscription, and per CPU-second.
pub(crate) async fn ceiling() -> (f64, f64) {
    let broker = Broker::default();
    let options = SubscribeOptions {
        queue_capacity: 1 << 20,
        ..SubscribeOptions::default()
    };
    let filter = Filter::new("bench/>").unwrap();
    let subscription = broker
        .subscribe(&Principal::anonymous(), vec![filter], options)
        .unwrap();
    closed_loop(&broker, "n0", subscription).await
}

/// Events per second of mesh frames over one loopback TCP connection (encode, batch,
/// compress, write; read, decompress, decode), and per CPU-second. `json`: payloads in
/// the JSON envelope (as before the binary one).
pub(crate) async fn link(mode: Mode, json: bool) -> (f64, f64) {
    const PER_FRAME: u64 = 128;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = BytesMut::with_capacity(256 * 1024);
        let mut events = 0;
        loop {
            while let Some(message) = decode_frame(&mut buffer, DEFAULT_MAX_FRAME).unwrap() {
                if let Message::Events(batch) = message {
                    events += batch.events.len() as u64;
                }
            }
            if events >= THROUGHPUT_EVENTS || socket.read_buf(&mut buffer).await.unwrap() == 0 {
                break;
            }
        }
        events
    });
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.set_nodelay(true).unwrap();
    let origin = NodeName::new("n0").unwrap();
    let batcher = FrameBatcher {
        options: FrameOptions {
            compression: mode.compression,
            ..FrameOptions::PLAIN
        },
        batching: mode.batching,
        max_batch: DEFAULT_MAX_BATCH,
    };
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let mut out = BytesMut::new();
    let mut sequence = 0;
    while sequence < THROUGHPUT_EVENTS {
        let mut frame = EventsFrame::new(&Route::Tree);
        for _ in 0..PER_FRAME.min(THROUGHPUT_EVENTS - sequence) {
            let event = event("n0", sequence, 0);
            frame.push(&MeshEvent {
                origin: origin.clone(),
                incarnation: 1,
                sequence: sequence + 1,
                topic: event.topic.clone(),
                hops: 1,
                durable: Vec::new(),
                groups: Vec::new(),
                payload: if json {
                    weft_mesh::envelope::json::encode(&event)
                } else {
                    encode_event(&event)
                },
            });
            sequence += 1;
        }
        out.clear();
        batcher.write(&[frame.finish()], &mut out);
        socket.write_all(&out).await.unwrap();
    }
    let events = reader.await.unwrap();
    assert_eq!(events, THROUGHPUT_EVENTS);
    let rate = THROUGHPUT_EVENTS as f64 / started.elapsed().as_secs_f64();
    let per_cpu = THROUGHPUT_EVENTS as f64 / (cpu_seconds() - cpu_started).max(0.01);
    (rate, per_cpu)
}
