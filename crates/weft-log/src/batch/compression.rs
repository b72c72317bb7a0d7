//! The compression codecs of Kafka record batches (attributes bits 0-2).
//!
//! The log stores compressed batches exactly as producers sent them and decompresses only
//! to read records (reads by other protocols, compaction, dedupe rebuilds). Kafka clients
//! fetch the stored bytes unchanged and decompress themselves.
//!
//! | code | codec | wire format |
//! |---|---|---|
//! | 1 | gzip | a gzip stream (RFC 1952) |
//! | 2 | snappy | the xerial framing (`\x82SNAPPY\0`, then length-prefixed raw blocks) that the Java client writes, or one raw snappy block (what librdkafka writes) |
//! | 3 | lz4 | the LZ4 frame format |
//! | 4 | zstd | a zstd frame |
//!
//! Decompression stops at [`MAX_DECOMPRESSED_BYTES`] so a small batch cannot claim
//! unbounded memory.

use std::io::Read;

use bytes::Bytes;

use super::BatchError;

/// The most bytes one batch's records may decompress to.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// The xerial snappy stream header: magic, then version and compatible version.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

/// A record batch compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Records stored as they are.
    None,
    /// gzip.
    Gzip,
    /// snappy.
    Snappy,
    /// LZ4 frames.
    Lz4,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The codec in a batch's attributes, or `None` for codes 5-7 (undefined).
    pub fn from_attributes(attributes: i16) -> Option<Compression> {
        Some(match attributes & 0x07 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// The attributes bits of this codec.
    pub fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Its name, as Kafka's `compression.type` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Decompresses the records section of a batch compressed with `codec`.
pub(crate) fn decompress(codec: Compression, input: &[u8]) -> Result<Bytes, BatchError> {
    let failed = |reason: &'static str| BatchError::Decompress {
        codec: codec.code(),
        reason,
    };
    let bytes = match codec {
        Compression::None => return Ok(Bytes::copy_from_slice(input)),
        Compression::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(input))
            .map_err(|()| failed("invalid gzip stream"))?,
        Compression::Snappy => snappy(input).map_err(failed)?,
        Compression::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(input))
            .map_err(|()| failed("invalid lz4 frame"))?,
        Compression::Zstd => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(input)
                .map_err(|_| failed("invalid zstd frame header"))?;
            read_bounded(decoder).map_err(|()| failed("invalid zstd frame"))?
        }
    };
    Ok(Bytes::from(bytes))
}

/// Compresses `input` with `codec` (for tests and for writers that compress batches).
pub(crate) fn compress(codec: Compression, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match codec {
        Compression::None => input.to_vec(),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            // Writing to a Vec cannot fail.
            let _ = encoder.write_all(input);
            encoder.finish().unwrap_or_default()
        }
        Compression::Snappy => snap::raw::Encoder::new()
            .compress_vec(input)
            .unwrap_or_default(),
        Compression::Lz4 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            let _ = encoder.write_all(input);
            encoder.finish().unwrap_or_default()
        }
        Compression::Zstd => {
            ruzstd::encoding::compress_to_vec(input, ruzstd::encoding::CompressionLevel::Fastest)
        }
    }
}

/// Reads `reader` to the end, failing past [`MAX_DECOMPRESSED_BYTES`].
fn read_bounded(reader: impl Read) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let limit = MAX_DECOMPRESSED_BYTES as u64 + 1;
    reader.take(limit).read_to_end(&mut out).map_err(|_| ())?;
    if out.len() > MAX_DECOMPRESSED_BYTES {
        return Err(());
    }
    Ok(out)
}

fn snappy(input: &[u8]) -> Result<Vec<u8>, &'static str> {
    if !input.starts_with(XERIAL_MAGIC) {
        return snappy_block(input, 0);
    }
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or("truncated xerial snappy header")?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (length, tail) = rest
            .split_first_chunk::<4>()
            .ok_or("truncated xerial snappy block length")?;
        let length = usize::try_from(i32::from_be_bytes(*length))
            .map_err(|_| "negative xerial snappy block length")?;
        let block = tail.get(..length).ok_or("truncated xerial snappy block")?;
        out.extend_from_slice(&snappy_block(block, out.len())?);
        rest = &tail[length..];
    }
    Ok(out)
}

/// One raw snappy block, given that `already` bytes were decompressed before it.
fn snappy_block(block: &[u8], already: usize) -> Result<Vec<u8>, &'static str> {
    let length = snap::raw::decompress_len(block).map_err(|_| "invalid snappy block")?;
    if already.saturating_add(length) > MAX_DECOMPRESSED_BYTES {
        return Err("snappy block decompresses past the limit");
    }
    snap::raw::Decoder::new()
        .decompress_vec(block)
        .map_err(|_| "invalid snappy block")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn every_codec_round_trips() {
        let input: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in CODECS {
            let compressed = compress(codec, &input);
            let output = decompress(codec, &compressed).unwrap();
            assert_eq!(&output[..], &input[..], "{}", codec.name());
        }
    }

    #[test]
    fn xerial_framed_snappy_is_read() {
        let first = snap::raw::Encoder::new().compress_vec(b"hello ").unwrap();
        let second = snap::raw::Encoder::new().compress_vec(b"world").unwrap();
        let mut framed = XERIAL_MAGIC.to_vec();
        framed.extend_from_slice(&1i32.to_be_bytes());
        framed.extend_from_slice(&1i32.to_be_bytes());
        for block in [&first, &second] {
            framed.extend_from_slice(&(block.len() as i32).to_be_bytes());
            framed.extend_from_slice(block);
        }
        assert_eq!(
            &decompress(Compression::Snappy, &framed).unwrap()[..],
            b"hello world"
        );
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        for codec in &CODECS[1..] {
            let error = decompress(*codec, b"\x01\x02garbage bytes").unwrap_err();
            assert!(
                matches!(error, BatchError::Decompress { .. }),
                "{codec:?}: {error}"
            );
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; MAX_DECOMPRESSED_BYTES + 1];
        for codec in &CODECS[1..] {
            let compressed = compress(*codec, &zeros);
            assert!(decompress(*codec, &compressed).is_err(), "{}", codec.name());
        }
    }

    #[test]
    fn undefined_codes_are_none() {
        assert_eq!(Compression::from_attributes(5), None);
        assert_eq!(Compression::from_attributes(0x13), Some(Compression::Lz4));
    }
}
