//! [`StreamSettings`]: everything that configures a stream but its name — the one schema
//! behind the HTTP stream API, `Stream` manifests and Kafka topic configs.
//!
//! Each setting's text form lives here: [`FlushPolicy`] and [`Discard`] parse and print
//! themselves, durations and sizes are numbers or human text (`7d`, `1GiB`, read by
//! `weft_core::units`). Documents are read through [`StreamSettingsForm`] (every field
//! but `filters` optional, unknown fields refused) and written in one canonical form
//! (durations as text such as `2m`, sizes as numbers of bytes) — the form of stored
//! manifests. The limits are checked by [`StreamSettings::validate`]; the checks of
//! single values are public so that a reader that knows where each value was written
//! (the manifest loader) can report every problem at its place.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use weft_core::units::{DurationError, Quantity, SizeError, format_duration, parse_duration};
use weft_core::{Filter, TopicError};

/// Most partitions a stream may have.
pub const MAX_PARTITIONS: u32 = 1024;
/// Default `max_event_bytes`: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
/// The largest `max_event_bytes` a stream may set: 4 MiB (the log's batches stay below
/// its 8 MiB batch limit).
pub const MAX_EVENT_BYTES_LIMIT: usize = 4 * 1024 * 1024;
/// Default deduplication window: 2 minutes.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(120);
/// The interval of `flush: interval` when none is given.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// How a stream stores what it captures: every setting but its name. Build one with
/// [`StreamSettings::new`] and change fields; read one from a document with serde (or
/// [`StreamSettingsForm`]); check it with [`StreamSettings::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StreamSettingsForm")]
pub struct StreamSettings {
    /// The topics it captures: every published event whose topic matches one (at least one).
    #[serde(serialize_with = "filters_text")]
    pub filters: Vec<Filter>,
    /// Number of partitions, 1..=1024 (default 1). May only grow.
    pub partitions: u32,
    /// When old events are deleted (by whole segments); nothing by default.
    pub retention: StreamRetention,
    /// Compaction by key: keep the latest event per key. Fixed at creation.
    pub compact: bool,
    /// Events larger than this (data, key and headers as stored) are rejected
    /// (default 1 MiB, at most 4 MiB).
    pub max_event_bytes: usize,
    /// A publish whose `source` + `id` was stored within this window is acknowledged but
    /// not stored again (default 2 minutes; zero disables deduplication).
    #[serde(serialize_with = "duration_text")]
    pub dedupe_window: Duration,
    /// When appends are synced to disk (default: before every acknowledgement). Fixed at
    /// creation.
    pub flush: FlushPolicy,
    /// What happens at the `retention.max_bytes` / `retention.max_events` limits
    /// (default: old events are deleted).
    pub discard: Discard,
}

/// Retention limits, each per partition; `None` means no limit. Whole segments are
/// deleted, so a partition may briefly hold more (its active segment is never deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StreamRetention {
    /// Events older than this are deleted.
    #[serde(serialize_with = "optional_duration_text")]
    pub max_age: Option<Duration>,
    /// A partition is kept below this many bytes.
    pub max_bytes: Option<u64>,
    /// A partition is kept below this many events.
    pub max_events: Option<u64>,
}

/// When a stream's appends are synced to disk. The broker's own setting, translated to
/// the storage behind it (the local log's group commit today). Its text:
/// `always`, `never`, `interval` (every [`DEFAULT_FLUSH_INTERVAL`]) or `interval:DURATION`.
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

/// What a stream does when a partition reaches `retention.max_bytes` or
/// `retention.max_events`, as JetStream's discard policy. Its text: `old` or `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discard {
    /// Keep accepting events; retention deletes the oldest segments. The default.
    #[default]
    Old,
    /// Keep what is stored; a publish that would take a partition past a limit is
    /// refused with `StreamError::Full` (retention by age still deletes old events).
    New,
}

/// Why stream settings are refused. Each names the setting it is about ([`Self::field`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// `filters` is empty.
    #[error("a stream needs at least one filter")]
    NoFilters,
    /// A filter does not parse.
    #[error("invalid filter `{filter}`")]
    Filter {
        /// The filter as written.
        filter: String,
        /// Why it is not a filter.
        #[source]
        error: TopicError,
    },
    /// `partitions` is outside 1 to [`MAX_PARTITIONS`].
    #[error("partitions must be from 1 to {MAX_PARTITIONS}, got {count}")]
    Partitions {
        /// The count asked for.
        count: u64,
    },
    /// `max_event_bytes` is outside 1 to [`MAX_EVENT_BYTES_LIMIT`].
    #[error("max_event_bytes must be from 1 to {MAX_EVENT_BYTES_LIMIT} (4MiB), got {bytes}")]
    MaxEventBytes {
        /// The size asked for.
        bytes: u64,
    },
    /// A duration setting does not parse. The text is the parser's: it names the value.
    #[error("`{field}`: {error}")]
    Duration {
        /// The setting, as its path in a document (`retention.max_age`).
        field: &'static str,
        /// Why it is not a duration.
        error: DurationError,
    },
    /// A size setting does not parse. The text is the parser's: it names the value.
    #[error("`{field}`: {error}")]
    Size {
        /// The setting, as its path in a document (`retention.max_bytes`).
        field: &'static str,
        /// Why it is not a size.
        error: SizeError,
    },
    /// `flush` is not one of its spellings.
    #[error("`flush` must be `always`, `never`, `interval` or `interval:DURATION`, got `{text}`")]
    Flush {
        /// The text as written.
        text: String,
        /// Why the interval of `interval:DURATION` is not a duration, if that was it.
        #[source]
        interval: Option<DurationError>,
    },
    /// `discard` is not `old` or `new`.
    #[error("`discard` must be `old` or `new`, got `{text}`")]
    Discard {
        /// The text as written.
        text: String,
    },
    /// `discard: new` without a size or count limit would refuse nothing.
    #[error("discard `new` needs a retention.max_bytes or retention.max_events limit")]
    DiscardWithoutLimit,
}

impl SettingsError {
    /// The setting the error is about, as its path in a document.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            SettingsError::NoFilters | SettingsError::Filter { .. } => "filters",
            SettingsError::Partitions { .. } => "partitions",
            SettingsError::MaxEventBytes { .. } => "max_event_bytes",
            SettingsError::Duration { field, .. } | SettingsError::Size { field, .. } => field,
            SettingsError::Flush { .. } => "flush",
            SettingsError::Discard { .. } | SettingsError::DiscardWithoutLimit => "discard",
        }
    }
}

impl StreamSettings {
    /// Settings with the defaults: one partition, no retention limits, no compaction,
    /// 1 MiB events, a 2-minute dedupe window, sync before every ack, old events
    /// discarded at limits.
    #[must_use]
    pub fn new(filters: Vec<Filter>) -> Self {
        StreamSettings {
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

    /// Checks the limits documented on the fields; the first problem is returned.
    ///
    /// # Errors
    /// The [`SettingsError`] of the first setting out of its limits.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.filters.is_empty() {
            return Err(SettingsError::NoFilters);
        }
        Self::checked_partitions(u64::from(self.partitions))?;
        Self::checked_max_event_bytes(u64::try_from(self.max_event_bytes).unwrap_or(u64::MAX))?;
        self.check_discard()
    }

    /// `count` as a partition count, if it is within 1 to [`MAX_PARTITIONS`].
    ///
    /// # Errors
    /// [`SettingsError::Partitions`] when it is not.
    pub fn checked_partitions(count: u64) -> Result<u32, SettingsError> {
        u32::try_from(count)
            .ok()
            .filter(|count| (1..=MAX_PARTITIONS).contains(count))
            .ok_or(SettingsError::Partitions { count })
    }

    /// `bytes` as a `max_event_bytes`, if it is within 1 to [`MAX_EVENT_BYTES_LIMIT`].
    ///
    /// # Errors
    /// [`SettingsError::MaxEventBytes`] when it is not.
    pub fn checked_max_event_bytes(bytes: u64) -> Result<usize, SettingsError> {
        usize::try_from(bytes)
            .ok()
            .filter(|bytes| (1..=MAX_EVENT_BYTES_LIMIT).contains(bytes))
            .ok_or(SettingsError::MaxEventBytes { bytes })
    }

    /// Checks that `discard: new` comes with a size or count limit to enforce.
    ///
    /// # Errors
    /// [`SettingsError::DiscardWithoutLimit`] when it does not.
    pub fn check_discard(&self) -> Result<(), SettingsError> {
        let limited = self.retention.max_bytes.is_some() || self.retention.max_events.is_some();
        if self.discard == Discard::New && !limited {
            return Err(SettingsError::DiscardWithoutLimit);
        }
        Ok(())
    }
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

impl fmt::Display for FlushPolicy {
    /// `always`, `never` or `interval:DURATION` (the interval always written out, in its
    /// shortest exact spelling), which [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushPolicy::Always => f.write_str("always"),
            FlushPolicy::Never => f.write_str("never"),
            FlushPolicy::Interval(every) => write!(f, "interval:{}", format_duration(*every)),
        }
    }
}

impl FromStr for FlushPolicy {
    type Err = SettingsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refused = |interval| SettingsError::Flush {
            text: text.to_owned(),
            interval,
        };
        match text {
            "always" => Ok(FlushPolicy::Always),
            "never" => Ok(FlushPolicy::Never),
            "interval" => Ok(FlushPolicy::Interval(DEFAULT_FLUSH_INTERVAL)),
            other => match other.strip_prefix("interval:") {
                Some(every) => parse_duration(every)
                    .map(FlushPolicy::Interval)
                    .map_err(|error| refused(Some(error))),
                None => Err(refused(None)),
            },
        }
    }
}

impl Serialize for FlushPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Discard {
    /// `old` or `new`, as in `stream.json`, the HTTP API, manifests and the CLI.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Discard::Old => "old",
            Discard::New => "new",
        }
    }
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Discard {
    type Err = SettingsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "old" => Ok(Discard::Old),
            "new" => Ok(Discard::New),
            other => Err(SettingsError::Discard {
                text: other.to_owned(),
            }),
        }
    }
}

impl Serialize for Discard {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Discard {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Stream settings as a document writes them, before their text is read: every field but
/// `filters` optional (absent means the default), durations as milliseconds or text
/// (`7d`), sizes as bytes or text (`1GiB`), `flush` and `discard` as text; unknown fields
/// are refused. This is what the HTTP API takes, and what the canonical form of
/// [`StreamSettings`] is read back through. [`StreamSettingsForm::parse`] turns it into
/// settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettingsForm {
    filters: Vec<String>,
    partitions: Option<u32>,
    retention: Option<RetentionForm>,
    compact: Option<bool>,
    max_event_bytes: Option<Quantity>,
    dedupe_window: Option<Quantity>,
    flush: Option<String>,
    discard: Option<String>,
}

/// `retention` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionForm {
    max_age: Option<Quantity>,
    max_bytes: Option<Quantity>,
    max_events: Option<u64>,
}

impl StreamSettingsForm {
    /// Reads every value; the limits are left to [`StreamSettings::validate`] (the
    /// broker checks them again with the stream's name when it is created or updated).
    ///
    /// # Errors
    /// The [`SettingsError`] of the first value that does not read.
    pub fn parse(self) -> Result<StreamSettings, SettingsError> {
        let filters = self
            .filters
            .into_iter()
            .map(|filter| {
                Filter::new(filter.as_str())
                    .map_err(|error| SettingsError::Filter { filter, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut settings = StreamSettings::new(filters);
        if let Some(partitions) = self.partitions {
            settings.partitions = partitions;
        }
        let retention = self.retention.unwrap_or_default();
        settings.retention = StreamRetention {
            max_age: retention
                .max_age
                .map(|age| duration("retention.max_age", &age))
                .transpose()?,
            max_bytes: retention
                .max_bytes
                .map(|bytes| size("retention.max_bytes", &bytes))
                .transpose()?,
            max_events: retention.max_events,
        };
        if let Some(compact) = self.compact {
            settings.compact = compact;
        }
        if let Some(max) = self.max_event_bytes {
            let bytes = size("max_event_bytes", &max)?;
            settings.max_event_bytes =
                usize::try_from(bytes).map_err(|_| SettingsError::MaxEventBytes { bytes })?;
        }
        if let Some(window) = self.dedupe_window {
            settings.dedupe_window = duration("dedupe_window", &window)?;
        }
        if let Some(flush) = self.flush {
            settings.flush = flush.parse()?;
        }
        if let Some(discard) = self.discard {
            settings.discard = discard.parse()?;
        }
        Ok(settings)
    }
}

impl TryFrom<StreamSettingsForm> for StreamSettings {
    type Error = SettingsError;

    /// Reads and validates: a deserialized [`StreamSettings`] is within its limits.
    fn try_from(form: StreamSettingsForm) -> Result<Self, Self::Error> {
        let settings = form.parse()?;
        settings.validate()?;
        Ok(settings)
    }
}

fn duration(field: &'static str, quantity: &Quantity) -> Result<Duration, SettingsError> {
    quantity
        .millis()
        .map_err(|error| SettingsError::Duration { field, error })
}

fn size(field: &'static str, quantity: &Quantity) -> Result<u64, SettingsError> {
    quantity
        .bytes()
        .map_err(|error| SettingsError::Size { field, error })
}

fn filters_text<S: Serializer>(filters: &[Filter], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(filters.iter().map(Filter::as_str))
}

fn duration_text<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

fn optional_duration_text<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => duration_text(duration, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Result<StreamSettings, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    #[test]
    fn the_canonical_form_reads_back_to_the_same_settings() {
        let mut settings = StreamSettings::new(vec![
            Filter::new("orders/>").unwrap(),
            Filter::new("b").unwrap(),
        ]);
        settings.partitions = 3;
        settings.retention.max_age = Some(Duration::from_secs(7 * 86_400));
        settings.retention.max_events = Some(10);
        settings.compact = true;
        settings.dedupe_window = Duration::from_millis(1500);
        settings.flush = FlushPolicy::Interval(Duration::from_secs(1));
        settings.discard = Discard::New;
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            json,
            r#"{"filters":["orders/>","b"],"partitions":3,"retention":{"max_age":"7d","max_bytes":null,"max_events":10},"compact":true,"max_event_bytes":1048576,"dedupe_window":"1500ms","flush":"interval:1s","discard":"new"}"#
        );
        assert_eq!(self::settings(&json).unwrap(), settings);
    }

    #[test]
    fn absent_settings_take_their_defaults_and_numbers_are_millis_or_bytes() {
        let read = settings(r#"{"filters":["a"]}"#).unwrap();
        assert_eq!(read, StreamSettings::new(vec![Filter::new("a").unwrap()]));
        let read = settings(
            r#"{"filters":["a"],"retention":{"max_age":60000,"max_bytes":"1KiB"},
                "max_event_bytes":"2KiB","dedupe_window":0}"#,
        )
        .unwrap();
        assert_eq!(read.retention.max_age, Some(Duration::from_secs(60)));
        assert_eq!(read.retention.max_bytes, Some(1024));
        assert_eq!(read.max_event_bytes, 2048);
        assert_eq!(read.dedupe_window, Duration::ZERO);
    }

    #[test]
    fn deserialized_settings_are_checked_against_the_limits() {
        let error = settings(r#"{"filters":["a"],"partitions":2000}"#).unwrap_err();
        assert!(
            error.contains("partitions must be from 1 to 1024, got 2000"),
            "{error}"
        );
        let error = settings(r#"{"filters":["a"],"discard":"new"}"#).unwrap_err();
        assert!(error.contains("needs a retention.max_bytes"), "{error}");
        let error = settings(r#"{"filters":[]}"#).unwrap_err();
        assert!(error.contains("at least one filter"), "{error}");
        let error = settings(r#"{"filters":["a"],"partitons":2}"#).unwrap_err();
        assert!(error.contains("unknown field `partitons`"), "{error}");
        let error = settings(r#"{"filters":["a"],"retention":{"max_agee":1}}"#).unwrap_err();
        assert!(error.contains("unknown field `max_agee`"), "{error}");
        let error = settings(r#"{"filters":["a"],"dedupe_window":"5"}"#).unwrap_err();
        assert!(
            error.contains("`dedupe_window`: duration `5` needs a unit"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_name_their_setting() {
        let form = |json: &str| serde_json::from_str::<StreamSettingsForm>(json).unwrap();
        let error = form(r#"{"filters":["a/#"]}"#).parse().unwrap_err();
        assert_eq!(error.field(), "filters");
        assert!(matches!(error, SettingsError::Filter { .. }));
        let error = form(r#"{"filters":["a"],"retention":{"max_bytes":"lots"}}"#)
            .parse()
            .unwrap_err();
        assert_eq!(error.field(), "retention.max_bytes");
        let error = form(r#"{"filters":["a"],"discard":"newest"}"#)
            .parse()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`discard` must be `old` or `new`, got `newest`"
        );
        // Limits are not the form's business: the broker checks them with the name.
        let read = form(r#"{"filters":["a"],"partitions":0}"#).parse().unwrap();
        assert_eq!(read.validate(), Err(SettingsError::Partitions { count: 0 }));
    }

    #[test]
    fn flush_spellings_round_trip_and_bad_intervals_keep_their_reason() {
        for text in ["always", "never", "interval:250ms", "interval:2m"] {
            assert_eq!(text.parse::<FlushPolicy>().unwrap().to_string(), text);
        }
        assert_eq!(
            "interval".parse::<FlushPolicy>().unwrap(),
            FlushPolicy::Interval(DEFAULT_FLUSH_INTERVAL)
        );
        assert_eq!(
            "interval:1000ms"
                .parse::<FlushPolicy>()
                .unwrap()
                .to_string(),
            "interval:1s"
        );
        let error = "interval:soon".parse::<FlushPolicy>().unwrap_err();
        assert!(matches!(
            error,
            SettingsError::Flush {
                interval: Some(DurationError::Invalid { .. }),
                ..
            }
        ));
        assert!(matches!(
            "sometimes".parse::<FlushPolicy>(),
            Err(SettingsError::Flush { interval: None, .. })
        ));
    }

    #[test]
    fn limits_are_inclusive() {
        assert_eq!(StreamSettings::checked_partitions(1), Ok(1));
        assert_eq!(StreamSettings::checked_partitions(1024), Ok(1024));
        assert!(StreamSettings::checked_partitions(1025).is_err());
        assert!(StreamSettings::checked_partitions(u64::from(u32::MAX) + 2).is_err());
        assert_eq!(
            StreamSettings::checked_max_event_bytes(4 << 20),
            Ok(MAX_EVENT_BYTES_LIMIT)
        );
        assert!(StreamSettings::checked_max_event_bytes(0).is_err());
        assert!(StreamSettings::checked_max_event_bytes((4 << 20) + 1).is_err());
    }
}
