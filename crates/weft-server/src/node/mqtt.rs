//! The MQTT front end: its context (sessions and retained messages in
//! `<data_dir>/mqtt`), its TCP listener, and what it serves on the HTTP listener (MQTT
//! over WebSocket at `/mqtt`, its counters in `/v1/node`).

use std::sync::Arc;

use tokio::net::TcpListener;
use weft_broker::Broker;
use weft_mqtt::server::{MqttConfig, MqttContext};

use super::{Serving, StartError};
use crate::config::Config;

/// Opens the front end's context: loads its stored sessions and retained messages.
pub(super) async fn open(config: &Config, broker: &Broker) -> Result<MqttContext, StartError> {
    let mut options = MqttConfig {
        node: config.node_name.to_string(),
        ..MqttConfig::default()
    };
    options.session.max_keep_alive = config.mqtt.max_keep_alive;
    MqttContext::open(broker.clone(), config.data_dir.clone(), options)
        .await
        .map_err(|source| StartError::Mqtt {
            path: config.data_dir.join("mqtt"),
            source,
        })
}

/// Serves MQTT clients on `listener` with `context` (both present or both absent).
pub(super) fn serve(
    listener: Option<TcpListener>,
    context: Option<MqttContext>,
    serving: &mut Serving,
) -> Option<MqttContext> {
    let (Some(listener), Some(context)) = (listener, context) else {
        return None;
    };
    let shutdown = serving.shutdown();
    let sessions = context.clone();
    serving.spawn(async move {
        weft_mqtt::server::serve(listener, sessions, shutdown).await;
        Ok(())
    });
    Some(context)
}

/// MQTT over WebSocket (`/mqtt`, subprotocol `mqtt`, MQTT 5.0 §6) on the HTTP listener:
/// each connection is an MQTT session of `context`, like a TCP client's.
pub(super) fn websocket(context: &MqttContext) -> weft_http::WebSocketService {
    let serving = context.clone();
    let mut service = weft_http::WebSocketService::new("/mqtt", "mqtt", move |stream, peer| {
        weft_mqtt::serve_connection(stream, peer, serving.clone())
    });
    // Room for a packet twice the MQTT limit in one message, so an oversized packet
    // reaches the session and gets its MQTT answer (DISCONNECT 0x95); a message beyond
    // that closes the WebSocket (1009).
    service.max_message_bytes = context
        .config()
        .max_packet_size
        .saturating_mul(2)
        .saturating_add(16);
    service
}

/// The MQTT front end's counters for `/v1/node`, prefixed `mqtt_`.
pub(super) fn counters(context: &MqttContext) -> weft_http::CounterSource {
    let context = context.clone();
    weft_http::CounterSource(Arc::new(move || {
        let stats = context.stats();
        [
            ("mqtt_connections_accepted", stats.connections_accepted),
            ("mqtt_connections_refused", stats.connections_refused),
            ("mqtt_connections_open", stats.connections_open),
            ("mqtt_sessions", stats.sessions),
            ("mqtt_offline_queue_overflow", stats.offline_queue_overflow),
            ("mqtt_dropped_too_large", stats.dropped_too_large),
            ("mqtt_dropped_expired", stats.dropped_expired),
            ("mqtt_dropped_qos0", stats.dropped_qos0),
            (
                "mqtt_shared_redeliver_dropped",
                stats.shared_redeliver_dropped,
            ),
            ("mqtt_retained_messages", stats.retained_messages),
            ("mqtt_storage_errors", stats.storage_errors),
            ("mqtt_state_files_set_aside", stats.state_files_set_aside),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }))
}
