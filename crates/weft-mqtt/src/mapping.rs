//! MQTT application messages ↔ weft [`Event`]s, under the CloudEvents MQTT protocol
//! binding (CloudEvents 1.0, "MQTT Protocol Binding").
//!
//! # MQTT → weft ([`message_to_event`])
//!
//! The content mode is chosen per message:
//!
//! 1. **Structured**: the Content Type is `application/cloudevents+json` (parameters
//!    allowed). The payload is one event in the JSON format (`weft_core::json`).
//! 2. **Binary** (MQTT 5.0 only): a User Property `specversion` is present. User
//!    Properties named like the context attributes (`specversion`, `id`, `source`,
//!    `type`, `subject`, `time`, `dataschema`) are those attributes, the Content Type is
//!    `datacontenttype`, the payload is the data, and a missing required attribute is an
//!    error ([`MappingError`], reason code 0x99 Payload format invalid).
//! 3. **Plain**: anything else. weft synthesises `id` (a new UUIDv7), `source`
//!    (`weft://NODE/mqtt/CLIENT-ID`), `type` (`weft.mqtt.publish`) and `time` (the
//!    receive time); the Content Type, if any, is `datacontenttype`.
//!
//! The topic is the event's topic (MQTT topic names are weft topics; see
//! `weft_topic::mqtt`). Empty payloads are empty data, not "no data".
//!
//! # weft → MQTT ([`event_to_message`])
//!
//! A **plain message** ([`is_plain_mqtt`]: the event weft made of a plain MQTT publish or
//! will, wherever it travelled since) goes back out as it came in: its topic, payload
//! and the properties its publisher set (Payload Format Indicator, Content Type,
//! Response Topic, Correlation Data, the User Properties in their order, the Message
//! Expiry Interval counted down), and nothing else. The attributes weft synthesised are
//! not added as User Properties: MQTT 5.0 section 3.3.2.3.7 says the server forwards
//! User Properties unaltered, and a subscriber with a small Maximum Packet Size must
//! still receive the message it would have received from any other broker.
//!
//! Every other event is **a CloudEvent** (it arrived over HTTP or Kafka, or over the
//! MQTT CloudEvents binding) and MQTT 5.0 subscribers get it in **binary mode**: every
//! context attribute except `datacontenttype` as a User Property (canonical string
//! form), `datacontenttype` as the Content Type, the data as the payload. MQTT 3.1.1 has no User Properties; the
//! binding allows only structured mode there, which would turn every plain MQTT message
//! into JSON, so weft sends 3.1.1 subscribers the **data alone** by default (the same
//! [`crate::session::Message`] serves both versions, zero-copy); [`OutboundMode::Structured`]
//! produces the structured form for consumers that want it.
//!
//! # MQTT properties that are not CloudEvents attributes
//!
//! So that an MQTT → weft → MQTT trip loses nothing, MQTT-only properties travel as
//! extension attributes with reserved names (clients must not use them for their own
//! extensions):
//!
//! | MQTT                         | extension attribute   | value                           |
//! |------------------------------|-----------------------|---------------------------------|
//! | Payload Format Indicator = 1 | `mqttpayloadutf8`     | Boolean `true`                  |
//! | Message Expiry Interval      | `mqttexpires`         | absolute RFC 3339 time          |
//! | Response Topic               | `mqttresponsetopic`   | String                          |
//! | Correlation Data             | `mqttcorrelationdata` | base64 (the CloudEvents Binary form) |
//! | PUBLISH QoS                  | `mqttqos`             | Integer 0..2 (absent: 2, the subscription decides) |
//! | User Properties (see below)  | `mqttuserprops`       | JSON array                      |
//!
//! **User Properties.** A User Property whose name is a valid extension name (`a-z0-9`,
//! at most 20 characters, not reserved) and that is the first with its name becomes an
//! extension attribute of that name, so Kafka and HTTP consumers see it as one. Every
//! other User Property (a name with capitals or `-`, a repeated name, a value CloudEvents
//! cannot carry, or any User Property of a structured-mode message) is kept in
//! `mqttuserprops`, a JSON array that also records the original order: each element is
//! either `"name"` (the extension attribute of that name, at this position) or
//! `["name", "value"]` (a property kept only here). The array is only written when it is
//! needed: when some property could not become an extension, or when the extension names
//! were not in alphabetical order (extensions alone are emitted in name order). When
//! the message goes out to MQTT again, attributes come first, then the User Properties in
//! their original order, so MQTT-3.3.2-18 (keep the order of User Properties) holds for
//! MQTT → MQTT.

use std::collections::BTreeSet;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use weft_core::event::AttributesBuilder;
use weft_core::{
    AttributeValue, CloudEvent, Event, EventError, ExtensionName, ExtensionValue, Timestamp,
    UriReference, json,
};

use crate::codec::{QoS, ReasonCode};
use crate::session::{Message, MessageProperties};

/// The `type` of events synthesised from plain MQTT payloads.
pub const PLAIN_EVENT_TYPE: &str = "weft.mqtt.publish";

/// Extension attribute names reserved for MQTT properties.
pub mod extension {
    /// Payload Format Indicator 1.
    pub const PAYLOAD_UTF8: &str = "mqttpayloadutf8";
    /// Message expiry time.
    pub const EXPIRES: &str = "mqttexpires";
    /// Response Topic.
    pub const RESPONSE_TOPIC: &str = "mqttresponsetopic";
    /// Correlation Data (base64).
    pub const CORRELATION_DATA: &str = "mqttcorrelationdata";
    /// PUBLISH QoS.
    pub const QOS: &str = "mqttqos";
    /// User Properties that are not extension attributes, and their order.
    pub const USER_PROPERTIES: &str = "mqttuserprops";
    /// All of them.
    pub const ALL: [&str; 6] = [
        PAYLOAD_UTF8,
        EXPIRES,
        RESPONSE_TOPIC,
        CORRELATION_DATA,
        QOS,
        USER_PROPERTIES,
    ];
}

/// The context attributes that binary mode carries as User Properties.
const CORE_USER_PROPERTIES: [&str; 7] = [
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "dataschema",
];

/// Where and from whom a message arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundContext<'a> {
    /// The node's name (the event's origin).
    pub node: &'a str,
    /// The publishing client's synthesised `source`, made once per connection.
    pub source: &'a PlainSource,
    /// When the message arrived.
    pub received_at: SystemTime,
}

/// The `source` of a client's plain messages, `weft://NODE/mqtt/CLIENT-ID` (the client
/// id percent-encoded), formatted and checked once per connection rather than once per
/// message: a session publishes every plain message with the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainSource {
    client_id: String,
    /// An error when the node's name makes the reference invalid: then every plain
    /// message of the client is refused with it, as when it was checked per message.
    source: Result<UriReference, EventError>,
}

impl PlainSource {
    /// The source of `client_id`'s plain messages on `node`.
    pub fn new(node: &str, client_id: &str) -> Self {
        let text = format!("weft://{node}/mqtt/{}", percent_encode(client_id));
        Self {
            client_id: client_id.to_owned(),
            source: UriReference::new(text),
        }
    }

    /// Whether this is the source of `client_id` (a session's id is set at CONNECT).
    pub fn is_for(&self, client_id: &str) -> bool {
        self.client_id == client_id
    }

    /// The checked reference, or why it is not one.
    pub fn source(&self) -> Result<&UriReference, &EventError> {
        self.source.as_ref()
    }
}

/// Why an MQTT message is not a valid CloudEvent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A structured or binary-mode message breaks the CloudEvents rules.
    #[error("invalid cloudevent in mqtt message")]
    Event(#[from] EventError),
}

impl MappingError {
    /// The MQTT 5.0 reason code for the PUBACK/PUBREC (or DISCONNECT for QoS 0).
    pub fn reason_code(&self) -> ReasonCode {
        ReasonCode::PayloadFormatInvalid
    }
}

/// How [`event_to_message`] lays an event out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutboundMode {
    /// Attributes as User Properties (seen by 5.0 clients), data as the payload.
    #[default]
    Binary,
    /// The whole event as `application/cloudevents+json` in the payload.
    Structured,
    /// The data alone, without the CloudEvents attributes (what an MQTT 3.1.1
    /// subscriber receives of binary mode: it has no properties to carry them).
    Data,
}

fn is_structured(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|content_type| {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        media_type.eq_ignore_ascii_case(json::MEDIA_TYPE)
    })
}

/// An MQTT message as a weft event. See the [module docs](self).
///
/// # Errors
/// [`MappingError`] when a structured or binary-mode message is not a valid CloudEvent.
pub fn message_to_event(
    message: &Message,
    context: &InboundContext<'_>,
) -> Result<Event, MappingError> {
    let properties = &message.properties;
    let structured = is_structured(properties.content_type.as_deref());
    let binary = !structured
        && properties
            .user_properties
            .iter()
            .any(|(name, _)| name == "specversion");
    let mut builder = AttributesBuilder::new();
    let data;
    if structured {
        let event = json::decode(&message.payload)?;
        data = event.data;
        for (name, value) in event.attributes.iter() {
            builder.set(name, value.to_owned_value())?;
        }
    } else {
        data = Some(message.payload.clone());
        if let Some(content_type) = &properties.content_type {
            builder.set(
                "datacontenttype",
                ExtensionValue::String(content_type.clone()),
            )?;
        }
    }
    absorb_user_properties(
        &mut builder,
        &properties.user_properties,
        structured,
        binary,
    )?;
    if !structured && !binary {
        synthesise(&mut builder, context)?;
    }
    add_mqtt_extensions(&mut builder, message)?;
    let attributes = builder.build()?;
    Ok(Event::new(
        CloudEvent::new(attributes, data),
        message.topic.clone(),
        context.node,
        context.received_at,
    ))
}

/// The attributes of a plain message. On the hot path of every plain publish, so
/// nothing is formatted or checked twice: the `source` was checked when the connection
/// made its [`PlainSource`], the `time` is valid as built (not formatted, then parsed).
fn synthesise(
    builder: &mut AttributesBuilder,
    context: &InboundContext<'_>,
) -> Result<(), EventError> {
    let string = |text: String| ExtensionValue::String(text);
    builder.set("id", string(weft_core::id::new_event_id()))?;
    builder.set_source(context.source.source().map_err(Clone::clone)?);
    builder.set("type", string(PLAIN_EVENT_TYPE.to_owned()))?;
    builder.set_time(Timestamp::from_system_time(context.received_at)?);
    Ok(())
}

/// Client ids are arbitrary UTF-8; the `source` URI-reference takes them percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// One element of `mqttuserprops`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum UserPropertyItem {
    /// The extension attribute of this name.
    Extension(String),
    /// A property kept only in the list.
    Pair(String, String),
}

fn absorb_user_properties(
    builder: &mut AttributesBuilder,
    user_properties: &[(String, String)],
    structured: bool,
    binary: bool,
) -> Result<(), EventError> {
    let mut items = Vec::with_capacity(user_properties.len());
    let mut extensions: Vec<&str> = Vec::new();
    let mut consumed_core = BTreeSet::new();
    let mut kept_pairs = false;
    for (name, value) in user_properties {
        let value_string = || ExtensionValue::String(value.clone());
        if binary
            && CORE_USER_PROPERTIES.contains(&name.as_str())
            && consumed_core.insert(name.as_str())
        {
            builder.set(name, value_string())?;
            continue;
        }
        let usable_extension = !structured
            && !extension::ALL.contains(&name.as_str())
            && !extensions.contains(&name.as_str())
            && ExtensionName::new(name).is_ok()
            && builder.get(name).is_none();
        if usable_extension && builder.set(name, value_string()).is_ok() {
            extensions.push(name);
            items.push(UserPropertyItem::Extension(name.clone()));
        } else {
            kept_pairs = true;
            items.push(UserPropertyItem::Pair(name.clone(), value.clone()));
        }
    }
    if kept_pairs || !extensions.is_sorted() {
        let list = serde_json::to_string(&items).map_err(|error| EventError::InvalidAttribute {
            name: extension::USER_PROPERTIES.to_owned(),
            reason: error.to_string(),
        })?;
        builder.set(
            extension::USER_PROPERTIES,
            ExtensionValue::String(escape_for_cloudevents(&list)),
        )?;
    }
    Ok(())
}

/// JSON-escapes the characters CloudEvents strings may not contain (U+007F–U+009F and
/// the Unicode noncharacters; serde_json already escapes U+0000–U+001F), so the list is
/// always a valid attribute value and still the same JSON.
fn escape_for_cloudevents(json: &str) -> String {
    let forbidden = |character: char| {
        let code = u32::from(character);
        (0x7F..=0x9F).contains(&code)
            || (0xFDD0..=0xFDEF).contains(&code)
            || code & 0xFFFE == 0xFFFE
    };
    if !json.chars().any(forbidden) {
        return json.to_owned();
    }
    let mut escaped = String::with_capacity(json.len() + 12);
    for character in json.chars() {
        if forbidden(character) {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            escaped.push(character);
        }
    }
    escaped
}

fn add_mqtt_extensions(
    builder: &mut AttributesBuilder,
    message: &Message,
) -> Result<(), EventError> {
    let properties = &message.properties;
    let mut set_if_absent = |name: &str, value: ExtensionValue| -> Result<(), EventError> {
        if builder.get(name).is_none() {
            builder.set(name, value)?;
        }
        Ok(())
    };
    if properties.payload_is_utf8 {
        set_if_absent(extension::PAYLOAD_UTF8, ExtensionValue::Boolean(true))?;
    }
    if let Some(expires_at) = properties.expires_at {
        let time = Timestamp::from_system_time(expires_at)?;
        set_if_absent(
            extension::EXPIRES,
            ExtensionValue::String(time.as_str().to_owned()),
        )?;
    }
    if let Some(response_topic) = &properties.response_topic {
        set_if_absent(
            extension::RESPONSE_TOPIC,
            ExtensionValue::String(response_topic.clone()),
        )?;
    }
    if let Some(correlation_data) = &properties.correlation_data {
        set_if_absent(
            extension::CORRELATION_DATA,
            ExtensionValue::String(BASE64.encode(correlation_data)),
        )?;
    }
    set_if_absent(
        extension::QOS,
        ExtensionValue::Integer(i32::from(message.qos.as_u8())),
    )?;
    Ok(())
}

/// Whether `attributes` are those [`message_to_event`] synthesised for a plain MQTT
/// message: `type` is [`PLAIN_EVENT_TYPE`] and `source` is an MQTT client's
/// (`weft://NODE/mqtt/CLIENT-ID`). Such an event leaves for MQTT without CloudEvents
/// User Properties (see the [module docs](self)); an event that only copies those two
/// attributes is treated the same, which is what it claims to be.
pub fn is_plain_mqtt(attributes: &weft_core::Attributes) -> bool {
    attributes.ty == PLAIN_EVENT_TYPE
        && attributes
            .source
            .strip_prefix("weft://")
            .is_some_and(|rest| rest.contains("/mqtt/"))
}

/// A weft event as an MQTT message (QoS from `mqttqos`, RETAIN cleared: the session and
/// the retained store decide those per subscriber). See the [module docs](self).
pub fn event_to_message(event: &Event, mode: OutboundMode) -> Message {
    let cloudevent = &event.cloudevent;
    let attributes = &cloudevent.attributes;
    let mut qos = None;
    let mut properties = MessageProperties {
        payload_is_utf8: false,
        expires_at: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
    };
    // One pass over the (few) extensions rather than a lookup per MQTT property: this
    // runs for every delivery.
    for (name, value) in &attributes.extensions {
        match (name.as_str(), value) {
            (extension::QOS, ExtensionValue::Integer(value)) => {
                qos = u8::try_from(*value).ok().and_then(QoS::from_u8);
            }
            (extension::PAYLOAD_UTF8, ExtensionValue::Boolean(flag)) => {
                properties.payload_is_utf8 = *flag;
            }
            (extension::EXPIRES, ExtensionValue::String(text)) => {
                properties.expires_at = Timestamp::parse(text)
                    .ok()
                    .and_then(|time| time.to_system_time());
            }
            (extension::RESPONSE_TOPIC, ExtensionValue::String(text)) => {
                properties.response_topic = Some(text.clone());
            }
            (extension::CORRELATION_DATA, ExtensionValue::String(text)) => {
                properties.correlation_data = BASE64.decode(text).ok().map(Bytes::from);
            }
            _ => {}
        }
    }
    let qos = qos.unwrap_or(QoS::ExactlyOnce);
    let payload = match mode {
        OutboundMode::Binary => {
            properties.content_type = attributes.datacontenttype.clone();
            properties.user_properties = binary_user_properties(cloudevent);
            cloudevent.data.clone().unwrap_or_default()
        }
        OutboundMode::Data => cloudevent.data.clone().unwrap_or_default(),
        OutboundMode::Structured => {
            properties.content_type = Some(json::MEDIA_TYPE.to_owned());
            properties.payload_is_utf8 = true;
            Bytes::from(json::encode(cloudevent))
        }
    };
    Message {
        topic: event.topic.clone(),
        payload,
        qos,
        retain: false,
        properties,
    }
}

/// The User Properties of binary mode: the context attributes (unless the event is a
/// plain MQTT message, whose attributes weft made up), then the publisher's User
/// Properties in their original order, then any other extension attribute.
fn binary_user_properties(cloudevent: &CloudEvent) -> Vec<(String, String)> {
    let attributes = &cloudevent.attributes;
    let mut out: Vec<(String, String)> = if is_plain_mqtt(attributes) {
        Vec::new()
    } else {
        attributes
            .iter()
            .filter(|(name, _)| CORE_USER_PROPERTIES.contains(name))
            .map(|(name, value)| (name.to_owned(), value.canonical().into_owned()))
            .collect()
    };
    let list: Vec<UserPropertyItem> = attributes
        .get(extension::USER_PROPERTIES)
        .and_then(|value| value.as_str().map(str::to_owned))
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut emitted = BTreeSet::new();
    for item in list {
        match item {
            UserPropertyItem::Extension(name) => {
                if let Some(value) = attributes.extensions.get(name.as_str()) {
                    out.push((
                        name.clone(),
                        AttributeValue::from(value).canonical().into_owned(),
                    ));
                    emitted.insert(name);
                }
            }
            UserPropertyItem::Pair(name, value) => out.push((name, value)),
        }
    }
    for (name, value) in &attributes.extensions {
        let name = name.as_str();
        if !extension::ALL.contains(&name) && !emitted.contains(name) {
            out.push((
                name.to_owned(),
                AttributeValue::from(value).canonical().into_owned(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
