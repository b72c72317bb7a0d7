//! The Kafka listener: one tokio task per connection, requests answered in order.
//!
//! [`serve`] takes an already-bound listener (tests bind port 0) and a [`KafkaContext`]:
//! the broker and its streams (a Kafka topic *is* a stream of the same name), the group
//! coordinator and the [`KafkaConfig`]. Like a Kafka broker, a connection handles one
//! request at a time (a long-polling Fetch or a JoinGroup waiting for a rebalance holds
//! only its own connection), and answers in the order requests arrived.
//!
//! weft is a one-node Kafka cluster here: this node is every partition's leader, the
//! group coordinator and the controller. Handlers live in one file per API family; all
//! broker errors are mapped to Kafka codes in `server/errors.rs`.

mod admin;
mod configs;
mod connection;
mod errors;
mod fetch;
mod groups;
mod metadata;
mod produce;

use std::future::Future;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_broker::state::StateDir;
use weft_broker::{Broker, Principal};

use crate::group::GroupCoordinator;

/// The largest request weft reads (Kafka's `socket.request.max.bytes`, 100 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// How long a request may take to arrive once its first byte has: 30 s, the default
/// `request.timeout.ms` of Kafka clients, so a request that takes longer has already
/// been given up by the client that sent it.
pub const DEFAULT_REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The bytes the listener holds, over all connections, for requests not yet complete
/// (256 MiB): room for two requests of the largest size at once, or hundreds of the
/// 1 MiB requests Kafka producers send by default.
pub const DEFAULT_MAX_INCOMPLETE_REQUEST_BYTES: usize = 256 * 1024 * 1024;

/// How the Kafka front end behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// The host clients are told to connect to (Metadata, FindCoordinator).
    pub advertised_host: String,
    /// The port clients are told to connect to.
    pub advertised_port: u16,
    /// This node's broker id.
    pub node_id: i32,
    /// The cluster id (stable across restarts; see [`load_or_create_cluster_id`]).
    pub cluster_id: String,
    /// Whether Metadata requests create missing topics (Kafka's
    /// `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic, and of CreateTopics with `-1`
    /// (Kafka's `num.partitions`).
    pub default_partitions: u32,
    /// Requests larger than this, or than half of [`max_incomplete_request_bytes`] (which
    /// keeps room for the largest request), close the connection before they are read.
    ///
    /// [`max_incomplete_request_bytes`]: KafkaConfig::max_incomplete_request_bytes
    pub max_request_bytes: usize,
    /// How long a request may take to arrive, from its first byte to its last (waiting
    /// for room under [`max_incomplete_request_bytes`] included); a request still
    /// incomplete then closes its connection. A connection with no request started may
    /// stay idle.
    ///
    /// [`max_incomplete_request_bytes`]: KafkaConfig::max_incomplete_request_bytes
    pub request_read_timeout: Duration,
    /// The bytes held, over every connection, for requests still arriving. A connection
    /// that needs more room than is left stops reading until there is room. Part of it
    /// (the largest request, at most half) is a reserve that lets one waiting request at
    /// a time finish, so the listener always makes progress.
    pub max_incomplete_request_bytes: usize,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            advertised_host: "127.0.0.1".to_owned(),
            advertised_port: 9092,
            node_id: 0,
            cluster_id: "weft-cluster".to_owned(),
            auto_create_topics: true,
            default_partitions: 1,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            request_read_timeout: DEFAULT_REQUEST_READ_TIMEOUT,
            max_incomplete_request_bytes: DEFAULT_MAX_INCOMPLETE_REQUEST_BYTES,
        }
    }
}

/// Everything a connection needs. Cheap to clone.
#[derive(Clone)]
pub struct KafkaContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    broker: Broker,
    groups: GroupCoordinator,
    config: KafkaConfig,
    /// The last producer id handed out.
    producer_ids: AtomicI64,
    /// Room for the bytes of requests still arriving, shared by every connection.
    request_budget: connection::RequestBudget,
    counters: Counters,
}

/// The front end's monotonic counters; [`KafkaStats`] is their snapshot.
#[derive(Debug, Default)]
struct Counters {
    requests_timed_out: AtomicU64,
    requests_too_large: AtomicU64,
    request_budget_waits: AtomicU64,
}

/// A snapshot of the Kafka front end's counters (monotonic unless noted as a gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KafkaStats {
    /// Connections closed because a request was still incomplete after
    /// [`KafkaConfig::request_read_timeout`].
    pub requests_timed_out: u64,
    /// Connections closed because a request announced more than
    /// [`KafkaConfig::max_request_bytes`].
    pub requests_too_large: u64,
    /// Times a connection stopped reading until the bytes held for incomplete requests
    /// fell below [`KafkaConfig::max_incomplete_request_bytes`].
    pub request_budget_waits: u64,
    /// Bytes held now for requests still arriving, over every connection (gauge).
    pub incomplete_request_bytes: u64,
}

/// A request's view of the node: the context, and the principal its connection acts as
/// (every broker call carries it).
struct Caller<'a> {
    context: &'a KafkaContext,
    principal: &'a Principal,
}

impl Caller<'_> {
    fn broker(&self) -> &Broker {
        self.context.broker()
    }

    fn principal(&self) -> &Principal {
        self.principal
    }

    fn config(&self) -> &KafkaConfig {
        self.context.config()
    }

    fn groups(&self) -> &GroupCoordinator {
        self.context.groups()
    }
}

impl std::fmt::Debug for KafkaContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaContext")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl KafkaContext {
    /// A context serving the streams of `broker`, with consumer groups in `groups`.
    pub fn new(broker: Broker, groups: GroupCoordinator, config: KafkaConfig) -> Self {
        KafkaContext {
            inner: Arc::new(ContextInner {
                broker,
                groups,
                producer_ids: AtomicI64::new(produce::first_producer_id()),
                request_budget: connection::RequestBudget::new(
                    config.max_incomplete_request_bytes,
                    config.max_request_bytes,
                ),
                counters: Counters::default(),
                config,
            }),
        }
    }

    /// The front end's counters now.
    pub fn stats(&self) -> KafkaStats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        KafkaStats {
            requests_timed_out: load(&counters.requests_timed_out),
            requests_too_large: load(&counters.requests_too_large),
            request_budget_waits: load(&counters.request_budget_waits),
            incomplete_request_bytes: self.inner.request_budget.held() as u64,
        }
    }

    fn request_budget(&self) -> &connection::RequestBudget {
        &self.inner.request_budget
    }

    fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    fn broker(&self) -> &Broker {
        &self.inner.broker
    }

    fn groups(&self) -> &GroupCoordinator {
        &self.inner.groups
    }

    /// The context as seen by a connection acting as `principal`.
    fn caller<'a>(&'a self, principal: &'a Principal) -> Caller<'a> {
        Caller {
            context: self,
            principal,
        }
    }

    fn config(&self) -> &KafkaConfig {
        &self.inner.config
    }
}

/// Who a connection acts as. Every connection is anonymous until the security work adds
/// SASL: `SaslHandshake` answers with no enabled mechanisms, and this is where an
/// authenticated principal will be kept.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) principal: Principal,
    pub(crate) client_host: String,
}

/// Serves Kafka clients on `listener` until `shutdown` resolves; open connections are
/// closed then (a request in progress is abandoned).
pub async fn serve(
    listener: TcpListener,
    context: KafkaContext,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (stop, stopped) = watch::channel(false);
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let session = Session {
                        principal: Principal::anonymous(),
                        client_host: format!("/{}", peer.ip()),
                    };
                    let context = context.clone();
                    let mut stopped = stopped.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            result = connection::run(socket, context, session) => {
                                if let Err(error) = result {
                                    tracing::debug!(%error, %peer, "kafka connection closed");
                                }
                            }
                            _ = stopped.wait_for(|stop| *stop) => {}
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "kafka accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    let _ = stop.send(true);
}

/// The cluster id stored in `dir/cluster.id`, created (a random 22-character id, like
/// Kafka's) on first use so it stays the same across restarts. `dir` is a path of the
/// file system, or a node's part of its disk (`Broker::state_dir`); the file is written
/// atomically and durably.
pub fn load_or_create_cluster_id(dir: impl Into<StateDir>) -> std::io::Result<String> {
    const FILE: &str = "cluster.id";
    let dir = dir.into();
    if let Some(bytes) = dir.read(FILE)? {
        let text = String::from_utf8(bytes)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
        if !text.trim().is_empty() {
            return Ok(text.trim().to_owned());
        }
    }
    let id = uuid::Uuid::now_v7().simple().to_string()[..22].to_owned();
    dir.write(FILE, id.as_bytes())?;
    Ok(id)
}
