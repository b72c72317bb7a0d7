use std::time::{Duration, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderValue};
use weft_core::event::{AttributeValue, Attributes};

use super::*;

fn synthesis() -> Synthesis {
    Synthesis {
        source: "weft://node-1/http".to_owned(),
        ty: "weft.http.publish".to_owned(),
        now: UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::try_from(*name).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

fn decode_one(pairs: &[(&str, &str)], body: &'static [u8]) -> Result<CloudEvent, BindingError> {
    let mut events = decode_request(&headers(pairs), Bytes::from_static(body), &synthesis())?;
    assert_eq!(events.len(), 1);
    Ok(events.remove(0))
}

const BINARY: [(&str, &str); 4] = [
    ("ce-specversion", "1.0"),
    ("ce-id", "A234-1234-1234"),
    ("ce-source", "/mycontext"),
    ("ce-type", "com.example.someevent"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BINARY.iter().chain(extra).copied().collect()
}

fn invalid_header_name(error: BindingError) -> String {
    match error {
        BindingError::InvalidHeader { name, .. } => name,
        other => panic!("expected an invalid header error, got {other:?}"),
    }
}

#[test]
fn percent_encoding_escapes_space_quote_percent_and_non_printable_bytes() {
    assert_eq!(
        encode_header_value("plain-value/1?a=b"),
        "plain-value/1?a=b"
    );
    assert_eq!(encode_header_value("a b"), "a%20b");
    assert_eq!(encode_header_value("say \"hi\""), "say%20%22hi%22");
    assert_eq!(encode_header_value("100%"), "100%25");
    assert_eq!(encode_header_value("tab\there"), "tab%09here");
    assert_eq!(encode_header_value("€"), "%E2%82%AC");
    assert_eq!(encode_header_value("🚀"), "%F0%9F%9A%80");
    assert_eq!(encode_header_value("\u{7f}"), "%7F");
}

#[test]
fn percent_encoding_round_trips_unicode_and_special_characters() {
    for value in [
        "",
        "a b",
        "\"%\"",
        "Euro € and rocket 🚀",
        "日本語",
        "%25 literal",
        "~!#$&'()*+,/:;=?@[]",
    ] {
        let encoded = encode_header_value(value);
        assert!(HeaderValue::from_str(&encoded).is_ok(), "{encoded}");
        assert!(!encoded.contains(' '));
        assert_eq!(decode_header_value(encoded.as_bytes()).unwrap(), value);
    }
}

#[test]
fn percent_decoding_accepts_lower_case_hex_and_unencoded_text() {
    assert_eq!(decode_header_value(b"%e2%82%ac").unwrap(), "€");
    assert_eq!(decode_header_value(b"a b").unwrap(), "a b");
    assert_eq!(decode_header_value("é".as_bytes()).unwrap(), "é");
}

#[test]
fn percent_decoding_rejects_bad_escapes_and_invalid_utf8() {
    for value in [
        &b"%"[..],
        b"abc%",
        b"%2",
        b"%zz",
        b"%g0",
        b"%ff",
        b"%C3",
        b"%80abc",
        b"\xff",
    ] {
        assert!(
            matches!(
                decode_header_value(value),
                Err(BindingError::InvalidPercentEncoding { .. })
            ),
            "{value:?}"
        );
    }
    let message = decode_header_value(b"%ff").unwrap_err().to_string();
    assert!(message.contains("utf-8"), "{message}");
}

#[test]
fn binary_mode_reads_ce_headers_content_type_and_body() {
    let pairs = with(&[
        ("ce-time", "2018-04-05T17:31:00Z"),
        ("ce-subject", "caf%C3%A9%20menu"),
        ("ce-comexampleextension1", "value"),
        ("CE-Priority", "5"),
        ("content-type", "application/json; charset=utf-8"),
        ("x-other", "ignored"),
    ]);
    let event = decode_one(&pairs, br#"{"a":1}"#).unwrap();
    let attributes = &event.attributes;
    assert_eq!(attributes.id, "A234-1234-1234");
    assert_eq!(attributes.source, "/mycontext");
    assert_eq!(attributes.ty, "com.example.someevent");
    assert_eq!(attributes.subject.as_deref(), Some("café menu"));
    assert_eq!(
        attributes.time.as_ref().unwrap().as_str(),
        "2018-04-05T17:31:00Z"
    );
    assert_eq!(
        attributes.datacontenttype.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        attributes.get("priority"),
        Some(AttributeValue::String("5"))
    );
    assert_eq!(attributes.extensions.len(), 2);
    assert_eq!(event.data.as_deref(), Some(&br#"{"a":1}"#[..]));
}

#[test]
fn binary_mode_requires_every_required_attribute() {
    for missing in ["ce-id", "ce-source", "ce-type"] {
        let pairs: Vec<_> = BINARY
            .iter()
            .filter(|(name, _)| *name != missing)
            .copied()
            .collect();
        let error = decode_one(&pairs, b"x").unwrap_err();
        let attribute = &missing[3..];
        assert_eq!(
            error.to_string(),
            format!("missing required attribute `{attribute}`")
        );
        assert!(matches!(
            error,
            BindingError::Event(EventError::MissingAttribute { .. })
        ));
    }
}

#[test]
fn binary_mode_without_body_or_content_type_has_no_data() {
    assert_eq!(decode_one(&BINARY, b"").unwrap().data, None);
    let empty = decode_one(&with(&[("content-type", "text/plain")]), b"").unwrap();
    assert_eq!(empty.data.as_deref(), Some(&b""[..]));
}

#[test]
fn binary_mode_rejects_other_specversions_naming_the_header() {
    let pairs = [
        ("ce-specversion", "0.3"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ];
    let error = decode_one(&pairs, b"").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid header `ce-specversion`: unsupported specversion `0.3`; weft accepts only `1.0`"
    );
}

#[test]
fn invalid_ce_headers_are_errors_naming_the_header() {
    let cases = [
        ("ce-Bad_Name", "x", "ce-bad_name"),
        ("ce-data", "x", "ce-data"),
        ("ce-abcdefghijklmnopqrstu", "x", "ce-abcdefghijklmnopqrstu"),
        ("ce-time", "yesterday", "ce-time"),
        ("ce-dataschema", "relative/schema", "ce-dataschema"),
        ("ce-subject", "%zz", "ce-subject"),
        ("ce-subject", "%ff", "ce-subject"),
        ("ce-subject", "%0A", "ce-subject"),
    ];
    for (name, value, expected) in cases {
        let error = decode_one(&with(&[(name, value)]), b"").unwrap_err();
        assert_eq!(invalid_header_name(error), expected, "{name}: {value}");
    }
}

#[test]
fn a_repeated_ce_header_is_rejected() {
    let error = decode_one(&with(&[("ce-id", "again")]), b"").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid header `ce-id`: appears more than once"
    );
}

#[test]
fn structured_mode_decodes_one_json_event_and_ignores_ce_headers() {
    let body = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi"}"#;
    let pairs = [
        (
            "content-type",
            "application/cloudevents+json; charset=UTF-8",
        ),
        ("ce-id", "not-this-one"),
    ];
    let event = decode_one(&pairs, body).unwrap();
    assert_eq!(event.attributes.id, "1");
    assert_eq!(event.data.as_deref(), Some(&b"hi"[..]));
}

#[test]
fn structured_mode_reports_json_errors_as_event_errors() {
    let pairs = [("content-type", "application/cloudevents+json")];
    let error = decode_one(&pairs, br#"{"specversion":"1.0"}"#).unwrap_err();
    assert_eq!(
        error,
        BindingError::Event(EventError::MissingAttribute { name: "id" })
    );
    assert!(matches!(
        decode_one(&pairs, b"{").unwrap_err(),
        BindingError::Event(EventError::Json { .. })
    ));
}

#[test]
fn batched_mode_decodes_every_event_and_names_a_bad_index() {
    let valid = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#;
    let headers = headers(&[("content-type", "Application/CloudEvents-Batch+JSON")]);
    let body = Bytes::from(format!("[{valid},{valid}]"));
    assert_eq!(
        decode_request(&headers, body, &synthesis()).unwrap().len(),
        2
    );
    let body = Bytes::from(format!(r#"[{valid},{{"specversion":"1.0"}}]"#));
    let error = decode_request(&headers, body, &synthesis()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "event 1: missing required attribute `id`"
    );
    assert!(is_batch_media_type(
        "application/cloudevents-batch+json; charset=utf-8"
    ));
    assert!(!is_batch_media_type("application/cloudevents+json"));
}

#[test]
fn other_cloudevents_media_types_and_charsets_are_unsupported() {
    for content_type in [
        "application/cloudevents+xml",
        "application/cloudevents",
        "application/cloudevents-batch+avro",
        "application/cloudevents+json; charset=iso-8859-1",
    ] {
        let error = decode_one(&[("content-type", content_type)], b"{}").unwrap_err();
        assert_eq!(
            error,
            BindingError::UnsupportedMediaType {
                content_type: content_type.to_owned()
            }
        );
    }
}

#[test]
fn plain_body_gets_synthesised_attributes() {
    let event = decode_one(&[("content-type", "text/plain")], b"hello").unwrap();
    let attributes = &event.attributes;
    assert_eq!(attributes.source, "weft://node-1/http");
    assert_eq!(attributes.ty, "weft.http.publish");
    assert_eq!(
        attributes.time.as_ref().unwrap().as_str(),
        "2023-11-14T22:13:20.25Z"
    );
    assert_eq!(attributes.datacontenttype.as_deref(), Some("text/plain"));
    assert_eq!(uuid_version(&attributes.id), Some('7'));
    assert_eq!(event.data.as_deref(), Some(&b"hello"[..]));
}

fn uuid_version(id: &str) -> Option<char> {
    (id.len() == 36).then(|| id.chars().nth(14)).flatten()
}

#[test]
fn synthesised_ids_are_unique_across_requests() {
    let first = decode_one(&[], b"a").unwrap();
    let second = decode_one(&[], b"a").unwrap();
    assert_ne!(first.attributes.id, second.attributes.id);
    assert_eq!(first.attributes.datacontenttype, None);
}

#[test]
fn plain_body_honours_ce_headers_that_are_present() {
    let pairs = [
        ("ce-type", "com.example.custom"),
        ("ce-id", "my-id"),
        ("ce-traceparent", "00-abc-01"),
        ("ce-time", "2020-01-01T00:00:00+01:00"),
    ];
    let event = decode_one(&pairs, b"").unwrap();
    let attributes = &event.attributes;
    assert_eq!(attributes.id, "my-id");
    assert_eq!(attributes.ty, "com.example.custom");
    assert_eq!(attributes.source, "weft://node-1/http");
    assert_eq!(
        attributes.time.as_ref().unwrap().as_str(),
        "2020-01-01T00:00:00+01:00"
    );
    assert_eq!(
        attributes.get("traceparent"),
        Some(AttributeValue::String("00-abc-01"))
    );
    assert_eq!(event.data, None);
}

#[test]
fn encode_binary_round_trips_through_decode_request() {
    let mut attributes =
        Attributes::new("id 1 €", "https://example.com/src", "com.example.t").unwrap();
    for (name, value) in [
        ("subject", "say \"hi\" 100%"),
        ("time", "2024-05-01T12:00:00.5+02:00"),
        ("datacontenttype", "application/json"),
        ("dataschema", "https://example.com/schema.json"),
        ("traceparent", "00-4bf9-01"),
        ("note", "rocket 🚀"),
    ] {
        attributes
            .set(name, ExtensionValue::String(value.to_owned()))
            .unwrap();
    }
    let event = CloudEvent::new(attributes, Some(Bytes::from_static(b"{\"a\":1}")));
    let mut headers = HeaderMap::new();
    let body = encode_binary(&event, &mut headers).unwrap();
    assert_eq!(headers["ce-subject"], "say%20%22hi%22%20100%25");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["ce-specversion"], "1.0");
    assert!(!headers.contains_key("ce-datacontenttype"));
    let decoded = decode_request(&headers, body, &synthesis()).unwrap();
    assert_eq!(decoded, vec![event]);
}

#[test]
fn encode_binary_writes_typed_extensions_in_canonical_form() {
    let mut attributes = Attributes::new("1", "/s", "t").unwrap();
    attributes
        .set("count", ExtensionValue::Integer(-42))
        .unwrap();
    attributes
        .set("flag", ExtensionValue::Boolean(true))
        .unwrap();
    let event = CloudEvent::new(attributes, None);
    let mut headers = HeaderMap::new();
    assert_eq!(encode_binary(&event, &mut headers), None);
    assert_eq!(headers["ce-count"], "-42");
    assert_eq!(headers["ce-flag"], "true");
    assert!(!headers.contains_key("content-type"));
    let decoded = decode_request(&headers, Bytes::new(), &synthesis()).unwrap();
    assert_eq!(
        decoded[0].attributes.get("count"),
        Some(AttributeValue::String("-42"))
    );
    assert_eq!(decoded[0].data, None);
}
