//! The small part of the CloudEvents HTTP binding an HTTP sink needs: binary-mode
//! request headers, decoding a CloudEvent from a sink's reply, and `Retry-After`.
//!
//! The percent-encoding of `ce-` header values is `weft_core::percent`, shared with the
//! HTTP front end.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use weft_core::{AttributesBuilder, CloudEvent, ExtensionValue, json};

pub use weft_core::percent::encode_header_value;

/// Decodes a percent-encoded header value; `None` when it is malformed or not UTF-8.
fn decode_header_value(value: &[u8]) -> Option<String> {
    weft_core::percent::decode_header_value(value).ok()
}

/// Writes `event`'s attributes as `ce-` headers (and `datacontenttype` as
/// `Content-Type`) into `headers`; returns the body (the data).
pub fn encode_binary(event: &CloudEvent, headers: &mut HeaderMap) -> Option<Bytes> {
    for (name, value) in event.attributes.iter() {
        let text = value.canonical();
        if name == "datacontenttype" {
            if let Ok(value) = HeaderValue::try_from(text.as_ref()) {
                headers.insert(CONTENT_TYPE, value);
            }
            continue;
        }
        let header = HeaderName::try_from(format!("ce-{name}"));
        let value = HeaderValue::try_from(encode_header_value(&text));
        // Attribute names are `a-z0-9` and encoded values printable ASCII: neither
        // conversion fails for a valid event.
        if let (Ok(header), Ok(value)) = (header, value) {
            headers.insert(header, value);
        }
    }
    event.data.clone()
}

/// Why a reply is not a CloudEvent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A `ce-` header or the `Content-Type` is not a valid attribute value.
    #[error("invalid reply header `{name}`")]
    Header {
        /// The header.
        name: String,
    },
    /// The attributes or the structured body do not make a valid event.
    #[error("invalid reply event: {0}")]
    Event(#[from] weft_core::EventError),
}

/// The CloudEvent a sink replied with: structured (`application/cloudevents+json`) or
/// binary (a `ce-specversion` header). `Ok(None)`: the reply carries no event.
///
/// # Errors
/// A reply that claims to be an event but is not a valid one.
pub fn decode_reply(headers: &HeaderMap, body: Bytes) -> Result<Option<CloudEvent>, ReplyError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let essence = content_type
        .and_then(|text| text.split(';').next())
        .map(str::trim);
    if essence.is_some_and(|essence| essence.eq_ignore_ascii_case(json::MEDIA_TYPE)) {
        return Ok(Some(json::decode(&body)?));
    }
    if !headers.contains_key("ce-specversion") {
        return Ok(None);
    }
    let mut builder = AttributesBuilder::new();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let invalid = || ReplyError::Header {
            name: name.to_string(),
        };
        let text = decode_header_value(value.as_bytes()).ok_or_else(invalid)?;
        builder
            .set(attribute, ExtensionValue::String(text))
            .map_err(|_| invalid())?;
    }
    if let Some(content_type) = content_type {
        builder
            .set(
                "datacontenttype",
                ExtensionValue::String(content_type.to_owned()),
            )
            .map_err(|_| ReplyError::Header {
                name: CONTENT_TYPE.to_string(),
            })?;
    }
    let attributes = builder.build()?;
    let data = (!body.is_empty() || content_type.is_some()).then_some(body);
    Ok(Some(CloudEvent::new(attributes, data)))
}

/// The wait a `Retry-After` value asks for: delay-seconds, or an HTTP date (IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`) relative to `now`. A date in the past is zero.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (the preferred HTTP date format).
fn parse_http_date(text: &str) -> Option<SystemTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = text.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, clock, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|name| name == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let clock: Vec<i64> = clock
        .split(':')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    let [hour, minute, second] = clock.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *hour > 23 || *minute > 59 || *second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    let seconds = u64::try_from(seconds).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_percent_encoded_like_weft_http() {
        assert_eq!(encode_header_value("plain/text-1"), "plain/text-1");
        assert_eq!(encode_header_value("a b\"%é"), "a%20b%22%25%C3%A9");
        assert_eq!(
            decode_header_value(b"a%20b%22%25%C3%A9").as_deref(),
            Some("a b\"%é")
        );
        assert_eq!(decode_header_value(b"%zz"), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:39 GMT", now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn binary_replies_decode_and_plain_replies_are_not_events() {
        let mut headers = HeaderMap::new();
        assert_eq!(decode_reply(&headers, Bytes::from_static(b"ok")), Ok(None));
        headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
        headers.insert("ce-id", HeaderValue::from_static("r1"));
        headers.insert("ce-source", HeaderValue::from_static("/billing"));
        headers.insert("ce-type", HeaderValue::from_static("receipt%20issued"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let event = decode_reply(&headers, Bytes::from_static(b"{}"))
            .unwrap()
            .unwrap();
        assert_eq!(event.attributes.ty, "receipt issued");
        assert_eq!(event.data.as_deref(), Some(&b"{}"[..]));
    }
}
