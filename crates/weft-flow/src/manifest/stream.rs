//! The `Stream` kind: a durable, partitioned log that captures the events whose topics
//! match its filters. The fields and their limits are the broker's `StreamConfig` (and
//! the names are those of the HTTP stream API), so the runtime maps a spec onto a
//! `StreamConfig` field by field; this crate does not depend on the broker.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weft_core::Filter;

use crate::serde_text;

/// Most partitions a stream may have (the broker's `MAX_PARTITIONS`).
pub const MAX_PARTITIONS: u32 = 1024;
/// Default `max_event_bytes`: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: u64 = 1024 * 1024;
/// The largest `max_event_bytes`: 4 MiB.
pub const MAX_EVENT_BYTES_LIMIT: u64 = 4 * 1024 * 1024;
/// Default deduplication window: 2 minutes.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(120);
/// The interval of `flush: interval` when none is given (as the HTTP API).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// `spec` of a `Stream`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// The topics it captures (at least one).
    #[serde(with = "serde_text::text_vec")]
    pub filters: Vec<Filter>,
    /// Number of partitions, 1 to 1024 (default 1). May only grow.
    pub partitions: u32,
    /// Retention limits per partition.
    pub retention: Retention,
    /// Compaction by key (default off). Cannot be switched on or off later.
    pub compact: bool,
    /// Largest event in bytes, 1 to 4 MiB (default 1 MiB).
    pub max_event_bytes: u64,
    /// Deduplication window by `source` + `id` (default 2m; `0` disables it).
    #[serde(with = "serde_text::duration")]
    pub dedupe_window: Duration,
    /// When appends are synced to disk (default `always`). Cannot change later.
    #[serde(with = "serde_text::text")]
    pub flush: Flush,
    /// What happens at a size or count limit (default `old`).
    pub discard: Discard,
}

impl StreamSpec {
    /// A spec with the broker's defaults and these filters.
    #[must_use]
    pub fn new(filters: Vec<Filter>) -> StreamSpec {
        StreamSpec {
            filters,
            partitions: 1,
            retention: Retention::default(),
            compact: false,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            flush: Flush::Always,
            discard: Discard::Old,
        }
    }
}

/// `retention`: limits per partition; absent means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Retention {
    /// Events older than this are deleted.
    #[serde(with = "serde_text::opt_duration")]
    pub max_age: Option<Duration>,
    /// A partition is kept below this many bytes.
    pub max_bytes: Option<u64>,
    /// A partition is kept below this many events.
    pub max_events: Option<u64>,
}

/// `flush`: `always`, `never`, `interval` (100ms) or `interval:DURATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Sync before every acknowledgement.
    Always,
    /// Sync at this interval.
    Interval(Duration),
    /// Leave syncing to the operating system.
    Never,
}

/// Why a `flush` value is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flush must be `always`, `never`, `interval` or `interval:DURATION`, got `{0}`")]
pub struct FlushError(String);

impl FromStr for Flush {
    type Err = FlushError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "always" => Ok(Flush::Always),
            "never" => Ok(Flush::Never),
            "interval" => Ok(Flush::Interval(DEFAULT_FLUSH_INTERVAL)),
            other => other
                .strip_prefix("interval:")
                .and_then(|every| weft_yaml::parse_duration(every).ok())
                .map(Flush::Interval)
                .ok_or_else(|| FlushError(other.to_owned())),
        }
    }
}

impl fmt::Display for Flush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flush::Always => f.write_str("always"),
            Flush::Never => f.write_str("never"),
            Flush::Interval(every) => {
                write!(f, "interval:{}", serde_text::format_duration(*every))
            }
        }
    }
}

/// `discard`: `old` (retention deletes the oldest events) or `new` (refuse publishes at
/// a limit; needs `retention.max_bytes` or `retention.max_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    /// Delete old events.
    #[default]
    Old,
    /// Refuse new events.
    New,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored desired state (`<data_dir>/flows`) and `weft get -o yaml` are this
    /// form: it must not change, and what was stored must load.
    #[test]
    fn the_stored_json_form_is_stable() {
        let text = "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: orders}\nspec:\n  \
                    filters: [orders/>, b]\n  partitions: 3\n  retention: {max_age: 7d, max_bytes: 1GiB}\n  \
                    max_event_bytes: 2KiB\n  dedupe_window: 90s\n  flush: interval:1500ms\n  discard: new\n";
        let set = crate::load_str("s.yaml", text).unwrap();
        let manifest = &set.items()[0].manifest;
        let json = serde_json::to_string(manifest).unwrap();
        assert_eq!(
            json,
            "{\"apiVersion\":\"weft/v1\",\"metadata\":{\"name\":\"orders\"},\"kind\":\"Stream\",\"spec\":{\"filters\":[\"orders/>\",\"b\"],\"partitions\":3,\"retention\":{\"max_age\":\"7d\",\"max_bytes\":1073741824,\"max_events\":null},\"compact\":false,\"max_event_bytes\":2048,\"dedupe_window\":\"90s\",\"flush\":\"interval:1500ms\",\"discard\":\"new\"}}"
        );
        let back: crate::manifest::Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, manifest);
        let defaults =
            serde_json::to_string(&StreamSpec::new(vec![Filter::new("a").unwrap()])).unwrap();
        assert_eq!(
            defaults,
            "{\"filters\":[\"a\"],\"partitions\":1,\"retention\":{\"max_age\":null,\"max_bytes\":null,\"max_events\":null},\"compact\":false,\"max_event_bytes\":1048576,\"dedupe_window\":\"2m\",\"flush\":\"always\",\"discard\":\"old\"}"
        );
    }

    #[test]
    fn flush_spellings_round_trip() {
        for text in ["always", "never", "interval:250ms"] {
            assert_eq!(text.parse::<Flush>().unwrap().to_string(), text);
        }
        assert_eq!(
            "interval".parse::<Flush>().unwrap(),
            Flush::Interval(DEFAULT_FLUSH_INTERVAL)
        );
        assert!("sometimes".parse::<Flush>().is_err());
    }
}
