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
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_broker::{Broker, Principal};

use crate::group::GroupCoordinator;

/// The largest request weft reads (Kafka's `socket.request.max.bytes`, 100 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

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
    /// Requests larger than this close the connection.
    pub max_request_bytes: usize,
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
                config,
                producer_ids: AtomicI64::new(produce::first_producer_id()),
            }),
        }
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
/// Kafka's) on first use so it stays the same across restarts.
pub fn load_or_create_cluster_id(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("cluster.id");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::fs::create_dir_all(dir)?;
    let id = uuid::Uuid::now_v7().simple().to_string()[..22].to_owned();
    let temporary = dir.join("cluster.id.tmp");
    std::fs::write(&temporary, &id)?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(id)
}
