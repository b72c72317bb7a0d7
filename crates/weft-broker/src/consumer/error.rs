//! [`ConsumerError`]: what can go wrong managing a consumer or pulling from it.

use crate::stream::StorageError;

/// A consumer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The authoriser refused the operation. Nothing was done.
    #[error(transparent)]
    Denied(#[from] crate::auth::Denied),
    /// The consumer's stream does not exist.
    #[error("stream {stream} does not exist")]
    StreamNotFound {
        /// The stream asked for.
        stream: String,
    },
    /// The stream has no consumer with this name.
    #[error("stream {stream} has no consumer {name}")]
    NotFound {
        /// The stream.
        stream: String,
        /// The consumer asked for.
        name: String,
    },
    /// A consumer with this name exists with a different configuration.
    #[error("consumer {name} of stream {stream} already exists with a different configuration")]
    AlreadyExists {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
    },
    /// A name, configuration or request is not acceptable.
    #[error("invalid consumer request: {reason}")]
    Invalid {
        /// What is wrong, for humans.
        reason: String,
    },
    /// The token does not name a delivery in flight: it expired (and the event was or
    /// will be redelivered), was already acknowledged, or is from an earlier incarnation
    /// of the consumer (before a restart or a re-create).
    #[error("unknown delivery token {token}")]
    UnknownToken {
        /// The token as given.
        token: String,
    },
    /// Reading the stream or storing the consumer's cursor failed.
    #[error("storage of consumer {name} of stream {stream} failed")]
    Storage {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
        /// What failed.
        #[source]
        source: StorageError,
    },
}

impl ConsumerError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        ConsumerError::Invalid {
            reason: reason.into(),
        }
    }
}
