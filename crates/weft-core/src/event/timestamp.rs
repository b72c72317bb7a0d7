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
        let text = value.and_then(rfc3339_utc);
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

/// `value` (in UTC) as RFC 3339 text, exactly as `time`'s `Rfc3339` format writes it
/// (`YYYY-MM-DDTHH:MM:SS`, a fraction without trailing zeros when there is one, `Z`),
/// into one allocation of the right size: every event weft synthesises gets a `time`,
/// and the general formatter grows its buffer several times. `None` outside the years
/// 0000–9999.
fn rfc3339_utc(value: OffsetDateTime) -> Option<String> {
    let year = u16::try_from(value.year())
        .ok()
        .filter(|year| *year <= 9999)?;
    let (hour, minute, second) = value.to_hms();
    let nanos = value.nanosecond();
    let mut text = [0u8; 30];
    let two = |at: &mut [u8], number: u8| {
        at[0] = b'0' + number / 10;
        at[1] = b'0' + number % 10;
    };
    two(&mut text[0..2], u8::try_from(year / 100).ok()?);
    two(&mut text[2..4], u8::try_from(year % 100).ok()?);
    text[4] = b'-';
    two(&mut text[5..7], u8::from(value.month()));
    text[7] = b'-';
    two(&mut text[8..10], value.day());
    text[10] = b'T';
    two(&mut text[11..13], hour);
    text[13] = b':';
    two(&mut text[14..16], minute);
    text[16] = b':';
    two(&mut text[17..19], second);
    let mut end = 19;
    if nanos != 0 {
        text[end] = b'.';
        let mut rest = nanos;
        for place in (0..9).rev() {
            text[end + 1 + place] = b'0' + u8::try_from(rest % 10).ok()?;
            rest /= 10;
        }
        end += 10;
        // No trailing zeros (there is a non-zero digit, so this stops after the dot).
        while text[end - 1] == b'0' {
            end -= 1;
        }
    }
    text[end] = b'Z';
    // Only ASCII digits and separators were written.
    std::str::from_utf8(&text[..=end]).ok().map(str::to_owned)
}

impl std::str::FromStr for Timestamp {
    type Err = EventError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}
