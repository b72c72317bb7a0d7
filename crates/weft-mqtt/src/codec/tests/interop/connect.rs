//! CONNECT (MQTT 5.0 section 3.1, 3.1.1 section 3.1) and CONNACK (5.0 section 3.2,
//! 3.1.1 section 3.2).

use bytes::Bytes;

use super::{V3, V5, check, check_ours, pairs, s, theirs_decode};
use crate::codec::*;

fn connect(version: ProtocolVersion) -> Connect {
    Connect {
        version,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::default(),
        client_id: String::new(),
        will: None,
        username: None,
        password: None,
    }
}

#[test]
fn connect_v5_with_every_connect_and_will_property() {
    // 5.0 section 3.1.2 (variable header, properties in 3.1.2.11), 3.1.3 (payload, Will
    // Properties in 3.1.3.2). Remaining length 132 takes two bytes (section 1.5.5).
    let bytes = [
        0x10, 0x84, 0x01, // CONNECT, remaining length 132
        0, 4, b'M', b'Q', b'T', b'T', 5,    // protocol name, level 5
        0xF6, // user name, password, will retain, will qos 2, will, clean start
        0, 60, // keep alive
        44, // property length
        0x11, 0, 0, 0x0E, 0x10, // session expiry interval 3600
        0x15, 0, 2, b'm', b'1', // authentication method
        0x16, 0, 2, 1, 2, // authentication data
        0x17, 0, // request problem information 0
        0x19, 1, // request response information 1
        0x21, 0, 20, // receive maximum 20
        0x22, 0, 10, // topic alias maximum 10
        0x26, 0, 1, b'a', 0, 1, b'1', // user property a=1
        0x26, 0, 1, b'a', 0, 1, b'2', // user property a=2 (names repeat, order kept)
        0x27, 0, 1, 0, 0, // maximum packet size 65536
        0, 2, b'c', b'1', // client identifier
        55,   // will property length
        0x01, 1, // payload format indicator: utf-8
        0x02, 0, 0, 0, 60, // message expiry interval 60
        0x03, 0, 3, b't', b'/', b'p', // content type
        0x08, 0, 1, b'r', // response topic
        0x09, 0, 1, 0xC0, // correlation data
        0x18, 0, 0, 0, 5, // will delay interval 5
        0x26, 0, 4, b't', b'i', b'm', b'e', 0, 20, // user property time=
        b'2', b'0', b'2', b'6', b'-', b'1', b'2', b'-', b'0', b'7', b'T', b'2', b'1', b':', b'4',
        b'8', b':', b'2', b'7', b'Z', // …a timestamp whose "Z" ends the block
        0, 3, b'w', b'/', b't', // will topic
        0, 3, b'b', b'y', b'e', // will payload: no stray byte before "bye"
        0, 1, b'u', // user name
        0, 2, b'p', b'w', // password
    ];
    let mut packet = connect(V5);
    packet.keep_alive = 60;
    packet.client_id = s("c1");
    packet.properties = Properties {
        session_expiry_interval: Some(3600),
        authentication_method: Some(s("m1")),
        authentication_data: Some(Bytes::from_static(&[1, 2])),
        request_problem_information: Some(0),
        request_response_information: Some(1),
        receive_maximum: Some(20),
        topic_alias_maximum: Some(10),
        user_properties: pairs(&[("a", "1"), ("a", "2")]),
        maximum_packet_size: Some(65536),
        ..Properties::default()
    };
    packet.will = Some(LastWill {
        topic: s("w/t"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::ExactlyOnce,
        retain: true,
        properties: Properties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(60),
            content_type: Some(s("t/p")),
            response_topic: Some(s("r")),
            correlation_data: Some(Bytes::from_static(&[0xC0])),
            will_delay_interval: Some(5),
            user_properties: pairs(&[("time", "2026-12-07T21:48:27Z")]),
            ..Properties::default()
        },
    });
    packet.username = Some(s("u"));
    packet.password = Some(Bytes::from_static(b"pw"));
    check(&bytes, V5, Packet::Connect(Box::new(packet)));
}

#[test]
fn connect_v5_minimal_with_empty_client_identifier() {
    // 5.0 section 3.1.3.1: a zero-length Client Identifier is allowed; a property length
    // of 0 still takes its byte.
    let bytes = [
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, // clean start
        0, 0, // keep alive 0
        0, // property length
        0, 0, // client identifier ""
    ];
    check(&bytes, V5, Packet::Connect(Box::new(connect(V5))));
}

#[test]
fn connect_v5_will_without_properties_and_empty_will_payload() {
    let bytes = [
        0x10, 23, 0, 4, b'M', b'Q', b'T', b'T', 5,
        0x8E, // user name, will qos 1, will, clean start
        0, 0, 0, // keep alive, property length
        0, 1, b'c', // client identifier
        0,    // will property length
        0, 1, b'w', // will topic
        0, 0, // will payload: zero length
        0, 1, b'u', // user name
    ];
    let mut packet = connect(V5);
    packet.client_id = s("c");
    packet.will = Some(LastWill {
        topic: s("w"),
        payload: Bytes::new(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::default(),
    });
    packet.username = Some(s("u"));
    check(&bytes, V5, Packet::Connect(Box::new(packet)));
}

#[test]
fn connect_v5_password_without_user_name() {
    // 5.0 section 3.1.2.9 allows a password without a user name (3.1.1 does not).
    let bytes = [
        0x10, 18, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x42, // password, clean start
        0, 0, 0, // keep alive, property length
        0, 1, b'c', // client identifier
        0, 2, b'p', b'w', // password
    ];
    let mut packet = connect(V5);
    packet.client_id = s("c");
    packet.password = Some(Bytes::from_static(b"pw"));
    check(&bytes, V5, Packet::Connect(Box::new(packet)));
}

#[test]
fn connect_v5_zero_length_user_name_and_binary_password() {
    // Hand-checked against 5.0 sections 3.1.3.5 and 3.1.3.6 only: mqttbytes keeps
    // credentials as strings where "" means absent, so it can express neither an empty
    // user name nor a password that is not UTF-8.
    let bytes = [
        0x10, 19, 0, 4, b'M', b'Q', b'T', b'T', 5, 0xC2, // user name, password, clean
        0, 0, 0, // keep alive, property length
        0, 0, // client identifier ""
        0, 0, // user name ""
        0, 2, 0xFF, 0x00, // password: binary data
    ];
    let mut packet = connect(V5);
    packet.username = Some(String::new());
    packet.password = Some(Bytes::from_static(&[0xFF, 0x00]));
    check_ours(&bytes, V5, &Packet::Connect(Box::new(packet)));
}

#[test]
fn connect_v3_with_will_user_and_password() {
    // 3.1.1 sections 3.1.2 and 3.1.3: no properties anywhere.
    let bytes = [
        0x10, 28, 0, 4, b'M', b'Q', b'T', b'T', 4,    // level 4 = 3.1.1
        0xEE, // user name, password, will retain, will qos 1, will, clean session
        0, 60, // keep alive
        0, 2, b'c', b'1', // client identifier
        0, 1, b'w', // will topic
        0, 3, b'b', b'y', b'e', // will message
        0, 1, b'u', // user name
        0, 1, b'p', // password
    ];
    let mut packet = connect(V3);
    packet.keep_alive = 60;
    packet.client_id = s("c1");
    packet.will = Some(LastWill {
        topic: s("w"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::default(),
    });
    packet.username = Some(s("u"));
    packet.password = Some(Bytes::from_static(b"p"));
    check(&bytes, V3, Packet::Connect(Box::new(packet)));
}

#[test]
fn connect_v3_minimal() {
    let bytes = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 0];
    let mut packet = connect(V3);
    packet.keep_alive = 60;
    check(&bytes, V3, Packet::Connect(Box::new(packet)));
}

#[test]
fn connack_v5_with_every_property_the_server_sends() {
    // 5.0 section 3.2.2.3, properties in identifier order.
    let bytes = [
        0x20, 87, 0x00, 0x00, // CONNACK, no session present, Success
        84,   // property length
        0x11, 0, 0, 0, 120, // session expiry interval 120
        0x12, 0, 6, b'a', b'u', b't', b'o', b'-', b'1', // assigned client identifier
        0x13, 0, 30, // server keep alive 30
        0x1A, 0, 5, b'r', b'e', b's', b'p', b'/', // response information
        0x1C, 0, 10, b'o', b't', b'h', b'e', b'r', b':', b'1', b'8', b'8', b'3', // server ref
        0x1F, 0, 2, b'o', b'k', // reason string
        0x21, 0, 100, // receive maximum 100
        0x22, 0, 16, // topic alias maximum 16
        0x24, 1, // maximum qos 1
        0x25, 1, // retain available
        0x26, 0, 4, b'n', b'o', b'd', b'e', 0, 1, b'a', // user property node=a
        0x26, 0, 4, b'n', b'o', b'd', b'e', 0, 1, b'b', // user property node=b
        0x27, 0, 0x10, 0, 0, // maximum packet size 1 MiB
        0x28, 1, // wildcard subscription available
        0x29, 1, // subscription identifiers available
        0x2A, 0, // shared subscriptions not available
    ];
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties = Properties {
        session_expiry_interval: Some(120),
        assigned_client_identifier: Some(s("auto-1")),
        server_keep_alive: Some(30),
        response_information: Some(s("resp/")),
        server_reference: Some(s("other:1883")),
        reason_string: Some(s("ok")),
        receive_maximum: Some(100),
        topic_alias_maximum: Some(16),
        maximum_qos: Some(1),
        retain_available: Some(1),
        user_properties: pairs(&[("node", "a"), ("node", "b")]),
        maximum_packet_size: Some(1 << 20),
        wildcard_subscription_available: Some(1),
        subscription_identifier_available: Some(1),
        shared_subscription_available: Some(0),
        ..Properties::default()
    };
    check(&bytes, V5, Packet::ConnAck(connack));
}

#[test]
fn connack_v5_with_authentication_and_session_present() {
    let bytes = [
        0x20, 12, 0x01, 0x00, // session present, Success
        9,    // property length
        0x15, 0, 2, b'm', b'1', // authentication method
        0x16, 0, 1, 9, // authentication data
    ];
    let mut connack = ConnAck::new(true, ReasonCode::Success);
    connack.properties.authentication_method = Some(s("m1"));
    connack.properties.authentication_data = Some(Bytes::from_static(&[9]));
    check(&bytes, V5, Packet::ConnAck(connack));
}

#[test]
fn connack_v5_refusal_still_carries_a_property_length() {
    // 5.0 section 3.2.2.3.1: the property length is not optional in CONNACK.
    check(
        &[0x20, 3, 0x00, 0x87, 0],
        V5,
        Packet::ConnAck(ConnAck::new(false, ReasonCode::NotAuthorized)),
    );
    // mqttbytes leaves the property length out when its properties are `None`, and then
    // cannot read its own CONNACK back; `theirs_v5` always passes `Some` for that reason.
    assert!(theirs_decode(&[0x20, 2, 0x00, 0x87], V5).is_err());
}

#[test]
fn connack_v3_every_return_code() {
    // 3.1.1 section 3.2.2.3, return codes 0 to 5.
    let codes = [
        ReasonCode::Success,
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::ServerUnavailable,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
    ];
    for (value, code) in (0u8..).zip(codes) {
        check(
            &[0x20, 2, 0x00, value],
            V3,
            Packet::ConnAck(ConnAck::new(false, code)),
        );
    }
    check(
        &[0x20, 2, 0x01, 0x00],
        V3,
        Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)),
    );
}
