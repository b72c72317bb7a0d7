//! The HTTP front end, and what the other components serve on its listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpListener;
use weft_broker::Broker;
use weft_http::{HttpContext, HttpOptions, NodeDescription};

use super::{Serving, flows, kafka, mesh, mqtt};
use crate::config::Config;

/// The other components that serve on the HTTP listener.
pub(super) struct Services<'a> {
    /// MQTT over WebSocket and the MQTT counters; `None` when MQTT is off.
    pub mqtt: Option<&'a weft_mqtt::server::MqttContext>,
    /// The Kafka counters; `None` when Kafka is off.
    pub kafka: Option<&'a weft_kafka::KafkaContext>,
    /// The mesh's status, route explanation and counters; `None` when it is off.
    pub mesh: Option<&'a weft_mesh::server::MeshHandle>,
    /// The resources API and webhook sources.
    pub flows: &'a weft_flow::Controller,
}

/// Serves the HTTP API on `listener`, when there is one. The context it returns is not
/// ready yet: the node marks it ready once every component has started.
pub(super) fn start(
    config: &Config,
    broker: &Broker,
    listener: Option<TcpListener>,
    addresses: &BTreeMap<String, SocketAddr>,
    services: Services<'_>,
    serving: &mut Serving,
) -> Option<HttpContext> {
    let listener = listener?;
    let node = NodeDescription {
        name: config.node_name.to_string(),
        version: crate::VERSION.to_owned(),
        listeners: addresses
            .iter()
            .map(|(name, address)| (name.clone(), address.to_string()))
            .collect(),
        started: Instant::now(),
    };
    let context = HttpContext::new(broker.clone(), node, options(config, broker, services));
    let shutdown = serving.shutdown();
    serving.spawn(weft_http::serve(listener, context.clone(), shutdown));
    Some(context)
}

/// The HTTP options: the config's limits and every other component's services.
fn options(config: &Config, broker: &Broker, services: Services<'_>) -> HttpOptions {
    HttpOptions {
        max_event_bytes: config.http.max_event_bytes,
        websocket_services: services.mqtt.into_iter().map(mqtt::websocket).collect(),
        counter_sources: services
            .mqtt
            .into_iter()
            .map(mqtt::counters)
            .chain(services.kafka.into_iter().map(kafka::counters))
            .chain(services.mesh.into_iter().map(mesh::counters))
            .chain(std::iter::once(flows::counters()))
            .collect(),
        mesh_status: services.mesh.map(mesh::status),
        mesh_route: services.mesh.map(mesh::route),
        mesh_forget: services.mesh.map(mesh::forget),
        request_services: crate::flows::services(
            services.flows,
            broker,
            config.http.max_event_bytes,
        ),
        unread_body_timeout: weft_http::DEFAULT_UNREAD_BODY_TIMEOUT,
    }
}
