//! The `Route` kind: the unit of flow. Events come `from` a topic filter or a stream
//! (as a durable consumer group), pass a CESQL `filter`, are changed by `transform`
//! steps and are delivered `to` a sink, a topic or a stream, with retries, backoff and
//! dead-lettering as `delivery` says.

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use weft_core::{CloudEvent, Filter, Topic};

use super::{ResourceName, StreamRef};
use crate::cesql::Cesql;
use crate::serde_text;
use crate::transform::Step;

/// Default `delivery.retries`.
pub const DEFAULT_RETRIES: u32 = 3;
/// Default `delivery.backoff.delay`.
pub const DEFAULT_BACKOFF_DELAY: Duration = Duration::from_millis(200);
/// Default `delivery.backoff.max`.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Default `delivery.timeout` (per attempt).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `maxInFlight`.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 64;
/// Largest `maxInFlight`.
pub const MAX_IN_FLIGHT_LIMIT: u32 = 10_000;
/// Largest `delivery.retries`.
pub const MAX_RETRIES: u32 = 1_000;
/// Default `budget`: how long one event's filter and transform may run.
pub const DEFAULT_BUDGET: Duration = crate::transform::DEFAULT_BUDGET;
/// Largest `budget`.
pub const MAX_BUDGET: Duration = Duration::from_secs(60);

/// `spec` of a `Route`. Optional fields are filled with their defaults when loaded, so
/// the stored form states every setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// `from`: where events come from.
    pub from: Input,
    /// `filter`: a CESQL expression (data-field mode); absent passes every event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Cesql>,
    /// `transform`: steps applied in order to events that pass the filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transform: Vec<Step>,
    /// `to`: where events go.
    pub to: Destination,
    /// `delivery`: retries, backoff, timeout and dead-lettering.
    pub delivery: Delivery,
    /// `ordering`: whether events with the same key are delivered in order.
    pub ordering: Ordering,
    /// `maxInFlight`: most deliveries outstanding at once, 1 to 10000 (default 64).
    pub max_in_flight: u32,
    /// `budget`: how long one event's filter and transform may run (default 1s, at
    /// most 60s); an event over it is dead-lettered (`over-budget`). Left out of the
    /// stored form when it is the default, so that routes stored before the setting
    /// existed keep their digests.
    #[serde(
        default = "default_budget",
        skip_serializing_if = "is_default_budget",
        with = "serde_text::duration"
    )]
    pub budget: Duration,
    /// `tests`: example events and what the route must make of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<RouteTest>,
}

fn default_budget() -> Duration {
    DEFAULT_BUDGET
}

fn is_default_budget(budget: &Duration) -> bool {
    *budget == DEFAULT_BUDGET
}

/// `from`: `{topic: FILTER}` or `{stream: NAME, group: GROUP}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Input {
    /// Live events whose topics match the filter (at most once).
    Topic {
        /// The topic filter.
        #[serde(with = "serde_text::text")]
        topic: Filter,
    },
    /// A durable consumer of a stream (at least once, with a cursor and acks).
    Stream {
        /// The stream's name.
        stream: StreamRef,
        /// The consumer group (default: the route's name).
        group: String,
    },
}

/// `to`: `{sink: NAME}`, `{topic: TOPIC}` or `{stream: NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Destination {
    /// A `Sink` resource.
    Sink {
        /// The sink's name.
        sink: ResourceName,
    },
    /// Publish on a topic.
    Topic {
        /// The topic.
        #[serde(with = "serde_text::text")]
        topic: Topic,
    },
    /// Append to a stream.
    Stream {
        /// The stream's name.
        stream: StreamRef,
    },
}

/// `delivery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Retries after the first attempt (default 3, at most 1000).
    pub retries: u32,
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Time limit of one attempt (default 30s).
    #[serde(with = "serde_text::duration")]
    pub timeout: Duration,
    /// Where events go after a final failure (default: nowhere, they are dropped and
    /// counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            retries: DEFAULT_RETRIES,
            backoff: Backoff::default(),
            timeout: DEFAULT_TIMEOUT,
            dead_letter: None,
        }
    }
}

/// `delivery.backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// How the wait grows (default `exponential`).
    pub policy: BackoffPolicy,
    /// The first wait (default 200ms).
    #[serde(with = "serde_text::duration")]
    pub delay: Duration,
    /// The longest wait (default 30s); at least `delay`.
    #[serde(with = "serde_text::duration")]
    pub max: Duration,
    /// Whether waits are randomised (default `true`): "full jitter" in `0..=wait`.
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            policy: BackoffPolicy::Exponential,
            delay: DEFAULT_BACKOFF_DELAY,
            max: DEFAULT_BACKOFF_MAX,
            jitter: true,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1-based) without jitter: `delay * 2^(n-1)`,
    /// `delay * n` or `delay`, never more than `max`.
    #[must_use]
    pub fn wait(&self, retry: u32) -> Duration {
        let factor = match self.policy {
            BackoffPolicy::Exponential => 2u32.saturating_pow(retry.saturating_sub(1)),
            BackoffPolicy::Linear => retry.max(1),
            BackoffPolicy::Constant => 1,
        };
        self.delay.saturating_mul(factor).min(self.max)
    }
}

/// `delivery.backoff.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffPolicy {
    /// `delay`, `2 delay`, `4 delay`, …
    Exponential,
    /// `delay`, `2 delay`, `3 delay`, …
    Linear,
    /// Always `delay`.
    Constant,
}

/// `delivery.deadLetter`: `{topic: TOPIC}` or `{stream: NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum DeadLetter {
    /// Publish the dead-letter event on a topic.
    Topic {
        /// The topic.
        #[serde(with = "serde_text::text")]
        topic: Topic,
    },
    /// Append the dead-letter event to a stream.
    Stream {
        /// The stream's name.
        stream: StreamRef,
    },
}

/// `ordering`: `{by: key}` (default) or `{by: none}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ordering {
    /// What is kept in order.
    pub by: OrderBy,
}

/// `ordering.by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderBy {
    /// Events with the same key are delivered one at a time, in order, also under
    /// retries; events with different keys (or none) may overtake each other.
    #[default]
    Key,
    /// No order: up to `maxInFlight` deliveries at once, in any order.
    None,
}

/// One entry of `tests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteTest {
    /// An optional name shown in reports (default: the test's index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The event the route receives.
    #[serde(with = "serde_text::event")]
    pub input: CloudEvent,
    /// What must come out.
    pub expect: Expect,
}

/// `expect`: an event, or `dropped`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// The filter passes and the transform produces this event.
    Event(Box<CloudEvent>),
    /// The filter drops the event.
    Dropped,
}

impl Serialize for Expect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Expect::Dropped => serializer.serialize_str("dropped"),
            Expect::Event(event) => serde_text::event::serialize(event, serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.as_str() == Some("dropped") {
            return Ok(Expect::Dropped);
        }
        let bytes = serde_json::to_vec(&value).map_err(D::Error::custom)?;
        let event = weft_core::json::decode(&bytes).map_err(D::Error::custom)?;
        Ok(Expect::Event(Box::new(event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_waits_grow_by_policy_and_stop_at_max() {
        let mut backoff = Backoff {
            policy: BackoffPolicy::Exponential,
            delay: Duration::from_millis(100),
            max: Duration::from_millis(500),
            jitter: false,
        };
        let waits: Vec<u128> = (1..=5).map(|n| backoff.wait(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        backoff.policy = BackoffPolicy::Linear;
        let waits: Vec<u128> = (1..=4).map(|n| backoff.wait(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 300, 400]);
        backoff.policy = BackoffPolicy::Constant;
        assert_eq!(backoff.wait(9), Duration::from_millis(100));
        backoff.policy = BackoffPolicy::Exponential;
        assert_eq!(backoff.wait(200), Duration::from_millis(500));
    }
}
