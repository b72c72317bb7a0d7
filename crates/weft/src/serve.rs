//! `weft serve`: load the configuration, start a node, run until SIGINT or SIGTERM.

use std::process::ExitCode;

use anyhow::Context as _;
use weft_server::config::{Config, ConfigOverrides, ConfigSources, LogFormat};

use crate::cli::ServeArgs;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let sources = ConfigSources {
        file: args.config,
        // `vars_os`: a variable that is not valid Unicode must not crash startup.
        env: std::env::vars_os()
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.to_string_lossy().into_owned(),
                )
            })
            .collect(),
        overrides: ConfigOverrides {
            node_name: args.node_name,
            data_dir: args.data_dir,
            http: args.http,
            ready_file: args.ready_file,
            log_format: args.log_format,
            log_level: args.log_level,
            http_max_event_bytes: args.http_max_event_bytes,
            kafka: args.kafka,
            kafka_advertised: args.kafka_advertised,
            kafka_auto_create_topics: args.kafka_auto_create_topics,
            kafka_default_partitions: args.kafka_default_partitions,
            kafka_request_timeout: args.kafka_request_timeout,
            kafka_max_incomplete_request_bytes: args.kafka_max_incomplete_request_bytes,
            mqtt: args.mqtt,
            mqtt_max_keep_alive: args.mqtt_max_keep_alive,
            mesh: args.mesh,
            mesh_name: args.mesh_name,
            join: args.join,
            mesh_compression: args.mesh_compression,
            mesh_outbox_max_events: args.mesh_outbox_max_events,
            mesh_outbox_max_bytes: args.mesh_outbox_max_bytes,
            mesh_durable_interest_expiry: args.mesh_durable_interest_expiry,
            resources: args.resources,
            watch: args.watch,
        },
    };
    let config = match Config::load(sources) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("weft: invalid configuration:\n{errors}");
            return Ok(ExitCode::from(2));
        }
    };
    init_logging(&config);

    let listeners = weft_server::bind(&config).await?;
    let mut node = weft_server::start(&config, listeners).await?;
    if let Some(path) = &config.ready_file {
        weft_server::write_ready_file(path, config.node_name.as_str(), node.addresses())
            .with_context(|| format!("cannot write the ready file {}", path.display()))?;
    }
    for (listener, address) in node.addresses() {
        eprintln!(
            "weft: node {} serving {listener} on {address}",
            config.node_name
        );
    }

    tokio::select! {
        signal = shutdown_signal() => {
            signal?;
            tracing::info!("shutdown requested");
            node.shutdown().await?;
            Ok(ExitCode::SUCCESS)
        }
        failure = node.wait_for_failure() => {
            failure.context("a listener stopped")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn init_logging(config: &Config) {
    let level = config.log.level.as_tracing();
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in files or pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("cannot listen for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
