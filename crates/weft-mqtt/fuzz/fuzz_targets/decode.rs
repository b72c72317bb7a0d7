//! Decodes arbitrary bytes as MQTT 3.1.1 and 5.0 packets. The decoder must never panic,
//! and every packet it accepts must encode to bytes that decode to the same packet.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weft_mqtt::codec::{self, ProtocolVersion};

fuzz_target!(|data: &[u8]| {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut buf = BytesMut::from(data);
        while let Ok(Some(packet)) = codec::decode(&mut buf, version, 64 * 1024) {
            let version = match &packet {
                codec::Packet::Connect(connect) => connect.version,
                _ => version,
            };
            let mut encoded = BytesMut::new();
            codec::encode(&packet, version, &mut encoded);
            assert_eq!(packet.encoded_len(version), encoded.len());
            let again = codec::decode(&mut encoded, version, usize::MAX);
            assert_eq!(again, Ok(Some(packet)));
        }
    }
});
