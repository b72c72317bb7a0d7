//! Our MQTT 3.1.1 packets ↔ mqttbytes' `v4` structs (3.1.1 is protocol level 4).

use bytes::{Bytes, BytesMut};
use mqttbytes::v4 as theirs;

use crate::codec::*;

/// mqttbytes' decoding of one whole MQTT 3.1.1 packet, as our [`Packet`].
pub(super) fn decode(bytes: &[u8]) -> Result<Packet, mqttbytes::Error> {
    let header = mqttbytes::check(bytes.iter(), usize::MAX)?;
    assert_eq!(
        header.frame_length(),
        bytes.len(),
        "mqttbytes frames another length"
    );
    let mut stream = BytesMut::from(bytes);
    Ok(match theirs::read(&mut stream, usize::MAX)? {
        theirs::Packet::Connect(connect) => Packet::Connect(Box::new(Connect {
            version: match connect.protocol {
                mqttbytes::Protocol::V4 => ProtocolVersion::V311,
                mqttbytes::Protocol::V5 => ProtocolVersion::V5,
            },
            clean_start: connect.clean_session,
            keep_alive: connect.keep_alive,
            properties: Properties::default(),
            client_id: connect.client_id,
            will: connect.last_will.map(|will| LastWill {
                topic: will.topic,
                payload: will.message,
                qos: qos(will.qos),
                retain: will.retain,
                properties: Properties::default(),
            }),
            // Credentials are two strings there, empty meaning absent.
            username: connect
                .login
                .as_ref()
                .and_then(|login| (!login.username.is_empty()).then(|| login.username.clone())),
            password: connect.login.and_then(|login| {
                (!login.password.is_empty()).then(|| Bytes::from(login.password))
            }),
        })),
        theirs::Packet::ConnAck(connack) => Packet::ConnAck(ConnAck::new(
            connack.session_present,
            ReasonCode::from_v3_connack(connack.code as u8).unwrap(),
        )),
        theirs::Packet::Publish(publish) => Packet::Publish(Publish {
            dup: publish.dup,
            qos: qos(publish.qos),
            retain: publish.retain,
            topic: publish.topic,
            packet_id: (publish.qos != mqttbytes::QoS::AtMostOnce).then_some(publish.pkid),
            properties: Properties::default(),
            payload: publish.payload,
        }),
        theirs::Packet::PubAck(ack) => Packet::PubAck(PubResponse::new(ack.pkid)),
        theirs::Packet::PubRec(ack) => Packet::PubRec(PubResponse::new(ack.pkid)),
        theirs::Packet::PubRel(ack) => Packet::PubRel(PubResponse::new(ack.pkid)),
        theirs::Packet::PubComp(ack) => Packet::PubComp(PubResponse::new(ack.pkid)),
        theirs::Packet::Subscribe(subscribe) => Packet::Subscribe(Subscribe {
            packet_id: subscribe.pkid,
            properties: Properties::default(),
            filters: subscribe
                .filters
                .into_iter()
                .map(|filter| (filter.path, SubscriptionOptions::new(qos(filter.qos))))
                .collect(),
        }),
        theirs::Packet::SubAck(suback) => Packet::SubAck(SubAck {
            packet_id: suback.pkid,
            properties: Properties::default(),
            codes: suback
                .return_codes
                .iter()
                .map(|code| match code {
                    theirs::SubscribeReasonCode::Success(granted) => {
                        ReasonCode::from_u8(*granted as u8).unwrap()
                    }
                    theirs::SubscribeReasonCode::Failure => ReasonCode::UnspecifiedError,
                })
                .collect(),
        }),
        theirs::Packet::Unsubscribe(unsubscribe) => Packet::Unsubscribe(Unsubscribe {
            packet_id: unsubscribe.pkid,
            properties: Properties::default(),
            filters: unsubscribe.topics,
        }),
        theirs::Packet::UnsubAck(unsuback) => Packet::UnsubAck(UnsubAck {
            packet_id: unsuback.pkid,
            properties: Properties::default(),
            codes: Vec::new(),
        }),
        theirs::Packet::PingReq => Packet::PingReq,
        theirs::Packet::PingResp => Packet::PingResp,
        theirs::Packet::Disconnect => Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    })
}

/// mqttbytes' encoding of our `packet` as MQTT 3.1.1.
pub(super) fn encode(packet: &Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    let written = match packet {
        Packet::Connect(connect) => {
            let login =
                (connect.username.is_some() || connect.password.is_some()).then(|| theirs::Login {
                    username: connect.username.clone().unwrap_or_default(),
                    password: connect
                        .password
                        .as_ref()
                        .map(|password| String::from_utf8(password.to_vec()).unwrap())
                        .unwrap_or_default(),
                });
            theirs::Connect {
                protocol: mqttbytes::Protocol::V4,
                keep_alive: connect.keep_alive,
                client_id: connect.client_id.clone(),
                clean_session: connect.clean_start,
                last_will: connect.will.as_ref().map(|will| theirs::LastWill {
                    topic: will.topic.clone(),
                    message: will.payload.clone(),
                    qos: their_qos(will.qos),
                    retain: will.retain,
                }),
                login,
            }
            .write(&mut out)
        }
        Packet::ConnAck(connack) => theirs::ConnAck {
            session_present: connack.session_present,
            code: CONNACK[usize::from(connack.code.to_v3_connack())],
        }
        .write(&mut out),
        Packet::Publish(publish) => theirs::Publish {
            dup: publish.dup,
            qos: their_qos(publish.qos),
            retain: publish.retain,
            topic: publish.topic.clone(),
            pkid: publish.packet_id.unwrap_or(0),
            payload: publish.payload.clone(),
        }
        .write(&mut out),
        Packet::PubAck(ack) => theirs::PubAck::new(ack.packet_id).write(&mut out),
        Packet::PubRec(ack) => theirs::PubRec::new(ack.packet_id).write(&mut out),
        Packet::PubRel(ack) => theirs::PubRel::new(ack.packet_id).write(&mut out),
        Packet::PubComp(ack) => theirs::PubComp::new(ack.packet_id).write(&mut out),
        Packet::Subscribe(subscribe) => theirs::Subscribe {
            pkid: subscribe.packet_id,
            filters: subscribe
                .filters
                .iter()
                .map(|(path, options)| {
                    theirs::SubscribeFilter::new(path.clone(), their_qos(options.qos))
                })
                .collect(),
        }
        .write(&mut out),
        Packet::SubAck(suback) => theirs::SubAck {
            pkid: suback.packet_id,
            return_codes: suback
                .codes
                .iter()
                .map(|code| {
                    theirs::SubscribeReasonCode::try_from(if code.is_error() {
                        0x80
                    } else {
                        code.as_u8()
                    })
                    .unwrap()
                })
                .collect(),
        }
        .write(&mut out),
        Packet::Unsubscribe(unsubscribe) => theirs::Unsubscribe {
            pkid: unsubscribe.packet_id,
            topics: unsubscribe.filters.clone(),
        }
        .write(&mut out),
        Packet::UnsubAck(unsuback) => theirs::UnsubAck::new(unsuback.packet_id).write(&mut out),
        Packet::PingReq => theirs::PingReq.write(&mut out),
        Packet::PingResp => theirs::PingResp.write(&mut out),
        Packet::Disconnect(_) => theirs::Disconnect.write(&mut out),
        Packet::Auth(_) => panic!("there is no AUTH in MQTT 3.1.1"),
    };
    written.unwrap();
    out.to_vec()
}

/// The 3.1.1 CONNACK return codes 0 to 5, indexed by value.
const CONNACK: [theirs::ConnectReturnCode; 6] = [
    theirs::ConnectReturnCode::Success,
    theirs::ConnectReturnCode::RefusedProtocolVersion,
    theirs::ConnectReturnCode::BadClientId,
    theirs::ConnectReturnCode::ServiceUnavailable,
    theirs::ConnectReturnCode::BadUserNamePassword,
    theirs::ConnectReturnCode::NotAuthorized,
];

fn qos(qos: mqttbytes::QoS) -> QoS {
    QoS::from_u8(qos as u8).unwrap()
}

fn their_qos(qos: QoS) -> mqttbytes::QoS {
    mqttbytes::qos(qos.as_u8()).unwrap()
}
