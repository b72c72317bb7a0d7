//! DISCONNECT (section 3.14) and AUTH (section 3.15, 5.0 only).

use bytes::{BufMut, BytesMut};

use super::primitives::Reader;
use super::properties::{Properties, PropertyContext};
use super::{DecodeError, PacketType, ProtocolVersion, ReasonCode, reason_code};

/// A DISCONNECT packet. On 3.1.1 it has no body: the reason code is always Normal
/// disconnection there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// The Disconnect Reason Code.
    pub code: ReasonCode,
    /// Properties (5.0): Session Expiry Interval, Reason String, Server Reference, User
    /// Properties.
    pub properties: Properties,
}

/// An AUTH packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The Authenticate Reason Code.
    pub code: ReasonCode,
    /// Properties: Authentication Method and Data, Reason String, User Properties.
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with a reason code and no properties.
    pub fn new(code: ReasonCode) -> Self {
        Self {
            code,
            properties: Properties::default(),
        }
    }

    /// A DISCONNECT with a reason code and a Reason String.
    pub fn with_reason(code: ReasonCode, reason: impl Into<String>) -> Self {
        let mut disconnect = Self::new(code);
        disconnect.properties.reason_string = Some(reason.into());
        disconnect
    }

    pub(crate) fn decode(
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut disconnect = Self::new(ReasonCode::Success);
        if version == ProtocolVersion::V5 {
            // Section 3.14.2.1: a remaining length of 0 means Normal disconnection, and
            // properties may be omitted when the remaining length is less than 2.
            if !reader.is_empty() {
                disconnect.code = reason_code(reader, PacketType::Disconnect)?;
            }
            if !reader.is_empty() {
                disconnect.properties = Properties::decode(reader, PropertyContext::Disconnect)?;
            }
        }
        Ok(disconnect)
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
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

impl Auth {
    pub(crate) fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        let mut auth = Self {
            code: ReasonCode::Success,
            properties: Properties::default(),
        };
        // Section 3.15.2.1: the reason code and properties may be omitted for Success.
        if !reader.is_empty() {
            auth.code = reason_code(reader, PacketType::Auth)?;
            auth.properties = Properties::decode(reader, PropertyContext::Auth)?;
        }
        Ok(auth)
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        if self.code != ReasonCode::Success || !self.properties.is_empty() {
            out.put_u8(self.code.as_u8());
            self.properties.encode(out);
        }
    }
}
