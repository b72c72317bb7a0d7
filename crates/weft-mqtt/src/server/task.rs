//! The task that owns one session: its network connection while there is one, its
//! broker subscriptions for as long as the session lives.

mod outputs;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::registry::{CONTROL_CAPACITY, Control, Handover};
use super::subscriptions::{BrokerSubscriptions, Received};
use super::{MqttContext, RunState, subscribe_policy};
use crate::codec::{self, ReasonCode};
use crate::mapping::{OutboundMode, event_to_message};
use crate::session::{Delivery, DeliveryTarget, DropCounters, Session};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;
/// Encoded output is written once it reaches this size, even mid-drain.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// How long a write may take before the client is considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries handled per wake-up before the task looks at its socket again.
const DELIVERY_BATCH: usize = 64;
/// How many of its own publications a session with a No Local subscription remembers.
const OWN_EVENTS: usize = 256;

/// Any byte stream a session can run on (a WebSocket bridged to bytes, a test pipe).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for S {}

/// Where a connection's bytes come from and go to.
enum Transport {
    /// A TCP socket: read with `readable` + `try_read_buf`, so an idle connection holds
    /// no read buffer.
    Tcp {
        reader: OwnedReadHalf,
        writer: OwnedWriteHalf,
    },
    /// Another byte stream (MQTT over WebSocket). `_closed` is dropped with the
    /// connection, which ends [`serve_connection`](super::serve_connection).
    Stream {
        /// Only ever used through `&mut` (`get_mut`, never locked): the mutex makes the
        /// task `Sync` without asking the stream to be.
        stream: std::sync::Mutex<Box<dyn ByteStream>>,
        _closed: oneshot::Sender<()>,
    },
}

impl Transport {
    /// Writes `bytes` completely (and flushes a buffered stream).
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Transport::Tcp { writer, .. } => writer.write_all(bytes).await,
            Transport::Stream { stream, .. } => {
                let stream = stream_mut(stream);
                stream.write_all(bytes).await?;
                stream.flush().await
            }
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp { writer, .. } => writer.shutdown().await,
            Transport::Stream { stream, .. } => stream_mut(stream).shutdown().await,
        }
    }
}

fn stream_mut(stream: &mut std::sync::Mutex<Box<dyn ByteStream>>) -> &mut Box<dyn ByteStream> {
    // Never locked, so never poisoned; `into_inner` keeps this total anyway.
    stream
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Who is on the other end, for logs.
pub(crate) enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A client on another transport, as that transport names it (`ws://1.2.3.4:5`).
    Named(Box<str>),
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(address) => write!(f, "{address}"),
            Peer::Named(name) => f.write_str(name),
        }
    }
}

/// The network side of a connected session.
struct Connection {
    transport: Transport,
    input: BytesMut,
    output: BytesMut,
    /// False after a decode error: the session is closing the connection.
    reading: bool,
}

/// When the session state must be written.
#[derive(Debug, Default)]
struct Persist {
    /// Changed since the last write.
    dirty_since: Option<Instant>,
    /// Must be written before the next bytes go to the client.
    urgent: bool,
    /// A file may exist for this client id.
    stored: bool,
}

pub(super) struct SessionTask {
    context: MqttContext,
    session: Session,
    subscriptions: BrokerSubscriptions,
    control_tx: mpsc::Sender<Control>,
    control_rx: mpsc::Receiver<Control>,
    generation: u64,
    /// The registered client id (set at CONNECT, or at restore).
    client_id: Option<String>,
    connection: Option<Connection>,
    peer: Option<Peer>,
    persist: Persist,
    last_drops: DropCounters,
    /// `(source, id)` of events this session published, for No Local.
    own_events: VecDeque<(String, String)>,
    /// Share groups this session is a connected member of.
    joined: Vec<String>,
    was_connected: bool,
    run_state: watch::Receiver<RunState>,
    exit: bool,
}

/// Starts the task of a new TCP connection.
pub(crate) fn spawn_connection(context: MqttContext, socket: TcpStream, peer: SocketAddr) {
    let (reader, writer) = socket.into_split();
    spawn_on(context, Transport::Tcp { reader, writer }, Peer::Tcp(peer));
}

/// Starts the task of a connection on any byte stream; the returned receiver completes
/// (with an error) when the task drops the connection.
pub(crate) fn spawn_stream(
    context: MqttContext,
    stream: Box<dyn ByteStream>,
    peer: String,
) -> oneshot::Receiver<()> {
    let (closed, on_closed) = oneshot::channel();
    let transport = Transport::Stream {
        stream: std::sync::Mutex::new(stream),
        _closed: closed,
    };
    spawn_on(context, transport, Peer::Named(peer.into_boxed_str()));
    on_closed
}

/// Starts the task of a new connection (TCP or another byte stream: same code path).
fn spawn_on(context: MqttContext, transport: Transport, peer: Peer) {
    context
        .inner
        .counters
        .connections_open
        .fetch_add(1, Ordering::Relaxed);
    let mut session = Session::new(Arc::clone(&context.inner.session_config), SystemTime::now());
    session.set_subscribe_policy(subscribe_policy());
    let mut task = SessionTask::new(context, session);
    task.peer = Some(peer);
    task.connection = Some(Connection {
        transport,
        input: BytesMut::new(),
        output: BytesMut::new(),
        reading: true,
    });
    tokio::spawn(task.run());
}

/// Registers a restored (offline) session, registers its broker subscriptions, and
/// starts its task unless it already expired.
pub(crate) async fn spawn_restored(context: MqttContext, client_id: String, session: Session) {
    let mut task = SessionTask::new(context, session);
    task.last_drops = task.session.state().drops;
    task.claim(&client_id);
    task.persist.stored = true;
    task.session.tick(SystemTime::now());
    task.drain().await;
    if task.should_exit() {
        task.finish().await;
    } else {
        tokio::spawn(task.run());
    }
}

fn to_instant(at: SystemTime) -> Instant {
    Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads more bytes into the connection's input; pending forever without one.
async fn read_some(connection: &mut Option<Connection>) -> io::Result<usize> {
    let Some(connection) = connection.as_mut().filter(|connection| connection.reading) else {
        return std::future::pending().await;
    };
    match &mut connection.transport {
        Transport::Tcp { reader, .. } => loop {
            // `readable` + `try_read_buf` never use up the task's scheduling budget, so a
            // connection that always has input would never yield and would starve the
            // subscribers it wakes on the same worker. Spending budget here (before
            // anything is read, so cancelling is harmless) makes it yield in turn.
            tokio::task::consume_budget().await;
            reader.readable().await?;
            // Only a connection with bytes to read holds a read buffer.
            connection.input.reserve(READ_CHUNK);
            match reader.try_read_buf(&mut connection.input) {
                Ok(read) => return Ok(read),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error),
            }
        },
        // `read_buf` is cancel safe: bytes read before the select picks another branch
        // stay in `input`.
        Transport::Stream { stream, .. } => {
            connection.input.reserve(READ_CHUNK);
            stream_mut(stream).read_buf(&mut connection.input).await
        }
    }
}

impl SessionTask {
    fn new(context: MqttContext, session: Session) -> Self {
        let (control_tx, control_rx) = mpsc::channel(CONTROL_CAPACITY);
        let inner = &context.inner;
        inner.live_tasks.fetch_add(1, Ordering::AcqRel);
        let generation = inner.registry.generation();
        let run_state = inner.run_state.subscribe();
        let subscriptions = BrokerSubscriptions::new(inner.config.subscription_queue_capacity);
        Self {
            context,
            session,
            subscriptions,
            control_tx,
            control_rx,
            generation,
            client_id: None,
            connection: None,
            peer: None,
            persist: Persist::default(),
            last_drops: DropCounters::default(),
            own_events: VecDeque::new(),
            joined: Vec::new(),
            was_connected: false,
            run_state,
            exit: false,
        }
    }

    /// Makes this task the owner of `client_id`; returns the previous owner.
    fn claim(&mut self, client_id: &str) -> Option<mpsc::Sender<Control>> {
        self.client_id = Some(client_id.to_owned());
        self.context
            .inner
            .registry
            .claim(client_id, self.generation, self.control_tx.clone())
    }

    fn should_exit(&self) -> bool {
        self.exit || (self.session.is_ended() && self.connection.is_none())
    }

    async fn run(mut self) {
        // A task started after `serve` stopped or during `close` acts on it at once.
        self.run_state.mark_changed();
        loop {
            self.drain().await;
            if self.should_exit() {
                break;
            }
            let deadline = self.session.next_deadline().map(to_instant);
            let flush_at = self
                .persist
                .dirty_since
                .map(|since| since + self.context.inner.config.session_flush_interval);
            tokio::select! {
                read = read_some(&mut self.connection) => self.on_read(read),
                received = self.subscriptions.next() => self.on_received(received),
                Some(control) = self.control_rx.recv() => self.on_control(control).await,
                () = sleep_until(deadline) => self.session.tick(SystemTime::now()),
                () = sleep_until(flush_at) => self.persist_now().await,
                changed = self.run_state.changed() => match changed {
                    Ok(()) => self.on_run_state(),
                    Err(_) => self.exit = true,
                },
            }
        }
        self.finish().await;
    }

    fn on_read(&mut self, read: io::Result<usize>) {
        let now = SystemTime::now();
        match read {
            Ok(0) | Err(_) => {
                if let Err(error) = &read {
                    tracing::debug!(%error, peer = ?self.peer, "mqtt read failed");
                }
                self.close_connection();
                self.session.connection_lost(now);
            }
            Ok(_) => {
                let Some(connection) = self.connection.as_mut() else {
                    return;
                };
                loop {
                    let version = self.session.version();
                    let max = self.session.max_inbound_packet_size();
                    match codec::decode(&mut connection.input, version, max) {
                        Ok(Some(packet)) => self.session.handle_packet(now, packet),
                        Ok(None) => break,
                        Err(error) => {
                            tracing::debug!(%error, peer = ?self.peer, client_id = %self.session.client_id(), "malformed mqtt packet");
                            connection.reading = false;
                            connection.input = BytesMut::new();
                            self.session.handle_decode_error(now, &error);
                            break;
                        }
                    }
                }
                if connection.input.is_empty() && connection.input.capacity() > 4 * READ_CHUNK {
                    connection.input = BytesMut::new();
                }
            }
        }
    }

    fn on_received(&mut self, first: Received) {
        let now = SystemTime::now();
        self.deliver(now, first);
        for _ in 1..DELIVERY_BATCH {
            match self.subscriptions.try_next() {
                Some(received) => self.deliver(now, received),
                None => break,
            }
        }
    }

    fn deliver(&mut self, now: SystemTime, received: Received) {
        let (event, target) = match received {
            Received::Plain(event) => (event, DeliveryTarget::Matching),
            Received::Shared { filter, event } => (
                event,
                DeliveryTarget::Subscription {
                    filter,
                    retained: false,
                },
            ),
            Received::Closed(error) => {
                tracing::debug!(%error, client_id = %self.session.client_id(), "mqtt broker subscription ended");
                return;
            }
        };
        let attributes = &event.cloudevent.attributes;
        let own = !self.own_events.is_empty()
            && self
                .own_events
                .iter()
                .any(|(source, id)| *source == attributes.source && *id == attributes.id);
        let publisher = own.then(|| self.session.client_id().to_owned());
        let message = event_to_message(&event, OutboundMode::Binary);
        self.session.handle_delivery(
            now,
            Delivery {
                message,
                publisher,
                target,
            },
        );
    }

    async fn on_control(&mut self, control: Control) {
        let now = SystemTime::now();
        match control {
            Control::TakeOver { clean_start, reply } => {
                // What the broker queued before the new CONNECT belongs to this session
                // as it is now (offline: QoS 0 dropped, QoS 1/2 queued).
                while let Some(received) = self.subscriptions.try_next() {
                    self.deliver(now, received);
                }
                // Counted here: the counters leave with the state.
                self.update_drop_counters();
                let state = self.session.take_over(now, clean_start);
                self.drain().await;
                let subscriptions = state.is_some().then(|| {
                    std::mem::replace(
                        &mut self.subscriptions,
                        BrokerSubscriptions::new(
                            self.context.inner.config.subscription_queue_capacity,
                        ),
                    )
                });
                self.persist = Persist::default();
                let _ = reply.send(Handover {
                    state,
                    subscriptions,
                });
                self.exit = true;
            }
            Control::SharedDelivery { filter, message } => {
                self.session.handle_delivery(
                    now,
                    Delivery {
                        message: *message,
                        publisher: None,
                        target: DeliveryTarget::Subscription {
                            filter,
                            retained: false,
                        },
                    },
                );
            }
        }
    }

    fn on_run_state(&mut self) {
        let state = *self.run_state.borrow_and_update();
        if state == RunState::Running {
            return;
        }
        let now = SystemTime::now();
        if self.session.is_connected() {
            self.session.disconnect(
                now,
                ReasonCode::ServerShuttingDown,
                Some("server shutting down"),
            );
        } else if self.connection.is_some() {
            self.close_connection();
            self.session.connection_lost(now);
        }
        if state == RunState::Closing {
            // What the broker already queued for this session is kept (and stored).
            while let Some(received) = self.subscriptions.try_next() {
                self.deliver(now, received);
            }
            self.exit = true;
        }
    }

    /// Drops the network connection (without flushing).
    fn close_connection(&mut self) {
        if self.connection.take().is_some() {
            self.context
                .inner
                .counters
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Writes the pending output, after the session state when it must be stored first.
    async fn flush(&mut self) {
        if self.persist.urgent {
            self.persist_now().await;
        }
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        if connection.output.is_empty() {
            return;
        }
        let written = tokio::time::timeout(
            WRITE_TIMEOUT,
            connection.transport.write_all(&connection.output),
        )
        .await;
        connection.output.clear();
        if connection.output.capacity() > WRITE_HIGH_WATER {
            connection.output = BytesMut::new();
        }
        let failed = match written {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            Err(_) => "write timed out".to_owned(),
        };
        tracing::debug!(error = %failed, peer = ?self.peer, "mqtt write failed");
        self.close_connection();
        self.session.connection_lost(SystemTime::now());
    }

    /// Flushes, then closes the connection (an `Output::Disconnect`).
    async fn disconnect(&mut self, reason: ReasonCode) {
        self.flush().await;
        if let Some(connection) = self.connection.as_mut() {
            tracing::debug!(?reason, peer = ?self.peer, client_id = %self.session.client_id(), "mqtt connection closed by server");
            let _ = tokio::time::timeout(WRITE_TIMEOUT, connection.transport.shutdown()).await;
        }
        self.close_connection();
    }

    /// Publishes counter changes of the session's drop counters.
    fn update_drop_counters(&mut self) {
        let drops = self.session.state().drops;
        let last = std::mem::replace(&mut self.last_drops, drops);
        let counters = &self.context.inner.counters;
        let add = |counter: &std::sync::atomic::AtomicU64, now: u64, before: u64| {
            if now > before {
                counter.fetch_add(now - before, Ordering::Relaxed);
            }
        };
        add(
            &counters.offline_queue_overflow,
            drops.queue_overflow,
            last.queue_overflow,
        );
        add(&counters.dropped_too_large, drops.too_large, last.too_large);
        add(&counters.dropped_expired, drops.expired, last.expired);
        add(
            &counters.dropped_qos0,
            drops.qos0_not_sendable,
            last.qos0_not_sendable,
        );
    }

    /// The client went away: leave the share groups (the broker must pick connected
    /// members) and give what was queued for this member to another one.
    fn on_went_offline(&mut self) {
        let inner = Arc::clone(&self.context.inner);
        for key in std::mem::take(&mut self.joined) {
            inner.shares.leave(&key, self.generation);
        }
        for (filter, key, pending) in self.subscriptions.drop_shared() {
            for event in pending {
                let message = event_to_message(&event, OutboundMode::Binary);
                if !inner
                    .shares
                    .redeliver(&key, self.generation, &filter, message)
                {
                    inner
                        .counters
                        .shared_redeliver_dropped
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.persist.urgent = true;
    }

    async fn finish(mut self) {
        if self.persist.dirty_since.is_some() {
            self.persist_now().await;
        }
        self.close_connection();
        let inner = Arc::clone(&self.context.inner);
        for key in self
            .joined
            .drain(..)
            .chain(self.subscriptions.shared_keys())
        {
            inner.shares.leave(&key, self.generation);
        }
        if let Some(client_id) = &self.client_id {
            inner.registry.release(client_id, self.generation);
        }
        drop(self.subscriptions);
        inner.live_tasks.fetch_sub(1, Ordering::AcqRel);
        inner.task_ended.notify_waiters();
    }
}
