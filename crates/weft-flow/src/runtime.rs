//! The route runtime: [`RouteRunner`] runs one validated Route against a
//! [`weft_broker::Broker`] — source, CESQL filter, transform steps, delivery to a topic,
//! a stream or a Sink with retries, backoff and dead-lettering — and exposes its
//! counters as a [`RouteStatus`]. This is the only module of the crate that uses tokio.
//!
//! Semantics (reference for users: `docs/flows.md`, *Running routes*):
//!
//! - `from.topic`: a live subscription, at most once. `from.stream`: a durable consumer
//!   named `route-NAME` (created if missing), pulled as member `from.group`; an event is
//!   acknowledged once it is delivered, filtered out, dead-lettered or dropped, so
//!   delivery is at least once.
//! - `retries: N`: up to N retries after the first attempt. HTTP network errors,
//!   timeouts, 5xx, 404, 408, 409 and 429 are retried, other statuses are final;
//!   `Retry-After` (429 and 503) is honoured up to the backoff's `max`.
//! - A final failure, the last failed retry, or a failing transform sends the original
//!   event plus `weftdl*` attributes to `delivery.deadLetter` at once.
//! - `ordering: {by: key}`: the events of one key are processed one at a time, in
//!   order, retries included; keys in parallel up to `maxInFlight`.
//! - The transform of a route with a jq step runs on an [`EvaluationPool`] (OS threads of
//!   its own, serving a route's waiting events in batches), never on the async workers,
//!   within the route's `budget` and a memory limit per jq step: over either the event
//!   is dead-lettered (`over-budget`); an evaluation that cannot be stopped is given up
//!   at the budget plus [`GRACE`] and its route takes no events until it ends
//!   (`evaluate.rs`). Its filter runs inline before. Stopping a route cancels its
//!   evaluations instead of waiting.

mod binding;
mod deliver;
mod evaluate;
mod http;
mod pipeline;
pub mod schedule;
mod source;
mod status;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_broker::{
    Broker, ConsumerConfig, ConsumerError, ConsumerName, KeyOrdering, Principal, StartPosition,
    StreamName, SubscribeError, SubscribeOptions,
};

pub use binding::{
    ReplyError, decode_reply, encode_binary, encode_header_value, parse_retry_after,
};
pub use evaluate::{EvaluationPool, GRACE};
pub use http::is_retryable;
pub use pipeline::{
    DESTINATION_ATTRIBUTE, REASON_NON_RETRYABLE, REASON_OVER_BUDGET, REASON_RETRIES_EXHAUSTED,
    REASON_TRANSFORM_FAILED, ROUTE_ATTRIBUTE,
};
pub use schedule::{ScheduleSource, ScheduleStatus};
pub use status::RouteStatus;
pub use webhook::{WebhookError, WebhookSource, WebhookStartError, WebhookStatus};

use crate::manifest::ResourceName;
use crate::manifest::route::{DeadLetter, Destination, Input, OrderBy, RouteSpec};
use crate::manifest::sink::{SinkSpec, SinkTarget};
use deliver::Target;
use evaluate::RouteEvaluator;
use pipeline::Route;
use source::ConsumerSource;
use status::Counters;

/// Why a route cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The route delivers to a sink that was not given.
    #[error("route {route} delivers to sink {sink}, which was not given")]
    MissingSink {
        /// The route.
        route: String,
        /// The sink it names.
        sink: String,
    },
    /// The `tls.caFile` of an `https://` sink cannot be used.
    #[error("sink tls.caFile {path}: {reason}")]
    TlsCaFile {
        /// The file.
        path: String,
        /// Why (unreadable, no PEM certificates).
        reason: String,
    },
    /// The sink URL is not usable.
    #[error("invalid sink url {url}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A configured sink header is not a valid HTTP header.
    #[error("invalid sink header {name}")]
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the http client: {reason}")]
    HttpClient {
        /// Why.
        reason: String,
    },
    /// The route reads or writes a stream, but the broker has no streams.
    #[error("route {route} uses streams, but the broker has none")]
    NoStreams {
        /// The route.
        route: String,
    },
    /// A stream name the broker does not accept.
    #[error("invalid stream name {name}: {reason}")]
    StreamName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The route's durable consumer could not be created.
    #[error("cannot create the consumer of route {route}")]
    Consumer {
        /// The route.
        route: String,
        /// Why.
        #[source]
        source: Box<ConsumerError>,
    },
    /// The live subscription was refused.
    #[error("cannot subscribe for route {route}")]
    Subscribe {
        /// The route.
        route: String,
        /// Why.
        #[source]
        source: SubscribeError,
    },
}

/// Settings of a runner that do not come from the manifests.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Who the route publishes and subscribes as (default `$route/NAME`).
    pub principal: Option<Principal>,
    /// The node name given to events the route creates (sink replies); default `local`.
    pub node: String,
    /// Where a newly created stream consumer starts (default: every stored event).
    pub start: StartPosition,
    /// The live subscription's queue capacity (default: the broker's default, or
    /// `maxInFlight` when larger).
    pub queue_capacity: Option<usize>,
    /// The threads that run the route's filter and transform (default: the process's
    /// shared pool, [`EvaluationPool::shared`]).
    pub evaluations: EvaluationPool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            principal: None,
            node: "local".to_owned(),
            start: StartPosition::All,
            queue_capacity: None,
            evaluations: EvaluationPool::shared(),
        }
    }
}

/// Extra time a stream delivery may stay unacknowledged beyond its worst-case retries.
const ACK_WAIT_SLACK: Duration = Duration::from_secs(30);

/// The name of a stream-sourced route's durable consumer: `route-NAME`.
#[must_use]
pub fn consumer_name(route: &ResourceName) -> String {
    format!("route-{route}")
}

/// One running route. Dropping it stops the route without waiting; [`Self::stop`]
/// waits for the events in progress.
pub struct RouteRunner {
    route: Arc<Route>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Stops the route's evaluations from inside when the runner goes, stopped or not.
    _cancel: CancelOnDrop,
}

/// Sets a route's cancel flag when dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for RouteRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteRunner")
            .field("route", &self.route.name)
            .finish_non_exhaustive()
    }
}

impl RouteRunner {
    /// Starts `spec` (validated) with default [`RunnerOptions`]; `sink` is the Sink the
    /// route's `to.sink` names, if it names one.
    ///
    /// # Errors
    /// See [`RuntimeError`]: a missing sink, an unusable sink URL, a stream route on a
    /// broker without streams, a refused subscription or consumer.
    pub async fn start(
        broker: &Broker,
        name: &ResourceName,
        spec: &RouteSpec,
        sink: Option<&SinkSpec>,
    ) -> Result<RouteRunner, RuntimeError> {
        Self::start_with(broker, name, spec, sink, RunnerOptions::default()).await
    }

    /// [`Self::start`] with options.
    ///
    /// # Errors
    /// See [`Self::start`].
    pub async fn start_with(
        broker: &Broker,
        name: &ResourceName,
        spec: &RouteSpec,
        sink: Option<&SinkSpec>,
        options: RunnerOptions,
    ) -> Result<RouteRunner, RuntimeError> {
        let (target, destination) = resolve_target(broker, name, spec, sink)?;
        let dead_letter = match &spec.delivery.dead_letter {
            None => None,
            Some(DeadLetter::Topic { topic }) => {
                Some(weft_broker::DeadLetter::Topic(topic.clone()))
            }
            Some(DeadLetter::Stream { stream }) => {
                needs_streams(broker, name)?;
                Some(weft_broker::DeadLetter::Stream(stream_name(
                    stream.as_str(),
                )?))
            }
        };
        let principal = route_principal(name, &options);
        let (stop, stop_rx) = watch::channel(false);
        let spec_shared = Arc::new(spec.clone());
        let evaluator = RouteEvaluator::new(options.evaluations.clone(), &spec_shared);
        let cancel = CancelOnDrop(evaluator.cancel_flag());
        let route = Arc::new(Route {
            name: name.clone(),
            spec: spec_shared,
            broker: broker.clone(),
            principal: principal.clone(),
            node: options.node.clone(),
            target,
            destination,
            dead_letter,
            counters: Counters::default(),
            stop: stop_rx,
            rng: AtomicU64::new(pipeline::seed()),
            evaluator,
        });
        let task = match &spec.from {
            Input::Topic { topic } => {
                let capacity = options
                    .queue_capacity
                    .unwrap_or(weft_broker::DEFAULT_QUEUE_CAPACITY)
                    .max(spec.max_in_flight as usize);
                let subscribe_options = SubscribeOptions {
                    queue_capacity: capacity,
                    ..SubscribeOptions::default()
                };
                let subscription = broker
                    .subscribe(&principal, vec![topic.clone()], subscribe_options)
                    .map_err(|source| RuntimeError::Subscribe {
                        route: name.to_string(),
                        source,
                    })?;
                tokio::spawn(source::run_topic(Arc::clone(&route), subscription))
            }
            Input::Stream { stream, group } => {
                let source =
                    create_consumer(broker, name, spec, stream.as_str(), group, &options).await?;
                tokio::spawn(source::run_stream(Arc::clone(&route), source))
            }
        };
        tracing::info!(route = %name, destination = %route.destination, "route started");
        Ok(RouteRunner {
            route,
            stop,
            task,
            _cancel: cancel,
        })
    }

    /// The route's name.
    #[must_use]
    pub fn name(&self) -> &ResourceName {
        &self.route.name
    }

    /// The route's counters now.
    #[must_use]
    pub fn status(&self) -> RouteStatus {
        self.route.status()
    }

    /// Whether the route's source ended by itself (the broker shut down, or the
    /// stream or consumer was deleted).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the route: no new events are taken, no new attempt or retry starts, and
    /// attempts in progress finish (each within `delivery.timeout`). Events not
    /// finished are abandoned: from a stream they are negatively acknowledged and come
    /// back later; from a topic they are lost (at most once). Returns the final status.
    ///
    /// Evaluations in progress are not waited for: they are cancelled (a jq program
    /// stops within microseconds) or, if they cannot be, abandoned on their threads.
    pub async fn stop(self) -> RouteStatus {
        self._cancel.0.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(route = %self.route.name, %error, "route task failed");
        }
        tracing::info!(route = %self.route.name, "route stopped");
        self.route.status()
    }
}

/// The principal a route acts as: the one its runner was given, else `$route/NAME`.
fn route_principal(name: &ResourceName, options: &RunnerOptions) -> Principal {
    options
        .principal
        .clone()
        .unwrap_or_else(|| Principal::named(format!("$route/{name}")))
}

fn needs_streams(broker: &Broker, route: &ResourceName) -> Result<(), RuntimeError> {
    if broker.has_streams() {
        Ok(())
    } else {
        Err(RuntimeError::NoStreams {
            route: route.to_string(),
        })
    }
}

fn stream_name(name: &str) -> Result<StreamName, RuntimeError> {
    StreamName::new(name).map_err(|error| RuntimeError::StreamName {
        name: name.to_owned(),
        reason: error.to_string(),
    })
}

/// The destination and its description for dead letters (`sink:NAME`, `topic:T`,
/// `stream:S`).
fn resolve_target(
    broker: &Broker,
    name: &ResourceName,
    spec: &RouteSpec,
    sink: Option<&SinkSpec>,
) -> Result<(Target, String), RuntimeError> {
    match &spec.to {
        Destination::Topic { topic } => {
            Ok((Target::Topic(topic.clone()), format!("topic:{topic}")))
        }
        Destination::Stream { stream } => {
            needs_streams(broker, name)?;
            Ok((
                Target::Stream(stream_name(stream.as_str())?),
                format!("stream:{stream}"),
            ))
        }
        Destination::Sink { sink: sink_name } => {
            let sink = sink.ok_or_else(|| RuntimeError::MissingSink {
                route: name.to_string(),
                sink: sink_name.to_string(),
            })?;
            let target = match &sink.target {
                SinkTarget::Http(http) => Target::Http {
                    http: Box::new(http::HttpTarget::new(http, spec.delivery.timeout)?),
                    reply: sink.reply.clone(),
                },
                SinkTarget::Topic(topic) => Target::Topic(topic.clone()),
                SinkTarget::Stream(stream) => {
                    needs_streams(broker, name)?;
                    Target::Stream(stream_name(stream.as_str())?)
                }
            };
            Ok((target, format!("sink:{sink_name}")))
        }
    }
}

/// Creates (or reuses) the consumer `route-NAME` of `stream`.
async fn create_consumer(
    broker: &Broker,
    name: &ResourceName,
    spec: &RouteSpec,
    stream: &str,
    group: &str,
    options: &RunnerOptions,
) -> Result<ConsumerSource, RuntimeError> {
    needs_streams(broker, name)?;
    let principal = route_principal(name, options);
    let consumer_error = |source| RuntimeError::Consumer {
        route: name.to_string(),
        source: Box::new(source),
    };
    let stream = stream_name(stream)?;
    let consumer = ConsumerName::new(consumer_name(name)).map_err(consumer_error)?;
    let mut config = ConsumerConfig::new(stream.clone(), consumer.clone());
    config.start = options.start;
    config.ack_wait = ack_wait(spec);
    // The route retries and dead-letters itself; the consumer only redelivers what a
    // crashed or stopped route did not settle.
    config.max_deliveries = 0;
    config.max_in_flight = spec.max_in_flight.max(1) as usize;
    config.ordering = match spec.ordering.by {
        OrderBy::Key => KeyOrdering::ByKey,
        OrderBy::None => KeyOrdering::None,
    };
    match broker.create_consumer(&principal, config).await {
        Ok(_) => {}
        Err(ConsumerError::AlreadyExists { .. }) => {
            tracing::warn!(route = %name, consumer = %consumer, "route consumer exists with other settings; using it as it is");
        }
        Err(error) => return Err(consumer_error(error)),
    }
    Ok(ConsumerSource {
        broker: broker.clone(),
        principal,
        stream,
        consumer,
        member: group.to_owned(),
    })
}

/// Longer than the worst case of one event's retries: every attempt timing out and
/// every wait at the backoff's `max`, plus some slack.
fn ack_wait(spec: &RouteSpec) -> Duration {
    let delivery = &spec.delivery;
    let attempts = delivery.retries.saturating_add(1);
    delivery
        .timeout
        .saturating_mul(attempts)
        .saturating_add(delivery.backoff.max.saturating_mul(delivery.retries))
        .saturating_add(ACK_WAIT_SLACK)
}
