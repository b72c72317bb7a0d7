//! Our MQTT 5.0 packets ↔ mqttbytes' `v5` structs, field by field.
//!
//! mqttbytes keeps one struct per packet with `Option<…Properties>`; an absent block and
//! an empty one are the same thing on the wire (property length 0), so both map to our
//! `Properties::default()`. A field of ours that mqttbytes' struct cannot hold is lost in
//! the `…_to_theirs` conversions, and the round trip in `check` then fails: nothing is
//! dropped silently.

use bytes::{Bytes, BytesMut};
use mqttbytes::v5 as theirs;

use crate::codec::*;

mod connect;
mod publish;
mod subscribe;

use connect::{connack, connack_to_theirs, connect, connect_to_theirs};
use publish::{publish, publish_to_theirs};
use subscribe::{subscribe, subscribe_to_theirs};

/// mqttbytes' decoding of one whole MQTT 5.0 packet, as our [`Packet`].
///
/// Each packet's own `read` is called rather than `v5::read`, which refuses every packet
/// with a remaining length of 0 except the pings (a bare DISCONNECT is valid 5.0). There
/// is no AUTH in mqttbytes: packet type 15 is an error.
pub(super) fn decode(bytes: &[u8]) -> Result<Packet, mqttbytes::Error> {
    let header = mqttbytes::check(bytes.iter(), usize::MAX)?;
    assert_eq!(
        header.frame_length(),
        bytes.len(),
        "mqttbytes frames another length"
    );
    let frame = Bytes::copy_from_slice(bytes);
    use mqttbytes::PacketType as T;
    Ok(match header.packet_type()? {
        T::Connect => Packet::Connect(Box::new(connect(theirs::Connect::read(header, frame)?))),
        T::ConnAck => Packet::ConnAck(connack(theirs::ConnAck::read(header, frame)?)),
        T::Publish => Packet::Publish(publish(theirs::Publish::read(header, frame)?)),
        T::PubAck => {
            let ack = theirs::PubAck::read(header, frame)?;
            Packet::PubAck(response(
                ack.pkid,
                ack.reason as u8,
                ack.properties.map(|p| (p.reason_string, p.user_properties)),
            ))
        }
        T::PubRec => {
            let ack = theirs::PubRec::read(header, frame)?;
            Packet::PubRec(response(
                ack.pkid,
                ack.reason as u8,
                ack.properties.map(|p| (p.reason_string, p.user_properties)),
            ))
        }
        T::PubRel => {
            let ack = theirs::PubRel::read(header, frame)?;
            Packet::PubRel(response(
                ack.pkid,
                ack.reason as u8,
                ack.properties.map(|p| (p.reason_string, p.user_properties)),
            ))
        }
        T::PubComp => {
            let ack = theirs::PubComp::read(header, frame)?;
            Packet::PubComp(response(
                ack.pkid,
                ack.reason as u8,
                ack.properties.map(|p| (p.reason_string, p.user_properties)),
            ))
        }
        T::Subscribe => Packet::Subscribe(subscribe(theirs::Subscribe::read(header, frame)?)),
        T::SubAck => {
            let suback = theirs::SubAck::read(header, frame)?;
            Packet::SubAck(SubAck {
                packet_id: suback.pkid,
                properties: acknowledgement_properties(
                    suback
                        .properties
                        .map(|p| (p.reason_string, p.user_properties)),
                ),
                codes: suback
                    .return_codes
                    .iter()
                    .map(|&code| reason(code as u8))
                    .collect(),
            })
        }
        T::Unsubscribe => {
            let unsubscribe = theirs::Unsubscribe::read(header, frame)?;
            Packet::Unsubscribe(Unsubscribe {
                packet_id: unsubscribe.pkid,
                properties: Properties {
                    user_properties: unsubscribe
                        .properties
                        .map(|p| p.user_properties)
                        .unwrap_or_default(),
                    ..Properties::default()
                },
                filters: unsubscribe.filters,
            })
        }
        T::UnsubAck => {
            let unsuback = theirs::UnsubAck::read(header, frame)?;
            Packet::UnsubAck(UnsubAck {
                packet_id: unsuback.pkid,
                properties: acknowledgement_properties(
                    unsuback
                        .properties
                        .map(|p| (p.reason_string, p.user_properties)),
                ),
                codes: unsuback
                    .reasons
                    .iter()
                    .map(|&code| reason(code as u8))
                    .collect(),
            })
        }
        T::PingReq => Packet::PingReq,
        T::PingResp => Packet::PingResp,
        T::Disconnect => Packet::Disconnect(disconnect(theirs::Disconnect::read(header, frame)?)),
    })
}

/// mqttbytes' encoding of our `packet` (AUTH has no mqttbytes form).
pub(super) fn encode(packet: &Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    let written = match packet {
        Packet::Connect(connect) => connect_to_theirs(connect).write(&mut out),
        Packet::ConnAck(connack) => connack_to_theirs(connack).write(&mut out),
        Packet::Publish(publish) => publish_to_theirs(publish).write(&mut out),
        Packet::PubAck(ack) => theirs::PubAck {
            pkid: ack.packet_id,
            reason: pick(PUBACK, ack.code),
            properties: theirs_ack_properties(&ack.properties).map(
                |(reason_string, user_properties)| theirs::PubAckProperties {
                    reason_string,
                    user_properties,
                },
            ),
        }
        .write(&mut out),
        Packet::PubRec(ack) => theirs::PubRec {
            pkid: ack.packet_id,
            reason: pick(PUBREC, ack.code),
            properties: theirs_ack_properties(&ack.properties).map(
                |(reason_string, user_properties)| theirs::PubRecProperties {
                    reason_string,
                    user_properties,
                },
            ),
        }
        .write(&mut out),
        Packet::PubRel(ack) => theirs::PubRel {
            pkid: ack.packet_id,
            reason: pick(PUBREL, ack.code),
            properties: theirs_ack_properties(&ack.properties).map(
                |(reason_string, user_properties)| theirs::PubRelProperties {
                    reason_string,
                    user_properties,
                },
            ),
        }
        .write(&mut out),
        Packet::PubComp(ack) => theirs::PubComp {
            pkid: ack.packet_id,
            reason: pick(PUBCOMP, ack.code),
            properties: theirs_ack_properties(&ack.properties).map(
                |(reason_string, user_properties)| theirs::PubCompProperties {
                    reason_string,
                    user_properties,
                },
            ),
        }
        .write(&mut out),
        Packet::Subscribe(subscribe) => subscribe_to_theirs(subscribe).write(&mut out),
        Packet::SubAck(suback) => theirs::SubAck {
            pkid: suback.packet_id,
            return_codes: suback
                .codes
                .iter()
                .map(|code| theirs::SubscribeReasonCode::try_from(code.as_u8()).unwrap())
                .collect(),
            properties: theirs_ack_properties(&suback.properties).map(
                |(reason_string, user_properties)| theirs::SubAckProperties {
                    reason_string,
                    user_properties,
                },
            ),
        }
        .write(&mut out),
        Packet::Unsubscribe(unsubscribe) => theirs::Unsubscribe {
            pkid: unsubscribe.packet_id,
            filters: unsubscribe.filters.clone(),
            properties: (!unsubscribe.properties.is_empty()).then(|| {
                theirs::UnsubscribeProperties {
                    user_properties: unsubscribe.properties.user_properties.clone(),
                }
            }),
        }
        .write(&mut out),
        Packet::UnsubAck(unsuback) => theirs::UnsubAck {
            pkid: unsuback.packet_id,
            reasons: unsuback
                .codes
                .iter()
                .map(|&code| pick(UNSUBACK, code))
                .collect(),
            properties: theirs_ack_properties(&unsuback.properties).map(
                |(reason_string, user_properties)| theirs::UnsubAckProperties {
                    reason_string,
                    user_properties,
                },
            ),
        }
        .write(&mut out),
        Packet::PingReq => theirs::PingReq.write(&mut out),
        Packet::PingResp => theirs::PingResp.write(&mut out),
        Packet::Disconnect(disconnect) => disconnect_to_theirs(disconnect).write(&mut out),
        Packet::Auth(_) => panic!("mqttbytes has no AUTH packet"),
    };
    written.unwrap();
    out.to_vec()
}

fn reason(code: u8) -> ReasonCode {
    ReasonCode::from_u8(code).unwrap()
}

/// mqttbytes' reason code enums have no public constructor from a byte; they are
/// `repr(u8)`, so the variant is found by its value in a list of all of them.
fn pick<T: Code>(all: &[T], code: ReasonCode) -> T {
    all.iter()
        .copied()
        .find(|&candidate| candidate.value() == code.as_u8())
        .unwrap_or_else(|| panic!("mqttbytes has no {code:?} here"))
}

trait Code: Copy {
    fn value(self) -> u8;
}

macro_rules! all_codes {
    ($name:ident: $type:ty = [$($variant:ident),* $(,)?]) => {
        const $name: &[$type] = &[$(<$type>::$variant),*];
        impl Code for $type {
            fn value(self) -> u8 {
                self as u8
            }
        }
    };
}

all_codes!(CONNACK: theirs::ConnectReturnCode = [
    Success, UnspecifiedError, MalformedPacket, ProtocolError, ImplementationSpecificError,
    UnsupportedProtocolVersion, ClientIdentifierNotValid, BadUserNamePassword, NotAuthorized,
    ServerUnavailable, ServerBusy, Banned, BadAuthenticationMethod, TopicNameInvalid,
    PacketTooLarge, QuotaExceeded, PayloadFormatInvalid, RetainNotSupported, QoSNotSupported,
    UseAnotherServer, ServerMoved, ConnectionRateExceeded,
]);
all_codes!(PUBACK: theirs::PubAckReason = [
    Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
    NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid,
]);
all_codes!(PUBREC: theirs::PubRecReason = [
    Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
    NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid,
]);
all_codes!(PUBREL: theirs::PubRelReason = [Success, PacketIdentifierNotFound]);
all_codes!(PUBCOMP: theirs::PubCompReason = [Success, PacketIdentifierNotFound]);
all_codes!(UNSUBACK: theirs::UnsubAckReason = [
    Success, NoSubscriptionExisted, UnspecifiedError, ImplementationSpecificError,
    NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
]);

fn qos(qos: mqttbytes::QoS) -> QoS {
    QoS::from_u8(qos as u8).unwrap()
}

fn their_qos(qos: QoS) -> mqttbytes::QoS {
    mqttbytes::qos(qos.as_u8()).unwrap()
}

/// The Reason String and User Properties of an acknowledgement, the only properties
/// PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK carry.
type AckProperties = (Option<String>, Vec<(String, String)>);

fn acknowledgement_properties(theirs: Option<AckProperties>) -> Properties {
    let (reason_string, user_properties) = theirs.unwrap_or_default();
    Properties {
        reason_string,
        user_properties,
        ..Properties::default()
    }
}

fn theirs_ack_properties(properties: &Properties) -> Option<AckProperties> {
    (!properties.is_empty()).then(|| {
        (
            properties.reason_string.clone(),
            properties.user_properties.clone(),
        )
    })
}

fn response(packet_id: u16, code: u8, properties: Option<AckProperties>) -> PubResponse {
    PubResponse {
        packet_id,
        code: reason(code),
        properties: acknowledgement_properties(properties),
    }
}

fn disconnect(theirs: theirs::Disconnect) -> Disconnect {
    Disconnect {
        code: reason(theirs.reason_code as u8),
        properties: theirs
            .properties
            .map_or_else(Properties::default, |p| Properties {
                session_expiry_interval: p.session_expiry_interval,
                reason_string: p.reason_string,
                user_properties: p.user_properties,
                server_reference: p.server_reference,
                ..Properties::default()
            }),
    }
}

fn disconnect_to_theirs(disconnect: &Disconnect) -> theirs::Disconnect {
    let p = &disconnect.properties;
    theirs::Disconnect {
        reason_code: theirs::DisconnectReasonCode::try_from(disconnect.code.as_u8()).unwrap(),
        properties: (!p.is_empty()).then(|| theirs::DisconnectProperties {
            session_expiry_interval: p.session_expiry_interval,
            reason_string: p.reason_string.clone(),
            user_properties: p.user_properties.clone(),
            server_reference: p.server_reference.clone(),
        }),
    }
}
