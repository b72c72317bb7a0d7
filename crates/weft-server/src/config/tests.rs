//! Tests of loading a configuration from its three sources.

use std::path::Path;

use super::*;

/// A config file with `text` in a fresh directory (kept alive by the returned guard).
fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("weft.yaml");
    std::fs::write(&path, text).unwrap();
    (directory, path)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    Config::load(ConfigSources {
        file: Some(path.to_owned()),
        ..ConfigSources::default()
    })
}

fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    Config::load(ConfigSources {
        env: env(pairs),
        ..ConfigSources::default()
    })
}

/// The config file's problems as displayed, for a file named `weft.yaml`.
fn file_problems(text: &str) -> Vec<String> {
    let (_, diagnostics) = file::read_str("weft.yaml", text);
    diagnostics
        .into_iter()
        .map(|diagnostic| ConfigError::from_diagnostic(diagnostic).to_string())
        .collect()
}

fn lines(errors: &ConfigErrors) -> Vec<String> {
    errors.to_string().lines().map(str::to_owned).collect()
}

fn addr(text: &str) -> Listen {
    Listen::Addr(text.parse().unwrap())
}

#[test]
fn defaults_are_documented_values() {
    let config = Config::defaults_named("edge-1".parse().unwrap());
    assert_eq!(config.node_name.as_str(), "edge-1");
    assert_eq!(config.data_dir, PathBuf::from("./weft-data"));
    assert_eq!(config.http.listen, addr("127.0.0.1:8080"));
    assert_eq!(config.http.max_event_bytes, 1_048_576);
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.log.level, LogLevel::Info);
    assert_eq!(config.ready_file, None);
}

#[test]
fn no_sources_load_the_defaults() {
    let config = Config::load(ConfigSources::default()).unwrap();
    assert_eq!(config, Config::defaults());
}

#[test]
fn file_sets_every_field() {
    let (_guard, path) = config_file(concat!(
        "node_name: edge-1\n",
        "data_dir: /var/lib/weft\n",
        "ready_file: /tmp/weft.ready\n",
        "log: {format: json, level: debug}\n",
        "http: {listen: \"0.0.0.0:9000\", max_event_bytes: 512KiB}\n",
    ));
    let config = load_file(&path).unwrap();
    assert_eq!(config.node_name.as_str(), "edge-1");
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/weft"));
    assert_eq!(config.ready_file, Some(PathBuf::from("/tmp/weft.ready")));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, LogLevel::Debug);
    assert_eq!(config.http.listen, addr("0.0.0.0:9000"));
    assert_eq!(config.http.max_event_bytes, 524_288);
}

#[test]
fn empty_or_comment_only_file_means_defaults() {
    let (_guard, path) = config_file("# nothing configured yet\n");
    assert_eq!(load_file(&path).unwrap(), Config::defaults());
    let (_guard, path) = config_file("");
    assert_eq!(load_file(&path).unwrap(), Config::defaults());
}

#[test]
fn env_overrides_file_and_flag_overrides_env() {
    let (_guard, path) = config_file("http: {listen: \"127.0.0.1:1000\"}\nlog: {level: warn}\n");
    let sources = |flag: Option<&str>, env_value: Option<&str>| ConfigSources {
        file: Some(path.clone()),
        env: env_value
            .map(|value| env(&[("WEFT_HTTP", value)]))
            .unwrap_or_default(),
        overrides: ConfigOverrides {
            http: flag.map(str::to_owned),
            ..ConfigOverrides::default()
        },
    };
    let file_only = Config::load(sources(None, None)).unwrap();
    assert_eq!(file_only.http.listen, addr("127.0.0.1:1000"));
    let with_env = Config::load(sources(None, Some("127.0.0.1:2000"))).unwrap();
    assert_eq!(with_env.http.listen, addr("127.0.0.1:2000"));
    let with_flag = Config::load(sources(Some("127.0.0.1:3000"), Some("127.0.0.1:2000"))).unwrap();
    assert_eq!(with_flag.http.listen, addr("127.0.0.1:3000"));
    // A field only the file sets is kept under the others.
    assert_eq!(with_flag.log.level, LogLevel::Warn);
}

#[test]
fn every_env_var_sets_its_field() {
    let config = load_env(&[
        ("WEFT_NODE_NAME", "env-node"),
        ("WEFT_DATA_DIR", "/data"),
        ("WEFT_READY_FILE", "/run/ready"),
        ("WEFT_LOG_FORMAT", "json"),
        ("WEFT_LOG_LEVEL", "trace"),
        ("WEFT_HTTP", "off"),
        ("WEFT_HTTP_MAX_EVENT_BYTES", "2MB"),
    ])
    .unwrap();
    assert_eq!(config.node_name.as_str(), "env-node");
    assert_eq!(config.data_dir, PathBuf::from("/data"));
    assert_eq!(config.ready_file, Some(PathBuf::from("/run/ready")));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, LogLevel::Trace);
    assert_eq!(config.http.listen, Listen::Off);
    assert_eq!(config.http.max_event_bytes, 2_000_000);
}

#[test]
fn every_flag_sets_its_field() {
    let config = Config::load(ConfigSources {
        overrides: ConfigOverrides {
            node_name: Some("flag-node".into()),
            data_dir: Some("/flag-data".into()),
            http: Some("[::1]:0".into()),
            ready_file: Some("/flag-ready".into()),
            log_format: Some("json".into()),
            log_level: Some("error".into()),
            http_max_event_bytes: Some("1048576".into()),
            kafka: Some("127.0.0.1:0".into()),
            kafka_advertised: Some("kafka.example:19092".into()),
            kafka_auto_create_topics: Some("false".into()),
            kafka_default_partitions: Some("3".into()),
            kafka_request_timeout: Some("10s".into()),
            kafka_max_incomplete_request_bytes: Some("64MiB".into()),
            mqtt: Some("off".into()),
            mqtt_max_keep_alive: Some("90s".into()),
            mesh: Some("127.0.0.1:7400".into()),
            mesh_name: Some("factory".into()),
            join: vec!["10.0.0.2:7400".into(), "10.0.0.3:7400".into()],
            mesh_compression: Some("zstd".into()),
            mesh_outbox_max_events: Some("2_500".into()),
            mesh_outbox_max_bytes: Some("64MiB".into()),
            mesh_durable_interest_expiry: Some("36h".into()),
            resources: Some("/flag-flows".into()),
            watch: true,
        },
        ..ConfigSources::default()
    })
    .unwrap();
    assert_eq!(config.flows.resources, Some(PathBuf::from("/flag-flows")));
    assert!(config.flows.watch);
    assert_eq!(config.kafka.listen, addr("127.0.0.1:0"));
    assert_eq!(
        config
            .kafka
            .advertised
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("kafka.example:19092")
    );
    assert!(!config.kafka.auto_create_topics);
    assert_eq!(config.kafka.default_partitions, 3);
    assert_eq!(
        config.kafka.request_timeout,
        std::time::Duration::from_secs(10)
    );
    assert_eq!(config.kafka.max_incomplete_request_bytes, 64 << 20);
    assert_eq!(config.mqtt.listen, Listen::Off);
    assert_eq!(config.mqtt.max_keep_alive, 90);
    assert_eq!(config.mesh.listen, addr("127.0.0.1:7400"));
    assert_eq!(config.mesh.name, "factory");
    assert_eq!(config.mesh.compression, LinkCompression::Zstd);
    assert_eq!(config.mesh.outbox_max_events, 2_500);
    assert_eq!(config.mesh.outbox_max_bytes, 64 << 20);
    assert_eq!(
        config.mesh.durable_interest_expiry,
        std::time::Duration::from_secs(36 * 3600)
    );
    assert_eq!(
        config.mesh.join,
        [
            "10.0.0.2:7400".parse::<std::net::SocketAddr>().unwrap(),
            "10.0.0.3:7400".parse().unwrap()
        ],
        "repeated --join flags add up"
    );
    assert_eq!(config.node_name.as_str(), "flag-node");
    assert_eq!(config.data_dir, PathBuf::from("/flag-data"));
    assert_eq!(config.http.listen, addr("[::1]:0"));
    assert_eq!(config.ready_file, Some(PathBuf::from("/flag-ready")));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, LogLevel::Error);
    assert_eq!(config.http.max_event_bytes, 1_048_576);
}

#[test]
fn listen_off_disables_http_in_every_source() {
    let (_guard, path) = config_file("http:\n  listen: off\n");
    assert_eq!(load_file(&path).unwrap().http.listen, Listen::Off);
    assert_eq!(
        load_env(&[("WEFT_HTTP", "off")]).unwrap().http.listen,
        Listen::Off
    );
}

#[test]
fn port_zero_is_accepted() {
    let (_guard, path) = config_file("http: {listen: \"127.0.0.1:0\"}\n");
    let config = load_file(&path).unwrap();
    assert_eq!(config.http.listen.addr().map(|a| a.port()), Some(0));
}

#[test]
fn bad_address_is_reported_at_its_position() {
    assert_eq!(
        file_problems("http:\n  listen: 127.0.0.1:99999\n"),
        [
            "weft.yaml:2:11: http.listen: invalid listen address `127.0.0.1:99999`, expected `off` or IP:PORT such as 127.0.0.1:8080 or [::1]:8080"
        ]
    );
}

#[test]
fn sizes_accept_integers_and_units() {
    for (text, bytes) in [("4096", 4096), ("1MiB", 1 << 20), ("\"64KB\"", 64_000)] {
        let (_guard, path) = config_file(&format!("http: {{max_event_bytes: {text}}}\n"));
        assert_eq!(
            load_file(&path).unwrap().http.max_event_bytes,
            bytes,
            "{text}"
        );
    }
}

#[test]
fn bad_sizes_are_rejected_with_the_reason() {
    assert_eq!(
        file_problems("http:\n  max_event_bytes: 0\n---\n"),
        [
            "weft.yaml:2:20: http.max_event_bytes: the largest event must be at least 1 byte",
            "weft.yaml:3:1: a config file holds one document, found 2",
        ]
    );
    let errors = load_env(&[("WEFT_HTTP_MAX_EVENT_BYTES", "big")]).unwrap_err();
    assert_eq!(
        lines(&errors),
        [
            "environment variable WEFT_HTTP_MAX_EVENT_BYTES: invalid size `big`, expected a number of bytes or a size such as 512KiB or 1MiB"
        ]
    );
}

#[test]
fn node_name_rules_apply_to_every_source() {
    assert_eq!(
        file_problems("node_name: \"-edge\"\n"),
        ["weft.yaml:1:12: node_name: node name `-edge` must start with a letter or a digit"]
    );
    let errors = Config::load(ConfigSources {
        env: env(&[("WEFT_NODE_NAME", "")]),
        overrides: ConfigOverrides {
            node_name: Some("edge 1".into()),
            ..ConfigOverrides::default()
        },
        ..ConfigSources::default()
    })
    .unwrap_err();
    assert_eq!(
        lines(&errors),
        [
            "environment variable WEFT_NODE_NAME: node name is empty",
            "flag --node-name: node name `edge 1` contains ' ', only ASCII letters, digits, `.`, `_` and `-` are allowed",
        ]
    );
}

#[test]
fn unknown_field_is_rejected_with_a_suggestion() {
    assert_eq!(
        file_problems("htpp:\n  listen: off\nlog:\n  levle: debug\n"),
        [
            "weft.yaml:1:1: htpp: unknown field `htpp`, did you mean `http`?",
            "weft.yaml:4:3: log.levle: unknown field `levle`, did you mean `level`?",
        ]
    );
}

#[test]
fn wrong_types_are_rejected() {
    assert_eq!(
        file_problems("node_name: 42\nhttp: off\nlog: {level: 3}\n"),
        [
            "weft.yaml:1:12: node_name: expected a string, found the integer 42 (put it in quotes to make it a string)",
            "weft.yaml:2:7: http: expected a mapping, found the string \"off\"",
            "weft.yaml:3:14: log.level: expected a string, found the integer 3 (put it in quotes to make it a string)",
        ]
    );
    assert_eq!(
        file_problems("- a\n"),
        ["weft.yaml:1:1: expected a mapping, found a sequence"]
    );
}

#[test]
fn yaml_syntax_error_has_a_position() {
    assert_eq!(
        file_problems("http:\n  listen: [\n"),
        ["weft.yaml:3:1: invalid yaml: while parsing a node, did not find expected node content"]
    );
}

#[test]
fn several_errors_from_every_source_are_reported_at_once() {
    let (_guard, path) = config_file(concat!(
        "node_name: edge-1\n",
        "data_dri: /tmp\n",
        "log:\n",
        "  format: xml\n",
        "http:\n",
        "  listen: localhost:8080\n",
        "  max_event_bytes: 0\n",
    ));
    let errors = Config::load(ConfigSources {
        file: Some(path.clone()),
        env: env(&[
            ("WEFT_LOG_LEVEL", "loud"),
            ("WEFT_HTP", "off"),
            ("HOME", "/root"),
            ("WEFT_CONFIG", "ignored.yaml"),
            ("WEFT_SERVER", "http://127.0.0.1:8080"),
        ]),
        overrides: ConfigOverrides {
            http_max_event_bytes: Some("1 parsec".into()),
            ..ConfigOverrides::default()
        },
    })
    .unwrap_err();
    let file = path.display();
    assert_eq!(
        lines(&errors),
        [
            format!("{file}:2:1: data_dri: unknown field `data_dri`, did you mean `data_dir`?"),
            format!("{file}:4:11: log.format: unknown log format `xml`, expected `text` or `json`"),
            format!("{file}:6:11: http.listen: listen address `localhost:8080` names a host, write an IP address instead such as 127.0.0.1:8080 or 0.0.0.0:8080"),
            format!("{file}:7:20: http.max_event_bytes: the largest event must be at least 1 byte"),
            "environment variable WEFT_HTP: unknown weft variable, did you mean WEFT_HTTP?".to_owned(),
            "environment variable WEFT_LOG_LEVEL: unknown log level `loud`, expected one of `error`, `warn`, `info`, `debug`, `trace`".to_owned(),
            "flag --http-max-event-bytes: unknown size unit `parsec` in `1 parsec`, expected one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB".to_owned(),
        ]
    );
    let places: Vec<&Place> = errors.iter().map(|error| &error.place).collect();
    assert!(matches!(
        places[0],
        Place::Position {
            line: 2,
            column: 1,
            ..
        }
    ));
    assert_eq!(
        places[4],
        &Place::Env {
            name: "WEFT_HTP".into()
        }
    );
    assert_eq!(
        places[6],
        &Place::Flag {
            flag: "--http-max-event-bytes"
        }
    );
}

#[test]
fn unknown_weft_variable_is_an_error_and_others_are_ignored() {
    let errors = load_env(&[
        ("WEFT_NODENAME", "x"),
        ("WEFT_COLOUR", "blue"),
        ("PATH", "/bin"),
    ])
    .unwrap_err();
    assert_eq!(
        lines(&errors),
        [
            "environment variable WEFT_COLOUR: unknown weft variable",
            "environment variable WEFT_NODENAME: unknown weft variable, did you mean WEFT_NODE_NAME?",
        ]
    );
    assert!(load_env(&[("WEFT_CONFIG", "x"), ("WEFT_SERVER", "y")]).is_ok());
}

#[test]
fn missing_file_names_the_path_and_other_sources_are_still_checked() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("absent.yaml");
    let errors = Config::load(ConfigSources {
        file: Some(path.clone()),
        env: env(&[("WEFT_HTTP", "nowhere")]),
        ..ConfigSources::default()
    })
    .unwrap_err();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors.0[0].place, Place::File { path: path.clone() });
    let first = lines(&errors).remove(0);
    assert!(
        first.starts_with(&format!("{}: cannot read config file: ", path.display())),
        "{first}"
    );
}

#[test]
fn empty_paths_are_rejected() {
    assert_eq!(
        file_problems("data_dir: \"\"\n"),
        ["weft.yaml:1:11: data_dir: empty path"]
    );
    let errors = Config::load(ConfigSources {
        overrides: ConfigOverrides {
            ready_file: Some(PathBuf::new()),
            ..ConfigOverrides::default()
        },
        ..ConfigSources::default()
    })
    .unwrap_err();
    assert_eq!(lines(&errors), ["flag --ready-file: empty path"]);
}

#[test]
fn null_values_in_the_file_mean_unset() {
    let (_guard, path) = config_file("ready_file:\nhttp:\nlog: ~\n");
    assert_eq!(load_file(&path).unwrap(), Config::defaults());
}

#[test]
fn kafka_settings_come_from_the_file_and_bad_values_are_reported_with_their_place() {
    let (layer, errors) = super::file::read_str(
        "weft.yaml",
        "kafka:\n  listen: off\n  auto_create_topics: false\n  default_partitions: 4\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let mut config = Config::defaults();
    layer.apply(&mut config);
    assert_eq!(config.kafka.listen, Listen::Off);
    assert!(!config.kafka.auto_create_topics);
    assert_eq!(config.kafka.default_partitions, 4);

    let errors = Config::load(ConfigSources {
        env: vec![
            ("WEFT_KAFKA_DEFAULT_PARTITIONS".to_owned(), "0".to_owned()),
            ("WEFT_KAFKA_AUTO_CREATE_TOPICS".to_owned(), "yes".to_owned()),
        ],
        ..ConfigSources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(errors.contains("WEFT_KAFKA_DEFAULT_PARTITIONS"), "{errors}");
    assert!(errors.contains("not a boolean"), "{errors}");
}

#[test]
fn mesh_settings_come_from_the_file_and_the_environment() {
    let (layer, errors) = super::file::read_str(
        "weft.yaml",
        "mesh:\n  listen: 127.0.0.1:0\n  name: plant-1\n  join: [\"10.0.0.9:7400\"]\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let mut config = Config::defaults();
    layer.apply(&mut config);
    assert_eq!(config.mesh.name, "plant-1");
    assert_eq!(config.mesh.join.len(), 1);
    assert!(config.mesh.is_enabled());

    let (_, errors) = super::file::read_str("weft.yaml", "mesh:\n  join: [\"nowhere\"]\n");
    assert_eq!(errors.len(), 1, "{errors:?}");

    let config = Config::load(ConfigSources {
        env: vec![(
            "WEFT_MESH_JOIN".to_owned(),
            "10.0.0.2:7400, 10.0.0.3:7400".to_owned(),
        )],
        ..ConfigSources::default()
    })
    .unwrap();
    assert_eq!(config.mesh.join.len(), 2);
    assert!(
        !Config::defaults().mesh.is_enabled(),
        "no mesh unless asked"
    );
}

#[test]
fn mesh_compression_comes_from_the_file_and_defaults_to_lz4() {
    use super::LinkCompression;
    assert_eq!(Config::defaults().mesh.compression, LinkCompression::Lz4);
    for (text, expected) in [
        ("zstd", LinkCompression::Zstd),
        ("none", LinkCompression::None),
        ("lz4", LinkCompression::Lz4),
    ] {
        let yaml = format!("mesh:\n  compression: {text}\n");
        let (layer, errors) = super::file::read_str("weft.yaml", &yaml);
        assert!(errors.is_empty(), "{errors:?}");
        let mut config = Config::defaults();
        layer.apply(&mut config);
        assert_eq!(config.mesh.compression, expected);
    }
    let (_, errors) = super::file::read_str("weft.yaml", "mesh:\n  compression: gzip\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn flows_settings_come_from_the_file_and_the_environment() {
    let (_guard, path) = config_file("flows:\n  resources: /etc/weft/flows\n  watch: true\n");
    let config = load_file(&path).unwrap();
    assert_eq!(
        config.flows.resources,
        Some(PathBuf::from("/etc/weft/flows"))
    );
    assert!(config.flows.watch);
    let config = Config::load(ConfigSources {
        env: env(&[
            ("WEFT_FLOWS_RESOURCES", "/env/flows"),
            ("WEFT_FLOWS_WATCH", "false"),
        ]),
        ..ConfigSources::default()
    })
    .unwrap();
    assert_eq!(config.flows.resources, Some(PathBuf::from("/env/flows")));
    assert!(!config.flows.watch);
    let (_guard, path) = config_file("flows:\n  watch: maybe\n  resorces: x\n");
    let errors = load_file(&path).unwrap_err().to_string();
    assert!(errors.contains("resorces"), "{errors}");
}

#[test]
fn mesh_store_and_forward_limits_and_expiry_are_read_from_the_file() {
    let (_guard, path) = config_file(
        "mesh: {outbox_max_events: 500, outbox_max_bytes: 1MiB, durable_interest_expiry: 2d}\n",
    );
    let config = load_file(&path).unwrap();
    assert_eq!(config.mesh.outbox_max_events, 500);
    assert_eq!(config.mesh.outbox_max_bytes, 1 << 20);
    assert_eq!(
        config.mesh.durable_interest_expiry,
        std::time::Duration::from_secs(2 * 24 * 3600)
    );
    let defaults = Config::defaults();
    assert_eq!(defaults.mesh.outbox_max_events, 100_000);
    assert_eq!(
        defaults.mesh.durable_interest_expiry,
        std::time::Duration::from_secs(7 * 24 * 3600)
    );
}

#[test]
fn mesh_store_and_forward_settings_come_from_env_too_and_bad_values_name_the_variable() {
    let config = load_env(&[
        ("WEFT_MESH_COMPRESSION", "none"),
        ("WEFT_MESH_OUTBOX_MAX_EVENTS", "10"),
        ("WEFT_MESH_OUTBOX_MAX_BYTES", "1MB"),
        ("WEFT_MESH_DURABLE_INTEREST_EXPIRY", "90m"),
    ])
    .unwrap();
    assert_eq!(config.mesh.compression, LinkCompression::None);
    assert_eq!(config.mesh.outbox_max_events, 10);
    assert_eq!(config.mesh.outbox_max_bytes, 1_000_000);
    assert_eq!(
        config.mesh.durable_interest_expiry,
        std::time::Duration::from_secs(90 * 60)
    );
    let errors = load_env(&[
        ("WEFT_MESH_COMPRESSION", "gzip"),
        ("WEFT_MESH_OUTBOX_MAX_EVENTS", "lots"),
        ("WEFT_MESH_OUTBOX_MAX_BYTES", "big"),
        ("WEFT_MESH_DURABLE_INTEREST_EXPIRY", "forever"),
    ])
    .unwrap_err()
    .to_string();
    for expected in [
        "WEFT_MESH_COMPRESSION",
        "expected lz4, zstd or none",
        "WEFT_MESH_OUTBOX_MAX_EVENTS",
        "`lots` is not a whole number",
        "WEFT_MESH_OUTBOX_MAX_BYTES",
        "WEFT_MESH_DURABLE_INTEREST_EXPIRY",
    ] {
        assert!(
            errors.contains(expected),
            "{expected:?} missing from:\n{errors}"
        );
    }
}

#[test]
fn mqtt_max_keep_alive_is_whole_seconds_that_mqtt_can_carry() {
    use super::setting::parse_keep_alive;
    assert_eq!(parse_keep_alive("5m"), Ok(300));
    assert_eq!(parse_keep_alive("0"), Ok(0));
    assert_eq!(parse_keep_alive("18h12m15s"), Ok(u16::MAX));
    for bad in ["18h12m16s", "1.5s", "300", "soon", ""] {
        let error = parse_keep_alive(bad).unwrap_err();
        assert!(error.to_string().contains("65535"), "{bad}: {error}");
    }
    let (_guard, path) = config_file("mqtt: {max_keep_alive: 2m}\n");
    assert_eq!(load_file(&path).unwrap().mqtt.max_keep_alive, 120);
    let problems = file_problems("mqtt: {max_keep_alive: 1.5s}\n");
    assert!(problems[0].contains("max_keep_alive"), "{problems:?}");
    assert_eq!(Config::defaults().mqtt.max_keep_alive, 300);
}

#[test]
fn kafka_request_limits_are_read_and_checked() {
    let defaults = Config::defaults();
    assert_eq!(
        defaults.kafka.request_timeout,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(defaults.kafka.max_incomplete_request_bytes, 256 << 20);
    let (_guard, path) =
        config_file("kafka: {request_timeout: 1m, max_incomplete_request_bytes: 512MiB}\n");
    let config = load_file(&path).unwrap();
    assert_eq!(
        config.kafka.request_timeout,
        std::time::Duration::from_secs(60)
    );
    assert_eq!(config.kafka.max_incomplete_request_bytes, 512 << 20);
    let problems =
        file_problems("kafka: {request_timeout: 0, max_incomplete_request_bytes: 1KiB}\n");
    assert_eq!(problems.len(), 2, "{problems:?}");
    let errors = load_env(&[("WEFT_KAFKA_REQUEST_TIMEOUT", "0")])
        .unwrap_err()
        .to_string();
    assert!(errors.contains("longer than 0"), "{errors}");
}
