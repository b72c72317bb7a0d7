//! The persistent part of a session: what must survive a disconnect and a node restart.
//!
//! [`SessionState`] is plain data with serde derives; the I/O layer stores it (for
//! example as JSON) whenever the session reports
//! [`Output::SessionStateChanged`](super::Output::SessionStateChanged) and hands it back
//! to [`Session::restore`](super::Session::restore) after a restart.
//!
//! # The offline queue
//!
//! Messages for QoS 1 and 2 subscriptions that cannot be sent yet (the client is offline,
//! or its Receive Maximum is reached) wait in [`SessionState::queue`], at most
//! `SessionConfig::offline_queue_limit` of them. When the queue is full the
//! [`OverflowPolicy`] decides: by default the **oldest** message is dropped
//! ([`OverflowPolicy::DropOldest`]), because a device coming back online usually cares
//! more about the latest commands and readings; `DropNewest` refuses the new message
//! instead. Either way the drop is counted in [`DropCounters::queue_overflow`], which the
//! I/O layer exports as a metric. QoS 0 messages are never queued: they are sent when the
//! client is connected and can take them, and dropped otherwise
//! ([`DropCounters::qos0_not_sendable`]); MQTT 5.0 section 4.6 allows this.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weft_core::Topic;

use crate::codec::{QoS, SubscriptionOptions};

/// An application message as the session handles it, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The topic (an MQTT topic name that weft can represent).
    #[serde(with = "topic_serde")]
    pub topic: Topic,
    /// The payload, shared and never copied per subscriber.
    #[serde(with = "bytes_serde")]
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The RETAIN flag it was published with.
    pub retain: bool,
    /// The MQTT 5.0 application message properties.
    pub properties: MessageProperties,
}

/// The PUBLISH properties that belong to the application message and are forwarded to
/// subscribers (MQTT 5.0 section 3.3.2.3). Topic aliases and subscription identifiers
/// are per connection and not part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageProperties {
    /// Payload Format Indicator: `true` when the payload is UTF-8 text.
    pub payload_is_utf8: bool,
    /// When the message expires: the receive time plus its Message Expiry Interval. The
    /// interval forwarded to each subscriber is what is left of it (MQTT-3.3.2-6).
    pub expires_at: Option<SystemTime>,
    /// Content Type.
    pub content_type: Option<String>,
    /// Response Topic.
    pub response_topic: Option<String>,
    /// Correlation Data.
    #[serde(with = "option_bytes_serde")]
    pub correlation_data: Option<Bytes>,
    /// User Properties, in order (MQTT-3.3.2-18 requires the order to be kept).
    pub user_properties: Vec<(String, String)>,
}

impl Message {
    /// A QoS 0 message without properties.
    pub fn new(topic: Topic, payload: impl Into<Bytes>) -> Self {
        Self {
            topic,
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: MessageProperties::default(),
        }
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.properties
            .expires_at
            .is_some_and(|expires_at| expires_at <= now)
    }
}

/// A subscription as stored in the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSubscription {
    /// The options granted (the QoS is the granted maximum).
    pub options: SubscriptionOptions,
    /// Its Subscription Identifier (5.0).
    pub identifier: Option<u32>,
}

/// A message on its way to the client, as it will be sent (QoS and RETAIN already
/// decided for this subscriber).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The message, with `qos` and `retain` as they will be sent.
    pub message: Message,
    /// The Subscription Identifiers of the matching subscriptions.
    pub subscription_identifiers: Vec<u32>,
    /// The shared subscription (filter as the client wrote it) the broker picked this
    /// session for, if any: such messages can go to another member when this one
    /// disconnects (MQTT 5.0 section 4.8.2).
    #[serde(default)]
    pub shared: Option<String>,
}

/// Where an outbound QoS 1 or 2 message is in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InflightPhase {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    AwaitingPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}

/// An outbound message that has a packet identifier and is not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InflightMessage {
    /// Its Packet Identifier.
    pub packet_id: u16,
    /// Its handshake phase.
    pub phase: InflightPhase,
    /// The message, for resending (with DUP) after a reconnect.
    pub outbound: OutboundMessage,
}

/// What happens when the offline queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowPolicy {
    /// Drop the oldest queued message to make room (the default).
    #[default]
    DropOldest,
    /// Drop the message that does not fit.
    DropNewest,
}

/// Messages the session did not deliver, by cause. Exported as metrics by the I/O layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCounters {
    /// Dropped because the offline queue was full.
    pub queue_overflow: u64,
    /// Dropped because they were bigger than the client's Maximum Packet Size.
    pub too_large: u64,
    /// Dropped because their Message Expiry Interval passed before they were sent.
    pub expired: u64,
    /// QoS 0 messages dropped because the client was offline or not able to take them.
    pub qos0_not_sendable: u64,
}

/// A Will Message waiting for its Will Delay Interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingWill {
    /// The will, as it will be published.
    pub message: Message,
    /// When to publish it.
    pub due: SystemTime,
    /// The will's Message Expiry Interval, which starts when it is published.
    pub expiry_interval: Option<u32>,
}

/// The persistent part of a session (MQTT 5.0 section 4.1): what the server keeps while
/// the client is away and what must survive a node restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// The Client Identifier.
    pub client_id: String,
    /// The subscriptions, by topic filter as the client wrote it (`$share/…` included).
    pub subscriptions: BTreeMap<String, StoredSubscription>,
    /// Outbound QoS 1 and 2 messages in flight, in the order they were first sent.
    pub inflight: Vec<InflightMessage>,
    /// Outbound QoS 1 and 2 messages not yet sent, oldest first.
    pub queue: VecDeque<OutboundMessage>,
    /// Inbound QoS 2 packet identifiers that were published to the broker and whose
    /// PUBREL has not arrived (method B of MQTT 5.0 figure 4.3: a PUBLISH with one of
    /// these ids is a duplicate and is not published again).
    pub awaiting_pubrel: BTreeSet<u16>,
    /// The Session Expiry Interval in seconds (`u32::MAX`: never).
    pub session_expiry_interval: u32,
    /// When the client disconnected; `None` while connected.
    pub disconnected_at: Option<SystemTime>,
    /// A will waiting for its delay.
    pub pending_will: Option<Box<PendingWill>>,
    /// Messages not delivered, by cause.
    pub drops: DropCounters,
    /// The next outbound Packet Identifier to try.
    pub next_packet_id: u16,
}

impl SessionState {
    /// A fresh session for `client_id`.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            subscriptions: BTreeMap::new(),
            inflight: Vec::new(),
            queue: VecDeque::new(),
            awaiting_pubrel: BTreeSet::new(),
            session_expiry_interval: 0,
            disconnected_at: None,
            pending_will: None,
            drops: DropCounters::default(),
            next_packet_id: 1,
        }
    }

    /// When the session expires, if it is offline and its expiry is finite.
    pub fn expires_at(&self) -> Option<SystemTime> {
        if self.session_expiry_interval == u32::MAX {
            return None;
        }
        let disconnected_at = self.disconnected_at?;
        Some(
            disconnected_at
                + std::time::Duration::from_secs(u64::from(self.session_expiry_interval)),
        )
    }

    /// Serialises it as JSON (bytes as arrays of numbers).
    ///
    /// # Errors
    /// A `serde_json` error (practically impossible: every field serialises).
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Reads state written by [`SessionState::to_json`].
    ///
    /// # Errors
    /// A `serde_json` error when the bytes are not a valid state.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

mod topic_serde {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use weft_core::Topic;

    pub(super) fn serialize<S: Serializer>(
        topic: &Topic,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(topic.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Topic, D::Error> {
        let text = String::deserialize(deserializer)?;
        Topic::new(text).map_err(D::Error::custom)
    }
}

mod bytes_serde {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        bytes: &Bytes,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Bytes, D::Error> {
        Vec::<u8>::deserialize(deserializer).map(Bytes::from)
    }
}

mod option_bytes_serde {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        bytes: &Option<Bytes>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&bytes[..]),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Bytes>, D::Error> {
        Option::<Vec<u8>>::deserialize(deserializer).map(|bytes| bytes.map(Bytes::from))
    }
}
