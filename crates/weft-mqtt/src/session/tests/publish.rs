//! PUBLISH from the client: QoS 0/1/2, flow control, aliases, validation.

use super::*;

#[test]
fn qos0_publish_goes_to_the_broker_without_an_ack() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::AtMostOnce, None));
    let outputs = drain(&mut session);
    let published = to_broker(&outputs);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0.topic.as_str(), "a/b");
    assert_eq!(published[0].1, None);
    assert!(sent(&outputs).is_empty());
}

#[test]
fn qos1_puback_is_sent_once_the_broker_accepts() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::AtLeastOnce, Some(5)));
    let outputs = drain(&mut session);
    assert_eq!(to_broker(&outputs)[0].1, Some(5));
    assert!(sent(&outputs).is_empty());
    session.publish_completed(at(1), 5, PublishOutcome::Accepted { matched: true });
    assert_eq!(sent(&drain(&mut session)), [puback(5)]);
}

#[test]
fn qos1_without_subscribers_gets_no_matching_subscribers_on_v5() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::AtLeastOnce, Some(5)));
    drain(&mut session);
    session.publish_completed(at(1), 5, PublishOutcome::Accepted { matched: false });
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubAck(PubResponse::with_code(
            5,
            ReasonCode::NoMatchingSubscribers
        ))]
    );
}

#[test]
fn qos1_refused_by_the_broker_gets_the_error_in_puback() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::AtLeastOnce, Some(5)));
    drain(&mut session);
    session.publish_completed(at(1), 5, PublishOutcome::Refused(ReasonCode::NotAuthorized));
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubAck(PubResponse::with_code(
            5,
            ReasonCode::NotAuthorized
        ))]
    );
}

#[test]
fn qos1_resend_before_the_broker_answers_is_acknowledged_once() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::AtLeastOnce, Some(5)));
    session.handle_packet(at(1), client_publish("a/b", QoS::AtLeastOnce, Some(5)));
    assert_eq!(to_broker(&drain(&mut session)).len(), 1);
}

#[test]
fn qos2_is_published_once_and_a_duplicate_gets_pubrec_again() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::ExactlyOnce, Some(7)));
    assert_eq!(to_broker(&drain(&mut session)).len(), 1);
    session.publish_completed(at(1), 7, PublishOutcome::Accepted { matched: true });
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubRec(PubResponse::new(7))]
    );
    // The client did not see the PUBREC and resends with DUP: not published again.
    let Packet::Publish(mut again) = client_publish("a/b", QoS::ExactlyOnce, Some(7)) else {
        unreachable!()
    };
    again.dup = true;
    session.handle_packet(at(2), Packet::Publish(again));
    let outputs = drain(&mut session);
    assert!(to_broker(&outputs).is_empty());
    assert_eq!(sent(&outputs), [Packet::PubRec(PubResponse::new(7))]);
}

#[test]
fn qos2_pubrel_completes_with_pubcomp_and_frees_the_id() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::ExactlyOnce, Some(7)));
    session.publish_completed(at(1), 7, PublishOutcome::Accepted { matched: true });
    drain(&mut session);
    session.handle_packet(at(2), Packet::PubRel(PubResponse::new(7)));
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubComp(PubResponse::new(7))]
    );
    assert!(session.state().awaiting_pubrel.is_empty());
    // The id is free again: a new message with it is published.
    session.handle_packet(at(3), client_publish("a/b", QoS::ExactlyOnce, Some(7)));
    assert_eq!(to_broker(&drain(&mut session)).len(), 1);
}

#[test]
fn qos2_refused_pubrec_ends_the_exchange() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b", QoS::ExactlyOnce, Some(7)));
    session.publish_completed(at(1), 7, PublishOutcome::Refused(ReasonCode::QuotaExceeded));
    let outputs = drain(&mut session);
    assert_eq!(
        sent(&outputs),
        [Packet::PubRec(PubResponse::with_code(
            7,
            ReasonCode::QuotaExceeded
        ))]
    );
    assert!(session.state().awaiting_pubrel.is_empty());
}

#[test]
fn pubrel_for_an_unknown_id_gets_packet_identifier_not_found() {
    let mut session = connected(V5);
    session.handle_packet(at(1), Packet::PubRel(PubResponse::new(3)));
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubComp(PubResponse::with_code(
            3,
            ReasonCode::PacketIdentifierNotFound
        ))]
    );
}

#[test]
fn inbound_receive_maximum_exceeded_disconnects() {
    let config = SessionConfig {
        receive_maximum: 2,
        ..SessionConfig::default()
    };
    let (mut session, outputs) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    assert_eq!(connack(&outputs).properties.receive_maximum, Some(2));
    session.handle_packet(at(1), client_publish("a", QoS::AtLeastOnce, Some(1)));
    session.handle_packet(at(1), client_publish("a", QoS::ExactlyOnce, Some(2)));
    assert!(disconnect_code(&drain(&mut session)).is_none());
    session.handle_packet(at(1), client_publish("a", QoS::AtLeastOnce, Some(3)));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::ReceiveMaximumExceeded)
    );
}

#[test]
fn acknowledgements_count_against_the_receive_maximum_until_written() {
    let config = SessionConfig {
        receive_maximum: 2,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    let accepted = PublishOutcome::Accepted { matched: true };
    for id in 1..=2 {
        session.handle_packet(at(1), client_publish("a", QoS::AtLeastOnce, Some(id)));
        session.publish_completed(at(1), id, accepted);
    }
    // Both PUBACKs were sent, but not written yet: the client cannot have seen them.
    let acks = sent(&drain(&mut session));
    assert_eq!(acks.len(), 2);
    session.output_written();
    // Written: two more are within the limit.
    for id in 3..=4 {
        session.handle_packet(at(1), client_publish("a", QoS::AtLeastOnce, Some(id)));
        session.publish_completed(at(1), id, accepted);
    }
    assert!(disconnect_code(&drain(&mut session)).is_none());
    // Not written yet: a fifth is one too many.
    session.handle_packet(at(1), client_publish("a", QoS::AtLeastOnce, Some(5)));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::ReceiveMaximumExceeded)
    );
}

#[test]
fn a_pubcomp_frees_its_receive_maximum_slot_once_written() {
    let config = SessionConfig {
        receive_maximum: 1,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    session.handle_packet(at(1), client_publish("a", QoS::ExactlyOnce, Some(1)));
    session.publish_completed(at(1), 1, PublishOutcome::Accepted { matched: true });
    session.handle_packet(at(1), Packet::PubRel(PubResponse::new(1)));
    drain(&mut session);
    session.output_written();
    session.handle_packet(at(1), client_publish("a", QoS::ExactlyOnce, Some(2)));
    assert!(disconnect_code(&drain(&mut session)).is_none());
}

#[test]
fn publish_above_the_server_maximum_qos_disconnects() {
    let config = SessionConfig {
        maximum_qos: QoS::AtLeastOnce,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    session.handle_packet(at(1), client_publish("a", QoS::ExactlyOnce, Some(1)));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::QosNotSupported)
    );
}

#[test]
fn retain_when_unavailable_disconnects_retain_not_supported() {
    let config = SessionConfig {
        retain_available: false,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    let Packet::Publish(mut publish) = client_publish("a", QoS::AtMostOnce, None) else {
        unreachable!()
    };
    publish.retain = true;
    session.handle_packet(at(1), Packet::Publish(publish));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::RetainNotSupported)
    );
}

fn non_utf8_publish(qos: QoS, packet_id: Option<u16>) -> Packet {
    let mut publish = Publish::new("a", Bytes::from_static(&[0xFF, 0xFE]));
    publish.qos = qos;
    publish.packet_id = packet_id;
    publish.properties.payload_format_indicator = Some(1);
    Packet::Publish(publish)
}

#[test]
fn invalid_utf8_with_payload_format_indicator_gets_payload_format_invalid() {
    let mut session = connected(V5);
    session.handle_packet(at(1), non_utf8_publish(QoS::AtLeastOnce, Some(4)));
    let outputs = drain(&mut session);
    assert!(to_broker(&outputs).is_empty());
    let packets = sent(&outputs);
    let [Packet::PubAck(response)] = packets.as_slice() else {
        panic!("{outputs:?}");
    };
    assert_eq!(response.code, ReasonCode::PayloadFormatInvalid);
    assert!(session.is_connected());
}

#[test]
fn invalid_utf8_qos0_with_payload_format_indicator_disconnects() {
    let mut session = connected(V5);
    session.handle_packet(at(1), non_utf8_publish(QoS::AtMostOnce, None));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::PayloadFormatInvalid)
    );
}

#[test]
fn topic_weft_cannot_represent_gets_topic_name_invalid() {
    let mut session = connected(V5);
    session.handle_packet(at(1), client_publish("a/b*", QoS::AtLeastOnce, Some(4)));
    let outputs = drain(&mut session);
    assert_eq!(
        sent(&outputs),
        [Packet::PubAck(PubResponse {
            packet_id: 4,
            code: ReasonCode::TopicNameInvalid,
            properties: Properties {
                reason_string: Some("topic name invalid".to_owned()),
                ..Properties::default()
            },
        })]
    );
}

#[test]
fn repeated_and_changing_topics_each_reach_the_broker_as_sent() {
    let mut session = connected(V5);
    let names = ["a/b", "a/b", "a/c", "a/b", "a/b*", "a/b"];
    for (index, name) in names.into_iter().enumerate() {
        let packet_id = u16::try_from(index + 1).unwrap();
        session.handle_packet(
            at(1),
            client_publish(name, QoS::AtLeastOnce, Some(packet_id)),
        );
    }
    let outputs = drain(&mut session);
    let published = to_broker(&outputs);
    let topics: Vec<&str> = published
        .iter()
        .map(|(message, _)| message.topic.as_str())
        .collect();
    // The remembered topic never stands in for another name, nor for an invalid one.
    assert_eq!(topics, ["a/b", "a/b", "a/c", "a/b", "a/b"]);
    assert_eq!(sent(&outputs).len(), 1);
}

#[test]
fn invalid_topic_on_v3_disconnects() {
    let mut session = connected(V3);
    session.handle_packet(at(1), client_publish("a/b*", QoS::AtLeastOnce, Some(4)));
    let outputs = drain(&mut session);
    assert!(sent(&outputs).is_empty());
    assert_eq!(closed_with(&outputs), Some(ReasonCode::TopicNameInvalid));
}

fn aliased(topic: &str, alias: u16) -> Packet {
    let mut publish = Publish::new(topic, Bytes::from_static(b"x"));
    publish.properties.topic_alias = Some(alias);
    Packet::Publish(publish)
}

#[test]
fn inbound_topic_alias_is_defined_then_used() {
    let mut session = connected(V5);
    session.handle_packet(at(1), aliased("sensors/1", 1));
    session.handle_packet(at(1), aliased("", 1));
    let published = to_broker(&drain(&mut session));
    assert_eq!(published.len(), 2);
    assert_eq!(published[1].0.topic.as_str(), "sensors/1");
}

#[test]
fn inbound_topic_alias_above_the_maximum_disconnects_topic_alias_invalid() {
    let mut session = connected(V5);
    let maximum = SessionConfig::default().topic_alias_maximum;
    session.handle_packet(at(1), aliased("a", maximum + 1));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn unknown_inbound_topic_alias_is_a_protocol_error() {
    let mut session = connected(V5);
    session.handle_packet(at(1), aliased("", 2));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::ProtocolError)
    );
}

#[test]
fn subscription_identifier_in_a_client_publish_is_a_protocol_error() {
    let mut session = connected(V5);
    let Packet::Publish(mut publish) = client_publish("a", QoS::AtMostOnce, None) else {
        unreachable!()
    };
    publish.properties.subscription_identifiers = vec![1];
    session.handle_packet(at(1), Packet::Publish(publish));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::ProtocolError)
    );
}

#[test]
fn message_properties_are_taken_from_the_publish() {
    let mut session = connected(V5);
    let mut publish = Publish::new("req/1", Bytes::from_static(b"{}"));
    let properties = &mut publish.properties;
    properties.payload_format_indicator = Some(1);
    properties.message_expiry_interval = Some(30);
    properties.content_type = Some("application/json".to_owned());
    properties.response_topic = Some("resp/1".to_owned());
    properties.correlation_data = Some(Bytes::from_static(b"42"));
    properties.user_properties = vec![
        ("b".to_owned(), "2".to_owned()),
        ("a".to_owned(), "1".to_owned()),
    ];
    session.handle_packet(at(10), Packet::Publish(publish));
    let (message, _) = to_broker(&drain(&mut session)).remove(0);
    let properties = message.properties;
    assert!(properties.payload_is_utf8);
    assert_eq!(properties.expires_at, Some(at(40)));
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.response_topic.as_deref(), Some("resp/1"));
    assert_eq!(properties.correlation_data.as_deref(), Some(&b"42"[..]));
    assert_eq!(properties.user_properties[0].0, "b");
}
