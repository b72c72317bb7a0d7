//! Round trips: every API, every served version (so min, max and both sides of each
//! flexible boundary), request and response. Samples are in `samples`.

use super::samples::{sample_request, sample_response};
use super::*;

/// All served versions, which covers min, max and both sides of each flexible boundary.
fn versions(range: &ApiRange) -> impl Iterator<Item = i16> {
    range.min..=range.max
}

#[test]
fn every_request_round_trips_at_every_version() {
    for range in SUPPORTED_APIS {
        for version in versions(range) {
            let request = sample_request(range.key, version);
            let header = header(range.key, version);
            let encoded = encode_request(&header, &request);
            let (decoded_header, decoded) = decode_request(encoded.slice(4..))
                .unwrap_or_else(|error| panic!("{:?} v{version}: {error}", range.key));
            assert_eq!(decoded_header, header, "{:?} v{version}", range.key);
            assert_eq!(decoded, request, "{:?} v{version}", range.key);
            let size = i32::from_be_bytes(encoded[..4].try_into().unwrap());
            assert_eq!(size as usize, encoded.len() - 4);
        }
    }
}

#[test]
fn every_response_round_trips_at_every_version() {
    for range in SUPPORTED_APIS {
        for version in versions(range) {
            let response = sample_response(range.key, version);
            let frame = encode_response(&header(range.key, version), &response).to_bytes();
            let size = i32::from_be_bytes(frame[..4].try_into().unwrap());
            assert_eq!(size as usize, frame.len() - 4, "{:?} v{version}", range.key);
            let decoded = decode_response(range.key as i16, version, frame.slice(4..))
                .unwrap_or_else(|error| panic!("{:?} v{version}: {error}", range.key));
            assert_eq!(decoded, response, "{:?} v{version}", range.key);
        }
    }
}

#[test]
fn flexible_versions_change_the_encoding() {
    // On each side of the flexible boundary the same request must encode differently
    // in its header: request header v2 adds one tagged-field byte after the client id.
    for range in SUPPORTED_APIS {
        let first_flexible = (range.min..=range.max).find(|&v| range.key.is_flexible(v));
        let Some(flexible) = first_flexible else {
            assert_eq!(range.key, ApiKey::SaslHandshake);
            continue;
        };
        let encoded = encode_request(
            &header(range.key, flexible),
            &sample_request(range.key, flexible),
        );
        // size(4) api key(2) version(2) correlation(4) client id(2 + 2), then tags.
        assert_eq!(encoded[16], 0, "{:?} v{flexible}", range.key);
        if flexible > range.min {
            assert!(!range.key.is_flexible(flexible - 1));
        }
    }
}

#[test]
fn supported_apis_match_kafka_3_0() {
    let table: Vec<(i16, i16, i16)> = SUPPORTED_APIS
        .iter()
        .map(|range| (range.key as i16, range.min, range.max))
        .collect();
    assert_eq!(
        table,
        vec![
            (0, 0, 9),
            (1, 0, 12),
            (2, 0, 7),
            (3, 0, 11),
            (8, 0, 8),
            (9, 0, 8),
            (10, 0, 4),
            (11, 0, 7),
            (12, 0, 4),
            (13, 0, 4),
            (14, 0, 5),
            (15, 0, 5),
            (16, 0, 4),
            (17, 0, 1),
            (18, 0, 3),
            (19, 0, 7),
            (20, 0, 6),
            (22, 0, 4),
            (32, 0, 4),
            (36, 0, 2),
            (37, 0, 3),
            (42, 0, 2),
            (44, 0, 1),
            (60, 0, 0),
        ]
    );
}
