//! MQTT codec and session hot paths: decoding and encoding a PUBLISH, and one QoS 1
//! delivery through a session (match, packet id, encode-ready packet).

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failure should panic

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use weft_mqtt::codec::{self, Connect, Packet, Properties, ProtocolVersion, Publish, QoS};
use weft_mqtt::session::{Delivery, DeliveryTarget, Message, Output, Session, SessionConfig};

fn publish() -> Publish {
    let mut publish = Publish::new("sensors/eu/de/berlin/temp", Bytes::from(vec![7u8; 256]));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = Some(42);
    publish.properties.content_type = Some("application/json".to_owned());
    publish.properties.user_properties = vec![("site".to_owned(), "b7".to_owned())];
    publish
}

fn codec_benches(c: &mut Criterion) {
    let version = ProtocolVersion::V5;
    let packet = Packet::Publish(publish());
    let mut wire = BytesMut::new();
    codec::encode(&packet, version, &mut wire);
    let wire = wire.freeze();
    c.bench_function("mqtt_decode_publish_v5_256b", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&wire[..]);
            codec::decode(&mut buf, version, codec::MAX_PACKET_SIZE)
                .unwrap()
                .unwrap()
        });
    });
    let mut out = BytesMut::with_capacity(1024);
    c.bench_function("mqtt_encode_publish_v5_256b", |b| {
        b.iter(|| {
            out.clear();
            codec::encode(&packet, version, &mut out);
        });
    });
}

fn session_benches(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut session = Session::new(SessionConfig::default(), now);
    let connect = Connect {
        version: ProtocolVersion::V5,
        clean_start: true,
        keep_alive: 60,
        properties: Properties::default(),
        client_id: "bench".to_owned(),
        will: None,
        username: None,
        password: None,
    };
    session.handle_packet(now, Packet::Connect(Box::new(connect)));
    while session.poll_output().is_some() {}
    session.accept(now, None);
    let subscribe = codec::Subscribe {
        packet_id: 1,
        properties: Properties::default(),
        filters: vec![(
            "sensors/+/de/#".to_owned(),
            codec::SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    };
    session.handle_packet(now, Packet::Subscribe(subscribe));
    while session.poll_output().is_some() {}
    let mut message = Message::new(
        weft_core::Topic::new("sensors/eu/de/berlin/temp").unwrap(),
        Bytes::from(vec![7u8; 256]),
    );
    message.qos = QoS::AtLeastOnce;
    c.bench_function("mqtt_session_qos1_delivery_and_ack", |b| {
        b.iter(|| {
            let at: SystemTime = now;
            session.handle_delivery(
                at,
                Delivery {
                    message: message.clone(),
                    publisher: None,
                    target: DeliveryTarget::Matching,
                },
            );
            let mut packet_id = None;
            while let Some(output) = session.poll_output() {
                if let Output::Send(Packet::Publish(publish)) = output {
                    packet_id = publish.packet_id;
                }
            }
            let ack = codec::PubResponse::new(packet_id.unwrap());
            session.handle_packet(at, Packet::PubAck(ack));
            while session.poll_output().is_some() {}
        });
    });
}

criterion_group!(benches, codec_benches, session_benches);
criterion_main!(benches);
