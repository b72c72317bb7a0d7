use bytes::{Bytes, BytesMut};

use crate::codec::*;

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Decodes exactly one packet from `bytes`, and checks that encoding it gives `bytes`
/// back and that `encoded_len` agrees.
fn golden(bytes: &[u8], version: ProtocolVersion, expected: Packet) {
    let mut buf = BytesMut::from(bytes);
    let decoded = decode(&mut buf, version, MAX_PACKET_SIZE).unwrap().unwrap();
    assert!(buf.is_empty(), "left over: {buf:?}");
    assert_eq!(decoded, expected);
    let mut out = BytesMut::new();
    encode(&expected, version, &mut out);
    assert_eq!(&out[..], bytes, "encoding of {expected:?}");
    assert_eq!(expected.encoded_len(version), bytes.len());
}

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn connect_v3_with_will_user_and_password() {
    let bytes = [
        0x10, 28, // CONNECT, remaining length 28
        0, 4, b'M', b'Q', b'T', b'T', // protocol name
        4,    // protocol level 4 = 3.1.1
        0xEE, // user name, password, will retain, will qos 1, will, clean session
        0, 60, // keep alive 60 s
        0, 2, b'c', b'1', // client identifier
        0, 1, b'w', // will topic
        0, 3, b'b', b'y', b'e', // will payload
        0, 1, b'u', // user name
        0, 1, b'p', // password
    ];
    let expected = Packet::Connect(Box::new(Connect {
        version: V3,
        clean_start: true,
        keep_alive: 60,
        properties: Properties::default(),
        client_id: s("c1"),
        will: Some(LastWill {
            topic: s("w"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        }),
        username: Some(s("u")),
        password: Some(Bytes::from_static(b"p")),
    }));
    // CONNECT decodes whatever version the caller assumes.
    golden(&bytes, V5, expected.clone());
    golden(&bytes, V3, expected);
}

#[test]
fn connect_v5_with_properties_and_will_properties() {
    let bytes = [
        0x10, 38, // CONNECT
        0, 4, b'M', b'Q', b'T', b'T', 5,    // level 5
        0x06, // will, clean start
        0, 30, // keep alive
        11, // property length
        0x11, 0, 0, 0x0E, 0x10, // session expiry interval 3600
        0x21, 0, 20, // receive maximum 20
        0x22, 0, 10, // topic alias maximum 10
        0, 2, b'c', b'1', // client identifier
        5,    // will property length
        0x18, 0, 0, 0, 5, // will delay interval 5
        0, 1, b'w', // will topic
        0, 1, b'x', // will payload
    ];
    let properties = Properties {
        session_expiry_interval: Some(3600),
        receive_maximum: Some(20),
        topic_alias_maximum: Some(10),
        ..Properties::default()
    };
    let will_properties = Properties {
        will_delay_interval: Some(5),
        ..Properties::default()
    };
    golden(
        &bytes,
        V5,
        Packet::Connect(Box::new(Connect {
            version: V5,
            clean_start: true,
            keep_alive: 30,
            properties,
            client_id: s("c1"),
            will: Some(LastWill {
                topic: s("w"),
                payload: Bytes::from_static(b"x"),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: will_properties,
            }),
            username: None,
            password: None,
        })),
    );
}

#[test]
fn connack_v3_and_v5() {
    golden(
        &[0x20, 2, 0x01, 0x00],
        V3,
        Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)),
    );
    // 3.1.1 return code 0x05 not authorized.
    golden(
        &[0x20, 2, 0x00, 0x05],
        V3,
        Packet::ConnAck(ConnAck::new(false, ReasonCode::NotAuthorized)),
    );
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties.assigned_client_identifier = Some(s("id1"));
    connack.properties.server_keep_alive = Some(60);
    golden(
        &[
            0x20, 12, 0x00, 0x00, // flags, reason code
            9,    // property length
            0x12, 0, 3, b'i', b'd', b'1', // assigned client identifier
            0x13, 0, 60, // server keep alive
        ],
        V5,
        Packet::ConnAck(connack),
    );
}

#[test]
fn publish_v3_qos1() {
    let mut publish = Publish::new("a/b", Bytes::from_static(b"hi"));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = Some(10);
    golden(
        &[0x32, 9, 0, 3, b'a', b'/', b'b', 0, 10, b'h', b'i'],
        V3,
        Packet::Publish(publish),
    );
}

#[test]
fn publish_v3_qos0_dup_free_with_retain() {
    let mut publish = Publish::new("t", Bytes::new());
    publish.retain = true;
    golden(&[0x31, 3, 0, 1, b't'], V3, Packet::Publish(publish));
}

#[test]
fn publish_v5_qos2_with_every_publish_property() {
    let bytes = [
        0x35, 39, // PUBLISH, QoS 2, retain
        0, 1, b't', // topic
        0, 7,  // packet identifier
        32, // property length
        0x01, 1, // payload format indicator
        0x02, 0, 0, 0, 60, // message expiry interval
        0x03, 0, 1, b'c', // content type
        0x08, 0, 1, b'r', // response topic
        0x09, 0, 2, 1, 2, // correlation data
        0x0B, 5, // subscription identifier
        0x23, 0, 1, // topic alias
        0x26, 0, 1, b'k', 0, 1, b'v', // user property
        b'p', // payload
    ];
    let mut publish = Publish::new("t", Bytes::from_static(b"p"));
    publish.qos = QoS::ExactlyOnce;
    publish.retain = true;
    publish.packet_id = Some(7);
    let properties = &mut publish.properties;
    properties.payload_format_indicator = Some(1);
    properties.message_expiry_interval = Some(60);
    properties.content_type = Some(s("c"));
    properties.response_topic = Some(s("r"));
    properties.correlation_data = Some(Bytes::from_static(&[1, 2]));
    properties.subscription_identifiers = vec![5];
    properties.topic_alias = Some(1);
    properties.user_properties = vec![(s("k"), s("v"))];
    golden(&bytes, V5, Packet::Publish(publish));
}

#[test]
fn publish_v5_with_empty_topic_and_alias() {
    let mut publish = Publish::new("", Bytes::new());
    publish.properties.topic_alias = Some(3);
    golden(
        &[0x30, 6, 0, 0, 3, 0x23, 0, 3],
        V5,
        Packet::Publish(publish),
    );
}

#[test]
fn publish_responses_v3() {
    let response = PubResponse::new(10);
    golden(&[0x40, 2, 0, 10], V3, Packet::PubAck(response.clone()));
    golden(&[0x50, 2, 0, 10], V3, Packet::PubRec(response.clone()));
    // PUBREL has the fixed flags 0b0010.
    golden(&[0x62, 2, 0, 10], V3, Packet::PubRel(response.clone()));
    golden(&[0x70, 2, 0, 10], V3, Packet::PubComp(response));
}

#[test]
fn publish_responses_v5_omit_success_and_empty_properties() {
    golden(&[0x40, 2, 0, 7], V5, Packet::PubAck(PubResponse::new(7)));
    golden(
        &[0x40, 3, 0, 7, 0x10],
        V5,
        Packet::PubAck(PubResponse::with_code(7, ReasonCode::NoMatchingSubscribers)),
    );
    let mut rec = PubResponse::with_code(7, ReasonCode::UnspecifiedError);
    rec.properties.reason_string = Some(s("no"));
    golden(
        &[0x50, 9, 0, 7, 0x80, 5, 0x1F, 0, 2, b'n', b'o'],
        V5,
        Packet::PubRec(rec),
    );
    golden(&[0x62, 2, 0, 7], V5, Packet::PubRel(PubResponse::new(7)));
    golden(
        &[0x70, 3, 0, 7, 0x92],
        V5,
        Packet::PubComp(PubResponse::with_code(
            7,
            ReasonCode::PacketIdentifierNotFound,
        )),
    );
}

#[test]
fn publish_response_v5_with_code_and_zero_property_length_decodes() {
    // Section 3.4.2.1: a property length of 0 may be sent explicitly.
    let mut buf = BytesMut::from(&[0x40, 4, 0, 7, 0x00, 0][..]);
    assert_eq!(
        decode(&mut buf, V5, MAX_PACKET_SIZE).unwrap(),
        Some(Packet::PubAck(PubResponse::new(7)))
    );
}

#[test]
fn subscribe_and_suback_v3() {
    golden(
        &[0x82, 8, 0, 1, 0, 3, b'a', b'/', b'#', 0x01],
        V3,
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::default(),
            filters: vec![(s("a/#"), SubscriptionOptions::new(QoS::AtLeastOnce))],
        }),
    );
    golden(
        &[0x90, 4, 0, 1, 0x01, 0x80],
        V3,
        Packet::SubAck(SubAck {
            packet_id: 1,
            properties: Properties::default(),
            codes: vec![ReasonCode::GrantedQos1, ReasonCode::UnspecifiedError],
        }),
    );
}

#[test]
fn suback_v3_sends_every_error_as_failure() {
    let mut out = BytesMut::new();
    let suback = SubAck {
        packet_id: 1,
        properties: Properties::default(),
        codes: vec![ReasonCode::NotAuthorized],
    };
    encode(&Packet::SubAck(suback), V3, &mut out);
    assert_eq!(&out[..], [0x90, 3, 0, 1, 0x80]);
}

#[test]
fn subscribe_and_suback_v5() {
    let properties = Properties {
        subscription_identifiers: vec![9],
        ..Properties::default()
    };
    golden(
        &[
            0x82, 11, 0, 2, // packet identifier
            2, 0x0B, 9, // subscription identifier 9
            0, 3, b'a', b'/', b'+', // filter
            0x2D, // retain handling 2, retain as published, no local, qos 1
        ],
        V5,
        Packet::Subscribe(Subscribe {
            packet_id: 2,
            properties,
            filters: vec![(
                s("a/+"),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            )],
        }),
    );
    golden(
        &[0x90, 5, 0, 2, 0, 0x01, 0x87],
        V5,
        Packet::SubAck(SubAck {
            packet_id: 2,
            properties: Properties::default(),
            codes: vec![ReasonCode::GrantedQos1, ReasonCode::NotAuthorized],
        }),
    );
}

#[test]
fn unsubscribe_and_unsuback_v3() {
    golden(
        &[0xA2, 7, 0, 1, 0, 3, b'a', b'/', b'#'],
        V3,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            properties: Properties::default(),
            filters: vec![s("a/#")],
        }),
    );
    golden(
        &[0xB0, 2, 0, 1],
        V3,
        Packet::UnsubAck(UnsubAck {
            packet_id: 1,
            properties: Properties::default(),
            codes: Vec::new(),
        }),
    );
}

#[test]
fn unsubscribe_and_unsuback_v5() {
    golden(
        &[0xA2, 6, 0, 3, 0, 0, 1, b'a'],
        V5,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 3,
            properties: Properties::default(),
            filters: vec![s("a")],
        }),
    );
    golden(
        &[0xB0, 5, 0, 3, 0, 0x00, 0x11],
        V5,
        Packet::UnsubAck(UnsubAck {
            packet_id: 3,
            properties: Properties::default(),
            codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        }),
    );
}

#[test]
fn ping_packets_in_both_versions() {
    for version in [V3, V5] {
        golden(&[0xC0, 0], version, Packet::PingReq);
        golden(&[0xD0, 0], version, Packet::PingResp);
    }
}

#[test]
fn disconnect_v3_and_v5() {
    golden(
        &[0xE0, 0],
        V3,
        Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    );
    golden(
        &[0xE0, 0],
        V5,
        Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    );
    golden(
        &[0xE0, 1, 0x8E],
        V5,
        Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver)),
    );
    let mut disconnect = Disconnect::new(ReasonCode::DisconnectWithWill);
    disconnect.properties.session_expiry_interval = Some(10);
    golden(
        &[0xE0, 7, 0x04, 5, 0x11, 0, 0, 0, 10],
        V5,
        Packet::Disconnect(disconnect),
    );
}

#[test]
fn auth_v5() {
    golden(
        &[0xF0, 0],
        V5,
        Packet::Auth(Auth {
            code: ReasonCode::Success,
            properties: Properties::default(),
        }),
    );
    let properties = Properties {
        authentication_method: Some(s("m")),
        ..Properties::default()
    };
    golden(
        &[0xF0, 6, 0x18, 4, 0x15, 0, 1, b'm'],
        V5,
        Packet::Auth(Auth {
            code: ReasonCode::ContinueAuthentication,
            properties,
        }),
    );
}

#[test]
fn partial_packets_need_more_bytes_and_consume_nothing() {
    let mut buf = BytesMut::from(&[0x32, 9, 0, 3, b'a'][..]);
    assert_eq!(decode(&mut buf, V3, MAX_PACKET_SIZE), Ok(None));
    assert_eq!(buf.len(), 5);
    let mut buf = BytesMut::from(&[0x30, 0x80][..]);
    assert_eq!(decode(&mut buf, V3, MAX_PACKET_SIZE), Ok(None));
    let mut buf = BytesMut::new();
    assert_eq!(decode(&mut buf, V3, MAX_PACKET_SIZE), Ok(None));
}

#[test]
fn back_to_back_packets_decode_one_at_a_time() {
    let mut buf = BytesMut::from(&[0xC0, 0, 0xE0, 0, 0xC0][..]);
    assert_eq!(
        decode(&mut buf, V3, MAX_PACKET_SIZE),
        Ok(Some(Packet::PingReq))
    );
    assert_eq!(
        decode(&mut buf, V3, MAX_PACKET_SIZE),
        Ok(Some(Packet::Disconnect(Disconnect::new(
            ReasonCode::Success
        ))))
    );
    assert_eq!(decode(&mut buf, V3, MAX_PACKET_SIZE), Ok(None));
    assert_eq!(&buf[..], [0xC0]);
}

#[test]
fn publish_payload_is_a_zero_copy_slice_of_the_receive_buffer() {
    let mut buf = BytesMut::from(&[0x30, 6, 0, 1, b't', b'a', b'b', b'c'][..]);
    let start = buf.as_ptr() as usize;
    let Some(Packet::Publish(publish)) = decode(&mut buf, V3, MAX_PACKET_SIZE).unwrap() else {
        panic!("not a publish");
    };
    assert_eq!(publish.payload.as_ptr() as usize, start + 5);
}

#[test]
fn properties_are_left_out_of_v3_encodings() {
    let mut publish = Publish::new("t", Bytes::new());
    publish.properties.content_type = Some(s("text/plain"));
    let mut out = BytesMut::new();
    encode(&Packet::Publish(publish), V3, &mut out);
    assert_eq!(&out[..], [0x30, 3, 0, 1, b't']);
}
