use std::time::{Duration, UNIX_EPOCH};

use weft_core::{Attributes, Topic};

use super::*;

fn received_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

static SOURCE: std::sync::LazyLock<PlainSource> =
    std::sync::LazyLock::new(|| PlainSource::new("node-1", "dev 1"));

fn context() -> InboundContext<'static> {
    InboundContext {
        node: "node-1",
        source: &SOURCE,
        received_at: received_at(),
    }
}

fn message(payload: &'static [u8]) -> Message {
    let mut message = Message::new(
        Topic::new("sensors/1/temp").unwrap(),
        Bytes::from_static(payload),
    );
    message.qos = QoS::AtLeastOnce;
    message
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// The User Properties that are not context attributes.
fn non_attribute_properties(message: &Message) -> Vec<(String, String)> {
    message
        .properties
        .user_properties
        .iter()
        .filter(|(name, _)| !CORE_USER_PROPERTIES.contains(&name.as_str()))
        .cloned()
        .collect()
}

#[test]
fn plain_payload_gets_synthesised_attributes() {
    let event = message_to_event(&message(b"21.5"), &context()).unwrap();
    let attributes = &event.cloudevent.attributes;
    assert_eq!(attributes.id.len(), 36);
    assert_eq!(attributes.source, "weft://node-1/mqtt/dev%201");
    assert_eq!(attributes.ty, PLAIN_EVENT_TYPE);
    assert_eq!(
        attributes.time.as_ref().unwrap().to_system_time(),
        Some(received_at())
    );
    assert_eq!(event.cloudevent.data.as_deref(), Some(&b"21.5"[..]));
    assert_eq!(event.topic.as_str(), "sensors/1/temp");
    assert_eq!(event.origin, "node-1");
    assert_eq!(
        attributes.get(extension::QOS),
        Some(AttributeValue::Integer(1))
    );
}

#[test]
fn content_type_becomes_datacontenttype() {
    let mut message = message(b"{}");
    message.properties.content_type = Some("application/json".to_owned());
    let event = message_to_event(&message, &context()).unwrap();
    assert_eq!(
        event.cloudevent.attributes.datacontenttype.as_deref(),
        Some("application/json")
    );
}

fn binary_message() -> Message {
    let mut message = message(b"on");
    message.properties.content_type = Some("text/plain".to_owned());
    message.properties.user_properties = pairs(&[
        ("specversion", "1.0"),
        ("id", "evt-1"),
        ("source", "/devices/1"),
        ("type", "com.example.switch"),
        ("subject", "lamp"),
        ("traceparent", "00-abc-01"),
    ]);
    message
}

#[test]
fn binary_mode_reads_attributes_from_user_properties() {
    let event = message_to_event(&binary_message(), &context()).unwrap();
    let attributes = &event.cloudevent.attributes;
    assert_eq!(attributes.id, "evt-1");
    assert_eq!(attributes.source, "/devices/1");
    assert_eq!(attributes.ty, "com.example.switch");
    assert_eq!(attributes.subject.as_deref(), Some("lamp"));
    assert_eq!(attributes.datacontenttype.as_deref(), Some("text/plain"));
    assert_eq!(attributes.time, None);
    assert_eq!(
        attributes.get("traceparent"),
        Some(AttributeValue::String("00-abc-01"))
    );
    assert_eq!(attributes.get(extension::USER_PROPERTIES), None);
}

#[test]
fn binary_mode_without_a_required_attribute_is_payload_format_invalid() {
    let mut message = message(b"x");
    message.properties.user_properties = pairs(&[("specversion", "1.0"), ("id", "1")]);
    let error = message_to_event(&message, &context()).unwrap_err();
    assert_eq!(error.reason_code(), ReasonCode::PayloadFormatInvalid);
}

#[test]
fn structured_mode_decodes_the_json_payload() {
    let mut message = message(
        br#"{"specversion":"1.0","id":"s-1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi"}"#,
    );
    message.properties.content_type =
        Some("application/cloudevents+json; charset=utf-8".to_owned());
    let event = message_to_event(&message, &context()).unwrap();
    assert_eq!(event.cloudevent.attributes.id, "s-1");
    assert_eq!(event.cloudevent.data.as_deref(), Some(&b"hi"[..]));
}

#[test]
fn structured_mode_with_invalid_json_is_an_error() {
    let mut message = message(b"not json");
    message.properties.content_type = Some("application/cloudevents+json".to_owned());
    assert!(message_to_event(&message, &context()).is_err());
}

#[test]
fn user_properties_with_extension_names_become_extensions() {
    let mut message = message(b"x");
    message.properties.user_properties = pairs(&[("building", "b7"), ("floor", "3")]);
    let event = message_to_event(&message, &context()).unwrap();
    let attributes = &event.cloudevent.attributes;
    assert_eq!(
        attributes.get("building"),
        Some(AttributeValue::String("b7"))
    );
    assert_eq!(attributes.get("floor"), Some(AttributeValue::String("3")));
    assert_eq!(attributes.get(extension::USER_PROPERTIES), None);
}

#[test]
fn other_user_properties_are_kept_in_order_in_the_list() {
    let mut message = message(b"x");
    message.properties.user_properties = pairs(&[
        ("zone", "z1"),
        ("Device-Id", "d-9"),
        ("zone", "z2"),
        ("area", "a"),
    ]);
    let event = message_to_event(&message, &context()).unwrap();
    let attributes = &event.cloudevent.attributes;
    assert_eq!(attributes.get("zone"), Some(AttributeValue::String("z1")));
    assert_eq!(
        attributes.get(extension::USER_PROPERTIES),
        Some(AttributeValue::String(
            r#"["zone",["Device-Id","d-9"],["zone","z2"],"area"]"#
        ))
    );
}

#[test]
fn mqtt_to_mqtt_round_trip_keeps_user_properties_and_message_properties() {
    let mut original = message(b"\xFF\x00");
    let properties = &mut original.properties;
    properties.user_properties = pairs(&[
        ("zone", "z1"),
        ("Device-Id", "d-9"),
        ("zone", "z2"),
        ("area", "a"),
        ("id", "not an attribute in plain mode"),
        ("mqttqos", "spoof"),
    ]);
    properties.content_type = Some("application/octet-stream".to_owned());
    properties.response_topic = Some("replies/dev-1".to_owned());
    properties.correlation_data = Some(Bytes::from_static(&[0, 1, 2, 255]));
    properties.expires_at = Some(received_at() + Duration::from_secs(60));
    let event = message_to_event(&original, &context()).unwrap();
    let back = event_to_message(&event, OutboundMode::Binary);
    assert_eq!(back.topic, original.topic);
    assert_eq!(back.payload, original.payload);
    assert_eq!(back.qos, QoS::AtLeastOnce);
    // Exactly the publisher's User Properties, in their order, and nothing weft made up
    // ("id" is an ordinary User Property of a plain message: it comes back as it was).
    assert_eq!(
        back.properties.user_properties,
        original.properties.user_properties
    );
    assert_eq!(
        back.properties.content_type,
        original.properties.content_type
    );
    assert_eq!(
        back.properties.response_topic,
        original.properties.response_topic
    );
    assert_eq!(
        back.properties.correlation_data,
        original.properties.correlation_data
    );
    assert_eq!(back.properties.expires_at, original.properties.expires_at);
    assert!(!back.properties.payload_is_utf8);
}

#[test]
fn binary_mode_round_trip_keeps_the_event() {
    let event = message_to_event(&binary_message(), &context()).unwrap();
    let message = event_to_message(&event, OutboundMode::Binary);
    assert_eq!(
        message.properties.content_type.as_deref(),
        Some("text/plain")
    );
    let again = message_to_event(&message, &context()).unwrap();
    assert_eq!(again.cloudevent, event.cloudevent);
}

#[test]
fn events_from_other_protocols_reach_mqtt5_with_attributes_as_user_properties() {
    let mut attributes =
        Attributes::new("h-1", "https://shop.example/orders", "order.created").unwrap();
    attributes
        .set(
            "datacontenttype",
            ExtensionValue::String("application/json".to_owned()),
        )
        .unwrap();
    attributes
        .set("priority", ExtensionValue::Integer(5))
        .unwrap();
    let event = Event::new(
        CloudEvent::new(attributes, Some(Bytes::from_static(b"{\"n\":1}"))),
        Topic::new("orders/eu").unwrap(),
        "node-1",
        received_at(),
    );
    let message = event_to_message(&event, OutboundMode::Binary);
    assert_eq!(
        message.properties.user_properties,
        pairs(&[
            ("specversion", "1.0"),
            ("id", "h-1"),
            ("source", "https://shop.example/orders"),
            ("type", "order.created"),
            ("priority", "5"),
        ])
    );
    assert_eq!(
        message.properties.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(&message.payload[..], b"{\"n\":1}");
    // No QoS recorded: the subscription decides.
    assert_eq!(message.qos, QoS::ExactlyOnce);
    assert!(!message.retain);
}

#[test]
fn structured_outbound_mode_produces_cloudevents_json() {
    let event = message_to_event(&binary_message(), &context()).unwrap();
    let message = event_to_message(&event, OutboundMode::Structured);
    assert_eq!(
        message.properties.content_type.as_deref(),
        Some(json::MEDIA_TYPE)
    );
    assert!(message.properties.user_properties.is_empty());
    let decoded = json::decode(&message.payload).unwrap();
    assert_eq!(decoded.attributes.id, "evt-1");
}

#[test]
fn characters_cloudevents_forbids_are_escaped_in_the_list() {
    let mut message = message(b"x");
    message.properties.user_properties = pairs(&[("Note", "a\u{85}b\u{1}c")]);
    let event = message_to_event(&message, &context()).unwrap();
    let back = event_to_message(&event, OutboundMode::Binary);
    assert_eq!(
        non_attribute_properties(&back),
        message.properties.user_properties
    );
}

#[test]
fn payload_format_indicator_survives_the_trip() {
    let mut message = message(b"text");
    message.properties.payload_is_utf8 = true;
    let event = message_to_event(&message, &context()).unwrap();
    assert!(
        event_to_message(&event, OutboundMode::Binary)
            .properties
            .payload_is_utf8
    );
}

#[test]
fn unsorted_extension_names_are_recorded_so_their_order_survives() {
    let mut message = message(b"x");
    message.properties.user_properties = pairs(&[("zeta", "1"), ("alpha", "2")]);
    let event = message_to_event(&message, &context()).unwrap();
    let back = event_to_message(&event, OutboundMode::Binary);
    assert_eq!(
        non_attribute_properties(&back),
        message.properties.user_properties
    );
}

#[test]
fn data_mode_carries_the_data_without_attributes() {
    let event = message_to_event(&message(b"reading"), &context()).unwrap();
    let binary = event_to_message(&event, OutboundMode::Binary);
    let data = event_to_message(&event, OutboundMode::Data);
    assert_eq!(data.payload, binary.payload);
    assert_eq!(data.qos, binary.qos);
    assert!(data.properties.user_properties.is_empty());
    assert_eq!(data.properties.content_type, None);
}

#[test]
fn plain_messages_leave_without_the_attributes_weft_synthesised() {
    let mut plain = message(b"reading");
    plain.properties.user_properties = pairs(&[("a", "2"), ("c", "3")]);
    let event = message_to_event(&plain, &context()).unwrap();
    assert!(is_plain_mqtt(&event.cloudevent.attributes));
    let back = event_to_message(&event, OutboundMode::Binary);
    assert_eq!(
        back.properties.user_properties,
        pairs(&[("a", "2"), ("c", "3")])
    );
    let bare = message_to_event(&message(b"reading"), &context()).unwrap();
    let back = event_to_message(&bare, OutboundMode::Binary);
    assert_eq!(back.properties.user_properties, Vec::new());
    assert_eq!(back.properties.content_type, None);
}

#[test]
fn only_the_mqtt_front_ends_plain_events_count_as_plain() {
    let plain = |source: &str, ty: &str| is_plain_mqtt(&Attributes::new("1", source, ty).unwrap());
    assert!(plain("weft://node-1/mqtt/dev%201", PLAIN_EVENT_TYPE));
    assert!(!plain("weft://node-1/kafka/orders", PLAIN_EVENT_TYPE));
    assert!(!plain("https://shop.example/mqtt/x", PLAIN_EVENT_TYPE));
    assert!(!plain("weft://node-1/mqtt/dev%201", "order.created"));
    // A binary-mode CloudEvent keeps its attributes as User Properties.
    let event = message_to_event(&binary_message(), &context()).unwrap();
    assert!(!is_plain_mqtt(&event.cloudevent.attributes));
}

/// The attributes of a plain message as they were synthesised before the per-connection
/// [`PlainSource`]: everything formatted and checked per message through `set`.
fn synthesised_per_message(
    message: &Message,
    node: &str,
    client_id: &str,
    id: &str,
) -> Result<Attributes, EventError> {
    let string = |text: String| ExtensionValue::String(text);
    let mut builder = AttributesBuilder::new();
    if let Some(content_type) = &message.properties.content_type {
        builder.set("datacontenttype", string(content_type.clone()))?;
    }
    absorb_user_properties(
        &mut builder,
        &message.properties.user_properties,
        false,
        false,
    )?;
    builder.set("id", string(id.to_owned()))?;
    builder.set(
        "source",
        string(format!("weft://{node}/mqtt/{}", percent_encode(client_id))),
    )?;
    builder.set("type", string(PLAIN_EVENT_TYPE.to_owned()))?;
    let time = Timestamp::from_system_time(received_at())?;
    builder.set("time", string(time.as_str().to_owned()))?;
    add_mqtt_extensions(&mut builder, message)?;
    builder.build()
}

#[test]
fn cached_plain_source_gives_the_attributes_of_per_message_synthesis() {
    let clients = [
        "dev 1",
        "sensor-7",
        "weft-0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "café/ünïcode",
        "100%#?&=+",
        "",
    ];
    let nodes = ["node-1", "vm", "bad node"];
    let mut plain = message(b"21.5");
    plain.properties.content_type = Some("text/plain".to_owned());
    plain.properties.user_properties = pairs(&[("region", "eu"), ("X-Trace", "1")]);
    plain.properties.payload_is_utf8 = true;
    for node in nodes {
        for client_id in clients {
            let source = PlainSource::new(node, client_id);
            let context = InboundContext {
                node,
                source: &source,
                received_at: received_at(),
            };
            let now = message_to_event(&plain, &context).map(|event| event.cloudevent.attributes);
            let id = now
                .as_ref()
                .map_or("id", |attributes| attributes.id.as_str());
            let before = synthesised_per_message(&plain, node, client_id, id);
            assert_eq!(
                now,
                before.map_err(MappingError::from),
                "{node} {client_id}"
            );
        }
    }
}

#[test]
fn plain_source_is_for_the_client_it_was_made_for() {
    let source = PlainSource::new("node-1", "dev 1");
    assert!(source.is_for("dev 1"));
    assert!(!source.is_for("dev 2"));
    assert_eq!(
        source.source().map(UriReference::as_str),
        Ok("weft://node-1/mqtt/dev%201")
    );
    assert!(PlainSource::new("bad node", "dev 1").source().is_err());
}
