//! [`StreamConfig`] (a stream's name and its [`StreamSettings`]) and its persisted form,
//! `stream.json` (its own, older shape: durations in milliseconds).

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weft_core::Filter;

use super::error::StreamError;
use super::name::StreamName;
// `Discard` is also named here because the capture and batch paths import it from this
// module, as they did when the settings were defined here.
pub(crate) use super::settings::Discard;
use super::settings::{FlushPolicy, StreamRetention, StreamSettings};

/// How a stream is configured: its name and its [`StreamSettings`]. Build one with
/// [`StreamConfig::new`] and change fields.
///
/// It dereferences to its settings, so `config.partitions` reads as it did when the
/// settings were fields of this struct: a stream's configuration *is* named settings, and
/// every reader of a setting (the capture path, the Kafka front end) stays as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The stream's name.
    pub name: StreamName,
    /// Everything else.
    pub settings: StreamSettings,
}

impl Deref for StreamConfig {
    type Target = StreamSettings;

    fn deref(&self) -> &StreamSettings {
        &self.settings
    }
}

impl DerefMut for StreamConfig {
    fn deref_mut(&mut self) -> &mut StreamSettings {
        &mut self.settings
    }
}

impl StreamConfig {
    /// A configuration with the defaults of [`StreamSettings::new`].
    pub fn new(name: StreamName, filters: Vec<Filter>) -> Self {
        StreamConfig {
            name,
            settings: StreamSettings::new(filters),
        }
    }

    /// Checks the limits of the settings ([`StreamSettings::validate`]), naming the
    /// stream in the error.
    pub fn validate(&self) -> Result<(), StreamError> {
        self.settings.validate().map_err(|error| {
            StreamError::invalid(format!(
                "stream {}: {}",
                self.name,
                weft_core::error_chain(&error)
            ))
        })
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
    discard: Discard,
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
            discard: config.discard,
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
        let mut settings = StreamSettings::new(filters);
        settings.partitions = stored.partitions;
        settings.retention = StreamRetention {
            max_age: stored.retention_max_age_ms.map(Duration::from_millis),
            max_bytes: stored.retention_max_bytes,
            max_events: stored.retention_max_events,
        };
        settings.compact = stored.compact;
        settings.max_event_bytes = stored.max_event_bytes;
        settings.dedupe_window = Duration::from_millis(stored.dedupe_window_ms);
        settings.flush = match stored.flush {
            StoredFlush::Always => FlushPolicy::Always,
            StoredFlush::IntervalMs(ms) => FlushPolicy::Interval(Duration::from_millis(ms)),
            StoredFlush::Never => FlushPolicy::Never,
        };
        settings.discard = stored.discard;
        let config = StreamConfig {
            name: StreamName::new(stored.name)?,
            settings,
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
