//! The link protocol: [`Message`]s, their framed binary encoding ([`codec`]), `Events`
//! frames assembled event by event ([`EventsFrame`]) and the batching and compression
//! of frames on a link ([`batch`]).

pub mod batch;
pub mod codec;
mod events_frame;
mod message;

pub use self::batch::{BatchSize, DEFAULT_MAX_BATCH, FrameBatcher};
pub use self::codec::{
    DEFAULT_COMPRESSION_THRESHOLD, DEFAULT_MAX_FRAME, DecodeError, FrameOptions, FrameSize,
    decode_frame, decode_frame_sized, encode_frame, encode_frame_with,
};
pub use self::events_frame::EventsFrame;
pub use self::message::*;
