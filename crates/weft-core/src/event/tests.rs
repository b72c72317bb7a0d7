use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn attributes() -> Attributes {
    Attributes::new("1", "/sensors/7", "com.example.reading").unwrap()
}

fn string(text: &str) -> ExtensionValue {
    ExtensionValue::String(text.to_owned())
}

fn is_invalid_attribute(result: Result<(), EventError>, expected: &str) -> bool {
    matches!(result, Err(EventError::InvalidAttribute { name, .. }) if name == expected)
}

fn is_invalid_name(result: Result<(), EventError>) -> bool {
    matches!(result, Err(EventError::InvalidName { .. }))
}

#[test]
fn new_accepts_required_attributes_and_leaves_the_rest_unset() {
    let attributes = attributes();
    assert_eq!(attributes.id, "1");
    assert_eq!(attributes.source, "/sensors/7");
    assert_eq!(attributes.ty, "com.example.reading");
    assert_eq!(attributes.subject, None);
    assert_eq!(attributes.time, None);
    assert!(attributes.extensions.is_empty());
}

#[test]
fn new_rejects_each_empty_required_attribute() {
    for (id, source, ty, name) in [
        ("", "/s", "t", "id"),
        ("1", "", "t", "source"),
        ("1", "/s", "", "type"),
    ] {
        let error = Attributes::new(id, source, ty).unwrap_err();
        assert!(
            matches!(&error, EventError::InvalidAttribute { name: found, .. } if found == name),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            format!("invalid attribute `{name}`: must not be empty")
        );
    }
}

#[test]
fn builder_reports_each_missing_required_attribute() {
    let full = [("id", "1"), ("source", "/s"), ("type", "t")];
    for missing in ["id", "source", "type"] {
        let mut builder = AttributesBuilder::new();
        for (name, value) in full.iter().filter(|(name, _)| *name != missing) {
            builder.set(name, string(value)).unwrap();
        }
        assert_eq!(builder.get(missing), None);
        assert_eq!(
            builder.build(),
            Err(EventError::MissingAttribute { name: missing })
        );
    }
}

#[test]
fn builder_get_sees_set_attributes_and_empty_extension_strings() {
    let mut builder = AttributesBuilder::new();
    builder.set("id", string("x")).unwrap();
    builder.set("note", string("")).unwrap();
    assert_eq!(builder.get("id"), Some(AttributeValue::String("x")));
    assert_eq!(builder.get("note"), Some(AttributeValue::String("")));
    assert_eq!(
        builder.get("specversion"),
        Some(AttributeValue::String("1.0"))
    );
}

#[test]
fn core_attributes_must_be_strings() {
    let mut attributes = attributes();
    let error = attributes
        .set("id", ExtensionValue::Integer(7))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid attribute `id`: must be a string, not an integer"
    );
    assert!(is_invalid_attribute(
        attributes.set("time", ExtensionValue::Boolean(true)),
        "time"
    ));
}

#[test]
fn specversion_1_0_is_accepted_and_0_3_rejected() {
    let mut attributes = attributes();
    attributes.set("specversion", string("1.0")).unwrap();
    assert_eq!(
        attributes.set("specversion", string("0.3")),
        Err(EventError::UnsupportedSpecVersion {
            found: "0.3".to_owned()
        })
    );
    assert!(is_invalid_attribute(
        attributes.set("specversion", ExtensionValue::Integer(1)),
        "specversion"
    ));
}

#[test]
fn optional_string_attributes_must_not_be_empty() {
    let mut attributes = attributes();
    for name in ["subject", "datacontenttype", "dataschema", "time"] {
        assert!(is_invalid_attribute(attributes.set(name, string("")), name));
    }
    attributes.set("subject", string("blob.jpg")).unwrap();
    attributes
        .set("datacontenttype", string("application/json"))
        .unwrap();
    assert_eq!(attributes.subject.as_deref(), Some("blob.jpg"));
}

#[test]
fn strings_with_control_characters_or_noncharacters_are_rejected() {
    let mut attributes = attributes();
    let error = attributes.set("subject", string("a\nb")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid attribute `subject`: contains the disallowed character U+000A"
    );
    assert!(is_invalid_attribute(
        attributes.set("myext", string("\u{85}")),
        "myext"
    ));
    assert!(is_invalid_attribute(
        attributes.set("id", string("\u{FFFE}")),
        "id"
    ));
    attributes.set("subject", string("€ 🚀 ü")).unwrap();
}

#[test]
fn source_accepts_uri_references() {
    let mut attributes = attributes();
    for source in [
        "https://example.com/storage/tenant/container",
        "urn:event:from:myapi/resource/123",
        "/cloudevents/spec/pull/123",
        "mailto:cncf-wg-serverless@lists.cncf.io",
        "1-555-123-4567",
        "weft://node-1/http",
        "a/b?c=d#frag%20ment",
        "http://[::1]:8080/x",
    ] {
        attributes.set("source", string(source)).unwrap();
        assert_eq!(attributes.source, source);
    }
}

#[test]
fn source_rejects_text_that_is_not_a_uri_reference() {
    let mut attributes = attributes();
    for source in [
        "has space",
        "a%zz",
        "a%2",
        "1abc:x",
        "a#b#c",
        "quote\"d",
        "ü",
    ] {
        assert!(
            is_invalid_attribute(attributes.set("source", string(source)), "source"),
            "{source}"
        );
    }
}

#[test]
fn dataschema_requires_an_absolute_uri() {
    let mut attributes = attributes();
    attributes
        .set("dataschema", string("https://example.com/schema.json"))
        .unwrap();
    let error = attributes
        .set("dataschema", string("/schemas/reading.json"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid attribute `dataschema`: `/schemas/reading.json` is not an absolute uri (it has no scheme)"
    );
    assert_eq!(
        attributes.dataschema.as_deref(),
        Some("https://example.com/schema.json")
    );
}

#[test]
fn time_accepts_offsets_and_fractional_seconds_and_keeps_the_text() {
    let mut attributes = attributes();
    for text in [
        "2018-04-05T17:31:00Z",
        "2018-04-05t17:31:00z",
        "2018-04-05T19:31:00+02:00",
        "2018-04-05T12:31:00.123456789-05:00",
        "2018-04-05T17:31:00.5Z",
        "2016-12-31T23:59:60Z",
    ] {
        attributes.set("time", string(text)).unwrap();
        assert_eq!(attributes.time.as_ref().unwrap().as_str(), text);
    }
    let with_offset = Timestamp::parse("2018-04-05T19:31:00+02:00").unwrap();
    let in_utc = Timestamp::parse("2018-04-05T17:31:00Z").unwrap();
    assert_eq!(with_offset.value(), in_utc.value());
}

#[test]
fn time_rejects_impossible_dates_and_non_rfc3339_text() {
    for text in [
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T25:00:00Z",
        "2024-01-01 00:00:00Z",
        "2024-01-01X00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01",
        "yesterday",
        "",
    ] {
        let error = Timestamp::parse(text).unwrap_err();
        assert!(
            matches!(&error, EventError::InvalidAttribute { name, .. } if name == "time"),
            "{text}: {error}"
        );
    }
}

#[test]
fn timestamp_from_system_time_is_utc_with_needed_fraction_digits() {
    let whole = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(
        Timestamp::from_system_time(whole).unwrap().as_str(),
        "2023-11-14T22:13:20Z"
    );
    let fraction = whole + Duration::from_millis(250);
    let timestamp = Timestamp::from_system_time(fraction).unwrap();
    assert_eq!(timestamp.as_str(), "2023-11-14T22:13:20.25Z");
    assert_eq!(timestamp.to_system_time(), Some(fraction));
    assert_eq!(Timestamp::parse(timestamp.as_str()).unwrap(), timestamp);
}

#[test]
fn timestamp_before_1970_round_trips_through_system_time() {
    let before = UNIX_EPOCH - Duration::from_millis(1_500);
    let timestamp = Timestamp::from_system_time(before).unwrap();
    assert_eq!(timestamp.as_str(), "1969-12-31T23:59:58.5Z");
    assert_eq!(timestamp.to_system_time(), Some(before));
}

#[test]
fn timestamp_from_system_time_rejects_years_past_9999() {
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    assert!(Timestamp::from_system_time(far).is_err());
}

#[test]
fn extension_names_follow_the_naming_rules() {
    ExtensionName::new("traceparent").unwrap();
    ExtensionName::new("a1").unwrap();
    ExtensionName::new("abcdefghijklmnopqrst").unwrap();
    for name in [
        "",
        "Upper",
        "with_underscore",
        "with-dash",
        "abcdefghijklmnopqrstu",
        "data",
        "data_base64",
        "id",
        "ümlaut",
    ] {
        let error = ExtensionName::new(name).unwrap_err();
        assert!(
            matches!(&error, EventError::InvalidName { name: found, .. } if found == name),
            "{name}"
        );
    }
    assert_eq!(
        ExtensionName::new("abcdefghijklmnopqrstu")
            .unwrap_err()
            .to_string(),
        "invalid attribute name `abcdefghijklmnopqrstu`: must not be longer than 20 characters"
    );
}

#[test]
fn set_rejects_invalid_extension_names() {
    let mut attributes = attributes();
    assert!(is_invalid_name(attributes.set("Upper", string("x"))));
    assert!(is_invalid_name(attributes.set("data", string("x"))));
    assert!(is_invalid_name(attributes.set("data_base64", string("x"))));
    assert!(is_invalid_name(
        attributes.set("abcdefghijklmnopqrstu", string("x"))
    ));
    assert!(attributes.extensions.is_empty());
}

#[test]
fn extensions_hold_every_value_type_including_the_integer_extremes() {
    let mut attributes = attributes();
    attributes
        .set("flag", ExtensionValue::Boolean(true))
        .unwrap();
    attributes
        .set("min", ExtensionValue::Integer(i32::MIN))
        .unwrap();
    attributes
        .set("max", ExtensionValue::Integer(i32::MAX))
        .unwrap();
    attributes.set("text", string("")).unwrap();
    assert_eq!(
        attributes.get("min"),
        Some(AttributeValue::Integer(i32::MIN))
    );
    assert_eq!(
        attributes.get("max").unwrap().canonical(),
        i32::MAX.to_string()
    );
    assert_eq!(attributes.get("flag").unwrap().to_string(), "true");
    assert_eq!(attributes.get("text"), Some(AttributeValue::String("")));
}

#[test]
fn iter_yields_specversion_core_attributes_then_extensions_by_name() {
    let mut attributes = attributes();
    attributes.set("zeta", ExtensionValue::Integer(-3)).unwrap();
    attributes
        .set("alpha", ExtensionValue::Boolean(false))
        .unwrap();
    attributes
        .set("time", string("2024-05-01T12:00:00Z"))
        .unwrap();
    attributes
        .set("datacontenttype", string("text/plain"))
        .unwrap();
    let pairs: Vec<(&str, String)> = attributes
        .iter()
        .map(|(name, value)| (name, value.to_string()))
        .collect();
    let expected = [
        ("specversion", "1.0"),
        ("id", "1"),
        ("source", "/sensors/7"),
        ("type", "com.example.reading"),
        ("time", "2024-05-01T12:00:00Z"),
        ("datacontenttype", "text/plain"),
        ("alpha", "false"),
        ("zeta", "-3"),
    ];
    let expected: Vec<(&str, String)> = expected
        .iter()
        .map(|(name, value)| (*name, (*value).to_owned()))
        .collect();
    assert_eq!(pairs, expected);
}

#[test]
fn get_returns_every_attribute_by_name() {
    let mut attributes = attributes();
    attributes.set("subject", string("s")).unwrap();
    assert_eq!(
        attributes.get("specversion"),
        Some(AttributeValue::String("1.0"))
    );
    assert_eq!(
        attributes.get("type"),
        Some(AttributeValue::String("com.example.reading"))
    );
    assert_eq!(
        attributes.get("subject").and_then(|v| v.as_str()),
        Some("s")
    );
    assert_eq!(attributes.get("dataschema"), None);
    assert_eq!(attributes.get("nosuch"), None);
}

#[test]
fn remove_clears_optional_attributes_but_refuses_required_ones() {
    let mut attributes = attributes();
    attributes.set("subject", string("s")).unwrap();
    attributes.set("ext", ExtensionValue::Integer(1)).unwrap();
    assert_eq!(attributes.remove("subject"), Ok(true));
    assert_eq!(attributes.remove("subject"), Ok(false));
    assert_eq!(attributes.remove("ext"), Ok(true));
    assert!(attributes.remove("id").is_err());
    assert!(attributes.remove("specversion").is_err());
}

#[test]
fn event_new_has_no_key() {
    let cloudevent = CloudEvent::new(attributes(), Some(Bytes::from_static(b"{}")));
    let topic: Topic = placeholder_topic();
    let event = Event::new(cloudevent.clone(), topic, "node-1", UNIX_EPOCH);
    assert_eq!(event.key, None);
    assert_eq!(event.origin, "node-1");
    assert_eq!(event.cloudevent, cloudevent);
}

fn placeholder_topic() -> Topic {
    Topic::new("orders/created").unwrap()
}

proptest::proptest! {
    /// The direct formatter of `from_system_time` writes what `time`'s general RFC 3339
    /// formatter writes, for instants across the whole range RFC 3339 can express.
    #[test]
    fn timestamp_text_is_what_the_time_crate_formats(
        seconds in -62_167_219_200i64..253_402_300_800i64,
        nanos in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..1_000_000_000, proptest::strategy::Strategy::prop_map(0u32..1000, |ms| ms * 1_000_000)],
    ) {
        use time::format_description::well_known::Rfc3339;
        let instant = if seconds >= 0 {
            UNIX_EPOCH + Duration::new(seconds.unsigned_abs(), nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + Duration::from_nanos(u64::from(nanos))
        };
        let expected = time::OffsetDateTime::from(instant).format(&Rfc3339).unwrap();
        let timestamp = Timestamp::from_system_time(instant).unwrap();
        proptest::prop_assert_eq!(timestamp.as_str(), expected.as_str());
        proptest::prop_assert_eq!(Timestamp::parse(&expected).unwrap(), timestamp);
    }
}
