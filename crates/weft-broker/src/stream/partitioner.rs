//! Choosing a partition: Kafka's default partitioner, so keyed events land where a Kafka
//! producer would put them.

use bytes::Bytes;
use weft_core::Event;

/// The name of the CloudEvents extension whose value partitions keyless events.
pub const PARTITION_KEY_EXTENSION: &str = "partitionkey";

/// The bytes an event is partitioned by: its key, else the canonical string form of its
/// `partitionkey` extension as UTF-8; `None` when it has neither.
pub(crate) fn partition_key(event: &Event) -> Option<Bytes> {
    if let Some(key) = &event.key {
        return Some(key.clone());
    }
    event
        .cloudevent
        .attributes
        .get(PARTITION_KEY_EXTENSION)
        .map(|value| Bytes::from(value.canonical().into_owned()))
}

/// The partition of `key` among `partitions` (> 0): `toPositive(murmur2(key)) %
/// partitions`, as Kafka's `DefaultPartitioner` computes it.
pub(crate) fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    let positive = (murmur2(key) & 0x7fff_ffff) as u32;
    positive % partitions.max(1)
}

/// Kafka's `Utils.murmur2`: MurmurHash2, 32-bit, seed `0x9747b28c`, as a Java `int`.
pub(super) fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java's `int` arithmetic wraps; the length enters as an int.
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_utils_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2 and librdkafka's rdmurmur2.c.
        let cases: [(&[u8], i32); 7] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
            (b"kafka", -798_503_068),
        ];
        for (data, expected) in cases {
            assert_eq!(
                murmur2(data),
                expected,
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn empty_key_hashes_like_kafka() {
        // h = seed ^ 0, then the final mix only: computed by hand from the algorithm.
        let mut h: u32 = 0x9747_b28c;
        h ^= h >> 13;
        h = h.wrapping_mul(0x5bd1_e995);
        h ^= h >> 15;
        assert_eq!(murmur2(b""), h as i32);
    }

    #[test]
    fn partition_is_the_positive_hash_modulo_the_partition_count() {
        // murmur2("abc") = 479470107 (positive): 479470107 % 10 = 7.
        assert_eq!(partition_for_key(b"abc", 10), 7);
        // murmur2("21") = -973932308; & 0x7fffffff = 1173551340; % 7 = 1173551340 - 7*167650191 = 3.
        assert_eq!(partition_for_key(b"21", 7), 3);
        for partitions in 1..50 {
            assert_eq!(
                partition_for_key(b"order-17", partitions),
                partition_for_key(b"order-17", partitions)
            );
            assert!(partition_for_key(b"order-17", partitions) < partitions);
        }
    }
}
