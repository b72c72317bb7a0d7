//! The durable consumers API (`/v1/streams/{stream}/consumers…`): create, list, describe
//! and delete consumers; pull deliveries (long poll) or receive them pushed over SSE; and
//! ack, nack or terminate them by delivery token. Shapes are in `docs/consumers.md` and
//! the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt as _};
use serde::Deserialize;
use serde_json::{Value, json};
use weft_broker::{
    Backoff, Broker, ConsumerConfig, ConsumerError, ConsumerInfo, ConsumerName, DeadLetter,
    Delivery, DeliveryToken, KeyOrdering, Principal, StartPosition, StreamName,
};
use weft_core::{Timestamp, Topic};

use crate::context::{HttpContext, request_principal};
use crate::problem::Problem;
use crate::streams::{Quantity, duration, stream_name};

/// Most deliveries one pull returns.
const MAX_PULL: usize = 1000;
/// Longest long-poll wait.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// How long a push (SSE) consumer waits per pull before it sends a keep-alive.
const PUSH_WAIT: Duration = Duration::from_secs(15);
/// Deliveries one push pull asks for.
const PUSH_BATCH: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum BackoffBody {
    Delays(Vec<Quantity>),
    Exponential {
        initial: Quantity,
        max: Quantity,
        #[serde(default)]
        jitter: bool,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum DeadLetterBody {
    Topic(String),
    Stream(String),
}

/// The body of `POST /v1/streams/{stream}/consumers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerBody {
    name: String,
    start: Option<String>,
    ack_wait: Option<Quantity>,
    max_deliveries: Option<u32>,
    backoff: Option<BackoffBody>,
    max_in_flight: Option<usize>,
    ordering: Option<String>,
    dead_letter: Option<DeadLetterBody>,
}

fn consumer_name(text: &str) -> Result<ConsumerName, Problem> {
    text.parse::<ConsumerName>().map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-consumer-name",
            "invalid consumer name",
            error.to_string(),
        )
    })
}

fn parse_start(text: &str) -> Result<StartPosition, Problem> {
    match text {
        "all" | "earliest" => Ok(StartPosition::All),
        "new" | "latest" => Ok(StartPosition::New),
        "last-per-key" => Ok(StartPosition::LastPerKey),
        other => {
            if let Ok(offset) = other.parse::<u64>() {
                return Ok(StartPosition::Offset(offset));
            }
            Timestamp::parse(other)
                .ok()
                .and_then(|time| time.to_system_time())
                .map(StartPosition::Time)
                .ok_or_else(|| {
                    Problem::invalid_parameter(format!(
                        "`start` must be `all`, `new`, `last-per-key`, an offset or an RFC 3339 time, got `{other}`"
                    ))
                })
        }
    }
}

fn config_from(stream: StreamName, body: ConsumerBody) -> Result<ConsumerConfig, Problem> {
    let mut config = ConsumerConfig::new(stream, consumer_name(&body.name)?);
    if let Some(start) = &body.start {
        config.start = parse_start(start)?;
    }
    if let Some(wait) = &body.ack_wait {
        config.ack_wait = duration("ack_wait", wait)?;
    }
    if let Some(max) = body.max_deliveries {
        config.max_deliveries = max;
    }
    if let Some(backoff) = &body.backoff {
        config.backoff = match backoff {
            BackoffBody::Delays(delays) => Backoff::Delays(
                delays
                    .iter()
                    .map(|delay| duration("backoff.delays", delay))
                    .collect::<Result<_, _>>()?,
            ),
            BackoffBody::Exponential {
                initial,
                max,
                jitter,
            } => Backoff::Exponential {
                initial: duration("backoff.exponential.initial", initial)?,
                max: duration("backoff.exponential.max", max)?,
                jitter: *jitter,
            },
        };
    }
    if let Some(max) = body.max_in_flight {
        config.max_in_flight = max;
    }
    if let Some(ordering) = &body.ordering {
        config.ordering = match ordering.as_str() {
            "none" => KeyOrdering::None,
            "key" => KeyOrdering::ByKey,
            other => {
                return Err(Problem::invalid_parameter(format!(
                    "`ordering` must be `none` or `key`, got `{other}`"
                )));
            }
        };
    }
    config.dead_letter = match &body.dead_letter {
        None => None,
        Some(DeadLetterBody::Topic(topic)) => Some(DeadLetter::Topic(
            Topic::new(topic.clone()).map_err(|error| Problem::invalid_topic(&error))?,
        )),
        Some(DeadLetterBody::Stream(stream)) => Some(DeadLetter::Stream(stream_name(stream)?)),
    };
    Ok(config)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn start_text(start: &StartPosition) -> String {
    match start {
        StartPosition::All => "all".to_owned(),
        StartPosition::New => "new".to_owned(),
        StartPosition::LastPerKey => "last-per-key".to_owned(),
        StartPosition::Offset(offset) => offset.to_string(),
        StartPosition::Time(time) => Timestamp::from_system_time(*time)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    }
}

fn info_json(info: &ConsumerInfo) -> Value {
    let config = &info.config;
    let backoff = match &config.backoff {
        Backoff::Delays(delays) => {
            json!({"delays_ms": delays.iter().map(|d| millis(*d)).collect::<Vec<_>>()})
        }
        Backoff::Exponential {
            initial,
            max,
            jitter,
        } => {
            json!({"exponential": {"initial_ms": millis(*initial), "max_ms": millis(*max), "jitter": jitter}})
        }
    };
    let dead_letter = match &config.dead_letter {
        None => Value::Null,
        Some(DeadLetter::Topic(topic)) => json!({"topic": topic.as_str()}),
        Some(DeadLetter::Stream(stream)) => json!({"stream": stream.as_str()}),
    };
    json!({
        "stream": config.stream.as_str(),
        "name": config.name.as_str(),
        "start": start_text(&config.start),
        "ack_wait_ms": millis(config.ack_wait),
        "max_deliveries": config.max_deliveries,
        "backoff": backoff,
        "max_in_flight": config.max_in_flight,
        "ordering": match config.ordering { KeyOrdering::None => "none", KeyOrdering::ByKey => "key" },
        "dead_letter": dead_letter,
        "pending": info.pending,
        "in_flight": info.in_flight,
        "redelivered": info.redelivered,
        "acked": info.acked,
        "dead_lettered": info.dead_lettered,
        "members": info.members,
    })
}

/// One delivery as JSON; its event is embedded as encoded.
#[derive(serde::Serialize)]
struct DeliveryJson {
    token: String,
    partition: u32,
    offset: u64,
    attempt: u32,
    event: Box<serde_json::value::RawValue>,
}

fn delivery_json(delivery: &Delivery) -> DeliveryJson {
    DeliveryJson {
        token: delivery.token.to_string(),
        partition: delivery.partition,
        offset: delivery.offset,
        attempt: delivery.attempt,
        event: crate::subscribe::raw_json(crate::subscribe::encode_event(&delivery.event)),
    }
}

impl From<ConsumerError> for Problem {
    fn from(error: ConsumerError) -> Self {
        let detail = error.to_string();
        match error {
            ConsumerError::Denied(denied) => denied.into(),
            ConsumerError::StreamNotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "stream-not-found",
                "stream not found",
                detail,
            ),
            ConsumerError::NotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "consumer-not-found",
                "consumer not found",
                detail,
            ),
            ConsumerError::AlreadyExists { .. } => Self::new(
                StatusCode::CONFLICT,
                "consumer-exists",
                "consumer already exists",
                detail,
            ),
            ConsumerError::Invalid { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-consumer",
                "invalid consumer definition",
                detail,
            ),
            ConsumerError::UnknownToken { .. } => Self::new(
                StatusCode::CONFLICT,
                "unknown-token",
                "unknown delivery token",
                detail,
            ),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "storage unavailable",
                detail,
            ),
        }
    }
}

/// Runs a handler body, turning its problem into a counted rejection.
async fn respond(
    context: &HttpContext,
    outcome: impl Future<Output = Result<Response, Problem>>,
) -> Response {
    outcome
        .await
        .unwrap_or_else(|problem| context.reject(problem))
}

fn names(stream: &str, name: &str) -> Result<(StreamName, ConsumerName), Problem> {
    Ok((stream_name(stream)?, consumer_name(name)?))
}

pub(crate) async fn create(
    State(context): State<HttpContext>,
    Path(stream): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond(&context, async {
        let stream = stream_name(&stream)?;
        let body: ConsumerBody = serde_json::from_slice(&body).map_err(|error| {
            Problem::invalid_parameter(format!("invalid consumer definition: {error}"))
        })?;
        let info = context
            .broker
            .create_consumer(&request_principal(), config_from(stream, body)?)
            .await?;
        Ok((StatusCode::CREATED, Json(info_json(&info))).into_response())
    })
    .await
}

pub(crate) async fn list(
    State(context): State<HttpContext>,
    Path(stream): Path<String>,
) -> Response {
    respond(&context, async {
        let stream = stream_name(&stream)?;
        let all = context
            .broker
            .list_consumers(&request_principal(), &stream)
            .await?;
        let all: Vec<Value> = all.iter().map(info_json).collect();
        Ok(Json(json!({ "consumers": all })).into_response())
    })
    .await
}

pub(crate) async fn describe(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
) -> Response {
    respond(&context, async {
        let (stream, name) = names(&stream, &name)?;
        let info = context
            .broker
            .describe_consumer(&request_principal(), &stream, &name)
            .await?;
        Ok(Json(info_json(&info)).into_response())
    })
    .await
}

pub(crate) async fn delete(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
) -> Response {
    respond(&context, async {
        let (stream, name) = names(&stream, &name)?;
        context
            .broker
            .delete_consumer(&request_principal(), &stream, &name)
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `member`, `max` and `wait` of a pull or push request.
#[derive(Debug)]
struct PullQuery {
    member: String,
    max: usize,
    wait: Duration,
}

fn parse_pull_query(raw: Option<&str>) -> Result<PullQuery, Problem> {
    let mut query = PullQuery {
        member: "default".to_owned(),
        max: 1,
        wait: Duration::ZERO,
    };
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*name {
            "member" if !value.is_empty() && value.len() <= 255 => {
                query.member = value.into_owned()
            }
            "member" => {
                return Err(Problem::invalid_parameter(
                    "`member` must be 1 to 255 characters",
                ));
            }
            "max" => {
                query.max = value
                    .parse::<usize>()
                    .ok()
                    .filter(|max| (1..=MAX_PULL).contains(max))
                    .ok_or_else(|| {
                        Problem::invalid_parameter(format!(
                            "`max` must be from 1 to {MAX_PULL}, got `{value}`"
                        ))
                    })?;
            }
            "wait" => {
                let wait = weft_yaml::parse_duration(&value)
                    .map_err(|error| Problem::invalid_parameter(format!("`wait`: {error}")))?;
                if wait > MAX_WAIT {
                    return Err(Problem::invalid_parameter("`wait` may be at most 60s"));
                }
                query.wait = wait;
            }
            other => {
                return Err(Problem::invalid_parameter(format!(
                    "unknown query parameter `{other}`; expected `member`, `max` or `wait`"
                )));
            }
        }
    }
    Ok(query)
}

pub(crate) async fn pull(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(&context, async {
        let (stream, name) = names(&stream, &name)?;
        let query = parse_pull_query(raw.as_deref())?;
        let deliveries = context
            .broker
            .pull(
                &request_principal(),
                &stream,
                &name,
                &query.member,
                query.max,
                query.wait,
            )
            .await?;
        let deliveries: Vec<DeliveryJson> = deliveries.iter().map(delivery_json).collect();
        Ok(Json(json!({ "deliveries": deliveries })).into_response())
    })
    .await
}

/// The body of ack, nack and terminate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleBody {
    tokens: Vec<String>,
    delay: Option<Quantity>,
    reason: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Settle {
    Ack,
    Nack,
    Terminate,
}

async fn settle(
    context: HttpContext,
    stream: String,
    name: String,
    body: axum::body::Bytes,
    how: Settle,
) -> Response {
    respond(&context, async {
        let (stream, name) = names(&stream, &name)?;
        let body: SettleBody = serde_json::from_slice(&body)
            .map_err(|error| Problem::invalid_parameter(format!("invalid body: {error}")))?;
        if body.delay.is_some() && !matches!(how, Settle::Nack) {
            return Err(Problem::invalid_parameter("`delay` applies to nack only"));
        }
        if body.reason.is_some() && !matches!(how, Settle::Terminate) {
            return Err(Problem::invalid_parameter(
                "`reason` applies to terminate only",
            ));
        }
        let delay = body
            .delay
            .as_ref()
            .map(|delay| duration("delay", delay))
            .transpose()?;
        let (broker, principal) = (&context.broker, request_principal());
        let mut settled = 0usize;
        let mut unknown = Vec::new();
        for text in &body.tokens {
            let token: DeliveryToken = text.parse().map_err(|_| {
                Problem::invalid_parameter(format!("`{text}` is not a delivery token"))
            })?;
            let outcome = match how {
                Settle::Ack => broker.ack(&principal, &stream, &name, &token).await,
                Settle::Nack => broker.nack(&principal, &stream, &name, &token, delay).await,
                Settle::Terminate => {
                    let reason = body.reason.clone();
                    broker
                        .terminate(&principal, &stream, &name, &token, reason)
                        .await
                }
            };
            match outcome {
                Ok(()) => settled += 1,
                Err(ConsumerError::UnknownToken { .. }) => unknown.push(text.clone()),
                Err(other) => return Err(other.into()),
            }
        }
        Ok(Json(json!({ "settled": settled, "unknown": unknown })).into_response())
    })
    .await
}

pub(crate) async fn ack(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    settle(context, stream, name, body, Settle::Ack).await
}

pub(crate) async fn nack(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    settle(context, stream, name, body, Settle::Nack).await
}

pub(crate) async fn terminate(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    settle(context, stream, name, body, Settle::Terminate).await
}

type SseEvent = axum::response::sse::Event;

/// Push delivery: an SSE stream whose messages are deliveries (`id` = the token);
/// settle them with the ack, nack and terminate endpoints.
pub(crate) async fn push(
    State(context): State<HttpContext>,
    Path((stream, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(&context, async {
        let (stream, name) = names(&stream, &name)?;
        let query = parse_pull_query(raw.as_deref())?;
        let (broker, principal) = (context.broker.clone(), request_principal());
        // Fail fast (404) before the stream starts.
        broker.describe_consumer(&principal, &stream, &name).await?;
        let events = push_stream(broker, principal, stream, name, query.member);
        Ok(Sse::new(events)
            .keep_alive(KeepAlive::new().interval(PUSH_WAIT))
            .into_response())
    })
    .await
}

fn push_stream(
    broker: Broker,
    principal: Principal,
    stream: StreamName,
    name: ConsumerName,
    member: String,
) -> impl Stream<Item = Result<SseEvent, std::convert::Infallible>> {
    let opening = SseEvent::default().comment("subscribed");
    let state = Some((broker, principal, stream, name, member));
    let deliveries = stream::unfold(state, |state| async move {
        let (broker, principal, stream, name, member) = state?;
        match broker
            .pull(&principal, &stream, &name, &member, PUSH_BATCH, PUSH_WAIT)
            .await
        {
            Ok(deliveries) => {
                let messages: Vec<SseEvent> = deliveries
                    .iter()
                    .map(|delivery| {
                        SseEvent::default().id(delivery.token.to_string()).data(
                            serde_json::to_string(&delivery_json(delivery)).unwrap_or_default(),
                        )
                    })
                    .collect();
                Some((messages, Some((broker, principal, stream, name, member))))
            }
            Err(error) => {
                let problem = Problem::from(error);
                let data = serde_json::to_string(&problem).unwrap_or_default();
                Some((
                    vec![SseEvent::default().event("weft-error").data(data)],
                    None,
                ))
            }
        }
    });
    stream::once(async move { vec![opening] })
        .chain(deliveries)
        .flat_map(|messages| stream::iter(messages.into_iter().map(Ok)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_definitions_parse_with_units() {
        let body: ConsumerBody = serde_json::from_str(
            r#"{"name":"billing","start":"new","ack_wait":"10s","max_deliveries":3,
                "backoff":{"delays":["1s",2000]},"max_in_flight":8,"ordering":"key",
                "dead_letter":{"topic":"dlq/billing"}}"#,
        )
        .unwrap();
        let config = config_from("orders".parse().unwrap(), body).unwrap();
        assert!(matches!(config.start, StartPosition::New));
        assert_eq!(config.ack_wait, Duration::from_secs(10));
        assert_eq!(config.max_deliveries, 3);
        assert!(
            matches!(&config.backoff, Backoff::Delays(delays) if delays == &[Duration::from_secs(1), Duration::from_secs(2)])
        );
        assert!(matches!(config.ordering, KeyOrdering::ByKey));
        assert!(
            matches!(&config.dead_letter, Some(DeadLetter::Topic(topic)) if topic.as_str() == "dlq/billing")
        );
    }

    #[test]
    fn pull_queries_are_checked() {
        let query = parse_pull_query(Some("member=a&max=10&wait=2s")).unwrap();
        assert_eq!(
            (query.member.as_str(), query.max, query.wait),
            ("a", 10, Duration::from_secs(2))
        );
        assert!(parse_pull_query(Some("max=0")).is_err());
        assert!(parse_pull_query(Some("wait=5m")).is_err());
        assert!(parse_pull_query(Some("group=x")).is_err());
    }
}
