//! Writes the seed corpus under `corpus/<target>/` from the crates' own encoders (valid
//! inputs the mutations start from). Run by hand when a format changes:
//!
//! ```text
//! cargo test -p weft-fuzz --test generate_corpus -- --ignored
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::path::Path;

use bytes::{Bytes, BytesMut};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn mqtt_packets() -> Vec<(
    &'static str,
    weft_mqtt::codec::ProtocolVersion,
    weft_mqtt::codec::Packet,
)> {
    use weft_mqtt::codec::*;
    let v5 = ProtocolVersion::V5;
    let v3 = ProtocolVersion::V311;
    let properties = Properties {
        session_expiry_interval: Some(60),
        receive_maximum: Some(10),
        user_properties: vec![("a".into(), "2".into())],
        ..Properties::default()
    };
    let connect = |version| Connect {
        version,
        clean_start: true,
        keep_alive: 30,
        properties: if version == v5 {
            properties.clone()
        } else {
            Properties::default()
        },
        client_id: "fuzz".to_owned(),
        will: Some(LastWill {
            topic: "/wills/fuzz".to_owned(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::default(),
        }),
        username: Some("user".to_owned()),
        password: Some(Bytes::from_static(b"secret")),
    };
    let mut publish = Publish::new("sensors/1/temp", Bytes::from_static(b"21.5"));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = Some(1);
    let mut publish_props = publish.clone();
    publish_props.properties.content_type = Some("text/plain".to_owned());
    publish_props.properties.user_properties =
        vec![("a".into(), "2".into()), ("c".into(), "3".into())];
    publish_props.properties.message_expiry_interval = Some(60);
    publish_props.properties.topic_alias = Some(1);
    let subscribe = Subscribe {
        packet_id: 2,
        properties: Properties::default(),
        filters: vec![
            (
                "sensors/+/temp".to_owned(),
                SubscriptionOptions::new(QoS::ExactlyOnce),
            ),
            (
                "$share/g/a/#".to_owned(),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
        ],
    };
    vec![
        ("connect_v5", v5, Packet::Connect(Box::new(connect(v5)))),
        ("connect_v3", v3, Packet::Connect(Box::new(connect(v3)))),
        ("publish_qos1_v5", v5, Packet::Publish(publish_props)),
        ("publish_qos1_v3", v3, Packet::Publish(publish)),
        ("subscribe_v5", v5, Packet::Subscribe(subscribe)),
        (
            "puback_v5",
            v5,
            Packet::PubAck(PubResponse::with_code(1, ReasonCode::QuotaExceeded)),
        ),
        ("pubrel_v5", v5, Packet::PubRel(PubResponse::new(3))),
        ("pingreq", v5, Packet::PingReq),
        (
            "disconnect_v5",
            v5,
            Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
        ),
    ]
}

fn encode(
    version: weft_mqtt::codec::ProtocolVersion,
    packet: &weft_mqtt::codec::Packet,
) -> Vec<u8> {
    let mut out = BytesMut::new();
    weft_mqtt::codec::encode(packet, version, &mut out);
    out.to_vec()
}

#[test]
#[ignore = "writes the corpus; run by hand"]
fn generate_corpus() {
    use weft_mqtt::codec::{Packet, ProtocolVersion, PubResponse, QoS};
    // MQTT packets, one per file.
    for (name, version, packet) in mqtt_packets() {
        write("mqtt_decode", name, &encode(version, &packet));
    }
    // MQTT sessions: a mode byte, then CONNECT, SUBSCRIBE, publishes of every QoS, a
    // PUBREL, a ping and a DISCONNECT, in each version.
    for (version, name) in [(ProtocolVersion::V5, "v5"), (ProtocolVersion::V311, "v3")] {
        let packets = mqtt_packets();
        let pick = |wanted: &str| {
            let (_, _, packet) = packets
                .iter()
                .find(|(name, packet_version, _)| {
                    name.starts_with(wanted) && *packet_version == version
                        || name.starts_with(wanted) && *name == "pingreq"
                })
                .or_else(|| packets.iter().find(|(name, _, _)| name.starts_with(wanted)))
                .unwrap();
            encode(version, packet)
        };
        let mut session = vec![0u8];
        session.extend(pick("connect"));
        session.extend(pick("subscribe"));
        session.extend(pick("publish"));
        let mut qos2 = weft_mqtt::codec::Publish::new("sensors/2/temp", Bytes::from_static(b"x"));
        qos2.qos = QoS::ExactlyOnce;
        qos2.packet_id = Some(3);
        session.extend(encode(version, &Packet::Publish(qos2)));
        session.extend(encode(version, &Packet::PubRel(PubResponse::new(3))));
        session.extend(encode(version, &Packet::PubAck(PubResponse::new(1))));
        session.extend(encode(version, &Packet::PingReq));
        write("mqtt_session", &format!("session_{name}"), &session);
        session[0] = 7;
        write(
            "mqtt_session",
            &format!("session_{name}_refused_lost"),
            &session,
        );
    }
    // Mesh frames and envelopes.
    {
        use weft_mesh::wire::*;
        use weft_mesh::{MeshName, NodeName};
        let node = |name: &str| NodeName::new(name).unwrap();
        let event = weft_core::Event::new(
            weft_core::CloudEvent::new(
                weft_core::Attributes::new("e-1", "/fuzz", "fuzz.type").unwrap(),
                Some(Bytes::from_static(b"{\"n\":1}")),
            ),
            weft_core::Topic::new("orders/eu").unwrap(),
            "a",
            std::time::UNIX_EPOCH,
        );
        let payload = weft_mesh::envelope::encode_event(&event);
        write("mesh_decode_envelope", "event", &payload);
        let mesh_event = MeshEvent {
            origin: node("a"),
            incarnation: 3,
            sequence: 9,
            topic: weft_core::Topic::new("orders/eu").unwrap(),
            hops: 1,
            durable: vec![DurableTag {
                node: node("b"),
                stream: 3,
                sequence: 1,
            }],
            groups: Vec::new(),
            payload,
        };
        let messages = [
            (
                "hello",
                Message::Hello(Hello {
                    mesh: MeshName::new("weft").unwrap(),
                    node: node("n1"),
                    incarnation: 7,
                    protocol_version: 1,
                    capabilities: Capabilities::ALL,
                }),
            ),
            ("heartbeat", Message::Heartbeat { nonce: 258 }),
            (
                "ack",
                Message::Ack(Ack {
                    origin: node("a"),
                    acker: node("b"),
                    stream: 1,
                    up_to_sequence: 2,
                }),
            ),
            (
                "events",
                Message::Events(Events {
                    route: Route::Tree,
                    events: vec![mesh_event.clone(), mesh_event],
                }),
            ),
        ];
        for (name, message) in messages {
            let mut out = BytesMut::new();
            encode_frame(&message, &mut out);
            write("mesh_decode_frame", name, &out);
        }
    }
    // Kafka requests: ApiVersions v0 and v3 (flexible), Metadata v1, without the length.
    write(
        "kafka_decode_request",
        "api_versions_v0",
        b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04fuzz",
    );
    write(
        "kafka_decode_request",
        "api_versions_v3",
        b"\x00\x12\x00\x03\x00\x00\x00\x02\x00\x04fuzz\x00\x05weft\x040.1\x00",
    );
    write(
        "kafka_decode_request",
        "metadata_v1",
        b"\x00\x03\x00\x01\x00\x00\x00\x03\x00\x04fuzz\x00\x00\x00\x01\x00\x06orders",
    );
    // CloudEvents SQL.
    for (name, text) in [
        ("compare", "type = 'order.created' AND data.total > 100"),
        ("functions", "UPPER(source) LIKE '%SHOP%' OR EXISTS subject"),
        (
            "in_list",
            "region IN ('eu', 'us') AND NOT (CAST(data.n AS INTEGER) < 0)",
        ),
    ] {
        write("cesql_parse", name, text.as_bytes());
    }
    // HTTP requests: header lines, an empty line, the body.
    write(
        "http_binding",
        "binary",
        b"ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\ncontent-type: application/json\nce-region: eu\n\n{\"n\":1}",
    );
    write(
        "http_binding",
        "structured",
        b"content-type: application/cloudevents+json\n\n{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":{\"n\":1}}",
    );
    write(
        "http_binding",
        "batch",
        b"content-type: application/cloudevents-batch+json\n\n[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}]",
    );
    write(
        "http_binding",
        "plain",
        b"content-type: text/plain\n\nhello",
    );
    // Flow manifests: the examples of docs/flows.md.
    let flows =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/flows.md"))
            .unwrap();
    let mut index = 0;
    for block in flows.split("```yaml").skip(1) {
        let Some(end) = block.find("```") else {
            continue;
        };
        index += 1;
        write(
            "flow_manifests",
            &format!("docs_{index:02}.yaml"),
            block[..end].trim_start().as_bytes(),
        );
    }
    assert!(index > 0);
}
