//! Batching and compression: golden layouts, round trips, malformed compressed frames.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use weft_core::topic::Topic;

use super::*;
use crate::name::NodeName;
use crate::wire::{
    Compression, DEFAULT_MAX_FRAME, DecodeError, Events, FrameOptions, MeshEvent, Message, Refuse,
    RefuseReason, Route, decode_frame, decode_frame_sized, encode_frame, encode_frame_with,
};

fn node(name: &str) -> NodeName {
    NodeName::new(name).unwrap()
}

fn event(sequence: u64, payload: &[u8]) -> MeshEvent {
    MeshEvent {
        origin: node("a"),
        incarnation: 1,
        sequence,
        topic: Topic::new("orders/eu/created").unwrap(),
        hops: 0,
        durable: Vec::new(),
        groups: Vec::new(),
        payload: Bytes::copy_from_slice(payload),
    }
}

fn events(route: Route, sequence: u64) -> Message {
    Message::Events(Events {
        route,
        events: vec![event(
            sequence,
            format!("{{\"order\":{sequence}}}").as_bytes(),
        )],
    })
}

fn frame(message: &Message) -> Bytes {
    let mut out = BytesMut::new();
    encode_frame(message, &mut out);
    out.freeze()
}

fn decode_all(mut buffer: BytesMut) -> Vec<Message> {
    let mut messages = Vec::new();
    while let Some(message) = decode_frame(&mut buffer, DEFAULT_MAX_FRAME).unwrap() {
        messages.push(message);
    }
    assert!(buffer.is_empty(), "no partial frame left");
    messages
}

/// Every `Events` message split into one message per event (the node's own shape).
fn one_event_each(messages: Vec<Message>) -> Vec<Message> {
    messages
        .into_iter()
        .flat_map(|message| match message {
            Message::Events(batch) => batch
                .events
                .into_iter()
                .map(|event| {
                    Message::Events(Events {
                        route: batch.route.clone(),
                        events: vec![event],
                    })
                })
                .collect(),
            other => vec![other],
        })
        .collect()
}

fn compressing(compression: Compression) -> FrameOptions {
    FrameOptions {
        compression: Some(compression),
        threshold: 64,
    }
}

/// A refusal with a long, repetitive detail: compresses well.
fn long_refusal() -> Message {
    Message::Refuse(Refuse {
        reason: RefuseReason::ProtocolViolation,
        detail: "a".repeat(600),
    })
}

#[test]
fn compressed_frame_has_the_documented_layout() {
    let message = long_refusal();
    let plain = frame(&message);
    let inner = &plain[5..]; // type · body
    for (compression, code) in [(Compression::Lz4, 1u8), (Compression::Zstd, 2)] {
        let mut out = BytesMut::new();
        let size = encode_frame_with(&message, compressing(compression), &mut out);
        let length = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(length + 4, out.len());
        assert_eq!(
            &out[4..7],
            &[1, 11, code],
            "frame version, type compressed, algorithm"
        );
        assert_eq!(
            &out[7..11],
            &(inner.len() as u32).to_be_bytes(),
            "inner length"
        );
        let data = &out[11..];
        let decompressed = match compression {
            Compression::Lz4 => lz4_flex::block::decompress(data, inner.len()).unwrap(),
            Compression::Zstd => {
                use std::io::Read as _;
                let mut decoded = Vec::new();
                ruzstd::decoding::StreamingDecoder::new(data)
                    .unwrap()
                    .read_to_end(&mut decoded)
                    .unwrap();
                decoded
            }
        };
        assert_eq!(decompressed, inner);
        assert_eq!(size.logical, plain.len());
        assert_eq!(size.wire, out.len());
        assert!(size.wire < size.logical / 4, "{size:?}");

        let (decoded, read) = decode_frame_sized(&mut out, DEFAULT_MAX_FRAME)
            .unwrap()
            .unwrap();
        assert_eq!(decoded, message);
        assert_eq!(read, size);
    }
}

#[test]
fn messages_below_the_threshold_are_written_plain() {
    let message = Message::Heartbeat { nonce: 7 };
    let mut out = BytesMut::new();
    let size = encode_frame_with(&message, compressing(Compression::Lz4), &mut out);
    assert_eq!(out.freeze(), frame(&message));
    assert_eq!(size.wire, size.logical);
}

#[test]
fn incompressible_messages_are_written_plain() {
    // Bytes of a simple generator: no repeats an lz4 block could use.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let payload: Vec<u8> = (0..2048)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let message = Message::Events(Events {
        route: Route::Tree,
        events: vec![event(1, &payload)],
    });
    let mut out = BytesMut::new();
    encode_frame_with(&message, compressing(Compression::Lz4), &mut out);
    assert_eq!(out.freeze(), frame(&message));
}

#[test]
fn malformed_compressed_frames_get_a_clear_error() {
    let decode = |body: &[u8]| {
        let mut bytes = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        bytes.push(1);
        bytes.extend_from_slice(body);
        decode_frame(&mut BytesMut::from(&bytes[..]), 1024)
    };
    assert_eq!(
        decode(&[11, 1, 0]),
        Err(DecodeError::Truncated {
            field: "compressed frame header"
        })
    );
    assert_eq!(
        decode(&[11, 9, 0, 0, 0, 1, 0]),
        Err(DecodeError::InvalidValue {
            field: "compression algorithm",
            value: 9
        })
    );
    assert_eq!(
        decode(&[11, 1, 0, 1, 0, 0, 0]),
        Err(DecodeError::FrameTooLarge {
            length: 65_536,
            limit: 1024
        })
    );
    assert_eq!(
        decode(&[11, 1, 0, 0, 0, 9, 0xff, 0xff]),
        Err(DecodeError::Decompress { algorithm: 1 })
    );
    let inner = [4u8, 0, 0, 0, 0, 0, 0, 0, 1]; // a heartbeat
    let mut body = vec![11, 1, 0, 0, 0, 10];
    body.extend(lz4_flex::block::compress(&inner));
    assert!(matches!(
        decode(&body),
        Err(DecodeError::Decompress { .. } | DecodeError::DecompressedLength { .. })
    ));
    let mut body = vec![11, 1, 0, 0, 0, 9];
    body.extend(lz4_flex::block::compress(&inner));
    assert_eq!(
        decode(&body),
        Ok(Some(Message::Heartbeat { nonce: 1 })),
        "a well-formed compressed heartbeat"
    );
    let nested = [11u8, 1, 0, 0, 0, 1, 0];
    let mut body = vec![11, 1, 0, 0, 0, nested.len() as u8];
    body.extend(lz4_flex::block::compress(&nested));
    assert_eq!(decode(&body), Err(DecodeError::NestedCompression));
}

#[test]
fn consecutive_events_with_one_route_become_one_frame() {
    let unicast = |name: &str| Route::Unicast {
        destination: node(name),
    };
    let queued = [
        events(Route::Tree, 1),
        events(Route::Tree, 2),
        events(Route::Tree, 3),
        Message::Heartbeat { nonce: 9 },
        events(Route::Tree, 4),
        events(unicast("b"), 5),
        events(unicast("b"), 6),
        events(unicast("c"), 7),
    ];
    let frames: Vec<Bytes> = queued.iter().map(frame).collect();
    let batcher = FrameBatcher {
        options: FrameOptions::PLAIN,
        batching: true,
        max_batch: DEFAULT_MAX_BATCH,
    };
    let mut out = BytesMut::new();
    let written = batcher.write(&frames, &mut out);
    assert_eq!(
        written.frames, 5,
        "tree ×3, heartbeat, tree, unicast b ×2, unicast c"
    );
    assert_eq!(written.size.wire, out.len());
    let messages = decode_all(out);
    assert_eq!(messages.len(), 5);
    assert!(matches!(&messages[0], Message::Events(batch) if batch.events.len() == 3));
    assert_eq!(one_event_each(messages), queued);
}

#[test]
fn without_batching_frames_are_written_one_by_one() {
    let queued = [events(Route::Tree, 1), events(Route::Tree, 2)];
    let frames: Vec<Bytes> = queued.iter().map(frame).collect();
    let mut out = BytesMut::new();
    let written = FrameBatcher::PLAIN.write(&frames, &mut out);
    assert_eq!(written.frames, 2);
    assert_eq!(
        out.freeze(),
        [frames[0].clone(), frames[1].clone()].concat()
    );
}

#[test]
fn batches_stop_at_the_size_bound() {
    let queued: Vec<Message> = (1..=10).map(|n| events(Route::Tree, n)).collect();
    let frames: Vec<Bytes> = queued.iter().map(frame).collect();
    let batcher = FrameBatcher {
        options: FrameOptions::PLAIN,
        batching: true,
        // Room for the header and about three events.
        max_batch: 11 + 3 * (frames[0].len() - 11),
    };
    let mut out = BytesMut::new();
    let written = batcher.write(&frames, &mut out);
    assert_eq!(written.frames, 4, "3 + 3 + 3 + 1");
    let messages = decode_all(out);
    assert!(messages.iter().all(|m| frame(m).len() <= batcher.max_batch));
    assert_eq!(one_event_each(messages), queued);
}

fn arbitrary_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (1u64..1000).prop_map(|n| events(Route::Tree, n)),
        (1u64..1000, 0usize..2).prop_map(|(n, d)| events(
            Route::Unicast {
                destination: node(["b", "c"][d]),
            },
            n
        )),
        any::<u64>().prop_map(|nonce| Message::Heartbeat { nonce }),
        Just(long_refusal()),
    ]
}

proptest! {
    #[test]
    fn batched_and_compressed_frames_decode_to_what_was_queued(
        queued in proptest::collection::vec(arbitrary_message(), 0..40),
        batching in any::<bool>(),
        compression in prop_oneof![Just(None), Just(Some(Compression::Lz4)), Just(Some(Compression::Zstd))],
        threshold in 0usize..400,
        max_batch in 32usize..2048,
    ) {
        let frames: Vec<Bytes> = queued.iter().map(frame).collect();
        let batcher = FrameBatcher {
            options: FrameOptions { compression, threshold },
            batching,
            max_batch,
        };
        let mut out = BytesMut::new();
        let written = batcher.write(&frames, &mut out);
        prop_assert_eq!(written.size.wire, out.len());
        prop_assert!(written.size.logical <= frames.iter().map(Bytes::len).sum());
        let mut buffer = out;
        let mut logical = 0;
        let mut messages = Vec::new();
        while let Some((message, size)) = decode_frame_sized(&mut buffer, DEFAULT_MAX_FRAME).unwrap() {
            logical += size.logical;
            messages.push(message);
        }
        prop_assert_eq!(logical, written.size.logical);
        prop_assert_eq!(one_event_each(messages), queued);
    }
}
