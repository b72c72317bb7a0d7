use bytes::Bytes;

use super::write::DataForm;
use super::*;
use crate::event::{AttributeValue, Attributes};

fn event(content_type: Option<&str>, data: Option<&[u8]>) -> CloudEvent {
    let mut attributes =
        Attributes::new("A234-1234-1234", "/mycontext", "com.example.someevent").unwrap();
    if let Some(content_type) = content_type {
        attributes
            .set(
                "datacontenttype",
                ExtensionValue::String(content_type.to_owned()),
            )
            .unwrap();
    }
    CloudEvent::new(attributes, data.map(Bytes::copy_from_slice))
}

/// JSON → event → JSON → event: the events are equal and the second JSON equals the first
/// encoding.
fn assert_round_trip(json: &str) -> CloudEvent {
    let first = decode(json.as_bytes()).unwrap();
    let encoded = encode(&first);
    let second = decode(&encoded).unwrap();
    assert_eq!(first, second, "{}", String::from_utf8_lossy(&encoded));
    assert_eq!(encode(&second), encoded);
    first
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn decodes_the_specification_example_with_json_data_as_raw_text() {
    let json = r#"{
        "specversion" : "1.0",
        "type" : "com.github.pull_request.opened",
        "source" : "https://github.com/cloudevents/spec/pull",
        "subject" : "123",
        "id" : "A234-1234-1234",
        "time" : "2018-04-05T17:31:00Z",
        "comexampleextension1" : "value",
        "comexampleothervalue" : 5,
        "datacontenttype" : "application/json",
        "data" : { "appinfoA" : "abc", "appinfoB" : 123,  "appinfoC" : true }
    }"#;
    let event = assert_round_trip(json);
    let attributes = &event.attributes;
    assert_eq!(attributes.ty, "com.github.pull_request.opened");
    assert_eq!(attributes.subject.as_deref(), Some("123"));
    assert_eq!(
        attributes.time.as_ref().unwrap().as_str(),
        "2018-04-05T17:31:00Z"
    );
    assert_eq!(
        attributes.get("comexampleothervalue"),
        Some(AttributeValue::Integer(5))
    );
    assert_eq!(
        event.data.as_deref(),
        Some(&br#"{ "appinfoA" : "abc", "appinfoB" : 123,  "appinfoC" : true }"#[..])
    );
}

#[test]
fn encodes_attributes_in_a_stable_order_with_raw_json_data() {
    let mut event = event(Some("application/json"), Some(br#"{"a":[1,2.50,"x"]}"#));
    event
        .attributes
        .set("zz", ExtensionValue::Integer(-7))
        .unwrap();
    event
        .attributes
        .set("aa", ExtensionValue::Boolean(true))
        .unwrap();
    assert_eq!(
        text(&encode(&event)),
        r#"{"specversion":"1.0","id":"A234-1234-1234","source":"/mycontext","type":"com.example.someevent","datacontenttype":"application/json","aa":true,"zz":-7,"data":{"a":[1,2.50,"x"]}}"#
    );
}

#[test]
fn json_data_without_datacontenttype_is_raw_json() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"hello"}"#,
    );
    assert_eq!(event.data.as_deref(), Some(&b"\"hello\""[..]));
}

#[test]
fn suffix_json_media_types_keep_raw_json_data() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/vnd.weft+json; charset=utf-8","data":[1, 2]}"#,
    );
    assert_eq!(event.data.as_deref(), Some(&b"[1, 2]"[..]));
}

#[test]
fn text_data_decodes_to_the_string_bytes_and_round_trips() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"line 1\nline \"2\" \u20ac 🚀"}"#,
    );
    assert_eq!(
        event.data.as_deref(),
        Some("line 1\nline \"2\" € 🚀".as_bytes())
    );
    assert!(text(&encode(&event)).contains(r#""data":"line 1\nline \"2\" € 🚀""#));
}

#[test]
fn non_string_data_with_a_non_json_media_type_keeps_the_raw_json() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":{"k": 1}}"#,
    );
    assert_eq!(event.data.as_deref(), Some(&br#"{"k": 1}"#[..]));
}

#[test]
fn binary_data_base64_round_trips() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}"#,
    );
    assert_eq!(event.data.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert!(text(&encode(&event)).ends_with(r#""data_base64":"AAEC/w=="}"#));
}

#[test]
fn data_base64_without_padding_is_accepted() {
    let event = decode(
        br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC/w"}"#,
    )
    .unwrap();
    assert_eq!(event.data.as_deref(), Some(&[0u8, 1, 2, 255][..]));
}

#[test]
fn no_data_and_empty_data_are_different_and_both_round_trip() {
    let none = assert_round_trip(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#);
    assert_eq!(none.data, None);
    let empty = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":""}"#,
    );
    assert_eq!(empty.data.as_deref(), Some(&b""[..]));
    let empty_text = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":""}"#,
    );
    assert_eq!(empty_text.data.as_deref(), Some(&b""[..]));
}

#[test]
fn data_null_is_the_json_value_null() {
    let event =
        assert_round_trip(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":null}"#);
    assert_eq!(event.data.as_deref(), Some(&b"null"[..]));
}

#[test]
fn encoding_picks_the_data_form_from_media_type_and_bytes() {
    let cases: [(Option<&str>, &[u8], DataForm<'_>); 10] = [
        (None, b"{\"a\":1}", DataForm::Json),
        (Some("application/json"), b"42", DataForm::Json),
        (Some("application/json"), b"not json", DataForm::Base64),
        (Some("application/json"), b" 42", DataForm::Base64),
        (Some("application/json"), b"", DataForm::Base64),
        (Some("text/plain"), b"hi", DataForm::Text("hi")),
        (Some("text/plain"), &[0xff, 0xfe], DataForm::Base64),
        (Some("application/xml"), b"<a/>", DataForm::Text("<a/>")),
        (Some("application/octet-stream"), b"abc", DataForm::Base64),
        (Some("image/png"), b"abc", DataForm::Base64),
    ];
    for (content_type, data, expected) in cases {
        assert_eq!(
            DataForm::choose(data, content_type),
            expected,
            "{content_type:?}"
        );
    }
}

#[test]
fn every_data_form_round_trips_the_bytes() {
    let datas: [&[u8]; 6] = [
        b"{\"a\":1}",
        b" 42 ",
        b"plain",
        b"",
        &[0, 159, 146, 150],
        b"null",
    ];
    let types = [
        None,
        Some("application/json"),
        Some("text/plain"),
        Some("image/png"),
        Some("application/xml"),
    ];
    for content_type in types {
        for data in datas {
            let original = event(content_type, Some(data));
            let decoded = decode(&encode(&original)).unwrap();
            assert_eq!(decoded, original, "{content_type:?} {data:?}");
        }
    }
}

#[test]
fn extensions_of_each_type_round_trip() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","flag":false,"count":-2147483648,"max":2147483647,"name":"ü€🚀","empty":""}"#,
    );
    let extensions = &event.attributes.extensions;
    assert_eq!(extensions.len(), 5);
    assert_eq!(
        event.attributes.get("flag"),
        Some(AttributeValue::Boolean(false))
    );
    assert_eq!(
        event.attributes.get("count"),
        Some(AttributeValue::Integer(i32::MIN))
    );
    assert_eq!(
        event.attributes.get("name"),
        Some(AttributeValue::String("ü€🚀"))
    );
}

#[test]
fn escaped_strings_and_unicode_round_trip() {
    let event = assert_round_trip(
        r#"{"specversion":"1.0","id":"\u0031\/x","source":"/s","type":"t\"q\\","subject":"日本語 ✓"}"#,
    );
    assert_eq!(event.attributes.id, "1/x");
    assert_eq!(event.attributes.ty, "t\"q\\");
    assert_eq!(event.attributes.subject.as_deref(), Some("日本語 ✓"));
}

#[test]
fn null_optional_attributes_and_extensions_are_absent() {
    let event = decode(
        br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":null,"ext":null,"data_base64":null}"#,
    )
    .unwrap();
    assert_eq!(event.attributes.subject, None);
    assert!(event.attributes.extensions.is_empty());
    assert_eq!(event.data, None);
}

#[test]
fn missing_or_null_required_attributes_are_reported() {
    let cases = [
        (r#"{"id":"1","source":"/s","type":"t"}"#, "specversion"),
        (r#"{"specversion":"1.0","source":"/s","type":"t"}"#, "id"),
        (r#"{"specversion":"1.0","id":"1","type":"t"}"#, "source"),
        (r#"{"specversion":"1.0","id":"1","source":"/s"}"#, "type"),
        (
            r#"{"specversion":"1.0","id":null,"source":"/s","type":"t"}"#,
            "id",
        ),
    ];
    for (json, name) in cases {
        assert_eq!(
            decode(json.as_bytes()),
            Err(EventError::MissingAttribute { name }),
            "{json}"
        );
    }
}

#[test]
fn invalid_attribute_values_are_errors_naming_the_attribute() {
    let cases = [
        (
            r#""id":"1","source":"/s","type":"t","ext":{"a":1}"#,
            "ext",
            "not an object",
        ),
        (
            r#""id":"1","source":"/s","type":"t","ext":[1]"#,
            "ext",
            "not an array",
        ),
        (
            r#""id":"1","source":"/s","type":"t","ext":1.5"#,
            "ext",
            "fraction",
        ),
        (
            r#""id":"1","source":"/s","type":"t","ext":2147483648"#,
            "ext",
            "signed 32-bit",
        ),
        (
            r#""id":"1","source":"/s","type":"t","ext":-2147483649"#,
            "ext",
            "signed 32-bit",
        ),
        (
            r#""id":5,"source":"/s","type":"t""#,
            "id",
            "must be a string",
        ),
        (
            r#""id":"","source":"/s","type":"t""#,
            "id",
            "must not be empty",
        ),
        (
            r#""id":"1","source":"/s","type":"t","time":"2024-02-30T00:00:00Z""#,
            "time",
            "rfc 3339",
        ),
        (
            r#""id":"1","source":"/s","type":"t","dataschema":"schema.json""#,
            "dataschema",
            "absolute",
        ),
        (
            r#""id":"1","source":"/s","type":"t","data_base64":"***""#,
            "data_base64",
            "base64",
        ),
        (
            r#""id":"1","source":"/s","type":"t","data_base64":1"#,
            "data_base64",
            "base64 string",
        ),
        (
            r#""id":"1","source":"/s","type":"t","data":1,"data_base64":"AA==""#,
            "data_base64",
            "together",
        ),
    ];
    for (members, name, reason_part) in cases {
        let json = format!(r#"{{"specversion":"1.0",{members}}}"#);
        match decode(json.as_bytes()) {
            Err(EventError::InvalidAttribute {
                name: found,
                reason,
            }) => {
                assert_eq!(found, name, "{json}");
                assert!(reason.contains(reason_part), "{json}: {reason}");
            }
            other => panic!("{json}: {other:?}"),
        }
    }
}

#[test]
fn invalid_names_and_unsupported_specversions_are_rejected() {
    assert!(matches!(
        decode(br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad":"x"}"#),
        Err(EventError::InvalidName { name, .. }) if name == "Bad"
    ));
    assert_eq!(
        decode(br#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#),
        Err(EventError::UnsupportedSpecVersion {
            found: "0.3".to_owned()
        })
    );
}

#[test]
fn duplicate_members_are_rejected() {
    let error =
        decode(br#"{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed cloudevents json: duplicate member `id`"
    );
}

#[test]
fn malformed_json_reports_line_and_column() {
    let error = decode(b"{\"specversion\":\"1.0\",\n\"id\": }").unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("malformed cloudevents json: "),
        "{message}"
    );
    assert!(message.contains("line 2 column 7"), "{message}");
    assert!(matches!(decode(b"[]"), Err(EventError::Json { .. })));
    assert!(matches!(decode(b"{} x"), Err(EventError::Json { .. })));
}

#[test]
fn batch_round_trips_and_may_be_empty() {
    let events = vec![
        event(Some("text/plain"), Some(b"one")),
        event(None, None),
        event(Some("application/json"), Some(b"[1]")),
    ];
    let encoded = encode_batch(&events);
    assert_eq!(decode_batch(&encoded).unwrap(), events);
    assert_eq!(decode_batch(b" [ ] ").unwrap(), Vec::<CloudEvent>::new());
    assert_eq!(encode_batch(&[]), b"[]");
}

#[test]
fn batch_errors_name_the_event_index() {
    let valid = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#;
    let invalid = r#"{"specversion":"1.0","source":"/s","type":"t"}"#;
    let json = format!("[{valid},{valid},{valid},{invalid}]");
    let error = decode_batch(json.as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "event 3: missing required attribute `id`"
    );
    assert!(matches!(error, EventError::Batch { index: 3, .. }));
}

#[test]
fn batch_syntax_errors_name_the_event_index_too() {
    let valid = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#;
    let error = decode_batch(format!("[{valid}, 7]").as_bytes()).unwrap_err();
    assert!(
        matches!(&error, EventError::Batch { index: 1, error } if matches!(**error, EventError::Json { .. }))
    );
    let error = decode_batch(format!("[{valid}, {{\"id\": ]").as_bytes()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("event 1: malformed cloudevents json: "),
        "{error}"
    );
    assert!(matches!(
        decode_batch(valid.as_bytes()),
        Err(EventError::Json { .. })
    ));
}

#[test]
fn encode_with_extra_adds_and_replaces_string_extensions() {
    let mut event = event(None, None);
    event
        .attributes
        .set("wefttopic", ExtensionValue::String("old".to_owned()))
        .unwrap();
    let encoded = encode_with_extra(&event, &[("wefttopic", "orders/eu \"de\"")]);
    let decoded = decode(&encoded).unwrap();
    assert_eq!(
        decoded.attributes.get("wefttopic"),
        Some(AttributeValue::String("orders/eu \"de\""))
    );
    assert_eq!(text(&encoded).matches("wefttopic").count(), 1);
}

#[test]
fn json_media_type_detection_ignores_case_and_parameters() {
    assert!(is_json_media_type(None));
    assert!(is_json_media_type(Some("application/json")));
    assert!(is_json_media_type(Some("Application/JSON; charset=utf-8")));
    assert!(is_json_media_type(Some("application/cloudevents+json")));
    assert!(!is_json_media_type(Some("text/plain")));
    assert!(!is_json_media_type(Some("json")));
    assert!(!is_json_media_type(Some("application/jsonx")));
}

#[test]
fn control_characters_in_strings_are_escaped_on_encode() {
    let mut event = event(Some("text/plain"), Some(b"\x00\x1f\x08\x0c\t"));
    event
        .attributes
        .set("note", ExtensionValue::String("a\\b".to_owned()))
        .unwrap();
    let encoded = encode(&event);
    assert!(
        text(&encoded).contains(r#""data":"\u0000\u001f\b\f\t""#),
        "{}",
        text(&encoded)
    );
    assert_eq!(decode(&encoded).unwrap(), event);
}
