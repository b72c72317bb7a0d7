//! Starting and stopping a node: [`start`] runs one step per component, each in its
//! own file under `node/` (broker and streams, maintenance, flows, MQTT, mesh, HTTP,
//! Kafka), from the validated config and the listeners [`bind`] bound.

mod broker;
mod error;
mod flows;
mod http;
mod kafka;
mod listen;
mod lock;
mod maintenance;
mod mesh;
mod mqtt;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use weft_broker::Broker;
use weft_broker::state::{Disk, FsDisk};
use weft_http::HttpContext;

use crate::config::Config;

pub use error::StartError;
pub use listen::{Listeners, bind};
pub use lock::{LOCK_FILE, LockHolder};

/// A started node. Dropping it does not stop it: call [`RunningNode::shutdown`]. It holds
/// the data directory's lock (`<data_dir>/weft.lock`, see [`LOCK_FILE`]) until it is
/// dropped, or the process ends.
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
    /// Held until the node has stopped (dropped last, after the streams are closed).
    _data_dir_lock: lock::DataDirLock,
}

/// Starts a node from `config` on `listeners` (see [`bind`]).
pub async fn start(config: &Config, listeners: Listeners) -> Result<RunningNode, StartError> {
    start_on_disk(config, listeners, FsDisk::shared()).await
}

/// [`start`] with the node's state on `disk` instead of the file system: the streams,
/// consumers, Kafka offsets and cluster id, MQTT sessions and retained messages, and the
/// flows' state, all under `config.data_dir` on `disk` (power-loss tests give it a
/// `SimulatedDisk` mount). The data directory's lock stays a file of the file system,
/// and so does the mesh's state (`<data_dir>/mesh`), which does not go through the seam
/// yet.
pub async fn start_on_disk(
    config: &Config,
    listeners: Listeners,
    disk: Arc<dyn Disk>,
) -> Result<RunningNode, StartError> {
    create_data_dir(config)?;
    // First, before anything in the directory is opened: a refused node touches nothing.
    let data_dir_lock = lock::acquire(&config.data_dir, config.node_name.as_str())?;
    let addresses = listeners.addresses()?;
    let broker = broker::open(config, disk).await?;
    let (stop, stopped) = watch::channel(false);
    let maintenance = maintenance::spawn(broker.clone(), stopped.clone());
    // Stored flows start before any front end serves, so their routes see every event.
    let flows = flows::open(config, &broker).await?;
    let mut serving = Serving::new(stopped);
    // Opened before the HTTP front end, which serves MQTT over WebSocket at `/mqtt` with
    // it. `--mqtt off` turns off MQTT over WebSocket as well.
    let mqtt_context = match &listeners.mqtt {
        Some(_) => Some(mqtt::open(config, &broker).await?),
        None => None,
    };
    let kafka_context = kafka::open(config, &broker, listeners.kafka.as_ref(), &addresses).await?;
    let mesh = mesh::start(config, &broker, listeners.mesh, &mut serving)?;
    let services = http::Services {
        mqtt: mqtt_context.as_ref(),
        kafka: kafka_context.as_ref(),
        mesh: mesh.as_ref(),
        flows: &flows,
    };
    let http = http::start(
        config,
        &broker,
        listeners.http,
        &addresses,
        services,
        &mut serving,
    );
    kafka::serve(listeners.kafka, kafka_context, &mut serving);
    let mqtt = mqtt::serve(listeners.mqtt, mqtt_context, &mut serving);
    let gitops = flows::start_gitops(config, &flows, &serving.stopped).await;
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
        tasks: serving.tasks,
        maintenance,
        _data_dir_lock: data_dir_lock,
    })
}

fn create_data_dir(config: &Config) -> Result<(), StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })
}

/// The tasks that serve a listener (front ends, mesh links) and the signal that stops
/// them; [`RunningNode`] keeps the tasks to join them at shutdown.
struct Serving {
    stopped: watch::Receiver<bool>,
    tasks: JoinSet<io::Result<()>>,
}

impl Serving {
    fn new(stopped: watch::Receiver<bool>) -> Self {
        Self {
            stopped,
            tasks: JoinSet::new(),
        }
    }

    /// Completes when the node stops: the shutdown future each server is given.
    fn shutdown(&self) -> impl Future<Output = ()> + Send + 'static {
        wait_for_stop(self.stopped.clone())
    }

    fn spawn(&mut self, task: impl Future<Output = io::Result<()>> + Send + 'static) {
        self.tasks.spawn(task);
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
        // Front ends have stopped: persist MQTT sessions and retained messages, let the
        // mesh finish the deliveries it is storing and persist their positions, stop
        // maintenance, then close every partition log (synced).
        if let Some(mqtt) = &self.mqtt {
            mqtt.close().await;
        }
        if let Some(mesh) = &self.mesh {
            mesh.close().await;
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
