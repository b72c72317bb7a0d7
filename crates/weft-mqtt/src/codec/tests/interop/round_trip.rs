//! Random PUBLISH packets with random properties: what we encode, mqttbytes decodes to
//! the same values, and what mqttbytes encodes, we decode to the same values.

use bytes::Bytes;
use proptest::prelude::*;

use super::{ours_decode, ours_encode, theirs_decode, theirs_encode};
use crate::codec::*;

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

/// Printable text of any script, empty included (U+0000 is not allowed in MQTT strings).
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).unwrap()
}

/// `subscription_identifiers` bounds how many Subscription Identifiers a packet carries
/// (see `mqttbytes_decodes_our_publish_v5`).
fn properties(subscription_identifiers: usize) -> impl Strategy<Value = Properties> {
    (
        (
            prop::option::of(0u8..=1),
            prop::option::of(any::<u32>()),
            prop::option::of(text(40)),
            prop::option::of("[a-z/]{1,20}"),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        ),
        prop::collection::vec(1u32..=268_435_455, 0..=subscription_identifiers),
        prop::option::of(1u16..),
        // Few names so that they repeat; order must survive.
        prop::collection::vec(("[abc]{0,2}", text(40)), 0..5),
    )
        .prop_map(
            |(
                (payload_format, expiry, content_type, response_topic, correlation),
                subscription_identifiers,
                topic_alias,
                user_properties,
            )| Properties {
                payload_format_indicator: payload_format,
                message_expiry_interval: expiry,
                content_type,
                response_topic,
                correlation_data: correlation.map(Bytes::from),
                subscription_identifiers,
                topic_alias,
                user_properties,
                ..Properties::default()
            },
        )
}

prop_compose! {
    fn publish(subscription_identifiers: usize)(
        qos in qos(),
        dup in any::<bool>(),
        retain in any::<bool>(),
        topic in "[a-zé$]{1,6}(/[a-z0-9 ]{0,6}){0,3}",
        packet_id in 1u16..,
        properties in properties(subscription_identifiers),
        payload in prop::collection::vec(any::<u8>(), 0..200),
    ) -> Publish {
        let mut publish = Publish::new(topic, Bytes::from(payload));
        publish.qos = qos;
        publish.dup = dup && qos != QoS::AtMostOnce;
        publish.retain = retain;
        publish.packet_id = (qos != QoS::AtMostOnce).then_some(packet_id);
        publish.properties = properties;
        publish
    }
}

proptest! {
    /// One Subscription Identifier at most: mqttbytes 0.6 counts each one a byte too
    /// long when it reads them, which the test `several_subscription_identifiers` in
    /// `publish` pins down; one is harmless because every property is longer than a byte.
    #[test]
    fn mqttbytes_decodes_our_publish_v5(publish in publish(1)) {
        let packet = Packet::Publish(publish);
        let bytes = ours_encode(&packet, ProtocolVersion::V5);
        prop_assert_eq!(theirs_decode(&bytes, ProtocolVersion::V5), Ok(packet));
    }

    #[test]
    fn we_decode_mqttbytes_publish_v5(publish in publish(3)) {
        let packet = Packet::Publish(publish);
        let bytes = theirs_encode(&packet, ProtocolVersion::V5);
        prop_assert_eq!(ours_decode(&bytes, ProtocolVersion::V5), packet);
    }

    #[test]
    fn publish_v3_agrees_both_ways(mut publish in publish(0)) {
        publish.properties = Properties::default();
        let packet = Packet::Publish(publish);
        let ours = ours_encode(&packet, ProtocolVersion::V311);
        prop_assert_eq!(theirs_decode(&ours, ProtocolVersion::V311), Ok(packet.clone()));
        let theirs = theirs_encode(&packet, ProtocolVersion::V311);
        prop_assert_eq!(&theirs, &ours);
        prop_assert_eq!(ours_decode(&theirs, ProtocolVersion::V311), packet);
    }
}
