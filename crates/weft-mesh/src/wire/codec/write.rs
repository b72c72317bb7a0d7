//! Encoding.

use bytes::{BufMut, BytesMut};

use super::kind;
use crate::interest::{InterestChange, InterestEntry, InterestKind};
use crate::wire::{Capabilities, InterestBody, MeshEvent, Message, RefuseReason, Route};

pub(super) fn message(message: &Message, out: &mut BytesMut) {
    match message {
        Message::Hello(hello) => {
            out.put_u8(kind::HELLO);
            name(hello.mesh.as_str(), out);
            name(hello.node.as_str(), out);
            out.put_u64(hello.incarnation);
            out.put_u16(hello.protocol_version);
            out.put_u8(capabilities(hello.capabilities));
        }
        Message::HelloAck(ack) => {
            out.put_u8(kind::HELLO_ACK);
            name(ack.node.as_str(), out);
            out.put_u8(capabilities(ack.capabilities));
        }
        Message::Refuse(refuse) => {
            out.put_u8(kind::REFUSE);
            out.put_u8(refuse_reason(refuse.reason));
            text(&refuse.detail, out);
        }
        Message::Heartbeat { nonce } => {
            out.put_u8(kind::HEARTBEAT);
            out.put_u64(*nonce);
        }
        Message::HeartbeatAck { nonce } => {
            out.put_u8(kind::HEARTBEAT_ACK);
            out.put_u64(*nonce);
        }
        Message::LinkState(lsa) => {
            out.put_u8(kind::LINK_STATE);
            name(lsa.node.as_str(), out);
            out.put_u64(lsa.incarnation);
            out.put_u64(lsa.sequence);
            out.put_u64(lsa.interest_version);
            out.put_u32(lsa.neighbours.len() as u32);
            for adjacency in &lsa.neighbours {
                name(adjacency.node.as_str(), out);
                out.put_u32(adjacency.cost);
            }
        }
        Message::Interest(update) => {
            out.put_u8(kind::INTEREST);
            name(update.node.as_str(), out);
            out.put_u64(update.incarnation);
            out.put_u64(update.version);
            match &update.body {
                InterestBody::Delta(changes) => {
                    out.put_u8(0);
                    out.put_u32(changes.len() as u32);
                    for change in changes {
                        let (op, entry) = match change {
                            InterestChange::Add(entry) => (0, entry),
                            InterestChange::Remove(entry) => (1, entry),
                        };
                        out.put_u8(op);
                        interest_entry(entry, out);
                    }
                }
                InterestBody::Full(entries) => {
                    out.put_u8(1);
                    out.put_u32(entries.len() as u32);
                    entries.iter().for_each(|entry| interest_entry(entry, out));
                }
            }
        }
        Message::InterestRequest { node } => {
            out.put_u8(kind::INTEREST_REQUEST);
            name(node.as_str(), out);
        }
        Message::Events(events) => {
            out.put_u8(kind::EVENTS);
            route(&events.route, out);
            out.put_u32(events.events.len() as u32);
            events
                .events
                .iter()
                .for_each(|event| mesh_event(event, out));
        }
        Message::Ack(ack) => {
            out.put_u8(kind::ACK);
            name(ack.origin.as_str(), out);
            name(ack.acker.as_str(), out);
            out.put_u64(ack.stream);
            out.put_u64(ack.up_to_sequence);
        }
    }
}

/// An `Events` message's route: `0`, or `1` and the destination.
pub(crate) fn route(route: &Route, out: &mut BytesMut) {
    match route {
        Route::Tree => out.put_u8(0),
        Route::Unicast { destination } => {
            out.put_u8(1);
            name(destination.as_str(), out);
        }
    }
}

/// One event of an `Events` message.
pub(crate) fn mesh_event(event: &MeshEvent, out: &mut BytesMut) {
    name(event.origin.as_str(), out);
    out.put_u64(event.incarnation);
    out.put_u64(event.sequence);
    text(event.topic.as_str(), out);
    out.put_u8(event.hops);
    out.put_u16(event.durable.len() as u16);
    for tag in &event.durable {
        name(tag.node.as_str(), out);
        out.put_u64(tag.stream);
        out.put_u64(tag.sequence);
    }
    out.put_u16(event.groups.len() as u16);
    for assignment in &event.groups {
        name(assignment.group.as_str(), out);
        name(assignment.node.as_str(), out);
    }
    out.put_u32(event.payload.len() as u32);
    out.extend_from_slice(&event.payload);
}

fn interest_entry(entry: &InterestEntry, out: &mut BytesMut) {
    text(entry.filter.as_str(), out);
    match &entry.kind {
        InterestKind::Live => out.put_u8(0),
        InterestKind::Durable => out.put_u8(1),
        InterestKind::Queue(group) => {
            out.put_u8(2);
            name(group.as_str(), out);
        }
    }
}

pub(super) fn capabilities(capabilities: Capabilities) -> u8 {
    u8::from(capabilities.lz4)
        | (u8::from(capabilities.zstd) << 1)
        | (u8::from(capabilities.batching) << 2)
        | (u8::from(capabilities.binary_envelope) << 3)
}

pub(super) fn refuse_reason(reason: RefuseReason) -> u8 {
    match reason {
        RefuseReason::DuplicateNodeName => 1,
        RefuseReason::DifferentMesh => 2,
        RefuseReason::UnsupportedVersion => 3,
        RefuseReason::ProtocolViolation => 4,
    }
}

/// Names are at most 64 bytes (validated), so a `u8` length holds them.
fn name(value: &str, out: &mut BytesMut) {
    out.put_u8(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

/// Topics and filters are at most 1024 bytes; details are truncated to fit a `u16`.
fn text(value: &str, out: &mut BytesMut) {
    let mut end = value.len().min(u16::MAX as usize);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    out.put_u16(end as u16);
    out.extend_from_slice(&value.as_bytes()[..end]);
}
