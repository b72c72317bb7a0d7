#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::SystemTime;

use bytes::Bytes;
use proptest::prelude::*;
use weft_core::{Attributes, CloudEvent, Event, EventError, ExtensionValue, Topic};

use super::{EnvelopeError, decode_event, encode_event, json, to_json};
use crate::name::NodeName;
use crate::wire::MeshEvent;

fn event(id: &str, data: Option<&'static [u8]>) -> Event {
    let attributes = Attributes::new(id, "/s", "t").unwrap();
    Event::new(
        CloudEvent::new(attributes, data.map(Bytes::from_static)),
        Topic::new("orders/eu").unwrap(),
        "a",
        SystemTime::now(),
    )
}

fn mesh_event(payload: Bytes) -> MeshEvent {
    MeshEvent {
        origin: NodeName::new("a").unwrap(),
        incarnation: 1,
        sequence: 1,
        topic: Topic::new("orders/eu").unwrap(),
        hops: 0,
        durable: Vec::new(),
        groups: Vec::new(),
        payload,
    }
}

fn decode(payload: &[u8]) -> Result<Event, EnvelopeError> {
    decode_event(&mesh_event(Bytes::copy_from_slice(payload)))
}

/// What must survive the mesh: everything but the receive time.
fn assert_same(decoded: &Event, sent: &Event) {
    assert_eq!(decoded.cloudevent, sent.cloudevent);
    assert_eq!(decoded.key, sent.key);
    assert_eq!(decoded.topic, sent.topic);
    assert_eq!(decoded.origin, sent.origin);
}

#[test]
fn minimal_event_has_this_exact_layout() {
    let encoded = encode_event(&event("e1", Some(b"hi")));
    let expected: &[u8] = &[
        0x01, // format: binary v1
        0x02, // flags: data
        2, b'e', b'1', // id
        2, b'/', b's', // source
        1, b't', // type
        0,    // no extensions
        b'h', b'i', // data: the rest
    ];
    assert_eq!(&encoded[..], expected);
}

#[test]
fn every_attribute_kind_has_this_exact_layout() {
    let mut sent = event("e1", None);
    let attributes = &mut sent.cloudevent.attributes;
    attributes.set("subject", "s".into()).unwrap();
    attributes
        .set("time", "2026-12-05T00:00:00Z".into())
        .unwrap();
    attributes.set("datacontenttype", "a/b".into()).unwrap();
    attributes.set("dataschema", "x:y".into()).unwrap();
    attributes.set("flag", true.into()).unwrap();
    attributes.set("n", (-2).into()).unwrap();
    attributes.set("off", false.into()).unwrap();
    attributes.set("text", "v".into()).unwrap();
    sent.key = Some(Bytes::from_static(b"k"));
    let encoded = encode_event(&sent);
    let mut expected = vec![0x01, 0b0011_1101, 2, b'e', b'1', 2, b'/', b's', 1, b't'];
    expected.extend_from_slice(&[1, b's', 20]);
    expected.extend_from_slice(b"2026-12-05T00:00:00Z");
    expected.extend_from_slice(&[3, b'a', b'/', b'b', 3, b'x', b':', b'y']);
    expected.push(4); // extensions, by name
    expected.extend_from_slice(&[4, b'f', b'l', b'a', b'g', 1]);
    expected.extend_from_slice(&[1, b'n', 2, 0xff, 0xff, 0xff, 0xfe]);
    expected.extend_from_slice(&[3, b'o', b'f', b'f', 0]);
    expected.extend_from_slice(&[4, b't', b'e', b'x', b't', 3, 1, b'v']);
    expected.extend_from_slice(&[1, b'k']); // key, no data
    assert_eq!(&encoded[..], &expected[..]);
    assert_same(&decode(&encoded).unwrap(), &sent);
}

#[test]
fn long_texts_take_multi_byte_lengths() {
    let id = "i".repeat(300);
    let encoded = encode_event(&event(&id, None));
    // 300 = 0b10_0101100: low seven bits first, with the continuation bit.
    assert_eq!(&encoded[2..4], &[0xac, 0x02]);
    assert_eq!(decode(&encoded).unwrap().cloudevent.attributes.id, id);
}

#[test]
fn data_is_a_slice_of_the_payload_not_a_copy() {
    let payload = encode_event(&event("e1", Some(b"0123456789")));
    let decoded = decode_event(&mesh_event(payload.clone())).unwrap();
    let data = decoded.cloudevent.data.unwrap();
    let offset = data.as_ptr() as usize - payload.as_ptr() as usize;
    assert_eq!(offset, payload.len() - 10);
}

#[test]
fn empty_data_and_no_data_stay_distinct() {
    let empty = decode(&encode_event(&event("e1", Some(b"")))).unwrap();
    assert_eq!(empty.cloudevent.data, Some(Bytes::new()));
    let none = decode(&encode_event(&event("e1", None))).unwrap();
    assert_eq!(none.cloudevent.data, None);
}

#[test]
fn an_old_json_payload_still_decodes() {
    // As nodes wrote it before the binary envelope (and as durable outboxes may still
    // hold it): CloudEvents JSON with the topic and the base64 key as extensions.
    let old = br#"{"specversion":"1.0","id":"e1","source":"/s","type":"t","wefttopic":"orders/eu","weftkey":"a2V5","region":"eu","data":{"n":1}}"#;
    let decoded = decode(old).unwrap();
    let attributes = &decoded.cloudevent.attributes;
    assert_eq!(attributes.id, "e1");
    assert_eq!(decoded.key, Some(Bytes::from_static(b"key")));
    assert_eq!(decoded.topic.as_str(), "orders/eu");
    assert_eq!(decoded.origin, "a");
    assert_eq!(
        attributes
            .extensions
            .keys()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["region"],
        "the reserved extensions are stripped"
    );
    assert_eq!(decoded.cloudevent.data.as_deref(), Some(&b"{\"n\":1}"[..]));
}

#[test]
fn a_binary_payload_becomes_json_for_an_old_peer() {
    let mut sent = event("e1", Some(b"{\"n\":1}"));
    sent.key = Some(Bytes::from_static(b"key"));
    let binary = mesh_event(encode_event(&sent));
    let old = to_json(&binary).unwrap();
    assert!(old.starts_with(b"{"));
    assert_eq!(old, json::encode(&sent));
    assert_same(&decode_event(&mesh_event(old.clone())).unwrap(), &sent);
    // A JSON payload goes as it is.
    assert_eq!(to_json(&mesh_event(old.clone())).unwrap(), old);
}

#[test]
fn malformed_payloads_are_distinct_errors() {
    let good = encode_event(&event("e1", Some(b"hi")));
    assert_eq!(decode(b""), Err(EnvelopeError::Empty));
    assert_eq!(
        decode(&[0x02, 0]),
        Err(EnvelopeError::UnknownFormat { tag: 2 })
    );
    assert_eq!(
        decode(b"["),
        Err(EnvelopeError::UnknownFormat { tag: b'[' })
    );
    assert_eq!(
        decode(&[0x01]),
        Err(EnvelopeError::Truncated { field: "flags" })
    );
    assert_eq!(
        decode(&[0x01, 0x40]),
        Err(EnvelopeError::UnknownFlags { flags: 0x40 })
    );
    // Every cut before the data is a truncation naming the field it cuts.
    for end in 1..good.len() - 2 {
        assert!(
            matches!(decode(&good[..end]), Err(EnvelopeError::Truncated { .. })),
            "cut at {end}: {:?}",
            decode(&good[..end])
        );
    }
    assert_eq!(
        decode(&[
            0x01, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
        ]),
        Err(EnvelopeError::InvalidLength { field: "id" })
    );
    assert_eq!(
        decode(&[
            0x01, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01
        ]),
        Err(EnvelopeError::InvalidLength { field: "id" })
    );
    assert_eq!(
        decode(&[0x01, 0, 1, 0xff, 1, b's', 1, b't', 0]),
        Err(EnvelopeError::InvalidUtf8 { field: "id" })
    );
    assert_eq!(
        decode(&[0x01, 0, 1, b'i', 1, b's', 1, b't', 0, 9]),
        Err(EnvelopeError::TrailingBytes { count: 1 })
    );
    assert_eq!(
        decode(&[0x01, 0, 1, b'i', 1, b's', 1, b't', 1, 1, b'x', 7]),
        Err(EnvelopeError::UnknownValueType {
            name: "x".to_owned(),
            code: 7
        })
    );
}

#[test]
fn invalid_attributes_are_refused_by_the_cloudevents_rules() {
    // An empty id.
    let error = decode(&[0x01, 0, 0, 1, b's', 1, b't', 0]).unwrap_err();
    assert!(matches!(
        error,
        EnvelopeError::Event(EventError::InvalidAttribute { .. })
    ));
    // A source that is not a URI-reference.
    let error = decode(&[0x01, 0, 1, b'i', 2, b'%', b'z', 1, b't', 0]).unwrap_err();
    assert!(matches!(error, EnvelopeError::Event(_)), "{error:?}");
    // A time that is not RFC 3339.
    let error = decode(&[0x01, 0x08, 1, b'i', 1, b's', 1, b't', 1, b'x', 0]).unwrap_err();
    assert!(matches!(error, EnvelopeError::Event(_)), "{error:?}");
    // An extension that reuses a core attribute's name does not overwrite it.
    let error = decode(&[
        0x01, 0, 1, b'i', 1, b's', 1, b't', 1, 2, b'i', b'd', 3, 1, b'x',
    ]);
    assert!(
        matches!(
            error,
            Err(EnvelopeError::Event(EventError::InvalidName { .. }))
        ),
        "{error:?}"
    );
    // A control character in a string extension.
    let error = decode(&[0x01, 0, 1, b'i', 1, b's', 1, b't', 1, 1, b'x', 3, 1, 0x07]);
    assert!(matches!(error, Err(EnvelopeError::Event(_))), "{error:?}");
    // A JSON envelope with a key that is not base64.
    let old = br#"{"specversion":"1.0","id":"e1","source":"/s","type":"t","weftkey":"!"}"#;
    assert_eq!(decode(old), Err(EnvelopeError::Key));
    assert!(matches!(
        decode(b"{"),
        Err(EnvelopeError::Event(EventError::Json { .. }))
    ));
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9/._-]{1,12}", "\\PC{1,40}", Just("x".repeat(200)),]
}

prop_compose! {
    fn any_event()(
        id in text(),
        source in "[a-z/]{1,8}",
        ty in text(),
        subject in proptest::option::of(text()),
        time in proptest::option::of(Just("2026-12-05T10:20:30.123+01:00")),
        content_type in proptest::option::of("[a-z]{1,5}/[a-z+]{1,8}"),
        schema in proptest::option::of("[a-z]{1,5}:[a-z/]{0,8}"),
        extensions in proptest::collection::btree_map(
            "[a-z][a-z0-9]{0,6}",
            prop_oneof![
                any::<bool>().prop_map(ExtensionValue::Boolean),
                any::<i32>().prop_map(ExtensionValue::Integer),
                text().prop_map(ExtensionValue::String),
            ],
            0..5,
        ),
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
    ) -> Event {
        let mut attributes = Attributes::new(id, source, ty).unwrap();
        for (name, value) in [
            ("subject", subject),
            ("time", time.map(str::to_owned)),
            ("datacontenttype", content_type),
            ("dataschema", schema),
        ] {
            if let Some(value) = value {
                attributes.set(name, value.into()).unwrap();
            }
        }
        for (name, value) in extensions {
            // Names that are core attributes are not extensions.
            let _ = attributes.set(&name, value);
        }
        let mut event = Event::new(
            CloudEvent::new(attributes, data.map(Bytes::from)),
            Topic::new("orders/eu").unwrap(),
            "a",
            SystemTime::now(),
        );
        event.key = key.map(Bytes::from);
        event
    }
}

proptest! {
    #[test]
    fn any_event_survives_the_binary_envelope(sent in any_event()) {
        let decoded = decode_event(&mesh_event(encode_event(&sent))).unwrap();
        assert_same(&decoded, &sent);
    }

    #[test]
    fn any_event_survives_the_json_envelope_for_old_peers(sent in any_event()) {
        let old = to_json(&mesh_event(encode_event(&sent))).unwrap();
        let decoded = decode_event(&mesh_event(old)).unwrap();
        assert_same(&decoded, &sent);
    }

    /// What the `decode_envelope` fuzz target checks, on the stable toolchain.
    #[test]
    fn any_bytes_decode_to_an_event_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut binary = vec![0x01];
        binary.extend_from_slice(&bytes);
        for payload in [&binary[..], &bytes[..]] {
            if let Ok(event) = decode(payload) {
                let again = decode(&encode_event(&event)).unwrap();
                assert_same(&again, &event);
            }
        }
    }
}
