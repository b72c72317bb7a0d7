//! Events as stored records: the CloudEvents Kafka protocol binding, binary mode.
//!
//! Each event is one Kafka record (in the log's record batch v2):
//!
//! | record part | holds |
//! |---|---|
//! | key | the event key (`None` when the event has none) |
//! | value | the event data (`None` when the event has no data) |
//! | timestamp | `received_at`, milliseconds since the Unix epoch |
//! | header `ce_<name>` | every context attribute but `datacontenttype` (`ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_subject`, `ce_time`, `ce_dataschema`, extensions), as UTF-8 canonical strings |
//! | header `content-type` | `datacontenttype` |
//! | header `weft_topic` | the topic the event was published on |
//! | header `weft_origin` | the node it entered weft at |
//!
//! Decoding gives the event back, except that extension values come back as strings
//! (`ExtensionValue::String`; binary mode carries no types) and `received_at` is cut to
//! milliseconds. Any other header is an error: weft wrote every stored record.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use weft_core::{
    AttributesBuilder, CloudEvent, Event, EventError, ExtensionValue, Timestamp, Topic,
};
use weft_log::Record;

/// Prefix of the headers that carry context attributes.
pub(crate) const ATTRIBUTE_PREFIX: &str = "ce_";
/// The header that carries `datacontenttype`.
pub(crate) const CONTENT_TYPE_HEADER: &str = "content-type";
/// The header that carries the topic.
pub(crate) const TOPIC_HEADER: &str = "weft_topic";
/// The header that carries the origin node.
pub(crate) const ORIGIN_HEADER: &str = "weft_origin";

/// A stored record is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A header value is missing or not UTF-8.
    #[error("header {header} has no utf-8 value")]
    HeaderValue {
        /// The header.
        header: String,
    },
    /// A header weft does not write.
    #[error("unexpected header {header}")]
    UnexpectedHeader {
        /// The header.
        header: String,
    },
    /// The `weft_topic` or `weft_origin` header is missing.
    #[error("missing header {header}")]
    MissingHeader {
        /// The header.
        header: &'static str,
    },
    /// The topic is not a valid topic.
    #[error("invalid topic {topic}")]
    Topic {
        /// The stored topic.
        topic: String,
    },
    /// The attributes do not make a valid CloudEvent.
    #[error("invalid cloudevent attributes")]
    Attributes(#[source] EventError),
}

/// The record that stores `event`.
pub(crate) fn encode(event: &Event) -> Record {
    let attributes = &event.cloudevent.attributes;
    let mut headers = Vec::with_capacity(8 + attributes.extensions.len());
    for (name, value) in attributes.iter() {
        let value = Some(Bytes::from(value.canonical().into_owned()));
        if name == "datacontenttype" {
            headers.push((CONTENT_TYPE_HEADER.to_owned(), value));
        } else {
            headers.push((format!("{ATTRIBUTE_PREFIX}{name}"), value));
        }
    }
    headers.push((
        TOPIC_HEADER.to_owned(),
        Some(Bytes::copy_from_slice(event.topic.as_str().as_bytes())),
    ));
    headers.push((
        ORIGIN_HEADER.to_owned(),
        Some(Bytes::copy_from_slice(event.origin.as_bytes())),
    ));
    Record {
        timestamp_ms: millis_since_epoch(event.received_at),
        key: event.key.clone(),
        value: event.cloudevent.data.clone(),
        headers,
    }
}

/// Bytes `record` takes as stored, near enough for size limits: key, value and headers.
pub(crate) fn stored_size(record: &Record) -> usize {
    let optional = |bytes: &Option<Bytes>| bytes.as_ref().map_or(0, Bytes::len);
    optional(&record.key)
        + optional(&record.value)
        + record
            .headers
            .iter()
            .map(|(name, value)| name.len() + optional(value))
            .sum::<usize>()
}

/// Where a stored record sits, for what its headers do not say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position<'a> {
    /// Its stream (a Kafka record's topic is its stream's name).
    pub stream: &'a str,
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: u64,
    /// The node that stores it (the origin of records that carry none).
    pub node: &'a str,
}

/// The `type` of a Kafka record that is not a CloudEvent.
pub(crate) const SYNTHESISED_TYPE: &str = "weft.kafka.record";

/// The media type of a structured-mode CloudEvent.
const STRUCTURED_MEDIA_TYPE: &str = "application/cloudevents+json";

/// The event `record` stores, by the CloudEvents Kafka protocol binding:
///
/// - **binary mode**: `ce_*` headers are attributes, `content-type` is `datacontenttype`,
///   the value is the data (what weft itself writes);
/// - **structured mode**: a `content-type` of `application/cloudevents+json` makes the
///   value a JSON-format CloudEvent (if it does not parse, the record is read as plain);
/// - **plain**: a record without attributes gets them synthesised from its position, so
///   that every read of it gives the same event: `id` `STREAM-PARTITION-OFFSET`, `source`
///   `weft://NODE/kafka/STREAM`, `type` [`SYNTHESISED_TYPE`], `time` the record timestamp.
///   A binary-mode record missing `id`, `source` or `type` gets the same defaults.
///
/// `weft_topic` and `weft_origin` give the topic and origin; without them the topic is
/// the stream name and the origin is `position.node`. A header value that is not UTF-8
/// or not a valid attribute value is skipped, and other headers are not part of the
/// event (they stay in the stored record, which Kafka consumers get unchanged).
pub(crate) fn decode(record: Record, position: &Position<'_>) -> Result<Event, RecordError> {
    let mut builder = AttributesBuilder::new();
    let mut topic = None;
    let mut origin = None;
    let mut content_type = None;
    let mut binary = false;
    for (header, value) in &record.headers {
        let Some(text) = value
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
        else {
            continue;
        };
        if let Some(name) = header.strip_prefix(ATTRIBUTE_PREFIX) {
            binary |= builder
                .set(name, ExtensionValue::String(text.to_owned()))
                .is_ok();
        } else if header.eq_ignore_ascii_case(CONTENT_TYPE_HEADER) {
            content_type = Some(text);
        } else if header == TOPIC_HEADER {
            topic = Topic::new(text).ok();
        } else if header == ORIGIN_HEADER {
            origin = Some(text.to_owned());
        }
    }
    let topic = match topic {
        Some(topic) => topic,
        None => Topic::new(position.stream).map_err(|_| RecordError::Topic {
            topic: position.stream.to_owned(),
        })?,
    };
    let origin = origin.unwrap_or_else(|| position.node.to_owned());
    let received_at = time_from_millis(record.timestamp_ms);
    let structured = content_type.is_some_and(is_structured);
    if structured
        && !binary
        && let Some(cloudevent) = record
            .value
            .as_deref()
            .and_then(|value| weft_core::json::decode(value).ok())
    {
        let mut event = Event::new(cloudevent, topic, origin, received_at);
        event.key = record.key;
        return Ok(event);
    }
    if let Some(content_type) = content_type {
        // An invalid media type string is simply not recorded.
        let _ = builder.set(
            "datacontenttype",
            ExtensionValue::String(content_type.to_owned()),
        );
    }
    synthesise(&mut builder, position, record.timestamp_ms, binary);
    let attributes = builder.build().map_err(RecordError::Attributes)?;
    let mut event = Event::new(
        CloudEvent::new(attributes, record.value),
        topic,
        origin,
        received_at,
    );
    event.key = record.key;
    Ok(event)
}

/// Fills in what a plain record (or a binary one missing required attributes) lacks.
fn synthesise(
    builder: &mut AttributesBuilder,
    position: &Position<'_>,
    timestamp_ms: i64,
    binary: bool,
) {
    let defaults = [
        (
            "id",
            format!(
                "{}-{}-{}",
                position.stream, position.partition, position.offset
            ),
        ),
        (
            "source",
            format!("weft://{}/kafka/{}", position.node, position.stream),
        ),
        ("type", SYNTHESISED_TYPE.to_owned()),
    ];
    for (name, value) in defaults {
        if builder.get(name).is_none() {
            // The defaults are valid values.
            let _ = builder.set(name, ExtensionValue::String(value));
        }
    }
    if !binary && let Ok(time) = Timestamp::from_system_time(time_from_millis(timestamp_ms)) {
        let _ = builder.set("time", ExtensionValue::String(time.to_string()));
    }
}

/// True for `application/cloudevents+json` (any case, with or without parameters).
fn is_structured(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(STRUCTURED_MEDIA_TYPE))
}

/// Milliseconds since the Unix epoch (negative before it, saturating).
pub(crate) fn millis_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

pub(crate) fn time_from_millis(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use weft_core::{Attributes, Timestamp};

    use super::*;

    fn at_millis(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn full_event() -> Event {
        let mut attributes = Attributes::new("id-1", "/sensors/7", "com.example.reading").unwrap();
        attributes.subject = Some("room-3".to_owned());
        attributes.time = Some(Timestamp::parse("2024-05-01T12:00:00.123Z").unwrap());
        attributes.datacontenttype = Some("application/json".to_owned());
        attributes.dataschema = Some("https://example.com/schema".to_owned());
        attributes.set("traceparent", "00-abc-01".into()).unwrap();
        attributes.set("partitionkey", "k1".into()).unwrap();
        let mut event = Event::new(
            CloudEvent::new(attributes, Some(Bytes::from_static(b"{\"t\":21.5}"))),
            Topic::new("sensors/eu/7").unwrap(),
            "node-a",
            at_millis(1_714_564_800_123),
        );
        event.key = Some(Bytes::from_static(b"sensor-7"));
        event
    }

    const POSITION: Position<'static> = Position {
        stream: "orders",
        partition: 2,
        offset: 41,
        node: "node-b",
    };

    #[test]
    fn event_round_trips_through_a_record() {
        let event = full_event();
        assert_eq!(decode(encode(&event), &POSITION).unwrap(), event);
    }

    #[test]
    fn record_uses_the_kafka_binary_mode_headers() {
        let record = encode(&full_event());
        let names: Vec<&str> = record
            .headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "ce_specversion",
                "ce_id",
                "ce_source",
                "ce_type",
                "ce_subject",
                "ce_time",
                "content-type",
                "ce_dataschema",
                "ce_partitionkey",
                "ce_traceparent",
                "weft_topic",
                "weft_origin"
            ]
        );
        assert_eq!(record.headers[0].1.as_deref(), Some(&b"1.0"[..]));
        assert_eq!(record.key.as_deref(), Some(&b"sensor-7"[..]));
        assert_eq!(record.timestamp_ms, 1_714_564_800_123);
    }

    #[test]
    fn event_without_data_or_key_round_trips_as_null_value_and_key() {
        let event = Event::new(
            CloudEvent::new(Attributes::new("x", "s", "t").unwrap(), None),
            Topic::new("a/b").unwrap(),
            "n",
            at_millis(5),
        );
        let record = encode(&event);
        assert_eq!((record.key.as_ref(), record.value.as_ref()), (None, None));
        assert_eq!(decode(record, &POSITION).unwrap(), event);
    }

    #[test]
    fn typed_extensions_come_back_as_strings() {
        let mut event = full_event();
        event
            .cloudevent
            .attributes
            .set("retries", ExtensionValue::Integer(3))
            .unwrap();
        let decoded = decode(encode(&event), &POSITION).unwrap();
        assert_eq!(
            decoded.cloudevent.attributes.extensions.get("retries"),
            Some(&ExtensionValue::String("3".to_owned()))
        );
    }

    fn plain_record(headers: Vec<(&str, &str)>, value: &str) -> Record {
        Record {
            timestamp_ms: 1_714_564_800_123,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: headers
                .into_iter()
                .map(|(name, value)| {
                    (
                        name.to_owned(),
                        Some(Bytes::copy_from_slice(value.as_bytes())),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn foreign_headers_are_not_part_of_the_event() {
        let mut record = encode(&full_event());
        record.headers.push(("x-other".to_owned(), None));
        record
            .headers
            .push(("traceId".to_owned(), Some(Bytes::from_static(b"\xff"))));
        assert_eq!(decode(record, &POSITION).unwrap(), full_event());
    }

    #[test]
    fn a_plain_record_gets_attributes_from_its_position() {
        let event = decode(plain_record(vec![("x-team", "a")], "hello"), &POSITION).unwrap();
        let attributes = &event.cloudevent.attributes;
        assert_eq!(attributes.id, "orders-2-41");
        assert_eq!(attributes.source, "weft://node-b/kafka/orders");
        assert_eq!(attributes.ty, SYNTHESISED_TYPE);
        assert_eq!(
            attributes.time.as_ref().map(ToString::to_string).as_deref(),
            Some("2024-05-01T12:00:00.123Z")
        );
        assert_eq!(event.topic.as_str(), "orders");
        assert_eq!(event.origin, "node-b");
        assert_eq!(event.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(event.cloudevent.data.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn binary_mode_headers_from_a_kafka_producer_are_attributes() {
        let record = plain_record(
            vec![
                ("ce_specversion", "1.0"),
                ("ce_id", "abc"),
                ("ce_source", "/producer"),
                ("ce_type", "com.example.made"),
                ("content-type", "text/plain"),
                ("ce_team", "blue"),
            ],
            "data",
        );
        let event = decode(record, &POSITION).unwrap();
        let attributes = &event.cloudevent.attributes;
        assert_eq!(
            (
                attributes.id.as_str(),
                attributes.source.as_str(),
                attributes.ty.as_str()
            ),
            ("abc", "/producer", "com.example.made")
        );
        assert_eq!(attributes.datacontenttype.as_deref(), Some("text/plain"));
        assert_eq!(
            attributes.time, None,
            "binary mode gets no synthesised time"
        );
        assert_eq!(
            attributes.extensions.get("team"),
            Some(&ExtensionValue::String("blue".to_owned()))
        );
    }

    #[test]
    fn structured_mode_values_are_json_cloudevents() {
        let record = plain_record(
            vec![(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )],
            r#"{"specversion":"1.0","id":"s-1","source":"/s","type":"t","data":{"n":1}}"#,
        );
        let event = decode(record, &POSITION).unwrap();
        assert_eq!(event.cloudevent.attributes.id, "s-1");
        assert_eq!(event.cloudevent.data.as_deref(), Some(&br#"{"n":1}"#[..]));
    }

    #[test]
    fn an_unparsable_structured_value_is_read_as_plain() {
        let record = plain_record(
            vec![("content-type", "application/cloudevents+json")],
            "nope",
        );
        let event = decode(record, &POSITION).unwrap();
        assert_eq!(event.cloudevent.attributes.id, "orders-2-41");
        assert_eq!(event.cloudevent.data.as_deref(), Some(&b"nope"[..]));
    }
}
