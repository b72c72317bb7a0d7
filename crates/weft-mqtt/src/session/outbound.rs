//! Messages to the client: matching, QoS 0/1/2 handshakes, flow control (the client's
//! Receive Maximum), the offline queue, Maximum Packet Size, message expiry and outbound
//! topic aliases.

use std::time::SystemTime;

use super::aliases::OutboundTopic;
use super::state::{InflightMessage, InflightPhase, OutboundMessage, OverflowPolicy};
use super::{Delivery, DeliveryTarget, Output, Phase, Session};
use crate::codec::{Packet, Properties, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode};

impl Session {
    /// A message from the broker for this session: decides the QoS, RETAIN flag and
    /// Subscription Identifiers (see the [module docs](super)), then sends it, queues
    /// it, or drops it (QoS 0 while offline, expired, queue overflow).
    pub fn handle_delivery(&mut self, now: SystemTime, delivery: Delivery) {
        if !matches!(self.phase, Phase::Connected | Phase::Offline) {
            return;
        }
        let Some(outbound) = self.outbound_for(delivery) else {
            return;
        };
        if outbound.message.is_expired(now) {
            self.state.drops.expired += 1;
            return;
        }
        if self.phase == Phase::Offline
            && let Some(filter) = outbound.shared.clone()
        {
            // The broker should pick connected members; if it did not, hand it back.
            self.outputs.push_back(Output::SharedRedeliver {
                filter,
                message: outbound.message,
            });
            return;
        }
        if outbound.message.qos == QoS::AtMostOnce {
            if self.phase == Phase::Connected {
                self.send_publish(now, &outbound, None, false);
            } else {
                self.state.drops.qos0_not_sendable += 1;
            }
            return;
        }
        if self.phase == Phase::Connected && self.state.queue.is_empty() && self.has_send_quota() {
            self.start_inflight(now, outbound);
        } else {
            self.enqueue(outbound);
        }
    }

    /// The message as this session must send it, or `None` when no subscription wants
    /// it.
    fn outbound_for(&self, delivery: Delivery) -> Option<OutboundMessage> {
        let Delivery {
            mut message,
            publisher,
            target,
        } = delivery;
        let own = publisher.as_deref() == Some(self.state.client_id.as_str());
        let shared = match &target {
            DeliveryTarget::Subscription {
                filter,
                retained: false,
            } => self
                .active
                .get(filter)
                .filter(|active| active.parsed.share_group.is_some())
                .map(|_| filter.clone()),
            _ => None,
        };
        let (max_qos, keep_retain, mut identifiers) =
            self.granted(&target, &message.topic, message.retain, own)?;
        message.qos = message.qos.min(max_qos);
        message.retain = keep_retain;
        identifiers.sort_unstable();
        identifiers.dedup();
        Some(OutboundMessage {
            message,
            subscription_identifiers: identifiers,
            shared,
        })
    }

    /// What the subscriptions that take a delivery grant it: the highest QoS, whether
    /// RETAIN stays set, and their identifiers; `None` when no subscription takes it.
    fn granted(
        &self,
        target: &DeliveryTarget,
        topic: &weft_core::Topic,
        retain: bool,
        own: bool,
    ) -> Option<(QoS, bool, Vec<u32>)> {
        let mut matching;
        let mut named;
        let (filters, retained): (&mut dyn Iterator<Item = &str>, bool) = match target {
            DeliveryTarget::Matching => {
                matching = self.matching_filters(topic);
                (&mut matching, false)
            }
            DeliveryTarget::Subscription { filter, retained } => {
                named = std::iter::once(filter.as_str());
                (&mut named, *retained)
            }
        };
        let mut max_qos = None;
        let mut keep_retain = retained;
        let mut identifiers = Vec::new();
        for filter in filters {
            let Some(subscription) = self.state.subscriptions.get(filter) else {
                continue;
            };
            if own && subscription.options.no_local {
                continue;
            }
            max_qos = max_qos.max(Some(subscription.options.qos));
            keep_retain |= retain && subscription.options.retain_as_published;
            identifiers.extend(subscription.identifier);
        }
        Some((max_qos?, keep_retain, identifiers))
    }

    fn send_quota(&self) -> usize {
        match (self.version, &self.connection) {
            (ProtocolVersion::V5, Some(connection)) => {
                usize::from(connection.client_receive_maximum)
            }
            _ => usize::from(self.config.v3_inflight_limit),
        }
    }

    fn has_send_quota(&self) -> bool {
        self.state.inflight.len() < self.send_quota()
    }

    fn enqueue(&mut self, outbound: OutboundMessage) {
        if !self.has_queue_room() {
            self.state.drops.queue_overflow += 1;
            match self.config.overflow_policy {
                OverflowPolicy::DropNewest => return,
                OverflowPolicy::DropOldest => {
                    if self.state.queue.pop_front().is_none() {
                        return;
                    }
                }
            }
        }
        self.state.queue.push_back(outbound);
        self.state_changed();
    }

    /// Gives a QoS 1/2 message a packet identifier and sends it. Returns `false` when
    /// every packet identifier is in use (the message goes back to the queue's front).
    fn start_inflight(&mut self, now: SystemTime, outbound: OutboundMessage) -> bool {
        if self.too_large(now, &outbound) {
            // MQTT-3.1.2-25: discard, and behave as if it had been sent.
            self.state.drops.too_large += 1;
            return true;
        }
        let Some(packet_id) = self.allocate_packet_id() else {
            self.state.queue.push_front(outbound);
            return false;
        };
        self.send_publish(now, &outbound, Some(packet_id), false);
        let phase = match outbound.message.qos {
            QoS::ExactlyOnce => InflightPhase::AwaitingPubRec,
            _ => InflightPhase::AwaitingPubAck,
        };
        self.state.inflight.push(InflightMessage {
            packet_id,
            phase,
            outbound,
        });
        self.state_changed();
        true
    }

    /// The next packet identifier not in flight (MQTT-2.2.1-4: an id is free again once
    /// its handshake is complete).
    fn allocate_packet_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            let candidate = self.state.next_packet_id.max(1);
            self.state.next_packet_id = candidate.checked_add(1).unwrap_or(1);
            if !self
                .state
                .inflight
                .iter()
                .any(|inflight| inflight.packet_id == candidate)
            {
                return Some(candidate);
            }
        }
        None
    }

    /// The PUBLISH for `outbound`, without a topic alias.
    fn publish_packet(
        &self,
        now: SystemTime,
        outbound: &OutboundMessage,
        packet_id: Option<u16>,
        dup: bool,
    ) -> Publish {
        let message = &outbound.message;
        let source = &message.properties;
        let v5 = self.version == ProtocolVersion::V5;
        let mut properties = Properties::default();
        if v5 {
            properties.payload_format_indicator = source.payload_is_utf8.then_some(1);
            properties.message_expiry_interval = source.expires_at.map(|expires_at| {
                let left = expires_at.duration_since(now).unwrap_or_default();
                // Round up, and never 0: the message has not expired yet.
                let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
            });
            properties.content_type = source.content_type.clone();
            properties.response_topic = source.response_topic.clone();
            properties.correlation_data = source.correlation_data.clone();
            properties.user_properties = source.user_properties.clone();
            properties.subscription_identifiers = outbound.subscription_identifiers.clone();
        }
        Publish {
            dup,
            qos: message.qos,
            retain: message.retain,
            topic: message.topic.as_str().to_owned(),
            packet_id,
            properties,
            payload: message.payload.clone(),
        }
    }

    fn too_large(&self, now: SystemTime, outbound: &OutboundMessage) -> bool {
        let Some(maximum) = self
            .connection
            .as_ref()
            .and_then(|connection| connection.client_max_packet_size)
        else {
            return false;
        };
        let packet_id = (outbound.message.qos != QoS::AtMostOnce).then_some(1);
        let packet = Packet::Publish(self.publish_packet(now, outbound, packet_id, false));
        packet.encoded_len(self.version) > maximum as usize
    }

    /// Sends a PUBLISH, with a topic alias when the client allows them (not on resends,
    /// which use the full topic name).
    fn send_publish(
        &mut self,
        now: SystemTime,
        outbound: &OutboundMessage,
        packet_id: Option<u16>,
        dup: bool,
    ) {
        if packet_id.is_none() && self.too_large(now, outbound) {
            self.state.drops.too_large += 1;
            return;
        }
        let mut publish = self.publish_packet(now, outbound, packet_id, dup);
        if self.version == ProtocolVersion::V5
            && !dup
            && let Some(connection) = &mut self.connection
        {
            match connection.outbound_aliases.for_topic(&publish.topic) {
                OutboundTopic::Name => {}
                OutboundTopic::Define(alias) => publish.properties.topic_alias = Some(alias),
                OutboundTopic::Use(alias) => {
                    publish.properties.topic_alias = Some(alias);
                    publish.topic.clear();
                }
            }
        }
        self.send(Packet::Publish(publish));
    }

    /// After a reconnect: resend unacknowledged PUBLISH packets with DUP set and
    /// PUBREL packets, in their original order (MQTT-4.4.0-1).
    pub(super) fn resend_inflight(&mut self, now: SystemTime) {
        let inflight = std::mem::take(&mut self.state.inflight);
        for message in &inflight {
            match message.phase {
                InflightPhase::AwaitingPubAck | InflightPhase::AwaitingPubRec => {
                    self.send_publish(now, &message.outbound, Some(message.packet_id), true);
                }
                InflightPhase::AwaitingPubComp => {
                    self.send(Packet::PubRel(PubResponse::new(message.packet_id)));
                }
            }
        }
        self.state.inflight = inflight;
    }

    /// Sends queued messages while the client's Receive Maximum allows.
    pub(super) fn drain_queue(&mut self, now: SystemTime) {
        while self.phase == Phase::Connected && self.has_send_quota() {
            let Some(outbound) = self.state.queue.pop_front() else {
                break;
            };
            if outbound.message.is_expired(now) {
                self.state.drops.expired += 1;
                continue;
            }
            if !self.start_inflight(now, outbound) {
                break;
            }
        }
    }

    /// Hands shared-subscription messages back to the broker for another member when
    /// this session loses its connection (MQTT 5.0 section 4.8.2): queued ones (never
    /// sent) and QoS 1 ones in flight. A QoS 2 message in flight stays: its delivery
    /// must be completed to this client when it reconnects (MQTT-4.8.2-4) and must
    /// never go to another member (MQTT-4.8.2-5).
    pub(super) fn release_shared(&mut self) {
        let mut released = Vec::new();
        let queue = std::mem::take(&mut self.state.queue);
        for outbound in queue {
            match outbound.shared.clone() {
                Some(filter) => released.push((filter, outbound.message)),
                None => self.state.queue.push_back(outbound),
            }
        }
        let inflight = std::mem::take(&mut self.state.inflight);
        for message in inflight {
            match (&message.outbound.shared, message.phase) {
                (Some(filter), InflightPhase::AwaitingPubAck) => {
                    released.push((filter.clone(), message.outbound.message));
                }
                _ => self.state.inflight.push(message),
            }
        }
        for (filter, message) in released {
            self.outputs
                .push_back(Output::SharedRedeliver { filter, message });
        }
    }

    /// Drops queued messages whose expiry has passed (MQTT-3.3.2-5).
    pub(super) fn expire_queued(&mut self, now: SystemTime) {
        let before = self.state.queue.len();
        self.state
            .queue
            .retain(|outbound| !outbound.message.is_expired(now));
        let expired = before - self.state.queue.len();
        if expired > 0 {
            self.state.drops.expired += expired as u64;
            self.state_changed();
        }
    }

    fn inflight_index(&self, packet_id: u16, phase: InflightPhase) -> Option<usize> {
        self.state
            .inflight
            .iter()
            .position(|inflight| inflight.packet_id == packet_id && inflight.phase == phase)
    }

    fn complete_inflight(&mut self, now: SystemTime, index: usize) {
        self.state.inflight.remove(index);
        self.state_changed();
        self.drain_queue(now);
    }

    pub(super) fn handle_puback(&mut self, now: SystemTime, response: PubResponse) {
        if let Some(index) = self.inflight_index(response.packet_id, InflightPhase::AwaitingPubAck)
        {
            self.complete_inflight(now, index);
        }
    }

    pub(super) fn handle_pubrec(&mut self, now: SystemTime, response: PubResponse) {
        let packet_id = response.packet_id;
        if let Some(index) = self.inflight_index(packet_id, InflightPhase::AwaitingPubRec) {
            if response.code.is_error() {
                // The client refused the message: the exchange is over.
                return self.complete_inflight(now, index);
            }
            self.state.inflight[index].phase = InflightPhase::AwaitingPubComp;
            self.state_changed();
            self.send(Packet::PubRel(PubResponse::new(packet_id)));
        } else if self
            .inflight_index(packet_id, InflightPhase::AwaitingPubComp)
            .is_some()
        {
            self.send(Packet::PubRel(PubResponse::new(packet_id)));
        } else {
            self.send(Packet::PubRel(PubResponse::with_code(
                packet_id,
                ReasonCode::PacketIdentifierNotFound,
            )));
        }
    }

    pub(super) fn handle_pubcomp(&mut self, now: SystemTime, response: PubResponse) {
        if let Some(index) = self.inflight_index(response.packet_id, InflightPhase::AwaitingPubComp)
        {
            self.complete_inflight(now, index);
        }
    }
}
