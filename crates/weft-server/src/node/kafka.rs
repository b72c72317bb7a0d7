//! The Kafka front end: its cluster id and committed offsets in `<data_dir>/kafka`, and
//! its listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use weft_broker::Broker;

use super::{Serving, StartError};
use crate::config::Config;

/// Serves Kafka clients on `listener`, when there is one.
pub(super) async fn start(
    config: &Config,
    broker: &Broker,
    listener: Option<TcpListener>,
    addresses: &BTreeMap<String, SocketAddr>,
    serving: &mut Serving,
) -> Result<(), StartError> {
    let Some(listener) = listener else {
        return Ok(());
    };
    let context = context(config, broker, addresses).await?;
    let shutdown = serving.shutdown();
    serving.spawn(async move {
        weft_kafka::serve(listener, context, shutdown).await;
        Ok(())
    });
    Ok(())
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
    let cluster_id =
        weft_kafka::load_or_create_cluster_id(&dir).map_err(|error| failed(error.into()))?;
    let groups = weft_kafka::group::GroupCoordinator::spawn(
        weft_kafka::group::CoordinatorConfig::default(),
        dir.join("groups"),
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
        ..weft_kafka::KafkaConfig::default()
    };
    Ok(weft_kafka::KafkaContext::new(broker.clone(), groups, kafka))
}
