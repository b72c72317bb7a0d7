//! Kafka topic configs ↔ stream settings: a thin adapter over the broker's
//! [`StreamSettings`], which owns the defaults and limits; this file owns only Kafka's
//! names and spellings (milliseconds, `-1` for no limit, `delete`/`compact`).
//!
//! Settable (CreateTopics, IncrementalAlterConfigs): `retention.ms`, `retention.bytes`,
//! `max.message.bytes`, `cleanup.policy` (at creation only; `delete` or `compact`).
//! Every other config Kafka describes is reported with its fixed weft value, read-only.

use std::time::Duration;

use weft_broker::{DEFAULT_MAX_EVENT_BYTES, StreamSettings};

/// Config sources (Kafka's `ConfigSource`).
pub(crate) const SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// A default value.
pub(crate) const SOURCE_DEFAULT: i8 = 5;

/// Config types (Kafka's `ConfigType`, DescribeConfigs v3+).
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;

/// One described config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedConfig {
    pub(crate) name: &'static str,
    pub(crate) value: String,
    pub(crate) read_only: bool,
    pub(crate) is_default: bool,
    pub(crate) config_type: i8,
    pub(crate) documentation: &'static str,
}

impl DescribedConfig {
    pub(crate) fn source(&self) -> i8 {
        if self.is_default {
            SOURCE_DEFAULT
        } else {
            SOURCE_DYNAMIC_TOPIC
        }
    }
}

/// Every topic config of a stream's settings, with defaults.
pub(crate) fn describe_topic(config: &StreamSettings) -> Vec<DescribedConfig> {
    let retention = &config.retention;
    let settable = |name, value: String, is_default, config_type, documentation| DescribedConfig {
        name,
        value,
        read_only: false,
        is_default,
        config_type,
        documentation,
    };
    let fixed = |name, value: &str, config_type, documentation| DescribedConfig {
        name,
        value: value.to_owned(),
        read_only: true,
        is_default: true,
        config_type,
        documentation,
    };
    vec![
        DescribedConfig {
            read_only: true,
            ..settable(
                "cleanup.policy",
                if config.compact { "compact" } else { "delete" }.to_owned(),
                !config.compact,
                TYPE_LIST,
                "delete (retention only) or compact (keep the latest record per key); fixed at creation",
            )
        },
        settable(
            "retention.ms",
            retention
                .max_age
                .map_or("-1".to_owned(), |age| age.as_millis().to_string()),
            retention.max_age.is_none(),
            TYPE_LONG,
            "records older than this are deleted; -1 keeps them",
        ),
        settable(
            "retention.bytes",
            retention
                .max_bytes
                .map_or("-1".to_owned(), |bytes| bytes.to_string()),
            retention.max_bytes.is_none(),
            TYPE_LONG,
            "a partition is kept below this many bytes; -1 for no limit",
        ),
        settable(
            "max.message.bytes",
            config.max_event_bytes.to_string(),
            config.max_event_bytes == DEFAULT_MAX_EVENT_BYTES,
            TYPE_INT,
            "the largest record batch (and event) the topic accepts",
        ),
        fixed(
            "compression.type",
            "producer",
            TYPE_STRING,
            "batches are stored as the producer compressed them",
        ),
        fixed(
            "message.timestamp.type",
            "CreateTime",
            TYPE_STRING,
            "record timestamps are the producer's",
        ),
        fixed(
            "min.insync.replicas",
            "1",
            TYPE_INT,
            "weft stores one copy per node",
        ),
        fixed("segment.bytes", "134217728", TYPE_INT, "segment file size"),
        fixed(
            "unclean.leader.election.enable",
            "false",
            TYPE_STRING,
            "not applicable to one node",
        ),
        fixed(
            "message.downconversion.enable",
            "false",
            TYPE_STRING,
            "record batch v2 only",
        ),
    ]
}

/// Every broker config weft describes.
pub(crate) fn describe_broker(auto_create: bool, default_partitions: u32) -> Vec<DescribedConfig> {
    let fixed = |name, value: String, config_type, documentation| DescribedConfig {
        name,
        value,
        read_only: true,
        is_default: true,
        config_type,
        documentation,
    };
    vec![
        fixed(
            "auto.create.topics.enable",
            auto_create.to_string(),
            TYPE_STRING,
            "metadata requests create missing topics",
        ),
        fixed(
            "num.partitions",
            default_partitions.to_string(),
            TYPE_INT,
            "partitions of an auto-created topic",
        ),
        fixed(
            "default.replication.factor",
            "1".to_owned(),
            TYPE_INT,
            "one copy per node",
        ),
        fixed(
            "message.max.bytes",
            DEFAULT_MAX_EVENT_BYTES.to_string(),
            TYPE_INT,
            "default max.message.bytes of a topic",
        ),
        fixed(
            "log.retention.ms",
            "-1".to_owned(),
            TYPE_LONG,
            "default retention.ms of a topic",
        ),
    ]
}

/// Why a config change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigRejected(pub(crate) String);

/// Applies one topic config to a stream's settings (`None` resets it to its default).
/// `creating` allows `cleanup.policy`.
pub(crate) fn apply(
    config: &mut StreamSettings,
    name: &str,
    value: Option<&str>,
    creating: bool,
) -> Result<(), ConfigRejected> {
    let number = |value: &str| {
        value
            .parse::<i64>()
            .map_err(|_| ConfigRejected(format!("{name} must be an integer, not `{value}`")))
    };
    match name {
        "retention.ms" => {
            config.retention.max_age = match value.map(number).transpose()? {
                None | Some(-1) => None,
                Some(ms) if ms > 0 => Some(Duration::from_millis(ms.unsigned_abs())),
                Some(other) => {
                    return Err(ConfigRejected(format!(
                        "retention.ms {other} is not positive or -1"
                    )));
                }
            };
        }
        "retention.bytes" => {
            config.retention.max_bytes = match value.map(number).transpose()? {
                None | Some(-1) => None,
                Some(bytes) if bytes > 0 => Some(bytes.unsigned_abs()),
                Some(other) => {
                    return Err(ConfigRejected(format!(
                        "retention.bytes {other} is not positive or -1"
                    )));
                }
            };
        }
        "max.message.bytes" => {
            config.max_event_bytes = match value.map(number).transpose()? {
                None => DEFAULT_MAX_EVENT_BYTES,
                Some(bytes) if bytes < 1 => {
                    return Err(ConfigRejected(format!(
                        "max.message.bytes {bytes} is not positive"
                    )));
                }
                // The limit is the stream's: one place says what a stream may accept.
                Some(bytes) => StreamSettings::checked_max_event_bytes(bytes.unsigned_abs())
                    .map_err(|error| ConfigRejected(format!("max.message.bytes: {error}")))?,
            };
        }
        "cleanup.policy" if creating => {
            config.compact = match value.unwrap_or("delete") {
                "delete" => false,
                "compact" => true,
                other => {
                    return Err(ConfigRejected(format!(
                        "cleanup.policy `{other}` is not supported; use delete or compact"
                    )));
                }
            };
        }
        "cleanup.policy" => {
            return Err(ConfigRejected(
                "cleanup.policy is fixed when the topic is created".to_owned(),
            ));
        }
        "compression.type" if value.is_none_or(|value| value == "producer") => {}
        "min.insync.replicas" if value.is_none_or(|value| value == "1") => {}
        _ => {
            return Err(ConfigRejected(format!(
                "config {name} is not supported by weft (see docs/kafka.md)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use weft_broker::{StreamConfig, StreamName};
    use weft_core::Filter;

    use super::*;

    fn config() -> StreamConfig {
        StreamConfig::new(
            StreamName::new("orders").unwrap(),
            vec![Filter::new("orders").unwrap()],
        )
    }

    fn described(config: &StreamConfig) -> String {
        describe_topic(config)
            .iter()
            .map(|described| {
                format!(
                    "{}={} ro={} default={} type={}",
                    described.name,
                    described.value,
                    described.read_only,
                    described.is_default,
                    described.config_type
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// DescribeConfigs answers are what Kafka tools show: names, values and flags must
    /// not drift.
    #[test]
    fn topic_configs_describe_defaults_and_settings() {
        assert_eq!(
            described(&config()),
            "cleanup.policy=delete ro=true default=true type=7\nretention.ms=-1 ro=false default=true type=5\nretention.bytes=-1 ro=false default=true type=5\nmax.message.bytes=1048576 ro=false default=true type=3\ncompression.type=producer ro=true default=true type=2\nmessage.timestamp.type=CreateTime ro=true default=true type=2\nmin.insync.replicas=1 ro=true default=true type=3\nsegment.bytes=134217728 ro=true default=true type=3\nunclean.leader.election.enable=false ro=true default=true type=2\nmessage.downconversion.enable=false ro=true default=true type=2"
        );
        let mut config = config();
        for (name, value) in [
            ("retention.ms", "3600000"),
            ("retention.bytes", "1073741824"),
            ("max.message.bytes", "2048"),
            ("cleanup.policy", "compact"),
        ] {
            apply(&mut config, name, Some(value), true).unwrap();
        }
        assert_eq!(config.retention.max_age, Some(Duration::from_secs(3600)));
        assert_eq!(config.retention.max_bytes, Some(1 << 30));
        assert_eq!(config.max_event_bytes, 2048);
        assert!(config.compact);
        assert_eq!(
            described(&config),
            "cleanup.policy=compact ro=true default=false type=7\nretention.ms=3600000 ro=false default=false type=5\nretention.bytes=1073741824 ro=false default=false type=5\nmax.message.bytes=2048 ro=false default=false type=3\ncompression.type=producer ro=true default=true type=2\nmessage.timestamp.type=CreateTime ro=true default=true type=2\nmin.insync.replicas=1 ro=true default=true type=3\nsegment.bytes=134217728 ro=true default=true type=3\nunclean.leader.election.enable=false ro=true default=true type=2\nmessage.downconversion.enable=false ro=true default=true type=2"
        );
        for name in ["retention.ms", "retention.bytes", "max.message.bytes"] {
            apply(&mut config, name, None, false).unwrap();
        }
        assert_eq!(config.retention.max_age, None);
        assert_eq!(config.retention.max_bytes, None);
        assert_eq!(config.max_event_bytes, weft_broker::DEFAULT_MAX_EVENT_BYTES);
        apply(&mut config, "retention.ms", Some("-1"), false).unwrap();
        assert_eq!(config.retention.max_age, None);
    }

    #[test]
    fn topic_configs_refuse_values_out_of_range() {
        let mut config = config();
        for (name, value, creating) in [
            ("retention.ms", "0", false),
            ("retention.ms", "7d", false),
            ("retention.bytes", "-2", false),
            ("max.message.bytes", "0", false),
            ("max.message.bytes", "4194305", false),
            ("cleanup.policy", "compact", false),
            ("cleanup.policy", "delete,compact", true),
            ("segment.ms", "1", true),
        ] {
            let rejected = apply(&mut config, name, Some(value), creating).unwrap_err();
            assert!(!rejected.0.is_empty());
        }
        apply(&mut config, "max.message.bytes", Some("4194304"), false).unwrap();
        assert_eq!(config.max_event_bytes, weft_broker::MAX_EVENT_BYTES_LIMIT);
        assert_eq!(config, {
            let mut expected = self::config();
            expected.max_event_bytes = weft_broker::MAX_EVENT_BYTES_LIMIT;
            expected
        });
    }
}
