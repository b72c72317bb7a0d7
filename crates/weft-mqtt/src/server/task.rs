//! The task that owns one session: its network connection while there is one, its
//! broker subscriptions for as long as the session lives.
//!
//! Its future lives inline in the tokio task of every connection, so it is kept small
//! (`tests::session_task_future_stays_small`): the hot paths (reading, decoding,
//! deliveries, encoding, writes the socket takes at once, publishing) are awaited in
//! place, the rare ones (CONNECT and takeover, persistence, retained writes, wills,
//! a socket that cannot take a write) in boxed futures.

mod outputs;
mod persist;
mod publish;
mod transport;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, Sleep};

use super::registry::{Control, ControlReceiver, ControlSender, Handover, control_channel};
use super::subscriptions::{BrokerSubscriptions, Received};
use super::{MqttContext, RunState, subscribe_policy};
use crate::codec::{self, ProtocolVersion, ReasonCode};
use crate::mapping::{OutboundMode, event_to_message};
use crate::session::{Delivery, DeliveryTarget, DropCounters, Session};

use persist::{Persist, state_written};
use publish::InboundPublishes;

/// The error of a storage write run on the blocking pool (the write's own error, or the
/// blocking task's), counted in `storage_errors`; `None` when the write succeeded.
fn failed_write<E: std::fmt::Display>(
    inner: &crate::server::ContextInner,
    result: Result<Result<(), E>, tokio::task::JoinError>,
) -> Option<String> {
    let error = match result {
        Ok(Ok(())) => return None,
        Ok(Err(error)) => error.to_string(),
        Err(error) => error.to_string(),
    };
    inner
        .counters
        .storage_errors
        .fetch_add(1, Ordering::Relaxed);
    Some(error)
}
pub(crate) use transport::{ByteStream, Peer};
use transport::{Connection, Transport};

/// Encoded output is written once it reaches this size, even mid-drain.
const WRITE_HIGH_WATER: usize = 64 * 1024;
/// Deliveries handled per wake-up before the task looks at its socket again.
const DELIVERY_BATCH: usize = 64;
/// Packets decoded before their outputs are handled: one 64 KiB read holds hundreds of
/// small PUBLISHes, and the session's queue of (large) outputs should not hold them all.
const DECODE_BATCH: usize = 64;
/// Input longer than this is taken to hold a batch of packets (a few small PUBLISHes).
const BATCH_INPUT: usize = 512;
/// How many of its own publications a session with a No Local subscription remembers.
const OWN_EVENTS: usize = 256;

pub(super) struct SessionTask {
    context: MqttContext,
    session: Session,
    subscriptions: BrokerSubscriptions,
    control_tx: ControlSender,
    control_rx: ControlReceiver,
    generation: u64,
    /// The registered client id (set at CONNECT, or at restore).
    client_id: Option<String>,
    connection: Option<Connection>,
    /// Inbound publishes waiting for the broker's answer, in packet order.
    publishes: InboundPublishes,
    /// Packets were left in the input: a decode batch ended, or the receive maximum
    /// was reached.
    input_held: bool,
    peer: Option<Peer>,
    persist: Persist,
    /// The session's next deadline (keep alive, will delay, expiry) or state flush; kept
    /// across wake-ups so the timer is not registered again for every packet.
    timer: Option<Pin<Box<Sleep>>>,
    last_drops: DropCounters,
    /// `(source, id)` of events this session published, for No Local.
    own_events: VecDeque<(String, String)>,
    /// The `source` of this client's plain messages, made at its first publish and
    /// kept (boxed: one pointer for the connections that never publish).
    plain_source: Option<Box<crate::mapping::PlainSource>>,
    /// Share groups this session is a connected member of.
    joined: Vec<String>,
    was_connected: bool,
    run_state: watch::Receiver<RunState>,
    exit: bool,
}

/// Starts the task of a new TCP connection.
pub(crate) fn spawn_connection(context: MqttContext, socket: TcpStream, peer: SocketAddr) {
    spawn_on(context, Transport::Tcp(socket), Peer::Tcp(peer));
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
    task.connection = Some(Connection::new(transport));
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

/// Waits for the timer; pending forever without one.
async fn timer_fired(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Reads more bytes; pending forever without a connection.
async fn read_some(connection: &mut Option<Connection>) -> io::Result<usize> {
    match connection {
        Some(connection) => connection.read_some().await,
        None => std::future::pending().await,
    }
}

impl SessionTask {
    fn new(context: MqttContext, session: Session) -> Self {
        let (control_tx, control_rx) = control_channel();
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
            publishes: InboundPublishes::default(),
            input_held: false,
            peer: None,
            persist: Persist::default(),
            timer: None,
            last_drops: DropCounters::default(),
            own_events: VecDeque::new(),
            plain_source: None,
            joined: Vec::new(),
            was_connected: false,
            run_state,
            exit: false,
        }
    }

    /// Makes this task the owner of `client_id`; returns the previous owner.
    fn claim(&mut self, client_id: &str) -> Option<ControlSender> {
        self.client_id = Some(client_id.to_owned());
        self.context
            .inner
            .registry
            .claim(client_id, self.generation, self.control_tx.clone())
    }

    fn should_exit(&self) -> bool {
        self.exit || (self.session.is_ended() && self.connection.is_none())
    }

    /// The task's life. Not an `async fn`: an async fn keeps a second copy of its
    /// by-value arguments in its state (rust-lang/rust#62958), and `self` is most of it.
    #[allow(clippy::manual_async_fn)] // see above: the async block keeps one copy
    fn run(mut self) -> impl std::future::Future<Output = ()> + Send {
        async move {
            // A task started after `serve` stopped or during `close` acts on it at once.
            self.run_state.mark_changed();
            loop {
                self.drain().await;
                if self.should_exit() {
                    break;
                }
                self.arm_timer();
                // A 3.1.1 client with more inbound publishes than the receive maximum
                // waiting for the broker is slowed down: no reading until the oldest
                // is answered. A 5.0 client was told the limit, so it is read on and
                // the session answers one publish too many with DISCONNECT 0x93.
                let reading = self.publishes.len() < self.inbound_publish_limit();
                if reading && self.input_held {
                    self.decode_input(SystemTime::now());
                    continue;
                }
                // About to wait: an idle connection keeps no output queue.
                self.session.release_idle_outputs();
                tokio::select! {
                    read = read_some(&mut self.connection), if reading => self.on_read(read),
                    // No room in the session's queue: leave deliveries with the broker.
                    received = self.subscriptions.next(), if self.session.has_queue_room() => {
                        self.on_received(received);
                    }
                    control = self.control_rx.recv() => Box::pin(self.on_control(control)).await,
                    answered = self.publishes.next_answer() => {
                        if answered.updates_retained() {
                            Box::pin(self.on_publish_answered(answered)).await;
                        } else {
                            self.complete_answered(answered);
                        }
                    }
                    () = timer_fired(&mut self.timer) => self.on_timer(),
                    written = state_written(self.persist.writing()) => self.on_state_written(written),
                    changed = self.run_state.changed() => match changed {
                        Ok(()) => self.on_run_state(),
                        Err(_) => self.exit = true,
                    },
                }
            }
            Box::pin(self.finish()).await;
        }
    }

    /// How many inbound publishes may wait for the broker before reading stops: the
    /// receive maximum for 3.1.1 clients (which were told no limit), none for 5.0
    /// clients (the session enforces the limit they were told).
    fn inbound_publish_limit(&self) -> usize {
        match self.session.version() {
            ProtocolVersion::V5 => usize::MAX,
            ProtocolVersion::V311 => {
                usize::from(self.context.inner.session_config.receive_maximum.max(1))
            }
        }
    }

    /// Whether the run loop decodes more input at once (without waiting): what the
    /// session answers to it can go out in the same write.
    fn decodes_more_now(&self) -> bool {
        self.input_held
            && self.publishes.len() < self.inbound_publish_limit()
            && self
                .connection
                .as_ref()
                .is_some_and(|connection| connection.reading)
    }

    /// Sets the timer to the earlier of the session's next deadline and the state
    /// flush; a timer that fires early is harmless (the session ticks, nothing is due).
    fn arm_timer(&mut self) {
        let deadline = self.session.next_deadline().map(to_instant);
        let flush_at = self
            .persist
            .dirty_since
            .map(|since| since + self.context.inner.config.session_flush_interval);
        let wanted = match (deadline, flush_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (wanted, &mut self.timer) {
            (None, _) => self.timer = None,
            (Some(at), Some(sleep)) => {
                if sleep.is_elapsed() || at < sleep.deadline() {
                    sleep.as_mut().reset(at);
                }
            }
            (Some(at), None) => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        self.session.tick(SystemTime::now());
        let flush_due = self
            .persist
            .dirty_since
            .is_some_and(|since| since + self.context.inner.config.session_flush_interval <= now);
        if flush_due {
            self.persist_behind();
        }
        // Re-armed (from the new deadlines) before the next wait.
        if self.timer.as_ref().is_some_and(|sleep| sleep.is_elapsed()) {
            self.timer = None;
        }
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
            Ok(_) => self.decode_input(now),
        }
    }

    /// Decodes the packets read so far and hands them to the session; stops early (the
    /// rest stays in the input) after [`DECODE_BATCH`] packets, so that their outputs
    /// are handled first, or once the receive maximum of inbound QoS 1/2 publishes
    /// wait for the broker, and goes on when one is answered.
    fn decode_input(&mut self, now: SystemTime) {
        let limit = self.inbound_publish_limit();
        let mut waiting = self.publishes.len();
        self.input_held = false;
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        let mut decoded = 0;
        if connection.input.len() > BATCH_INPUT {
            // Many packets: room for their outputs at once.
            self.session.reserve_outputs(DECODE_BATCH);
        }
        while connection.reading {
            if waiting >= limit || decoded == DECODE_BATCH {
                self.input_held = !connection.input.is_empty();
                break;
            }
            decoded += 1;
            let version = self.session.version();
            let max = self.session.max_inbound_packet_size();
            match codec::decode(&mut connection.input, version, max) {
                Ok(Some(packet)) => {
                    if matches!(&packet, codec::Packet::Publish(publish) if publish.packet_id.is_some())
                    {
                        waiting += 1;
                    }
                    self.session.handle_packet(now, packet);
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, peer = ?self.peer, client_id = %self.session.client_id(), "malformed mqtt packet");
                    connection.reading = false;
                    connection.input.clear();
                    self.session.handle_decode_error(now, &error);
                    break;
                }
            }
        }
        connection.release_input();
    }

    fn on_received(&mut self, first: Received) {
        let now = SystemTime::now();
        self.deliver(now, first);
        for delivered in 1..DELIVERY_BATCH {
            if !self.session.has_queue_room() {
                break;
            }
            match self.subscriptions.try_next() {
                Some(received) => {
                    if delivered == 1 {
                        // A batch: room for its outputs at once.
                        self.session.reserve_outputs(DELIVERY_BATCH);
                    }
                    self.deliver(now, received);
                }
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
        // A connected 3.1.1 client gets no properties: skip building them.
        let mode = if self.session.version() == ProtocolVersion::V311 && self.session.is_connected()
        {
            OutboundMode::Data
        } else {
            OutboundMode::Binary
        };
        let message = event_to_message(&event, mode);
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
                // Publishes already submitted are answered on this connection first.
                self.finish_publishes().await;
                // What the broker queued before the new CONNECT belongs to this session
                // as it is now (offline: QoS 0 dropped, QoS 1/2 queued), as far as its
                // queue has room; the rest stays with the broker subscription, which
                // moves to the new connection with the session.
                while self.session.has_queue_room()
                    && let Some(received) = self.subscriptions.try_next()
                {
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
                // The new owner writes the state from now on: no write of this task may
                // land after one of its.
                self.finish_state_write().await;
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
            // What the broker already queued for this session is kept (and stored),
            // past the queue's limit: the broker's queue is not stored.
            self.session.lift_queue_limit();
            while let Some(received) = self.subscriptions.try_next() {
                self.deliver(now, received);
            }
            self.exit = true;
        }
    }

    /// Drops the network connection (without flushing).
    fn close_connection(&mut self) {
        drop(self.take_connection());
    }

    /// Takes the network connection away from the session (counted as closed).
    fn take_connection(&mut self) -> Option<Connection> {
        let connection = self.connection.take();
        if connection.is_some() {
            self.context
                .inner
                .counters
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
        }
        connection
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
    /// members) and give what was queued for this member to another one (or hold it
    /// for the next).
    fn on_went_offline(&mut self) {
        let inner = Arc::clone(&self.context.inner);
        for key in std::mem::take(&mut self.joined) {
            inner.shares.leave(&key, self.generation);
        }
        for (filter, key, pending) in self.subscriptions.drop_shared() {
            for event in pending {
                let message = event_to_message(&event, OutboundMode::Binary);
                self.hand_over_shared(&key, &filter, message);
            }
        }
        self.persist.urgent = true;
    }

    async fn finish(mut self) {
        self.finish_publishes().await;
        if self.persist.pending() {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
