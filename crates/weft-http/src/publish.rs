//! `POST /v1/topics/{topic}`: publish one event, or a batch.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use weft_broker::PublishOptions;
use weft_core::{CloudEvent, Event, Topic};

use crate::binding::{self, Synthesis};
use crate::context::{HttpContext, request_principal};
use crate::problem::Problem;

/// A batch body may be this many times `max_event_bytes`; each event in it is still
/// held to `max_event_bytes`.
pub(crate) const BATCH_BODY_FACTOR: usize = 16;

/// The CloudEvents `type` weft gives events that arrive without one.
pub(crate) const SYNTHESISED_TYPE: &str = "weft.http.publish";

#[derive(Serialize)]
struct Accepted {
    ids: Vec<String>,
}

pub(crate) async fn publish(
    State(context): State<HttpContext>,
    Path(topic): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ack = match parse_ack(query.as_deref()) {
        Ok(ack) => ack,
        Err(problem) => return context.reject(problem),
    };
    match accept(&context, &topic, peer, &headers, body, ack).await {
        Ok(ids) => (StatusCode::ACCEPTED, Json(Accepted { ids })).into_response(),
        Err(problem) => context.reject(problem),
    }
}

async fn accept(
    context: &HttpContext,
    topic: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    ack: Ack,
) -> Result<Vec<String>, Problem> {
    let topic = Topic::new(topic).map_err(|error| Problem::invalid_topic(&error))?;
    let max_event = context.options.max_event_bytes;
    let is_batch = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(binding::is_batch_media_type);
    let body_limit = if is_batch {
        max_event.saturating_mul(BATCH_BODY_FACTOR)
    } else {
        max_event
    };
    let body = read_body(headers, body, body_limit).await?;

    let now = SystemTime::now();
    let synthesis = Synthesis {
        source: format!("weft://{}/http/{}", context.node.name, peer.ip()),
        ty: SYNTHESISED_TYPE.to_owned(),
        now,
    };
    let cloudevents = binding::decode_request(headers, body, &synthesis)?;
    for (index, cloudevent) in cloudevents.iter().enumerate() {
        check_event_size(cloudevent, max_event, is_batch.then_some(index))?;
    }

    let principal = request_principal();
    let mut ids = Vec::with_capacity(cloudevents.len());
    for cloudevent in cloudevents {
        ids.push(cloudevent.attributes.id.clone());
        let event = Event::new(cloudevent, topic.clone(), context.node.name.clone(), now);
        let pending = context
            .broker
            .submit(&principal, event, PublishOptions::default())
            .await?;
        if ack == Ack::Durable {
            pending.finish().await?;
        }
        context
            .counters
            .events_received
            .fetch_add(1, Ordering::Relaxed);
    }
    Ok(ids)
}

/// What a publisher waits for (`?ack=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// Until every capturing stream stored the event (the default).
    Durable,
    /// For nothing: answered once the event is submitted.
    None,
}

/// The publish query: only `ack=durable` (the default) or `ack=none`.
fn parse_ack(query: Option<&str>) -> Result<Ack, Problem> {
    let mut ack = Ack::Durable;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (name, value) {
            ("ack", "durable") => ack = Ack::Durable,
            ("ack", "none") => ack = Ack::None,
            ("ack", other) => {
                return Err(Problem::invalid_parameter(format!(
                    "invalid `ack` value `{other}`; expected `durable` or `none`"
                )));
            }
            (other, _) => {
                return Err(Problem::invalid_parameter(format!(
                    "unknown query parameter `{other}`; expected `ack`"
                )));
            }
        }
    }
    Ok(ack)
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let too_large = || {
        Problem::too_large(format!(
            "request body is larger than the limit of {limit} bytes"
        ))
    };
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let over_limit = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if over_limit {
            too_large()
        } else {
            Problem::invalid_parameter(format!("could not read the request body: {error}"))
        }
    })
}

fn check_event_size(
    cloudevent: &CloudEvent,
    max: usize,
    batch_index: Option<usize>,
) -> Result<(), Problem> {
    let size = cloudevent.data.as_ref().map_or(0, Bytes::len);
    if size <= max {
        return Ok(());
    }
    let which = batch_index.map_or_else(String::new, |index| format!("event {index}: "));
    Err(Problem::too_large(format!(
        "{which}data of {size} bytes is larger than the limit of {max} bytes"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_defaults_to_durable_and_none_opts_out() {
        assert_eq!(parse_ack(None).unwrap(), Ack::Durable);
        assert_eq!(parse_ack(Some("ack=durable")).unwrap(), Ack::Durable);
        assert_eq!(parse_ack(Some("ack=none")).unwrap(), Ack::None);
    }

    #[test]
    fn unknown_query_parameters_and_ack_values_are_rejected() {
        for query in ["ack=maybe", "acks=none", "ack=none&x=1"] {
            let problem = parse_ack(Some(query)).unwrap_err();
            assert_eq!(problem.status, 400, "{query}");
        }
    }
}
