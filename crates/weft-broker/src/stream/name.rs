//! [`StreamName`]: the name of a stream, with Kafka's topic-name rules so that a stream
//! can be served as a Kafka topic of the same name.

use std::fmt;
use std::str::FromStr;

use super::error::StreamError;

/// The longest stream name (Kafka's limit for topic names).
pub const MAX_STREAM_NAME_LEN: usize = 249;

/// A valid stream name: 1..=249 characters of `A-Z a-z 0-9 . _ -`, and not `.` or `..`.
/// These are Kafka's topic-name rules; the name is also the stream's directory name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamName(String);

impl StreamName {
    /// Checks `name` against the rules above.
    pub fn new(name: impl Into<String>) -> Result<Self, StreamError> {
        let name = name.into();
        let invalid = |reason: String| StreamError::Invalid { reason };
        if name.is_empty() {
            return Err(invalid("stream name is empty".to_owned()));
        }
        if name.len() > MAX_STREAM_NAME_LEN {
            return Err(invalid(format!(
                "stream name is {} characters long; the limit is {MAX_STREAM_NAME_LEN}",
                name.len()
            )));
        }
        if name == "." || name == ".." {
            return Err(invalid(format!("stream name `{name}` is reserved")));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(invalid(format!(
                "stream name `{name}` contains `{bad}`; allowed are A-Z, a-z, 0-9, `.`, `_` and `-`"
            )));
        }
        Ok(StreamName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StreamName {
    type Err = StreamError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        StreamName::new(name)
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_topic_names_are_accepted() {
        for name in ["orders", "orders.eu-1_v2", "A", &"x".repeat(249)] {
            assert_eq!(StreamName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn names_kafka_rejects_are_rejected() {
        for name in ["", ".", "..", "a/b", "a b", "ü", &"x".repeat(250)] {
            assert!(
                matches!(StreamName::new(name), Err(StreamError::Invalid { .. })),
                "{name:?} was accepted"
            );
        }
    }
}
