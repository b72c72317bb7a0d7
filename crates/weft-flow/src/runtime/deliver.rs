//! Destinations: one delivery attempt to a topic, a stream or an HTTP sink, and how a
//! failed attempt is classified ([`Failure`]).

use std::time::Duration;

use weft_broker::{Broker, Principal, PublishError, StreamError, StreamName};
use weft_core::{CloudEvent, Event, Topic};

use super::http::HttpTarget;

/// Why an attempt failed, and whether it is worth another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Network errors, timeouts, 5xx, 404, 408, 409, 429, storage errors: retried.
    pub(crate) retryable: bool,
    /// The wait a `Retry-After` header asked for (429 and 503 only).
    pub(crate) retry_after: Option<Duration>,
    /// What went wrong, for the dead letter's `weftdlerror` and logs.
    pub(crate) message: String,
}

impl Failure {
    fn new(retryable: bool, message: impl Into<String>) -> Self {
        Failure {
            retryable,
            retry_after: None,
            message: message.into(),
        }
    }
}

/// Where a route delivers.
#[derive(Debug)]
pub(crate) enum Target {
    /// Publish through the broker on this topic.
    Topic(Topic),
    /// Append to this stream.
    Stream(StreamName),
    /// POST to an HTTP endpoint; a CloudEvent in a `200` reply goes to `reply`.
    Http {
        /// The client and settings.
        http: Box<HttpTarget>,
        /// The sink's `reply` topic.
        reply: Option<Topic>,
    },
}

/// What a delivery needs from the route.
pub(crate) struct Env<'a> {
    pub(crate) broker: &'a Broker,
    pub(crate) principal: &'a Principal,
    pub(crate) timeout: Duration,
}

impl Target {
    /// One attempt. `Ok(Some(reply))`: the HTTP sink answered with a CloudEvent.
    pub(crate) async fn attempt(
        &self,
        env: &Env<'_>,
        event: &Event,
    ) -> Result<Option<CloudEvent>, Failure> {
        match self {
            Target::Http { http, .. } => http.send(&event.cloudevent).await,
            Target::Topic(topic) => {
                let mut event = event.clone();
                event.topic = topic.clone();
                let publish = env.broker.publish(env.principal, event);
                match tokio::time::timeout(env.timeout, publish).await {
                    Ok(Ok(_)) => Ok(None),
                    Ok(Err(error)) => Err(publish_failure(&error)),
                    Err(_) => Err(timed_out(env.timeout)),
                }
            }
            Target::Stream(stream) => {
                let append = env.broker.append_to_stream(env.principal, stream, event);
                match tokio::time::timeout(env.timeout, append).await {
                    Ok(result) => result.map(|_| None).map_err(|error| stream_failure(&error)),
                    Err(_) => Err(timed_out(env.timeout)),
                }
            }
        }
    }
}

fn timed_out(timeout: Duration) -> Failure {
    Failure::new(
        true,
        format!("no answer within {}", crate::format_duration(timeout)),
    )
}

/// A refused publish is final; a storage failure may pass.
pub(crate) fn publish_failure(error: &PublishError) -> Failure {
    let retryable = matches!(error, PublishError::Storage { .. });
    Failure::new(retryable, error_text(error))
}

/// Too large or invalid is final; a missing stream (it may be created), a full one and
/// storage errors may pass.
pub(crate) fn stream_failure(error: &StreamError) -> Failure {
    let retryable = !matches!(
        error,
        StreamError::EventTooLarge { .. } | StreamError::Invalid { .. } | StreamError::Denied(_)
    );
    Failure::new(retryable, error_text(error))
}

/// An error and its sources, joined with `: `.
pub(crate) use weft_core::error_chain as error_text;
