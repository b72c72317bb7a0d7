//! The node configuration: [`Config`], loaded from a YAML file, `WEFT_*` environment
//! variables and command-line flags, in that order of precedence.
//!
//! [`Config::load`] reads every source completely and reports every problem of every
//! source at once ([`ConfigErrors`]), each with its place: `FILE:LINE:COLUMN`,
//! `environment variable WEFT_HTTP` or `flag --http`. Unknown YAML fields and unknown
//! `WEFT_*` variables are errors, with a "did you mean" hint when a known name is close.
//! The user guide is `docs/configuration.md`; keep it in step with this module.

mod env;
mod error;
mod file;
mod kafka;
mod listen;
mod log;
mod node_name;
mod setting;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

pub use env::IGNORED_ENV_VARS;
pub use error::{ConfigError, ConfigErrors, ConfigProblem, Place};
pub use kafka::{Advertised, AdvertisedError, KafkaConfig};
pub use listen::{Listen, ListenError};
pub use log::{LogFormat, LogFormatError, LogLevel, LogLevelError};
pub use node_name::{FALLBACK_NODE_NAME, MAX_NODE_NAME_LENGTH, NodeName, NodeNameError};
pub use setting::ValueError;

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./weft-data";

/// A node's configuration, validated: every value here is usable as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The node's name (default: the host name if valid, else `weft`).
    pub node_name: NodeName,
    /// Where the node keeps its data (default `./weft-data`).
    pub data_dir: PathBuf,
    /// The HTTP front end.
    pub http: HttpConfig,
    /// The Kafka front end.
    pub kafka: KafkaConfig,
    /// The MQTT front end.
    pub mqtt: MqttConfig,
    /// Links to other nodes.
    pub mesh: MeshConfig,
    /// Declarative flows.
    pub flows: FlowsConfig,
    /// Log output.
    pub log: LogConfig,
    /// A file to write the bound listener addresses to once the node is ready.
    pub ready_file: Option<PathBuf>,
}

/// The HTTP front end's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where to listen (default `127.0.0.1:8080`), or [`Listen::Off`].
    pub listen: Listen,
    /// The largest event body accepted, in bytes (default 1 MiB).
    pub max_event_bytes: usize,
}

impl HttpConfig {
    /// The default HTTP listen address.
    pub const DEFAULT_LISTEN: Listen =
        Listen::Addr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)));

    /// The default largest event, 1 MiB.
    pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            listen: HttpConfig::DEFAULT_LISTEN,
            max_event_bytes: HttpConfig::DEFAULT_MAX_EVENT_BYTES,
        }
    }
}

/// The MQTT front end's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Where to listen (default `127.0.0.1:1883`), or [`Listen::Off`].
    pub listen: Listen,
    /// The longest keep alive an MQTT 5.0 client is granted, in seconds, and the one
    /// it gets when it asks for none (Server Keep Alive); 0: no maximum. Default 300.
    pub max_keep_alive: u16,
}

impl MqttConfig {
    /// The default MQTT listen address.
    pub const DEFAULT_LISTEN: Listen =
        Listen::Addr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1883)));
}

impl Default for MqttConfig {
    fn default() -> MqttConfig {
        MqttConfig {
            listen: MqttConfig::DEFAULT_LISTEN,
            max_keep_alive: weft_mqtt::session::DEFAULT_MAX_KEEP_ALIVE,
        }
    }
}

/// The mesh's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshConfig {
    /// Where to listen for links from other nodes (default off).
    pub listen: Listen,
    /// The mesh's name; nodes of other meshes are refused (default `weft`).
    pub name: String,
    /// Nodes to link to, redialled with backoff while unreachable.
    pub join: Vec<SocketAddr>,
    /// How large frames are compressed on links whose peer supports it (default lz4).
    pub compression: LinkCompression,
    /// `mesh.outbox_max_events`: durable events kept per unreachable or slow
    /// destination before publishes for it are refused (default 100 000).
    pub outbox_max_events: u64,
    /// `mesh.outbox_max_bytes`: payload bytes kept per destination (default 256 MiB).
    pub outbox_max_bytes: u64,
    /// `mesh.durable_interest_expiry`: how long an unreachable node's durable interest
    /// is still honoured, its events kept (default 7 days).
    pub durable_interest_expiry: std::time::Duration,
}

/// `mesh.compression`: the compression of large frames on mesh links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkCompression {
    /// Never compress.
    None,
    /// LZ4: cheap, for LAN and most WAN links (the default).
    #[default]
    Lz4,
    /// zstd: a better ratio for slow WAN links, at more CPU.
    Zstd,
}

impl std::str::FromStr for LinkCompression {
    type Err = String;

    fn from_str(text: &str) -> Result<LinkCompression, String> {
        match text {
            "none" => Ok(LinkCompression::None),
            "lz4" => Ok(LinkCompression::Lz4),
            "zstd" => Ok(LinkCompression::Zstd),
            other => Err(format!(
                "unknown compression `{other}`: expected lz4, zstd or none"
            )),
        }
    }
}

impl Default for MeshConfig {
    fn default() -> MeshConfig {
        MeshConfig {
            listen: Listen::Off,
            name: "weft".to_owned(),
            join: Vec::new(),
            compression: LinkCompression::default(),
            outbox_max_events: 100_000,
            outbox_max_bytes: 256 * 1024 * 1024,
            durable_interest_expiry: std::time::Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl MeshConfig {
    /// Whether this node takes part in a mesh (it listens or joins).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        !self.listen.is_off() || !self.join.is_empty()
    }
}

/// Declarative flows: where manifests are applied from at start (GitOps mode).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowsConfig {
    /// A directory of manifests applied at start with prune (default none).
    pub resources: Option<PathBuf>,
    /// Whether the directory is watched and re-applied on every change (default false).
    pub watch: bool,
}

/// Log output settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogConfig {
    /// Text (default) or JSON lines.
    pub format: LogFormat,
    /// The most verbose level logged (default info).
    pub level: LogLevel,
}

/// Everything a configuration is loaded from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// The YAML config file, if any (the CLI's `--config` or `WEFT_CONFIG`).
    pub file: Option<PathBuf>,
    /// The environment, as name–value pairs; only `WEFT_*` names are read.
    pub env: Vec<(String, String)>,
    /// The command-line flags.
    pub overrides: ConfigOverrides,
}

/// The command-line flags that override the file and the environment, as given.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--http`: a listen address or `off`.
    pub http: Option<String>,
    /// `--ready-file`.
    pub ready_file: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--http-max-event-bytes`: a size such as `1MiB` or `1048576`.
    pub http_max_event_bytes: Option<String>,
    /// `--kafka`: a listen address or `off`.
    pub kafka: Option<String>,
    /// `--kafka-advertised`: `HOST` or `HOST:PORT`.
    pub kafka_advertised: Option<String>,
    /// `--kafka-auto-create-topics`: `true` or `false`.
    pub kafka_auto_create_topics: Option<String>,
    /// `--kafka-default-partitions`: 1 to 1024.
    pub kafka_default_partitions: Option<String>,
    /// `--kafka-request-timeout`: a duration such as `30s`.
    pub kafka_request_timeout: Option<String>,
    /// `--kafka-max-incomplete-request-bytes`: a size such as `256MiB`.
    pub kafka_max_incomplete_request_bytes: Option<String>,
    /// `--mqtt`: a listen address or `off`.
    pub mqtt: Option<String>,
    /// `--mqtt-max-keep-alive`: a duration such as `5m`, or `0` for no maximum.
    pub mqtt_max_keep_alive: Option<String>,
    /// `--mesh`: the mesh listen address or `off`.
    pub mesh: Option<String>,
    /// `--mesh-name`.
    pub mesh_name: Option<String>,
    /// `--join` (repeatable): addresses of nodes to link to.
    pub join: Vec<String>,
    /// `--mesh-compression`: `lz4`, `zstd` or `none`.
    pub mesh_compression: Option<String>,
    /// `--mesh-outbox-max-events`: durable events kept per destination node.
    pub mesh_outbox_max_events: Option<String>,
    /// `--mesh-outbox-max-bytes`: a size such as `256MiB`.
    pub mesh_outbox_max_bytes: Option<String>,
    /// `--mesh-durable-interest-expiry`: a duration such as `7d`.
    pub mesh_durable_interest_expiry: Option<String>,
    /// `--resources DIR`: a directory of flow manifests.
    pub resources: Option<PathBuf>,
    /// `--watch`: re-apply the resources directory on every change.
    pub watch: bool,
}

impl Config {
    /// The configuration with nothing configured; the node name is the host name if it
    /// is a valid [`NodeName`], else `weft`.
    #[must_use]
    pub fn defaults() -> Config {
        Config::defaults_named(NodeName::default_for_host())
    }

    fn defaults_named(node_name: NodeName) -> Config {
        Config {
            node_name,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            http: HttpConfig::default(),
            kafka: KafkaConfig::default(),
            mqtt: MqttConfig::default(),
            mesh: MeshConfig::default(),
            flows: FlowsConfig::default(),
            log: LogConfig::default(),
            ready_file: None,
        }
    }

    /// Loads the configuration: defaults, overridden by the file, then by the `WEFT_*`
    /// environment variables, then by the flags.
    ///
    /// # Errors
    /// Returns every problem of every source: an unreadable file, invalid YAML, unknown
    /// fields, wrong types, invalid values, and unknown `WEFT_*` variables
    /// (`WEFT_CONFIG` and `WEFT_SERVER` are known and ignored).
    pub fn load(sources: ConfigSources) -> Result<Config, ConfigErrors> {
        let ConfigSources {
            file,
            env,
            overrides,
        } = sources;
        let mut errors = Vec::new();
        let file_layer = file
            .map(|path| file::read(&path, &mut errors))
            .unwrap_or_default();
        let env_layer = env::read_env(&env, &mut errors);
        let flag_layer = env::read_flags(overrides, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let mut config = Config::defaults();
        for layer in [file_layer, env_layer, flag_layer] {
            layer.apply(&mut config);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
