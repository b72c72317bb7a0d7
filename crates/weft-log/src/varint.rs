//! Zigzag variable-length integers, as used inside Kafka records (protobuf style).

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended in the middle of the varint.
    Incomplete,
    /// More continuation bytes than the type can hold.
    TooLong,
}

/// Appends `value` as a zigzag varint (at most 5 bytes).
pub(crate) fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_unsigned(out, u64::from(((value << 1) ^ (value >> 31)) as u32));
}

/// Appends `value` as a zigzag varlong (at most 10 bytes).
pub(crate) fn put_varlong(out: &mut Vec<u8>, value: i64) {
    put_unsigned(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_unsigned(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Number of bytes `put_varint(value)` writes.
pub(crate) fn varint_len(value: i32) -> usize {
    let mut zigzag = ((value << 1) ^ (value >> 31)) as u32;
    let mut len = 1;
    while zigzag >= 0x80 {
        zigzag >>= 7;
        len += 1;
    }
    len
}

/// Reads a zigzag varint from the front of `input`, advancing it.
pub(crate) fn get_varint(input: &mut &[u8]) -> Result<i32, VarintError> {
    let raw = get_unsigned(input, 5)?;
    let raw = u32::try_from(raw).map_err(|_| VarintError::TooLong)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zigzag varlong from the front of `input`, advancing it.
pub(crate) fn get_varlong(input: &mut &[u8]) -> Result<i64, VarintError> {
    let raw = get_unsigned(input, 10)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn get_unsigned(input: &mut &[u8], max_bytes: usize) -> Result<u64, VarintError> {
    let mut value: u64 = 0;
    for index in 0..max_bytes {
        let Some((&byte, rest)) = input.split_first() else {
            return Err(VarintError::Incomplete);
        };
        *input = rest;
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(VarintError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints_match_the_protobuf_encoding() {
        let cases: [(i32, &[u8]); 6] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (64, &[0x80, 0x01]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(varint_len(value), bytes.len());
            let mut input = bytes;
            assert_eq!(get_varint(&mut input), Ok(value));
            assert!(input.is_empty());
        }
    }

    #[test]
    fn varlongs_round_trip_at_the_extremes() {
        for value in [0, -1, 1, i64::MIN, i64::MAX, 1_700_000_000_000] {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            let mut input = out.as_slice();
            assert_eq!(get_varlong(&mut input), Ok(value));
        }
    }

    #[test]
    fn truncated_varint_is_incomplete_and_overlong_is_rejected() {
        let mut input: &[u8] = &[0x80];
        assert_eq!(get_varint(&mut input), Err(VarintError::Incomplete));
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(get_varint(&mut input), Err(VarintError::TooLong));
    }
}
