//! A bare MQTT node for measurements: the broker with streams (as `weft serve` builds
//! it) and the MQTT listener, nothing else. For profiling the MQTT front end without
//! building the whole `weft` binary.
//!
//! ```sh
//! cargo run --release -p weft-mqtt --example mqtt_serve -- 127.0.0.1:18830 /tmp/weft-data
//! ```
//!
//! Stops on SIGINT/SIGTERM (closes the sessions).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: fail loudly

use std::sync::Arc;

use weft_broker::{AllowAll, Broker};
use weft_mqtt::{MqttConfig, MqttContext};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18830".to_owned());
    let data_dir =
        std::path::PathBuf::from(args.next().unwrap_or_else(|| "mqtt-serve-data".to_owned()));
    let broker = Broker::open(
        Arc::new(AllowAll),
        data_dir.join("streams"),
        Default::default(),
    )
    .await
    .expect("open streams");
    let context = MqttContext::open(broker.clone(), data_dir, MqttConfig::default())
        .await
        .expect("open mqtt state");
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!(
        "mqtt_serve listening on {}",
        listener.local_addr().expect("address")
    );
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    weft_mqtt::serve(listener, context.clone(), async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    })
    .await;
    context.close().await;
    broker.shutdown();
    broker.close_streams().await;
}
