//! Deterministic simulation: a session and a model client exchange QoS 1 and 2 messages
//! while the network drops acknowledgements and the client reconnects at random points.
//! Whatever happens, every QoS 1 message reaches the client at least once, every QoS 2
//! message exactly once, and no packet identifier is used twice at the same time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone, Copy)]
enum Step {
    /// The broker delivers a new message with this QoS.
    Deliver(QoS),
    /// The client sends its oldest pending response.
    Respond,
    /// The connection drops (pending responses are lost) and the client reconnects.
    Reconnect,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop_oneof![Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)].prop_map(Step::Deliver),
        4 => Just(Step::Respond),
        1 => Just(Step::Reconnect),
    ]
}

/// The client side of the protocol, as a correct client implements it.
#[derive(Default)]
struct ModelClient {
    /// Responses not yet sent, oldest first.
    pending: VecDeque<Packet>,
    /// QoS 2 ids received and not yet released (the client's method B).
    awaiting_pubrel: BTreeSet<u16>,
    /// Application deliveries by payload.
    received: BTreeMap<u32, usize>,
    /// Ids of QoS 1/2 publishes the client has seen and not yet completed.
    open_ids: BTreeSet<u16>,
}

impl ModelClient {
    fn receive(&mut self, packets: Vec<Packet>) {
        for packet in packets {
            match packet {
                Packet::Publish(publish) => {
                    let packet_id = publish.packet_id.expect("qos 1/2");
                    let payload = u32::from_be_bytes(publish.payload[..4].try_into().unwrap());
                    if !publish.dup {
                        assert!(
                            self.open_ids.insert(packet_id),
                            "packet id {packet_id} reused while in use"
                        );
                    }
                    self.open_ids.insert(packet_id);
                    match publish.qos {
                        QoS::AtLeastOnce => {
                            *self.received.entry(payload).or_default() += 1;
                            self.pending.push_back(puback(packet_id));
                        }
                        _ => {
                            if self.awaiting_pubrel.insert(packet_id) {
                                *self.received.entry(payload).or_default() += 1;
                            }
                            self.pending
                                .push_back(Packet::PubRec(PubResponse::new(packet_id)));
                        }
                    }
                }
                Packet::PubRel(response) => {
                    self.awaiting_pubrel.remove(&response.packet_id);
                    self.pending
                        .push_back(Packet::PubComp(PubResponse::new(response.packet_id)));
                }
                _ => {}
            }
        }
    }

    /// The next response; closes the id when the exchange ends with it.
    fn respond(&mut self) -> Option<Packet> {
        let packet = self.pending.pop_front()?;
        match &packet {
            Packet::PubAck(response) | Packet::PubComp(response) => {
                self.open_ids.remove(&response.packet_id);
            }
            _ => {}
        }
        Some(packet)
    }
}

fn connect() -> Connect {
    let mut connect = connect_packet(V5, "sim");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(3600);
    connect.properties.receive_maximum = Some(3);
    connect
}

fn run(session: &mut Session, client: &mut ModelClient) {
    client.receive(sent(&drain(session)));
}

proptest! {
    #[test]
    fn qos1_at_least_once_and_qos2_exactly_once_across_reconnects(
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let (mut session, _) = connect_with(SessionConfig::default(), connect(), None, at(0));
        subscribe(&mut session, "t", QoS::ExactlyOnce);
        let mut client = ModelClient::default();
        let mut sent_qos = BTreeMap::new();
        let mut now = 1;
        for step in steps {
            now += 1;
            match step {
                Step::Deliver(qos) => {
                    let payload = sent_qos.len() as u32;
                    let mut delivery = delivery("t", qos);
                    delivery.message.payload = Bytes::copy_from_slice(&payload.to_be_bytes());
                    sent_qos.insert(payload, qos);
                    session.handle_delivery(at(now), delivery);
                }
                Step::Respond => {
                    if let Some(packet) = client.respond() {
                        session.handle_packet(at(now), packet);
                    }
                }
                Step::Reconnect => {
                    session.connection_lost(at(now));
                    drain(&mut session);
                    client.pending.clear();
                    // Everything still open is resent with DUP after the reconnect.
                    client.open_ids.clear();
                    let state = session.take_over(at(now), false).expect("resumable");
                    drain(&mut session);
                    let (resumed, outputs) =
                        connect_with(SessionConfig::default(), connect(), Some(state), at(now));
                    session = resumed;
                    client.receive(sent(&outputs));
                }
            }
            run(&mut session, &mut client);
        }
        // Let the client answer everything.
        for _ in 0..10_000 {
            let Some(packet) = client.respond() else { break };
            now += 1;
            session.handle_packet(at(now), packet);
            run(&mut session, &mut client);
        }
        prop_assert!(session.state().inflight.is_empty());
        prop_assert!(session.state().queue.is_empty());
        for (payload, qos) in sent_qos {
            let count = client.received.get(&payload).copied().unwrap_or(0);
            match qos {
                QoS::ExactlyOnce => prop_assert_eq!(count, 1, "qos 2 message {}", payload),
                _ => prop_assert!(count >= 1, "qos 1 message {} lost", payload),
            }
        }
    }
}
