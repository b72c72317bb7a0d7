//! Decoding, with a clear error for every kind of malformed input.

use bytes::{Buf, Bytes};
use weft_core::topic::{Filter, Topic};

pub use super::error::DecodeError;
use super::{FRAME_VERSION, compress, kind};
use crate::interest::{InterestChange, InterestEntry, InterestKind};
use crate::name::{GroupName, MeshName, NodeName};
use crate::wire::{
    Ack, Adjacency, Capabilities, DurableTag, Events, GroupAssignment, Hello, HelloAck,
    InterestBody, InterestUpdate, LinkStateAdvertisement, MeshEvent, Message, Refuse, RefuseReason,
    Route,
};

struct Reader {
    bytes: Bytes,
}

impl Reader {
    fn need(&self, count: usize, field: &'static str) -> Result<(), DecodeError> {
        if self.bytes.remaining() < count {
            return Err(DecodeError::Truncated { field });
        }
        Ok(())
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(1, field)?;
        Ok(self.bytes.get_u8())
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.need(2, field)?;
        Ok(self.bytes.get_u16())
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(4, field)?;
        Ok(self.bytes.get_u32())
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.need(8, field)?;
        Ok(self.bytes.get_u64())
    }

    fn take(&mut self, count: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        self.need(count, field)?;
        Ok(self.bytes.split_to(count))
    }

    fn utf8(&mut self, count: usize, field: &'static str) -> Result<String, DecodeError> {
        let bytes = self.take(count, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { field })
    }

    fn short_text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let count = self.u8(field)? as usize;
        self.utf8(count, field)
    }

    fn text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let count = self.u16(field)? as usize;
        self.utf8(count, field)
    }

    fn node(&mut self, field: &'static str) -> Result<NodeName, DecodeError> {
        let text = self.short_text(field)?;
        NodeName::new(&text).map_err(|source| DecodeError::InvalidName { field, source })
    }

    /// A node name; one equal to `last` is a clone of it (no allocation, no check).
    /// The events of a batch mostly share their origin.
    fn node_like(
        &mut self,
        field: &'static str,
        last: Option<&NodeName>,
    ) -> Result<NodeName, DecodeError> {
        let count = self.u8(field)? as usize;
        let bytes = self.take(count, field)?;
        if let Some(last) = last.filter(|last| last.as_str().as_bytes() == bytes) {
            return Ok(last.clone());
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| DecodeError::InvalidUtf8 { field })?;
        NodeName::new(text).map_err(|source| DecodeError::InvalidName { field, source })
    }

    /// A topic; one equal to `last` is copied from it without checking it again.
    fn topic_like(
        &mut self,
        field: &'static str,
        last: Option<&Topic>,
    ) -> Result<Topic, DecodeError> {
        let count = self.u16(field)? as usize;
        let bytes = self.take(count, field)?;
        if let Some(last) = last.filter(|last| last.as_str().as_bytes() == bytes) {
            return Ok(last.clone());
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| DecodeError::InvalidUtf8 { field })?;
        Topic::new(text).map_err(|source| DecodeError::InvalidTopic { field, source })
    }

    fn group(&mut self, field: &'static str) -> Result<GroupName, DecodeError> {
        let text = self.short_text(field)?;
        GroupName::new(&text).map_err(|source| DecodeError::InvalidName { field, source })
    }

    fn filter(&mut self, field: &'static str) -> Result<Filter, DecodeError> {
        let text = self.text(field)?;
        Filter::new(text).map_err(|source| DecodeError::InvalidTopic { field, source })
    }

    /// A list count, checked against the bytes left (each item takes at least
    /// `min_item` bytes), so a hostile count cannot make us allocate.
    fn count(
        &mut self,
        count: usize,
        min_item: usize,
        field: &'static str,
    ) -> Result<usize, DecodeError> {
        if count.saturating_mul(min_item) > self.bytes.remaining() {
            return Err(DecodeError::Truncated { field });
        }
        Ok(count)
    }

    fn capabilities(&mut self) -> Result<Capabilities, DecodeError> {
        let bits = self.u8("capabilities")?;
        // Unknown bits are capabilities of a newer peer: ignored.
        Ok(Capabilities {
            lz4: bits & 1 != 0,
            zstd: bits & 2 != 0,
            batching: bits & 4 != 0,
            binary_envelope: bits & 8 != 0,
        })
    }
}

/// Decodes a frame after its length; also returns the frame's length before
/// compression (length prefix included), for metrics.
pub(super) fn message(frame: Bytes, limit: usize) -> Result<(Message, usize), DecodeError> {
    let mut reader = Reader { bytes: frame };
    let version = reader.u8("frame version")?;
    if version != FRAME_VERSION {
        return Err(DecodeError::UnsupportedFrameVersion { version });
    }
    if reader.bytes.first() == Some(&kind::COMPRESSED) {
        reader.bytes.advance(1);
        let inner = compress::read(reader.bytes, limit)?;
        if inner.first() == Some(&kind::COMPRESSED) {
            return Err(DecodeError::NestedCompression);
        }
        let logical = 5 + inner.len();
        return body(Reader { bytes: inner }).map(|message| (message, logical));
    }
    let logical = 5 + reader.bytes.len();
    body(reader).map(|message| (message, logical))
}

/// Decodes `type · body`.
fn body(mut reader: Reader) -> Result<Message, DecodeError> {
    let code = reader.u8("message type")?;
    let message = match code {
        kind::HELLO => Message::Hello(hello(&mut reader)?),
        kind::HELLO_ACK => Message::HelloAck(HelloAck {
            node: reader.node("node")?,
            capabilities: reader.capabilities()?,
        }),
        kind::REFUSE => Message::Refuse(Refuse {
            reason: refuse_reason(reader.u8("refuse reason")?)?,
            detail: reader.text("refuse detail")?,
        }),
        kind::HEARTBEAT => Message::Heartbeat {
            nonce: reader.u64("nonce")?,
        },
        kind::HEARTBEAT_ACK => Message::HeartbeatAck {
            nonce: reader.u64("nonce")?,
        },
        kind::LINK_STATE => Message::LinkState(link_state(&mut reader)?),
        kind::INTEREST => Message::Interest(interest(&mut reader)?),
        kind::INTEREST_REQUEST => Message::InterestRequest {
            node: reader.node("node")?,
        },
        kind::EVENTS => Message::Events(events(&mut reader)?),
        kind::ACK => Message::Ack(Ack {
            origin: reader.node("ack origin")?,
            acker: reader.node("ack acker")?,
            stream: reader.u64("ack stream")?,
            up_to_sequence: reader.u64("ack sequence")?,
        }),
        code => return Err(DecodeError::UnknownMessageType { code }),
    };
    if reader.bytes.has_remaining() {
        return Err(DecodeError::TrailingBytes {
            count: reader.bytes.remaining(),
        });
    }
    Ok(message)
}

fn hello(reader: &mut Reader) -> Result<Hello, DecodeError> {
    let mesh = reader.short_text("mesh name")?;
    let mesh = MeshName::new(&mesh).map_err(|source| DecodeError::InvalidName {
        field: "mesh name",
        source,
    })?;
    Ok(Hello {
        mesh,
        node: reader.node("node name")?,
        incarnation: reader.u64("incarnation")?,
        protocol_version: reader.u16("protocol version")?,
        capabilities: reader.capabilities()?,
    })
}

fn refuse_reason(code: u8) -> Result<RefuseReason, DecodeError> {
    Ok(match code {
        1 => RefuseReason::DuplicateNodeName,
        2 => RefuseReason::DifferentMesh,
        3 => RefuseReason::UnsupportedVersion,
        4 => RefuseReason::ProtocolViolation,
        value => {
            return Err(DecodeError::InvalidValue {
                field: "refuse reason",
                value,
            });
        }
    })
}

fn link_state(reader: &mut Reader) -> Result<LinkStateAdvertisement, DecodeError> {
    let node = reader.node("advertising node")?;
    let incarnation = reader.u64("incarnation")?;
    let sequence = reader.u64("sequence")?;
    let interest_version = reader.u64("interest version")?;
    let raw = reader.u32("neighbour count")? as usize;
    let count = reader.count(raw, 6, "neighbours")?;
    let mut neighbours = Vec::with_capacity(count);
    for _ in 0..count {
        neighbours.push(Adjacency {
            node: reader.node("neighbour")?,
            cost: reader.u32("cost")?,
        });
    }
    Ok(LinkStateAdvertisement {
        node,
        incarnation,
        sequence,
        interest_version,
        neighbours,
    })
}

fn interest_entry(reader: &mut Reader) -> Result<InterestEntry, DecodeError> {
    let filter = reader.filter("interest filter")?;
    let kind = match reader.u8("interest kind")? {
        0 => InterestKind::Live,
        1 => InterestKind::Durable,
        2 => InterestKind::Queue(reader.group("queue group")?),
        value => {
            return Err(DecodeError::InvalidValue {
                field: "interest kind",
                value,
            });
        }
    };
    Ok(InterestEntry { filter, kind })
}

fn interest(reader: &mut Reader) -> Result<InterestUpdate, DecodeError> {
    let node = reader.node("interest node")?;
    let incarnation = reader.u64("incarnation")?;
    let version = reader.u64("interest version")?;
    let body_kind = reader.u8("interest body")?;
    let raw = reader.u32("interest count")? as usize;
    let body = match body_kind {
        0 => {
            let count = reader.count(raw, 4, "interest changes")?;
            let mut changes = Vec::with_capacity(count);
            for _ in 0..count {
                let change = match reader.u8("interest change")? {
                    0 => InterestChange::Add(interest_entry(reader)?),
                    1 => InterestChange::Remove(interest_entry(reader)?),
                    value => {
                        return Err(DecodeError::InvalidValue {
                            field: "interest change",
                            value,
                        });
                    }
                };
                changes.push(change);
            }
            InterestBody::Delta(changes)
        }
        1 => {
            let count = reader.count(raw, 3, "interest entries")?;
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                entries.push(interest_entry(reader)?);
            }
            InterestBody::Full(entries)
        }
        value => {
            return Err(DecodeError::InvalidValue {
                field: "interest body",
                value,
            });
        }
    };
    if version == 0 && matches!(body, InterestBody::Delta(_)) {
        return Err(DecodeError::InvalidValue {
            field: "interest version",
            value: 0,
        });
    }
    Ok(InterestUpdate {
        node,
        incarnation,
        version,
        body,
    })
}

fn events(reader: &mut Reader) -> Result<Events, DecodeError> {
    let route = match reader.u8("route")? {
        0 => Route::Tree,
        1 => Route::Unicast {
            destination: reader.node("destination")?,
        },
        value => {
            return Err(DecodeError::InvalidValue {
                field: "route",
                value,
            });
        }
    };
    let raw = reader.u32("event count")? as usize;
    let count = reader.count(raw, 28, "events")?;
    let mut events: Vec<MeshEvent> = Vec::with_capacity(count);
    for _ in 0..count {
        let event = mesh_event(reader, events.last())?;
        events.push(event);
    }
    Ok(Events { route, events })
}

/// One event; its origin and topic are shared with `previous` when they are equal.
fn mesh_event(reader: &mut Reader, previous: Option<&MeshEvent>) -> Result<MeshEvent, DecodeError> {
    let origin = reader.node_like("event origin", previous.map(|event| &event.origin))?;
    let incarnation = reader.u64("event incarnation")?;
    let sequence = reader.u64("event sequence")?;
    let topic = reader.topic_like("event topic", previous.map(|event| &event.topic))?;
    let hops = reader.u8("event hops")?;
    let raw = reader.u16("durable count")? as usize;
    let count = reader.count(raw, 17, "durable tags")?;
    let mut durable = Vec::with_capacity(count);
    for _ in 0..count {
        durable.push(DurableTag {
            node: reader.node("durable node")?,
            stream: reader.u64("durable stream")?,
            sequence: reader.u64("durable sequence")?,
        });
    }
    let raw = reader.u16("group count")? as usize;
    let count = reader.count(raw, 2, "group assignments")?;
    let mut groups = Vec::with_capacity(count);
    for _ in 0..count {
        groups.push(GroupAssignment {
            group: reader.group("queue group")?,
            node: reader.node("group node")?,
        });
    }
    let length = reader.u32("payload length")? as usize;
    let payload = reader.take(length, "payload")?;
    Ok(MeshEvent {
        origin,
        incarnation,
        sequence,
        topic,
        hops,
        durable,
        groups,
        payload,
    })
}
