//! Compressed frames: type 11 wraps another message's `type · body`, compressed.
//!
//! Body: `algorithm u8` (1 LZ4 block, 2 zstd frame) · `length u32` (bytes of the inner
//! `type · body`) · the compressed bytes to the end of the frame. A compressed frame
//! never wraps another one.

use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};

use super::read::DecodeError;
use crate::wire::Compression;

/// The algorithm code of `compression` on the wire.
pub(super) fn code(compression: Compression) -> u8 {
    match compression {
        Compression::Lz4 => 1,
        Compression::Zstd => 2,
    }
}

/// Compresses `inner` (`type · body`) into a compressed body appended to `out`, if that
/// is smaller than `inner`; returns whether it was written.
pub(super) fn write(compression: Compression, inner: &[u8], out: &mut BytesMut) -> bool {
    let compressed = match compression {
        Compression::Lz4 => lz4_flex::block::compress(inner),
        Compression::Zstd => {
            ruzstd::encoding::compress_to_vec(inner, ruzstd::encoding::CompressionLevel::Fastest)
        }
    };
    // Algorithm and length take 5 bytes: only worth it when that is won back.
    if compressed.len() + 5 >= inner.len() {
        return false;
    }
    out.put_u8(code(compression));
    out.put_u32(inner.len() as u32);
    out.extend_from_slice(&compressed);
    true
}

/// Decompresses a compressed body (after its type byte) into the inner `type · body`,
/// refusing an inner message longer than `limit`.
pub(super) fn read(mut body: Bytes, limit: usize) -> Result<Bytes, DecodeError> {
    if body.len() < 5 {
        return Err(DecodeError::Truncated {
            field: "compressed frame header",
        });
    }
    let algorithm = body[0];
    let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let data = body.split_off(5);
    if length > limit {
        return Err(DecodeError::FrameTooLarge { length, limit });
    }
    let failed = || DecodeError::Decompress { algorithm };
    let inner = match algorithm {
        1 => lz4_flex::block::decompress(&data, length).map_err(|_| failed())?,
        2 => {
            let decoder =
                ruzstd::decoding::StreamingDecoder::new(&data[..]).map_err(|_| failed())?;
            let mut inner = Vec::with_capacity(length);
            decoder
                .take(length as u64 + 1)
                .read_to_end(&mut inner)
                .map_err(|_| failed())?;
            inner
        }
        value => {
            return Err(DecodeError::InvalidValue {
                field: "compression algorithm",
                value,
            });
        }
    };
    if inner.len() != length {
        return Err(DecodeError::DecompressedLength {
            declared: length,
            actual: inner.len(),
        });
    }
    Ok(Bytes::from(inner))
}
