//! CONNECT (section 3.1) and CONNACK (section 3.2).

use bytes::{BufMut, Bytes, BytesMut};

use super::primitives::{Reader, put_binary, put_string};
use super::properties::{Properties, PropertyContext};
use super::{DecodeError, PacketType, ProtocolVersion, QoS, ReasonCode};

/// The protocol name of MQTT 3.1.1 and 5.0.
const PROTOCOL_NAME: &str = "MQTT";

/// A CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version the client asked for (from the protocol level).
    pub version: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// CONNECT properties (5.0).
    pub properties: Properties,
    /// The Client Identifier; may be empty.
    pub client_id: String,
    /// The Will Message, when the Will Flag is set.
    pub will: Option<LastWill>,
    /// The User Name.
    pub username: Option<String>,
    /// The Password.
    pub password: Option<Bytes>,
}

/// The Will Message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// The Will Topic (a topic name: no wildcards).
    pub topic: String,
    /// The Will Payload.
    pub payload: Bytes,
    /// The Will QoS.
    pub qos: QoS,
    /// The Will Retain flag.
    pub retain: bool,
    /// The Will Properties (5.0).
    pub properties: Properties,
}

/// A CONNACK packet. On 3.1.1 the reason code travels as the nearest return code
/// ([`ReasonCode::to_v3_connack`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// The Connect Reason Code.
    pub code: ReasonCode,
    /// CONNACK properties (5.0).
    pub properties: Properties,
}

mod flag {
    pub(super) const RESERVED: u8 = 0x01;
    pub(super) const CLEAN_START: u8 = 0x02;
    pub(super) const WILL: u8 = 0x04;
    pub(super) const WILL_QOS_SHIFT: u8 = 3;
    pub(super) const WILL_QOS: u8 = 0x18;
    pub(super) const WILL_RETAIN: u8 = 0x20;
    pub(super) const PASSWORD: u8 = 0x40;
    pub(super) const USERNAME: u8 = 0x80;
}

/// Rejects wildcards in a topic name (MQTT-3.3.2-2, also for the Will Topic).
pub(crate) fn check_topic_name(topic: &str) -> Result<(), DecodeError> {
    if topic.contains(['+', '#']) {
        return Err(DecodeError::TopicNameInvalid {
            topic: topic.to_owned(),
            reason: "topic names must not contain wildcards",
        });
    }
    Ok(())
}

impl Connect {
    pub(crate) fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        let name = reader.string("protocol name")?;
        let level = reader.u8("protocol level")?;
        let version = match (name.as_str(), level) {
            (PROTOCOL_NAME, 4) => ProtocolVersion::V311,
            (PROTOCOL_NAME, 5) => ProtocolVersion::V5,
            _ => return Err(DecodeError::UnsupportedProtocol { name, level }),
        };
        let flags = reader.u8("connect flags")?;
        let malformed = |reason| DecodeError::MalformedConnectFlags { flags, reason };
        if flags & flag::RESERVED != 0 {
            return Err(malformed("the reserved bit is set"));
        }
        let will_qos_bits = (flags & flag::WILL_QOS) >> flag::WILL_QOS_SHIFT;
        let has_will = flags & flag::WILL != 0;
        if !has_will && (will_qos_bits != 0 || flags & flag::WILL_RETAIN != 0) {
            return Err(malformed("will qos or will retain set without a will"));
        }
        let will_qos =
            QoS::from_u8(will_qos_bits).ok_or(DecodeError::InvalidQos { what: "will" })?;
        let has_username = flags & flag::USERNAME != 0;
        let has_password = flags & flag::PASSWORD != 0;
        if version == ProtocolVersion::V311 && has_password && !has_username {
            return Err(malformed("password without user name"));
        }
        let keep_alive = reader.u16("keep alive")?;
        let properties = match version {
            ProtocolVersion::V5 => Properties::decode(reader, PropertyContext::Connect)?,
            ProtocolVersion::V311 => Properties::default(),
        };
        let client_id = reader.string("client identifier")?;
        let will = if has_will {
            let properties = match version {
                ProtocolVersion::V5 => Properties::decode(reader, PropertyContext::Will)?,
                ProtocolVersion::V311 => Properties::default(),
            };
            let topic = reader.string("will topic")?;
            if topic.is_empty() {
                return Err(DecodeError::TopicNameInvalid {
                    topic,
                    reason: "the will topic must not be empty",
                });
            }
            check_topic_name(&topic)?;
            let payload = reader.binary("will payload")?;
            Some(LastWill {
                topic,
                payload,
                qos: will_qos,
                retain: flags & flag::WILL_RETAIN != 0,
                properties,
            })
        } else {
            None
        };
        let username = has_username
            .then(|| reader.string("user name"))
            .transpose()?;
        let password = has_password
            .then(|| reader.binary("password"))
            .transpose()?;
        Ok(Self {
            version,
            clean_start: flags & flag::CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_string(out, PROTOCOL_NAME);
        out.put_u8(self.version.level());
        let mut flags = 0;
        if self.clean_start {
            flags |= flag::CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= flag::WILL | (will.qos.as_u8() << flag::WILL_QOS_SHIFT);
            if will.retain {
                flags |= flag::WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= flag::USERNAME;
        }
        if self.password.is_some() {
            flags |= flag::PASSWORD;
        }
        out.put_u8(flags);
        out.put_u16(self.keep_alive);
        let v5 = self.version == ProtocolVersion::V5;
        if v5 {
            self.properties.encode(out);
        }
        put_string(out, &self.client_id);
        if let Some(will) = &self.will {
            if v5 {
                will.properties.encode(out);
            }
            put_string(out, &will.topic);
            put_binary(out, &will.payload);
        }
        if let Some(username) = &self.username {
            put_string(out, username);
        }
        if let Some(password) = &self.password {
            put_binary(out, password);
        }
    }
}

impl ConnAck {
    /// A CONNACK with no properties.
    pub fn new(session_present: bool, code: ReasonCode) -> Self {
        Self {
            session_present,
            code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let flags = reader.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::ReservedFlags {
                packet_type: PacketType::ConnAck,
                flags,
            });
        }
        let code = reader.u8("connect reason code")?;
        let invalid = DecodeError::InvalidReasonCode {
            packet_type: PacketType::ConnAck,
            code,
        };
        let (code, properties) = match version {
            ProtocolVersion::V311 => (
                ReasonCode::from_v3_connack(code).ok_or(invalid)?,
                Properties::default(),
            ),
            ProtocolVersion::V5 => (
                ReasonCode::from_u8(code).ok_or(invalid)?,
                Properties::decode(reader, PropertyContext::ConnAck)?,
            ),
        };
        Ok(Self {
            session_present: flags & 1 == 1,
            code,
            properties,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        out.put_u8(u8::from(self.session_present));
        match version {
            ProtocolVersion::V311 => out.put_u8(self.code.to_v3_connack()),
            ProtocolVersion::V5 => {
                out.put_u8(self.code.as_u8());
                self.properties.encode(out);
            }
        }
    }
}
