//! [`DecodeError`]: every way bytes can fail to be a frame, each with a clear message.

use weft_core::topic::TopicError;

use crate::name::NameError;

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The declared frame length exceeds the limit.
    #[error("frame of {length} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The declared length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// The declared frame length cannot hold a header.
    #[error("frame of {length} bytes is too short for a header")]
    FrameTooShort {
        /// The declared length.
        length: usize,
    },
    /// The frame layout version is not one this codec reads.
    #[error("unsupported frame version {version}")]
    UnsupportedFrameVersion {
        /// The version found.
        version: u8,
    },
    /// The message type code is unknown.
    #[error("unknown message type {code}")]
    UnknownMessageType {
        /// The code found.
        code: u8,
    },
    /// A field runs past the end of the frame.
    #[error("frame ends inside {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// The frame has bytes after its message.
    #[error("{count} unexpected bytes after the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A text field is not UTF-8.
    #[error("{field} is not valid utf-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// A name field is not a valid name.
    #[error("invalid {field}")]
    InvalidName {
        /// The field.
        field: &'static str,
        /// Why.
        #[source]
        source: NameError,
    },
    /// A topic or filter field is not valid.
    #[error("invalid {field}")]
    InvalidTopic {
        /// The field.
        field: &'static str,
        /// Why.
        #[source]
        source: TopicError,
    },
    /// A compressed frame's data does not decompress.
    #[error("compressed frame (algorithm {algorithm}) does not decompress")]
    Decompress {
        /// The algorithm code.
        algorithm: u8,
    },
    /// A compressed frame decompresses to another length than it declares.
    #[error("compressed frame declares {declared} bytes but holds {actual}")]
    DecompressedLength {
        /// The declared length.
        declared: usize,
        /// The length found (at most one byte past the declared one).
        actual: usize,
    },
    /// A compressed frame wraps another compressed frame.
    #[error("compressed frame wraps another compressed frame")]
    NestedCompression,
    /// An enumeration field has an unknown value.
    #[error("unknown {field} value {value}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u8,
    },
}
