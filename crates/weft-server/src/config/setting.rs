//! The settings that every source can set, how each is spelt, and one layer of them.
//!
//! A source (the file, the environment, the flags) produces a [`Layer`]: the settings it
//! sets. Loading applies the layers over the defaults in order of precedence.

use std::path::PathBuf;

use weft_yaml::SizeError;

use super::Config;
use super::listen::{Listen, ListenError};
use super::log::{LogFormat, LogFormatError, LogLevel, LogLevelError};
use super::node_name::{NodeName, NodeNameError};

/// A setting that the environment and flags can set (the file sets the same ones under
/// the YAML keys that [`Setting::yaml_path`] names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Setting {
    NodeName,
    DataDir,
    ReadyFile,
    LogFormat,
    LogLevel,
    Http,
    HttpMaxEventBytes,
    Kafka,
    KafkaAdvertised,
    KafkaAutoCreateTopics,
    KafkaDefaultPartitions,
    KafkaRequestTimeout,
    KafkaMaxIncompleteRequestBytes,
    Mqtt,
    MqttMaxKeepAlive,
    Mesh,
    MeshName,
    MeshJoin,
    MeshCompression,
    MeshOutboxMaxEvents,
    MeshOutboxMaxBytes,
    MeshDurableInterestExpiry,
    FlowsResources,
    FlowsWatch,
}

impl Setting {
    /// Every setting, in the order the docs list them.
    pub(super) const ALL: [Setting; 24] = [
        Setting::NodeName,
        Setting::DataDir,
        Setting::ReadyFile,
        Setting::LogFormat,
        Setting::LogLevel,
        Setting::Http,
        Setting::HttpMaxEventBytes,
        Setting::Kafka,
        Setting::KafkaAdvertised,
        Setting::KafkaAutoCreateTopics,
        Setting::KafkaDefaultPartitions,
        Setting::KafkaRequestTimeout,
        Setting::KafkaMaxIncompleteRequestBytes,
        Setting::Mqtt,
        Setting::MqttMaxKeepAlive,
        Setting::Mesh,
        Setting::MeshName,
        Setting::MeshJoin,
        Setting::MeshCompression,
        Setting::MeshOutboxMaxEvents,
        Setting::MeshOutboxMaxBytes,
        Setting::MeshDurableInterestExpiry,
        Setting::FlowsResources,
        Setting::FlowsWatch,
    ];

    /// The environment variable that sets it.
    pub(super) fn env_var(self) -> &'static str {
        match self {
            Setting::NodeName => "WEFT_NODE_NAME",
            Setting::DataDir => "WEFT_DATA_DIR",
            Setting::ReadyFile => "WEFT_READY_FILE",
            Setting::LogFormat => "WEFT_LOG_FORMAT",
            Setting::LogLevel => "WEFT_LOG_LEVEL",
            Setting::Http => "WEFT_HTTP",
            Setting::HttpMaxEventBytes => "WEFT_HTTP_MAX_EVENT_BYTES",
            Setting::Kafka => "WEFT_KAFKA",
            Setting::KafkaAdvertised => "WEFT_KAFKA_ADVERTISED",
            Setting::KafkaAutoCreateTopics => "WEFT_KAFKA_AUTO_CREATE_TOPICS",
            Setting::KafkaDefaultPartitions => "WEFT_KAFKA_DEFAULT_PARTITIONS",
            Setting::KafkaRequestTimeout => "WEFT_KAFKA_REQUEST_TIMEOUT",
            Setting::KafkaMaxIncompleteRequestBytes => "WEFT_KAFKA_MAX_INCOMPLETE_REQUEST_BYTES",
            Setting::Mqtt => "WEFT_MQTT",
            Setting::MqttMaxKeepAlive => "WEFT_MQTT_MAX_KEEP_ALIVE",
            Setting::Mesh => "WEFT_MESH",
            Setting::MeshName => "WEFT_MESH_NAME",
            Setting::MeshJoin => "WEFT_MESH_JOIN",
            Setting::MeshCompression => "WEFT_MESH_COMPRESSION",
            Setting::MeshOutboxMaxEvents => "WEFT_MESH_OUTBOX_MAX_EVENTS",
            Setting::MeshOutboxMaxBytes => "WEFT_MESH_OUTBOX_MAX_BYTES",
            Setting::MeshDurableInterestExpiry => "WEFT_MESH_DURABLE_INTEREST_EXPIRY",
            Setting::FlowsResources => "WEFT_FLOWS_RESOURCES",
            Setting::FlowsWatch => "WEFT_FLOWS_WATCH",
        }
    }

    /// The command-line flag that sets it.
    pub(super) fn flag(self) -> &'static str {
        match self {
            Setting::NodeName => "--node-name",
            Setting::DataDir => "--data-dir",
            Setting::ReadyFile => "--ready-file",
            Setting::LogFormat => "--log-format",
            Setting::LogLevel => "--log-level",
            Setting::Http => "--http",
            Setting::HttpMaxEventBytes => "--http-max-event-bytes",
            Setting::Kafka => "--kafka",
            Setting::KafkaAdvertised => "--kafka-advertised",
            Setting::KafkaAutoCreateTopics => "--kafka-auto-create-topics",
            Setting::KafkaDefaultPartitions => "--kafka-default-partitions",
            Setting::KafkaRequestTimeout => "--kafka-request-timeout",
            Setting::KafkaMaxIncompleteRequestBytes => "--kafka-max-incomplete-request-bytes",
            Setting::Mqtt => "--mqtt",
            Setting::MqttMaxKeepAlive => "--mqtt-max-keep-alive",
            Setting::Mesh => "--mesh",
            Setting::MeshName => "--mesh-name",
            Setting::MeshJoin => "--join",
            Setting::MeshCompression => "--mesh-compression",
            Setting::MeshOutboxMaxEvents => "--mesh-outbox-max-events",
            Setting::MeshOutboxMaxBytes => "--mesh-outbox-max-bytes",
            Setting::MeshDurableInterestExpiry => "--mesh-durable-interest-expiry",
            Setting::FlowsResources => "--resources",
            Setting::FlowsWatch => "--watch",
        }
    }

    /// The YAML key path that sets it in the config file.
    #[cfg(test)]
    pub(super) fn yaml_path(self) -> &'static str {
        match self {
            Setting::NodeName => "node_name",
            Setting::DataDir => "data_dir",
            Setting::ReadyFile => "ready_file",
            Setting::LogFormat => "log.format",
            Setting::LogLevel => "log.level",
            Setting::Http => "http.listen",
            Setting::HttpMaxEventBytes => "http.max_event_bytes",
            Setting::Kafka => "kafka.listen",
            Setting::KafkaAdvertised => "kafka.advertised",
            Setting::KafkaAutoCreateTopics => "kafka.auto_create_topics",
            Setting::KafkaDefaultPartitions => "kafka.default_partitions",
            Setting::KafkaRequestTimeout => "kafka.request_timeout",
            Setting::KafkaMaxIncompleteRequestBytes => "kafka.max_incomplete_request_bytes",
            Setting::Mqtt => "mqtt.listen",
            Setting::MqttMaxKeepAlive => "mqtt.max_keep_alive",
            Setting::Mesh => "mesh.listen",
            Setting::MeshName => "mesh.name",
            Setting::MeshJoin => "mesh.join",
            Setting::MeshCompression => "mesh.compression",
            Setting::MeshOutboxMaxEvents => "mesh.outbox_max_events",
            Setting::MeshOutboxMaxBytes => "mesh.outbox_max_bytes",
            Setting::MeshDurableInterestExpiry => "mesh.durable_interest_expiry",
            Setting::FlowsResources => "flows.resources",
            Setting::FlowsWatch => "flows.watch",
        }
    }

    /// Sets this setting in `layer` from its text form.
    pub(super) fn set(self, layer: &mut Layer, text: &str) -> Result<(), ValueError> {
        match self {
            Setting::NodeName => layer.node_name = Some(text.parse()?),
            Setting::DataDir => layer.data_dir = Some(parse_path(text)?),
            Setting::ReadyFile => layer.ready_file = Some(parse_path(text)?),
            Setting::LogFormat => layer.log_format = Some(text.parse()?),
            Setting::LogLevel => layer.log_level = Some(text.parse()?),
            Setting::Http => layer.http_listen = Some(text.parse()?),
            Setting::HttpMaxEventBytes => {
                let bytes = weft_yaml::parse_size(text)?;
                layer.http_max_event_bytes = Some(max_event_bytes(bytes)?);
            }
            Setting::Kafka => layer.kafka_listen = Some(text.parse()?),
            Setting::KafkaAdvertised => layer.kafka_advertised = Some(text.parse()?),
            Setting::KafkaAutoCreateTopics => {
                layer.kafka_auto_create_topics = Some(super::kafka::parse_bool(text)?);
            }
            Setting::KafkaDefaultPartitions => {
                layer.kafka_default_partitions = Some(super::kafka::parse_partitions(text)?);
            }
            Setting::KafkaRequestTimeout => {
                layer.kafka_request_timeout = Some(parse_positive_duration(text)?);
            }
            Setting::KafkaMaxIncompleteRequestBytes => {
                layer.kafka_max_incomplete_request_bytes =
                    Some(parse_request_budget(weft_yaml::parse_size(text)?)?);
            }
            Setting::Mqtt => layer.mqtt_listen = Some(text.parse()?),
            Setting::MqttMaxKeepAlive => layer.mqtt_max_keep_alive = Some(parse_keep_alive(text)?),
            Setting::Mesh => layer.mesh_listen = Some(text.parse()?),
            Setting::MeshName => layer.mesh_name = Some(parse_mesh_name(text)?),
            Setting::MeshJoin => layer.mesh_join = Some(parse_join(text)?),
            Setting::MeshCompression => {
                layer.mesh_compression = Some(text.parse().map_err(ValueError::Compression)?);
            }
            Setting::MeshOutboxMaxEvents => {
                layer.mesh_outbox_max_events = Some(parse_count(text)?);
            }
            Setting::MeshOutboxMaxBytes => {
                layer.mesh_outbox_max_bytes = Some(weft_yaml::parse_size(text)?);
            }
            Setting::MeshDurableInterestExpiry => {
                layer.mesh_durable_interest_expiry = Some(weft_yaml::parse_duration(text)?);
            }
            Setting::FlowsResources => layer.flows_resources = Some(parse_path(text)?),
            Setting::FlowsWatch => layer.flows_watch = Some(super::kafka::parse_bool(text)?),
        }
        Ok(())
    }
}

/// Why a setting's value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// An empty value, where a path was expected.
    #[error("empty path")]
    EmptyPath,
    /// A bad node name.
    #[error(transparent)]
    NodeName(#[from] NodeNameError),
    /// A bad listen address.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A bad log format.
    #[error(transparent)]
    LogFormat(#[from] LogFormatError),
    /// A bad log level.
    #[error(transparent)]
    LogLevel(#[from] LogLevelError),
    /// A size that does not parse.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// A duration that does not parse.
    #[error(transparent)]
    Duration(#[from] weft_yaml::DurationError),
    /// An unknown link compression (the message names the choices).
    #[error("{0}")]
    Compression(String),
    /// Not a whole number.
    #[error("`{input}` is not a whole number such as 100000")]
    Count {
        /// The text as given.
        input: String,
    },
    /// A maximum event size of zero.
    #[error("the largest event must be at least 1 byte")]
    ZeroMaxEventBytes,
    /// A bad advertised address.
    #[error(transparent)]
    Advertised(#[from] super::kafka::AdvertisedError),
    /// Not `true` or `false`.
    #[error("`{input}` is not a boolean, expected true or false")]
    Bool {
        /// The text as given.
        input: String,
    },
    /// An invalid mesh name.
    #[error("`{input}` is not a mesh name: use 1 to 63 letters, digits, `-`, `_` or `.`")]
    MeshName {
        /// The text as given.
        input: String,
    },
    /// A join address that is not IP:PORT.
    #[error("join address `{input}` is not IP:PORT such as 127.0.0.1:7400")]
    Join {
        /// The address as given.
        input: String,
    },
    /// A partition count out of range.
    #[error("`{input}` is not a partition count from 1 to 1024")]
    Partitions {
        /// The text as given.
        input: String,
    },
    /// A duration of zero where time must pass.
    #[error("`{input}` must be longer than 0, such as 30s")]
    ZeroDuration {
        /// The text as given.
        input: String,
    },
    /// A byte budget too small to be useful.
    #[error("{bytes} bytes is too small a budget for Kafka requests: use at least 1MiB")]
    RequestBudgetTooSmall {
        /// The size asked for.
        bytes: u64,
    },
    /// A keep alive that MQTT cannot carry.
    #[error(
        "`{input}` is not a keep alive: use whole seconds up to 65535 (18h12m15s), such as 5m; 0 for no maximum"
    )]
    KeepAlive {
        /// The text as given.
        input: String,
    },
    /// A maximum event size that this machine cannot address.
    #[error("{bytes} bytes is more than this machine can address")]
    MaxEventBytesTooLarge {
        /// The size asked for.
        bytes: u64,
    },
}

/// A mesh name: like a node name (letters, digits, `-`, `_`, `.`; at most 63).
pub(super) fn parse_mesh_name(text: &str) -> Result<String, ValueError> {
    let valid = !text.is_empty()
        && text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(ValueError::MeshName {
            input: text.to_owned(),
        })
    }
}

/// Addresses to join: `IP:PORT`, several separated by commas (an empty text: none).
pub(super) fn parse_join(text: &str) -> Result<Vec<std::net::SocketAddr>, ValueError> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse().map_err(|_| ValueError::Join {
                input: part.to_owned(),
            })
        })
        .collect()
}

/// A count: a whole number (`_` allowed between digits, as in YAML: `100_000`).
pub(super) fn parse_count(text: &str) -> Result<u64, ValueError> {
    let digits = text.replace('_', "");
    if text.starts_with('_') || text.ends_with('_') {
        return Err(ValueError::Count {
            input: text.to_owned(),
        });
    }
    digits.parse().map_err(|_| ValueError::Count {
        input: text.to_owned(),
    })
}

/// A duration that must be longer than zero.
pub(super) fn parse_positive_duration(text: &str) -> Result<std::time::Duration, ValueError> {
    let duration = weft_yaml::parse_duration(text)?;
    if duration.is_zero() {
        return Err(ValueError::ZeroDuration {
            input: text.to_owned(),
        });
    }
    Ok(duration)
}

/// The Kafka listener's budget for requests still arriving: at least 1 MiB. (Half of it
/// is the reserve that one request at a time completes in, so it also caps the largest
/// request at half the budget.)
pub(super) fn parse_request_budget(bytes: u64) -> Result<u64, ValueError> {
    if bytes < 1 << 20 {
        return Err(ValueError::RequestBudgetTooSmall { bytes });
    }
    Ok(bytes)
}

/// An MQTT keep alive: a duration of whole seconds that fits MQTT's two bytes.
pub(super) fn parse_keep_alive(text: &str) -> Result<u16, ValueError> {
    let invalid = || ValueError::KeepAlive {
        input: text.to_owned(),
    };
    let duration = weft_yaml::parse_duration(text).map_err(|_| invalid())?;
    if duration.subsec_nanos() != 0 {
        return Err(invalid());
    }
    u16::try_from(duration.as_secs()).map_err(|_| invalid())
}

/// A path setting: any non-empty text.
pub(super) fn parse_path(text: &str) -> Result<PathBuf, ValueError> {
    if text.is_empty() {
        Err(ValueError::EmptyPath)
    } else {
        Ok(PathBuf::from(text))
    }
}

/// A maximum event size: at least 1 byte, and addressable.
pub(super) fn max_event_bytes(bytes: u64) -> Result<usize, ValueError> {
    if bytes == 0 {
        return Err(ValueError::ZeroMaxEventBytes);
    }
    usize::try_from(bytes).map_err(|_| ValueError::MaxEventBytesTooLarge { bytes })
}

/// The settings one source sets.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Layer {
    pub(super) node_name: Option<NodeName>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) ready_file: Option<PathBuf>,
    pub(super) log_format: Option<LogFormat>,
    pub(super) log_level: Option<LogLevel>,
    pub(super) http_listen: Option<Listen>,
    pub(super) http_max_event_bytes: Option<usize>,
    pub(super) kafka_listen: Option<Listen>,
    pub(super) kafka_advertised: Option<super::kafka::Advertised>,
    pub(super) kafka_auto_create_topics: Option<bool>,
    pub(super) kafka_default_partitions: Option<u32>,
    pub(super) kafka_request_timeout: Option<std::time::Duration>,
    pub(super) kafka_max_incomplete_request_bytes: Option<u64>,
    pub(super) mqtt_listen: Option<Listen>,
    pub(super) mqtt_max_keep_alive: Option<u16>,
    pub(super) mesh_listen: Option<Listen>,
    pub(super) mesh_name: Option<String>,
    pub(super) mesh_join: Option<Vec<std::net::SocketAddr>>,
    pub(super) mesh_compression: Option<super::LinkCompression>,
    pub(super) mesh_outbox_max_events: Option<u64>,
    pub(super) mesh_outbox_max_bytes: Option<u64>,
    pub(super) mesh_durable_interest_expiry: Option<std::time::Duration>,
    pub(super) flows_resources: Option<PathBuf>,
    pub(super) flows_watch: Option<bool>,
}

impl Layer {
    /// Overwrites in `config` every setting this layer sets.
    pub(super) fn apply(self, config: &mut Config) {
        let Layer {
            node_name,
            data_dir,
            ready_file,
            log_format,
            log_level,
            http_listen,
            http_max_event_bytes,
            kafka_listen,
            kafka_advertised,
            kafka_auto_create_topics,
            kafka_default_partitions,
            kafka_request_timeout,
            kafka_max_incomplete_request_bytes,
            mqtt_listen,
            mqtt_max_keep_alive,
            mesh_listen,
            mesh_name,
            mesh_join,
            mesh_compression,
            mesh_outbox_max_events,
            mesh_outbox_max_bytes,
            mesh_durable_interest_expiry,
            flows_resources,
            flows_watch,
        } = self;
        if let Some(node_name) = node_name {
            config.node_name = node_name;
        }
        if let Some(data_dir) = data_dir {
            config.data_dir = data_dir;
        }
        if ready_file.is_some() {
            config.ready_file = ready_file;
        }
        if let Some(format) = log_format {
            config.log.format = format;
        }
        if let Some(level) = log_level {
            config.log.level = level;
        }
        if let Some(listen) = http_listen {
            config.http.listen = listen;
        }
        if let Some(bytes) = http_max_event_bytes {
            config.http.max_event_bytes = bytes;
        }
        if let Some(listen) = kafka_listen {
            config.kafka.listen = listen;
        }
        if kafka_advertised.is_some() {
            config.kafka.advertised = kafka_advertised;
        }
        if let Some(enabled) = kafka_auto_create_topics {
            config.kafka.auto_create_topics = enabled;
        }
        if let Some(count) = kafka_default_partitions {
            config.kafka.default_partitions = count;
        }
        if let Some(timeout) = kafka_request_timeout {
            config.kafka.request_timeout = timeout;
        }
        if let Some(bytes) = kafka_max_incomplete_request_bytes {
            config.kafka.max_incomplete_request_bytes = bytes;
        }
        if let Some(listen) = mqtt_listen {
            config.mqtt.listen = listen;
        }
        if let Some(seconds) = mqtt_max_keep_alive {
            config.mqtt.max_keep_alive = seconds;
        }
        if let Some(listen) = mesh_listen {
            config.mesh.listen = listen;
        }
        if let Some(name) = mesh_name {
            config.mesh.name = name;
        }
        if let Some(join) = mesh_join {
            config.mesh.join = join;
        }
        if let Some(compression) = mesh_compression {
            config.mesh.compression = compression;
        }
        if let Some(events) = mesh_outbox_max_events {
            config.mesh.outbox_max_events = events;
        }
        if let Some(bytes) = mesh_outbox_max_bytes {
            config.mesh.outbox_max_bytes = bytes;
        }
        if let Some(expiry) = mesh_durable_interest_expiry {
            config.mesh.durable_interest_expiry = expiry;
        }
        if flows_resources.is_some() {
            config.flows.resources = flows_resources;
        }
        if let Some(watch) = flows_watch {
            config.flows.watch = watch;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_distinct_names() {
        let mut names: Vec<&str> = Setting::ALL
            .iter()
            .flat_map(|s| [s.env_var(), s.flag(), s.yaml_path()])
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn env_var_and_flag_follow_the_yaml_path() {
        for setting in Setting::ALL {
            let path = setting.yaml_path().replace(".listen", "");
            let words = path.replace('.', "_");
            assert_eq!(setting.env_var(), format!("WEFT_{}", words.to_uppercase()));
            if setting == Setting::MeshJoin {
                // The exceptions: `--join ADDR` reads better than `--mesh-join`, and
                // `weft serve --resources DIR --watch` than `--flows-resources`.
                assert_eq!(setting.flag(), "--join");
                continue;
            }
            if let Some(flag) = path.strip_prefix("flows.") {
                assert_eq!(setting.flag(), format!("--{flag}"));
                continue;
            }
            assert_eq!(setting.flag(), format!("--{}", words.replace('_', "-")));
        }
    }

    #[test]
    fn max_event_bytes_must_be_positive() {
        assert_eq!(max_event_bytes(0), Err(ValueError::ZeroMaxEventBytes));
        assert_eq!(max_event_bytes(1), Ok(1));
    }

    #[test]
    fn empty_path_is_rejected() {
        assert_eq!(parse_path(""), Err(ValueError::EmptyPath));
    }
}
