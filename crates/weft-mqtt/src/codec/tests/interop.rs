//! Golden bytes for every packet type and every property it may carry, in MQTT 3.1.1 and
//! 5.0, checked three ways:
//!
//! 1. the bytes are written out by hand from the specification (each test names the
//!    section), never copied from our encoder's output;
//! 2. our encoder produces exactly those bytes and our decoder reads them back to the
//!    expected packet (the server decodes what clients send and encodes what it sends;
//!    the codec does both for every type, so both are checked for every type);
//! 3. an independent codec, mqttbytes, reads the same bytes to the same values, and our
//!    decoder reads what mqttbytes encodes from those values.
//!
//! Values are compared as whole structs: every field, user properties in order with
//! their repeated names. mqttbytes writes properties in its own order (MQTT lets a
//! sender choose), so its bytes are compared through our decoder, not byte for byte.
//! Where mqttbytes cannot take part (it has no AUTH; see each quirk at its test), the
//! bytes are checked against the specification by hand alone and the test says so.

use bytes::BytesMut;

use crate::codec::*;

mod connect;
mod control;
mod publish;
mod round_trip;
mod subscribe;
mod theirs_v4;
mod theirs_v5;

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn s(text: &str) -> String {
    text.to_owned()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(name, value)| (s(name), s(value)))
        .collect()
}

fn ours_encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out);
    out.to_vec()
}

/// Our decoding of `bytes`, which must be exactly one packet.
fn ours_decode(bytes: &[u8], version: ProtocolVersion) -> Packet {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, version, MAX_PACKET_SIZE)
        .unwrap_or_else(|error| panic!("we refuse {bytes:02X?}: {error}"))
        .unwrap_or_else(|| panic!("we want more bytes after {bytes:02X?}"));
    assert!(buf.is_empty(), "left over: {buf:02X?}");
    packet
}

fn theirs_decode(bytes: &[u8], version: ProtocolVersion) -> Result<Packet, mqttbytes::Error> {
    match version {
        ProtocolVersion::V311 => theirs_v4::decode(bytes),
        ProtocolVersion::V5 => theirs_v5::decode(bytes),
    }
}

fn theirs_encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    match version {
        ProtocolVersion::V311 => theirs_v4::encode(packet),
        ProtocolVersion::V5 => theirs_v5::encode(packet),
    }
}

/// Step 2 of the module docs: our encoder gives exactly `golden` (and `encoded_len`
/// agrees), and our decoder reads `golden` as `packet`.
fn check_ours(golden: &[u8], version: ProtocolVersion, packet: &Packet) {
    assert_eq!(
        ours_encode(packet, version),
        golden,
        "our encoding of {packet:?}"
    );
    assert_eq!(packet.encoded_len(version), golden.len(), "encoded_len");
    assert_eq!(ours_decode(golden, version), *packet, "our decoding");
}

/// Steps 2 and 3 of the module docs.
fn check(golden: &[u8], version: ProtocolVersion, packet: Packet) {
    check_ours(golden, version, &packet);
    let theirs = theirs_decode(golden, version)
        .unwrap_or_else(|error| panic!("mqttbytes refuses {golden:02X?}: {error:?}"));
    assert_eq!(theirs, packet, "mqttbytes' decoding of {golden:02X?}");
    let their_bytes = theirs_encode(&packet, version);
    assert_eq!(
        ours_decode(&their_bytes, version),
        packet,
        "our decoding of mqttbytes' {their_bytes:02X?}"
    );
}
