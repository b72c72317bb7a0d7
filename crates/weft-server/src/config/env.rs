//! The `WEFT_*` environment variables and the command-line flags, read into [`Layer`]s.

use std::path::PathBuf;

use super::ConfigOverrides;
use super::error::{ConfigError, ConfigProblem, Place};
use super::setting::{Layer, Setting, ValueError};

/// The prefix of weft's environment variables.
const PREFIX: &str = "WEFT_";

/// `WEFT_*` variables that `Config::load` knows but does not read: the config file's
/// path (the CLI passes it as `ConfigSources::file`) and the client commands' server URL.
pub const IGNORED_ENV_VARS: [&str; 2] = ["WEFT_CONFIG", "WEFT_SERVER"];

/// Reads the `WEFT_*` variables of `env` into a layer, adding problems to `errors` in
/// variable-name order. Any `WEFT_*` variable that weft does not know is a problem.
pub(super) fn read_env(env: &[(String, String)], errors: &mut Vec<ConfigError>) -> Layer {
    let mut weft_vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .collect();
    weft_vars.sort_by(|left, right| left.0.cmp(&right.0));
    let mut layer = Layer::default();
    for (name, value) in weft_vars {
        let problem = match Setting::ALL.iter().find(|s| s.env_var() == name) {
            Some(setting) => setting
                .set(&mut layer, value)
                .err()
                .map(ConfigProblem::from),
            None if IGNORED_ENV_VARS.contains(&name.as_str()) => None,
            None => Some(unknown_env_var(name)),
        };
        if let Some(problem) = problem {
            let place = Place::Env { name: name.clone() };
            errors.push(ConfigError { place, problem });
        }
    }
    layer
}

fn unknown_env_var(name: &str) -> ConfigProblem {
    let known: Vec<&'static str> = Setting::ALL
        .iter()
        .map(|setting| setting.env_var())
        .chain(IGNORED_ENV_VARS)
        .collect();
    ConfigProblem::UnknownEnvVar {
        suggestion: weft_yaml::suggest(name, &known),
    }
}

/// Reads the flags into a layer, adding problems to `errors` in the order of the docs.
pub(super) fn read_flags(overrides: ConfigOverrides, errors: &mut Vec<ConfigError>) -> Layer {
    let ConfigOverrides {
        node_name,
        data_dir,
        http,
        ready_file,
        log_format,
        log_level,
        http_max_event_bytes,
        kafka,
        kafka_advertised,
        kafka_auto_create_topics,
        kafka_default_partitions,
        kafka_request_timeout,
        kafka_max_incomplete_request_bytes,
        mqtt,
        mqtt_max_keep_alive,
        mesh,
        mesh_name,
        join,
        mesh_compression,
        mesh_outbox_max_events,
        mesh_outbox_max_bytes,
        mesh_durable_interest_expiry,
        resources,
        watch,
    } = overrides;
    let mut layer = Layer::default();
    let mut problems: Vec<(Setting, ValueError)> = Vec::new();
    let texts = [
        (Setting::NodeName, node_name),
        (Setting::LogFormat, log_format),
        (Setting::LogLevel, log_level),
        (Setting::Http, http),
        (Setting::HttpMaxEventBytes, http_max_event_bytes),
        (Setting::Kafka, kafka),
        (Setting::KafkaAdvertised, kafka_advertised),
        (Setting::KafkaAutoCreateTopics, kafka_auto_create_topics),
        (Setting::KafkaDefaultPartitions, kafka_default_partitions),
        (Setting::KafkaRequestTimeout, kafka_request_timeout),
        (
            Setting::KafkaMaxIncompleteRequestBytes,
            kafka_max_incomplete_request_bytes,
        ),
        (Setting::Mqtt, mqtt),
        (Setting::MqttMaxKeepAlive, mqtt_max_keep_alive),
        (Setting::Mesh, mesh),
        (Setting::MeshName, mesh_name),
        // Repeated `--join` flags add up.
        (
            Setting::MeshJoin,
            (!join.is_empty()).then(|| join.join(",")),
        ),
        (Setting::MeshCompression, mesh_compression),
        (Setting::MeshOutboxMaxEvents, mesh_outbox_max_events),
        (Setting::MeshOutboxMaxBytes, mesh_outbox_max_bytes),
        (
            Setting::MeshDurableInterestExpiry,
            mesh_durable_interest_expiry,
        ),
        (Setting::FlowsWatch, watch.then(|| "true".to_owned())),
    ];
    for (setting, text) in texts {
        if let Some(text) = text
            && let Err(error) = setting.set(&mut layer, &text)
        {
            problems.push((setting, error));
        }
    }
    match non_empty(data_dir) {
        Ok(path) => layer.data_dir = path,
        Err(error) => problems.push((Setting::DataDir, error)),
    }
    match non_empty(ready_file) {
        Ok(path) => layer.ready_file = path,
        Err(error) => problems.push((Setting::ReadyFile, error)),
    }
    match non_empty(resources) {
        Ok(path) => layer.flows_resources = path,
        Err(error) => problems.push((Setting::FlowsResources, error)),
    }
    problems.sort_by_key(|(setting, _)| Setting::ALL.iter().position(|s| s == setting));
    errors.extend(problems.into_iter().map(|(setting, error)| ConfigError {
        place: Place::Flag {
            flag: setting.flag(),
        },
        problem: ConfigProblem::Value(error),
    }));
    layer
}

fn non_empty(path: Option<PathBuf>) -> Result<Option<PathBuf>, ValueError> {
    match path {
        Some(path) if path.as_os_str().is_empty() => Err(ValueError::EmptyPath),
        path => Ok(path),
    }
}
