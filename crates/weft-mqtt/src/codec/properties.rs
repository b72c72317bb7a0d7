//! MQTT 5.0 properties (section 2.2.2): every property with its identifier and type,
//! the packets it may appear in, and the duplicate rules.
//!
//! - An identifier that is not valid for the packet, or unknown, is a Malformed Packet
//!   (section 2.2.2.2).
//! - Any property other than User Property (and Subscription Identifier in PUBLISH) given
//!   more than once is a Protocol Error (each property's "more than once" rule).
//! - Values outside their allowed range (a Receive Maximum of 0, a Payload Format
//!   Indicator of 2, ...) are Protocol Errors.

use bytes::{BufMut, Bytes, BytesMut};

use super::DecodeError;
use super::primitives::{
    MAX_VARIABLE_INT, Reader, binary_len, put_binary, put_string, put_variable_int, string_len,
    variable_int_len,
};

/// Property identifiers (MQTT 5.0 table 2-4).
pub mod id {
    /// Byte; PUBLISH, Will.
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    /// Four Byte Integer; PUBLISH, Will.
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    /// UTF-8 string; PUBLISH, Will.
    pub const CONTENT_TYPE: u8 = 0x03;
    /// UTF-8 string; PUBLISH, Will.
    pub const RESPONSE_TOPIC: u8 = 0x08;
    /// Binary data; PUBLISH, Will.
    pub const CORRELATION_DATA: u8 = 0x09;
    /// Variable Byte Integer; PUBLISH, SUBSCRIBE.
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    /// Four Byte Integer; CONNECT, CONNACK, DISCONNECT.
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    /// UTF-8 string; CONNACK.
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    /// Two Byte Integer; CONNACK.
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    /// UTF-8 string; CONNECT, CONNACK, AUTH.
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    /// Binary data; CONNECT, CONNACK, AUTH.
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    /// Byte; CONNECT.
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    /// Four Byte Integer; Will.
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    /// Byte; CONNECT.
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    /// UTF-8 string; CONNACK.
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    /// UTF-8 string; CONNACK, DISCONNECT.
    pub const SERVER_REFERENCE: u8 = 0x1C;
    /// UTF-8 string; CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK,
    /// DISCONNECT, AUTH.
    pub const REASON_STRING: u8 = 0x1F;
    /// Two Byte Integer; CONNECT, CONNACK.
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    /// Two Byte Integer; CONNECT, CONNACK.
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    /// Two Byte Integer; PUBLISH.
    pub const TOPIC_ALIAS: u8 = 0x23;
    /// Byte; CONNACK.
    pub const MAXIMUM_QOS: u8 = 0x24;
    /// Byte; CONNACK.
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    /// UTF-8 string pair; every packet that has properties.
    pub const USER_PROPERTY: u8 = 0x26;
    /// Four Byte Integer; CONNECT, CONNACK.
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    /// Byte; CONNACK.
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    /// Byte; CONNACK.
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    /// Byte; CONNACK.
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// Where a property block sits, which decides the properties it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    /// CONNECT.
    Connect,
    /// The Will Properties in the CONNECT payload.
    Will,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    PublishResponse,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK.
    SubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

/// Every MQTT 5.0 property; a packet uses the ones its [`PropertyContext`] allows.
/// `None`/empty means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// 0x01: 0 = unspecified bytes, 1 = UTF-8 payload.
    pub payload_format_indicator: Option<u8>,
    /// 0x02: seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03.
    pub content_type: Option<String>,
    /// 0x08.
    pub response_topic: Option<String>,
    /// 0x09.
    pub correlation_data: Option<Bytes>,
    /// 0x0B: one in SUBSCRIBE, any number in PUBLISH; never 0.
    pub subscription_identifiers: Vec<u32>,
    /// 0x11: seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x12.
    pub assigned_client_identifier: Option<String>,
    /// 0x13: seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15.
    pub authentication_method: Option<String>,
    /// 0x16.
    pub authentication_data: Option<Bytes>,
    /// 0x17: 0 or 1.
    pub request_problem_information: Option<u8>,
    /// 0x18: seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19: 0 or 1.
    pub request_response_information: Option<u8>,
    /// 0x1A.
    pub response_information: Option<String>,
    /// 0x1C.
    pub server_reference: Option<String>,
    /// 0x1F.
    pub reason_string: Option<String>,
    /// 0x21: never 0.
    pub receive_maximum: Option<u16>,
    /// 0x22.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23: never 0.
    pub topic_alias: Option<u16>,
    /// 0x24: 0 or 1.
    pub maximum_qos: Option<u8>,
    /// 0x25: 0 or 1.
    pub retain_available: Option<u8>,
    /// 0x26: name/value pairs in order; names may repeat.
    pub user_properties: Vec<(String, String)>,
    /// 0x27: bytes; never 0.
    pub maximum_packet_size: Option<u32>,
    /// 0x28: 0 or 1.
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29: 0 or 1.
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A: 0 or 1.
    pub shared_subscription_available: Option<u8>,
}

/// Whether property `id` may appear in `context` (MQTT 5.0 table 2-4).
pub fn allowed(id: u8, context: PropertyContext) -> bool {
    use PropertyContext as C;
    use id::*;
    match id {
        PAYLOAD_FORMAT_INDICATOR
        | MESSAGE_EXPIRY_INTERVAL
        | CONTENT_TYPE
        | RESPONSE_TOPIC
        | CORRELATION_DATA => matches!(context, C::Publish | C::Will),
        SUBSCRIPTION_IDENTIFIER => matches!(context, C::Publish | C::Subscribe),
        SESSION_EXPIRY_INTERVAL => matches!(context, C::Connect | C::ConnAck | C::Disconnect),
        ASSIGNED_CLIENT_IDENTIFIER
        | SERVER_KEEP_ALIVE
        | RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => context == C::ConnAck,
        AUTHENTICATION_METHOD | AUTHENTICATION_DATA => {
            matches!(context, C::Connect | C::ConnAck | C::Auth)
        }
        REQUEST_PROBLEM_INFORMATION | REQUEST_RESPONSE_INFORMATION => context == C::Connect,
        WILL_DELAY_INTERVAL => context == C::Will,
        SERVER_REFERENCE => matches!(context, C::ConnAck | C::Disconnect),
        REASON_STRING => !matches!(
            context,
            C::Connect | C::Will | C::Publish | C::Subscribe | C::Unsubscribe
        ),
        RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | MAXIMUM_PACKET_SIZE => {
            matches!(context, C::Connect | C::ConnAck)
        }
        TOPIC_ALIAS => context == C::Publish,
        USER_PROPERTY => true,
        _ => false,
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, id: u8) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty { id });
    }
    *slot = Some(value);
    Ok(())
}

fn flag(id: u8, value: u8) -> Result<u8, DecodeError> {
    if value > 1 {
        return Err(DecodeError::InvalidPropertyValue {
            id,
            reason: "must be 0 or 1",
        });
    }
    Ok(value)
}

fn non_zero_u16(id: u8, value: u16) -> Result<u16, DecodeError> {
    if value == 0 {
        return Err(DecodeError::InvalidPropertyValue {
            id,
            reason: "must not be 0",
        });
    }
    Ok(value)
}

impl Properties {
    /// Reads a property block: its variable byte integer length, then the properties.
    pub(crate) fn decode(
        reader: &mut Reader,
        context: PropertyContext,
    ) -> Result<Self, DecodeError> {
        let len = reader.variable_int("property length")?;
        let mut block = reader.sub(len as usize, "properties")?;
        let mut properties = Self::default();
        while !block.is_empty() {
            let property = block.variable_int("property identifier")?;
            let id = u8::try_from(property)
                .map_err(|_| DecodeError::UnknownProperty { id: property })?;
            if !allowed(id, context) {
                return Err(if allowed_anywhere(id) {
                    DecodeError::PropertyNotAllowed { id, context }
                } else {
                    DecodeError::UnknownProperty { id: property }
                });
            }
            properties.read_one(id, &mut block, context)?;
        }
        Ok(properties)
    }

    fn read_one(
        &mut self,
        id: u8,
        block: &mut Reader,
        context: PropertyContext,
    ) -> Result<(), DecodeError> {
        use id::*;
        const WHAT: &str = "property value";
        match id {
            PAYLOAD_FORMAT_INDICATOR => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.payload_format_indicator, value, id)
            }
            MESSAGE_EXPIRY_INTERVAL => {
                set_once(&mut self.message_expiry_interval, block.u32(WHAT)?, id)
            }
            CONTENT_TYPE => set_once(&mut self.content_type, block.string(WHAT)?, id),
            RESPONSE_TOPIC => set_once(&mut self.response_topic, block.string(WHAT)?, id),
            CORRELATION_DATA => set_once(&mut self.correlation_data, block.binary(WHAT)?, id),
            SUBSCRIPTION_IDENTIFIER => {
                let value = block.variable_int(WHAT)?;
                if value == 0 {
                    return Err(DecodeError::InvalidPropertyValue {
                        id,
                        reason: "must not be 0",
                    });
                }
                if context == PropertyContext::Subscribe
                    && !self.subscription_identifiers.is_empty()
                {
                    return Err(DecodeError::DuplicateProperty { id });
                }
                self.subscription_identifiers.push(value);
                Ok(())
            }
            SESSION_EXPIRY_INTERVAL => {
                set_once(&mut self.session_expiry_interval, block.u32(WHAT)?, id)
            }
            ASSIGNED_CLIENT_IDENTIFIER => set_once(
                &mut self.assigned_client_identifier,
                block.string(WHAT)?,
                id,
            ),
            SERVER_KEEP_ALIVE => set_once(&mut self.server_keep_alive, block.u16(WHAT)?, id),
            AUTHENTICATION_METHOD => {
                set_once(&mut self.authentication_method, block.string(WHAT)?, id)
            }
            AUTHENTICATION_DATA => set_once(&mut self.authentication_data, block.binary(WHAT)?, id),
            REQUEST_PROBLEM_INFORMATION => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.request_problem_information, value, id)
            }
            WILL_DELAY_INTERVAL => set_once(&mut self.will_delay_interval, block.u32(WHAT)?, id),
            REQUEST_RESPONSE_INFORMATION => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.request_response_information, value, id)
            }
            RESPONSE_INFORMATION => {
                set_once(&mut self.response_information, block.string(WHAT)?, id)
            }
            SERVER_REFERENCE => set_once(&mut self.server_reference, block.string(WHAT)?, id),
            REASON_STRING => set_once(&mut self.reason_string, block.string(WHAT)?, id),
            RECEIVE_MAXIMUM => {
                let value = non_zero_u16(id, block.u16(WHAT)?)?;
                set_once(&mut self.receive_maximum, value, id)
            }
            TOPIC_ALIAS_MAXIMUM => set_once(&mut self.topic_alias_maximum, block.u16(WHAT)?, id),
            TOPIC_ALIAS => {
                let value = non_zero_u16(id, block.u16(WHAT)?)?;
                set_once(&mut self.topic_alias, value, id)
            }
            MAXIMUM_QOS => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.maximum_qos, value, id)
            }
            RETAIN_AVAILABLE => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.retain_available, value, id)
            }
            USER_PROPERTY => {
                let name = block.string(WHAT)?;
                let value = block.string(WHAT)?;
                self.user_properties.push((name, value));
                Ok(())
            }
            MAXIMUM_PACKET_SIZE => {
                let value = block.u32(WHAT)?;
                if value == 0 {
                    return Err(DecodeError::InvalidPropertyValue {
                        id,
                        reason: "must not be 0",
                    });
                }
                set_once(&mut self.maximum_packet_size, value, id)
            }
            WILDCARD_SUBSCRIPTION_AVAILABLE => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.wildcard_subscription_available, value, id)
            }
            SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.subscription_identifier_available, value, id)
            }
            SHARED_SUBSCRIPTION_AVAILABLE => {
                let value = flag(id, block.u8(WHAT)?)?;
                set_once(&mut self.shared_subscription_available, value, id)
            }
            _ => Err(DecodeError::UnknownProperty { id: u32::from(id) }),
        }
    }

    /// Visits every present property in identifier order, as the encoder writes them.
    fn for_each(&self, mut visit: impl FnMut(u8, Value<'_>)) {
        use id::*;
        let byte = |value: &Option<u8>| value.map(Value::Byte);
        let four = |value: &Option<u32>| value.map(Value::Four);
        let two = |value: &Option<u16>| value.map(Value::Two);
        let mut one = |id: u8, value: Option<Value<'_>>| {
            if let Some(value) = value {
                visit(id, value);
            }
        };
        one(
            PAYLOAD_FORMAT_INDICATOR,
            byte(&self.payload_format_indicator),
        );
        one(MESSAGE_EXPIRY_INTERVAL, four(&self.message_expiry_interval));
        one(CONTENT_TYPE, self.content_type.as_deref().map(Value::Text));
        one(
            RESPONSE_TOPIC,
            self.response_topic.as_deref().map(Value::Text),
        );
        one(
            CORRELATION_DATA,
            self.correlation_data.as_deref().map(Value::Binary),
        );
        for &identifier in &self.subscription_identifiers {
            one(SUBSCRIPTION_IDENTIFIER, Some(Value::VarInt(identifier)));
        }
        one(SESSION_EXPIRY_INTERVAL, four(&self.session_expiry_interval));
        one(
            ASSIGNED_CLIENT_IDENTIFIER,
            self.assigned_client_identifier.as_deref().map(Value::Text),
        );
        one(SERVER_KEEP_ALIVE, two(&self.server_keep_alive));
        one(
            AUTHENTICATION_METHOD,
            self.authentication_method.as_deref().map(Value::Text),
        );
        one(
            AUTHENTICATION_DATA,
            self.authentication_data.as_deref().map(Value::Binary),
        );
        one(
            REQUEST_PROBLEM_INFORMATION,
            byte(&self.request_problem_information),
        );
        one(WILL_DELAY_INTERVAL, four(&self.will_delay_interval));
        one(
            REQUEST_RESPONSE_INFORMATION,
            byte(&self.request_response_information),
        );
        one(
            RESPONSE_INFORMATION,
            self.response_information.as_deref().map(Value::Text),
        );
        one(
            SERVER_REFERENCE,
            self.server_reference.as_deref().map(Value::Text),
        );
        one(
            REASON_STRING,
            self.reason_string.as_deref().map(Value::Text),
        );
        one(RECEIVE_MAXIMUM, two(&self.receive_maximum));
        one(TOPIC_ALIAS_MAXIMUM, two(&self.topic_alias_maximum));
        one(TOPIC_ALIAS, two(&self.topic_alias));
        one(MAXIMUM_QOS, byte(&self.maximum_qos));
        one(RETAIN_AVAILABLE, byte(&self.retain_available));
        for (name, value) in &self.user_properties {
            one(USER_PROPERTY, Some(Value::Pair(name, value)));
        }
        one(MAXIMUM_PACKET_SIZE, four(&self.maximum_packet_size));
        one(
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            byte(&self.wildcard_subscription_available),
        );
        one(
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            byte(&self.subscription_identifier_available),
        );
        one(
            SHARED_SUBSCRIPTION_AVAILABLE,
            byte(&self.shared_subscription_available),
        );
    }

    /// The length of the properties themselves, without the length prefix.
    pub(crate) fn body_len(&self) -> usize {
        let mut len = 0;
        self.for_each(|_, value| len += 1 + value.len());
        len
    }

    /// The encoded length including the variable byte integer length prefix.
    pub(crate) fn encoded_len(&self) -> usize {
        let body = self.body_len();
        variable_int_len(body as u32) + body
    }

    /// Writes the length prefix and the properties in identifier order.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let body = self.body_len();
        put_variable_int(out, body.min(MAX_VARIABLE_INT as usize) as u32);
        self.for_each(|id, value| {
            out.put_u8(id);
            value.put(out);
        });
    }

    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.body_len() == 0
    }
}

fn allowed_anywhere(id: u8) -> bool {
    use PropertyContext as C;
    [
        C::Connect,
        C::Will,
        C::ConnAck,
        C::Publish,
        C::PublishResponse,
        C::Subscribe,
        C::SubAck,
        C::Unsubscribe,
        C::UnsubAck,
        C::Disconnect,
        C::Auth,
    ]
    .into_iter()
    .any(|context| allowed(id, context))
}

/// One property value, borrowed, for encoding.
enum Value<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    VarInt(u32),
    Text(&'a str),
    Binary(&'a [u8]),
    Pair(&'a str, &'a str),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Byte(_) => 1,
            Value::Two(_) => 2,
            Value::Four(_) => 4,
            Value::VarInt(value) => variable_int_len(*value),
            Value::Text(text) => string_len(text),
            Value::Binary(data) => binary_len(data),
            Value::Pair(name, value) => string_len(name) + string_len(value),
        }
    }

    fn put(&self, out: &mut BytesMut) {
        match self {
            Value::Byte(value) => out.put_u8(*value),
            Value::Two(value) => out.put_u16(*value),
            Value::Four(value) => out.put_u32(*value),
            Value::VarInt(value) => put_variable_int(out, *value),
            Value::Text(text) => put_string(out, text),
            Value::Binary(data) => put_binary(out, data),
            Value::Pair(name, value) => {
                put_string(out, name);
                put_string(out, value);
            }
        }
    }
}
