//! [`Timestamp`]: RFC 3339 text kept exactly as given, plus its parsed instant.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::rules::invalid;
use super::{EventError, Timestamp};

impl Timestamp {
    /// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.25+02:00`).
    ///
    /// The date and time must be separated by `T` (or `t`); offsets may be `Z`, `z` or
    /// `±hh:mm`; any number of fractional-second digits is accepted. The text is kept
    /// byte for byte, so re-encoding an event never rewrites its `time`.
    pub fn parse(text: &str) -> Result<Self, EventError> {
        Self::parse_owned(text.to_owned())
    }

    /// Like [`Timestamp::parse`], taking ownership of the text (no copy).
    pub(crate) fn parse_owned(text: String) -> Result<Self, EventError> {
        // `time` accepts any byte between date and time; RFC 3339 requires `T`.
        if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
            return Err(invalid(
                "time",
                format!("`{text}` is not an rfc 3339 timestamp: expected `T` after the date"),
            ));
        }
        match OffsetDateTime::parse(&text, &Rfc3339) {
            Ok(value) => Ok(Self { text, value }),
            Err(error) => Err(invalid(
                "time",
                format!("`{text}` is not an rfc 3339 timestamp: {error}"),
            )),
        }
    }

    /// The RFC 3339 form of `instant` in UTC with a `Z` offset and as many fractional
    /// digits as needed (none for a whole second, up to nine).
    ///
    /// Fails only for instants outside the years 0000–9999, which RFC 3339 cannot
    /// express.
    pub fn from_system_time(instant: SystemTime) -> Result<Self, EventError> {
        let nanos = match instant.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).ok(),
            Err(before) => i128::try_from(before.duration().as_nanos())
                .ok()
                .map(|nanos| -nanos),
        };
        let value = nanos.and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok());
        let text = value.and_then(|value| value.format(&Rfc3339).ok());
        match (value, text) {
            (Some(value), Some(text)) => Ok(Self { text, value }),
            _ => Err(invalid(
                "time",
                "instant is outside the years 0000-9999 that rfc 3339 can express".to_owned(),
            )),
        }
    }

    /// The exact RFC 3339 text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant, with the offset it was written in.
    pub fn value(&self) -> OffsetDateTime {
        self.value
    }

    /// The instant as a [`SystemTime`]; `None` only where the platform's `SystemTime`
    /// cannot represent it (for example year 0 on Windows).
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let nanos = self.value.unix_timestamp_nanos();
        let seconds = u64::try_from(nanos.unsigned_abs() / 1_000_000_000).ok()?;
        let subsecond = u32::try_from(nanos.unsigned_abs() % 1_000_000_000).ok()?;
        let magnitude = Duration::new(seconds, subsecond);
        if nanos >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        }
    }
}

impl std::str::FromStr for Timestamp {
    type Err = EventError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}
