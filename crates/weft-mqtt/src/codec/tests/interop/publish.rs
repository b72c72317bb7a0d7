//! PUBLISH (MQTT 5.0 section 3.3, 3.1.1 section 3.3) and PUBACK, PUBREC, PUBREL,
//! PUBCOMP (5.0 sections 3.4 to 3.7, 3.1.1 sections 3.4 to 3.7).

use bytes::Bytes;

use super::{
    V3, V5, check, check_ours, ours_decode, ours_encode, pairs, s, theirs_decode, theirs_encode,
};
use crate::codec::*;

fn publish(topic: &str, qos: QoS, packet_id: Option<u16>, payload: &'static [u8]) -> Publish {
    let mut publish = Publish::new(topic, Bytes::from_static(payload));
    publish.qos = qos;
    publish.packet_id = packet_id;
    publish
}

#[test]
fn publish_v5_with_every_publish_property() {
    // 5.0 section 3.3.2.3. Subscription identifiers of one, two and four bytes (the
    // largest, 268,435,455); user properties keep their order, repeated names and an
    // empty value. mqttbytes over-counts the three identifiers by three bytes (see
    // `publish_v5_several_subscription_identifiers`), harmlessly here: it has already
    // started the last user property, seven bytes long, when its count runs out.
    let bytes = [
        0x3A, 77, // PUBLISH, dup, qos 1
        0, 3, b'a', b'/', b'b', // topic name
        0x12, 0x34, // packet identifier
        67,   // property length
        0x01, 0, // payload format indicator: unspecified bytes
        0x02, 0, 0, 0x01, 0x2C, // message expiry interval 300
        0x03, 0, 10, b't', b'e', b'x', b't', b'/', b'p', b'l', b'a', b'i', b'n', // content
        0x08, 0, 5, b'r', b'e', b'p', b'l', b'y', // response topic
        0x09, 0, 3, 1, 2, 3, // correlation data
        0x0B, 1, // subscription identifier 1
        0x0B, 0x80, 0x01, // subscription identifier 128
        0x0B, 0xFF, 0xFF, 0xFF, 0x7F, // subscription identifier 268,435,455
        0x23, 0, 5, // topic alias 5
        0x26, 0, 1, b'k', 0, 1, b'1', // user property k=1
        0x26, 0, 1, b'j', 0, 0, // user property j="" (zero-length value)
        0x26, 0, 1, b'k', 0, 1, b'2', // user property k=2
        b'h', b'i', // payload
    ];
    let mut packet = publish("a/b", QoS::AtLeastOnce, Some(0x1234), b"hi");
    packet.dup = true;
    packet.properties = Properties {
        payload_format_indicator: Some(0),
        message_expiry_interval: Some(300),
        content_type: Some(s("text/plain")),
        response_topic: Some(s("reply")),
        correlation_data: Some(Bytes::from_static(&[1, 2, 3])),
        subscription_identifiers: vec![1, 128, 268_435_455],
        topic_alias: Some(5),
        user_properties: pairs(&[("k", "1"), ("j", ""), ("k", "2")]),
        ..Properties::default()
    };
    check(&bytes, V5, Packet::Publish(packet));
}

#[test]
fn publish_v5_several_subscription_identifiers() {
    // Section 3.3.2.3.8: each Subscription Identifier is the identifier byte 0x0B and a
    // variable byte integer, two bytes each here, so the property length is 6 and the
    // payload is empty. Checked by hand: mqttbytes 0.6 adds the identifier byte to its
    // count twice per Subscription Identifier (`cursor += 1 + id_len` after `cursor += 1`),
    // stops reading properties early and hands the last one to the payload.
    let bytes = [
        0x30, 10, 0, 1, b'a', // PUBLISH, topic name
        6,    // property length
        0x0B, 1, 0x0B, 2, 0x0B, 3, // subscription identifiers 1, 2, 3
    ];
    let mut packet = publish("a", QoS::AtMostOnce, None, b"");
    packet.properties.subscription_identifiers = vec![1, 2, 3];
    let packet = Packet::Publish(packet);
    check_ours(&bytes, V5, &packet);
    assert_eq!(ours_decode(&theirs_encode(&packet, V5), V5), packet);
    let Ok(Packet::Publish(theirs)) = theirs_decode(&bytes, V5) else {
        panic!("mqttbytes refuses the packet");
    };
    assert_eq!(theirs.properties.subscription_identifiers, [1, 2]);
    assert_eq!(theirs.payload, [0x0B, 3][..]);
}

#[test]
fn publish_v5_will_message_keeps_its_payload_intact() {
    // The shape of a Will Message forwarded to a subscriber: the property block ends with
    // a user property whose last byte is "Z". A property length one short would hand
    // that "Z" to the payload ("Zbye"), the symptom a strict client reported.
    let bytes = [
        0x32, 42, // PUBLISH, qos 1
        0, 3, b'w', b'/', b't', // topic name
        0, 1,  // packet identifier
        31, // property length
        0x01, 1, // payload format indicator: utf-8
        0x26, 0, 4, b't', b'i', b'm', b'e', 0, 20, // user property time=
        b'2', b'0', b'2', b'6', b'-', b'1', b'2', b'-', b'0', b'7', b'T', b'2', b'1', b':', b'4',
        b'8', b':', b'2', b'7', b'Z', //
        b'b', b'y', b'e', // payload
    ];
    let mut packet = publish("w/t", QoS::AtLeastOnce, Some(1), b"bye");
    packet.properties.payload_format_indicator = Some(1);
    packet.properties.user_properties = pairs(&[("time", "2026-12-07T21:48:27Z")]);
    check(&bytes, V5, Packet::Publish(packet));
}

#[test]
fn publish_v5_with_a_two_byte_property_length() {
    // Section 2.2.2.1: the property length is a variable byte integer; 129 takes two
    // bytes (0x81 0x01), and so does the remaining length 137 (0x89 0x01).
    let mut bytes = vec![
        0x35, 0x89, 0x01, // PUBLISH, qos 2, retain, remaining length 137
        0, 1, b't', // topic name
        0, 1, // packet identifier
        0x81, 0x01, // property length 129
        0x26, 0, 1, b'k', 0, 123, // user property k=, value of 123 bytes
    ];
    bytes.extend([b'x'; 123]);
    bytes.push(b'p'); // payload
    let mut packet = publish("t", QoS::ExactlyOnce, Some(1), b"p");
    packet.retain = true;
    packet.properties.user_properties = vec![(s("k"), "x".repeat(123))];
    check(&bytes, V5, Packet::Publish(packet));
}

#[test]
fn publish_v5_property_lengths_around_the_one_byte_boundary() {
    // Property lengths 120 to 135 straddle 127, where the length grows a byte: both
    // codecs must agree on where the payload starts.
    for value_len in 114..130 {
        let mut packet = publish("t", QoS::AtMostOnce, None, b"payload");
        packet.properties.user_properties = vec![(s("k"), "Z".repeat(value_len))];
        let packet = Packet::Publish(packet);
        let ours = ours_encode(&packet, V5);
        assert_eq!(
            theirs_decode(&ours, V5),
            Ok(packet.clone()),
            "value of {value_len}"
        );
        assert_eq!(ours_decode(&theirs_encode(&packet, V5), V5), packet);
    }
}

#[test]
fn publish_v5_strings_and_binary_over_64_kib_are_cut_and_counted_as_cut() {
    // Section 1.5.4 and 1.5.6: a string or binary field holds at most 65,535 bytes. The
    // encoder cuts longer ones (the session maps event attributes of any length to
    // properties); the lengths must count what is written, or the declared remaining
    // length runs past the packet and swallows the start of the next one. A string is
    // cut on a character boundary so that it stays UTF-8: 32,768 "é" (65,536 bytes)
    // become 32,767 (65,534 bytes).
    let mut packet = publish("t", QoS::AtMostOnce, None, b"bye");
    packet.properties.user_properties = vec![(s("k"), "é".repeat(32_768))];
    packet.properties.correlation_data = Some(Bytes::from(vec![7; 70_000]));
    let packet = Packet::Publish(packet);
    let bytes = ours_encode(&packet, V5);
    assert_eq!(packet.encoded_len(V5), bytes.len());
    // The topic, the property length (3 bytes for 131,078), the correlation data, the
    // user property, the payload.
    let remaining = 3 + 3 + (3 + 65_535) + (1 + 3 + 2 + 65_534) + 3;
    assert_eq!(remaining, 131_087);
    assert_eq!(bytes[..4], [0x30, 0x8F, 0x80, 0x08]); // 131,087 = 15 + 0 * 128 + 8 * 16,384
    assert_eq!(bytes.len(), 4 + remaining);
    let mut cut = Publish::new("t", Bytes::from_static(b"bye"));
    cut.properties.user_properties = vec![(s("k"), "é".repeat(32_767))];
    cut.properties.correlation_data = Some(Bytes::from(vec![7; 65_535]));
    let cut = Packet::Publish(cut);
    assert_eq!(ours_decode(&bytes, V5), cut);
    assert_eq!(theirs_decode(&bytes, V5), Ok(cut));
}

#[test]
fn publish_v5_qos0_without_properties_or_payload() {
    // Section 3.3.2.3.1: no properties still means a property length byte of 0.
    check(
        &[0x30, 4, 0, 1, b't', 0],
        V5,
        Packet::Publish(publish("t", QoS::AtMostOnce, None, b"")),
    );
}

#[test]
fn publish_v5_empty_topic_with_topic_alias() {
    // Section 3.3.2.3.4: a zero-length topic name when a Topic Alias stands in for it.
    let mut packet = publish("", QoS::AtMostOnce, None, b"");
    packet.properties.topic_alias = Some(3);
    check(&[0x30, 6, 0, 0, 3, 0x23, 0, 3], V5, Packet::Publish(packet));
}

#[test]
fn publish_v3_every_qos_with_retain_and_dup() {
    // 3.1.1 section 3.3.1: DUP bit 3, QoS bits 2-1, RETAIN bit 0; no properties.
    check(
        &[0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i'],
        V3,
        Packet::Publish(publish("a/b", QoS::AtMostOnce, None, b"hi")),
    );
    let mut packet = publish("a/b", QoS::AtLeastOnce, Some(10), b"hi");
    packet.dup = true;
    packet.retain = true;
    check(
        &[0x3B, 9, 0, 3, b'a', b'/', b'b', 0, 10, b'h', b'i'],
        V3,
        Packet::Publish(packet),
    );
    check(
        &[0x34, 9, 0, 3, b'a', b'/', b'b', 0, 11, b'h', b'i'],
        V3,
        Packet::Publish(publish("a/b", QoS::ExactlyOnce, Some(11), b"hi")),
    );
}

/// Wraps a [`PubResponse`] as one of the four acknowledgement packets.
type Acknowledgement = fn(PubResponse) -> Packet;

/// The four acknowledgements of the publish flows, with the first byte of each.
fn acknowledgements() -> [(u8, Acknowledgement); 4] {
    [
        (0x40, Packet::PubAck),
        (0x50, Packet::PubRec),
        (0x62, Packet::PubRel), // fixed flags 0b0010 (section 3.6.1)
        (0x70, Packet::PubComp),
    ]
}

#[test]
fn publish_acknowledgements_v3() {
    // 3.1.1 sections 3.4 to 3.7: the packet identifier alone.
    for (first, packet) in acknowledgements() {
        check(&[first, 2, 0, 10], V3, packet(PubResponse::new(10)));
    }
}

#[test]
fn publish_acknowledgements_v5_short_form() {
    // 5.0 section 3.4.2.1: Success without properties leaves out the reason code and the
    // property length.
    for (first, packet) in acknowledgements() {
        check(&[first, 2, 0, 7], V5, packet(PubResponse::new(7)));
    }
}

#[test]
fn publish_acknowledgements_v5_with_reason_code_only() {
    // 5.0 section 3.4.2.2.1: a remaining length under 4 means no property length.
    // PUBACK and PUBREC may say 0x10; PUBREL and PUBCOMP only have 0x92 as an error.
    for (first, packet) in acknowledgements() {
        let code = if first < 0x60 {
            ReasonCode::NoMatchingSubscribers
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        check(
            &[first, 3, 0, 7, code.as_u8()],
            V5,
            packet(PubResponse::with_code(7, code)),
        );
    }
}

#[test]
fn publish_acknowledgements_v5_with_reason_string_and_user_properties() {
    for (first, packet) in acknowledgements() {
        let code = if first < 0x60 {
            ReasonCode::UnspecifiedError
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        let bytes = [
            first,
            23,
            0,
            7,            // packet identifier
            code.as_u8(), // reason code
            19,           // property length
            0x1F,
            0,
            2,
            b'n',
            b'o', // reason string
            0x26,
            0,
            1,
            b'k',
            0,
            1,
            b'v', // user property k=v
            0x26,
            0,
            1,
            b'k',
            0,
            1,
            b'w', // user property k=w
        ];
        let mut response = PubResponse::with_code(7, code);
        response.properties.reason_string = Some(s("no"));
        response.properties.user_properties = pairs(&[("k", "v"), ("k", "w")]);
        check(&bytes, V5, packet(response));
    }
}

#[test]
fn publish_acknowledgements_v5_success_with_properties_writes_the_reason_code() {
    // The reason code can only be left out when the properties are too.
    for (first, packet) in acknowledgements() {
        let bytes = [
            first, 11, 0, 7, 0x00, // Success
            7,    // property length
            0x26, 0, 1, b'k', 0, 1, b'v',
        ];
        let mut response = PubResponse::new(7);
        response.properties.user_properties = pairs(&[("k", "v")]);
        check(&bytes, V5, packet(response));
    }
}

#[test]
fn publish_acknowledgement_v5_with_an_explicit_empty_property_block_decodes() {
    // Decode only: we encode the same packet in the short form.
    let bytes = [0x40, 4, 0, 7, 0x00, 0];
    let expected = Packet::PubAck(PubResponse::new(7));
    assert_eq!(ours_decode(&bytes, V5), expected);
    assert_eq!(theirs_decode(&bytes, V5), Ok(expected));
}
