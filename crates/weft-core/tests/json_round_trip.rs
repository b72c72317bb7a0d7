//! Property test: every valid event survives the JSON event format unchanged, alone and
//! in a batch, and re-encoding is byte-identical.

// Strategies build fixed valid values; a failure there is a bug in the test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use weft_core::{Attributes, CloudEvent, ExtensionValue, json};

const CORE: [&str; 8] = [
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
];

fn source() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-z0-9/._~-]{0,16}",
        "urn:[a-z]{1,6}:([a-zA-Z0-9:]|%2F){1,12}",
        "https://[a-z]{1,8}\\.example/[a-z0-9/]{0,10}(\\?[a-z]=[0-9])?(#[a-z]{0,4})?",
        "weft://node-[0-9]/(http|mqtt|kafka)",
    ]
}

fn time() -> impl Strategy<Value = String> {
    "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9])"
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("application/json".to_owned()),
        Just("application/vnd.weft.order+json".to_owned()),
        Just("text/plain; charset=utf-8".to_owned()),
        Just("text/csv".to_owned()),
        Just("application/xml".to_owned()),
        Just("application/octet-stream".to_owned()),
        Just("image/png".to_owned()),
    ])
}

fn extension_value() -> impl Strategy<Value = ExtensionValue> {
    prop_oneof![
        any::<bool>().prop_map(ExtensionValue::Boolean),
        any::<i32>().prop_map(ExtensionValue::Integer),
        "\\PC{0,12}".prop_map(ExtensionValue::String),
    ]
}

fn extensions() -> impl Strategy<Value = BTreeMap<String, ExtensionValue>> {
    prop::collection::btree_map(
        "[a-z0-9]{1,20}".prop_filter("not a core name", |name| !CORE.contains(&name.as_str())),
        extension_value(),
        0..4,
    )
}

fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        "\\PC{0,24}".prop_map(String::into_bytes),
        ("\\PC{0,12}", any::<i64>(), any::<bool>()).prop_map(|(text, number, flag)| {
            let value =
                serde_json::json!({ "text": text, "n": number, "ok": flag, "list": [1.5, null] });
            serde_json::to_vec(&value).unwrap()
        }),
    ])
}

prop_compose! {
    fn cloudevent()(
        id in "\\PC{1,24}",
        source in source(),
        ty in "[a-zA-Z0-9.€]{1,24}",
        subject in prop::option::of("\\PC{1,16}"),
        time in prop::option::of(time()),
        content_type in content_type(),
        dataschema in prop::option::of("https://schemas\\.example/[a-z]{1,8}\\.json"),
        extensions in extensions(),
        data in data(),
    ) -> CloudEvent {
        let mut attributes = Attributes::new(id, source, ty).unwrap();
        let optional = [
            ("subject", subject),
            ("time", time),
            ("datacontenttype", content_type),
            ("dataschema", dataschema),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                attributes.set(name, ExtensionValue::String(value)).unwrap();
            }
        }
        for (name, value) in extensions {
            attributes.set(&name, value).unwrap();
        }
        CloudEvent::new(attributes, data.map(Bytes::from))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn valid_events_round_trip_through_json(event in cloudevent()) {
        let encoded = json::encode(&event);
        let decoded = json::decode(&encoded).unwrap();
        prop_assert_eq!(&decoded, &event);
        prop_assert_eq!(json::encode(&decoded), encoded);
    }

    #[test]
    fn valid_batches_round_trip_through_json(events in prop::collection::vec(cloudevent(), 0..5)) {
        let encoded = json::encode_batch(&events);
        prop_assert_eq!(json::decode_batch(&encoded).unwrap(), events);
    }
}
