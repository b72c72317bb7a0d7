//! Live subscriptions over HTTP: Server-Sent Events (`GET /v1/subscribe`) and WebSocket
//! (`GET /v1/ws`). Both take the same query parameters and send each event as
//! structured CloudEvents JSON with the topic added as the `wefttopic` extension.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use weft_broker::{OverflowPolicy, Principal, RecvError, SubscribeOptions, Subscription};
use weft_core::{Event, Filter};

use crate::context::{HttpContext, HttpCounters};
use crate::problem::Problem;

/// The extension attribute that carries an event's topic in subscription output.
pub(crate) const TOPIC_EXTENSION: &str = "wefttopic";

/// Largest `queue` a subscriber may ask for.
const MAX_QUEUE_CAPACITY: usize = 1 << 20;

/// How many queued events one SSE write may carry.
const SSE_BURST: usize = 256;

/// The parsed query of a subscribe request.
#[derive(Debug)]
struct SubscribeQuery {
    filters: Vec<Filter>,
    options: SubscribeOptions,
}

fn parse_query(raw: Option<&str>) -> Result<SubscribeQuery, Problem> {
    let mut filters = Vec::new();
    let mut options = SubscribeOptions::default();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*name {
            "filter" => filters.push(
                Filter::new(value.into_owned()).map_err(|error| Problem::invalid_filter(&error))?,
            ),
            "queue" => {
                options.queue_capacity = value
                    .parse::<usize>()
                    .ok()
                    .filter(|size| (1..=MAX_QUEUE_CAPACITY).contains(size))
                    .ok_or_else(|| {
                        Problem::invalid_parameter(format!(
                            "`queue` must be a number of events from 1 to {MAX_QUEUE_CAPACITY}, got `{value}`"
                        ))
                    })?;
            }
            "overflow" => {
                options.overflow = value
                    .parse::<OverflowPolicy>()
                    .map_err(Problem::invalid_parameter)?;
            }
            other => {
                return Err(Problem::invalid_parameter(format!(
                    "unknown query parameter `{other}`; expected `filter`, `queue` or `overflow`"
                )));
            }
        }
    }
    Ok(SubscribeQuery { filters, options })
}

fn open(context: &HttpContext, raw_query: Option<&str>) -> Result<Subscription, Problem> {
    let query = parse_query(raw_query)?;
    // Anonymous until the security work authenticates HTTP clients.
    let subscription =
        context
            .broker
            .subscribe(&Principal::anonymous(), query.filters, query.options)?;
    Ok(subscription)
}

/// Encodes one event as the JSON text subscribers receive.
pub(crate) fn encode_event(event: &Event) -> String {
    encode_event_with(event, &[])
}

/// Encodes an event as subscribers receive it, plus `more` extension attributes
/// (stream reads add their partition and offset).
pub(crate) fn encode_event_with(event: &Event, more: &[(&str, &str)]) -> String {
    let mut extra = Vec::with_capacity(1 + more.len());
    extra.push((TOPIC_EXTENSION, event.topic.as_str()));
    extra.extend_from_slice(more);
    let bytes = weft_core::json::encode_with_extra(&event.cloudevent, &extra);
    // The JSON encoder only ever produces UTF-8.
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// An encoded event embedded as-is in a larger JSON answer: no second parse into a
/// value tree, and the attribute order the encoder chose is kept.
pub(crate) fn raw_json(text: String) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(text)
        .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned())
}

/// Counts a connected subscriber for as long as it lives.
struct ConnectedGuard(Arc<HttpCounters>);

impl ConnectedGuard {
    fn new(counters: &Arc<HttpCounters>) -> Self {
        counters
            .subscribers_connected
            .fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(counters))
    }
}

impl Drop for ConnectedGuard {
    fn drop(&mut self) {
        self.0.subscribers_connected.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) async fn sse(State(context): State<HttpContext>, RawQuery(query): RawQuery) -> Response {
    match open(&context, query.as_deref()) {
        Ok(subscription) => {
            let guard = ConnectedGuard::new(&context.counters);
            Sse::new(sse_stream(subscription, guard))
                .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
                .into_response()
        }
        Err(problem) => context.reject(problem),
    }
}

type SseEvent = axum::response::sse::Event;

enum SseState {
    /// Send the opening comment that tells the client the subscription is live.
    Start(Subscription, ConnectedGuard),
    Running(Subscription, ConnectedGuard),
    Done,
}

fn sse_stream(
    subscription: Subscription,
    guard: ConnectedGuard,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let state = SseState::Start(subscription, guard);
    stream::unfold(state, |state| async move {
        match state {
            SseState::Start(subscription, guard) => {
                let opening = SseEvent::default().comment("subscribed");
                Some((vec![opening], SseState::Running(subscription, guard)))
            }
            SseState::Running(mut subscription, guard) => {
                let mut burst = Vec::new();
                match subscription.recv_many(&mut burst, SSE_BURST).await {
                    Ok(_) => {
                        let messages = burst
                            .iter()
                            .map(|event| SseEvent::default().data(encode_event(event)))
                            .collect();
                        Some((messages, SseState::Running(subscription, guard)))
                    }
                    Err(RecvError::Shutdown) => None,
                    Err(error @ RecvError::Overflow { .. }) => {
                        let problem = Problem::new(
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "subscriber-too-slow",
                            "subscriber too slow",
                            error.to_string(),
                        );
                        let data = serde_json::to_string(&problem).unwrap_or_default();
                        let message = SseEvent::default().event("weft-error").data(data);
                        Some((vec![message], SseState::Done))
                    }
                }
            }
            SseState::Done => None,
        }
    })
    .flat_map(|messages| stream::iter(messages.into_iter().map(Ok)))
}

pub(crate) async fn websocket(
    State(context): State<HttpContext>,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Subscribe before upgrading so a bad filter is a plain `400`, and so no event
    // published after the handshake completes is missed.
    match open(&context, query.as_deref()) {
        Ok(subscription) => {
            let guard = ConnectedGuard::new(&context.counters);
            upgrade.on_upgrade(move |socket| pump_websocket(socket, subscription, guard))
        }
        Err(problem) => context.reject(problem),
    }
}

/// WebSocket close code 1013, "try again later": the subscriber fell behind.
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// WebSocket close code 1001, "going away": the node is shutting down.
const CLOSE_GOING_AWAY: u16 = 1001;

async fn pump_websocket(
    mut socket: WebSocket,
    mut subscription: Subscription,
    _guard: ConnectedGuard,
) {
    let mut burst = Vec::new();
    loop {
        tokio::select! {
            received = subscription.recv_many(&mut burst, SSE_BURST) => {
                let (code, reason) = match received {
                    Ok(_) => {
                        for event in burst.drain(..) {
                            if socket.send(Message::Text(encode_event(&event).into())).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    Err(error @ RecvError::Overflow { .. }) => (CLOSE_TRY_AGAIN_LATER, error.to_string()),
                    Err(RecvError::Shutdown) => (CLOSE_GOING_AWAY, "node shutting down".to_owned()),
                };
                let frame = CloseFrame { code, reason: reason.into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer; client text is ignored.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_accepts_repeated_filters_and_options() {
        let query = parse_query(Some(
            "filter=orders%2F%3E&filter=a/*&queue=5&overflow=disconnect",
        ))
        .unwrap();
        let filters: Vec<_> = query.filters.iter().map(Filter::as_str).collect();
        assert_eq!(filters, ["orders/>", "a/*"]);
        assert_eq!(query.options.queue_capacity, 5);
        assert_eq!(query.options.overflow, OverflowPolicy::Disconnect);
    }

    #[test]
    fn query_rejects_unknown_parameters_and_bad_values() {
        assert!(
            parse_query(Some("filtr=a"))
                .unwrap_err()
                .detail
                .contains("unknown query parameter `filtr`")
        );
        assert!(
            parse_query(Some("filter=a&queue=0"))
                .unwrap_err()
                .detail
                .contains("`queue`")
        );
        assert!(
            parse_query(Some("filter=a&overflow=block"))
                .unwrap_err()
                .detail
                .contains("overflow policy")
        );
        assert_eq!(
            parse_query(Some("filter=a/b*")).unwrap_err().kind,
            "urn:weft:problem:invalid-filter"
        );
    }

    #[test]
    fn query_filters_may_have_empty_levels_written_plain_or_encoded() {
        let query = parse_query(Some("filter=/a&filter=a//*&filter=%2F%3E&filter=a%2F")).unwrap();
        let filters: Vec<_> = query.filters.iter().map(Filter::as_str).collect();
        assert_eq!(filters, ["/a", "a//*", "/>", "a/"]);
    }
}
