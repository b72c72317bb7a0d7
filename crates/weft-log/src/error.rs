//! Errors, one enum per operation so callers match only what can happen.

use std::io;
use std::sync::Arc;

use crate::batch::{BatchError, EncodeError};
use crate::offset::Offset;

/// Opening (and recovering) a partition log failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The storage failed.
    #[error("cannot {operation} {name} while opening the log")]
    Io {
        /// What the log was doing (`list`, `open`, `read`, `truncate`, ...).
        operation: &'static str,
        /// The file (or directory) concerned.
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// An append was not stored. An appender that gets this error was not acknowledged.
#[derive(Debug, thiserror::Error, Clone)]
pub enum AppendError {
    /// The records cannot be encoded.
    #[error("cannot encode records")]
    Encode(#[from] EncodeError),
    /// A raw batch is not a valid record batch v2.
    #[error("invalid record batch")]
    InvalidBatch(#[from] BatchError),
    /// The batch is larger than the log accepts.
    #[error("record batch of {size} bytes exceeds the limit of {max} bytes")]
    BatchTooLarge {
        /// The batch size.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// Writing or syncing failed (disk full, I/O error); nothing of this append is kept.
    #[error("cannot {operation} the log")]
    Io {
        /// `write`, `sync` or `roll`.
        operation: &'static str,
        /// The I/O error (shared: one failed sync fails every waiting appender).
        #[source]
        source: Arc<io::Error>,
    },
    /// The append was written but a later failure in the same group commit rolled the log
    /// back before it became durable.
    #[error("append was rolled back by a failed sync before it became durable")]
    RolledBack,
    /// An earlier failure left the log in an unknown state; it must be reopened.
    #[error("log is unusable after an earlier failure and must be reopened")]
    Poisoned,
    /// The log's writer has stopped.
    #[error("log writer has stopped")]
    Closed,
    /// An idempotent producer's batch does not follow its previous one (a gap or a
    /// reordering); nothing is stored.
    #[error("producer {producer_id} sent sequence {received}, expected {expected}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The sequence the next batch must start with.
        expected: i32,
        /// The batch's base sequence.
        received: i32,
    },
    /// An idempotent producer's epoch is older than one already seen (it was fenced).
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The newest epoch stored.
        current: i16,
    },
}

/// A read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The offset is before the first or after the next offset of the log.
    #[error("offset {requested} is out of range [{first}, {next}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: Offset,
        /// The first offset still stored.
        first: Offset,
        /// The offset the next append gets.
        next: Offset,
    },
    /// The storage failed.
    #[error("cannot read the log")]
    Io(#[source] io::Error),
    /// Acknowledged but unsynced bytes the read used were discarded by a failed sync while
    /// it ran (only under the weaker flush policies); read again from a new view.
    #[error("unsynced data was rolled back during the read")]
    RolledBack,
    /// The log's writer has stopped.
    #[error("log writer has stopped")]
    Closed,
}

/// Applying retention failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// Removing a segment failed; segments before it were removed.
    #[error("cannot remove segment {name}")]
    Io {
        /// The segment file.
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The log's writer has stopped.
    #[error("log writer has stopped")]
    Closed,
    /// An idempotent producer's batch does not follow its previous one (a gap or a
    /// reordering); nothing is stored.
    #[error("producer {producer_id} sent sequence {received}, expected {expected}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The sequence the next batch must start with.
        expected: i32,
        /// The batch's base sequence.
        received: i32,
    },
    /// An idempotent producer's epoch is older than one already seen (it was fenced).
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The newest epoch stored.
        current: i16,
    },
}

/// Compacting a log failed. Segments rewritten before the failure stay compacted; the
/// segment being rewritten keeps its old contents (see `docs/design/log.md`).
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    /// Syncing the log before compaction failed; nothing was compacted.
    #[error("cannot sync the log before compaction")]
    Sync(#[source] Arc<io::Error>),
    /// The storage failed.
    #[error("cannot {operation} {name} while compacting")]
    Io {
        /// What compaction was doing (`read`, `write`, `sync`, `rename`, `reopen`, ...).
        operation: &'static str,
        /// The file (or directory) concerned.
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A stored batch failed its checks (sealed segments are not CRC-checked on open).
    #[error("corrupt batch in segment {segment} at byte {position}")]
    Corrupt {
        /// The segment file.
        segment: String,
        /// Byte position of the batch in the file.
        position: u64,
        /// What is wrong with it.
        #[source]
        source: BatchError,
    },
    /// Kept records could not be re-encoded.
    #[error("cannot encode the compacted batches of segment {segment}")]
    Encode {
        /// The segment file.
        segment: String,
        /// Why encoding failed.
        #[source]
        source: EncodeError,
    },
    /// An earlier failure left the log in an unknown state; it must be reopened.
    #[error("log is unusable after an earlier failure and must be reopened")]
    Poisoned,
    /// The log's writer has stopped.
    #[error("log writer has stopped")]
    Closed,
    /// An idempotent producer's batch does not follow its previous one (a gap or a
    /// reordering); nothing is stored.
    #[error("producer {producer_id} sent sequence {received}, expected {expected}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The sequence the next batch must start with.
        expected: i32,
        /// The batch's base sequence.
        received: i32,
    },
    /// An idempotent producer's epoch is older than one already seen (it was fenced).
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The newest epoch stored.
        current: i16,
    },
}
