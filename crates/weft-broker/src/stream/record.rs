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
use weft_core::{AttributesBuilder, CloudEvent, Event, EventError, ExtensionValue, Topic};
use weft_log::Record;

/// Prefix of the headers that carry context attributes.
pub const ATTRIBUTE_PREFIX: &str = "ce_";
/// The header that carries `datacontenttype`.
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// The header that carries the topic.
pub const TOPIC_HEADER: &str = "weft_topic";
/// The header that carries the origin node.
pub const ORIGIN_HEADER: &str = "weft_origin";

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
pub fn encode(event: &Event) -> Record {
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
pub fn stored_size(record: &Record) -> usize {
    let optional = |bytes: &Option<Bytes>| bytes.as_ref().map_or(0, Bytes::len);
    optional(&record.key)
        + optional(&record.value)
        + record
            .headers
            .iter()
            .map(|(name, value)| name.len() + optional(value))
            .sum::<usize>()
}

/// The event `record` stores.
pub fn decode(record: Record) -> Result<Event, RecordError> {
    let mut builder = AttributesBuilder::new();
    let mut topic = None;
    let mut origin = None;
    for (header, value) in record.headers {
        let text = value
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .ok_or_else(|| RecordError::HeaderValue {
                header: header.clone(),
            })?
            .to_owned();
        if let Some(name) = header.strip_prefix(ATTRIBUTE_PREFIX) {
            builder
                .set(name, ExtensionValue::String(text))
                .map_err(RecordError::Attributes)?;
        } else if header == CONTENT_TYPE_HEADER {
            builder
                .set("datacontenttype", ExtensionValue::String(text))
                .map_err(RecordError::Attributes)?;
        } else if header == TOPIC_HEADER {
            topic = Some(Topic::new(text.clone()).map_err(|_| RecordError::Topic { topic: text })?);
        } else if header == ORIGIN_HEADER {
            origin = Some(text);
        } else {
            return Err(RecordError::UnexpectedHeader { header });
        }
    }
    let attributes = builder.build().map_err(RecordError::Attributes)?;
    let topic = topic.ok_or(RecordError::MissingHeader {
        header: TOPIC_HEADER,
    })?;
    let origin = origin.ok_or(RecordError::MissingHeader {
        header: ORIGIN_HEADER,
    })?;
    let mut event = Event::new(
        CloudEvent::new(attributes, record.value),
        topic,
        origin,
        time_from_millis(record.timestamp_ms),
    );
    event.key = record.key;
    Ok(event)
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

    #[test]
    fn event_round_trips_through_a_record() {
        let event = full_event();
        assert_eq!(decode(encode(&event)).unwrap(), event);
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
        assert_eq!(decode(record).unwrap(), event);
    }

    #[test]
    fn typed_extensions_come_back_as_strings() {
        let mut event = full_event();
        event
            .cloudevent
            .attributes
            .set("retries", ExtensionValue::Integer(3))
            .unwrap();
        let decoded = decode(encode(&event)).unwrap();
        assert_eq!(
            decoded.cloudevent.attributes.extensions.get("retries"),
            Some(&ExtensionValue::String("3".to_owned()))
        );
    }

    #[test]
    fn foreign_headers_are_rejected() {
        let mut record = encode(&full_event());
        record.headers.push(("x-other".to_owned(), None));
        assert!(matches!(
            decode(record),
            Err(RecordError::HeaderValue { .. } | RecordError::UnexpectedHeader { .. })
        ));
    }
}
