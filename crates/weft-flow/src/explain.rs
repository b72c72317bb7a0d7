//! What a route makes of one event, and why: the one place that decides it.
//!
//! - [`process`]: the route's filter, then its transform steps. The runtime runs it on
//!   every event before delivery, and route tests (`weft flow test`) compare its result
//!   with `expect`. It records nothing, so the hot path pays nothing for explanations.
//! - [`explain`]: the same stages with everything recorded, for `weft flow explain`:
//!   whether `from` receives the event, the filter's value with its CESQL trace, the
//!   event after each transform step (or the step's error), and the verdict — the
//!   destination it would be delivered to, the dead letter it would become, or why it
//!   is dropped. An [`Explanation`] prints as text (`Display`) or as JSON
//!   ([`Explanation::to_json`]). Nothing is delivered.
//!
//! Both run one private function, `stages`, generic over a `Recorder` that either
//! records nothing or records every step, so what is explained is what runs.

mod render;

use weft_cesql::{Evaluation, TraceNode};
use weft_core::{AttributeValue, CloudEvent, Filter, Topic};

use crate::cesql::Cesql;
use crate::load::ManifestSet;
use crate::manifest::route::{self, DeadLetter, Input, RouteSpec};
use crate::manifest::sink::{SinkSpec, SinkTarget};
use crate::manifest::{Kind, ResourceName, Spec, StreamRef};
use crate::transform::{self, Budget, Meter, Step, TransformError};

/// The extension attribute that carries the topic an event was published on, as weft's
/// subscribers receive it (`wefttopic`).
pub const TOPIC_ATTRIBUTE: &str = "wefttopic";

/// What a route's filter and transform make of one event.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "the event is returned once per call, never stored in bulk"
)]
pub enum Outcome {
    /// The filter passed and the transform produced this event.
    Delivered(CloudEvent),
    /// The filter did not pass (its value was not `true`, or it raised errors).
    Dropped,
}

/// Runs `route`'s filter and transform over `event`, recording nothing: what the
/// runtime does before it delivers, and what route tests check.
///
/// # Errors
/// A failing transform step (the runtime dead-letters the event).
pub fn process(route: &RouteSpec, event: &CloudEvent) -> Result<Outcome, TransformError> {
    process_metered(route, event, &Budget::new(route.budget).start())
}

/// [`process`] under `meter`: the runtime's form, whose evaluation a route's stop
/// cancels.
///
/// # Errors
/// A failing transform step, or one stopped by `meter`.
pub fn process_metered(
    route: &RouteSpec,
    event: &CloudEvent,
    meter: &Meter,
) -> Result<Outcome, TransformError> {
    stages(route, event, &mut Unrecorded(meter))
}

/// The first stage of [`process`]: whether `event` passes `route`'s filter (a route
/// without one passes everything). CESQL is bounded by the size of the event and the
/// expression, so the runtime evaluates it inline, before it hands the event to an
/// evaluation thread for the rest, [`transform_metered`].
#[must_use]
pub fn passes_filter(route: &RouteSpec, event: &CloudEvent) -> bool {
    route
        .filter
        .as_ref()
        .is_none_or(|filter| Unrecorded::passes(filter, event))
}

/// The second stage of [`process_metered`]: `route`'s transform over an `event` that
/// passed the filter. `passes_filter` then `transform_metered` is `process_metered`.
///
/// # Errors
/// A failing transform step, or one stopped by `meter`.
pub fn transform_metered(
    route: &RouteSpec,
    event: &CloudEvent,
    meter: &Meter,
) -> Result<CloudEvent, TransformError> {
    Unrecorded(meter).transform(&route.transform, event)
}

/// Explains what the route `name` does with `event`, published on `topic` (`None`: not
/// known, so a `from.topic` route's filter is not checked). `sink` is the Sink that
/// `to.sink` names, when it is known (it only adds its target to the destination).
#[must_use]
pub fn explain(
    name: &str,
    route: &RouteSpec,
    sink: Option<&SinkSpec>,
    event: &CloudEvent,
    topic: Option<&Topic>,
) -> Explanation {
    let from = FromCheck::new(&route.from, topic);
    let mut recorder = Recording {
        budget: Budget::new(route.budget),
        filter: None,
        steps: Vec::new(),
    };
    let verdict = if from.receives() {
        match stages(route, event, &mut recorder) {
            Ok(Outcome::Dropped) => Verdict::Dropped,
            Ok(Outcome::Delivered(event)) => Verdict::Delivered {
                destination: Destination {
                    to: route.to.clone(),
                    sink: sink.map(|sink| sink.target.clone()),
                },
                event,
            },
            Err(error) => match &route.delivery.dead_letter {
                Some(dead_letter) => Verdict::DeadLettered {
                    dead_letter: dead_letter.clone(),
                    error,
                },
                None => Verdict::Failed { error },
            },
        }
    } else {
        Verdict::NotReceived
    };
    Explanation {
        route: name.to_owned(),
        event: event.clone(),
        from,
        filter: recorder.filter,
        steps: recorder.steps,
        verdict,
    }
}

/// The route called `name` in `sets`, with the sink its `to.sink` names when `sets`
/// declare that sink too.
#[must_use]
pub fn find_route(sets: &[ManifestSet], name: &str) -> Option<(RouteSpec, Option<SinkSpec>)> {
    let find = |kind: Kind, name: &str| {
        sets.iter()
            .find_map(|set| set.get(kind, name))
            .map(|loaded| &loaded.manifest.spec)
    };
    let Some(Spec::Route(route)) = find(Kind::Route, name) else {
        return None;
    };
    let sink = match sink_name(route).and_then(|sink| find(Kind::Sink, sink.as_str())) {
        Some(Spec::Sink(sink)) => Some(sink.clone()),
        _ => None,
    };
    Some((route.clone(), sink))
}

/// The sink the route delivers to, if it delivers to a sink.
#[must_use]
pub fn sink_name(route: &RouteSpec) -> Option<&ResourceName> {
    match &route.to {
        route::Destination::Sink { sink } => Some(sink),
        _ => None,
    }
}

/// The topic an event says it was published on (its [`TOPIC_ATTRIBUTE`]), if any.
#[must_use]
pub fn published_topic(event: &CloudEvent) -> Option<&str> {
    match event.attributes.get(TOPIC_ATTRIBUTE) {
        Some(AttributeValue::String(topic)) => Some(topic),
        _ => None,
    }
}

/// What a route does with one event, step by step. Stages that did not run are absent:
/// nothing after `from` when the event is not received, no steps when the filter
/// drops it, no steps after a failing one.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The route's name.
    pub route: String,
    /// The event as given.
    pub event: CloudEvent,
    /// Whether the route receives the event.
    pub from: FromCheck,
    /// The filter's evaluation; `None` when the route has no filter, or the filter did
    /// not run.
    pub filter: Option<FilterCheck>,
    /// Each transform step that ran, in order.
    pub steps: Vec<StepCheck>,
    /// What happens to the event.
    pub verdict: Verdict,
}

/// The `from` stage: whether the route receives the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromCheck {
    /// A `from.topic` route; `topic` is the event's topic when it is known.
    Topic {
        /// The route's topic filter.
        filter: Filter,
        /// The topic the event was published on.
        topic: Option<Topic>,
    },
    /// A `from.stream` route: it receives whatever the stream holds.
    Stream {
        /// The stream.
        stream: StreamRef,
        /// The consumer group.
        group: String,
    },
}

impl FromCheck {
    fn new(input: &Input, topic: Option<&Topic>) -> Self {
        match input {
            Input::Topic { topic: filter } => FromCheck::Topic {
                filter: filter.clone(),
                topic: topic.cloned(),
            },
            Input::Stream { stream, group } => FromCheck::Stream {
                stream: stream.clone(),
                group: group.clone(),
            },
        }
    }

    /// Whether the topic matches the route's filter; `None` when that was not checked
    /// (a stream route, or an unknown topic).
    #[must_use]
    pub fn matches(&self) -> Option<bool> {
        match self {
            FromCheck::Topic {
                filter,
                topic: Some(topic),
            } => Some(filter.matches(topic)),
            _ => None,
        }
    }

    /// Whether the event goes on to the filter: unless its topic is known not to match.
    #[must_use]
    pub fn receives(&self) -> bool {
        self.matches() != Some(false)
    }
}

/// The filter stage: the expression's value, errors and trace.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterCheck {
    /// The expression.
    pub expression: Cesql,
    /// Its value and errors.
    pub evaluation: Evaluation,
    /// Every evaluated sub-expression.
    pub trace: TraceNode,
}

impl FilterCheck {
    /// Whether the event passes (the value is `true` and there were no errors).
    #[must_use]
    pub fn passed(&self) -> bool {
        self.evaluation.is_match()
    }
}

/// One transform step that ran, and the event after it or its error.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCheck {
    /// The step's 0-based index.
    pub index: usize,
    /// The step.
    pub step: Step,
    /// The event after the step, or why the step failed.
    pub result: Result<CloudEvent, TransformError>,
}

/// What happens to the event in the end.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one verdict per explanation, never stored in bulk"
)]
pub enum Verdict {
    /// The topic does not match `from`.
    NotReceived,
    /// The filter did not pass.
    Dropped,
    /// The event (as transformed) is delivered to `destination`.
    Delivered {
        /// Where.
        destination: Destination,
        /// The event delivered.
        event: CloudEvent,
    },
    /// A transform step failed: the original event is sent to the dead letter.
    DeadLettered {
        /// The route's `delivery.deadLetter`.
        dead_letter: DeadLetter,
        /// The step's error.
        error: TransformError,
    },
    /// A transform step failed and the route has no dead letter: the event is dropped.
    Failed {
        /// The step's error.
        error: TransformError,
    },
}

/// Where a delivered event goes: the route's `to`, with the sink's target when the
/// sink is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The route's `to`.
    pub to: route::Destination,
    /// The target of the sink that `to.sink` names, when it is known.
    pub sink: Option<SinkTarget>,
}

/// Filter, then transform: the one definition of what a route does to an event before
/// delivery, whatever `recorder` keeps of it.
fn stages(
    route: &RouteSpec,
    event: &CloudEvent,
    recorder: &mut impl Recorder,
) -> Result<Outcome, TransformError> {
    if let Some(filter) = &route.filter
        && !recorder.filter(filter, event)
    {
        return Ok(Outcome::Dropped);
    }
    recorder
        .transform(&route.transform, event)
        .map(Outcome::Delivered)
}

/// How [`stages`] evaluates the filter and applies the steps, and what it keeps.
trait Recorder {
    /// Whether `event` passes `filter`.
    fn filter(&mut self, filter: &Cesql, event: &CloudEvent) -> bool;
    /// `event` after `steps`, or the first step's error.
    fn transform(
        &mut self,
        steps: &[Step],
        event: &CloudEvent,
    ) -> Result<CloudEvent, TransformError>;
}

/// The hot path: plain evaluation under a meter, nothing kept.
struct Unrecorded<'m>(&'m Meter);

impl Unrecorded<'_> {
    fn passes(filter: &Cesql, event: &CloudEvent) -> bool {
        filter.evaluate(event).is_match()
    }
}

impl Recorder for Unrecorded<'_> {
    fn filter(&mut self, filter: &Cesql, event: &CloudEvent) -> bool {
        Unrecorded::passes(filter, event)
    }

    fn transform(
        &mut self,
        steps: &[Step],
        event: &CloudEvent,
    ) -> Result<CloudEvent, TransformError> {
        transform::apply_metered(steps, event, self.0)
    }
}

/// For [`explain`]: the traced filter and the event after every step.
struct Recording {
    /// The route's budget, given to each cut of the transform.
    budget: Budget,
    filter: Option<FilterCheck>,
    steps: Vec<StepCheck>,
}

impl Recorder for Recording {
    fn filter(&mut self, filter: &Cesql, event: &CloudEvent) -> bool {
        // The traced evaluation is the plain one with a trace kept (weft-cesql's
        // promise), so the verdict is the same as on the hot path.
        let (evaluation, trace) = filter.evaluate_traced(event);
        let check = FilterCheck {
            expression: filter.clone(),
            evaluation,
            trace,
        };
        let passed = check.passed();
        self.filter = Some(check);
        passed
    }

    fn transform(
        &mut self,
        steps: &[Step],
        event: &CloudEvent,
    ) -> Result<CloudEvent, TransformError> {
        // Each step's output is the whole transform cut after that step, applied by the
        // same `transform::apply_metered` as the hot path (quadratic in the steps, which is
        // fine for one explained event); the last one is the transform's result.
        let mut result = Ok(event.clone());
        for (index, step) in steps.iter().enumerate() {
            result = transform::apply_metered(&steps[..=index], event, &self.budget.start());
            self.steps.push(StepCheck {
                index,
                step: step.clone(),
                result: result.clone(),
            });
            if result.is_err() {
                break;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests;
