//! What a durable consumer is: [`ConsumerConfig`] and the types it is made of, and the
//! form it is stored in (`<stream dir>/consumers/<name>.json`).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use weft_core::Topic;

use super::error::ConsumerError;
use crate::stream::StreamName;

/// Default [`ConsumerConfig::ack_wait`].
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default [`ConsumerConfig::max_deliveries`].
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;
/// Default [`ConsumerConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1000;
/// The largest [`ConsumerConfig::max_in_flight`].
pub const MAX_IN_FLIGHT_LIMIT: usize = 100_000;
/// The shortest a member stays in a group without pulling (see
/// [`ConsumerConfig::session_timeout`]).
pub const MIN_SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// A valid consumer name: the rules of [`StreamName`] (1..=249 characters of
/// `A-Z a-z 0-9 . _ -`, not `.` or `..`). The name is also the consumer's group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsumerName(String);

impl ConsumerName {
    /// Checks `name` against the rules above.
    pub fn new(name: impl Into<String>) -> Result<Self, ConsumerError> {
        let name = name.into();
        StreamName::new(name.clone()).map_err(|error| ConsumerError::Invalid {
            reason: match error {
                crate::StreamError::Invalid { reason } => reason.replacen("stream", "consumer", 1),
                other => other.to_string(),
            },
        })?;
        Ok(ConsumerName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ConsumerName {
    type Err = ConsumerError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ConsumerName::new(name)
    }
}

impl fmt::Display for ConsumerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a new consumer starts, in every partition. Only used when the consumer is
/// created; afterwards its stored cursor decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// The first event still stored.
    #[default]
    All,
    /// Only events stored after the consumer was created.
    New,
    /// This offset in every partition (clamped to the stored range).
    Offset(u64),
    /// The first event received at or after this time.
    Time(SystemTime),
    /// The last stored event of each key (keyless events are skipped), then everything new.
    LastPerKey,
}

/// How long a redelivery waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backoff {
    /// The i-th redelivery (0-based) waits `delays[min(i, len - 1)]`. Must not be empty.
    Delays(Vec<Duration>),
    /// The i-th redelivery waits `initial * 2^i`, at most `max`; with `jitter`, a uniformly
    /// random delay between half of that and all of it.
    Exponential {
        /// The first delay.
        initial: Duration,
        /// The longest delay.
        max: Duration,
        /// Whether to randomise delays (so failing consumers do not retry in lockstep).
        jitter: bool,
    },
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl Backoff {
    /// The delay before redelivery number `redelivery` (0-based) without jitter, and
    /// whether jitter applies.
    pub(crate) fn base_delay(&self, redelivery: u32) -> (Duration, bool) {
        match self {
            Backoff::Delays(delays) => {
                let index = (redelivery as usize).min(delays.len().saturating_sub(1));
                (delays.get(index).copied().unwrap_or_default(), false)
            }
            Backoff::Exponential {
                initial,
                max,
                jitter,
            } => {
                let factor = 1u32.checked_shl(redelivery.min(31)).unwrap_or(u32::MAX);
                let delay = initial.checked_mul(factor).unwrap_or(*max).min(*max);
                (delay, *jitter)
            }
        }
    }
}

/// Where events go after max deliveries or a terminate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetter {
    /// Published through the broker on this topic (capturing streams store it, live
    /// subscribers see it).
    Topic(Topic),
    /// Appended to this stream directly, whatever its filters.
    Stream(StreamName),
}

/// Whether events with the same key are delivered one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyOrdering {
    /// No ordering between deliveries in flight.
    #[default]
    None,
    /// An event is held back while an earlier event with the same key (event key, else
    /// the `partitionkey` extension) is in flight or waiting for redelivery.
    ByKey,
}

/// A durable consumer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// The stream it reads.
    pub stream: StreamName,
    /// Its name, also its group: members pulling with the same name share the work.
    pub name: ConsumerName,
    /// Where it starts (default [`StartPosition::All`]).
    pub start: StartPosition,
    /// How long a delivery may stay unacknowledged before it is redelivered (default 30 s).
    pub ack_wait: Duration,
    /// Deliveries of one event before it is dead-lettered (default 5; 0 = unlimited).
    pub max_deliveries: u32,
    /// The delay before a redelivery, for nacks without a delay and ack-wait timeouts.
    pub backoff: Backoff,
    /// Outstanding deliveries at most (default 1000).
    pub max_in_flight: usize,
    /// Key ordering (default none).
    pub ordering: KeyOrdering,
    /// Where dead-lettered events go (default: dropped after logging).
    pub dead_letter: Option<DeadLetter>,
}

impl ConsumerConfig {
    /// A consumer of `stream` named `name` with every default.
    pub fn new(stream: StreamName, name: ConsumerName) -> Self {
        ConsumerConfig {
            stream,
            name,
            start: StartPosition::default(),
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            backoff: Backoff::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            ordering: KeyOrdering::default(),
            dead_letter: None,
        }
    }

    /// Checks the values that the types do not.
    pub fn validate(&self) -> Result<(), ConsumerError> {
        let invalid = |reason: &str| {
            Err(ConsumerError::Invalid {
                reason: reason.to_owned(),
            })
        };
        if self.ack_wait.is_zero() {
            return invalid("ack_wait must be greater than zero");
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT_LIMIT {
            return Err(ConsumerError::Invalid {
                reason: format!("max_in_flight must be 1..={MAX_IN_FLIGHT_LIMIT}"),
            });
        }
        match &self.backoff {
            Backoff::Delays(delays) if delays.is_empty() => {
                return invalid("backoff needs at least one delay");
            }
            Backoff::Exponential { initial, max, .. } if initial > max => {
                return invalid("backoff initial delay is longer than its maximum");
            }
            _ => {}
        }
        if let Some(DeadLetter::Stream(stream)) = &self.dead_letter
            && *stream == self.stream
        {
            return invalid("a consumer cannot dead-letter into the stream it reads");
        }
        Ok(())
    }

    /// How long a member stays in the group without pulling: twice `ack_wait`, at least
    /// [`MIN_SESSION_TIMEOUT`].
    pub fn session_timeout(&self) -> Duration {
        self.ack_wait.saturating_mul(2).max(MIN_SESSION_TIMEOUT)
    }
}

/// [`ConsumerConfig`] as stored (durations in milliseconds, times in milliseconds since
/// the Unix epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredConfig {
    stream: String,
    name: String,
    start: StoredStart,
    ack_wait_ms: u64,
    max_deliveries: u32,
    backoff: StoredBackoff,
    max_in_flight: usize,
    by_key: bool,
    dead_letter: Option<StoredDeadLetter>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
enum StoredStart {
    All,
    New,
    Offset { offset: u64 },
    Time { ms: u64 },
    LastPerKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
enum StoredBackoff {
    Delays {
        delays_ms: Vec<u64>,
    },
    Exponential {
        initial_ms: u64,
        max_ms: u64,
        jitter: bool,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
enum StoredDeadLetter {
    Topic { topic: String },
    Stream { stream: String },
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<&ConsumerConfig> for StoredConfig {
    fn from(config: &ConsumerConfig) -> Self {
        StoredConfig {
            stream: config.stream.to_string(),
            name: config.name.to_string(),
            start: match config.start {
                StartPosition::All => StoredStart::All,
                StartPosition::New => StoredStart::New,
                StartPosition::Offset(offset) => StoredStart::Offset { offset },
                StartPosition::Time(time) => StoredStart::Time {
                    ms: millis(time.duration_since(UNIX_EPOCH).unwrap_or_default()),
                },
                StartPosition::LastPerKey => StoredStart::LastPerKey,
            },
            ack_wait_ms: millis(config.ack_wait),
            max_deliveries: config.max_deliveries,
            backoff: match &config.backoff {
                Backoff::Delays(delays) => StoredBackoff::Delays {
                    delays_ms: delays.iter().copied().map(millis).collect(),
                },
                Backoff::Exponential {
                    initial,
                    max,
                    jitter,
                } => StoredBackoff::Exponential {
                    initial_ms: millis(*initial),
                    max_ms: millis(*max),
                    jitter: *jitter,
                },
            },
            max_in_flight: config.max_in_flight,
            by_key: config.ordering == KeyOrdering::ByKey,
            dead_letter: config.dead_letter.as_ref().map(|target| match target {
                DeadLetter::Topic(topic) => StoredDeadLetter::Topic {
                    topic: topic.to_string(),
                },
                DeadLetter::Stream(stream) => StoredDeadLetter::Stream {
                    stream: stream.to_string(),
                },
            }),
        }
    }
}

impl TryFrom<StoredConfig> for ConsumerConfig {
    type Error = ConsumerError;

    fn try_from(stored: StoredConfig) -> Result<Self, Self::Error> {
        let invalid = |reason: String| ConsumerError::Invalid { reason };
        let stream = StreamName::new(stored.stream).map_err(|error| invalid(error.to_string()))?;
        let ms = Duration::from_millis;
        Ok(ConsumerConfig {
            stream,
            name: ConsumerName::new(stored.name)?,
            start: match stored.start {
                StoredStart::All => StartPosition::All,
                StoredStart::New => StartPosition::New,
                StoredStart::Offset { offset } => StartPosition::Offset(offset),
                StoredStart::Time { ms: at } => StartPosition::Time(UNIX_EPOCH + ms(at)),
                StoredStart::LastPerKey => StartPosition::LastPerKey,
            },
            ack_wait: ms(stored.ack_wait_ms),
            max_deliveries: stored.max_deliveries,
            backoff: match stored.backoff {
                StoredBackoff::Delays { delays_ms } => {
                    Backoff::Delays(delays_ms.into_iter().map(ms).collect())
                }
                StoredBackoff::Exponential {
                    initial_ms,
                    max_ms,
                    jitter,
                } => Backoff::Exponential {
                    initial: ms(initial_ms),
                    max: ms(max_ms),
                    jitter,
                },
            },
            max_in_flight: stored.max_in_flight,
            ordering: if stored.by_key {
                KeyOrdering::ByKey
            } else {
                KeyOrdering::None
            },
            dead_letter: match stored.dead_letter {
                None => None,
                Some(StoredDeadLetter::Topic { topic }) => Some(DeadLetter::Topic(
                    Topic::new(&topic).map_err(|error| invalid(error.to_string()))?,
                )),
                Some(StoredDeadLetter::Stream { stream }) => Some(DeadLetter::Stream(
                    StreamName::new(stream).map_err(|error| invalid(error.to_string()))?,
                )),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ConsumerConfig {
        ConsumerConfig::new(
            StreamName::new("orders").unwrap(),
            ConsumerName::new("billing").unwrap(),
        )
    }

    #[test]
    fn delays_backoff_repeats_its_last_delay() {
        let backoff = Backoff::Delays(vec![Duration::from_secs(1), Duration::from_secs(5)]);
        assert_eq!(backoff.base_delay(0).0, Duration::from_secs(1));
        assert_eq!(backoff.base_delay(1).0, Duration::from_secs(5));
        assert_eq!(backoff.base_delay(7).0, Duration::from_secs(5));
    }

    #[test]
    fn exponential_backoff_doubles_up_to_its_maximum() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: false,
        };
        let delays: Vec<u128> = (0..6)
            .map(|i| backoff.base_delay(i).0.as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.base_delay(u32::MAX).0, Duration::from_secs(1));
    }

    #[test]
    fn stored_config_round_trips() {
        let mut original = config();
        original.start = StartPosition::Time(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        original.backoff = Backoff::Delays(vec![Duration::from_millis(250)]);
        original.ordering = KeyOrdering::ByKey;
        original.dead_letter = Some(DeadLetter::Topic(Topic::new("dead/orders").unwrap()));
        let json = serde_json::to_string(&StoredConfig::from(&original)).unwrap();
        let back: StoredConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(ConsumerConfig::try_from(back).unwrap(), original);
    }

    #[test]
    fn invalid_configs_are_rejected_with_a_reason() {
        let mut empty_delays = config();
        empty_delays.backoff = Backoff::Delays(Vec::new());
        let mut no_in_flight = config();
        no_in_flight.max_in_flight = 0;
        let mut into_itself = config();
        into_itself.dead_letter = Some(DeadLetter::Stream(into_itself.stream.clone()));
        for bad in [empty_delays, no_in_flight, into_itself] {
            assert!(matches!(bad.validate(), Err(ConsumerError::Invalid { .. })));
        }
        assert!(ConsumerName::new("a/b").is_err());
    }
}
