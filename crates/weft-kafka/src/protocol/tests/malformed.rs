//! Malformed input: every failure is the right [`DecodeError`], never a panic, and hostile
//! lengths never drive an allocation.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn decode(wire: &[u8]) -> Result<(RequestHeader, Request), DecodeError> {
    decode_request(Bytes::copy_from_slice(wire))
}

fn valid_frames() -> Vec<Bytes> {
    [
        (ApiKey::Produce, 9),
        (ApiKey::Produce, 3),
        (ApiKey::Fetch, 12),
        (ApiKey::Fetch, 4),
        (ApiKey::Metadata, 9),
        (ApiKey::Metadata, 1),
        (ApiKey::JoinGroup, 7),
        (ApiKey::OffsetFetch, 8),
        (ApiKey::CreateTopics, 7),
        (ApiKey::ApiVersions, 3),
    ]
    .into_iter()
    .map(|(key, version)| {
        let body = match key {
            ApiKey::Produce => Request::Produce(ProduceRequest {
                acks: 1,
                topics: vec![ProduceTopic {
                    name: "t".into(),
                    partitions: vec![ProducePartition {
                        index: 0,
                        records: Some(Bytes::from_static(b"records")),
                    }],
                }],
                ..ProduceRequest::default()
            }),
            ApiKey::Fetch => Request::Fetch(FetchRequest {
                topics: vec![FetchTopic {
                    topic: "t".into(),
                    partitions: vec![FetchPartition::default()],
                }],
                ..FetchRequest::default()
            }),
            ApiKey::Metadata => Request::Metadata(MetadataRequest::default()),
            ApiKey::JoinGroup => Request::JoinGroup(JoinGroupRequest {
                protocols: vec![JoinGroupRequestProtocol::default()],
                ..JoinGroupRequest::default()
            }),
            ApiKey::OffsetFetch => Request::OffsetFetch(OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup::default()],
                ..OffsetFetchRequest::default()
            }),
            ApiKey::CreateTopics => Request::CreateTopics(CreateTopicsRequest {
                topics: vec![CreatableTopic::default()],
                ..CreateTopicsRequest::default()
            }),
            _ => Request::ApiVersions(ApiVersionsRequest::default()),
        };
        encode_request(&header(key, version), &body).slice(4..)
    })
    .collect()
}

#[test]
fn empty_and_short_frames_are_malformed_without_a_header() {
    for wire in [&[][..], &[0, 18], &[0, 18, 0, 3, 0, 0, 0]] {
        assert!(matches!(
            decode(wire),
            Err(DecodeError::Malformed { header: None, .. })
        ));
    }
}

#[test]
fn unknown_api_key_keeps_the_header() {
    // Api key 21 (DeleteRecords) is not served.
    let wire = [0, 21, 0, 0, 0, 0, 0, 9, 0, 1, b'c', 0xde, 0xad];
    let Err(DecodeError::UnknownApi { header }) = decode(&wire) else {
        panic!("expected unknown api");
    };
    assert_eq!(header.api_key, 21);
    assert_eq!(header.correlation_id, 9);
    assert_eq!(header.client_id.as_deref(), Some("c"));
}

#[test]
fn negative_api_key_is_unknown() {
    let wire = [0xff, 0xff, 0, 0, 0, 0, 0, 9, 0xff, 0xff];
    assert!(matches!(decode(&wire), Err(DecodeError::UnknownApi { .. })));
}

#[test]
fn too_new_version_is_unsupported() {
    // ApiVersions v4: newer than Kafka 3.0's v3.
    let wire = [0, 18, 0, 4, 0, 0, 0, 5, 0, 1, b'c', 0, 0];
    let Err(DecodeError::UnsupportedVersion { header }) = decode(&wire) else {
        panic!("expected unsupported version");
    };
    assert_eq!(
        (header.api_key, header.api_version, header.correlation_id),
        (18, 4, 5)
    );
    // Fetch v13 (topic ids) is past 3.0 too.
    let wire = [0, 1, 0, 13, 0, 0, 0, 5, 0xff, 0xff];
    assert!(matches!(
        decode(&wire),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
}

#[test]
fn huge_array_length_is_rejected_before_allocating() {
    // DescribeGroups v0 with groups count i32::MAX and no elements.
    let wire = [0, 15, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff];
    let Err(DecodeError::Malformed {
        header: Some(header),
        reason,
    }) = decode(&wire)
    else {
        panic!("expected malformed");
    };
    assert_eq!(header.api_key, 15);
    assert!(reason.contains("array length"), "{reason}");
    // The same in a flexible version: compact count 0xffffffff - 1.
    let wire = [
        0, 15, 0, 5, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
    ];
    assert!(matches!(
        decode(&wire),
        Err(DecodeError::Malformed {
            header: Some(_),
            ..
        })
    ));
}

#[test]
fn negative_array_length_is_malformed() {
    let wire = [0, 15, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe];
    let Err(DecodeError::Malformed { reason, .. }) = decode(&wire) else {
        panic!("expected malformed");
    };
    assert!(reason.contains("negative"), "{reason}");
}

#[test]
fn null_non_nullable_array_is_malformed() {
    let wire = [0, 15, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(decode(&wire), Err(DecodeError::Malformed { .. })));
}

#[test]
fn string_past_the_end_is_malformed() {
    // SaslHandshake v0, mechanism length 10 with 3 bytes left.
    let wire = [0, 17, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 10, b'a', b'b', b'c'];
    let Err(DecodeError::Malformed {
        header: Some(_),
        reason,
    }) = decode(&wire)
    else {
        panic!("expected malformed");
    };
    assert!(reason.contains("truncated string"), "{reason}");
}

#[test]
fn client_id_past_the_end_is_malformed() {
    let wire = [0, 18, 0, 0, 0, 0, 0, 1, 0, 10, b'a'];
    assert!(matches!(
        decode(&wire),
        Err(DecodeError::Malformed { header: None, .. })
    ));
}

#[test]
fn invalid_utf8_is_malformed() {
    let wire = [0, 17, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 2, 0xc3, 0x28];
    assert!(matches!(decode(&wire), Err(DecodeError::Malformed { .. })));
}

#[test]
fn overlong_varint_is_malformed() {
    // ApiVersions v3 whose header tagged-field count never terminates.
    let wire = [
        0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
    ];
    assert!(matches!(decode(&wire), Err(DecodeError::Malformed { .. })));
}

#[test]
fn tagged_field_past_the_end_is_malformed() {
    // ApiVersions v3 header with one tagged field of size 100.
    let wire = [0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 1, 0, 100, 1, 2];
    assert!(matches!(decode(&wire), Err(DecodeError::Malformed { .. })));
}

#[test]
fn every_strict_prefix_of_a_valid_frame_is_an_error() {
    for frame in valid_frames() {
        assert!(decode_request(frame.clone()).is_ok());
        for len in 0..frame.len() {
            assert!(
                decode_request(frame.slice(..len)).is_err(),
                "{len} of {}",
                frame.len()
            );
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_request(Bytes::from(bytes));
    }

    #[test]
    fn arbitrary_bodies_behind_valid_headers_never_panic(
        key_index in 0..SUPPORTED_APIS.len(),
        version_seed in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let range = SUPPORTED_APIS[key_index];
        let span = (range.max - range.min + 1) as u16;
        let version = range.min + (version_seed % span) as i16;
        let mut wire = vec![];
        wire.extend_from_slice(&(range.key as i16).to_be_bytes());
        wire.extend_from_slice(&version.to_be_bytes());
        wire.extend_from_slice(&[0, 0, 0, 1, 0xff, 0xff]);
        wire.extend_from_slice(&body);
        let _ = decode_request(Bytes::from(wire));
    }

    #[test]
    fn truncations_and_bit_flips_never_panic(
        frame_index in 0..10usize,
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0..8u8), 0..4),
    ) {
        let frame = valid_frames()[frame_index].to_vec();
        let mut mutated = frame.clone();
        for (position, bit) in flips {
            let position = position.index(mutated.len());
            mutated[position] ^= 1 << bit;
        }
        let _ = decode_request(Bytes::from(mutated.clone()));
        let cut = cut.index(frame.len() + 1);
        mutated.truncate(cut);
        let _ = decode_request(Bytes::from(mutated));
    }
}
