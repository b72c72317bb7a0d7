//! The framed binary encoding of [`Message`]s.
//!
//! A frame is `length: u32` (big-endian, the bytes after it), `frame_version: u8` (1),
//! `type: u8`, then the body. Integers are big-endian; names are `u8` length + UTF-8;
//! topics, filters and texts are `u16` length + UTF-8; payloads are `u32` length +
//! bytes; lists are a count then their items. Byte layouts per message are in
//! `docs/design/mesh.md`.
//!
//! [`decode_frame`] returns `Ok(None)` when the buffer does not yet hold a whole frame
//! ("need more bytes"), and an error for anything malformed: the link is then closed.

mod read;
mod write;

use bytes::{Buf, BytesMut};

pub use self::read::DecodeError;
use super::Message;

/// The frame layout version this codec writes and reads.
pub const FRAME_VERSION: u8 = 1;

/// The default largest frame accepted (16 MiB).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Message type codes.
pub(crate) mod kind {
    pub const HELLO: u8 = 1;
    pub const HELLO_ACK: u8 = 2;
    pub const REFUSE: u8 = 3;
    pub const HEARTBEAT: u8 = 4;
    pub const HEARTBEAT_ACK: u8 = 5;
    pub const LINK_STATE: u8 = 6;
    pub const INTEREST: u8 = 7;
    pub const INTEREST_REQUEST: u8 = 8;
    pub const EVENTS: u8 = 9;
    pub const ACK: u8 = 10;
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

/// Takes one frame off the front of `buffer`: `Ok(None)` if it is not complete yet.
/// A frame longer than `max_frame` is an error before its body arrives.
pub fn decode_frame(
    buffer: &mut BytesMut,
    max_frame: usize,
) -> Result<Option<Message>, DecodeError> {
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
    read::message(frame).map(Some)
}

#[cfg(test)]
mod tests;
