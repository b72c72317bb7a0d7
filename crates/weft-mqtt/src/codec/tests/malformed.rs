use bytes::BytesMut;

use crate::codec::*;

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// A packet from its first byte and body (the remaining length is filled in; bodies
/// here are shorter than 128 bytes).
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![first, body.len() as u8];
    bytes.extend_from_slice(body);
    bytes
}

fn error(bytes: &[u8], version: ProtocolVersion) -> DecodeError {
    let mut buf = BytesMut::from(bytes);
    match decode(&mut buf, version, MAX_PACKET_SIZE) {
        Err(error) => error,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn remaining_length_longer_than_four_bytes_is_malformed() {
    let error = error(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], V5);
    assert_eq!(error, DecodeError::MalformedVariableInt);
    assert_eq!(error.reason_code(), ReasonCode::MalformedPacket);
}

#[test]
fn reserved_fixed_header_flags_are_malformed() {
    // PUBREL must carry 0b0010.
    assert!(matches!(
        error(&[0x60, 2, 0, 1], V5),
        DecodeError::ReservedFlags {
            packet_type: PacketType::PubRel,
            flags: 0
        }
    ));
    // SUBSCRIBE must carry 0b0010.
    assert!(matches!(
        error(&[0x80, 6, 0, 1, 0, 1, b'a', 0], V3),
        DecodeError::ReservedFlags { .. }
    ));
    // PINGREQ must carry 0.
    let error = error(&[0xC1, 0], V3);
    assert!(matches!(error, DecodeError::ReservedFlags { .. }));
    assert_eq!(error.reason_code(), ReasonCode::MalformedPacket);
}

#[test]
fn packet_type_zero_and_auth_on_v3_are_invalid() {
    assert_eq!(
        error(&[0x00, 0], V5),
        DecodeError::InvalidPacketType { packet_type: 0 }
    );
    assert_eq!(
        error(&[0xF0, 0], V3),
        DecodeError::InvalidPacketType { packet_type: 15 }
    );
}

#[test]
fn invalid_utf8_in_a_topic_is_malformed() {
    let error = error(&[0x30, 4, 0, 2, 0xC3, 0x28], V3);
    assert_eq!(error, DecodeError::InvalidUtf8 { what: "topic name" });
    assert_eq!(error.reason_code(), ReasonCode::MalformedPacket);
}

#[test]
fn null_character_in_a_topic_is_malformed() {
    let error = error(&[0x30, 4, 0, 2, b'a', 0], V3);
    assert_eq!(error, DecodeError::NullCharacter { what: "topic name" });
}

#[test]
fn duplicate_property_is_a_protocol_error() {
    let bytes = [
        0x30, 12, 0, 1, b't', 8, // property length
        0x03, 0, 1, b'a', // content type
        0x03, 0, 1, b'b', // content type again
    ];
    let error = error(&bytes, V5);
    assert_eq!(error, DecodeError::DuplicateProperty { id: 0x03 });
    assert_eq!(error.reason_code(), ReasonCode::ProtocolError);
}

#[test]
fn repeated_user_properties_and_publish_subscription_ids_are_allowed() {
    let bytes = [
        0x30, 20, 0, 1, b't', 16, // property length
        0x0B, 1, 0x0B, 2, // two subscription identifiers
        0x26, 0, 1, b'k', 0, 0, // user property k=""
        0x26, 0, 1, b'k', 0, 0, // and again
    ];
    let mut buf = BytesMut::from(&bytes[..]);
    let Some(Packet::Publish(publish)) = decode(&mut buf, V5, MAX_PACKET_SIZE).unwrap() else {
        panic!("not a publish");
    };
    assert_eq!(publish.properties.subscription_identifiers, [1, 2]);
    assert_eq!(publish.properties.user_properties.len(), 2);
}

#[test]
fn two_subscription_identifiers_in_subscribe_are_a_protocol_error() {
    let bytes = [0x82, 10, 0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, b'a', 0];
    assert_eq!(
        error(&bytes[..2 + 10], V5),
        DecodeError::DuplicateProperty { id: 0x0B }
    );
}

#[test]
fn property_not_allowed_in_the_packet_is_malformed() {
    // Session Expiry Interval (0x11) in a PUBLISH.
    let bytes = [0x30, 9, 0, 1, b't', 5, 0x11, 0, 0, 0, 1];
    let error = error(&bytes, V5);
    assert_eq!(
        error,
        DecodeError::PropertyNotAllowed {
            id: 0x11,
            context: PropertyContext::Publish
        }
    );
    assert_eq!(error.reason_code(), ReasonCode::MalformedPacket);
}

#[test]
fn unknown_property_is_malformed() {
    let bytes = [0x30, 6, 0, 1, b't', 2, 0x05, 0];
    assert_eq!(error(&bytes, V5), DecodeError::UnknownProperty { id: 0x05 });
}

#[test]
fn out_of_range_property_values_are_protocol_errors() {
    // Payload Format Indicator 2.
    let error_pfi = error(&[0x30, 6, 0, 1, b't', 2, 0x01, 2], V5);
    assert!(matches!(
        error_pfi,
        DecodeError::InvalidPropertyValue { id: 0x01, .. }
    ));
    assert_eq!(error_pfi.reason_code(), ReasonCode::ProtocolError);
    // Topic Alias 0.
    assert!(matches!(
        error(&[0x30, 7, 0, 1, b't', 3, 0x23, 0, 0], V5),
        DecodeError::InvalidPropertyValue { id: 0x23, .. }
    ));
}

#[test]
fn receive_maximum_zero_in_connect_is_a_protocol_error() {
    let bytes = packet(
        0x10,
        &[
            0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 0, 3, 0x21, 0, 0, 0, 0,
        ],
    );
    let error = error(&bytes, V5);
    assert!(matches!(
        error,
        DecodeError::InvalidPropertyValue { id: 0x21, .. }
    ));
}

#[test]
fn packet_too_large_is_refused_before_its_body_arrives() {
    // A PUBLISH that declares 128 bytes, of which none have arrived.
    let mut buf = BytesMut::from(&[0x30, 0x80, 0x01][..]);
    let error = decode(&mut buf, V5, 100).unwrap_err();
    assert_eq!(
        error,
        DecodeError::PacketTooLarge {
            size: 131,
            maximum: 100
        }
    );
    assert_eq!(error.reason_code(), ReasonCode::PacketTooLarge);
}

#[test]
fn qos_3_is_malformed() {
    assert_eq!(
        error(&[0x36, 5, 0, 1, b't', 0, 1], V3),
        DecodeError::InvalidQos { what: "publish" }
    );
    // Will QoS 3 in CONNECT: flags 0x1E = will qos 3, will, clean.
    let bytes = packet(
        0x10,
        &[
            0, 4, b'M', b'Q', b'T', b'T', 4, 0x1E, 0, 0, 0, 0, 0, 1, b'w', 0, 0,
        ],
    );
    assert_eq!(error(&bytes, V3), DecodeError::InvalidQos { what: "will" });
}

#[test]
fn dup_on_qos_0_is_malformed() {
    assert!(matches!(
        error(&[0x38, 3, 0, 1, b't'], V3),
        DecodeError::ReservedFlags { .. }
    ));
}

#[test]
fn packet_identifier_zero_on_qos_1_is_a_protocol_error() {
    let error = error(&[0x32, 5, 0, 1, b't', 0, 0], V3);
    assert_eq!(error, DecodeError::ZeroPacketIdentifier);
    assert_eq!(error.reason_code(), ReasonCode::ProtocolError);
}

#[test]
fn wildcards_in_a_publish_topic_are_topic_name_invalid() {
    for topic in [&b"a/+"[..], b"a/#", b"+"] {
        let mut bytes = vec![0x30, 2 + topic.len() as u8, 0, topic.len() as u8];
        bytes.extend_from_slice(topic);
        let error = error(&bytes, V5);
        assert!(matches!(error, DecodeError::TopicNameInvalid { .. }));
        assert_eq!(error.reason_code(), ReasonCode::TopicNameInvalid);
    }
}

#[test]
fn empty_topic_on_v3_is_topic_name_invalid() {
    assert!(matches!(
        error(&[0x30, 2, 0, 0], V3),
        DecodeError::TopicNameInvalid { .. }
    ));
}

#[test]
fn subscribe_without_filters_is_a_protocol_error() {
    let error_v3 = error(&[0x82, 2, 0, 1], V3);
    assert_eq!(
        error_v3,
        DecodeError::NoTopicFilters {
            packet_type: PacketType::Subscribe
        }
    );
    assert_eq!(error_v3.reason_code(), ReasonCode::ProtocolError);
    assert!(matches!(
        error(&[0x82, 3, 0, 1, 0], V5),
        DecodeError::NoTopicFilters { .. }
    ));
    assert!(matches!(
        error(&[0xA2, 2, 0, 1], V3),
        DecodeError::NoTopicFilters { .. }
    ));
}

#[test]
fn reserved_subscription_option_bits_are_malformed() {
    // Bit 2 (no local in 5.0) is reserved in 3.1.1.
    assert!(matches!(
        error(&[0x82, 6, 0, 1, 0, 1, b'a', 0x04], V3),
        DecodeError::MalformedSubscriptionOptions { options: 0x04 }
    ));
    assert!(matches!(
        error(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x40], V5),
        DecodeError::MalformedSubscriptionOptions { .. }
    ));
    assert!(matches!(
        error(&[0x82, 6, 0, 1, 0, 1, b'a', 0x03], V3),
        DecodeError::MalformedSubscriptionOptions { .. }
    ));
}

#[test]
fn retain_handling_3_is_a_protocol_error() {
    let error = error(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x30], V5);
    assert_eq!(error, DecodeError::InvalidRetainHandling);
    assert_eq!(error.reason_code(), ReasonCode::ProtocolError);
}

#[test]
fn trailing_bytes_are_malformed() {
    assert!(matches!(
        error(&[0xC0, 1, 0], V3),
        DecodeError::TrailingBytes { count: 1, .. }
    ));
    assert!(matches!(
        error(&[0x40, 3, 0, 1, 0], V3),
        DecodeError::TrailingBytes { .. }
    ));
}

#[test]
fn a_string_longer_than_its_packet_is_malformed() {
    assert!(matches!(
        error(&[0x30, 3, 0, 9, b't'], V3),
        DecodeError::Truncated { what: "topic name" }
    ));
}

#[test]
fn mqtt_3_1_mqisdp_is_an_unsupported_protocol() {
    let bytes = [
        0x10, 14, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 0x02, 0, 60, 0, 0,
    ];
    let error = error(&bytes, V3);
    assert_eq!(
        error,
        DecodeError::UnsupportedProtocol {
            name: "MQIsdp".to_owned(),
            level: 3
        }
    );
    assert_eq!(error.reason_code(), ReasonCode::UnsupportedProtocolVersion);
}

#[test]
fn unknown_protocol_level_is_unsupported() {
    let bytes = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 6, 0x02, 0, 60, 0, 0];
    assert!(matches!(
        error(&bytes, V5),
        DecodeError::UnsupportedProtocol { level: 6, .. }
    ));
}

#[test]
fn connect_reserved_flag_is_malformed() {
    let bytes = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x03, 0, 60, 0, 0];
    assert!(matches!(
        error(&bytes, V3),
        DecodeError::MalformedConnectFlags { .. }
    ));
}

#[test]
fn password_without_user_name_is_malformed_on_v3_only() {
    let v3 = [
        0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x42, 0, 60, 0, 0, 0, 1, b'p',
    ];
    assert!(matches!(
        error(&v3, V3),
        DecodeError::MalformedConnectFlags { .. }
    ));
    let v5 = [
        0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x42, 0, 60, 0, 0, 0, 0, 1, b'p',
    ];
    let mut buf = BytesMut::from(&v5[..]);
    let Some(Packet::Connect(connect)) = decode(&mut buf, V5, MAX_PACKET_SIZE).unwrap() else {
        panic!("not a connect");
    };
    assert_eq!(connect.password.as_deref(), Some(&b"p"[..]));
    assert_eq!(connect.username, None);
}

#[test]
fn will_flags_without_a_will_are_malformed() {
    // Will retain (0x20) without the will flag.
    let bytes = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x22, 0, 60, 0, 0];
    assert!(matches!(
        error(&bytes, V3),
        DecodeError::MalformedConnectFlags { .. }
    ));
}

#[test]
fn wildcard_will_topic_is_topic_name_invalid() {
    let bytes = packet(
        0x10,
        &[
            0, 4, b'M', b'Q', b'T', b'T', 4, 0x06, 0, 60, 0, 0, 0, 1, b'#', 0, 0,
        ],
    );
    assert!(matches!(
        error(&bytes, V3),
        DecodeError::TopicNameInvalid { .. }
    ));
}

#[test]
fn unknown_reason_code_is_malformed() {
    assert!(matches!(
        error(&[0x40, 3, 0, 1, 0x03], V5),
        DecodeError::InvalidReasonCode { code: 0x03, .. }
    ));
}
