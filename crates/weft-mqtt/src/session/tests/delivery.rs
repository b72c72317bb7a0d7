//! Messages to the client: QoS handshakes, flow control, queueing, expiry, sizes,
//! aliases and property passthrough.

use super::*;

fn subscribed(version: ProtocolVersion, filter: &str, qos: QoS) -> Session {
    let mut session = connected(version);
    subscribe(&mut session, filter, qos);
    session
}

#[test]
fn qos0_delivery_is_sent_at_once() {
    let mut session = subscribed(V5, "a/+", QoS::AtMostOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::AtMostOnce));
    let publishes = publishes(&drain(&mut session));
    assert_eq!(publishes.len(), 1);
    assert_eq!(publishes[0].qos, QoS::AtMostOnce);
    assert_eq!(publishes[0].packet_id, None);
    assert_eq!(&publishes[0].payload[..], b"payload");
}

#[test]
fn delivery_qos_is_the_lower_of_message_and_subscription() {
    let mut session = subscribed(V5, "a/b", QoS::AtLeastOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::ExactlyOnce));
    session.handle_delivery(at(1), delivery("a/b", QoS::AtMostOnce));
    let publishes = publishes(&drain(&mut session));
    assert_eq!(publishes[0].qos, QoS::AtLeastOnce);
    assert_eq!(publishes[1].qos, QoS::AtMostOnce);
}

#[test]
fn qos1_delivery_stays_in_flight_until_puback() {
    let mut session = subscribed(V5, "a/b", QoS::AtLeastOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::AtLeastOnce));
    let publishes = publishes(&drain(&mut session));
    let packet_id = publishes[0].packet_id.unwrap();
    assert_eq!(session.state().inflight.len(), 1);
    session.handle_packet(at(2), puback(packet_id));
    drain(&mut session);
    assert!(session.state().inflight.is_empty());
}

#[test]
fn qos2_delivery_runs_the_full_exactly_once_handshake() {
    let mut session = subscribed(V5, "a/b", QoS::ExactlyOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::ExactlyOnce));
    let packet_id = publishes(&drain(&mut session))[0].packet_id.unwrap();
    session.handle_packet(at(2), Packet::PubRec(PubResponse::new(packet_id)));
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubRel(PubResponse::new(packet_id))]
    );
    assert_eq!(
        session.state().inflight[0].phase,
        InflightPhase::AwaitingPubComp
    );
    // A duplicate PUBREC gets the PUBREL again.
    session.handle_packet(at(2), Packet::PubRec(PubResponse::new(packet_id)));
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubRel(PubResponse::new(packet_id))]
    );
    session.handle_packet(at(3), Packet::PubComp(PubResponse::new(packet_id)));
    drain(&mut session);
    assert!(session.state().inflight.is_empty());
}

#[test]
fn pubrec_with_an_error_ends_the_outbound_exchange() {
    let mut session = subscribed(V5, "a/b", QoS::ExactlyOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::ExactlyOnce));
    let packet_id = publishes(&drain(&mut session))[0].packet_id.unwrap();
    session.handle_packet(
        at(2),
        Packet::PubRec(PubResponse::with_code(
            packet_id,
            ReasonCode::UnspecifiedError,
        )),
    );
    assert!(sent(&drain(&mut session)).is_empty());
    assert!(session.state().inflight.is_empty());
}

#[test]
fn pubrec_for_an_unknown_id_gets_pubrel_packet_identifier_not_found() {
    let mut session = connected(V5);
    session.handle_packet(at(1), Packet::PubRec(PubResponse::new(77)));
    assert_eq!(
        sent(&drain(&mut session)),
        [Packet::PubRel(PubResponse::with_code(
            77,
            ReasonCode::PacketIdentifierNotFound
        ))]
    );
}

#[test]
fn client_receive_maximum_queues_and_drains_on_ack() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.receive_maximum = Some(2);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    subscribe(&mut session, "a", QoS::AtLeastOnce);
    for _ in 0..3 {
        session.handle_delivery(at(1), delivery("a", QoS::AtLeastOnce));
    }
    let first = publishes(&drain(&mut session));
    assert_eq!(first.len(), 2);
    assert_eq!(session.state().queue.len(), 1);
    session.handle_packet(at(2), puback(first[0].packet_id.unwrap()));
    let next = publishes(&drain(&mut session));
    assert_eq!(next.len(), 1);
    assert!(session.state().queue.is_empty());
}

#[test]
fn qos0_is_not_limited_by_receive_maximum() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.receive_maximum = Some(1);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    subscribe(&mut session, "a", QoS::AtLeastOnce);
    session.handle_delivery(at(1), delivery("a", QoS::AtLeastOnce));
    session.handle_delivery(at(1), delivery("a", QoS::AtMostOnce));
    assert_eq!(publishes(&drain(&mut session)).len(), 2);
}

#[test]
fn packet_ids_skip_ids_still_in_flight() {
    let mut session = subscribed(V5, "a", QoS::AtLeastOnce);
    let mut state = session.state().clone();
    state.next_packet_id = u16::MAX;
    session.install_state(state);
    session.handle_delivery(at(1), delivery("a", QoS::AtLeastOnce));
    session.handle_delivery(at(1), delivery("a", QoS::AtLeastOnce));
    let ids: Vec<_> = publishes(&drain(&mut session))
        .iter()
        .map(|publish| publish.packet_id.unwrap())
        .collect();
    assert_eq!(ids, [u16::MAX, 1]);
    // Wrap around again with 1 still in flight: 1 is skipped.
    let mut state = session.state().clone();
    state.next_packet_id = 1;
    session.install_state(state);
    session.handle_delivery(at(1), delivery("a", QoS::AtLeastOnce));
    assert_eq!(publishes(&drain(&mut session))[0].packet_id, Some(2));
}

fn offline_session(config: SessionConfig) -> Session {
    let mut connect = connect_packet(V5, "c");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(3600);
    let (mut session, _) = connect_with(config, connect, None, at(0));
    subscribe(&mut session, "a", QoS::AtLeastOnce);
    session.connection_lost(at(1));
    drain(&mut session);
    session
}

#[test]
fn offline_sessions_queue_qos1_and_drop_qos0() {
    let mut session = offline_session(SessionConfig::default());
    session.handle_delivery(at(2), delivery("a", QoS::AtLeastOnce));
    session.handle_delivery(at(2), delivery("a", QoS::AtMostOnce));
    assert!(publishes(&drain(&mut session)).is_empty());
    assert_eq!(session.state().queue.len(), 1);
    assert_eq!(session.state().drops.qos0_not_sendable, 1);
}

#[test]
fn offline_queue_overflow_drops_the_oldest_and_counts() {
    let config = SessionConfig {
        offline_queue_limit: 2,
        ..SessionConfig::default()
    };
    let mut session = offline_session(config);
    for index in 0..3u8 {
        let mut delivery = delivery("a", QoS::AtLeastOnce);
        delivery.message.payload = Bytes::from(vec![index]);
        session.handle_delivery(at(2), delivery);
    }
    let queue = &session.state().queue;
    assert_eq!(queue.len(), 2);
    assert_eq!(&queue[0].message.payload[..], [1]);
    assert_eq!(session.state().drops.queue_overflow, 1);
}

#[test]
fn drop_newest_policy_refuses_the_message_that_does_not_fit() {
    let config = SessionConfig {
        offline_queue_limit: 1,
        overflow_policy: OverflowPolicy::DropNewest,
        ..SessionConfig::default()
    };
    let mut session = offline_session(config);
    for index in 0..2u8 {
        let mut delivery = delivery("a", QoS::AtLeastOnce);
        delivery.message.payload = Bytes::from(vec![index]);
        session.handle_delivery(at(2), delivery);
    }
    assert_eq!(&session.state().queue[0].message.payload[..], [0]);
    assert_eq!(session.state().drops.queue_overflow, 1);
}

#[test]
fn message_expiry_interval_is_decremented_when_forwarded() {
    let mut session = subscribed(V5, "a", QoS::AtMostOnce);
    let mut delivery = delivery("a", QoS::AtMostOnce);
    delivery.message.properties.expires_at = Some(at(100));
    session.handle_delivery(at_ms(40_500), delivery);
    let publishes = publishes(&drain(&mut session));
    // 59.5 s left, rounded up.
    assert_eq!(publishes[0].properties.message_expiry_interval, Some(60));
}

#[test]
fn expired_messages_are_dropped_and_counted() {
    let mut session = offline_session(SessionConfig::default());
    let mut queued = delivery("a", QoS::AtLeastOnce);
    queued.message.properties.expires_at = Some(at(10));
    session.handle_delivery(at(2), queued);
    assert_eq!(session.state().queue.len(), 1);
    session.tick(at(10));
    assert!(session.state().queue.is_empty());
    assert_eq!(session.state().drops.expired, 1);
    let mut late = delivery("a", QoS::AtLeastOnce);
    late.message.properties.expires_at = Some(at(10));
    session.handle_delivery(at(11), late);
    assert_eq!(session.state().drops.expired, 2);
}

#[test]
fn message_over_the_client_maximum_packet_size_is_dropped_and_counted() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.maximum_packet_size = Some(30);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    subscribe(&mut session, "a", QoS::AtLeastOnce);
    let mut big = delivery("a", QoS::AtLeastOnce);
    big.message.payload = Bytes::from(vec![0u8; 100]);
    session.handle_delivery(at(1), big);
    session.handle_delivery(at(1), delivery("a", QoS::AtMostOnce));
    let publishes = publishes(&drain(&mut session));
    assert_eq!(publishes.len(), 1);
    assert_eq!(session.state().drops.too_large, 1);
    assert!(session.state().inflight.is_empty());
}

#[test]
fn outbound_topic_alias_is_defined_then_reused() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.topic_alias_maximum = Some(4);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    subscribe(&mut session, "a/#", QoS::AtMostOnce);
    session.handle_delivery(at(1), delivery("a/long/topic", QoS::AtMostOnce));
    session.handle_delivery(at(1), delivery("a/long/topic", QoS::AtMostOnce));
    let publishes = publishes(&drain(&mut session));
    assert_eq!(publishes[0].topic, "a/long/topic");
    assert_eq!(publishes[0].properties.topic_alias, Some(1));
    assert_eq!(publishes[1].topic, "");
    assert_eq!(publishes[1].properties.topic_alias, Some(1));
}

#[test]
fn no_outbound_topic_alias_when_the_client_allows_none() {
    let mut session = subscribed(V5, "a", QoS::AtMostOnce);
    session.handle_delivery(at(1), delivery("a", QoS::AtMostOnce));
    session.handle_delivery(at(1), delivery("a", QoS::AtMostOnce));
    for publish in publishes(&drain(&mut session)) {
        assert_eq!(publish.topic, "a");
        assert_eq!(publish.properties.topic_alias, None);
    }
}

#[test]
fn application_message_properties_pass_through_to_subscribers() {
    let mut session = subscribed(V5, "req/+", QoS::AtMostOnce);
    let mut delivery = delivery("req/1", QoS::AtMostOnce);
    let properties = &mut delivery.message.properties;
    properties.payload_is_utf8 = true;
    properties.content_type = Some("text/plain".to_owned());
    properties.response_topic = Some("resp/1".to_owned());
    properties.correlation_data = Some(Bytes::from_static(b"id-9"));
    properties.user_properties = vec![
        ("z".to_owned(), "1".to_owned()),
        ("a".to_owned(), "2".to_owned()),
        ("z".to_owned(), "3".to_owned()),
    ];
    session.handle_delivery(at(1), delivery.clone());
    let publish = publishes(&drain(&mut session)).remove(0);
    let properties = publish.properties;
    assert_eq!(properties.payload_format_indicator, Some(1));
    assert_eq!(properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(properties.response_topic.as_deref(), Some("resp/1"));
    assert_eq!(properties.correlation_data.as_deref(), Some(&b"id-9"[..]));
    assert_eq!(
        properties.user_properties,
        delivery.message.properties.user_properties
    );
}

#[test]
fn v3_subscribers_get_no_properties_on_the_wire() {
    let mut session = subscribed(V3, "a", QoS::AtMostOnce);
    let mut delivery = delivery("a", QoS::AtMostOnce);
    delivery.message.properties.content_type = Some("text/plain".to_owned());
    session.handle_delivery(at(1), delivery);
    let publish = publishes(&drain(&mut session)).remove(0);
    assert_eq!(publish.properties, Properties::default());
}

#[test]
fn reconnect_resends_publish_with_dup_and_pubrel_for_received_ones() {
    let mut connect = connect_packet(V5, "c");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(3600);
    let (mut session, _) = connect_with(SessionConfig::default(), connect.clone(), None, at(0));
    subscribe(&mut session, "a", QoS::ExactlyOnce);
    session.handle_delivery(at(1), delivery("a", QoS::ExactlyOnce));
    session.handle_delivery(at(1), delivery("a", QoS::ExactlyOnce));
    let ids: Vec<_> = publishes(&drain(&mut session))
        .iter()
        .map(|publish| publish.packet_id.unwrap())
        .collect();
    session.handle_packet(at(2), Packet::PubRec(PubResponse::new(ids[0])));
    session.connection_lost(at(3));
    drain(&mut session);
    let state = session.take_over(at(4), false).unwrap();
    let (_, outputs) = connect_with(SessionConfig::default(), connect, Some(state), at(4));
    let resent = sent(&outputs);
    assert!(resent.contains(&Packet::PubRel(PubResponse::new(ids[0]))));
    let publishes = publishes(&outputs);
    assert_eq!(publishes.len(), 1);
    assert!(publishes[0].dup);
    assert_eq!(publishes[0].packet_id, Some(ids[1]));
}
