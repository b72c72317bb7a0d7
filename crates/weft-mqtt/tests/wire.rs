//! Raw bytes in, raw bytes out: the codec and the session driven together the way the
//! I/O layer will drive them, with replies asserted byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use weft_mqtt::codec::{self, ReasonCode};
use weft_mqtt::session::{Output, PublishOutcome, Session, SessionConfig};

/// A session behind a byte pipe that accepts every CONNECT and every publish.
struct Wire {
    session: Session,
    inbox: BytesMut,
    now: SystemTime,
    /// Non-packet outputs, for assertions.
    events: Vec<Output>,
}

impl Wire {
    fn new(config: SessionConfig) -> Self {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Self {
            session: Session::new(config, now),
            inbox: BytesMut::new(),
            now,
            events: Vec::new(),
        }
    }

    /// Feeds bytes from the client; returns the bytes the server writes back.
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.inbox.extend_from_slice(bytes);
        let mut out = BytesMut::new();
        loop {
            let max = self.session.max_inbound_packet_size();
            match codec::decode(&mut self.inbox, self.session.version(), max) {
                Ok(Some(packet)) => self.session.handle_packet(self.now, packet),
                Ok(None) => break,
                Err(error) => {
                    self.session.handle_decode_error(self.now, &error);
                    break;
                }
            }
            self.pump(&mut out);
        }
        self.pump(&mut out);
        out.to_vec()
    }

    fn pump(&mut self, out: &mut BytesMut) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Send(packet) => codec::encode(&packet, self.session.version(), out),
                Output::ConnectRequest(_) => self.session.accept(self.now, None),
                Output::Publish {
                    ack: Some(packet_id),
                    ..
                } => self.session.publish_completed(
                    self.now,
                    packet_id,
                    PublishOutcome::Accepted { matched: true },
                ),
                other => self.events.push(other),
            }
        }
    }
}

/// CONNECT for `version` (4 or 5) with client id "c" and clean start.
fn connect(level: u8) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', level, 0x02, 0, 60];
    if level == 5 {
        body.push(0); // no properties
    }
    body.extend_from_slice(&[0, 1, b'c']);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

#[test]
fn v3_connect_subscribe_publish_and_ping() {
    let mut wire = Wire::new(SessionConfig::default());
    assert_eq!(wire.feed(&connect(4)), [0x20, 2, 0, 0]);
    // SUBSCRIBE a/# at QoS 1 → SUBACK granted QoS 1.
    assert_eq!(
        wire.feed(&[0x82, 8, 0, 1, 0, 3, b'a', b'/', b'#', 1]),
        [0x90, 3, 0, 1, 1]
    );
    // PUBLISH QoS 1 → PUBACK once the broker accepted it.
    assert_eq!(
        wire.feed(&[0x32, 7, 0, 3, b'a', b'/', b'b', 0, 9]),
        [0x40, 2, 0, 9]
    );
    assert_eq!(wire.feed(&[0xC0, 0]), [0xD0, 0]);
}

#[test]
fn v5_connack_announces_limits_and_puback_omits_success() {
    let mut wire = Wire::new(SessionConfig::default());
    let connack = wire.feed(&connect(5));
    assert_eq!(&connack[..4], [0x20, connack[1], 0, 0]);
    assert_eq!(connack.len(), 2 + connack[1] as usize);
    assert_eq!(wire.feed(&[0x32, 6, 0, 1, b't', 0, 9, 0]), [0x40, 2, 0, 9]);
}

#[test]
fn bytes_arriving_one_at_a_time_make_the_same_reply() {
    let mut wire = Wire::new(SessionConfig::default());
    let mut reply = Vec::new();
    for byte in connect(4) {
        reply.extend(wire.feed(&[byte]));
    }
    assert_eq!(reply, [0x20, 2, 0, 0]);
}

#[test]
fn mqisdp_gets_unacceptable_protocol_version() {
    let mut wire = Wire::new(SessionConfig::default());
    let body = [
        0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 0x02, 0, 60, 0, 1, b'c',
    ];
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    assert_eq!(wire.feed(&packet), [0x20, 2, 0, 0x01]);
    assert!(wire.session.is_ended());
}

#[test]
fn packet_too_large_gets_disconnect_0x95_on_v5() {
    let config = SessionConfig {
        max_packet_size: 64,
        ..SessionConfig::default()
    };
    let mut wire = Wire::new(config);
    wire.feed(&connect(5));
    // A PUBLISH declaring 200 bytes: refused from its fixed header alone.
    let reply = wire.feed(&[0x30, 0xC8, 0x01]);
    assert_eq!(&reply[..3], [0xE0, reply[1], 0x95]);
    assert!(wire.events.contains(&Output::Disconnect {
        reason: ReasonCode::PacketTooLarge
    }));
}

#[test]
fn reserved_flags_get_disconnect_malformed_packet_on_v5() {
    let mut wire = Wire::new(SessionConfig::default());
    wire.feed(&connect(5));
    let reply = wire.feed(&[0xC1, 0]);
    assert_eq!(&reply[..3], [0xE0, reply[1], 0x81]);
}

#[test]
fn malformed_packet_on_v3_closes_silently() {
    let mut wire = Wire::new(SessionConfig::default());
    wire.feed(&connect(4));
    assert!(wire.feed(&[0xC1, 0]).is_empty());
    assert!(wire.events.contains(&Output::Disconnect {
        reason: ReasonCode::MalformedPacket
    }));
}

#[test]
fn wildcard_in_publish_topic_gets_topic_name_invalid() {
    let mut wire = Wire::new(SessionConfig::default());
    wire.feed(&connect(5));
    let reply = wire.feed(&[0x30, 6, 0, 3, b'a', b'/', b'+', 0]);
    assert_eq!(&reply[..3], [0xE0, reply[1], 0x90]);
}
