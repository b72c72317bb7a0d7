//! Messages from the client: PUBLISH with QoS 0/1/2, topic aliases, PUBREL, and the
//! broker's answer ([`Session::publish_completed`]).

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use weft_core::Topic;
use weft_topic::mqtt::{MqttTopicError, topic_from_mqtt};

use super::aliases::AliasError;
use super::connect::valid_utf8_payload;
use super::state::{Message, MessageProperties};
use super::{Output, Phase, PublishOutcome, Session};
use crate::codec::{Packet, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode};

impl Session {
    pub(super) fn handle_publish(&mut self, now: SystemTime, publish: Publish) {
        let v5 = self.version == ProtocolVersion::V5;
        if publish.qos > self.config.maximum_qos {
            return self.protocol_violation(now, ReasonCode::QosNotSupported, "qos not supported");
        }
        if publish.retain && !self.config.retain_available {
            return self.protocol_violation(
                now,
                ReasonCode::RetainNotSupported,
                "retain not supported",
            );
        }
        if !publish.properties.subscription_identifiers.is_empty() {
            // MQTT-3.3.4-6: clients must not send Subscription Identifiers.
            return self.protocol_violation(
                now,
                ReasonCode::ProtocolError,
                "subscription identifier in a publish from a client",
            );
        }
        let topic_name = match self.resolve_topic(&publish) {
            Ok(topic) => topic,
            Err((code, reason)) => return self.protocol_violation(now, code, reason),
        };
        let Ok(topic) = self.inbound_topic(&topic_name) else {
            return self.refuse_publish(
                now,
                &publish,
                ReasonCode::TopicNameInvalid,
                "topic name invalid",
            );
        };
        let payload_is_utf8 = v5 && publish.properties.payload_format_indicator == Some(1);
        if payload_is_utf8 && !valid_utf8_payload(&publish.payload) {
            return self.refuse_publish(
                now,
                &publish,
                ReasonCode::PayloadFormatInvalid,
                "payload is not utf-8",
            );
        }
        let properties = publish.properties;
        let message = Message {
            topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: MessageProperties {
                payload_is_utf8,
                expires_at: properties
                    .message_expiry_interval
                    .map(|seconds| now + Duration::from_secs(u64::from(seconds))),
                content_type: properties.content_type,
                response_topic: properties.response_topic,
                correlation_data: properties.correlation_data,
                user_properties: properties.user_properties,
            },
        };
        let Some(packet_id) = publish.packet_id else {
            self.outputs
                .push_back(Output::Publish { message, ack: None });
            return;
        };
        let Some(connection) = &self.connection else {
            return;
        };
        if connection.inbound_pending.contains_key(&packet_id) {
            // A resend of a publish the broker has not answered yet: it is acknowledged
            // once, when the broker answers.
            return;
        }
        if publish.qos == QoS::ExactlyOnce && self.state.awaiting_pubrel.contains(&packet_id) {
            // Method B: already published; repeat the PUBREC (MQTT-4.3.3-10).
            self.send(Packet::PubRec(PubResponse::new(packet_id)));
            return;
        }
        let unacknowledged = connection.inbound_pending.len()
            + self.state.awaiting_pubrel.len()
            + connection.unwritten_acks;
        if v5 && unacknowledged >= usize::from(self.config.receive_maximum) {
            return self.protocol_violation(
                now,
                ReasonCode::ReceiveMaximumExceeded,
                "receive maximum exceeded",
            );
        }
        if let Some(connection) = &mut self.connection {
            connection.inbound_pending.insert(packet_id, publish.qos);
        }
        if publish.qos == QoS::ExactlyOnce {
            self.state.awaiting_pubrel.insert(packet_id);
            self.state_changed();
        }
        self.outputs.push_back(Output::Publish {
            message,
            ack: Some(packet_id),
        });
    }

    /// The weft topic of an inbound topic name: the connection's last one again when
    /// the name repeats, else translated and checked (and remembered).
    fn inbound_topic(&mut self, name: &str) -> Result<Topic, MqttTopicError> {
        let connection = self.connection.as_mut();
        if let Some(last) = connection
            .as_ref()
            .and_then(|connection| connection.last_inbound_topic.as_ref())
            .filter(|last| last.as_str() == name)
        {
            return Ok(last.clone());
        }
        let topic = topic_from_mqtt(name)?;
        if let Some(connection) = connection {
            connection.last_inbound_topic = Some(topic.clone());
        }
        Ok(topic)
    }

    /// The topic name of a PUBLISH, through the inbound topic alias table (5.0).
    fn resolve_topic<'p>(
        &mut self,
        publish: &'p Publish,
    ) -> Result<Cow<'p, str>, (ReasonCode, &'static str)> {
        let Some(alias) = publish.properties.topic_alias else {
            if publish.topic.is_empty() {
                return Err((
                    ReasonCode::ProtocolError,
                    "empty topic name without a topic alias",
                ));
            }
            return Ok(Cow::Borrowed(&publish.topic));
        };
        let Some(connection) = &mut self.connection else {
            return Err((ReasonCode::ProtocolError, "not connected"));
        };
        connection
            .inbound_aliases
            .resolve(alias, &publish.topic)
            .map(Cow::Owned)
            .map_err(|error| match error {
                AliasError::OutOfRange => (ReasonCode::TopicAliasInvalid, "topic alias invalid"),
                AliasError::Unknown => (ReasonCode::ProtocolError, "unknown topic alias"),
            })
    }

    /// A PUBLISH that cannot be accepted: a negative PUBACK/PUBREC on 5.0 for QoS 1/2
    /// (the connection stays up), otherwise a DISCONNECT with the code.
    fn refuse_publish(
        &mut self,
        now: SystemTime,
        publish: &Publish,
        code: ReasonCode,
        reason: &str,
    ) {
        match (self.version, publish.packet_id) {
            (ProtocolVersion::V5, Some(packet_id)) => {
                if let Some(connection) = &mut self.connection {
                    connection.unwritten_acks += 1;
                }
                let mut response = PubResponse::with_code(packet_id, code);
                if self.wants_problem_information() {
                    response.properties.reason_string = Some(reason.to_owned());
                }
                self.send(match publish.qos {
                    QoS::ExactlyOnce => Packet::PubRec(response),
                    _ => Packet::PubAck(response),
                });
            }
            _ => self.protocol_violation(now, code, reason),
        }
    }

    fn wants_problem_information(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|connection| connection.request_problem_information)
    }

    /// The broker's answer to an [`Output::Publish`] with `ack: Some(packet_id)`: sends
    /// the PUBACK (QoS 1) or PUBREC (QoS 2) with the matching reason code. An MQTT 3.1.1
    /// client cannot be told about a refusal; it gets a plain acknowledgement.
    pub fn publish_completed(&mut self, _now: SystemTime, packet_id: u16, outcome: PublishOutcome) {
        if self.phase != Phase::Connected {
            return;
        }
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        let Some(qos) = connection.inbound_pending.remove(&packet_id) else {
            return;
        };
        let code = match outcome {
            PublishOutcome::Accepted { matched: true } => ReasonCode::Success,
            PublishOutcome::Accepted { matched: false } => ReasonCode::NoMatchingSubscribers,
            PublishOutcome::Refused(code) => code,
        };
        let response = PubResponse::with_code(packet_id, code);
        // A PUBACK, or a PUBREC that ends the exchange, frees a Receive Maximum slot
        // once the client can have it (a successful PUBREC keeps it until PUBCOMP).
        if qos != QoS::ExactlyOnce || code.is_error() {
            connection.unwritten_acks += 1;
        }
        if qos == QoS::ExactlyOnce {
            if code.is_error() {
                // A PUBREC with an error ends the exchange: no PUBREL follows.
                self.state.awaiting_pubrel.remove(&packet_id);
                self.state_changed();
            }
            self.send(Packet::PubRec(response));
        } else {
            self.send(Packet::PubAck(response));
        }
    }

    pub(super) fn handle_pubrel(&mut self, _now: SystemTime, response: PubResponse) {
        let code = if self.state.awaiting_pubrel.remove(&response.packet_id) {
            if let Some(connection) = &mut self.connection {
                connection.inbound_pending.remove(&response.packet_id);
                connection.unwritten_acks += 1;
            }
            self.state_changed();
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        self.send(Packet::PubComp(PubResponse::with_code(
            response.packet_id,
            code,
        )));
    }
}
