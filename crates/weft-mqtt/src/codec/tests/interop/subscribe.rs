//! SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (MQTT 5.0 sections 3.8 to 3.11, 3.1.1
//! sections 3.8 to 3.11).

use super::{V3, V5, check, pairs, s};
use crate::codec::*;

#[test]
fn subscribe_v5_with_every_option_identifier_and_several_filters() {
    // 5.0 section 3.8.2.1 (properties) and 3.8.3.1 (subscription options: QoS bits 1-0,
    // No Local bit 2, Retain As Published bit 3, Retain Handling bits 5-4).
    let bytes = [
        0x82, 38, // SUBSCRIBE (fixed flags 0b0010)
        0x01, 0x02, // packet identifier 258
        10,   // property length
        0x0B, 0xC8, 0x01, // subscription identifier 200 (two bytes)
        0x26, 0, 1, b'k', 0, 1, b'v', // user property
        0, 3, b'a', b'/', b'+', // filter
        0x2D, // retain handling 2, retain as published, no local, qos 1
        0, 12, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'b', b'/', b'#', //
        0x12, // retain handling 1, qos 2
        0, 1, b'c', // filter
        0x00, // every option at its default, qos 0
    ];
    let options = |qos, no_local, retain_as_published, retain_handling| SubscriptionOptions {
        qos,
        no_local,
        retain_as_published,
        retain_handling,
    };
    let subscribe = Subscribe {
        packet_id: 258,
        properties: Properties {
            subscription_identifiers: vec![200],
            user_properties: pairs(&[("k", "v")]),
            ..Properties::default()
        },
        filters: vec![
            (
                s("a/+"),
                options(QoS::AtLeastOnce, true, true, RetainHandling::DoNotSend),
            ),
            (
                s("$share/g/b/#"),
                options(QoS::ExactlyOnce, false, false, RetainHandling::SendIfNew),
            ),
            (s("c"), SubscriptionOptions::new(QoS::AtMostOnce)),
        ],
    };
    check(&bytes, V5, Packet::Subscribe(subscribe));
}

#[test]
fn subscribe_v5_without_properties() {
    let subscribe = Subscribe {
        packet_id: 1,
        properties: Properties::default(),
        filters: vec![(s("t"), SubscriptionOptions::new(QoS::AtLeastOnce))],
    };
    check(
        &[0x82, 7, 0, 1, 0, 0, 1, b't', 0x01],
        V5,
        Packet::Subscribe(subscribe),
    );
}

#[test]
fn subscribe_v3_with_several_filters() {
    // 3.1.1 section 3.8.3: the options byte holds the requested QoS only.
    let bytes = [
        0x82, 12, 0, 1, // packet identifier
        0, 3, b'a', b'/', b'#', 0x01, // filter, qos 1
        0, 1, b'b', 0x02, // filter, qos 2
    ];
    let subscribe = Subscribe {
        packet_id: 1,
        properties: Properties::default(),
        filters: vec![
            (s("a/#"), SubscriptionOptions::new(QoS::AtLeastOnce)),
            (s("b"), SubscriptionOptions::new(QoS::ExactlyOnce)),
        ],
    };
    check(&bytes, V3, Packet::Subscribe(subscribe));
}

#[test]
fn suback_v5_with_properties_and_every_reason_code() {
    // 5.0 section 3.9.3, table 3-8: every Subscribe Reason Code.
    let bytes = [
        0x90, 32, 0x01, 0x02, // SUBACK, packet identifier 258
        17,   // property length
        0x1F, 0, 7, b'p', b'a', b'r', b't', b'i', b'a', b'l', // reason string
        0x26, 0, 1, b'k', 0, 1, b'v', // user property
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    let codes = [
        0x00u8, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ]
    .map(|code| ReasonCode::from_u8(code).unwrap());
    let suback = SubAck {
        packet_id: 258,
        properties: Properties {
            reason_string: Some(s("partial")),
            user_properties: pairs(&[("k", "v")]),
            ..Properties::default()
        },
        codes: codes.to_vec(),
    };
    check(&bytes, V5, Packet::SubAck(suback));
}

#[test]
fn suback_v5_without_properties() {
    let suback = SubAck {
        packet_id: 2,
        properties: Properties::default(),
        codes: vec![ReasonCode::GrantedQos1, ReasonCode::NotAuthorized],
    };
    check(&[0x90, 5, 0, 2, 0, 0x01, 0x87], V5, Packet::SubAck(suback));
}

#[test]
fn suback_v3_every_return_code() {
    // 3.1.1 section 3.9.3: 0x00, 0x01, 0x02 and 0x80 Failure.
    let suback = SubAck {
        packet_id: 1,
        properties: Properties::default(),
        codes: vec![
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::UnspecifiedError,
        ],
    };
    check(&[0x90, 6, 0, 1, 0, 1, 2, 0x80], V3, Packet::SubAck(suback));
}

#[test]
fn unsubscribe_v5_with_user_property_and_several_filters() {
    // 5.0 section 3.10.2.1: User Property is the only UNSUBSCRIBE property.
    let bytes = [
        0xA2, 27, 0, 3, // UNSUBSCRIBE (fixed flags 0b0010), packet identifier
        7, // property length
        0x26, 0, 1, b'k', 0, 1, b'v', // user property
        0, 3, b'a', b'/', b'+', // filter
        0, 10, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'b', // filter
    ];
    let unsubscribe = Unsubscribe {
        packet_id: 3,
        properties: Properties {
            user_properties: pairs(&[("k", "v")]),
            ..Properties::default()
        },
        filters: vec![s("a/+"), s("$share/g/b")],
    };
    check(&bytes, V5, Packet::Unsubscribe(unsubscribe));
}

#[test]
fn unsubscribe_v3_with_several_filters() {
    let unsubscribe = Unsubscribe {
        packet_id: 1,
        properties: Properties::default(),
        filters: vec![s("a/#"), s("b")],
    };
    check(
        &[0xA2, 10, 0, 1, 0, 3, b'a', b'/', b'#', 0, 1, b'b'],
        V3,
        Packet::Unsubscribe(unsubscribe),
    );
}

#[test]
fn unsuback_v5_with_properties_and_every_reason_code() {
    // 5.0 section 3.11.3, table 3-9: every Unsubscribe Reason Code.
    let bytes = [
        0xB0, 21, 0, 3,  // UNSUBACK, packet identifier
        11, // property length
        0x1F, 0, 1, b'x', // reason string
        0x26, 0, 1, b'k', 0, 1, b'v', // user property
        0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91,
    ];
    let codes =
        [0x00u8, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91].map(|code| ReasonCode::from_u8(code).unwrap());
    let unsuback = UnsubAck {
        packet_id: 3,
        properties: Properties {
            reason_string: Some(s("x")),
            user_properties: pairs(&[("k", "v")]),
            ..Properties::default()
        },
        codes: codes.to_vec(),
    };
    check(&bytes, V5, Packet::UnsubAck(unsuback));
}

#[test]
fn unsuback_v5_without_properties() {
    let unsuback = UnsubAck {
        packet_id: 3,
        properties: Properties::default(),
        codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
    };
    check(
        &[0xB0, 5, 0, 3, 0, 0x00, 0x11],
        V5,
        Packet::UnsubAck(unsuback),
    );
}

#[test]
fn unsuback_v3_is_the_packet_identifier_alone() {
    let unsuback = UnsubAck {
        packet_id: 1,
        properties: Properties::default(),
        codes: Vec::new(),
    };
    check(&[0xB0, 2, 0, 1], V3, Packet::UnsubAck(unsuback));
}
