//! The MQTT session state machine: one [`Session`] per client, no I/O, no clock reads.
//!
//! # Driving it
//!
//! The I/O layer feeds it with [`Session::handle_packet`] (decoded packets),
//! [`Session::handle_decode_error`], [`Session::handle_delivery`] (messages from the
//! broker), [`Session::publish_completed`] (the broker's answer to a QoS 1/2 publish),
//! [`Session::connection_lost`] and [`Session::tick`], and after each call drains
//! [`Session::poll_output`] in order. Every call takes `now`.
//!
//! # Life cycle
//!
//! 1. A new connection gets `Session::new`. Its CONNECT is validated (CONNACK errors
//!    are sent by the session itself) and produces [`Output::ConnectRequest`]. The I/O
//!    layer authenticates, and if a session with that client id exists it calls
//!    [`Session::take_over`] on it (the old connection gets DISCONNECT 0x8E on 5.0) to
//!    obtain its [`SessionState`], then [`Session::accept`] (or [`Session::reject`]) on
//!    the new one.
//! 2. While connected, packets flow both ways.
//! 3. When the network connection ends, the session goes offline: QoS 1/2 messages are
//!    queued, the will waits for its delay, and [`Output::SessionEnded`] is reported when
//!    the session expires.
//!
//! # Decisions (with the specification sections they rest on)
//!
//! - **Inbound QoS 2 uses method B** (MQTT 5.0 section 4.3.3, figure 4.3): the message is
//!   published to the broker when the PUBLISH arrives, its packet id is remembered until
//!   PUBREL, and a PUBLISH with a remembered id is a duplicate that is not published
//!   again. Nothing but the id is stored, and subscribers see the message one round trip
//!   earlier. PUBACK/PUBREC are sent only once the broker has accepted the message
//!   ([`Session::publish_completed`]), so an acknowledgement means "in weft".
//! - **Overlapping subscriptions** are delivered **once**, at the highest QoS of the
//!   matching subscriptions, with the Subscription Identifiers of all of them (MQTT 5.0
//!   section 3.3.4, MQTT-3.3.4-2 and MQTT-3.3.4-4; MQTT 3.1.1 section 3.3.5 allows the
//!   same). The RETAIN flag is kept when any matching subscription has Retain As
//!   Published. Subscriptions with No Local are left out of the match when the
//!   publisher is this client (MQTT-3.8.3-3). Shared subscriptions never take part in
//!   this: the broker picks one member and names the subscription in the delivery.
//!   When a member's connection drops, its queued shared messages and QoS 1 shared
//!   messages in flight go back to the broker for another member
//!   ([`Output::SharedRedeliver`]); QoS 2 ones in flight stay (MQTT-4.8.2-4/-5).
//! - **`$` topics**: matching uses `weft_core::Filter::matches` on the filters
//!   produced by `weft_topic::mqtt`, so a leading wildcard never matches a `$` topic
//!   (MQTT-4.7.2-1); the session adds no matching rules of its own.
//! - **Keep alive**: the connection is closed when no packet arrives for one and a half
//!   times the Keep Alive (MQTT-3.1.2-22/24). On 5.0, a client that asks for no keep
//!   alive (0) or for more than `SessionConfig::max_keep_alive` gets the maximum as
//!   Server Keep Alive in CONNACK (MQTT-3.2.2-21), and that is what is enforced. A
//!   3.1.1 client cannot be told another value, so its own is enforced (0: none).
//! - **Outbound packets over the client's Maximum Packet Size** are dropped and counted,
//!   as if delivered (MQTT-3.1.2-25).

mod aliases;
mod connect;
mod inbound;
mod outbound;
pub mod state;
mod subscriptions;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use weft_core::Filter;

use crate::sorted_map::SortedMap;

use crate::codec::{
    DecodeError, Disconnect, Packet, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions,
};

pub use state::{
    DropCounters, InflightMessage, InflightPhase, Message, MessageProperties, OutboundMessage,
    OverflowPolicy, PendingWill, SessionState, StoredSubscription,
};
pub use subscriptions::{FilterError, ParsedFilter, parse_filter};

use aliases::{InboundAliases, OutboundAliases};

/// How many packets sent between CONNECT and its acceptance are kept.
const MAX_DEFERRED_PACKETS: usize = 32;

/// How many outputs an idle session keeps room for: none. An `Output` is about 400
/// bytes and the smallest queue holds four, which would be most of an idle
/// connection's memory; [`Session::release_idle_outputs`] frees an empty queue (the I/O
/// layer calls it before it waits, so a busy connection keeps its room for the whole
/// wake-up instead of growing it again from nothing for every few packets).
const IDLE_OUTPUT_CAPACITY: usize = 0;

/// [`SessionConfig::max_keep_alive`] by default: five minutes, so a silent client is
/// noticed within seven and a half.
pub const DEFAULT_MAX_KEEP_ALIVE: u16 = 300;

/// The server's limits and features, the same for every session of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The largest packet the server accepts (announced as Maximum Packet Size).
    pub max_packet_size: u32,
    /// How many inbound QoS 1/2 publishes may be unacknowledged (Receive Maximum).
    pub receive_maximum: u16,
    /// How many inbound topic aliases a client may use (Topic Alias Maximum).
    pub topic_alias_maximum: u16,
    /// The longest Session Expiry Interval granted, in seconds (also caps 3.1.1
    /// persistent sessions, which otherwise never expire).
    pub max_session_expiry: u32,
    /// The longest Keep Alive granted to a 5.0 client, in seconds, and the one given
    /// to a 5.0 client that asks for none; 0: no maximum. Sent as Server Keep Alive.
    pub max_keep_alive: u16,
    /// The highest QoS granted to subscriptions and accepted in PUBLISH.
    pub maximum_qos: QoS,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// Whether wildcard subscriptions are supported.
    pub wildcard_subscription_available: bool,
    /// Whether subscription identifiers are supported.
    pub subscription_identifier_available: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscription_available: bool,
    /// How many outbound QoS 1/2 messages may be in flight to a 3.1.1 client, which
    /// has no Receive Maximum of its own.
    pub v3_inflight_limit: u16,
    /// How many undelivered QoS 1/2 messages a session keeps.
    pub offline_queue_limit: usize,
    /// What to drop when the queue is full.
    pub overflow_policy: OverflowPolicy,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// The prefix of server-assigned client identifiers.
    pub assigned_client_id_prefix: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_packet_size: 1024 * 1024,
            receive_maximum: 100,
            topic_alias_maximum: 64,
            max_session_expiry: 7 * 24 * 3600,
            max_keep_alive: DEFAULT_MAX_KEEP_ALIVE,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifier_available: true,
            shared_subscription_available: true,
            v3_inflight_limit: 32,
            offline_queue_limit: 1000,
            overflow_policy: OverflowPolicy::DropOldest,
            connect_timeout: Duration::from_secs(10),
            assigned_client_id_prefix: "weft-".to_owned(),
        }
    }
}

/// Decides whether a client may subscribe to a filter (`true`: allowed). A refused
/// filter gets SUBACK 0x87 Not authorized (0x80 Failure on 3.1.1).
pub type SubscribePolicy = Arc<dyn Fn(&str, &ParsedFilter) -> bool + Send + Sync>;

/// What the I/O layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this packet to the client.
    Send(Packet),
    /// A valid CONNECT: authenticate, take over any existing session of this client id,
    /// then call [`Session::accept`] or [`Session::reject`].
    ConnectRequest(ConnectRequest),
    /// Publish this message to the broker (and update the retained store when
    /// `message.retain` is set). When `ack` is set, call [`Session::publish_completed`]
    /// with it once the broker has accepted or refused the message.
    Publish {
        /// The message.
        message: Message,
        /// The inbound packet id to acknowledge (QoS 1 and 2).
        ack: Option<u16>,
    },
    /// Add a subscription in the broker (or replace its options). When `send_retained`
    /// is set, deliver the matching retained messages with
    /// [`DeliveryTarget::Subscription`] and `retained: true`.
    Subscribe {
        /// The filter.
        filter: ParsedFilter,
        /// The granted options.
        options: SubscriptionOptions,
        /// The Subscription Identifier.
        identifier: Option<u32>,
        /// Whether retained messages must be sent for it now.
        send_retained: bool,
    },
    /// Remove a subscription from the broker.
    Unsubscribe {
        /// The filter.
        filter: ParsedFilter,
    },
    /// Publish the client's Will Message to the broker.
    WillPublish(Message),
    /// A message for a shared subscription that this session can no longer deliver
    /// (its client disconnected): give it to another member of the share group.
    SharedRedeliver {
        /// The shared subscription's filter, as the client wrote it.
        filter: String,
        /// The message as it was to be sent (QoS already capped for this member).
        message: Message,
    },
    /// The persistent state changed; store [`Session::state`] when convenient.
    SessionStateChanged,
    /// The session is over (expired, or replaced by a clean start): forget its state and
    /// remove all its broker subscriptions.
    SessionEnded,
    /// Close the network connection (after sending the packets before this output).
    Disconnect {
        /// Why.
        reason: ReasonCode,
    },
}

/// A CONNECT that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The client identifier (server-assigned when `assigned`).
    pub client_id: String,
    /// Whether the server assigned the client identifier.
    pub assigned: bool,
    /// Clean Start: when set, any existing session is discarded.
    pub clean_start: bool,
    /// The protocol version.
    pub version: ProtocolVersion,
    /// The User Name.
    pub username: Option<String>,
    /// The Password.
    pub password: Option<bytes::Bytes>,
}

/// The broker's answer to a QoS 1/2 publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Accepted; `matched` tells whether any subscriber or stream wanted it (5.0 sends
    /// 0x10 No matching subscribers otherwise).
    Accepted {
        /// Whether anyone matched.
        matched: bool,
    },
    /// Refused with this reason code (0x87 Not authorized, 0x97 Quota exceeded, ...).
    Refused(ReasonCode),
}

/// A message from the broker for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message as published (its QoS and RETAIN as the publisher sent them).
    pub message: Message,
    /// The client id of the publisher when it is an MQTT client, for No Local.
    pub publisher: Option<String>,
    /// Which of the session's subscriptions the message is for.
    pub target: DeliveryTarget,
}

/// Which subscriptions a [`Delivery`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    /// Every non-shared subscription of the session whose filter matches the topic
    /// (the session computes the match).
    Matching,
    /// One subscription, named by its filter as the client wrote it: a shared
    /// subscription the broker picked this session for, or a retained message sent
    /// because of a SUBSCRIBE (`retained: true`, which sets RETAIN on the wire,
    /// MQTT-3.3.1-9).
    Subscription {
        /// The filter.
        filter: String,
        /// Whether this is a retained message sent at subscribe time.
        retained: bool,
    },
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for CONNECT since this time.
    AwaitingConnect { since: SystemTime },
    /// CONNECT validated, waiting for [`Session::accept`] / [`Session::reject`].
    AwaitingDecision,
    /// Connected.
    Connected,
    /// The network connection is gone; the session lives on until it expires.
    Offline,
    /// The session is over; only outputs remain.
    Ended,
}

/// What one connection negotiated; gone when the connection is.
#[derive(Debug)]
struct Connection {
    keep_alive: u16,
    last_packet_at: SystemTime,
    client_receive_maximum: u16,
    client_max_packet_size: Option<u32>,
    request_problem_information: bool,
    inbound_aliases: InboundAliases,
    outbound_aliases: OutboundAliases,
    /// Inbound QoS 1/2 packet ids published to the broker and not yet acknowledged.
    inbound_pending: BTreeMap<u16, QoS>,
    /// PUBACKs, PUBCOMPs and error PUBRECs sent but not yet written to the socket
    /// ([`Session::output_written`]). They still count against the Receive Maximum: a
    /// client cannot have received them, so a publish beyond them is one too many.
    unwritten_acks: usize,
    /// Boxed: most connections have none.
    will: Option<Box<connect::WillSpec>>,
    /// The topic of the last inbound PUBLISH, translated and checked: a publisher
    /// usually repeats its topics, and a repeat is then one copy, not a new check.
    last_inbound_topic: Option<weft_core::Topic>,
}

/// A parsed subscription kept next to its stored form.
#[derive(Debug, Clone)]
struct ActiveSubscription {
    parsed: ParsedFilter,
}

/// One client's MQTT session. See the [module docs](self).
pub struct Session {
    /// Shared by every session of a listener.
    config: Arc<SessionConfig>,
    policy: SubscribePolicy,
    phase: Phase,
    version: ProtocolVersion,
    state: SessionState,
    /// A sorted vector, not a `BTreeMap`: most sessions have one subscription.
    active: SortedMap<ActiveSubscription>,
    connection: Option<Connection>,
    /// Boxed: only between CONNECT and the decision.
    pending_connect: Option<Box<connect::PendingConnect>>,
    /// Packets that arrived after CONNECT, before [`Session::accept`].
    deferred: Vec<Packet>,
    outputs: VecDeque<Output>,
    /// Set by [`Session::lift_queue_limit`] when the node closes.
    queue_limit_lifted: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("client_id", &self.state.client_id)
            .field("phase", &self.phase)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for a new network connection, waiting for CONNECT. The configuration
    /// is shared (pass an `Arc` to avoid a copy per connection).
    pub fn new(config: impl Into<Arc<SessionConfig>>, now: SystemTime) -> Self {
        Self {
            config: config.into(),
            policy: Arc::new(|_, _| true),
            phase: Phase::AwaitingConnect { since: now },
            version: ProtocolVersion::V5,
            state: SessionState::new(""),
            active: SortedMap::new(),
            connection: None,
            pending_connect: None,
            deferred: Vec::new(),
            outputs: VecDeque::new(),
            queue_limit_lifted: false,
        }
    }

    /// An offline session restored from stored state (after a node restart). Its
    /// subscriptions are reported again as [`Output::Subscribe`] (without retained
    /// messages) so the I/O layer can register them with the broker.
    pub fn restore(
        config: impl Into<Arc<SessionConfig>>,
        state: SessionState,
        now: SystemTime,
    ) -> Self {
        let mut session = Self::new(config, now);
        session.phase = Phase::Offline;
        session.install_state(state);
        if session.state.disconnected_at.is_none() {
            session.state.disconnected_at = Some(now);
        }
        for (filter, subscription) in &session.state.subscriptions {
            if let Some(active) = session.active.get(filter) {
                session.outputs.push_back(Output::Subscribe {
                    filter: active.parsed.clone(),
                    options: subscription.options,
                    identifier: subscription.identifier,
                    send_retained: false,
                });
            }
        }
        session
    }

    /// Replaces the policy that decides which filters this client may subscribe to.
    pub fn set_subscribe_policy(&mut self, policy: SubscribePolicy) {
        self.policy = policy;
    }

    /// The protocol version (known once CONNECT has arrived; 5.0 before that).
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The client identifier (empty before CONNECT).
    pub fn client_id(&self) -> &str {
        &self.state.client_id
    }

    /// Whether a client is connected.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the session is over.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// The persistent state, for storage.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The largest packet this session accepts from its client: give it to
    /// [`crate::codec::decode`].
    pub fn max_inbound_packet_size(&self) -> usize {
        self.config.max_packet_size as usize
    }

    /// Releases buffers kept from a burst of activity; call it when the connection has
    /// been idle for a while, to keep idle connections small.
    pub fn shrink_to_fit(&mut self) {
        self.outputs.shrink_to_fit();
        self.deferred.shrink_to_fit();
        self.state.inflight.shrink_to_fit();
        self.state.queue.shrink_to_fit();
    }

    /// The next thing the I/O layer must do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Makes room for `additional` more outputs at once, before a batch (of decoded
    /// packets or deliveries) that would otherwise grow the queue from nothing, copying
    /// its large entries at every doubling.
    pub fn reserve_outputs(&mut self, additional: usize) {
        self.outputs.reserve(additional);
    }

    /// Whether the session's queue has room for another message: the I/O layer takes
    /// no delivery from the broker while it has none (the broker then holds them, and
    /// refuses new publishes once its queue is full too), so nothing that was
    /// acknowledged to its publisher is dropped here.
    pub fn has_queue_room(&self) -> bool {
        self.queue_limit_lifted || self.state.queue.len() < self.config.offline_queue_limit
    }

    /// The node is closing: what the broker still holds for this session goes into its
    /// queue past the limit, so that it is stored with the session.
    pub fn lift_queue_limit(&mut self) {
        self.queue_limit_lifted = true;
    }

    /// The I/O layer wrote every packet sent so far to the socket: the
    /// acknowledgements among them stop counting against the Receive Maximum (MQTT
    /// 3.3.4: a client may send a new QoS 1/2 PUBLISH once it has received one).
    pub fn output_written(&mut self) {
        if let Some(connection) = &mut self.connection {
            connection.unwritten_acks = 0;
        }
    }

    /// Frees the output queue's room when it is empty. Outputs are large: an idle
    /// connection should not keep a burst's buffer. Call it when the connection is about
    /// to wait for something to happen (calling it more often only costs reallocations).
    pub fn release_idle_outputs(&mut self) {
        if self.outputs.is_empty() && self.outputs.capacity() > IDLE_OUTPUT_CAPACITY {
            self.outputs.shrink_to(IDLE_OUTPUT_CAPACITY);
        }
    }

    /// Handles a packet from the client.
    pub fn handle_packet(&mut self, now: SystemTime, packet: Packet) {
        match self.phase {
            Phase::AwaitingConnect { .. } => match packet {
                Packet::Connect(connect) => self.handle_connect(now, *connect),
                // MQTT-3.1.0-1: the first packet must be CONNECT; close without a reply.
                _ => self.close(now, ReasonCode::ProtocolError),
            },
            // Clients may send packets right after CONNECT, before CONNACK (MQTT 5.0
            // section 3.1.4): keep a few until the connection is accepted.
            Phase::AwaitingDecision => {
                if matches!(packet, Packet::Connect(_))
                    || self.deferred.len() >= MAX_DEFERRED_PACKETS
                {
                    self.close(now, ReasonCode::ProtocolError);
                } else {
                    self.deferred.push(packet);
                }
            }
            Phase::Connected => {
                if let Some(connection) = &mut self.connection {
                    connection.last_packet_at = now;
                }
                self.handle_connected_packet(now, packet);
            }
            Phase::Offline | Phase::Ended => {}
        }
    }

    fn handle_connected_packet(&mut self, now: SystemTime, packet: Packet) {
        match packet {
            Packet::Publish(publish) => self.handle_publish(now, publish),
            Packet::PubAck(response) => self.handle_puback(now, response),
            Packet::PubRec(response) => self.handle_pubrec(now, response),
            Packet::PubRel(response) => self.handle_pubrel(now, response),
            Packet::PubComp(response) => self.handle_pubcomp(now, response),
            Packet::Subscribe(subscribe) => self.handle_subscribe(now, subscribe),
            Packet::Unsubscribe(unsubscribe) => self.handle_unsubscribe(unsubscribe),
            Packet::PingReq => self.send(Packet::PingResp),
            Packet::Disconnect(disconnect) => self.handle_disconnect(now, disconnect),
            // Enhanced authentication is not supported, so CONNECT never started it.
            Packet::Auth(_) => self.protocol_violation(
                now,
                ReasonCode::BadAuthenticationMethod,
                "enhanced authentication is not supported",
            ),
            // A second CONNECT (MQTT-3.1.0-2) or a packet only servers send.
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => self.protocol_violation(
                now,
                ReasonCode::ProtocolError,
                "unexpected packet from a client",
            ),
        }
    }

    /// Handles bytes that did not decode: on 5.0 the client gets a DISCONNECT (or, for
    /// a refused CONNECT, a CONNACK) with the error's reason code, then the connection
    /// is closed.
    pub fn handle_decode_error(&mut self, now: SystemTime, error: &DecodeError) {
        tracing::debug!(%error, client_id = %self.state.client_id, "mqtt decode error");
        match self.phase {
            Phase::AwaitingConnect { .. } => {
                if let DecodeError::UnsupportedProtocol { level, .. } = error {
                    // MQTT 3.1.1 MQTT-3.1.2-2: return code 0x01; 5.0: reason code 0x84.
                    let version = if *level >= 5 {
                        ProtocolVersion::V5
                    } else {
                        ProtocolVersion::V311
                    };
                    self.version = version;
                    self.send(Packet::ConnAck(crate::codec::ConnAck::new(
                        false,
                        ReasonCode::UnsupportedProtocolVersion,
                    )));
                }
                self.close(now, error.reason_code());
            }
            Phase::Connected => {
                self.protocol_violation(now, error.reason_code(), &error.to_string())
            }
            _ => self.close(now, error.reason_code()),
        }
    }

    /// The network connection ended without a DISCONNECT from the client (or after
    /// one: then this is a no-op). The will is scheduled and the session goes offline.
    pub fn connection_lost(&mut self, now: SystemTime) {
        match self.phase {
            Phase::Connected => self.go_offline(now, true),
            Phase::AwaitingConnect { .. } | Phase::AwaitingDecision => {
                self.phase = Phase::Ended;
            }
            Phase::Offline | Phase::Ended => {}
        }
    }

    /// Advances timers: keep alive, the CONNECT timeout, will delay, session expiry and
    /// message expiry of queued messages.
    pub fn tick(&mut self, now: SystemTime) {
        match self.phase {
            Phase::AwaitingConnect { since } => {
                if now.duration_since(since).unwrap_or_default() >= self.config.connect_timeout {
                    self.close(now, ReasonCode::MaximumConnectTime);
                }
            }
            Phase::Connected => {
                if let Some(connection) = &self.connection
                    && connection.keep_alive > 0
                {
                    let limit = Duration::from_millis(u64::from(connection.keep_alive) * 1500);
                    let idle = now
                        .duration_since(connection.last_packet_at)
                        .unwrap_or_default();
                    if idle >= limit {
                        self.protocol_violation(
                            now,
                            ReasonCode::KeepAliveTimeout,
                            "keep alive timeout",
                        );
                        return;
                    }
                }
                self.expire_queued(now);
            }
            Phase::Offline => {
                self.fire_due_will(now);
                if self.state.expires_at().is_some_and(|at| at <= now) {
                    self.end_session(now);
                    return;
                }
                self.expire_queued(now);
            }
            Phase::AwaitingDecision | Phase::Ended => {}
        }
    }

    /// When the next timer is due (keep alive, will delay, session expiry), so the I/O
    /// layer can sleep until then. Message expiry is checked on each tick and send.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        match self.phase {
            Phase::AwaitingConnect { since } => Some(since + self.config.connect_timeout),
            Phase::Connected => self.connection.as_ref().and_then(|connection| {
                (connection.keep_alive > 0).then(|| {
                    connection.last_packet_at
                        + Duration::from_millis(u64::from(connection.keep_alive) * 1500)
                })
            }),
            Phase::Offline => {
                let will = self.state.pending_will.as_ref().map(|will| will.due);
                match (will, self.state.expires_at()) {
                    (Some(will), Some(expiry)) => Some(will.min(expiry)),
                    (will, expiry) => will.or(expiry),
                }
            }
            Phase::AwaitingDecision | Phase::Ended => None,
        }
    }

    fn send(&mut self, packet: Packet) {
        self.outputs.push_back(Output::Send(packet));
    }

    fn state_changed(&mut self) {
        if self.outputs.back() != Some(&Output::SessionStateChanged) {
            self.outputs.push_back(Output::SessionStateChanged);
        }
    }

    /// A protocol violation (or a keep alive timeout) by a connected client: DISCONNECT
    /// with `code` on 5.0, then close; the will is published.
    fn protocol_violation(&mut self, now: SystemTime, code: ReasonCode, reason: &str) {
        if self.version == ProtocolVersion::V5 {
            let mut disconnect = Disconnect::new(code);
            if self
                .connection
                .as_ref()
                .is_none_or(|connection| connection.request_problem_information)
            {
                disconnect.properties.reason_string = Some(reason.to_owned());
            }
            self.send(Packet::Disconnect(disconnect));
        }
        self.close(now, code);
    }

    /// Closes the network connection; a connected session goes offline with its will.
    fn close(&mut self, now: SystemTime, reason: ReasonCode) {
        self.outputs.push_back(Output::Disconnect { reason });
        match self.phase {
            Phase::Connected => self.go_offline(now, true),
            Phase::AwaitingConnect { .. } | Phase::AwaitingDecision => self.phase = Phase::Ended,
            Phase::Offline | Phase::Ended => {}
        }
    }

    /// Server-initiated disconnect of a connected client with a reason code (for
    /// example 0x8B Server shutting down or 0x98 Administrative action).
    pub fn disconnect(&mut self, now: SystemTime, code: ReasonCode, reason: Option<&str>) {
        if self.phase != Phase::Connected {
            return;
        }
        if self.version == ProtocolVersion::V5 {
            let mut disconnect = Disconnect::new(code);
            disconnect.properties.reason_string = reason.map(str::to_owned);
            self.send(Packet::Disconnect(disconnect));
        }
        self.close(now, code);
    }

    fn install_state(&mut self, state: SessionState) {
        self.active.clear();
        for filter in state.subscriptions.keys() {
            match parse_filter(filter) {
                Ok(parsed) => {
                    self.active
                        .insert(filter.clone(), ActiveSubscription { parsed });
                }
                Err(error) => {
                    tracing::warn!(%error, filter = %filter, "dropping unparsable stored subscription");
                }
            }
        }
        self.state = state;
        let active = &self.active;
        self.state
            .subscriptions
            .retain(|filter, _| active.contains_key(filter));
    }

    /// The subscriptions whose filters match `topic`, ignoring shared ones (an iterator:
    /// nothing is collected per delivery).
    fn matching_filters<'a>(
        &'a self,
        topic: &'a weft_core::Topic,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.active
            .iter()
            .filter(|(_, active)| active.parsed.share_group.is_none())
            .filter(|(_, active)| {
                active
                    .parsed
                    .weft_filters
                    .iter()
                    // Equal text is a literal filter naming the topic (topics have no
                    // wildcard levels): the common case, decided without splitting.
                    .any(|filter: &Filter| {
                        filter.as_str() == topic.as_str() || filter.matches(topic)
                    })
            })
            .map(|(filter, _)| filter.as_str())
    }
}

#[cfg(test)]
mod tests;
