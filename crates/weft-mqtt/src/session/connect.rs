//! CONNECT validation, CONNACK, session takeover, DISCONNECT, wills and session expiry.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weft_topic::mqtt::topic_from_mqtt;

use super::aliases::{InboundAliases, OutboundAliases};
use super::state::{Message, MessageProperties, PendingWill, SessionState};
use super::{ConnectRequest, Connection, Output, Phase, Session};
use crate::codec::{
    ConnAck, Connect, Disconnect, LastWill, Packet, ProtocolVersion, QoS, ReasonCode,
};

/// What a validated CONNECT asked for, kept until [`Session::accept`].
#[derive(Debug)]
pub(super) struct PendingConnect {
    client_id: String,
    assigned: bool,
    clean_start: bool,
    keep_alive: u16,
    session_expiry_interval: u32,
    /// Whether the server lowered the requested Session Expiry Interval.
    session_expiry_capped: bool,
    client_receive_maximum: u16,
    client_max_packet_size: Option<u32>,
    client_topic_alias_maximum: u16,
    request_problem_information: bool,
    will: Option<Box<WillSpec>>,
}

/// A will as given in CONNECT, before it is due.
#[derive(Debug, Clone)]
pub(super) struct WillSpec {
    pub(super) message: Message,
    pub(super) delay: u32,
    pub(super) expiry_interval: Option<u32>,
}

/// Whether `payload` may be sent with Payload Format Indicator 1.
pub(super) fn valid_utf8_payload(payload: &Bytes) -> bool {
    std::str::from_utf8(payload).is_ok()
}

impl Session {
    pub(super) fn handle_connect(&mut self, now: SystemTime, connect: Connect) {
        self.version = connect.version;
        let v5 = connect.version == ProtocolVersion::V5;
        let properties = &connect.properties;
        let (client_id, assigned) = if connect.client_id.is_empty() {
            if !v5 && !connect.clean_start {
                // MQTT 3.1.1 MQTT-3.1.3-8: return code 0x02 Identifier rejected.
                return self.refuse_connect(now, ReasonCode::ClientIdentifierNotValid);
            }
            let id = format!(
                "{}{}",
                self.config.assigned_client_id_prefix,
                weft_core::id::new_event_id()
            );
            (id, true)
        } else {
            (connect.client_id.clone(), false)
        };
        if properties.authentication_method.is_some() {
            // Enhanced authentication (section 4.12) is not supported.
            return self.refuse_connect(now, ReasonCode::BadAuthenticationMethod);
        }
        let will = match connect.will.as_ref().map(|will| self.validate_will(will)) {
            Some(Err(code)) => return self.refuse_connect(now, code),
            Some(Ok(will)) => Some(Box::new(will)),
            None => None,
        };
        let requested_expiry = match connect.version {
            ProtocolVersion::V5 => properties.session_expiry_interval.unwrap_or(0),
            // 3.1.1: Clean Session 0 means the session lasts until the server drops it.
            ProtocolVersion::V311 if connect.clean_start => 0,
            ProtocolVersion::V311 => u32::MAX,
        };
        let session_expiry_interval = requested_expiry.min(self.config.max_session_expiry);
        self.pending_connect = Some(Box::new(PendingConnect {
            client_id: client_id.clone(),
            assigned,
            clean_start: connect.clean_start,
            keep_alive: connect.keep_alive,
            session_expiry_interval,
            session_expiry_capped: session_expiry_interval != requested_expiry,
            client_receive_maximum: properties.receive_maximum.unwrap_or(u16::MAX),
            client_max_packet_size: properties.maximum_packet_size,
            client_topic_alias_maximum: properties.topic_alias_maximum.unwrap_or(0),
            request_problem_information: properties.request_problem_information != Some(0),
            will,
        }));
        self.phase = Phase::AwaitingDecision;
        self.outputs
            .push_back(Output::ConnectRequest(ConnectRequest {
                client_id,
                assigned,
                clean_start: connect.clean_start,
                version: connect.version,
                username: connect.username,
                password: connect.password,
            }));
    }

    fn validate_will(&self, will: &LastWill) -> Result<WillSpec, ReasonCode> {
        let topic = topic_from_mqtt(&will.topic).map_err(|_| ReasonCode::TopicNameInvalid)?;
        if will.qos > self.config.maximum_qos {
            return Err(ReasonCode::QosNotSupported);
        }
        if will.retain && !self.config.retain_available {
            return Err(ReasonCode::RetainNotSupported);
        }
        let properties = &will.properties;
        let payload_is_utf8 = properties.payload_format_indicator == Some(1);
        if payload_is_utf8 && !valid_utf8_payload(&will.payload) {
            return Err(ReasonCode::PayloadFormatInvalid);
        }
        Ok(WillSpec {
            message: Message {
                topic,
                payload: will.payload.clone(),
                qos: will.qos,
                retain: will.retain,
                properties: MessageProperties {
                    payload_is_utf8,
                    expires_at: None,
                    content_type: properties.content_type.clone(),
                    response_topic: properties.response_topic.clone(),
                    correlation_data: properties.correlation_data.clone(),
                    user_properties: properties.user_properties.clone(),
                },
            },
            delay: properties.will_delay_interval.unwrap_or(0),
            expiry_interval: properties.message_expiry_interval,
        })
    }

    /// CONNACK with an error, then close.
    fn refuse_connect(&mut self, now: SystemTime, code: ReasonCode) {
        self.send(Packet::ConnAck(ConnAck::new(false, code)));
        self.close(now, code);
    }

    /// Accepts the CONNECT reported by [`Output::ConnectRequest`]. `resumed` is the
    /// state of the client's existing session (from [`Session::take_over`] or storage);
    /// it is ignored when the client asked for a clean start.
    pub fn accept(&mut self, now: SystemTime, resumed: Option<SessionState>) {
        let Some(pending) = self.pending_connect.take() else {
            return;
        };
        let v5 = self.version == ProtocolVersion::V5;
        let session_present = !pending.clean_start && resumed.is_some();
        let mut state = match resumed {
            Some(state) if !pending.clean_start => state,
            _ => SessionState::new(pending.client_id.clone()),
        };
        state.client_id = pending.client_id.clone();
        state.session_expiry_interval = pending.session_expiry_interval;
        state.disconnected_at = None;
        state.pending_will = None;
        self.install_state(state);
        let keep_alive = granted_keep_alive(v5, pending.keep_alive, self.config.max_keep_alive);
        self.connection = Some(Connection {
            keep_alive,
            last_packet_at: now,
            client_receive_maximum: pending.client_receive_maximum,
            client_max_packet_size: pending.client_max_packet_size,
            request_problem_information: pending.request_problem_information,
            inbound_aliases: InboundAliases::new(self.config.topic_alias_maximum),
            outbound_aliases: OutboundAliases::new(pending.client_topic_alias_maximum),
            inbound_pending: Default::default(),
            unwritten_acks: 0,
            will: pending.will.clone(),
            last_inbound_topic: None,
        });
        let mut connack = ConnAck::new(session_present, ReasonCode::Success);
        if v5 {
            self.fill_connack_properties(&mut connack, &pending, keep_alive);
        }
        self.send(Packet::ConnAck(connack));
        self.phase = Phase::Connected;
        for (filter, subscription) in &self.state.subscriptions {
            if let Some(active) = self.active.get(filter) {
                self.outputs.push_back(Output::Subscribe {
                    filter: active.parsed.clone(),
                    options: subscription.options,
                    identifier: subscription.identifier,
                    send_retained: false,
                });
            }
        }
        self.resend_inflight(now);
        self.drain_queue(now);
        self.state_changed();
        for packet in std::mem::take(&mut self.deferred) {
            self.handle_packet(now, packet);
        }
    }

    fn fill_connack_properties(
        &self,
        connack: &mut ConnAck,
        pending: &PendingConnect,
        keep_alive: u16,
    ) {
        let config = &self.config;
        let properties = &mut connack.properties;
        if pending.assigned {
            properties.assigned_client_identifier = Some(pending.client_id.clone());
        }
        if pending.session_expiry_capped {
            properties.session_expiry_interval = Some(pending.session_expiry_interval);
        }
        if keep_alive != pending.keep_alive {
            properties.server_keep_alive = Some(keep_alive);
        }
        if config.receive_maximum != u16::MAX {
            properties.receive_maximum = Some(config.receive_maximum);
        }
        if config.topic_alias_maximum > 0 {
            properties.topic_alias_maximum = Some(config.topic_alias_maximum);
        }
        if (config.max_packet_size as usize) < crate::codec::MAX_PACKET_SIZE {
            properties.maximum_packet_size = Some(config.max_packet_size);
        }
        if config.maximum_qos != QoS::ExactlyOnce {
            properties.maximum_qos = Some(config.maximum_qos.as_u8());
        }
        let unavailable = |available: bool| (!available).then_some(0);
        properties.retain_available = unavailable(config.retain_available);
        properties.wildcard_subscription_available =
            unavailable(config.wildcard_subscription_available);
        properties.subscription_identifier_available =
            unavailable(config.subscription_identifier_available);
        properties.shared_subscription_available =
            unavailable(config.shared_subscription_available);
    }

    /// Refuses the CONNECT reported by [`Output::ConnectRequest`] (0x86 Bad User Name or
    /// Password, 0x87 Not authorized, 0x8A Banned, 0x89 Server busy, ...).
    pub fn reject(&mut self, now: SystemTime, code: ReasonCode) {
        if self.pending_connect.take().is_some() {
            self.deferred.clear();
            self.refuse_connect(now, code);
        }
    }

    /// A new connection with this session's client id arrived (MQTT 5.0 section 3.1.4,
    /// 4.13). A connected client gets DISCONNECT 0x8E Session taken over (5.0) and its
    /// connection is closed, which triggers its will as any lost connection does. Then,
    /// when the new connection resumes the session (`new_clean_start == false`), the
    /// state is handed over and a will still waiting for its delay is discarded
    /// (MQTT-3.1.3-9); with a clean start the session ends here and the will is
    /// published. Returns the state to pass to [`Session::accept`].
    pub fn take_over(&mut self, now: SystemTime, new_clean_start: bool) -> Option<SessionState> {
        if self.phase == Phase::Connected {
            if self.version == ProtocolVersion::V5 {
                self.send(Packet::Disconnect(Disconnect::new(
                    ReasonCode::SessionTakenOver,
                )));
            }
            self.outputs.push_back(Output::Disconnect {
                reason: ReasonCode::SessionTakenOver,
            });
            self.go_offline(now, true);
        }
        if self.phase != Phase::Offline {
            return None;
        }
        let expired = self.state.expires_at().is_some_and(|at| at <= now);
        if new_clean_start || expired {
            self.end_session(now);
            return None;
        }
        self.state.pending_will = None;
        self.phase = Phase::Ended;
        Some(std::mem::replace(&mut self.state, SessionState::new("")))
    }

    pub(super) fn handle_disconnect(&mut self, now: SystemTime, disconnect: Disconnect) {
        if let Some(requested) = disconnect.properties.session_expiry_interval {
            if self.state.session_expiry_interval == 0 && requested != 0 {
                // MQTT-3.14.2-2.
                return self.protocol_violation(
                    now,
                    ReasonCode::ProtocolError,
                    "session expiry interval was 0 at connect",
                );
            }
            self.state.session_expiry_interval = requested.min(self.config.max_session_expiry);
        }
        // MQTT-3.14.4-3: a Normal disconnection (0x00) discards the will; any other
        // reason code, 0x04 Disconnect with Will Message included, keeps it.
        let keep_will = disconnect.code != ReasonCode::Success;
        self.outputs.push_back(Output::Disconnect {
            reason: disconnect.code,
        });
        self.go_offline(now, keep_will);
    }

    /// The connection is gone: schedule or publish the will, go offline, and end the
    /// session at once when its expiry interval is 0.
    pub(super) fn go_offline(&mut self, now: SystemTime, publish_will: bool) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        self.phase = Phase::Offline;
        self.state.disconnected_at = Some(now);
        self.release_shared();
        if let Some(will) = connection.will.filter(|_| publish_will) {
            let delay = will.delay.min(self.state.session_expiry_interval);
            self.state.pending_will = Some(Box::new(PendingWill {
                message: will.message,
                due: now + Duration::from_secs(u64::from(delay)),
                expiry_interval: will.expiry_interval,
            }));
            self.fire_due_will(now);
        }
        if self.state.session_expiry_interval == 0 {
            self.end_session(now);
        } else {
            self.state_changed();
        }
    }

    /// Publishes the pending will if its delay has passed.
    pub(super) fn fire_due_will(&mut self, now: SystemTime) {
        if self
            .state
            .pending_will
            .as_ref()
            .is_some_and(|will| will.due <= now)
        {
            self.publish_pending_will(now);
        }
    }

    fn publish_pending_will(&mut self, now: SystemTime) {
        if let Some(will) = self.state.pending_will.take() {
            let mut message = will.message;
            message.properties.expires_at = will
                .expiry_interval
                .map(|seconds| now + Duration::from_secs(u64::from(seconds)));
            self.outputs.push_back(Output::WillPublish(message));
        }
    }

    /// The session is over: its will (if still waiting) is published now
    /// (MQTT-3.1.3-9: "or the Session ends, whichever happens first").
    pub(super) fn end_session(&mut self, now: SystemTime) {
        self.publish_pending_will(now);
        self.phase = Phase::Ended;
        self.connection = None;
        self.outputs.push_back(Output::SessionEnded);
    }
}

/// The Keep Alive a connection gets: a 5.0 client's own within the maximum (the
/// maximum when it asked for none); a 3.1.1 client's own, which it cannot be told to
/// change.
fn granted_keep_alive(v5: bool, asked: u16, maximum: u16) -> u16 {
    if !v5 || maximum == 0 {
        return asked;
    }
    if asked == 0 {
        maximum
    } else {
        asked.min(maximum)
    }
}
