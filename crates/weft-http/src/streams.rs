//! The streams API: create, update, list, describe and delete streams, and read a stream
//! by offset or time (`/v1/streams…`). The request and response shapes are documented in
//! `docs/streams.md` and the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use weft_broker::{
    FlushPolicy, ReadFrom, SettingsError, StoredEvent, StreamConfig, StreamError, StreamInfo,
    StreamName, StreamSettingsForm,
};
use weft_core::{Filter, Timestamp};

use crate::context::{HttpContext, request_principal};
use crate::problem::Problem;

/// A number, or text with a unit; the consumers API reads its durations with it too.
pub(crate) use weft_core::units::Quantity;

/// Most events one read returns.
const MAX_READ_EVENTS: usize = 10_000;
/// Events one read returns unless `max` says otherwise.
const DEFAULT_READ_EVENTS: usize = 100;

/// The body of `POST /v1/streams` and `PUT /v1/streams/{name}`: an optional `name` and
/// the stream's settings in the broker's one document form.
#[derive(Debug)]
struct StreamBody {
    name: Option<String>,
    settings: StreamSettingsForm,
}

/// A duration field of a request: milliseconds or text.
pub(crate) fn duration(field: &str, quantity: &Quantity) -> Result<Duration, Problem> {
    quantity
        .millis()
        .map_err(|error| Problem::invalid_parameter(format!("`{field}`: {error}")))
}

/// Settings that do not read: a bad filter is `invalid-filter`, anything else
/// `invalid-parameter`, the detail naming the setting.
fn settings_problem(error: &SettingsError) -> Problem {
    match error {
        SettingsError::Filter { error, .. } => Problem::invalid_filter(error),
        other => Problem::invalid_parameter(weft_core::error_chain(other)),
    }
}

/// The flush policy as this API has always answered it: an interval in milliseconds
/// (`interval:1000ms`, where the canonical text is `interval:1s`), which clients may parse.
fn flush_text(flush: &FlushPolicy) -> String {
    match flush {
        FlushPolicy::Interval(every) => format!("interval:{}ms", every.as_millis()),
        other => other.to_string(),
    }
}

pub(crate) fn stream_name(text: &str) -> Result<StreamName, Problem> {
    text.parse::<StreamName>().map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-stream-name",
            "invalid stream name",
            error.to_string(),
        )
    })
}

fn config_from(name: StreamName, body: StreamBody) -> Result<StreamConfig, Problem> {
    let settings = body
        .settings
        .parse()
        .map_err(|error| settings_problem(&error))?;
    Ok(StreamConfig { name, settings })
}

/// Reads a definition: `name` is this API's own field, everything else the settings'
/// form (which refuses unknown fields). Values are read later, by [`config_from`].
fn parse_body(bytes: &[u8]) -> Result<StreamBody, Problem> {
    let invalid = |error: serde_json::Error| {
        Problem::invalid_parameter(format!("invalid stream definition: {error}"))
    };
    let mut object: serde_json::Map<String, Value> =
        serde_json::from_slice(bytes).map_err(invalid)?;
    let name = match object.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(other) => {
            return Err(Problem::invalid_parameter(format!(
                "invalid stream definition: `name` must be a string, got {other}"
            )));
        }
    };
    let settings = serde_json::from_value(Value::Object(object)).map_err(invalid)?;
    Ok(StreamBody { name, settings })
}

/// The JSON form of a stream, shared by every answer that shows one.
pub(crate) fn info_json(info: &StreamInfo) -> Value {
    let config = &info.config;
    let retention = &config.retention;
    let partitions: Vec<Value> = info
        .partitions
        .iter()
        .map(|partition| {
            json!({
                "partition": partition.partition,
                "first_offset": partition.first_offset,
                "next_offset": partition.next_offset,
                "bytes": partition.bytes,
            })
        })
        .collect();
    let events = info.stored_events();
    let bytes = info.stored_bytes();
    json!({
        "name": config.name.as_str(),
        "filters": config.filters.iter().map(Filter::as_str).collect::<Vec<_>>(),
        "partitions": config.partitions,
        "retention": {
            "max_age_ms": retention.max_age.map(|age| age.as_millis() as u64),
            "max_bytes": retention.max_bytes,
            "max_events": retention.max_events,
        },
        "compact": config.compact,
        "max_event_bytes": config.max_event_bytes,
        "dedupe_window_ms": config.dedupe_window.as_millis() as u64,
        "flush": flush_text(&config.flush),
        "discard": config.discard.as_str(),
        "events": events,
        "bytes": bytes,
        "partition_offsets": partitions,
    })
}

impl From<StreamError> for Problem {
    fn from(error: StreamError) -> Self {
        let detail = error.to_string();
        match error {
            StreamError::NotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "stream-not-found",
                "stream not found",
                detail,
            ),
            StreamError::AlreadyExists { .. } => Self::new(
                StatusCode::CONFLICT,
                "stream-exists",
                "stream already exists",
                detail,
            ),
            StreamError::Invalid { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-stream",
                "invalid stream definition",
                detail,
            ),
            StreamError::Full { .. } => Self::stream_full(detail),
            StreamError::Denied(denied) => denied.into(),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "storage unavailable",
                detail,
            ),
        }
    }
}

pub(crate) async fn create(
    State(context): State<HttpContext>,
    body: axum::body::Bytes,
) -> Response {
    let outcome = async {
        let body = parse_body(&body)?;
        let name = body
            .name
            .as_deref()
            .ok_or_else(|| Problem::invalid_parameter("a stream definition needs a `name`"))
            .and_then(stream_name)?;
        let config = config_from(name, body)?;
        let info = context
            .broker
            .create_stream(&request_principal(), config)
            .await?;
        Ok::<_, Problem>((StatusCode::CREATED, Json(info_json(&info))).into_response())
    };
    outcome
        .await
        .unwrap_or_else(|problem| context.reject(problem))
}

pub(crate) async fn update(
    State(context): State<HttpContext>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let outcome = async {
        let name = stream_name(&name)?;
        let body = parse_body(&body)?;
        if body
            .name
            .as_deref()
            .is_some_and(|given| given != name.as_str())
        {
            return Err(Problem::invalid_parameter(
                "the `name` in the body differs from the one in the path",
            ));
        }
        let config = config_from(name, body)?;
        let info = context
            .broker
            .update_stream(&request_principal(), config)
            .await?;
        Ok(Json(info_json(&info)).into_response())
    };
    outcome
        .await
        .unwrap_or_else(|problem| context.reject(problem))
}

pub(crate) async fn list(State(context): State<HttpContext>) -> Response {
    let all: Vec<Value> = context
        .broker
        .list_streams(&request_principal())
        .await
        .iter()
        .map(info_json)
        .collect();
    Json(json!({ "streams": all })).into_response()
}

pub(crate) async fn describe(
    State(context): State<HttpContext>,
    Path(name): Path<String>,
) -> Response {
    let outcome = async {
        let name = stream_name(&name)?;
        let info = context
            .broker
            .describe_stream(&request_principal(), &name)
            .await?;
        Ok::<_, Problem>(Json(info_json(&info)).into_response())
    };
    outcome
        .await
        .unwrap_or_else(|problem| context.reject(problem))
}

pub(crate) async fn delete(
    State(context): State<HttpContext>,
    Path(name): Path<String>,
) -> Response {
    let outcome = async {
        let name = stream_name(&name)?;
        context
            .broker
            .delete_stream(&request_principal(), &name)
            .await?;
        Ok::<_, Problem>(StatusCode::NO_CONTENT.into_response())
    };
    outcome
        .await
        .unwrap_or_else(|problem| context.reject(problem))
}

/// The query of a stream read.
#[derive(Debug)]
struct ReadQuery {
    partition: Option<u32>,
    from: ReadFrom,
    max: usize,
}

fn parse_read_query(raw: Option<&str>) -> Result<ReadQuery, Problem> {
    let mut query = ReadQuery {
        partition: None,
        from: ReadFrom::Earliest,
        max: DEFAULT_READ_EVENTS,
    };
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*name {
            "partition" => {
                query.partition = Some(value.parse().map_err(|_| {
                    Problem::invalid_parameter(format!(
                        "`partition` must be a partition number, got `{value}`"
                    ))
                })?);
            }
            "from" => query.from = parse_from(&value)?,
            "max" => {
                query.max = value
                    .parse::<usize>()
                    .ok()
                    .filter(|max| (1..=MAX_READ_EVENTS).contains(max))
                    .ok_or_else(|| {
                        Problem::invalid_parameter(format!(
                            "`max` must be from 1 to {MAX_READ_EVENTS}, got `{value}`"
                        ))
                    })?;
            }
            other => {
                return Err(Problem::invalid_parameter(format!(
                    "unknown query parameter `{other}`; expected `partition`, `from` or `max`"
                )));
            }
        }
    }
    Ok(query)
}

/// `earliest`, `latest`, an offset, or an RFC 3339 time.
pub(crate) fn parse_from(text: &str) -> Result<ReadFrom, Problem> {
    match text {
        "earliest" => Ok(ReadFrom::Earliest),
        "latest" => Ok(ReadFrom::Latest),
        _ => {
            if let Ok(offset) = text.parse::<u64>() {
                return Ok(ReadFrom::Offset(offset));
            }
            let time = Timestamp::parse(text).map_err(|_| {
                Problem::invalid_parameter(format!(
                    "`from` must be `earliest`, `latest`, an offset or an RFC 3339 time, got `{text}`"
                ))
            })?;
            time.to_system_time().map(ReadFrom::Time).ok_or_else(|| {
                Problem::invalid_parameter(format!("`from` time `{text}` is out of range"))
            })
        }
    }
}

/// One stored event as JSON: the CloudEvent with `wefttopic`, `weftpartition` and
/// `weftoffset` added.
pub(crate) fn stored_json(stored: &StoredEvent) -> Box<serde_json::value::RawValue> {
    let partition = stored.partition.to_string();
    let offset = stored.offset.to_string();
    let more = [
        ("weftpartition", partition.as_str()),
        ("weftoffset", offset.as_str()),
    ];
    crate::subscribe::raw_json(crate::subscribe::encode_event_with(&stored.event, &more))
}

/// The answer of a stream read.
#[derive(serde::Serialize)]
struct ReadAnswer {
    events: Vec<Box<serde_json::value::RawValue>>,
}

pub(crate) async fn read(
    State(context): State<HttpContext>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let outcome = async {
        let name = stream_name(&name)?;
        let query = parse_read_query(raw.as_deref())?;
        let events = context
            .broker
            .read_stream(
                &request_principal(),
                &name,
                query.partition,
                query.from,
                query.max,
            )
            .await?;
        let events = events.iter().map(stored_json).collect();
        Ok::<_, Problem>(Json(ReadAnswer { events }).into_response())
    };
    outcome
        .await
        .unwrap_or_else(|problem| context.reject(problem))
}

#[cfg(test)]
mod tests {
    use weft_broker::Discard;

    use super::*;

    #[test]
    fn stream_definitions_accept_units_and_reject_unknown_fields() {
        let body = parse_body(
            br#"{"name":"orders","filters":["orders/>"],"partitions":3,
                 "retention":{"max_age":"7d","max_bytes":"1GiB","max_events":10},
                 "max_event_bytes":2048,"dedupe_window":"30s","flush":"interval:250ms",
                 "discard":"new"}"#,
        )
        .unwrap();
        let config = config_from(stream_name("orders").unwrap(), body).unwrap();
        assert_eq!(config.partitions, 3);
        assert_eq!(
            config.retention.max_age,
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(config.retention.max_bytes, Some(1 << 30));
        assert_eq!(config.max_event_bytes, 2048);
        assert_eq!(config.dedupe_window, Duration::from_secs(30));
        assert_eq!(
            config.flush,
            FlushPolicy::Interval(Duration::from_millis(250))
        );
        assert_eq!(config.discard, Discard::New);
        let body = parse_body(br#"{"filters":["a"],"discard":"newest"}"#).unwrap();
        let error = config_from(stream_name("x").unwrap(), body).unwrap_err();
        assert!(error.detail.contains("`discard`"), "{}", error.detail);
        let error = parse_body(br#"{"name":"x","filters":["a"],"partitons":2}"#).unwrap_err();
        assert!(error.detail.contains("partitons"), "{}", error.detail);
    }

    /// The request forms the API has always taken: numbers (milliseconds, bytes), text
    /// with units, `null`, and each flush spelling.
    #[test]
    fn stream_definitions_accept_numbers_text_and_null() {
        let body = parse_body(
            br#"{"filters":["a"],"retention":{"max_age":3600000,"max_bytes":4096,"max_events":null},
                 "max_event_bytes":"2KiB","dedupe_window":0,"flush":"interval","compact":true}"#,
        )
        .unwrap();
        let config = config_from(stream_name("x").unwrap(), body).unwrap();
        assert_eq!(config.retention.max_age, Some(Duration::from_secs(3600)));
        assert_eq!(config.retention.max_bytes, Some(4096));
        assert_eq!(config.max_event_bytes, 2048);
        assert_eq!(config.dedupe_window, Duration::ZERO);
        assert_eq!(
            config.flush,
            FlushPolicy::Interval(Duration::from_millis(100))
        );
        assert!(config.compact);
        for (flush, expected) in [
            ("always", FlushPolicy::Always),
            ("never", FlushPolicy::Never),
        ] {
            let text = format!(r#"{{"filters":["a"],"flush":"{flush}"}}"#);
            let config = config_from(
                stream_name("x").unwrap(),
                parse_body(text.as_bytes()).unwrap(),
            )
            .unwrap();
            assert_eq!(config.flush, expected);
        }
        let defaults = config_from(
            stream_name("x").unwrap(),
            parse_body(br#"{"filters":["a"]}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(defaults.partitions, 1);
        assert_eq!(defaults.dedupe_window, Duration::from_secs(120));
        assert_eq!(defaults.max_event_bytes, 1 << 20);
        for bad in [
            r#"{"filters":["a"],"flush":"sometimes"}"#,
            r#"{"filters":["a"],"flush":"interval:soon"}"#,
            r#"{"filters":["a"],"dedupe_window":"5"}"#,
            r#"{"filters":["a"],"retention":{"max_bytes":"lots"}}"#,
        ] {
            let outcome = parse_body(bad.as_bytes())
                .and_then(|body| config_from(stream_name("x").unwrap(), body));
            assert_eq!(
                outcome.unwrap_err().kind,
                "urn:weft:problem:invalid-parameter",
                "{bad}"
            );
        }
        let body = parse_body(br#"{"filters":["a/#"]}"#).unwrap();
        let error = config_from(stream_name("x").unwrap(), body).unwrap_err();
        assert_eq!(error.kind, "urn:weft:problem:invalid-filter");
    }

    /// The answer's shape is a contract with clients: milliseconds for durations, the
    /// flush interval in milliseconds.
    #[test]
    fn described_streams_keep_their_json_shape() {
        let body = parse_body(
            br#"{"filters":["orders/>","b"],"partitions":2,
                 "retention":{"max_age":"7d","max_bytes":"1GiB","max_events":10},
                 "max_event_bytes":2048,"dedupe_window":"90s","flush":"interval:1500ms",
                 "discard":"new","compact":true}"#,
        )
        .unwrap();
        let config = config_from(stream_name("orders").unwrap(), body).unwrap();
        let info = StreamInfo {
            config,
            partitions: vec![weft_broker::PartitionInfo {
                partition: 0,
                first_offset: 2,
                next_offset: 5,
                bytes: 300,
            }],
        };
        assert_eq!(
            info_json(&info).to_string(),
            "{\"bytes\":300,\"compact\":true,\"dedupe_window_ms\":90000,\"discard\":\"new\",\"events\":3,\"filters\":[\"orders/>\",\"b\"],\"flush\":\"interval:1500ms\",\"max_event_bytes\":2048,\"name\":\"orders\",\"partition_offsets\":[{\"bytes\":300,\"first_offset\":2,\"next_offset\":5,\"partition\":0}],\"partitions\":2,\"retention\":{\"max_age_ms\":604800000,\"max_bytes\":1073741824,\"max_events\":10}}"
        );
    }

    #[test]
    fn read_positions_parse() {
        assert!(matches!(
            parse_from("earliest").unwrap(),
            ReadFrom::Earliest
        ));
        assert!(matches!(parse_from("latest").unwrap(), ReadFrom::Latest));
        assert!(matches!(parse_from("42").unwrap(), ReadFrom::Offset(42)));
        assert!(matches!(
            parse_from("2026-11-22T10:00:00Z").unwrap(),
            ReadFrom::Time(_)
        ));
        assert!(parse_from("yesterday").is_err());
        assert!(parse_read_query(Some("max=0")).is_err());
        assert!(parse_read_query(Some("offset=1")).is_err());
    }
}
