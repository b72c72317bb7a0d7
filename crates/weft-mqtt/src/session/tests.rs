//! Session tests, one behaviour each, driven with explicit times.

mod delivery;
mod lifecycle;
mod publish;
mod simulation;
mod subscribe;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::*;
use crate::codec::{
    Connect, LastWill, Packet, Properties, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode,
    Subscribe, SubscriptionOptions,
};

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// A fixed instant plus `seconds`.
fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn at_ms(millis: u64) -> SystemTime {
    at(0) + Duration::from_millis(millis)
}

fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        version,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::default(),
        client_id: client_id.to_owned(),
        will: None,
        username: None,
        password: None,
    }
}

fn will(topic: &str, delay: Option<u32>) -> LastWill {
    let properties = Properties {
        will_delay_interval: delay,
        ..Properties::default()
    };
    LastWill {
        topic: topic.to_owned(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties,
    }
}

fn drain(session: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| session.poll_output()).collect()
}

fn sent(outputs: &[Output]) -> Vec<Packet> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Send(packet) => Some(packet.clone()),
            _ => None,
        })
        .collect()
}

fn publishes(outputs: &[Output]) -> Vec<Publish> {
    sent(outputs)
        .into_iter()
        .filter_map(|packet| match packet {
            Packet::Publish(publish) => Some(publish),
            _ => None,
        })
        .collect()
}

fn to_broker(outputs: &[Output]) -> Vec<(Message, Option<u16>)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Publish { message, ack } => Some((message.clone(), *ack)),
            _ => None,
        })
        .collect()
}

fn wills(outputs: &[Output]) -> Vec<Message> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::WillPublish(message) => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn closed_with(outputs: &[Output]) -> Option<ReasonCode> {
    outputs.iter().find_map(|output| match output {
        Output::Disconnect { reason } => Some(*reason),
        _ => None,
    })
}

fn disconnect_code(outputs: &[Output]) -> Option<ReasonCode> {
    sent(outputs).into_iter().find_map(|packet| match packet {
        Packet::Disconnect(disconnect) => Some(disconnect.code),
        _ => None,
    })
}

fn connack(outputs: &[Output]) -> crate::codec::ConnAck {
    sent(outputs)
        .into_iter()
        .find_map(|packet| match packet {
            Packet::ConnAck(connack) => Some(connack),
            _ => None,
        })
        .expect("a connack")
}

/// Runs CONNECT → ConnectRequest → accept and returns the session and its outputs.
fn connect_with(
    config: SessionConfig,
    connect: Connect,
    resumed: Option<SessionState>,
    now: SystemTime,
) -> (Session, Vec<Output>) {
    let mut session = Session::new(config, now);
    session.handle_packet(now, Packet::Connect(Box::new(connect)));
    let outputs = drain(&mut session);
    assert!(
        matches!(outputs.as_slice(), [Output::ConnectRequest(_)]),
        "{outputs:?}"
    );
    session.accept(now, resumed);
    let outputs = drain(&mut session);
    (session, outputs)
}

/// A connected v5 (or v3) session for client `c` with default config.
fn connected(version: ProtocolVersion) -> Session {
    connect_with(
        SessionConfig::default(),
        connect_packet(version, "c"),
        None,
        at(0),
    )
    .0
}

fn topic(name: &str) -> weft_core::Topic {
    weft_core::Topic::new(name).unwrap()
}

fn message(name: &str, qos: QoS) -> Message {
    let mut message = Message::new(topic(name), Bytes::from_static(b"payload"));
    message.qos = qos;
    message
}

fn delivery(name: &str, qos: QoS) -> Delivery {
    Delivery {
        message: message(name, qos),
        publisher: None,
        target: DeliveryTarget::Matching,
    }
}

fn subscribe_with(
    session: &mut Session,
    now: SystemTime,
    packet_id: u16,
    filters: &[(&str, SubscriptionOptions)],
    identifier: Option<u32>,
) -> Vec<Output> {
    let mut properties = Properties::default();
    properties.subscription_identifiers.extend(identifier);
    session.handle_packet(
        now,
        Packet::Subscribe(Subscribe {
            packet_id,
            properties,
            filters: filters
                .iter()
                .map(|(filter, options)| ((*filter).to_owned(), *options))
                .collect(),
        }),
    );
    drain(session)
}

fn subscribe(session: &mut Session, filter: &str, qos: QoS) -> Vec<Output> {
    subscribe_with(
        session,
        at(0),
        1,
        &[(filter, SubscriptionOptions::new(qos))],
        None,
    )
}

fn suback_codes(outputs: &[Output]) -> Vec<ReasonCode> {
    sent(outputs)
        .into_iter()
        .find_map(|packet| match packet {
            Packet::SubAck(suback) => Some(suback.codes),
            _ => None,
        })
        .expect("a suback")
}

fn client_publish(topic: &str, qos: QoS, packet_id: Option<u16>) -> Packet {
    let mut publish = Publish::new(topic, Bytes::from_static(b"hello"));
    publish.qos = qos;
    publish.packet_id = packet_id;
    Packet::Publish(publish)
}

fn puback(packet_id: u16) -> Packet {
    Packet::PubAck(PubResponse::new(packet_id))
}
