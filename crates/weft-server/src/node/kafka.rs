//! The Kafka front end: its cluster id and committed offsets in `<data_dir>/kafka`, and
//! its listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use weft_broker::Broker;

use super::{Serving, StartError};
use crate::config::Config;

/// Opens the front end's context (its cluster id and committed offsets) when Kafka is
/// on: before the HTTP front end, which reports its counters.
pub(super) async fn open(
    config: &Config,
    broker: &Broker,
    listener: Option<&TcpListener>,
    addresses: &BTreeMap<String, SocketAddr>,
) -> Result<Option<weft_kafka::KafkaContext>, StartError> {
    match listener {
        Some(_) => Ok(Some(context(config, broker, addresses).await?)),
        None => Ok(None),
    }
}

/// Serves Kafka clients on `listener` with `context` (both present or both absent).
pub(super) fn serve(
    listener: Option<TcpListener>,
    context: Option<weft_kafka::KafkaContext>,
    serving: &mut Serving,
) {
    let (Some(listener), Some(context)) = (listener, context) else {
        return;
    };
    let shutdown = serving.shutdown();
    serving.spawn(async move {
        weft_kafka::serve(listener, context, shutdown).await;
        Ok(())
    });
}

/// The Kafka listener's counters for `/v1/node`, prefixed `kafka_`.
pub(super) fn counters(context: &weft_kafka::KafkaContext) -> weft_http::CounterSource {
    let context = context.clone();
    weft_http::CounterSource(std::sync::Arc::new(move || {
        let stats = context.stats();
        [
            ("kafka_requests_timed_out", stats.requests_timed_out),
            ("kafka_requests_too_large", stats.requests_too_large),
            ("kafka_request_budget_waits", stats.request_budget_waits),
            (
                "kafka_incomplete_request_bytes",
                stats.incomplete_request_bytes,
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }))
}

/// The Kafka front end's context: its cluster id and committed offsets live in
/// `<data_dir>/kafka`.
async fn context(
    config: &Config,
    broker: &Broker,
    addresses: &BTreeMap<String, SocketAddr>,
) -> Result<weft_kafka::KafkaContext, StartError> {
    let dir = config.data_dir.join("kafka");
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| StartError::Kafka {
        path: dir.clone(),
        source,
    };
    // On the node's disk, which the broker holds.
    let state = broker.state_dir(&dir);
    let cluster_id = weft_kafka::load_or_create_cluster_id(state.clone())
        .map_err(|error| failed(error.into()))?;
    let groups = weft_kafka::group::GroupCoordinator::spawn(
        weft_kafka::group::CoordinatorConfig::default(),
        state.child("groups"),
    )
    .await
    .map_err(|error| failed(error.into()))?;
    let bound = addresses
        .get("kafka")
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9092)));
    let (advertised_host, advertised_port) = config.kafka.advertised_for(bound);
    let kafka = weft_kafka::KafkaConfig {
        advertised_host,
        advertised_port,
        cluster_id,
        auto_create_topics: config.kafka.auto_create_topics,
        default_partitions: config.kafka.default_partitions,
        request_read_timeout: config.kafka.request_timeout,
        max_incomplete_request_bytes: usize::try_from(config.kafka.max_incomplete_request_bytes)
            .unwrap_or(usize::MAX),
        ..weft_kafka::KafkaConfig::default()
    };
    Ok(weft_kafka::KafkaContext::new(broker.clone(), groups, kafka))
}
