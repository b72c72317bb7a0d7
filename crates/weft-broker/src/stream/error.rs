//! [`StreamError`]: what can go wrong managing, reading or writing streams.

use std::io;
use std::path::PathBuf;

use weft_log::{AppendError, CompactionError, OpenError, ReadError, RetentionError};

use super::record::RecordError;

/// A stream operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The authoriser refused the operation. Nothing was done.
    #[error(transparent)]
    Denied(#[from] crate::auth::Denied),
    /// No stream has this name.
    #[error("stream {name} does not exist")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// A stream with this name exists with a different configuration.
    #[error("stream {name} already exists with a different configuration")]
    AlreadyExists {
        /// The stream's name.
        name: String,
    },
    /// A name, configuration or request is not acceptable.
    #[error("invalid stream request: {reason}")]
    Invalid {
        /// What is wrong, for humans.
        reason: String,
    },
    /// An event is larger than the stream accepts.
    #[error("event of {size} bytes is larger than the limit of {max} bytes of stream {stream}")]
    EventTooLarge {
        /// The stream.
        stream: String,
        /// The event's size as stored (data, key and headers).
        size: usize,
        /// The stream's `max_event_bytes`.
        max: usize,
    },
    /// The stream discards new events and a partition is at one of its limits; nothing
    /// of the publish was stored or delivered.
    #[error(
        "stream {stream} is full: partition {partition} is at its {limit} and the stream discards new events"
    )]
    Full {
        /// The stream.
        stream: String,
        /// The partition the event would have gone to.
        partition: u32,
        /// The limit it would exceed.
        limit: StreamLimit,
    },
    /// The stream has no such partition.
    #[error("stream {stream} has no partition {partition} (it has {partitions})")]
    NoPartition {
        /// The stream.
        stream: String,
        /// The partition asked for.
        partition: u32,
        /// How many it has.
        partitions: u32,
    },
    /// A fetch asked for an offset outside the stored range.
    #[error(
        "offset {offset} is outside partition {partition} of stream {stream} ({first}..{next})"
    )]
    OffsetOutOfRange {
        /// The stream.
        stream: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        offset: u64,
        /// The first stored offset.
        first: u64,
        /// The next offset.
        next: u64,
    },
    /// The stream's storage failed (disk full, I/O error, a closed log).
    #[error("storage of stream {stream} failed")]
    Storage {
        /// The stream (or the streams directory, for errors outside one stream).
        stream: String,
        /// What failed.
        #[source]
        source: StorageError,
    },
}

/// A per-partition limit of a stream that [`super::Discard::New`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamLimit {
    /// `retention.max_events`.
    MaxEvents(u64),
    /// `retention.max_bytes`.
    MaxBytes(u64),
}

impl std::fmt::Display for StreamLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamLimit::MaxEvents(max) => write!(f, "limit retention.max_events of {max} events"),
            StreamLimit::MaxBytes(max) => write!(f, "limit retention.max_bytes of {max} bytes"),
        }
    }
}

/// The storage failure behind [`StreamError::Storage`].
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file-system operation on a stream's directory or `stream.json` failed.
    #[error("cannot {operation} {path}")]
    Io {
        /// What was being done (`create`, `write`, `rename`, `remove`, ...).
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A `stream.json` cannot be read back.
    #[error("cannot parse {path}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A partition log could not be opened.
    #[error("cannot open partition {partition}")]
    Open {
        /// The partition.
        partition: u32,
        /// Why.
        #[source]
        source: OpenError,
    },
    /// An append was not stored (nothing of it is acknowledged).
    #[error("cannot append to partition {partition}")]
    Append {
        /// The partition.
        partition: u32,
        /// Why.
        #[source]
        source: AppendError,
    },
    /// A read failed.
    #[error("cannot read partition {partition}")]
    Read {
        /// The partition.
        partition: u32,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// A stored record is not a valid event.
    #[error("record at offset {offset} of partition {partition} is not a valid event")]
    Decode {
        /// The partition.
        partition: u32,
        /// The record's offset.
        offset: u64,
        /// Why.
        #[source]
        source: RecordError,
    },
    /// A stored batch failed its checks.
    #[error("corrupt batch in partition {partition}")]
    Corrupt {
        /// The partition.
        partition: u32,
        /// What is wrong with it.
        #[source]
        source: weft_log::BatchError,
    },
    /// Applying retention failed.
    #[error("cannot apply retention to partition {partition}")]
    Retention {
        /// The partition.
        partition: u32,
        /// Why.
        #[source]
        source: RetentionError,
    },
    /// Compaction failed.
    #[error("cannot compact partition {partition}")]
    Compaction {
        /// The partition.
        partition: u32,
        /// Why.
        #[source]
        source: CompactionError,
    },
    /// A blocking task could not finish (the runtime is shutting down).
    #[error("a background task of the stream store failed")]
    Task,
    /// The stream was closed or deleted.
    #[error("stream is closed")]
    Closed,
}

/// Why storage refused a write of record batches as a producer sent them — what a Kafka
/// front end must tell its producer apart from a storage failure. The classification is
/// the broker's, so any storage behind it answers in the same terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRefusal {
    /// An idempotent producer's sequence number is not the next one.
    OutOfOrderSequence,
    /// An idempotent producer's epoch is older than the one stored.
    InvalidProducerEpoch,
    /// The batch is larger than storage accepts.
    TooLarge,
    /// The batch failed its checksum.
    Corrupt,
    /// The batch uses a compression codec storage cannot read.
    UnsupportedCompression,
    /// The batch is not in the record batch v2 format.
    UnsupportedFormat,
    /// The batch or one of its records is malformed.
    InvalidRecord,
}

impl StreamError {
    /// Why a write was refused because of what was written (as opposed to a storage
    /// failure or a missing stream); `None` for every other error.
    pub fn write_refusal(&self) -> Option<WriteRefusal> {
        let StreamError::Storage {
            source: StorageError::Append { source, .. },
            ..
        } = self
        else {
            return None;
        };
        use weft_log::{AppendError, BatchError};
        Some(match source {
            AppendError::OutOfOrderSequence { .. } => WriteRefusal::OutOfOrderSequence,
            AppendError::InvalidProducerEpoch { .. } => WriteRefusal::InvalidProducerEpoch,
            AppendError::BatchTooLarge { .. } => WriteRefusal::TooLarge,
            AppendError::InvalidBatch(BatchError::CrcMismatch { .. }) => WriteRefusal::Corrupt,
            AppendError::InvalidBatch(BatchError::UnsupportedCompression { .. }) => {
                WriteRefusal::UnsupportedCompression
            }
            AppendError::InvalidBatch(BatchError::UnsupportedMagic { .. }) => {
                WriteRefusal::UnsupportedFormat
            }
            AppendError::InvalidBatch(_) | AppendError::Encode(_) => WriteRefusal::InvalidRecord,
            _ => return None,
        })
    }

    pub(crate) fn storage(stream: impl Into<String>, source: StorageError) -> Self {
        StreamError::Storage {
            stream: stream.into(),
            source,
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        StreamError::Invalid {
            reason: reason.into(),
        }
    }
}

impl StorageError {
    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StorageError::Io {
            operation,
            path,
            source,
        }
    }
}
