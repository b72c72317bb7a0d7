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
use weft_broker::{AllowAll, Broker, StreamError, Streams};
use weft_http::{HttpContext, HttpOptions, NodeDescription};

use crate::config::{Config, Listen};

/// The listeners a node serves on, already bound. `None` means "off".
#[derive(Debug, Default)]
pub struct Listeners {
    /// The HTTP API listener.
    pub http: Option<TcpListener>,
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
    let http = match config.http.listen {
        Listen::Off => None,
        Listen::Addr(address) => Some(bind_one("http", "--http", address).await?),
    };
    Ok(Listeners { http })
}

async fn bind_one(
    listener: &'static str,
    flag: &'static str,
    address: SocketAddr,
) -> Result<TcpListener, StartError> {
    TcpListener::bind(address).await.map_err(|source| {
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
    streams: Streams,
    http: Option<HttpContext>,
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
    if let Some(listener) = &listeners.http {
        let address = listener
            .local_addr()
            .map_err(|source| StartError::LocalAddress {
                listener: "http",
                source,
            })?;
        addresses.insert("http".to_owned(), address);
    }

    let streams_dir = config.data_dir.join("streams");
    let streams =
        Streams::open(streams_dir.clone())
            .await
            .map_err(|source| StartError::Streams {
                path: streams_dir,
                source,
            })?;
    let broker = Broker::with_streams(Arc::new(AllowAll), streams.clone());
    let (stop, stopped) = watch::channel(false);
    let maintenance = tokio::spawn(maintain(streams.clone(), stopped.clone()));
    let mut tasks = JoinSet::new();
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
        };
        let context = HttpContext::new(broker.clone(), node, options);
        tasks.spawn(weft_http::serve(
            listener,
            context.clone(),
            wait_for_stop(stopped.clone()),
        ));
        http = Some(context);
    }
    if let Some(context) = &http {
        context.set_ready(true);
    }
    tracing::info!(node = %config.node_name, listeners = ?addresses, "node started");
    Ok(RunningNode {
        addresses,
        broker,
        streams,
        http,
        stop,
        tasks,
        maintenance,
    })
}

/// Applies retention and compaction to every stream now and every
/// [`MAINTENANCE_INTERVAL`], until the node stops.
async fn maintain(streams: Streams, stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(MAINTENANCE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = wait_for_stop(stopped.clone()) => return,
        }
        streams.maintain().await;
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

    /// Stops the node gracefully: not ready, live subscriptions ended, listeners closed,
    /// open requests finished. Returns the first error a front end reported.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(context) = &self.http {
            context.set_ready(false);
        }
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
        // Front ends have stopped: nothing publishes any more. Stop maintenance, then
        // close every partition log (synced).
        let _ = (&mut self.maintenance).await;
        self.streams.close().await;
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
