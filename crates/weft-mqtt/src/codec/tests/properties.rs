//! Property tests: arbitrary bytes never panic the decoder, truncated packets always
//! "need more bytes", and generated packets survive encode → decode.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::codec::*;

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn topic() -> impl Strategy<Value = String> {
    "[a-z$]{1,5}(/[a-z0-9]{1,5}){0,3}"
}

fn user_properties() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-zA-Z-]{0,6}", "\\PC{0,6}"), 0..3)
}

prop_compose! {
    fn publish()(
        qos in qos(),
        dup in any::<bool>(),
        retain in any::<bool>(),
        topic in topic(),
        packet_id in 1u16..,
        payload in prop::collection::vec(any::<u8>(), 0..64),
        content_type in prop::option::of("[a-z/+]{1,12}"),
        expiry in prop::option::of(any::<u32>()),
        subscription_identifiers in prop::collection::vec(1u32..=268_435_455, 0..3),
        user_properties in user_properties(),
    ) -> Publish {
        let mut publish = Publish::new(topic, Bytes::from(payload));
        publish.qos = qos;
        publish.dup = dup && qos != QoS::AtMostOnce;
        publish.retain = retain;
        publish.packet_id = (qos != QoS::AtMostOnce).then_some(packet_id);
        publish.properties.content_type = content_type;
        publish.properties.message_expiry_interval = expiry;
        publish.properties.subscription_identifiers = subscription_identifiers;
        publish.properties.user_properties = user_properties;
        publish
    }
}

fn without_properties(mut packet: Publish) -> Publish {
    packet.properties = Properties::default();
    packet
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        version in version(),
        max in 1usize..512,
    ) {
        let mut buf = BytesMut::from(&bytes[..]);
        // Decode until an error or "need more bytes"; every call must return, and every
        // packet accepted must re-encode to bytes that decode to the same packet (the
        // invariant of the fuzz target, checked here on stable).
        while let Ok(Some(packet)) = decode(&mut buf, version, max) {
            let version = match &packet {
                Packet::Connect(connect) => connect.version,
                _ => version,
            };
            let mut encoded = BytesMut::new();
            encode(&packet, version, &mut encoded);
            prop_assert_eq!(packet.encoded_len(version), encoded.len());
            prop_assert_eq!(decode(&mut encoded, version, usize::MAX), Ok(Some(packet)));
        }
    }

    #[test]
    fn decoding_packets_with_a_random_first_byte_never_panics(
        first in any::<u8>(),
        body in prop::collection::vec(any::<u8>(), 0..100),
        version in version(),
    ) {
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend_from_slice(&body);
        let mut buf = BytesMut::from(&bytes[..]);
        if let Ok(Some(packet)) = decode(&mut buf, version, MAX_PACKET_SIZE) {
            let version = match &packet {
                Packet::Connect(connect) => connect.version,
                _ => version,
            };
            let mut encoded = BytesMut::new();
            encode(&packet, version, &mut encoded);
            prop_assert_eq!(decode(&mut encoded, version, usize::MAX), Ok(Some(packet)));
        }
    }

    #[test]
    fn truncated_packets_need_more_bytes(publish in publish(), version in version(), cut in any::<prop::sample::Index>()) {
        let mut out = BytesMut::new();
        encode(&Packet::Publish(publish), version, &mut out);
        let cut = cut.index(out.len());
        let mut buf = BytesMut::from(&out[..cut]);
        prop_assert_eq!(decode(&mut buf, version, MAX_PACKET_SIZE), Ok(None));
        prop_assert_eq!(buf.len(), cut);
    }

    #[test]
    fn publish_round_trips(publish in publish(), version in version()) {
        let mut out = BytesMut::new();
        let packet = Packet::Publish(publish.clone());
        encode(&packet, version, &mut out);
        prop_assert_eq!(packet.encoded_len(version), out.len());
        let decoded = decode(&mut out, version, MAX_PACKET_SIZE).unwrap().unwrap();
        let expected = match version {
            ProtocolVersion::V5 => publish,
            ProtocolVersion::V311 => without_properties(publish),
        };
        prop_assert_eq!(decoded, Packet::Publish(expected));
    }

    #[test]
    fn subscribe_round_trips(
        packet_id in 1u16..,
        filters in prop::collection::vec((topic(), qos(), any::<bool>(), any::<bool>(), 0u8..3), 1..4),
    ) {
        let filters: Vec<_> = filters
            .into_iter()
            .map(|(filter, qos, no_local, retain_as_published, handling)| {
                let retain_handling = match handling {
                    0 => RetainHandling::SendAtSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                };
                (filter, SubscriptionOptions { qos, no_local, retain_as_published, retain_handling })
            })
            .collect();
        let packet = Packet::Subscribe(Subscribe { packet_id, properties: Properties::default(), filters });
        let mut out = BytesMut::new();
        encode(&packet, ProtocolVersion::V5, &mut out);
        prop_assert_eq!(decode(&mut out, ProtocolVersion::V5, MAX_PACKET_SIZE), Ok(Some(packet)));
    }
}
