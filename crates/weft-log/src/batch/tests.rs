use bytes::Bytes;

use super::*;
use crate::offset::Offset;

fn record(timestamp_ms: i64, key: Option<&str>, value: Option<&str>) -> Record {
    Record {
        timestamp_ms,
        key: key.map(|key| Bytes::copy_from_slice(key.as_bytes())),
        value: value.map(|value| Bytes::copy_from_slice(value.as_bytes())),
        headers: Vec::new(),
    }
}

/// One record, key "k", value "v", timestamp 1000, base offset 5, computed by hand
/// from the Kafka v2 layout.
fn golden_batch() -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&5i64.to_be_bytes()); // baseOffset
    bytes.extend_from_slice(&58i32.to_be_bytes()); // batchLength = 70 - 12
    bytes.extend_from_slice(&(-1i32).to_be_bytes()); // partitionLeaderEpoch
    bytes.push(2); // magic
    bytes.extend_from_slice(&[0, 0, 0, 0]); // crc, filled below
    bytes.extend_from_slice(&0i16.to_be_bytes()); // attributes
    bytes.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
    bytes.extend_from_slice(&1000i64.to_be_bytes()); // baseTimestamp
    bytes.extend_from_slice(&1000i64.to_be_bytes()); // maxTimestamp
    bytes.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    bytes.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    bytes.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    bytes.extend_from_slice(&1i32.to_be_bytes()); // records count
    // record: length 8 (zigzag 0x10), attributes, tsDelta 0, offsetDelta 0,
    // keyLen 1 (0x02) 'k', valueLen 1 (0x02) 'v', headers 0
    bytes.extend_from_slice(&[0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00]);
    bytes
}

#[test]
fn crc32c_is_the_castagnoli_polynomial() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn builder_produces_the_hand_computed_bytes() {
    let mut expected = golden_batch();
    assert_eq!(expected.len(), 70);
    let crc = crc32c::crc32c(&expected[21..]);
    expected[17..21].copy_from_slice(&crc.to_be_bytes());
    let encoded = encode_batch(Offset::new(5), &[record(1000, Some("k"), Some("v"))]).unwrap();
    assert_eq!(encoded.as_ref(), expected.as_slice());
    // Pinned so that a change of CRC input range is caught even if both sides move.
    assert_eq!(crc, 0x716a_6189, "crc was {crc:#010x}");
}

#[test]
fn view_reads_back_records_with_offsets_headers_and_nulls() {
    let records = vec![
        Record {
            timestamp_ms: 2000,
            key: None,
            value: Some(Bytes::from_static(b"first")),
            headers: vec![
                ("h".to_owned(), Some(Bytes::from_static(b"x"))),
                ("n".to_owned(), None),
            ],
        },
        record(1500, Some("key"), None),
        record(2500, Some(""), Some("")),
    ];
    let encoded = encode_batch(Offset::new(40), &records).unwrap();
    let view = BatchView::parse(encoded).unwrap();
    assert_eq!(view.base_offset(), Offset::new(40));
    assert_eq!(view.last_offset(), Offset::new(42));
    assert_eq!(view.header().max_timestamp, 2500);
    assert_eq!(view.header().base_timestamp, 2000);
    let decoded: Vec<_> = view.records().map(|entry| entry.unwrap()).collect();
    let offsets: Vec<u64> = decoded.iter().map(|(offset, _)| offset.get()).collect();
    assert_eq!(offsets, [40, 41, 42]);
    let decoded: Vec<Record> = decoded.into_iter().map(|(_, record)| record).collect();
    assert_eq!(decoded, records);
    view.validate_records().unwrap();
}

#[test]
fn flipped_payload_bit_is_a_crc_mismatch() {
    let mut bytes = encode_batch(Offset::ZERO, &[record(1, Some("k"), Some("value"))])
        .unwrap()
        .to_vec();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    let error = BatchView::parse(Bytes::from(bytes)).unwrap_err();
    assert!(matches!(error, BatchError::CrcMismatch { .. }), "{error}");
    assert!(!error.is_incomplete());
}

#[test]
fn truncated_batch_needs_more_bytes_at_every_cut() {
    let bytes = encode_batch(Offset::ZERO, &[record(1, Some("k"), Some("value"))]).unwrap();
    for cut in 0..bytes.len() {
        let error = BatchView::parse_prefix(&bytes.slice(..cut)).unwrap_err();
        assert!(error.is_incomplete(), "cut at {cut}: {error}");
    }
}

#[test]
fn wrong_magic_and_short_length_are_corrupt_not_incomplete() {
    let mut bytes = encode_batch(Offset::ZERO, &[record(1, None, None)])
        .unwrap()
        .to_vec();
    bytes[16] = 1;
    let error = BatchView::parse_prefix(&Bytes::from(bytes.clone())).unwrap_err();
    assert_eq!(error, BatchError::UnsupportedMagic { magic: 1 });
    bytes[16] = 2;
    bytes[8..12].copy_from_slice(&10i32.to_be_bytes());
    let error = BatchView::parse_prefix(&Bytes::from(bytes)).unwrap_err();
    assert_eq!(error, BatchError::InvalidLength { length: 10 });
    // Zeroes (a preallocated or zero-filled tail) are corrupt, not a batch to wait for.
    let error = BatchView::parse_prefix(&Bytes::from(vec![0u8; 64])).unwrap_err();
    assert!(!error.is_incomplete());
}

#[test]
fn rewriting_the_base_offset_keeps_the_crc_valid() {
    let mut bytes = encode_batch(
        Offset::ZERO,
        &[record(1, Some("a"), Some("b")), record(2, None, None)],
    )
    .unwrap()
    .to_vec();
    rewrite_base_offset(&mut bytes, Offset::new(1234)).unwrap();
    let view = BatchView::parse(Bytes::from(bytes)).unwrap();
    assert_eq!(view.base_offset(), Offset::new(1234));
    let offsets: Vec<u64> = view.records().map(|entry| entry.unwrap().0.get()).collect();
    assert_eq!(offsets, [1234, 1235]);
}

#[test]
fn compressed_batches_decode_with_every_codec() {
    use crate::{Compression, Producer};
    let records: Vec<Record> = (0..20)
        .map(|i| {
            record(
                i,
                Some("key"),
                Some("a value that compresses well, well, well"),
            )
        })
        .collect();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut builder = BatchBuilder::new(Offset::new(7))
            .with_compression(codec)
            .with_producer(Producer {
                id: 42,
                epoch: 3,
                base_sequence: 100,
            });
        for record in &records {
            builder.push(record).unwrap();
        }
        let view = BatchView::parse(builder.finish().unwrap()).unwrap();
        assert_eq!(view.header().compression(), codec.code());
        assert_eq!(view.header().producer_id, 42);
        assert_eq!(view.header().base_sequence, 100);
        let decoded: Vec<(u64, Record)> = view
            .records()
            .map(|entry| entry.map(|(offset, record)| (offset.get(), record)))
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(u64, Record)> = (7..).zip(records.iter().cloned()).collect();
        assert_eq!(decoded, expected, "{}", codec.name());
        view.validate_records().unwrap();
    }
}

#[test]
fn undecodable_compressed_records_are_one_error() {
    let mut bytes = encode_batch(Offset::ZERO, &[record(1, None, Some("v"))])
        .unwrap()
        .to_vec();
    bytes[22] |= 0x04; // zstd, but the records are not zstd
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    let view = BatchView::parse(Bytes::from(bytes)).unwrap();
    let results: Vec<_> = view.records().collect();
    assert!(matches!(
        results.as_slice(),
        [Err(BatchError::Decompress { codec: 4, .. })]
    ));
}

#[test]
fn trailing_bytes_after_one_batch_are_rejected_by_parse() {
    let mut bytes = encode_batch(Offset::ZERO, &[record(1, None, None)])
        .unwrap()
        .to_vec();
    bytes.push(0);
    assert_eq!(
        BatchView::parse(Bytes::from(bytes)).unwrap_err(),
        BatchError::TrailingBytes { extra: 1 }
    );
}

#[test]
fn empty_batch_cannot_be_built() {
    assert_eq!(
        encode_batch(Offset::ZERO, &[]).unwrap_err(),
        EncodeError::Empty
    );
}
