//! The link protocol: [`Message`]s and their framed binary encoding ([`codec`]).

pub mod codec;
mod message;

pub use self::codec::{DEFAULT_MAX_FRAME, DecodeError, decode_frame, encode_frame};
pub use self::message::*;
