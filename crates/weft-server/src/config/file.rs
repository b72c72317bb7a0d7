//! The config file: YAML read into a [`Layer`], every problem reported with its position.

use std::path::Path;

use weft_yaml::{Document, Errors, Mapping, Problem};

use super::error::{ConfigError, ConfigProblem, Place};
use super::setting::{Layer, max_event_bytes, parse_path};

const TOP_LEVEL_KEYS: &[&str] = &[
    "node_name",
    "data_dir",
    "ready_file",
    "log",
    "http",
    "kafka",
    "mqtt",
    "mesh",
    "flows",
];
const LOG_KEYS: &[&str] = &["format", "level"];
const HTTP_KEYS: &[&str] = &["listen", "max_event_bytes"];
const MQTT_KEYS: &[&str] = &["listen", "max_keep_alive"];
const MESH_KEYS: &[&str] = &[
    "listen",
    "name",
    "join",
    "compression",
    "outbox_max_events",
    "outbox_max_bytes",
    "durable_interest_expiry",
];
const FLOWS_KEYS: &[&str] = &["resources", "watch"];
const KAFKA_KEYS: &[&str] = &[
    "listen",
    "advertised",
    "auto_create_topics",
    "default_partitions",
    "request_timeout",
    "max_incomplete_request_bytes",
];

/// Reads the config file at `path` into a layer, adding its problems to `errors`.
pub(super) fn read(path: &Path, errors: &mut Vec<ConfigError>) -> Layer {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) => {
            errors.push(ConfigError {
                place: Place::File {
                    path: path.to_owned(),
                },
                problem: ConfigProblem::ReadFile { source },
            });
            return Layer::default();
        }
    };
    let (layer, diagnostics) = read_str(&path.display().to_string(), &text);
    errors.extend(diagnostics.into_iter().map(ConfigError::from_diagnostic));
    layer
}

/// Reads config `text` named `file` into a layer and its diagnostics, in file order.
pub(super) fn read_str(file: &str, text: &str) -> (Layer, Errors) {
    let mut diagnostics = Errors::new();
    let documents = weft_yaml::parse_collecting(file, text, &mut diagnostics);
    let mut layer = Layer::default();
    if let Some(document) = documents.first() {
        read_document(document, &mut layer, &mut diagnostics);
    }
    if let Some(extra) = documents.get(1) {
        let message = format!(
            "a config file holds one document, found {}",
            documents.len()
        );
        let problem = Problem::Invalid { message };
        diagnostics.report(file, extra.start, "", problem);
    }
    diagnostics.sort_by_position();
    (layer, diagnostics)
}

fn read_document(document: &Document, layer: &mut Layer, errors: &mut Errors) {
    let root = document.value();
    if root.node().value == weft_yaml::NodeValue::Null {
        return;
    }
    let Some(root) = root.mapping(errors) else {
        return;
    };
    root.deny_unknown(TOP_LEVEL_KEYS, errors);
    layer.node_name = root.take_parsed("node_name", errors);
    layer.data_dir = root.take_with("data_dir", errors, parse_path);
    layer.ready_file = root.take_with("ready_file", errors, parse_path);
    if let Some(log) = root.take_mapping("log", errors) {
        log.deny_unknown(LOG_KEYS, errors);
        layer.log_format = log.take_parsed("format", errors);
        layer.log_level = log.take_parsed("level", errors);
    }
    if let Some(http) = root.take_mapping("http", errors) {
        read_http(&http, layer, errors);
    }
    if let Some(mesh) = root.take_mapping("mesh", errors) {
        read_mesh(&mesh, layer, errors);
    }
    if let Some(flows) = root.take_mapping("flows", errors) {
        flows.deny_unknown(FLOWS_KEYS, errors);
        layer.flows_resources = flows.take_with("resources", errors, parse_path);
        layer.flows_watch = flows.take_bool("watch", errors);
    }
    if let Some(mqtt) = root.take_mapping("mqtt", errors) {
        mqtt.deny_unknown(MQTT_KEYS, errors);
        layer.mqtt_listen = mqtt.take_parsed("listen", errors);
        layer.mqtt_max_keep_alive =
            mqtt.take_with("max_keep_alive", errors, super::setting::parse_keep_alive);
    }
    if let Some(kafka) = root.take_mapping("kafka", errors) {
        kafka.deny_unknown(KAFKA_KEYS, errors);
        layer.kafka_listen = kafka.take_parsed("listen", errors);
        layer.kafka_advertised = kafka.take_parsed("advertised", errors);
        layer.kafka_auto_create_topics = kafka.take_bool("auto_create_topics", errors);
        layer.kafka_request_timeout = kafka.take_with(
            "request_timeout",
            errors,
            super::setting::parse_positive_duration,
        );
        if let Some(value) = kafka.take("max_incomplete_request_bytes")
            && let Some(bytes) = value.size(errors)
        {
            match super::setting::parse_request_budget(bytes) {
                Ok(bytes) => layer.kafka_max_incomplete_request_bytes = Some(bytes),
                Err(error) => value.report_invalid(errors, error.to_string()),
            }
        }
        if let Some(value) = kafka.take("default_partitions")
            && let Some(count) = value.u64(errors)
        {
            match super::kafka::parse_partitions(&count.to_string()) {
                Ok(count) => layer.kafka_default_partitions = Some(count),
                Err(error) => value.report_invalid(errors, error.to_string()),
            }
        }
    }
}

fn read_mesh(mesh: &Mapping<'_>, layer: &mut Layer, errors: &mut Errors) {
    mesh.deny_unknown(MESH_KEYS, errors);
    layer.mesh_listen = mesh.take_parsed("listen", errors);
    layer.mesh_name = mesh.take_with("name", errors, super::setting::parse_mesh_name);
    layer.mesh_compression = mesh.take_with("compression", errors, str::parse);
    layer.mesh_outbox_max_events = mesh.take_u64("outbox_max_events", errors);
    layer.mesh_outbox_max_bytes = mesh.take_size("outbox_max_bytes", errors);
    layer.mesh_durable_interest_expiry = mesh.take_duration("durable_interest_expiry", errors);
    if let Some(join) = mesh.take_seq("join", errors) {
        let mut addresses = Vec::new();
        for item in join.iter() {
            if let Some(text) = item.str(errors) {
                match text.parse() {
                    Ok(address) => addresses.push(address),
                    Err(_) => item.report_invalid(
                        errors,
                        format!("join address `{text}` is not IP:PORT such as 127.0.0.1:7400"),
                    ),
                }
            }
        }
        layer.mesh_join = Some(addresses);
    }
}

fn read_http(http: &Mapping<'_>, layer: &mut Layer, errors: &mut Errors) {
    http.deny_unknown(HTTP_KEYS, errors);
    layer.http_listen = http.take_parsed("listen", errors);
    if let Some(value) = http.take("max_event_bytes")
        && let Some(bytes) = value.size(errors)
    {
        match max_event_bytes(bytes) {
            Ok(bytes) => layer.http_max_event_bytes = Some(bytes),
            Err(error) => value.report(
                errors,
                Problem::Invalid {
                    message: error.to_string(),
                },
            ),
        }
    }
}
