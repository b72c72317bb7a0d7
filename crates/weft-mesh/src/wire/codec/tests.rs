use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use weft_core::topic::{Filter, Topic};

use super::*;
use crate::interest::{InterestChange, InterestEntry};
use crate::name::{GroupName, MeshName, NodeName};
use crate::wire::*;

fn node(name: &str) -> NodeName {
    NodeName::new(name).unwrap()
}

fn encode(message: &Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(message, &mut out);
    out.to_vec()
}

fn round_trip(message: Message) {
    let mut buffer = BytesMut::from(&encode(&message)[..]);
    assert_eq!(
        decode_frame(&mut buffer, DEFAULT_MAX_FRAME),
        Ok(Some(message))
    );
    assert!(buffer.is_empty());
}

#[test]
fn hello_has_the_documented_layout() {
    let hello = Message::Hello(Hello {
        mesh: MeshName::new("m").unwrap(),
        node: node("n1"),
        incarnation: 7,
        protocol_version: 1,
        capabilities: Capabilities::ALL,
    });
    let expected: Vec<u8> = [
        &[0, 0, 0, 18][..],        // length
        &[1, 1],                   // frame version, type hello
        &[1, b'm'],                // mesh
        &[2, b'n', b'1'],          // node
        &[0, 0, 0, 0, 0, 0, 0, 7], // incarnation
        &[0, 1],                   // protocol version
        &[0b1111],                 // lz4 | zstd | batching | binary envelope
    ]
    .concat();
    assert_eq!(encode(&hello), expected);
    round_trip(hello);
}

#[test]
fn ack_and_heartbeat_have_the_documented_layout() {
    assert_eq!(
        encode(&Message::Heartbeat { nonce: 258 }),
        vec![0, 0, 0, 10, 1, 4, 0, 0, 0, 0, 0, 0, 1, 2]
    );
    let ack = Message::Ack(Ack {
        origin: node("a"),
        acker: node("b"),
        stream: 1,
        up_to_sequence: 2,
    });
    let expected: Vec<u8> = [
        &[0, 0, 0, 22, 1, 10][..],
        &[1, b'a', 1, b'b'],
        &[0, 0, 0, 0, 0, 0, 0, 1],
        &[0, 0, 0, 0, 0, 0, 0, 2],
    ]
    .concat();
    assert_eq!(encode(&ack), expected);
}

#[test]
fn every_message_kind_round_trips() {
    let entry = InterestEntry::queue(
        Filter::new("orders/*/us/>").unwrap(),
        GroupName::new("g").unwrap(),
    );
    let event = MeshEvent {
        origin: node("a"),
        incarnation: 3,
        sequence: 9,
        topic: Topic::new("orders/eu/created").unwrap(),
        hops: 2,
        durable: vec![DurableTag {
            node: node("b"),
            stream: 3,
            sequence: 1,
        }],
        groups: vec![GroupAssignment {
            group: GroupName::new("g").unwrap(),
            node: node("c"),
        }],
        payload: Bytes::from_static(b"{\"id\":1}"),
    };
    for message in [
        Message::HelloAck(HelloAck {
            node: node("b"),
            capabilities: Capabilities::default(),
        }),
        Message::Refuse(Refuse {
            reason: RefuseReason::DifferentMesh,
            detail: "wrong mesh".into(),
        }),
        Message::HeartbeatAck { nonce: u64::MAX },
        Message::LinkState(LinkStateAdvertisement {
            node: node("a"),
            incarnation: 1,
            sequence: 2,
            interest_version: 3,
            neighbours: vec![Adjacency {
                node: node("b"),
                cost: 10,
            }],
        }),
        Message::Interest(InterestUpdate {
            node: node("a"),
            incarnation: 1,
            version: 4,
            body: InterestBody::Delta(vec![
                InterestChange::Add(entry.clone()),
                InterestChange::Remove(InterestEntry::durable(Filter::new(">").unwrap())),
            ]),
        }),
        Message::Interest(InterestUpdate {
            node: node("a"),
            incarnation: 1,
            version: 0,
            body: InterestBody::Full(vec![entry]),
        }),
        Message::InterestRequest { node: node("z") },
        Message::Events(Events {
            route: Route::Tree,
            events: vec![event.clone(), event.clone()],
        }),
        Message::Events(Events {
            route: Route::Unicast {
                destination: node("b"),
            },
            events: vec![event],
        }),
    ] {
        round_trip(message);
    }
}

#[test]
fn partial_frames_need_more_bytes() {
    let bytes = encode(&Message::Heartbeat { nonce: 1 });
    for cut in 0..bytes.len() {
        let mut buffer = BytesMut::from(&bytes[..cut]);
        assert_eq!(decode_frame(&mut buffer, DEFAULT_MAX_FRAME), Ok(None));
        assert_eq!(buffer.len(), cut, "nothing is consumed");
    }
}

#[test]
fn garbage_gets_a_clear_error() {
    let decode = |bytes: &[u8]| decode_frame(&mut BytesMut::from(bytes), 1024);
    assert_eq!(
        decode(&[0, 0, 0x10, 0]),
        Err(DecodeError::FrameTooLarge {
            length: 4096,
            limit: 1024
        })
    );
    assert_eq!(
        decode(&[0, 0, 0, 2, 9, 1]),
        Err(DecodeError::UnsupportedFrameVersion { version: 9 })
    );
    assert_eq!(
        decode(&[0, 0, 0, 2, 1, 99]),
        Err(DecodeError::UnknownMessageType { code: 99 })
    );
    assert_eq!(
        decode(&[0, 0, 0, 3, 1, 4, 0]),
        Err(DecodeError::Truncated { field: "nonce" })
    );
    assert!(matches!(
        decode(&[0, 0, 0, 4, 1, 8, 1, b'/']),
        Err(DecodeError::InvalidName { .. })
    ));
    assert_eq!(
        decode(&[0, 0, 0, 11, 1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
    let error = decode(&[0, 0, 0, 2, 1, 99]).unwrap_err();
    assert_eq!(error.to_string(), "unknown message type 99");
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut buffer = BytesMut::from(&bytes[..]);
        let _ = decode_frame(&mut buffer, 1 << 16);
    }

    #[test]
    fn decoding_mutated_frames_never_panics(index in 0usize..64, value in any::<u8>()) {
        let mut bytes = encode(&Message::LinkState(LinkStateAdvertisement {
            node: node("a"),
            incarnation: 1,
            sequence: 2,
            interest_version: 3,
            neighbours: vec![Adjacency { node: node("b"), cost: 10 }],
        }));
        let index = index % bytes.len();
        bytes[index] = value;
        let _ = decode_frame(&mut BytesMut::from(&bytes[..]), 1 << 16);
    }
}
