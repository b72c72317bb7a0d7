//! Decoding an arbitrary mesh payload (binary or JSON envelope) must never panic, and an
//! event that decodes must survive the binary envelope unchanged.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use weft_core::Topic;
use weft_mesh::NodeName;
use weft_mesh::envelope::{decode_event, encode_event};
use weft_mesh::wire::MeshEvent;

fuzz_target!(|data: &[u8]| {
    let mut mesh_event = MeshEvent {
        origin: NodeName::new("fuzz").unwrap(),
        incarnation: 1,
        sequence: 1,
        topic: Topic::new("fuzz/topic").unwrap(),
        hops: 0,
        durable: Vec::new(),
        groups: Vec::new(),
        payload: Bytes::copy_from_slice(data),
    };
    if let Ok(event) = decode_event(&mesh_event) {
        mesh_event.payload = encode_event(&event);
        let again = decode_event(&mesh_event).unwrap();
        assert_eq!(again.cloudevent, event.cloudevent);
        assert_eq!(again.key, event.key);
    }
});
