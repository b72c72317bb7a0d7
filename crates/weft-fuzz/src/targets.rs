//! The targets: every decoder that reads bytes from the network or from a user, and the
//! MQTT session state machine. Each ignores what it refuses and asserts what must hold
//! for what it accepts.

// A target reports a broken property by panicking: that is what `expect` is for here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::Target;

/// Every target, in the order the runner shares its time among them.
pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "mqtt_decode",
            run: mqtt_decode,
        },
        Target {
            name: "mqtt_session",
            run: mqtt_session,
        },
        Target {
            name: "kafka_decode_request",
            run: kafka_decode_request,
        },
        Target {
            name: "mesh_decode_frame",
            run: mesh_decode_frame,
        },
        Target {
            name: "mesh_decode_envelope",
            run: mesh_decode_envelope,
        },
        Target {
            name: "cesql_parse",
            run: cesql_parse,
        },
        Target {
            name: "http_binding",
            run: http_binding,
        },
        Target {
            name: "flow_manifests",
            run: flow_manifests,
        },
    ]
}

/// MQTT packets, both versions: whatever decodes re-encodes to its announced length and
/// decodes again to the same packet.
pub fn mqtt_decode(data: &[u8]) {
    use weft_mqtt::codec::{self, Packet, ProtocolVersion};
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut buf = BytesMut::from(data);
        while let Ok(Some(packet)) = codec::decode(&mut buf, version, 64 * 1024) {
            let version = match &packet {
                Packet::Connect(connect) => connect.version,
                _ => version,
            };
            let mut encoded = BytesMut::new();
            codec::encode(&packet, version, &mut encoded);
            assert_eq!(packet.encoded_len(version), encoded.len());
            let again = codec::decode(&mut encoded, version, usize::MAX);
            assert_eq!(again, Ok(Some(packet)));
        }
    }
}

/// The MQTT session driven by the packets in the input (after a first byte that picks
/// how the I/O layer answers), with the broker accepting every publish, time moving on,
/// and a delivery after every packet: nothing it sends fails to encode.
pub fn mqtt_session(data: &[u8]) {
    use weft_mqtt::codec::{self, Packet, QoS};
    use weft_mqtt::session::{
        Delivery, DeliveryTarget, Message, Output, PublishOutcome, Session, SessionConfig,
    };
    let Some((&mode, packets)) = data.split_first() else {
        return;
    };
    let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let config = SessionConfig {
        receive_maximum: 4,
        offline_queue_limit: 8,
        max_keep_alive: 5,
        ..SessionConfig::default()
    };
    let mut session = Session::new(config, now);
    let mut input = BytesMut::from(packets);
    let topic = weft_core::Topic::new("fuzz/t").expect("a valid topic");
    for step in 0..64 {
        let decoded = codec::decode(
            &mut input,
            session.version(),
            session.max_inbound_packet_size(),
        );
        match decoded {
            Ok(Some(packet)) => session.handle_packet(now, packet),
            Ok(None) => break,
            Err(error) => {
                session.handle_decode_error(now, &error);
                input.clear();
            }
        }
        let mut acks = Vec::new();
        while let Some(output) = session.poll_output() {
            match output {
                Output::Send(packet) => {
                    let mut encoded = BytesMut::new();
                    codec::encode(&packet, session.version(), &mut encoded);
                    if !matches!(packet, Packet::Connect(_)) {
                        assert_eq!(packet.encoded_len(session.version()), encoded.len());
                    }
                }
                Output::ConnectRequest(_) => {
                    if mode & 1 == 0 {
                        session.accept(now, None);
                    } else {
                        session.reject(now, codec::ReasonCode::NotAuthorized);
                    }
                }
                Output::Publish { ack: Some(id), .. } => acks.push(id),
                _ => {}
            }
        }
        for id in acks {
            let outcome = if mode & 2 == 0 {
                PublishOutcome::Accepted { matched: true }
            } else {
                PublishOutcome::Refused(codec::ReasonCode::QuotaExceeded)
            };
            session.publish_completed(now, id, outcome);
        }
        let mut message = Message::new(topic.clone(), Bytes::from_static(b"x"));
        message.qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][step % 3];
        session.handle_delivery(
            now,
            Delivery {
                message,
                publisher: None,
                target: DeliveryTarget::Matching,
            },
        );
        if mode & 4 != 0 && step == 8 {
            session.connection_lost(now);
        }
        now += Duration::from_millis(700);
        session.tick(now);
        // What was sent is written (the I/O layer's part).
        session.output_written();
        while session.poll_output().is_some() {}
    }
}

/// Kafka requests: whatever decodes re-encodes and decodes to the same request.
pub fn kafka_decode_request(data: &[u8]) {
    use weft_kafka::protocol::{decode_request, encode_request};
    let Ok((header, request)) = decode_request(Bytes::copy_from_slice(data)) else {
        return;
    };
    let encoded = encode_request(&header, &request);
    let (again_header, again) =
        decode_request(encoded.slice(4..)).expect("a re-encoded request decodes");
    assert_eq!(again_header, header);
    assert_eq!(again, request);
}

/// Mesh link frames: whatever decodes re-encodes and decodes to the same message.
pub fn mesh_decode_frame(data: &[u8]) {
    use weft_mesh::wire::{decode_frame, encode_frame};
    let mut buffer = BytesMut::from(data);
    while let Ok(Some(message)) = decode_frame(&mut buffer, 1 << 20) {
        let mut encoded = BytesMut::new();
        encode_frame(&message, &mut encoded);
        let again = decode_frame(&mut encoded, 1 << 20);
        assert_eq!(again, Ok(Some(message)));
    }
}

/// Mesh event envelopes: whatever decodes re-encodes to the same event.
pub fn mesh_decode_envelope(data: &[u8]) {
    use weft_mesh::NodeName;
    use weft_mesh::envelope::{decode_event, encode_event};
    use weft_mesh::wire::MeshEvent;
    let mut mesh_event = MeshEvent {
        origin: NodeName::new("fuzz").expect("a valid node name"),
        incarnation: 1,
        sequence: 1,
        topic: weft_core::Topic::new("fuzz/topic").expect("a valid topic"),
        hops: 0,
        durable: Vec::new(),
        groups: Vec::new(),
        payload: Bytes::copy_from_slice(data),
    };
    if let Ok(event) = decode_event(&mesh_event) {
        mesh_event.payload = encode_event(&event);
        let again = decode_event(&mesh_event).expect("a re-encoded event decodes");
        assert_eq!(again.cloudevent, event.cloudevent);
        assert_eq!(again.key, event.key);
    }
}

/// CloudEvents SQL: whatever parses evaluates, and a traced evaluation agrees with a
/// plain one.
pub fn cesql_parse(data: &[u8]) {
    use weft_cesql::{EvalOptions, Expression};
    use weft_core::{Attributes, CloudEvent};
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expression) = Expression::parse(source) else {
        return;
    };
    let attributes = Attributes::new("id", "/fuzz", "fuzz.type").expect("valid attributes");
    let body = Bytes::from_static(br#"{"total": 5, "a": {"b": [1]}}"#);
    let event = CloudEvent::new(attributes, Some(body));
    for options in [EvalOptions::default(), EvalOptions::with_data_fields()] {
        let plain = expression.evaluate(&event, &options);
        let (traced, _) = expression.evaluate_traced(&event, &options);
        assert_eq!(plain, traced);
    }
}

/// The CloudEvents HTTP binding: the input is a request as `name: value` header lines,
/// an empty line, then the body. Whatever decodes encodes again in binary mode and
/// decodes to the same event.
pub fn http_binding(data: &[u8]) {
    use http::{HeaderMap, HeaderName, HeaderValue};
    use weft_http::binding::{Synthesis, decode_request, encode_binary};
    let split = data
        .windows(2)
        .position(|window| window == b"\n\n")
        .unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = Bytes::copy_from_slice(body.get(2..).unwrap_or_default());
    let mut headers = HeaderMap::new();
    for line in head.split(|byte| *byte == b'\n') {
        let Some(colon) = line.iter().position(|byte| *byte == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let defaults = Synthesis {
        source: "weft://fuzz/http".to_owned(),
        ty: "weft.http.publish".to_owned(),
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    let Ok(events) = decode_request(&headers, body, &defaults) else {
        return;
    };
    for event in events {
        let mut headers = HeaderMap::new();
        let body = encode_binary(&event, &mut headers).unwrap_or_default();
        let again = decode_request(&headers, body, &defaults).expect("binary mode decodes");
        assert_eq!(again.len(), 1);
        // Headers carry every attribute in its canonical string form (the binding has
        // no types), so an Integer extension comes back as a String with the same text.
        let canonical = |attributes: &weft_core::Attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.to_owned(), value.canonical().into_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            canonical(&again[0].attributes),
            canonical(&event.attributes)
        );
    }
}

/// Flow manifests: any text loads or is refused with errors, and what loads validates
/// without panicking.
pub fn flow_manifests(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let context = weft_flow::Context::with_existing_streams(["orders", "audit"]);
    let _ = weft_flow::check_str("fuzz.yaml", text, &context);
    let _ = weft_flow::load_str("fuzz.yaml", text);
}
