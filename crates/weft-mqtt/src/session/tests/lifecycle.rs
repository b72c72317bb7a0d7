//! CONNECT, CONNACK, keep alive, takeover, session expiry, wills, DISCONNECT, state.

use super::*;
use crate::codec::{Auth, DecodeError, Disconnect};

#[test]
fn connect_is_reported_and_accept_sends_connack() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    let mut connect = connect_packet(V5, "dev-1");
    connect.username = Some("alice".to_owned());
    session.handle_packet(at(0), Packet::Connect(Box::new(connect)));
    let outputs = drain(&mut session);
    let [Output::ConnectRequest(request)] = outputs.as_slice() else {
        panic!("{outputs:?}");
    };
    assert_eq!(request.client_id, "dev-1");
    assert_eq!(request.username.as_deref(), Some("alice"));
    assert!(!request.assigned);
    session.accept(at(0), None);
    let outputs = drain(&mut session);
    let connack = connack(&outputs);
    assert_eq!(connack.code, ReasonCode::Success);
    assert!(!connack.session_present);
    assert!(session.is_connected());
    assert_eq!(session.client_id(), "dev-1");
}

#[test]
fn first_packet_other_than_connect_closes_without_reply() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    session.handle_packet(at(0), Packet::PingReq);
    let outputs = drain(&mut session);
    assert!(sent(&outputs).is_empty());
    assert_eq!(closed_with(&outputs), Some(ReasonCode::ProtocolError));
    assert!(session.is_ended());
}

#[test]
fn v3_empty_client_id_without_clean_session_is_identifier_rejected() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    let mut connect = connect_packet(V3, "");
    connect.clean_start = false;
    session.handle_packet(at(0), Packet::Connect(Box::new(connect)));
    let outputs = drain(&mut session);
    assert_eq!(connack(&outputs).code, ReasonCode::ClientIdentifierNotValid);
    assert_eq!(ReasonCode::ClientIdentifierNotValid.to_v3_connack(), 0x02);
    assert!(closed_with(&outputs).is_some());
}

#[test]
fn v5_empty_client_id_gets_an_assigned_client_identifier() {
    let (session, outputs) = connect_with(
        SessionConfig::default(),
        connect_packet(V5, ""),
        None,
        at(0),
    );
    let assigned = connack(&outputs)
        .properties
        .assigned_client_identifier
        .expect("assigned id");
    assert!(assigned.starts_with("weft-"));
    assert_eq!(session.client_id(), assigned);
}

#[test]
fn v3_empty_client_id_with_clean_session_is_assigned_silently() {
    let (session, outputs) = connect_with(
        SessionConfig::default(),
        connect_packet(V3, ""),
        None,
        at(0),
    );
    assert!(session.client_id().starts_with("weft-"));
    assert_eq!(connack(&outputs).code, ReasonCode::Success);
}

#[test]
fn authentication_method_is_refused_with_bad_authentication_method() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    let mut connect = connect_packet(V5, "c");
    connect.properties.authentication_method = Some("SCRAM-SHA-1".to_owned());
    session.handle_packet(at(0), Packet::Connect(Box::new(connect)));
    let outputs = drain(&mut session);
    assert_eq!(connack(&outputs).code, ReasonCode::BadAuthenticationMethod);
    assert!(session.is_ended());
}

#[test]
fn reject_sends_connack_with_the_reason_and_closes() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    session.handle_packet(at(0), Packet::Connect(Box::new(connect_packet(V3, "c"))));
    drain(&mut session);
    session.reject(at(0), ReasonCode::BadUserNameOrPassword);
    let outputs = drain(&mut session);
    assert_eq!(connack(&outputs).code, ReasonCode::BadUserNameOrPassword);
    assert_eq!(
        closed_with(&outputs),
        Some(ReasonCode::BadUserNameOrPassword)
    );
    assert!(session.is_ended());
}

#[test]
fn unsupported_protocol_level_gets_connack_unacceptable_protocol_version() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    let error = DecodeError::UnsupportedProtocol {
        name: "MQIsdp".to_owned(),
        level: 3,
    };
    session.handle_decode_error(at(0), &error);
    let outputs = drain(&mut session);
    assert_eq!(session.version(), V3);
    assert_eq!(
        connack(&outputs).code,
        ReasonCode::UnsupportedProtocolVersion
    );
    let mut wire = bytes::BytesMut::new();
    crate::codec::encode(&sent(&outputs)[0], V3, &mut wire);
    assert_eq!(&wire[..], [0x20, 2, 0, 0x01]);
}

#[test]
fn second_connect_is_a_protocol_error() {
    let mut session = connected(V5);
    session.handle_packet(at(1), Packet::Connect(Box::new(connect_packet(V5, "c"))));
    let outputs = drain(&mut session);
    assert_eq!(disconnect_code(&outputs), Some(ReasonCode::ProtocolError));
    assert!(!session.is_connected());
}

#[test]
fn will_qos_above_server_maximum_is_refused_qos_not_supported() {
    let config = SessionConfig {
        maximum_qos: QoS::AtMostOnce,
        ..SessionConfig::default()
    };
    let mut session = Session::new(config, at(0));
    let mut connect = connect_packet(V5, "c");
    connect.will = Some(will("dead/c", None));
    session.handle_packet(at(0), Packet::Connect(Box::new(connect)));
    assert_eq!(
        connack(&drain(&mut session)).code,
        ReasonCode::QosNotSupported
    );
}

#[test]
fn connack_announces_server_limits_and_capped_session_expiry() {
    let config = SessionConfig {
        max_session_expiry: 60,
        maximum_qos: QoS::AtLeastOnce,
        shared_subscription_available: false,
        ..SessionConfig::default()
    };
    let mut connect = connect_packet(V5, "c");
    connect.properties.session_expiry_interval = Some(3600);
    let (_, outputs) = connect_with(config.clone(), connect, None, at(0));
    let properties = connack(&outputs).properties;
    assert_eq!(properties.session_expiry_interval, Some(60));
    assert_eq!(properties.receive_maximum, Some(config.receive_maximum));
    assert_eq!(
        properties.topic_alias_maximum,
        Some(config.topic_alias_maximum)
    );
    assert_eq!(properties.maximum_packet_size, Some(config.max_packet_size));
    assert_eq!(properties.maximum_qos, Some(1));
    assert_eq!(properties.shared_subscription_available, Some(0));
    assert_eq!(properties.retain_available, None);
}

#[test]
fn keep_alive_closes_after_one_and_a_half_intervals() {
    let mut connect = connect_packet(V5, "c");
    connect.keep_alive = 10;
    connect.will = Some(will("dead/c", None));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.handle_packet(at(4), Packet::PingReq);
    assert_eq!(sent(&drain(&mut session)), [Packet::PingResp]);
    session.tick(at_ms(4_000 + 14_999));
    assert!(drain(&mut session).is_empty());
    assert_eq!(session.next_deadline(), Some(at(19)));
    session.tick(at(19));
    let outputs = drain(&mut session);
    assert_eq!(
        disconnect_code(&outputs),
        Some(ReasonCode::KeepAliveTimeout)
    );
    assert_eq!(wills(&outputs).len(), 1);
}

#[test]
fn a_keep_alive_above_the_maximum_is_lowered_and_enforced() {
    let config = SessionConfig {
        max_keep_alive: 5,
        ..SessionConfig::default()
    };
    let mut connect = connect_packet(V5, "c");
    connect.keep_alive = 600;
    let (mut session, outputs) = connect_with(config, connect, None, at(0));
    assert_eq!(connack(&outputs).properties.server_keep_alive, Some(5));
    session.tick(at_ms(7_499));
    assert_eq!(disconnect_code(&drain(&mut session)), None);
    session.tick(at_ms(7_500));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::KeepAliveTimeout)
    );
}

#[test]
fn a_v5_client_that_asks_for_no_keep_alive_gets_the_maximum_and_its_will_on_silence() {
    let config = SessionConfig {
        max_keep_alive: 4,
        ..SessionConfig::default()
    };
    let mut connect = connect_packet(V5, "c");
    connect.keep_alive = 0;
    connect.will = Some(will("wills/c", None));
    let (mut session, outputs) = connect_with(config, connect, None, at(0));
    assert_eq!(connack(&outputs).properties.server_keep_alive, Some(4));
    session.tick(at(6));
    let outputs = drain(&mut session);
    assert_eq!(
        disconnect_code(&outputs),
        Some(ReasonCode::KeepAliveTimeout)
    );
    assert_eq!(wills(&outputs).len(), 1);
}

#[test]
fn a_keep_alive_within_the_maximum_is_the_clients_own_and_not_announced() {
    let mut connect = connect_packet(V5, "c");
    connect.keep_alive = 60;
    let (_, outputs) = connect_with(SessionConfig::default(), connect, None, at(0));
    assert_eq!(connack(&outputs).properties.server_keep_alive, None);
}

#[test]
fn a_v311_client_keeps_its_own_keep_alive_even_above_the_maximum() {
    let config = SessionConfig {
        max_keep_alive: 5,
        ..SessionConfig::default()
    };
    for (asked, silent_for) in [(0, 3_600), (600, 899)] {
        let mut connect = connect_packet(V3, "c");
        connect.keep_alive = asked;
        let (mut session, _) = connect_with(config.clone(), connect, None, at(0));
        session.tick(at(silent_for));
        assert_eq!(disconnect_code(&drain(&mut session)), None, "{asked}");
        assert!(session.is_connected(), "{asked}");
    }
}

#[test]
fn connection_without_connect_times_out() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    session.tick(at(9));
    assert!(drain(&mut session).is_empty());
    session.tick(at(10));
    assert!(closed_with(&drain(&mut session)).is_some());
}

#[test]
fn takeover_sends_session_taken_over_and_hands_the_state_over() {
    let mut connect = connect_packet(V5, "c");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(300);
    let (mut old, _) = connect_with(SessionConfig::default(), connect.clone(), None, at(0));
    subscribe(&mut old, "a/b", QoS::AtLeastOnce);
    let state = old.take_over(at(1), false).expect("state handed over");
    let outputs = drain(&mut old);
    assert_eq!(
        disconnect_code(&outputs),
        Some(ReasonCode::SessionTakenOver)
    );
    assert_eq!(closed_with(&outputs), Some(ReasonCode::SessionTakenOver));
    assert!(!outputs.contains(&Output::SessionEnded));
    let (new, outputs) = connect_with(SessionConfig::default(), connect, Some(state), at(1));
    assert!(connack(&outputs).session_present);
    assert!(new.state().subscriptions.contains_key("a/b"));
    assert!(outputs.iter().any(|output| matches!(
        output,
        Output::Subscribe {
            send_retained: false,
            ..
        }
    )));
}

#[test]
fn takeover_by_clean_start_ends_the_old_session_and_publishes_its_will() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.session_expiry_interval = Some(300);
    connect.will = Some(will("dead/c", Some(60)));
    let (mut old, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    assert_eq!(old.take_over(at(1), true), None);
    let outputs = drain(&mut old);
    assert_eq!(wills(&outputs).len(), 1);
    assert!(outputs.contains(&Output::SessionEnded));
}

#[test]
fn clean_start_discards_the_existing_session() {
    let mut state = SessionState::new("c");
    state.subscriptions.insert(
        "x".to_owned(),
        StoredSubscription {
            options: SubscriptionOptions::new(QoS::AtMostOnce),
            identifier: None,
        },
    );
    let (session, outputs) = connect_with(
        SessionConfig::default(),
        connect_packet(V5, "c"),
        Some(state),
        at(0),
    );
    assert!(!connack(&outputs).session_present);
    assert!(session.state().subscriptions.is_empty());
}

#[test]
fn session_expiry_zero_ends_the_session_at_disconnect() {
    let mut session = connected(V5);
    session.handle_packet(
        at(1),
        Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    );
    let outputs = drain(&mut session);
    assert!(outputs.contains(&Output::SessionEnded));
    assert!(session.is_ended());
}

#[test]
fn offline_session_expires_after_its_interval() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.session_expiry_interval = Some(30);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.connection_lost(at(10));
    drain(&mut session);
    assert_eq!(session.next_deadline(), Some(at(40)));
    session.tick(at(39));
    assert!(!drain(&mut session).contains(&Output::SessionEnded));
    session.tick(at(40));
    assert!(drain(&mut session).contains(&Output::SessionEnded));
}

#[test]
fn disconnect_cannot_raise_a_zero_session_expiry() {
    let mut session = connected(V5);
    let mut disconnect = Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(60);
    session.handle_packet(at(1), Packet::Disconnect(disconnect));
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::ProtocolError)
    );
}

#[test]
fn normal_disconnect_discards_the_will() {
    let mut connect = connect_packet(V5, "c");
    connect.will = Some(will("dead/c", None));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.handle_packet(
        at(1),
        Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    );
    assert!(wills(&drain(&mut session)).is_empty());
}

#[test]
fn disconnect_with_will_message_publishes_the_will() {
    let mut connect = connect_packet(V5, "c");
    connect.will = Some(will("dead/c", None));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.handle_packet(
        at(1),
        Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWill)),
    );
    let outputs = drain(&mut session);
    let wills = wills(&outputs);
    assert_eq!(wills.len(), 1);
    assert_eq!(wills[0].topic.as_str(), "dead/c");
    assert_eq!(wills[0].qos, QoS::AtLeastOnce);
}

#[test]
fn lost_connection_publishes_the_will_at_once_without_a_delay() {
    let mut connect = connect_packet(V3, "c");
    connect.will = Some(will("dead/c", None));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.connection_lost(at(1));
    assert_eq!(wills(&drain(&mut session)).len(), 1);
}

#[test]
fn will_delay_holds_the_will_until_it_passes() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.session_expiry_interval = Some(300);
    connect.will = Some(will("dead/c", Some(20)));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.connection_lost(at(10));
    assert!(wills(&drain(&mut session)).is_empty());
    assert_eq!(session.next_deadline(), Some(at(30)));
    session.tick(at(29));
    assert!(wills(&drain(&mut session)).is_empty());
    session.tick(at(30));
    assert_eq!(wills(&drain(&mut session)).len(), 1);
}

#[test]
fn reconnect_before_the_will_delay_discards_the_will() {
    let mut connect = connect_packet(V5, "c");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(300);
    connect.will = Some(will("dead/c", Some(20)));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.connection_lost(at(10));
    drain(&mut session);
    let state = session.take_over(at(15), false).expect("resumable");
    assert!(wills(&drain(&mut session)).is_empty());
    assert!(state.pending_will.is_none());
}

#[test]
fn will_is_published_when_the_session_expires_before_the_delay() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.session_expiry_interval = Some(5);
    connect.will = Some(will("dead/c", Some(60)));
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.connection_lost(at(10));
    drain(&mut session);
    session.tick(at(15));
    let outputs = drain(&mut session);
    assert_eq!(wills(&outputs).len(), 1);
    assert!(outputs.contains(&Output::SessionEnded));
}

#[test]
fn will_message_expiry_starts_when_it_is_published() {
    let mut connect = connect_packet(V5, "c");
    let mut last_will = will("dead/c", None);
    last_will.properties.message_expiry_interval = Some(30);
    connect.will = Some(last_will);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.connection_lost(at(100));
    let will = wills(&drain(&mut session)).remove(0);
    assert_eq!(will.properties.expires_at, Some(at(130)));
}

#[test]
fn pingreq_gets_pingresp() {
    let mut session = connected(V3);
    session.handle_packet(at(1), Packet::PingReq);
    assert_eq!(sent(&drain(&mut session)), [Packet::PingResp]);
}

#[test]
fn auth_packet_gets_bad_authentication_method() {
    let mut session = connected(V5);
    session.handle_packet(
        at(1),
        Packet::Auth(Auth {
            code: ReasonCode::ReAuthenticate,
            properties: Properties::default(),
        }),
    );
    assert_eq!(
        disconnect_code(&drain(&mut session)),
        Some(ReasonCode::BadAuthenticationMethod)
    );
}

#[test]
fn decode_error_sends_disconnect_with_its_reason_code_on_v5() {
    let mut session = connected(V5);
    session.handle_decode_error(
        at(1),
        &DecodeError::PacketTooLarge {
            size: 2_000_000,
            maximum: 1_048_576,
        },
    );
    let outputs = drain(&mut session);
    let disconnect = sent(&outputs)
        .into_iter()
        .find_map(|packet| match packet {
            Packet::Disconnect(disconnect) => Some(disconnect),
            _ => None,
        })
        .expect("a disconnect");
    assert_eq!(disconnect.code, ReasonCode::PacketTooLarge);
    assert!(disconnect.properties.reason_string.is_some());
    assert_eq!(closed_with(&outputs), Some(ReasonCode::PacketTooLarge));
}

#[test]
fn decode_error_on_v3_closes_without_a_disconnect_packet() {
    let mut session = connected(V3);
    session.handle_decode_error(at(1), &DecodeError::MalformedVariableInt);
    let outputs = drain(&mut session);
    assert!(sent(&outputs).is_empty());
    assert_eq!(closed_with(&outputs), Some(ReasonCode::MalformedPacket));
}

#[test]
fn request_problem_information_zero_leaves_out_reason_strings() {
    let mut connect = connect_packet(V5, "c");
    connect.properties.request_problem_information = Some(0);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    session.handle_decode_error(at(1), &DecodeError::MalformedVariableInt);
    let outputs = drain(&mut session);
    let Some(Packet::Disconnect(disconnect)) = sent(&outputs).pop() else {
        panic!("{outputs:?}");
    };
    assert_eq!(disconnect.properties.reason_string, None);
}

#[test]
fn server_disconnect_carries_a_reason_string() {
    let mut session = connected(V5);
    session.disconnect(at(1), ReasonCode::ServerShuttingDown, Some("maintenance"));
    let outputs = drain(&mut session);
    assert_eq!(
        sent(&outputs),
        [Packet::Disconnect(Disconnect::with_reason(
            ReasonCode::ServerShuttingDown,
            "maintenance"
        ))]
    );
    assert_eq!(closed_with(&outputs), Some(ReasonCode::ServerShuttingDown));
}

#[test]
fn session_state_round_trips_through_json_and_restores_subscriptions() {
    let mut connect = connect_packet(V5, "c");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(3600);
    let (mut session, _) = connect_with(SessionConfig::default(), connect.clone(), None, at(0));
    subscribe(&mut session, "a/#", QoS::ExactlyOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::ExactlyOnce));
    session.handle_packet(at(1), client_publish("in/x", QoS::ExactlyOnce, Some(9)));
    session.connection_lost(at(2));
    session.handle_delivery(at(3), delivery("a/c", QoS::AtLeastOnce));
    drain(&mut session);
    let json = session.state().to_json().unwrap();
    let state = SessionState::from_json(&json).unwrap();
    assert_eq!(&state, session.state());
    assert_eq!(state.inflight.len(), 1);
    assert_eq!(state.queue.len(), 1);
    assert!(state.awaiting_pubrel.contains(&9));

    // A node restart: the restored session re-registers its subscriptions.
    let mut restored = Session::restore(SessionConfig::default(), state.clone(), at(100));
    let outputs = drain(&mut restored);
    assert!(matches!(
        outputs.as_slice(),
        [Output::Subscribe {
            send_retained: false,
            ..
        }]
    ));
    // The client comes back: inflight is resent with DUP, then the queue drains.
    let state = restored.take_over(at(101), false).unwrap();
    let (_, outputs) = connect_with(SessionConfig::default(), connect, Some(state), at(101));
    let publishes = publishes(&outputs);
    assert_eq!(publishes.len(), 2);
    assert!(publishes[0].dup);
    assert_eq!(publishes[0].topic, "a/b");
    assert!(!publishes[1].dup);
    assert_eq!(publishes[1].topic, "a/c");
}

#[test]
fn packets_sent_before_the_connack_are_handled_after_accept() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    session.handle_packet(at(0), Packet::Connect(Box::new(connect_packet(V5, "c"))));
    session.handle_packet(at(0), Packet::PingReq);
    drain(&mut session);
    session.accept(at(0), None);
    let packets = sent(&drain(&mut session));
    assert!(matches!(
        packets.as_slice(),
        [Packet::ConnAck(_), Packet::PingResp]
    ));
}

#[test]
fn packets_sent_before_a_rejection_are_dropped() {
    let mut session = Session::new(SessionConfig::default(), at(0));
    session.handle_packet(at(0), Packet::Connect(Box::new(connect_packet(V5, "c"))));
    session.handle_packet(at(0), Packet::PingReq);
    drain(&mut session);
    session.reject(at(0), ReasonCode::NotAuthorized);
    let packets = sent(&drain(&mut session));
    assert!(matches!(packets.as_slice(), [Packet::ConnAck(_)]));
}
