//! The MQTT 3.1.1 and 5.0 packet codec: bytes ↔ [`Packet`], no I/O.
//!
//! [`decode`] takes what has arrived so far and returns `Ok(None)` when a whole packet is
//! not there yet ("need more bytes" is not an error). A packet whose declared size is over
//! the maximum is refused as soon as its fixed header is readable, before its body
//! arrives. Payloads are zero-copy slices of the receive buffer ([`Bytes`]).
//!
//! The protocol version is a parameter because packets differ between the versions
//! (properties and reason codes exist only in 5.0). CONNECT is the exception: it carries
//! its own protocol level, and [`decode`] decodes it whatever `version` says; the session
//! then knows the version for every later packet.
//!
//! # Protocol levels
//!
//! Level 4 (`MQTT`, 3.1.1) and level 5 (`MQTT`, 5.0) are supported. Level 3 (`MQIsdp`,
//! MQTT 3.1, never an OASIS standard) is refused with
//! [`DecodeError::UnsupportedProtocol`]; the session answers it with the 3.1.1 CONNACK
//! return code 0x01 "unacceptable protocol version", as MQTT 3.1.1 section 3.1.2.2
//! (MQTT-3.1.2-2) requires for a level the server does not support.
//!
//! # Errors
//!
//! Every [`DecodeError`] maps to the MQTT 5.0 reason code the server sends in its
//! DISCONNECT (or CONNACK) before closing ([`DecodeError::reason_code`]): Malformed Packet
//! 0x81, Protocol Error 0x82, Unsupported Protocol Version 0x84, Topic Name invalid 0x90,
//! Packet too large 0x95. An MQTT 3.1.1 client is simply disconnected.

mod connect;
mod disconnect;
pub mod primitives;
pub mod properties;
mod publish;
mod reason;
mod subscribe;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

pub use connect::{ConnAck, Connect, LastWill};
pub use disconnect::{Auth, Disconnect};
pub use properties::{Properties, PropertyContext};
pub use publish::{PubResponse, Publish};
pub use reason::ReasonCode;
pub use subscribe::{
    RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
};

use primitives::{Reader, VarIntPeek, peek_variable_int, put_variable_int, variable_int_len};

/// The largest packet MQTT can express: a 5-byte fixed header (1 + 4-byte remaining
/// length) plus the largest remaining length.
pub const MAX_PACKET_SIZE: usize = 1 + 4 + primitives::MAX_VARIABLE_INT as usize;

/// The MQTT protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte in CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Self::V311 => 4,
            Self::V5 => 5,
        }
    }
}

/// A quality of service level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum QoS {
    /// At most once.
    AtMostOnce = 0,
    /// At least once.
    AtLeastOnce = 1,
    /// Exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this value; 3 and above are invalid.
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    /// The value on the wire.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// The 15 MQTT control packet types (MQTT 5.0 section 2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 1.
    Connect = 1,
    /// 2.
    ConnAck = 2,
    /// 3.
    Publish = 3,
    /// 4.
    PubAck = 4,
    /// 5.
    PubRec = 5,
    /// 6.
    PubRel = 6,
    /// 7.
    PubComp = 7,
    /// 8.
    Subscribe = 8,
    /// 9.
    SubAck = 9,
    /// 10.
    Unsubscribe = 10,
    /// 11.
    UnsubAck = 11,
    /// 12.
    PingReq = 12,
    /// 13.
    PingResp = 13,
    /// 14.
    Disconnect = 14,
    /// 15 (MQTT 5.0 only).
    Auth = 15,
}

impl PacketType {
    fn from_u8(value: u8) -> Option<Self> {
        use PacketType::*;
        Some(match value {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The flags that every packet of this type must carry in the low nibble of the
    /// first byte (MQTT 5.0 table 2-2); PUBLISH has no fixed flags.
    fn fixed_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// An MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT.
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubResponse),
    /// PUBREC.
    PubRec(PubResponse),
    /// PUBREL.
    PubRel(PubResponse),
    /// PUBCOMP.
    PubComp(PubResponse),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 only).
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The size of the packet on the wire, fixed header included: what "Maximum Packet
    /// Size" limits.
    pub fn encoded_len(&self, version: ProtocolVersion) -> usize {
        let remaining = match self {
            Packet::Publish(publish) => publish.remaining_len(version),
            other => {
                let mut scratch = BytesMut::new();
                other.encode_body(version, &mut scratch);
                scratch.len()
            }
        };
        1 + variable_int_len(remaining as u32) + remaining
    }

    fn first_byte(&self) -> u8 {
        let flags = match self {
            Packet::Publish(publish) => publish.flags(),
            other => other.packet_type().fixed_flags().unwrap_or(0),
        };
        ((self.packet_type() as u8) << 4) | flags
    }

    /// Writes everything after the fixed header, except a PUBLISH payload.
    fn encode_body(&self, version: ProtocolVersion, out: &mut BytesMut) {
        match self {
            Packet::Connect(connect) => connect.encode(out),
            Packet::ConnAck(connack) => connack.encode(version, out),
            Packet::Publish(publish) => publish.encode_header(version, out),
            Packet::PubAck(response)
            | Packet::PubRec(response)
            | Packet::PubRel(response)
            | Packet::PubComp(response) => response.encode(version, out),
            Packet::Subscribe(subscribe) => subscribe.encode(version, out),
            Packet::SubAck(suback) => suback.encode(version, out),
            Packet::Unsubscribe(unsubscribe) => unsubscribe.encode(version, out),
            Packet::UnsubAck(unsuback) => unsuback.encode(version, out),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(disconnect) => disconnect.encode(version, out),
            Packet::Auth(auth) => auth.encode(out),
        }
    }
}

/// Why bytes are not a valid MQTT packet. See [`DecodeError::reason_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A variable byte integer is longer than four bytes or not minimally encoded.
    #[error("malformed variable byte integer")]
    MalformedVariableInt,
    /// The packet type nibble is 0, or 15 (AUTH) on an MQTT 3.1.1 connection.
    #[error("invalid packet type {packet_type}")]
    InvalidPacketType {
        /// The nibble.
        packet_type: u8,
    },
    /// The low nibble of the first byte breaks the rules for the packet type.
    #[error("reserved flags {flags:#06b} set in a {packet_type:?} packet")]
    ReservedFlags {
        /// The packet type.
        packet_type: PacketType,
        /// The flags.
        flags: u8,
    },
    /// The packet is bigger than the maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {maximum} bytes")]
    PacketTooLarge {
        /// The size the packet declares, fixed header included.
        size: usize,
        /// The limit.
        maximum: usize,
    },
    /// A field runs past the end of the packet.
    #[error("packet ends inside the {what}")]
    Truncated {
        /// The field.
        what: &'static str,
    },
    /// Bytes are left over after the last field.
    #[error("{count} unexpected bytes after the end of a {packet_type:?} packet")]
    TrailingBytes {
        /// The packet type.
        packet_type: PacketType,
        /// How many bytes.
        count: usize,
    },
    /// A string is not well-formed UTF-8 (which includes encoded surrogates).
    #[error("the {what} is not valid utf-8")]
    InvalidUtf8 {
        /// The field.
        what: &'static str,
    },
    /// A string contains U+0000 (MQTT-1.5.4-2).
    #[error("the {what} contains the null character")]
    NullCharacter {
        /// The field.
        what: &'static str,
    },
    /// A QoS of 3.
    #[error("invalid qos 3 in the {what}")]
    InvalidQos {
        /// Where.
        what: &'static str,
    },
    /// A packet identifier of 0 (MQTT-2.2.1-3).
    #[error("packet identifier 0 is not allowed")]
    ZeroPacketIdentifier,
    /// A property identifier that MQTT 5.0 does not define.
    #[error("unknown property identifier {id:#04x}")]
    UnknownProperty {
        /// The identifier.
        id: u32,
    },
    /// A property that is not valid in this packet.
    #[error("property {id:#04x} is not allowed in {context:?} properties")]
    PropertyNotAllowed {
        /// The identifier.
        id: u8,
        /// The packet (or will) it appeared in.
        context: PropertyContext,
    },
    /// A property that may appear only once appears twice.
    #[error("property {id:#04x} appears more than once")]
    DuplicateProperty {
        /// The identifier.
        id: u8,
    },
    /// A property value outside its allowed range.
    #[error("property {id:#04x} {reason}")]
    InvalidPropertyValue {
        /// The identifier.
        id: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// A reason code that the specification does not define.
    #[error("invalid reason code {code:#04x} in a {packet_type:?} packet")]
    InvalidReasonCode {
        /// The packet type.
        packet_type: PacketType,
        /// The code.
        code: u8,
    },
    /// A PUBLISH topic name with `+` or `#`, or an empty one where it is not allowed.
    #[error("invalid topic name {topic:?}: {reason}")]
    TopicNameInvalid {
        /// The topic name.
        topic: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("{packet_type:?} packet without topic filters")]
    NoTopicFilters {
        /// The packet type.
        packet_type: PacketType,
    },
    /// Subscription options with reserved bits set or QoS 3.
    #[error("malformed subscription options {options:#010b}")]
    MalformedSubscriptionOptions {
        /// The options byte.
        options: u8,
    },
    /// Retain Handling 3 (MQTT 5.0 section 3.8.3.1).
    #[error("retain handling 3 is not allowed")]
    InvalidRetainHandling,
    /// A CONNECT packet with an unknown protocol name or an unsupported level.
    #[error("unsupported protocol {name:?} level {level}")]
    UnsupportedProtocol {
        /// The protocol name.
        name: String,
        /// The protocol level.
        level: u8,
    },
    /// Malformed CONNECT flags (reserved bit, will flags without a will, password without
    /// user name in 3.1.1).
    #[error("malformed connect flags {flags:#010b}: {reason}")]
    MalformedConnectFlags {
        /// The flags byte.
        flags: u8,
        /// What is wrong.
        reason: &'static str,
    },
}

impl DecodeError {
    /// The MQTT 5.0 reason code for this error, to send in DISCONNECT (or CONNACK).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            DecodeError::TopicNameInvalid { .. } => ReasonCode::TopicNameInvalid,
            DecodeError::UnsupportedProtocol { .. } => ReasonCode::UnsupportedProtocolVersion,
            DecodeError::ZeroPacketIdentifier
            | DecodeError::DuplicateProperty { .. }
            | DecodeError::InvalidPropertyValue { .. }
            | DecodeError::NoTopicFilters { .. }
            | DecodeError::InvalidRetainHandling => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

/// Decodes one packet from the front of `buf`, consuming its bytes.
///
/// Returns `Ok(None)` when `buf` does not yet hold a whole packet (nothing is consumed).
/// `max_packet_size` bounds the whole packet, fixed header included; a bigger packet is
/// refused as soon as its length is known. CONNECT is decoded whatever `version` is.
///
/// # Errors
/// A [`DecodeError`]; the connection should then be closed (after the DISCONNECT or
/// CONNACK that [`DecodeError::reason_code`] names, on MQTT 5.0).
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let (remaining, len_bytes) = match peek_variable_int(&buf[1..])? {
        VarIntPeek::Complete { value, len } => (value as usize, len),
        VarIntPeek::Incomplete => return Ok(None),
    };
    let size = 1 + len_bytes + remaining;
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge {
            size,
            maximum: max_packet_size,
        });
    }
    if buf.len() < size {
        buf.reserve(size - buf.len());
        return Ok(None);
    }
    let frame = buf.split_to(size).freeze();
    decode_frame(first, frame.slice(1 + len_bytes..), version).map(Some)
}

fn decode_frame(first: u8, body: Bytes, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let type_nibble = first >> 4;
    let flags = first & 0x0F;
    let packet_type = match PacketType::from_u8(type_nibble) {
        Some(PacketType::Auth) if version == ProtocolVersion::V311 => None,
        other => other,
    }
    .ok_or(DecodeError::InvalidPacketType {
        packet_type: type_nibble,
    })?;
    if let Some(expected) = packet_type.fixed_flags()
        && flags != expected
    {
        return Err(DecodeError::ReservedFlags { packet_type, flags });
    }
    let mut reader = Reader::new(body);
    let packet = match packet_type {
        PacketType::Connect => Packet::Connect(Box::new(Connect::decode(&mut reader)?)),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(&mut reader, version)?),
        PacketType::Publish => Packet::Publish(Publish::decode(flags, &mut reader, version)?),
        PacketType::PubAck => {
            Packet::PubAck(PubResponse::decode(packet_type, &mut reader, version)?)
        }
        PacketType::PubRec => {
            Packet::PubRec(PubResponse::decode(packet_type, &mut reader, version)?)
        }
        PacketType::PubRel => {
            Packet::PubRel(PubResponse::decode(packet_type, &mut reader, version)?)
        }
        PacketType::PubComp => {
            Packet::PubComp(PubResponse::decode(packet_type, &mut reader, version)?)
        }
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut reader, version)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(&mut reader, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(&mut reader, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(&mut reader, version)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(&mut reader, version)?),
        PacketType::Auth => Packet::Auth(Auth::decode(&mut reader)?),
    };
    if !reader.is_empty() {
        return Err(DecodeError::TrailingBytes {
            packet_type,
            count: reader.remaining(),
        });
    }
    Ok(packet)
}

/// Appends `packet` to `out`, encoded for `version`. Fields that `version` cannot carry
/// (properties and reason codes on 3.1.1) are left out.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) {
    if let Packet::Publish(publish) = packet {
        // The hot path: the length is known up front, so nothing is staged.
        let remaining = publish.remaining_len(version);
        out.reserve(1 + 4 + remaining);
        out.put_u8(packet.first_byte());
        put_variable_int(out, remaining as u32);
        publish.encode_header(version, out);
        out.put_slice(&publish.payload);
        return;
    }
    let version = match packet {
        Packet::Connect(connect) => connect.version,
        _ => version,
    };
    let mut body = BytesMut::new();
    packet.encode_body(version, &mut body);
    out.reserve(1 + 4 + body.len());
    out.put_u8(packet.first_byte());
    put_variable_int(out, body.len() as u32);
    out.put_slice(&body);
}

/// Reads a non-zero packet identifier.
fn packet_identifier(reader: &mut Reader) -> Result<u16, DecodeError> {
    match reader.u16("packet identifier")? {
        0 => Err(DecodeError::ZeroPacketIdentifier),
        id => Ok(id),
    }
}

fn reason_code(reader: &mut Reader, packet_type: PacketType) -> Result<ReasonCode, DecodeError> {
    let code = reader.u8("reason code")?;
    ReasonCode::from_u8(code).ok_or(DecodeError::InvalidReasonCode { packet_type, code })
}

#[cfg(test)]
mod tests;
