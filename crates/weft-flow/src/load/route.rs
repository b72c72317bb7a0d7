//! Reading a `Route` spec.

use std::time::Duration;

use weft_yaml::{Mapping, Value};

use super::read::{Doc, one_of};
use crate::manifest::ResourceName;
use crate::manifest::route::{
    Backoff, BackoffPolicy, DEFAULT_BUDGET, DEFAULT_MAX_IN_FLIGHT, DeadLetter, Delivery,
    Destination, Expect, Input, MAX_BUDGET, MAX_IN_FLIGHT_LIMIT, MAX_RETRIES, OrderBy, Ordering,
    RouteSpec, RouteTest,
};

const KEYS: &[&str] = &[
    "from",
    "filter",
    "transform",
    "to",
    "delivery",
    "ordering",
    "maxInFlight",
    "budget",
    "tests",
];
const FROM_KEYS: &[&str] = &["topic", "stream", "group"];
const TO_KEYS: &[&str] = &["sink", "topic", "stream"];
const DELIVERY_KEYS: &[&str] = &["retries", "backoff", "timeout", "deadLetter"];
const BACKOFF_KEYS: &[&str] = &["policy", "delay", "max", "jitter"];
const DEAD_LETTER_KEYS: &[&str] = &["topic", "stream"];
const TEST_KEYS: &[&str] = &["name", "input", "expect"];

pub(crate) fn read(
    name: &ResourceName,
    spec: &Mapping<'_>,
    doc: &mut Doc<'_>,
) -> Option<RouteSpec> {
    spec.deny_unknown(KEYS, doc.errors);
    let from = spec
        .require("from", doc.errors)
        .and_then(|value| read_from(name, &value, doc));
    let filter = spec.take("filter").and_then(|value| doc.cesql(&value));
    let transform = spec
        .take_seq("transform", doc.errors)
        .map(|steps| super::transform::read_steps(&steps, doc))
        .unwrap_or_default();
    let to = spec
        .require("to", doc.errors)
        .and_then(|value| read_to(&value, doc));
    let delivery = spec
        .take_mapping("delivery", doc.errors)
        .map(|delivery| read_delivery(&delivery, doc))
        .unwrap_or_default();
    let mut ordering = Ordering::default();
    if let Some(value) = spec.take_mapping("ordering", doc.errors) {
        value.deny_unknown(&["by"], doc.errors);
        if let Some(by) = value.require("by", doc.errors) {
            match by.str(doc.errors) {
                Some("key") => ordering.by = OrderBy::Key,
                Some("none") => ordering.by = OrderBy::None,
                Some(other) => by.report_invalid(
                    doc.errors,
                    format!("ordering.by must be `key` or `none`, got `{other}`"),
                ),
                None => {}
            }
        }
    }
    let max_in_flight = spec
        .take("maxInFlight")
        .and_then(|value| bounded(&value, 1, u64::from(MAX_IN_FLIGHT_LIMIT), doc))
        .unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    let budget = spec
        .take("budget")
        .and_then(|value| read_budget(&value, doc))
        .unwrap_or(DEFAULT_BUDGET);
    let tests = spec
        .take_seq("tests", doc.errors)
        .map(|tests| {
            let tests: Vec<Option<RouteTest>> =
                tests.iter().map(|test| read_test(&test, doc)).collect();
            tests.into_iter().flatten().collect()
        })
        .unwrap_or_default();
    Some(RouteSpec {
        from: from?,
        filter,
        transform,
        to: to?,
        delivery,
        ordering,
        max_in_flight,
        budget,
        tests,
    })
}

/// `budget`: a duration longer than zero, at most [`MAX_BUDGET`].
fn read_budget(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Duration> {
    let budget = positive(value, doc)?;
    if budget > MAX_BUDGET {
        value.report_invalid(
            doc.errors,
            format!(
                "must be at most {}",
                weft_core::units::format_duration(MAX_BUDGET)
            ),
        );
        return None;
    }
    Some(budget)
}

/// An integer in `low..=high`, as a `u32`.
fn bounded(value: &Value<'_>, low: u64, high: u64, doc: &mut Doc<'_>) -> Option<u32> {
    let number = value.u64(doc.errors)?;
    if !(low..=high).contains(&number) {
        value.report_invalid(
            doc.errors,
            format!("must be from {low} to {high}, got {number}"),
        );
        return None;
    }
    u32::try_from(number).ok()
}

fn read_from(name: &ResourceName, value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Input> {
    let from = value.mapping(doc.errors)?;
    from.deny_unknown(FROM_KEYS, doc.errors);
    let (key, choice) = one_of(&from, &["topic", "stream"], doc.errors)?;
    let group = from.take("group");
    if key == "topic" {
        if let Some(group) = &group {
            group.report_invalid(doc.errors, "`group` is only for routes that read a stream");
        }
        return Some(Input::Topic {
            topic: doc.filter(&choice)?,
        });
    }
    let group = match group {
        Some(group) => {
            let text = doc.text(&group)?;
            if text.chars().any(char::is_control) || text.len() > 249 {
                group.report_invalid(
                    doc.errors,
                    "a group name has at most 249 characters and no control characters",
                );
                return None;
            }
            text
        }
        None => name.as_str().to_owned(),
    };
    Some(Input::Stream {
        stream: doc.stream(&choice)?,
        group,
    })
}

fn read_to(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Destination> {
    let to = value.mapping(doc.errors)?;
    to.deny_unknown(TO_KEYS, doc.errors);
    let (key, choice) = one_of(&to, TO_KEYS, doc.errors)?;
    Some(match key {
        "sink" => Destination::Sink {
            sink: doc.name(&choice)?,
        },
        "topic" => Destination::Topic {
            topic: doc.topic(&choice)?,
        },
        _ => Destination::Stream {
            stream: doc.stream(&choice)?,
        },
    })
}

fn read_delivery(delivery: &Mapping<'_>, doc: &mut Doc<'_>) -> Delivery {
    delivery.deny_unknown(DELIVERY_KEYS, doc.errors);
    let mut result = Delivery::default();
    if let Some(value) = delivery.take("retries")
        && let Some(retries) = bounded(&value, 0, u64::from(MAX_RETRIES), doc)
    {
        result.retries = retries;
    }
    if let Some(backoff) = delivery.take_mapping("backoff", doc.errors) {
        result.backoff = read_backoff(&backoff, doc);
    }
    if let Some(value) = delivery.take("timeout")
        && let Some(timeout) = positive(&value, doc)
    {
        result.timeout = timeout;
    }
    if let Some(value) = delivery.take_mapping("deadLetter", doc.errors) {
        value.deny_unknown(DEAD_LETTER_KEYS, doc.errors);
        result.dead_letter = match one_of(&value, DEAD_LETTER_KEYS, doc.errors) {
            Some(("topic", choice)) => doc.topic(&choice).map(|topic| DeadLetter::Topic { topic }),
            Some((_, choice)) => doc
                .stream(&choice)
                .map(|stream| DeadLetter::Stream { stream }),
            None => None,
        };
    }
    result
}

fn positive(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Duration> {
    let duration = value.duration(doc.errors)?;
    if duration.is_zero() {
        value.report_invalid(doc.errors, "must be longer than zero");
        return None;
    }
    Some(duration)
}

fn read_backoff(backoff: &Mapping<'_>, doc: &mut Doc<'_>) -> Backoff {
    backoff.deny_unknown(BACKOFF_KEYS, doc.errors);
    let mut result = Backoff::default();
    if let Some(value) = backoff.take("policy") {
        match value.str(doc.errors) {
            Some("exponential") => result.policy = BackoffPolicy::Exponential,
            Some("linear") => result.policy = BackoffPolicy::Linear,
            Some("constant") => result.policy = BackoffPolicy::Constant,
            Some(other) => value.report_invalid(
                doc.errors,
                format!("policy must be `exponential`, `linear` or `constant`, got `{other}`"),
            ),
            None => {}
        }
    }
    if let Some(delay) = backoff
        .take("delay")
        .and_then(|value| positive(&value, doc))
    {
        result.delay = delay;
    }
    let max = backoff.take("max");
    if let Some(value) = &max
        && let Some(limit) = positive(value, doc)
    {
        result.max = limit;
    }
    if result.max < result.delay {
        let place = max.as_ref().unwrap_or(backoff.as_value());
        let message = format!(
            "backoff.max ({}) is shorter than backoff.delay ({})",
            crate::serde_text::format_duration(result.max),
            crate::serde_text::format_duration(result.delay)
        );
        place.report_invalid(doc.errors, message);
    }
    if let Some(jitter) = backoff.take_bool("jitter", doc.errors) {
        result.jitter = jitter;
    }
    result
}

fn read_test(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<RouteTest> {
    let test = value.mapping(doc.errors)?;
    test.deny_unknown(TEST_KEYS, doc.errors);
    let name = test.take("name").and_then(|name| doc.text(&name));
    let input = test
        .require("input", doc.errors)
        .and_then(|input| doc.event(&input));
    let expect = test.require("expect", doc.errors).and_then(|expect| {
        if let Some(word) = expect.node().as_str() {
            if word == "dropped" {
                return Some(Expect::Dropped);
            }
            expect.report_invalid(
                doc.errors,
                format!("expect must be an event or `dropped`, got `{word}`"),
            );
            return None;
        }
        doc.event(&expect)
            .map(|event| Expect::Event(Box::new(event)))
    });
    Some(RouteTest {
        name,
        input: input?,
        expect: expect?,
    })
}
