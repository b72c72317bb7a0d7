//! The MQTT listener: the tokio I/O layer that drives [`Session`](crate::session::Session)s.
//!
//! [`serve`] takes an already-bound listener (tests bind port 0) and an [`MqttContext`]
//! (the broker, the session registry, the retained store and their storage under
//! `<data_dir>/mqtt`). Each accepted connection gets one task (`server/task.rs`) that
//! owns its `Session`: it reads and decodes packets, drains the session's outputs in
//! order, writes encoded packets, ticks at `next_deadline()`, and talks to the broker.
//! [`serve_connection`] runs the same task on any other byte stream (MQTT over
//! WebSocket, bridged by the HTTP front end; weft-mqtt knows nothing of HTTP).
//!
//! # One task per session
//!
//! When the network connection of a session with a non-zero expiry ends, its task does
//! not end: it keeps the session and its broker subscriptions, so QoS 1/2 messages that
//! match while the client is away are queued in the session's offline queue (the
//! session's limit and overflow policy apply, drops are counted in [`MqttStats`]). The
//! task ends when the session expires, is taken over, or the context closes. A new
//! CONNECT with the same client id asks the old task (through the registry,
//! `server/registry.rs`) to hand over its state and its broker subscriptions (no message
//! is lost between the two).
//!
//! # Persistence (see `docs/mqtt.md`, "What survives what")
//!
//! - Sessions with a non-zero expiry: `<data_dir>/mqtt/sessions/<hex(client id)>.json`,
//!   the `SessionState` JSON, written atomically (temporary file, fsync, rename, fsync
//!   of the directory). Written *before* the PUBREC of an inbound QoS 2 message and
//!   when the client disconnects; *behind* the SUBACK/UNSUBACK of a subscription
//!   change (which matches as soon as it is read: no disk write stands in front of it
//!   or of the client's next packets, so a crash in the moment after the SUBACK loses
//!   the change); and otherwise, also behind, at most `session_flush_interval` after
//!   any other change (messages queued or acknowledged). Deleted when the session ends.
//!   See `server/task/persist.rs`.
//! - Retained messages: `<data_dir>/mqtt/retained/<hex(topic)>.json`, one file per topic,
//!   written (or deleted) and fsynced before the publish is acknowledged.
//!
//! # Authorisation
//!
//! Every connection acts as `Principal::anonymous()`. The subscribe policy refuses
//! filters whose first level starts with `$` (`$SYS/#`, `$foo`), except shared
//! subscriptions `$share/GROUP/FILTER` whose inner filter does not start with `$`.

mod registry;
mod storage;
mod subscriptions;
mod task;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use weft_broker::{Broker, Principal};

use crate::retained::RetainedStore;
use crate::session::{Session, SessionConfig, SessionState, SubscribePolicy};

use registry::{Registry, ShareGroups};
use storage::{RetainedFiles, SessionFiles};

/// How the MQTT front end behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// This node's name (the `source` of synthesised events and their origin).
    pub node: String,
    /// The largest packet accepted from a client (announced as Maximum Packet Size).
    /// Overrides `session.max_packet_size`.
    pub max_packet_size: usize,
    /// The protocol limits and features of every session.
    pub session: SessionConfig,
    /// The most client connections open at once; more are closed right after accept.
    pub max_connections: usize,
    /// The capacity of each broker subscription's queue (events waiting for the session
    /// task; the broker drops the oldest when it is full).
    pub subscription_queue_capacity: usize,
    /// How long a change to a persistent session's state (messages queued or
    /// acknowledged) may wait before it is written. Subscription changes, inbound QoS 2
    /// and disconnects are written at once.
    pub session_flush_interval: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            node: "weft".to_owned(),
            max_packet_size: 1024 * 1024,
            session: SessionConfig::default(),
            max_connections: 100_000,
            subscription_queue_capacity: 1024,
            session_flush_interval: Duration::from_secs(1),
        }
    }
}

/// Why [`MqttContext::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MqttStartError {
    /// A storage directory could not be created or read.
    #[error("cannot open mqtt storage directory {path}")]
    Storage {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A snapshot of the front end's counters (monotonic unless noted as a gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MqttStats {
    /// Connections accepted.
    pub connections_accepted: u64,
    /// Connections refused because `max_connections` were open.
    pub connections_refused: u64,
    /// Connections open now (gauge).
    pub connections_open: u64,
    /// Sessions now, connected or offline (gauge).
    pub sessions: u64,
    /// Messages dropped because a session's queue was full.
    pub offline_queue_overflow: u64,
    /// Messages dropped because they exceeded the client's Maximum Packet Size.
    pub dropped_too_large: u64,
    /// Messages dropped because their Message Expiry Interval passed.
    pub dropped_expired: u64,
    /// QoS 0 messages dropped because the client was offline or busy.
    pub dropped_qos0: u64,
    /// Shared-subscription messages dropped: held for a group without a connected member
    /// beyond its limit (the oldest is dropped), or for a filter that names no group.
    pub shared_redeliver_dropped: u64,
    /// Shared-subscription messages no connected member could take, held (in memory,
    /// at most 1,000 per group) for the next member that subscribes.
    pub shared_held: u64,
    /// Shared-subscription messages held now, over every group (gauge).
    pub shared_held_now: u64,
    /// Retained messages now (gauge).
    pub retained_messages: u64,
    /// Session or retained writes that failed.
    pub storage_errors: u64,
    /// Session or retained-message files that could not be read at start, renamed to
    /// `NAME.bad` and left out.
    pub state_files_set_aside: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) offline_queue_overflow: AtomicU64,
    pub(crate) dropped_too_large: AtomicU64,
    pub(crate) dropped_expired: AtomicU64,
    pub(crate) dropped_qos0: AtomicU64,
    pub(crate) shared_redeliver_dropped: AtomicU64,
    pub(crate) shared_held: AtomicU64,
    pub(crate) storage_errors: AtomicU64,
    pub(crate) state_files_set_aside: AtomicU64,
}

/// What the context asks of its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RunState {
    Running,
    /// `serve` stopped: connected clients get DISCONNECT 0x8B; sessions live on offline.
    DisconnectClients,
    /// `close`: persist and stop every task.
    Closing,
}

/// Everything a session task needs. Cheap to clone.
#[derive(Clone)]
pub struct MqttContext {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    pub(crate) broker: Broker,
    pub(crate) config: MqttConfig,
    pub(crate) session_config: Arc<SessionConfig>,
    pub(crate) principal: Principal,
    pub(crate) registry: Registry,
    pub(crate) shares: ShareGroups,
    pub(crate) retained: Mutex<RetainedStore>,
    pub(crate) retained_files: RetainedFiles,
    /// Serialises retained updates so memory and disk apply them in the same order.
    pub(crate) retained_writes: tokio::sync::Mutex<()>,
    pub(crate) session_files: SessionFiles,
    pub(crate) counters: Counters,
    pub(crate) run_state: watch::Sender<RunState>,
    /// Session tasks alive, and a wake-up for `close` when the count drops.
    pub(crate) live_tasks: AtomicU64,
    pub(crate) task_ended: Notify,
}

impl std::fmt::Debug for MqttContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttContext")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The subscribe policy: no `$` topics except through `$share/`.
pub(crate) fn subscribe_policy() -> SubscribePolicy {
    Arc::new(|_client_id, filter| !filter.mqtt_filter.starts_with('$'))
}

impl MqttContext {
    /// Opens the front end's storage under `data_dir/mqtt`, loads the retained messages,
    /// and restores every stored session (offline, with its broker subscriptions, so
    /// messages for it are queued from now on). Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`MqttStartError::Storage`] when the directories cannot be created or listed.
    /// Unreadable files are logged and skipped.
    pub async fn open(
        broker: Broker,
        data_dir: PathBuf,
        config: MqttConfig,
    ) -> Result<MqttContext, MqttStartError> {
        // On the node's disk, which the broker holds.
        let state = broker.state_dir(data_dir.join("mqtt"));
        let root = state.path().to_owned();
        let session_files = SessionFiles::new(state.child("sessions"));
        let retained_files = RetainedFiles::new(state.child("retained"));
        let (stored_sessions, retained) = {
            let session_files = session_files.clone();
            let retained_files = retained_files.clone();
            tokio::task::spawn_blocking(move || {
                let sessions = session_files.load_all()?;
                let retained = retained_files.load_all()?;
                Ok::<_, MqttStartError>((sessions, retained))
            })
            .await
            .map_err(|error| MqttStartError::Storage {
                path: root.clone(),
                source: std::io::Error::other(error),
            })??
        };
        let mut session_config = config.session.clone();
        session_config.max_packet_size = u32::try_from(config.max_packet_size).unwrap_or(u32::MAX);
        let set_aside = stored_sessions.set_aside + retained.set_aside;
        let stored_sessions = stored_sessions.values;
        let mut store = RetainedStore::new();
        for message in retained.values {
            store.insert(message);
        }
        let (run_state, _) = watch::channel(RunState::Running);
        let context = MqttContext {
            inner: Arc::new(ContextInner {
                broker,
                session_config: Arc::new(session_config),
                config,
                principal: Principal::anonymous(),
                registry: Registry::default(),
                shares: ShareGroups::default(),
                retained: Mutex::new(store),
                retained_files,
                retained_writes: tokio::sync::Mutex::new(()),
                session_files,
                counters: Counters {
                    state_files_set_aside: AtomicU64::new(set_aside),
                    ..Counters::default()
                },
                run_state,
                live_tasks: AtomicU64::new(0),
                task_ended: Notify::new(),
            }),
        };
        let now = SystemTime::now();
        let restored = stored_sessions.len();
        for state in stored_sessions {
            context.restore_session(state, now).await;
        }
        tracing::info!(
            sessions = restored,
            retained = context.retained_len(),
            "mqtt state loaded"
        );
        Ok(context)
    }

    async fn restore_session(&self, state: SessionState, now: SystemTime) {
        let client_id = state.client_id.clone();
        let mut session = Session::restore(Arc::clone(&self.inner.session_config), state, now);
        session.set_subscribe_policy(subscribe_policy());
        task::spawn_restored(self.clone(), client_id, session).await;
    }

    /// The configuration the context was opened with.
    pub fn config(&self) -> &MqttConfig {
        &self.inner.config
    }

    /// The node's broker.
    pub fn broker(&self) -> &Broker {
        &self.inner.broker
    }

    fn retained_len(&self) -> usize {
        self.inner
            .retained
            .lock()
            .map(|store| store.len())
            .unwrap_or_default()
    }

    /// The front end's counters now.
    pub fn stats(&self) -> MqttStats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MqttStats {
            connections_accepted: load(&counters.connections_accepted),
            connections_refused: load(&counters.connections_refused),
            connections_open: load(&counters.connections_open),
            sessions: self.inner.registry.len() as u64,
            offline_queue_overflow: load(&counters.offline_queue_overflow),
            dropped_too_large: load(&counters.dropped_too_large),
            dropped_expired: load(&counters.dropped_expired),
            dropped_qos0: load(&counters.dropped_qos0),
            shared_redeliver_dropped: load(&counters.shared_redeliver_dropped),
            shared_held: load(&counters.shared_held),
            shared_held_now: self.inner.shares.held(),
            retained_messages: self.retained_len() as u64,
            storage_errors: load(&counters.storage_errors),
            state_files_set_aside: load(&counters.state_files_set_aside),
        }
    }

    /// Stops every session task: connected clients get DISCONNECT 0x8B Server shutting
    /// down (5.0), and every persistent session's state is written. Waits (up to ten
    /// seconds) for the tasks to finish. Retained messages are already on disk.
    pub async fn close(&self) {
        self.inner.run_state.send_replace(RunState::Closing);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let ended = self.inner.task_ended.notified();
            if self.inner.live_tasks.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                tracing::warn!(
                    tasks = self.inner.live_tasks.load(Ordering::Acquire),
                    "mqtt sessions did not stop in time"
                );
                break;
            }
        }
    }
}

impl MqttContext {
    /// Counts a new connection, or refuses it (counted, logged) when `max_connections`
    /// are open.
    fn admit(&self, peer: &dyn std::fmt::Display) -> bool {
        let counters = &self.inner.counters;
        let open = counters.connections_open.load(Ordering::Relaxed);
        if open >= self.inner.config.max_connections as u64 {
            counters.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, open, "mqtt connection refused: too many connections");
            return false;
        }
        counters
            .connections_accepted
            .fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Serves one MQTT client connection on any byte stream (MQTT over WebSocket: the HTTP
/// front end bridges the WebSocket's binary messages to bytes) with the same session
/// task as a TCP connection of [`serve`]. `peer` names the client in logs.
///
/// Returns when the connection is closed (by either side, or because `max_connections`
/// are open); the session itself may live on offline, like a TCP client's. After
/// [`serve`] stopped or during [`MqttContext::close`] the connection is closed at once.
pub async fn serve_connection<S>(stream: S, peer: String, context: MqttContext)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    if !context.admit(&peer) {
        return;
    }
    let closed = task::spawn_stream(context, Box::new(stream), peer);
    // Completes (with `Err`) when the session task drops the connection.
    let _ = closed.await;
}

/// Serves MQTT clients on `listener` until `shutdown` resolves. Then connected clients
/// are disconnected (0x8B Server shutting down on 5.0); their sessions stay in the
/// context until [`MqttContext::close`].
pub async fn serve(
    listener: TcpListener,
    context: MqttContext,
    shutdown: impl Future<Output = ()> + Send,
) {
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((socket, peer)) => {
                    if !context.admit(&peer) {
                        continue;
                    }
                    let _ = socket.set_nodelay(true);
                    task::spawn_connection(context.clone(), socket, peer);
                }
                Err(error) => {
                    tracing::warn!(%error, "mqtt accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    context.inner.run_state.send_if_modified(|state| {
        if *state == RunState::Running {
            *state = RunState::DisconnectClients;
            true
        } else {
            false
        }
    });
}
