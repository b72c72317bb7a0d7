//! [`StreamConfig`] and its persisted form, `stream.json`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use weft_core::Filter;

use super::error::StreamError;
use super::name::StreamName;

/// Most partitions a stream may have.
pub const MAX_PARTITIONS: u32 = 1024;
/// Default `max_event_bytes`: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
/// The largest `max_event_bytes` a stream may set: 4 MiB (the log's batches stay below
/// its 8 MiB batch limit).
pub const MAX_EVENT_BYTES_LIMIT: usize = 4 * 1024 * 1024;
/// Default deduplication window: 2 minutes.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(120);

/// How a stream is configured. Build one with [`StreamConfig::new`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The stream's name.
    pub name: StreamName,
    /// The topics it captures: every published event whose topic matches one (at least one).
    pub filters: Vec<Filter>,
    /// Number of partitions, 1..=1024 (default 1). May only grow.
    pub partitions: u32,
    /// When old events are deleted (by whole segments); nothing by default.
    pub retention: StreamRetention,
    /// Compaction by key: keep the latest event per key.
    pub compact: bool,
    /// Events larger than this (data, key and headers as stored) are rejected
    /// (default 1 MiB, at most 4 MiB).
    pub max_event_bytes: usize,
    /// A publish whose `source` + `id` was stored within this window is acknowledged but
    /// not stored again (default 2 minutes; zero disables deduplication).
    pub dedupe_window: Duration,
    /// When appends are synced to disk (default: before every acknowledgement).
    pub flush: FlushPolicy,
    /// What happens at the `retention.max_bytes` / `retention.max_events` limits
    /// (default: old events are deleted).
    pub discard: Discard,
}

/// When a stream's appends are synced to disk. The broker's own setting, translated to
/// the storage behind it (the local log's group commit today).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushPolicy {
    /// Synced before any append is acknowledged (group commit). The safe default.
    #[default]
    Always,
    /// Opt-in, weaker: acknowledged at once and synced at most this long after a write.
    /// A power loss can lose acknowledged events from the last interval.
    Interval(Duration),
    /// Opt-in, weakest: synced only when a segment is sealed. A power loss can lose any
    /// acknowledged event of the active segment.
    Never,
}

impl FlushPolicy {
    /// The local log's policy.
    pub(crate) fn for_log(self) -> weft_log::FlushPolicy {
        match self {
            FlushPolicy::Always => weft_log::FlushPolicy::Always,
            FlushPolicy::Interval(every) => weft_log::FlushPolicy::Interval(every),
            FlushPolicy::Never => weft_log::FlushPolicy::Never,
        }
    }
}

/// What a stream does when a partition reaches `retention.max_bytes` or
/// `retention.max_events`, as JetStream's discard policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discard {
    /// Keep accepting events; retention deletes the oldest segments. The default.
    #[default]
    Old,
    /// Keep what is stored; a publish that would take a partition past a limit is
    /// refused with [`StreamError::Full`] (retention by age still deletes old events).
    New,
}

impl Discard {
    /// `old` or `new`, as in `stream.json`, the HTTP API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Discard::Old => "old",
            Discard::New => "new",
        }
    }
}

impl std::fmt::Display for Discard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Discard {
    type Err = StreamError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "old" => Ok(Discard::Old),
            "new" => Ok(Discard::New),
            other => Err(StreamError::invalid(format!(
                "discard must be `old` or `new`, got `{other}`"
            ))),
        }
    }
}

/// Retention limits, each per partition; `None` means no limit. Whole segments are
/// deleted, so a partition may briefly hold more (its active segment is never deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamRetention {
    /// Events older than this are deleted.
    pub max_age: Option<Duration>,
    /// A partition is kept below this many bytes.
    pub max_bytes: Option<u64>,
    /// A partition is kept below this many events.
    pub max_events: Option<u64>,
}

impl StreamConfig {
    /// A configuration with the defaults: one partition, no retention limits, no
    /// compaction, 1 MiB events, a 2-minute dedupe window, sync before every ack, old
    /// events discarded at limits.
    pub fn new(name: StreamName, filters: Vec<Filter>) -> Self {
        StreamConfig {
            name,
            filters,
            partitions: 1,
            retention: StreamRetention::default(),
            compact: false,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            flush: FlushPolicy::Always,
            discard: Discard::Old,
        }
    }

    /// Checks the limits documented on the fields.
    pub fn validate(&self) -> Result<(), StreamError> {
        if self.filters.is_empty() {
            return Err(StreamError::invalid(format!(
                "stream {} needs at least one filter",
                self.name
            )));
        }
        if !(1..=MAX_PARTITIONS).contains(&self.partitions) {
            return Err(StreamError::invalid(format!(
                "stream {} has {} partitions; allowed are 1 to {MAX_PARTITIONS}",
                self.name, self.partitions
            )));
        }
        if !(1..=MAX_EVENT_BYTES_LIMIT).contains(&self.max_event_bytes) {
            return Err(StreamError::invalid(format!(
                "max_event_bytes of stream {} is {}; allowed are 1 to {MAX_EVENT_BYTES_LIMIT}",
                self.name, self.max_event_bytes
            )));
        }
        if self.discard == Discard::New
            && self.retention.max_bytes.is_none()
            && self.retention.max_events.is_none()
        {
            return Err(StreamError::invalid(format!(
                "stream {} discards new events but has no retention.max_bytes or retention.max_events limit",
                self.name
            )));
        }
        Ok(())
    }

    /// Checks that `self` may replace `old`: partitions only grow, and neither `flush`
    /// nor `compact` changes.
    pub(crate) fn check_update_of(&self, old: &StreamConfig) -> Result<(), StreamError> {
        if self.partitions < old.partitions {
            return Err(StreamError::invalid(format!(
                "stream {} has {} partitions; partitions can be added but not removed (asked for {})",
                self.name, old.partitions, self.partitions
            )));
        }
        if self.flush != old.flush {
            return Err(StreamError::invalid(format!(
                "the flush policy of stream {} cannot be changed",
                self.name
            )));
        }
        if self.compact != old.compact {
            return Err(StreamError::invalid(format!(
                "compaction of stream {} cannot be switched on or off",
                self.name
            )));
        }
        Ok(())
    }

    pub(crate) fn log_retention(&self) -> weft_log::RetentionPolicy {
        weft_log::RetentionPolicy {
            max_age: self.retention.max_age,
            max_bytes: self.retention.max_bytes,
            max_records: self.retention.max_events,
        }
    }
}

/// The JSON form of a [`StreamConfig`] in `stream.json`. Durations are milliseconds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredConfig {
    version: u32,
    name: String,
    filters: Vec<String>,
    partitions: u32,
    retention_max_age_ms: Option<u64>,
    retention_max_bytes: Option<u64>,
    retention_max_events: Option<u64>,
    compact: bool,
    max_event_bytes: usize,
    dedupe_window_ms: u64,
    flush: StoredFlush,
    /// Absent in files written before discard policies existed: `old`.
    #[serde(default)]
    discard: StoredDiscard,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredDiscard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredFlush {
    Always,
    IntervalMs(u64),
    Never,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<&StreamConfig> for StoredConfig {
    fn from(config: &StreamConfig) -> Self {
        StoredConfig {
            version: 1,
            name: config.name.to_string(),
            filters: config
                .filters
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            partitions: config.partitions,
            retention_max_age_ms: config.retention.max_age.map(millis),
            retention_max_bytes: config.retention.max_bytes,
            retention_max_events: config.retention.max_events,
            compact: config.compact,
            max_event_bytes: config.max_event_bytes,
            dedupe_window_ms: millis(config.dedupe_window),
            flush: match config.flush {
                FlushPolicy::Always => StoredFlush::Always,
                FlushPolicy::Interval(interval) => StoredFlush::IntervalMs(millis(interval)),
                FlushPolicy::Never => StoredFlush::Never,
            },
            discard: match config.discard {
                Discard::Old => StoredDiscard::Old,
                Discard::New => StoredDiscard::New,
            },
        }
    }
}

impl TryFrom<StoredConfig> for StreamConfig {
    type Error = StreamError;

    fn try_from(stored: StoredConfig) -> Result<Self, Self::Error> {
        if stored.version != 1 {
            return Err(StreamError::invalid(format!(
                "unsupported stream.json version {}",
                stored.version
            )));
        }
        let filters = stored
            .filters
            .into_iter()
            .map(|filter| {
                Filter::new(filter).map_err(|error| StreamError::invalid(error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = StreamConfig {
            name: StreamName::new(stored.name)?,
            filters,
            partitions: stored.partitions,
            retention: StreamRetention {
                max_age: stored.retention_max_age_ms.map(Duration::from_millis),
                max_bytes: stored.retention_max_bytes,
                max_events: stored.retention_max_events,
            },
            compact: stored.compact,
            max_event_bytes: stored.max_event_bytes,
            dedupe_window: Duration::from_millis(stored.dedupe_window_ms),
            flush: match stored.flush {
                StoredFlush::Always => FlushPolicy::Always,
                StoredFlush::IntervalMs(ms) => FlushPolicy::Interval(Duration::from_millis(ms)),
                StoredFlush::Never => FlushPolicy::Never,
            },
            discard: match stored.discard {
                StoredDiscard::Old => Discard::Old,
                StoredDiscard::New => Discard::New,
            },
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_config_round_trips_every_field() {
        let mut config = StreamConfig::new(
            StreamName::new("orders").unwrap(),
            vec![
                Filter::new("orders/>").unwrap(),
                Filter::new("x/*").unwrap(),
            ],
        );
        config.partitions = 3;
        config.retention.max_age = Some(Duration::from_secs(3600));
        config.retention.max_bytes = Some(1 << 30);
        config.compact = true;
        config.flush = FlushPolicy::Interval(Duration::from_millis(250));
        config.discard = Discard::New;
        let json = serde_json::to_string(&StoredConfig::from(&config)).unwrap();
        let stored: StoredConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(StreamConfig::try_from(stored).unwrap(), config);
    }

    #[test]
    fn stored_config_without_discard_loads_as_old() {
        let json = r#"{"version":1,"name":"orders","filters":["orders/>"],"partitions":1,
            "retention_max_age_ms":null,"retention_max_bytes":null,"retention_max_events":2,
            "compact":false,"max_event_bytes":1048576,"dedupe_window_ms":120000,
            "flush":"always"}"#;
        let stored: StoredConfig = serde_json::from_str(json).unwrap();
        let config = StreamConfig::try_from(stored).unwrap();
        assert_eq!(config.discard, Discard::Old);
        assert_eq!(config.retention.max_events, Some(2));
    }

    #[test]
    fn discard_new_needs_a_size_or_count_limit() {
        let mut config = StreamConfig::new(
            StreamName::new("s").unwrap(),
            vec![Filter::new("a").unwrap()],
        );
        config.discard = Discard::New;
        assert!(matches!(
            config.validate(),
            Err(StreamError::Invalid { .. })
        ));
        config.retention.max_events = Some(10);
        config.validate().unwrap();
        assert_eq!("new".parse::<Discard>().unwrap(), Discard::New);
        assert!("newest".parse::<Discard>().is_err());
    }

    #[test]
    fn zero_partitions_and_no_filters_are_invalid() {
        let mut config = StreamConfig::new(StreamName::new("s").unwrap(), Vec::new());
        assert!(matches!(
            config.validate(),
            Err(StreamError::Invalid { .. })
        ));
        config.filters.push(Filter::new("a").unwrap());
        config.partitions = 0;
        assert!(matches!(
            config.validate(),
            Err(StreamError::Invalid { .. })
        ));
    }
}
