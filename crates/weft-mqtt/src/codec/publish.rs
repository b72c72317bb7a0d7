//! PUBLISH (section 3.3) and its responses PUBACK, PUBREC, PUBREL, PUBCOMP
//! (sections 3.4 to 3.7).

use bytes::{BufMut, Bytes, BytesMut};

use super::connect::check_topic_name;
use super::primitives::{Reader, put_string, string_len};
use super::properties::{Properties, PropertyContext};
use super::{
    DecodeError, PacketType, ProtocolVersion, QoS, ReasonCode, packet_identifier, reason_code,
};

/// A PUBLISH packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The DUP flag: a re-delivery of an earlier attempt (QoS 1 and 2 only).
    pub dup: bool,
    /// The QoS.
    pub qos: QoS,
    /// The RETAIN flag.
    pub retain: bool,
    /// The Topic Name; empty on 5.0 when a Topic Alias stands in for it.
    pub topic: String,
    /// The Packet Identifier; present exactly when QoS > 0.
    pub packet_id: Option<u16>,
    /// PUBLISH properties (5.0).
    pub properties: Properties,
    /// The application message, zero-copy.
    pub payload: Bytes,
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP: a packet identifier, and on 5.0 a reason code and
/// properties (both left out on the wire when they are Success and empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubResponse {
    /// The Packet Identifier.
    pub packet_id: u16,
    /// The reason code (always Success on 3.1.1).
    pub code: ReasonCode,
    /// Properties (5.0).
    pub properties: Properties,
}

impl Publish {
    /// A QoS 0 message without properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: Properties::default(),
            payload: payload.into(),
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos.as_u8() << 1) | u8::from(self.retain)
    }

    pub(crate) fn decode(
        flags: u8,
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let retain = flags & 0b0001 != 0;
        let qos =
            QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQos { what: "publish" })?;
        if dup && qos == QoS::AtMostOnce {
            // MQTT-3.3.1-2: the DUP flag must be 0 for QoS 0 messages.
            return Err(DecodeError::ReservedFlags {
                packet_type: PacketType::Publish,
                flags,
            });
        }
        let topic = reader.string("topic name")?;
        check_topic_name(&topic)?;
        if topic.is_empty() && version == ProtocolVersion::V311 {
            return Err(DecodeError::TopicNameInvalid {
                topic,
                reason: "the topic name must not be empty",
            });
        }
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            _ => Some(packet_identifier(reader)?),
        };
        let properties = match version {
            ProtocolVersion::V5 => Properties::decode(reader, PropertyContext::Publish)?,
            ProtocolVersion::V311 => Properties::default(),
        };
        Ok(Self {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload: reader.rest(),
        })
    }

    /// The remaining length on the wire.
    pub(crate) fn remaining_len(&self, version: ProtocolVersion) -> usize {
        let mut len = string_len(&self.topic) + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            len += 2;
        }
        if version == ProtocolVersion::V5 {
            len += self.properties.encoded_len();
        }
        len
    }

    /// Writes the variable header (the payload follows separately, uncopied until then).
    pub(crate) fn encode_header(&self, version: ProtocolVersion, out: &mut BytesMut) {
        put_string(out, &self.topic);
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id.unwrap_or(0));
        }
        if version == ProtocolVersion::V5 {
            self.properties.encode(out);
        }
    }
}

impl PubResponse {
    /// A Success response without properties.
    pub fn new(packet_id: u16) -> Self {
        Self::with_code(packet_id, ReasonCode::Success)
    }

    /// A response with a reason code and no properties.
    pub fn with_code(packet_id: u16, code: ReasonCode) -> Self {
        Self {
            packet_id,
            code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(
        packet_type: PacketType,
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_identifier(reader)?;
        let mut response = Self::new(packet_id);
        if version == ProtocolVersion::V5 {
            // Section 3.4.2.1: the reason code and properties may be omitted.
            if !reader.is_empty() {
                response.code = reason_code(reader, packet_type)?;
            }
            if !reader.is_empty() {
                response.properties = Properties::decode(reader, PropertyContext::PublishResponse)?;
            }
        }
        Ok(response)
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            let has_properties = !self.properties.is_empty();
            if self.code != ReasonCode::Success || has_properties {
                out.put_u8(self.code.as_u8());
            }
            if has_properties {
                self.properties.encode(out);
            }
        }
    }
}
