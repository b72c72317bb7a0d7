//! Random PUBLISH and CONNECT packets (wills included) with random properties: what we
//! encode, mqttbytes decodes to the same values, and what mqttbytes encodes, we decode
//! to the same values.

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
        user_properties(),
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
    /// long when it reads them (pinned down by `publish_v5_several_subscription_identifiers`);
    /// one extra byte is harmless, as no property is shorter than two bytes.
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

fn user_properties() -> impl Strategy<Value = Vec<(String, String)>> {
    // Few names so that they repeat; order must survive.
    prop::collection::vec(("[abc]{0,2}", text(40)), 0..5)
}

fn binary() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn connect_properties() -> impl Strategy<Value = Properties> {
    (
        prop::option::of(any::<u32>()),
        prop::option::of(1u16..),
        prop::option::of(1u32..),
        prop::option::of(any::<u16>()),
        prop::option::of(0u8..=1),
        prop::option::of(0u8..=1),
        user_properties(),
        prop::option::of((text(20), prop::option::of(binary()))),
    )
        .prop_map(
            |(session, receive, packet_size, aliases, response, problem, user, auth)| {
                let (authentication_method, authentication_data) = match auth {
                    Some((method, data)) => (Some(method), data),
                    None => (None, None),
                };
                Properties {
                    session_expiry_interval: session,
                    receive_maximum: receive,
                    maximum_packet_size: packet_size,
                    topic_alias_maximum: aliases,
                    request_response_information: response,
                    request_problem_information: problem,
                    user_properties: user,
                    authentication_method,
                    authentication_data,
                    ..Properties::default()
                }
            },
        )
}

fn will_properties() -> impl Strategy<Value = Properties> {
    (
        prop::option::of(any::<u32>()),
        prop::option::of(0u8..=1),
        prop::option::of(any::<u32>()),
        prop::option::of(text(40)),
        prop::option::of("[a-z/]{1,20}"),
        prop::option::of(binary()),
        user_properties(),
    )
        .prop_map(
            |(delay, format, expiry, content_type, response_topic, correlation, user)| Properties {
                will_delay_interval: delay,
                payload_format_indicator: format,
                message_expiry_interval: expiry,
                content_type,
                response_topic,
                correlation_data: correlation,
                user_properties: user,
                ..Properties::default()
            },
        )
}

prop_compose! {
    fn will()(
        topic in "[a-z]{1,6}(/[a-z0-9]{1,6}){0,2}",
        payload in binary(),
        qos in qos(),
        retain in any::<bool>(),
        properties in will_properties(),
    ) -> LastWill {
        LastWill { topic, payload, qos, retain, properties }
    }
}

prop_compose! {
    // User name and password are never empty here: mqttbytes reads "" as absent.
    fn connect()(
        clean_start in any::<bool>(),
        keep_alive in any::<u16>(),
        client_id in "[a-zA-Z0-9-]{0,23}",
        properties in connect_properties(),
        will in prop::option::of(will()),
        username in prop::option::of("[a-z]{1,8}"),
        password in prop::option::of("[a-z0-9]{1,8}"),
    ) -> Connect {
        Connect {
            version: ProtocolVersion::V5,
            clean_start,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password: password.map(Bytes::from),
        }
    }
}

proptest! {
    #[test]
    fn connect_v5_agrees_both_ways(connect in connect()) {
        let packet = Packet::Connect(Box::new(connect));
        let ours = ours_encode(&packet, ProtocolVersion::V5);
        prop_assert_eq!(theirs_decode(&ours, ProtocolVersion::V5), Ok(packet.clone()));
        let theirs = theirs_encode(&packet, ProtocolVersion::V5);
        prop_assert_eq!(ours_decode(&theirs, ProtocolVersion::V5), packet);
    }

    #[test]
    fn connect_v3_agrees_both_ways(mut connect in connect()) {
        // 3.1.1 has no properties, and no password without a user name.
        connect.version = ProtocolVersion::V311;
        connect.properties = Properties::default();
        if let Some(will) = &mut connect.will {
            will.properties = Properties::default();
        }
        if connect.password.is_some() && connect.username.is_none() {
            connect.username = Some("u".to_owned());
        }
        let packet = Packet::Connect(Box::new(connect));
        let ours = ours_encode(&packet, ProtocolVersion::V311);
        prop_assert_eq!(theirs_decode(&ours, ProtocolVersion::V311), Ok(packet.clone()));
        let theirs = theirs_encode(&packet, ProtocolVersion::V311);
        prop_assert_eq!(&theirs, &ours);
        prop_assert_eq!(ours_decode(&theirs, ProtocolVersion::V311), packet);
    }
}
