//! Log output settings: [`LogFormat`] and [`LogLevel`].

use std::fmt;
use std::str::FromStr;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The most verbose level that is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Informational messages and above.
    #[default]
    Info,
    /// Debugging detail and above.
    Debug,
    /// Everything.
    Trace,
}

/// A text that is not a [`LogFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format `{input}`, expected `text` or `json`")]
pub struct LogFormatError {
    /// The text as given.
    pub input: String,
}

/// A text that is not a [`LogLevel`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{input}`, expected one of `error`, `warn`, `info`, `debug`, `trace`")]
pub struct LogLevelError {
    /// The text as given.
    pub input: String,
}

impl LogFormat {
    /// The lowercase name, as written in configs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl LogLevel {
    /// Every level, from least to most verbose.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// The matching `tracing` level, for a subscriber's maximum level.
    #[must_use]
    pub fn as_tracing(self) -> tracing::Level {
        match self {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }

    /// The lowercase name, as written in configs (and understood by `tracing` filters).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl FromStr for LogFormat {
    type Err = LogFormatError;

    /// `text` or `json`, in any case.
    fn from_str(text: &str) -> Result<LogFormat, LogFormatError> {
        [LogFormat::Text, LogFormat::Json]
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| LogFormatError {
                input: text.to_owned(),
            })
    }
}

impl FromStr for LogLevel {
    type Err = LogLevelError;

    /// `error`, `warn`, `info`, `debug` or `trace`, in any case.
    fn from_str(text: &str) -> Result<LogLevel, LogLevelError> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| LogLevelError {
                input: text.to_owned(),
            })
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_in_any_case() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("Text".parse(), Ok(LogFormat::Text));
        assert_eq!(
            "xml".parse::<LogFormat>().unwrap_err().to_string(),
            "unknown log format `xml`, expected `text` or `json`"
        );
    }

    #[test]
    fn levels_round_trip_through_their_names() {
        for level in LogLevel::ALL {
            assert_eq!(level.to_string().parse(), Ok(level));
        }
        assert_eq!("WARN".parse(), Ok(LogLevel::Warn));
        assert!("verbose".parse::<LogLevel>().is_err());
    }

    #[test]
    fn levels_order_from_quiet_to_verbose() {
        assert!(LogLevel::Error < LogLevel::Trace);
    }
}
