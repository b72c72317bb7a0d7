//! The framed binary encoding of [`Message`]s.
//!
//! A frame is `length: u32` (big-endian, the bytes after it), `frame_version: u8` (1),
//! `type: u8`, then the body. Integers are big-endian; names are `u8` length + UTF-8;
//! topics, filters and texts are `u16` length + UTF-8; payloads are `u32` length +
//! bytes; lists are a count then their items. Byte layouts per message are in
//! `docs/design/mesh.md`.
//!
//! A frame of type 11 is **compressed**: it wraps another frame's `type · body`
//! (see `compress.rs`). [`encode_frame_with`] writes one when the link negotiated a
//! compression and the message is at least [`FrameOptions::threshold`] bytes; every
//! decoder reads them.
//!
//! [`decode_frame`] returns `Ok(None)` when the buffer does not yet hold a whole frame
//! ("need more bytes"), and an error for anything malformed: the link is then closed.

mod compress;
mod error;
mod read;
mod write;

use bytes::{Buf, BufMut, BytesMut};

pub use self::read::DecodeError;
pub(crate) use self::write::{mesh_event as write_mesh_event, route as write_route};
use super::{Compression, Message};

/// The frame layout version this codec writes and reads.
pub const FRAME_VERSION: u8 = 1;

/// The default largest frame accepted (16 MiB).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Message type codes.
pub(crate) mod kind {
    pub(crate) const HELLO: u8 = 1;
    pub(crate) const HELLO_ACK: u8 = 2;
    pub(crate) const REFUSE: u8 = 3;
    pub(crate) const HEARTBEAT: u8 = 4;
    pub(crate) const HEARTBEAT_ACK: u8 = 5;
    pub(crate) const LINK_STATE: u8 = 6;
    pub(crate) const INTEREST: u8 = 7;
    pub(crate) const INTEREST_REQUEST: u8 = 8;
    pub(crate) const EVENTS: u8 = 9;
    pub(crate) const ACK: u8 = 10;
    pub(crate) const COMPRESSED: u8 = 11;
}

/// The default smallest message (`type · body`) that is compressed.
pub const DEFAULT_COMPRESSION_THRESHOLD: usize = 512;

/// How frames are written on one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOptions {
    /// The algorithm, if the link compresses (both sides negotiated it).
    pub compression: Option<Compression>,
    /// Messages shorter than this (`type · body`, in bytes) are written as they are.
    pub threshold: usize,
}

impl FrameOptions {
    /// No compression.
    pub const PLAIN: Self = Self {
        compression: None,
        threshold: DEFAULT_COMPRESSION_THRESHOLD,
    };
}

/// The size of one frame on the wire and before compression (both with the length
/// prefix).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameSize {
    /// Bytes written or read.
    pub wire: usize,
    /// Bytes the frame would take uncompressed.
    pub logical: usize,
}

/// Appends `message` as one frame to `out`.
pub fn encode_frame(message: &Message, out: &mut BytesMut) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&[FRAME_VERSION]);
    write::message(message, out);
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
}

/// Appends `message` as one frame to `out`, compressed when `options` say so and it
/// pays off.
pub fn encode_frame_with(
    message: &Message,
    options: FrameOptions,
    out: &mut BytesMut,
) -> FrameSize {
    let start = out.len();
    encode_frame(message, out);
    compress_frame(out, start, options)
}

/// Compresses the frame that starts at `start` in `out` (and runs to its end) in place,
/// when `options` say so and it pays off.
pub(crate) fn compress_frame(out: &mut BytesMut, start: usize, options: FrameOptions) -> FrameSize {
    let logical = out.len() - start;
    let plain = FrameSize {
        wire: logical,
        logical,
    };
    let Some(compression) = options.compression else {
        return plain;
    };
    // The message is `type · body`, after the length and the frame version.
    let inner_start = start + 5;
    if out.len() - inner_start < options.threshold.max(1) {
        return plain;
    }
    let mut compressed = BytesMut::with_capacity(logical / 2 + 16);
    compressed.put_u8(kind::COMPRESSED);
    if !compress::write(compression, &out[inner_start..], &mut compressed) {
        return plain;
    }
    out.truncate(inner_start);
    out.extend_from_slice(&compressed);
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    FrameSize {
        wire: out.len() - start,
        logical,
    }
}

/// Takes one frame off the front of `buffer`: `Ok(None)` if it is not complete yet.
/// A frame longer than `max_frame` is an error before its body arrives.
pub fn decode_frame(
    buffer: &mut BytesMut,
    max_frame: usize,
) -> Result<Option<Message>, DecodeError> {
    Ok(decode_frame_sized(buffer, max_frame)?.map(|(message, _)| message))
}

/// [`decode_frame`], also returning the frame's sizes on the wire and uncompressed.
/// A compressed frame may not decompress to more than `max_frame` either.
pub fn decode_frame_sized(
    buffer: &mut BytesMut,
    max_frame: usize,
) -> Result<Option<(Message, FrameSize)>, DecodeError> {
    let Some(header) = buffer.get(..4) else {
        return Ok(None);
    };
    let mut length_bytes = [0u8; 4];
    length_bytes.copy_from_slice(header);
    let length = u32::from_be_bytes(length_bytes) as usize;
    if length > max_frame {
        return Err(DecodeError::FrameTooLarge {
            length,
            limit: max_frame,
        });
    }
    if length < 2 {
        return Err(DecodeError::FrameTooShort { length });
    }
    if buffer.len() < 4 + length {
        return Ok(None);
    }
    buffer.advance(4);
    let frame = buffer.split_to(length).freeze();
    let (message, logical) = read::message(frame, max_frame)?;
    let size = FrameSize {
        wire: 4 + length,
        logical,
    };
    Ok(Some((message, size)))
}

#[cfg(test)]
mod tests;
