//! Starting and stopping a node.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use weft_broker::{AllowAll, Broker, StreamError, StreamsOptions};
use weft_http::{HttpContext, HttpOptions, NodeDescription};

use crate::config::{Config, Listen};

/// The listeners a node serves on, already bound. `None` means "off".
#[derive(Debug, Default)]
pub struct Listeners {
    /// The HTTP API listener.
    pub http: Option<TcpListener>,
    /// The Kafka listener.
    pub kafka: Option<TcpListener>,
    /// The MQTT listener.
    pub mqtt: Option<TcpListener>,
    /// The mesh listener (links from other nodes).
    pub mesh: Option<TcpListener>,
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener's address is taken by another process.
    #[error(
        "cannot listen for {listener} on {address}: the address is already in use (choose another with {flag})"
    )]
    AddressInUse {
        /// The listener's name (`http`).
        listener: &'static str,
        /// The address it tried.
        address: SocketAddr,
        /// The flag that changes it (`--http`).
        flag: &'static str,
    },
    /// A listener could not be bound for another reason.
    #[error("cannot listen for {listener} on {address} (change it with {flag})")]
    Bind {
        /// The listener's name.
        listener: &'static str,
        /// The address it tried.
        address: SocketAddr,
        /// The flag that changes it.
        flag: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The streams in the data directory could not be opened.
    #[error("cannot open the streams in {path}")]
    Streams {
        /// The streams directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: StreamError,
    },
    /// The Kafka front end's state (cluster id, committed offsets) could not be loaded.
    #[error("cannot start the kafka front end with data in {path}")]
    Kafka {
        /// Its directory (`<data_dir>/kafka`).
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The MQTT front end's stored sessions or retained messages could not be loaded.
    #[error("cannot start the mqtt front end with data in {path}")]
    Mqtt {
        /// Its directory (`<data_dir>/mqtt`).
        path: PathBuf,
        /// Why.
        #[source]
        source: weft_mqtt::server::MqttStartError,
    },
    /// The mesh could not start (an invalid mesh or node name).
    #[error("cannot start the mesh")]
    Mesh {
        /// Why.
        #[source]
        source: weft_mesh::server::MeshError,
    },
    /// The stored flows (`<data_dir>/flows`) could not be read.
    #[error("cannot open the flows in {path}")]
    Flows {
        /// Its directory (`<data_dir>/flows`).
        path: PathBuf,
        /// Why.
        #[source]
        source: weft_flow::controller::StoreError,
    },
    /// A bound listener has no local address (should not happen).
    #[error("cannot read the local address of the {listener} listener")]
    LocalAddress {
        /// The listener's name.
        listener: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// Binds every listener `config` enables.
pub async fn bind(config: &Config) -> Result<Listeners, StartError> {
    Ok(Listeners {
        http: bind_one("http", "--http", config.http.listen).await?,
        kafka: bind_one("kafka", "--kafka", config.kafka.listen).await?,
        mqtt: bind_one("mqtt", "--mqtt", config.mqtt.listen).await?,
        mesh: bind_one("mesh", "--mesh", config.mesh.listen).await?,
    })
}

/// Binds one listener, or nothing when it is off.
async fn bind_one(
    listener: &'static str,
    flag: &'static str,
    listen: Listen,
) -> Result<Option<TcpListener>, StartError> {
    let Listen::Addr(address) = listen else {
        return Ok(None);
    };
    TcpListener::bind(address)
        .await
        .map(Some)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AddrInUse {
                StartError::AddressInUse {
                    listener,
                    address,
                    flag,
                }
            } else {
                StartError::Bind {
                    listener,
                    address,
                    flag,
                    source,
                }
            }
        })
}

/// A started node. Dropping it does not stop it: call [`RunningNode::shutdown`].
pub struct RunningNode {
    addresses: BTreeMap<String, SocketAddr>,
    broker: Broker,
    http: Option<HttpContext>,
    mqtt: Option<weft_mqtt::server::MqttContext>,
    mesh: Option<weft_mesh::server::MeshHandle>,
    flows: weft_flow::Controller,
    gitops: Option<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<io::Result<()>>,
    maintenance: tokio::task::JoinHandle<()>,
}

/// How often stream retention and compaction run (and once at start).
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

/// Starts a node from `config` on `listeners` (see [`bind`]).
pub async fn start(config: &Config, listeners: Listeners) -> Result<RunningNode, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let mut addresses = BTreeMap::new();
    let named = [
        ("http", &listeners.http),
        ("kafka", &listeners.kafka),
        ("mqtt", &listeners.mqtt),
        ("mesh", &listeners.mesh),
    ];
    for (name, listener) in named {
        if let Some(listener) = listener {
            let address = listener
                .local_addr()
                .map_err(|source| StartError::LocalAddress {
                    listener: name,
                    source,
                })?;
            addresses.insert(name.to_owned(), address);
        }
    }

    let streams_dir = config.data_dir.join("streams");
    let options = StreamsOptions {
        node: Arc::from(config.node_name.to_string()),
        ..StreamsOptions::default()
    };
    let broker = Broker::open(Arc::new(AllowAll), streams_dir.clone(), options)
        .await
        .map_err(|source| StartError::Streams {
            path: streams_dir,
            source,
        })?;
    let (stop, stopped) = watch::channel(false);
    let maintenance = tokio::spawn(maintain(broker.clone(), stopped.clone()));
    // Stored flows start before any front end serves, so their routes see every event.
    let flows = crate::flows::open(config, &broker)
        .await
        .map_err(|source| StartError::Flows {
            path: config.data_dir.join("flows"),
            source,
        })?;
    let mut tasks = JoinSet::new();
    // Opened before the HTTP front end, which serves MQTT over WebSocket at `/mqtt` with
    // it. `--mqtt off` turns off MQTT over WebSocket as well.
    let mqtt_context = match &listeners.mqtt {
        Some(_) => {
            let options = weft_mqtt::server::MqttConfig {
                node: config.node_name.to_string(),
                ..weft_mqtt::server::MqttConfig::default()
            };
            let context = weft_mqtt::server::MqttContext::open(
                broker.clone(),
                config.data_dir.clone(),
                options,
            )
            .await
            .map_err(|source| StartError::Mqtt {
                path: config.data_dir.join("mqtt"),
                source,
            })?;
            Some(context)
        }
        None => None,
    };
    let mesh = if config.mesh.is_enabled() {
        let mut options = weft_mesh::server::MeshOptions::new(
            config.mesh.name.clone(),
            config.node_name.to_string(),
        );
        options.join = config.mesh.join.clone();
        options.compression = match config.mesh.compression {
            crate::config::LinkCompression::None => None,
            crate::config::LinkCompression::Lz4 => Some(weft_mesh::wire::Compression::Lz4),
            crate::config::LinkCompression::Zstd => Some(weft_mesh::wire::Compression::Zstd),
        };
        options.follow_broker_interest = true;
        options.data_dir = Some(config.data_dir.clone());
        options.outbox_max_events =
            usize::try_from(config.mesh.outbox_max_events).unwrap_or(usize::MAX);
        options.outbox_max_bytes = config.mesh.outbox_max_bytes;
        options.durable_interest_expiry = config.mesh.durable_interest_expiry;
        let handle = weft_mesh::server::MeshContext::start(broker.clone(), options)
            .map_err(|source| StartError::Mesh { source })?;
        if let Some(listener) = listeners.mesh {
            let shutdown = wait_for_stop(stopped.clone());
            let serving = handle.clone();
            tasks.spawn(async move {
                weft_mesh::server::serve(listener, serving, shutdown).await;
                Ok(())
            });
        }
        Some(handle)
    } else {
        None
    };
    let mut http = None;
    if let Some(listener) = listeners.http {
        let node = NodeDescription {
            name: config.node_name.to_string(),
            version: crate::VERSION.to_owned(),
            listeners: addresses
                .iter()
                .map(|(name, address)| (name.clone(), address.to_string()))
                .collect(),
            started: Instant::now(),
        };
        let options = HttpOptions {
            max_event_bytes: config.http.max_event_bytes,
            websocket_services: mqtt_context.iter().map(mqtt_websocket).collect(),
            counter_sources: mqtt_context
                .iter()
                .map(mqtt_counters)
                .chain(mesh.iter().map(mesh_counters))
                .collect(),
            mesh_status: mesh.as_ref().map(mesh_status),
            mesh_route: mesh.as_ref().map(mesh_route),
            request_services: crate::flows::services(&flows, &broker, config.http.max_event_bytes),
        };
        let context = HttpContext::new(broker.clone(), node, options);
        tasks.spawn(weft_http::serve(
            listener,
            context.clone(),
            wait_for_stop(stopped.clone()),
        ));
        http = Some(context);
    }
    if let Some(listener) = listeners.kafka {
        let context = kafka_context(config, &broker, &addresses).await?;
        let shutdown = wait_for_stop(stopped.clone());
        tasks.spawn(async move {
            weft_kafka::serve(listener, context, shutdown).await;
            Ok(())
        });
    }
    let mut mqtt = None;
    if let (Some(listener), Some(context)) = (listeners.mqtt, mqtt_context) {
        let shutdown = wait_for_stop(stopped.clone());
        let serving = context.clone();
        tasks.spawn(async move {
            weft_mqtt::server::serve(listener, serving, shutdown).await;
            Ok(())
        });
        mqtt = Some(context);
    }
    let gitops = match &config.flows.resources {
        Some(dir) => {
            crate::flows::start_gitops(&flows, dir, config.flows.watch, stopped.clone()).await
        }
        None => None,
    };
    if let Some(context) = &http {
        context.set_ready(true);
    }
    tracing::info!(node = %config.node_name, listeners = ?addresses, "node started");
    Ok(RunningNode {
        addresses,
        broker,
        http,
        mqtt,
        mesh,
        flows,
        gitops,
        stop,
        tasks,
        maintenance,
    })
}

/// `GET /v1/mesh/route?topic=T`: the mesh's route explanation as JSON.
fn mesh_route(handle: &weft_mesh::server::MeshHandle) -> weft_http::QuerySource {
    let handle = handle.clone();
    weft_http::QuerySource(Arc::new(move |topic: String| {
        let handle = handle.clone();
        Box::pin(async move {
            let topic = weft_core::Topic::new(topic).ok()?;
            let route = handle.explain_route(topic).await.ok()?;
            serde_json::to_value(route).ok()
        })
    }))
}

/// The mesh's store-and-forward counters in `/v1/node` (`mesh_outbox_depth`, ...).
fn mesh_counters(handle: &weft_mesh::server::MeshHandle) -> weft_http::CounterSource {
    let handle = handle.clone();
    weft_http::CounterSource(Arc::new(move || handle.durable_counters()))
}

/// `GET /v1/mesh`: the mesh handle's status as JSON.
fn mesh_status(handle: &weft_mesh::server::MeshHandle) -> weft_http::StatusSource {
    let handle = handle.clone();
    weft_http::StatusSource(Arc::new(move || {
        let handle = handle.clone();
        Box::pin(async move {
            let status = handle.status().await.ok()?;
            serde_json::to_value(status).ok()
        })
    }))
}

/// MQTT over WebSocket (`/mqtt`, subprotocol `mqtt`, MQTT 5.0 §6) on the HTTP listener:
/// each connection is an MQTT session of `context`, like a TCP client's.
fn mqtt_websocket(context: &weft_mqtt::server::MqttContext) -> weft_http::WebSocketService {
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

/// The Kafka front end's context: its cluster id and committed offsets live in
/// `<data_dir>/kafka`.
async fn kafka_context(
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

/// The MQTT front end's counters for `/v1/node`, prefixed `mqtt_`.
fn mqtt_counters(context: &weft_mqtt::server::MqttContext) -> weft_http::CounterSource {
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
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }))
}

/// Applies retention and compaction to every stream now and every
/// [`MAINTENANCE_INTERVAL`], until the node stops.
async fn maintain(broker: Broker, stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(MAINTENANCE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = wait_for_stop(stopped.clone()) => return,
        }
        broker.maintain_streams().await;
    }
}

async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone, which also means "stop".
    let _ = stopped.wait_for(|stop| *stop).await;
}

impl RunningNode {
    /// Listener name → the address it is bound to (port 0 resolved).
    pub fn addresses(&self) -> &BTreeMap<String, SocketAddr> {
        &self.addresses
    }

    /// The node's broker, for in-process publishers and subscribers (tests, embedding).
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The flows controller (the resources API's, for in-process use and tests).
    pub fn flows(&self) -> &weft_flow::Controller {
        &self.flows
    }

    /// Stops the node gracefully: not ready, flows stopped, live subscriptions ended,
    /// listeners closed, open requests finished. Returns the first error a front end
    /// reported.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(context) = &self.http {
            context.set_ready(false);
        }
        if let Some(gitops) = self.gitops.take() {
            gitops.abort();
        }
        self.flows.shutdown().await;
        self.broker.shutdown();
        let _ = self.stop.send(true);
        let mut outcome = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.unwrap_or_else(|error| Err(io::Error::other(error)));
            if let Err(error) = result {
                tracing::warn!(%error, "front end stopped with an error");
                if outcome.is_ok() {
                    outcome = Err(error);
                }
            }
        }
        // Front ends have stopped: persist MQTT sessions and retained messages, stop
        // maintenance, then close every partition log (synced).
        if let Some(mqtt) = &self.mqtt {
            mqtt.close().await;
        }
        if let Some(mesh) = &self.mesh {
            mesh.shutdown();
        }
        let _ = (&mut self.maintenance).await;
        self.broker.close_streams().await;
        tracing::info!("node stopped");
        outcome
    }

    /// Waits until a front end stops on its own (an error), without stopping the rest.
    pub async fn wait_for_failure(&mut self) -> io::Result<()> {
        match self.tasks.join_next().await {
            Some(Ok(result)) => result,
            Some(Err(error)) => Err(io::Error::other(error)),
            None => std::future::pending().await,
        }
    }
}
