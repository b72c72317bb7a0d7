//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK (sections 3.8 to 3.11).

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Serialize};

use super::primitives::{Reader, put_string};
use super::properties::{Properties, PropertyContext};
use super::{
    DecodeError, PacketType, ProtocolVersion, QoS, ReasonCode, packet_identifier, reason_code,
};

/// When retained messages are sent for a new subscription (MQTT 5.0 section 3.8.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe,
    /// 1: send them only if the subscription does not already exist.
    SendIfNew,
    /// 2: do not send them.
    DoNotSend,
}

/// The Subscription Options byte. On 3.1.1 only the QoS exists; the rest keep their
/// defaults, which give 3.1.1 behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local: do not send this client's own publications back to it.
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// Retain Handling.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this QoS and every other option at its default.
    pub fn new(qos: QoS) -> Self {
        Self {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let reserved = match version {
            ProtocolVersion::V311 => 0b1111_1100,
            ProtocolVersion::V5 => 0b1100_0000,
        };
        let malformed = DecodeError::MalformedSubscriptionOptions { options: byte };
        if byte & reserved != 0 {
            return Err(malformed);
        }
        let qos = QoS::from_u8(byte & 0b11).ok_or(malformed)?;
        let retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(Self {
            qos,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }

    fn encode(&self, version: ProtocolVersion) -> u8 {
        let mut byte = self.qos.as_u8();
        if version == ProtocolVersion::V5 {
            byte |= u8::from(self.no_local) << 2;
            byte |= u8::from(self.retain_as_published) << 3;
            byte |= (self.retain_handling as u8) << 4;
        }
        byte
    }
}

/// A SUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0): at most one Subscription Identifier, User Properties.
    pub properties: Properties,
    /// The topic filters (MQTT syntax, possibly `$share/…`) with their options; never
    /// empty.
    pub filters: Vec<(String, SubscriptionOptions)>,
}

/// A SUBACK packet: one reason code per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties,
    /// Granted QoS 0/1/2 or an error; on 3.1.1 every error is sent as 0x80.
    pub codes: Vec<ReasonCode>,
}

/// An UNSUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0): User Properties only.
    pub properties: Properties,
    /// The topic filters; never empty.
    pub filters: Vec<String>,
}

/// An UNSUBACK packet. 3.1.1 has no reason codes; they are left out on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties,
    /// One reason code per filter (5.0).
    pub codes: Vec<ReasonCode>,
}

fn properties(
    reader: &mut Reader,
    version: ProtocolVersion,
    context: PropertyContext,
) -> Result<Properties, DecodeError> {
    match version {
        ProtocolVersion::V5 => Properties::decode(reader, context),
        ProtocolVersion::V311 => Ok(Properties::default()),
    }
}

impl Subscribe {
    pub(crate) fn decode(
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_identifier(reader)?;
        let properties = properties(reader, version, PropertyContext::Subscribe)?;
        let mut filters = Vec::new();
        while !reader.is_empty() {
            let filter = reader.string("topic filter")?;
            let options = SubscriptionOptions::decode(reader.u8("subscription options")?, version)?;
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            });
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            self.properties.encode(out);
        }
        for (filter, options) in &self.filters {
            put_string(out, filter);
            out.put_u8(options.encode(version));
        }
    }
}

impl SubAck {
    pub(crate) fn decode(
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_identifier(reader)?;
        let properties = properties(reader, version, PropertyContext::SubAck)?;
        let mut codes = Vec::new();
        while !reader.is_empty() {
            let code = reason_code(reader, PacketType::SubAck)?;
            if version == ProtocolVersion::V311
                && !matches!(
                    code,
                    ReasonCode::Success
                        | ReasonCode::GrantedQos1
                        | ReasonCode::GrantedQos2
                        | ReasonCode::UnspecifiedError
                )
            {
                return Err(DecodeError::InvalidReasonCode {
                    packet_type: PacketType::SubAck,
                    code: code.as_u8(),
                });
            }
            codes.push(code);
        }
        Ok(Self {
            packet_id,
            properties,
            codes,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        match version {
            ProtocolVersion::V5 => {
                self.properties.encode(out);
                for code in &self.codes {
                    out.put_u8(code.as_u8());
                }
            }
            ProtocolVersion::V311 => {
                for code in &self.codes {
                    // 3.1.1 return codes: 0x00, 0x01, 0x02 or 0x80 Failure.
                    out.put_u8(if code.is_error() { 0x80 } else { code.as_u8() });
                }
            }
        }
    }
}

impl Unsubscribe {
    pub(crate) fn decode(
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_identifier(reader)?;
        let properties = properties(reader, version, PropertyContext::Unsubscribe)?;
        let mut filters = Vec::new();
        while !reader.is_empty() {
            filters.push(reader.string("topic filter")?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters {
                packet_type: PacketType::Unsubscribe,
            });
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            self.properties.encode(out);
        }
        for filter in &self.filters {
            put_string(out, filter);
        }
    }
}

impl UnsubAck {
    pub(crate) fn decode(
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_identifier(reader)?;
        let properties = properties(reader, version, PropertyContext::UnsubAck)?;
        let mut codes = Vec::new();
        if version == ProtocolVersion::V5 {
            while !reader.is_empty() {
                codes.push(reason_code(reader, PacketType::UnsubAck)?);
            }
        }
        Ok(Self {
            packet_id,
            properties,
            codes,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            self.properties.encode(out);
            for code in &self.codes {
                out.put_u8(code.as_u8());
            }
        }
    }
}
