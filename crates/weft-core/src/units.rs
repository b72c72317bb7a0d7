//! Human sizes (`1MiB`, `512KiB`, `1MB`, `1048576`) and durations (`200ms`, `1h30m`):
//! parsing, the canonical spelling of a duration, and [`Quantity`] for documents that
//! accept a number or such text.
//!
//! This is the one implementation: configs (through `weft-yaml`), manifests, the HTTP API
//! and the broker's stream settings all read sizes and durations here, so every reader
//! accepts the same spellings.

use std::time::Duration;

use serde::Deserialize;

/// Byte multipliers, matched case-insensitively. A bare number is bytes.
const SIZE_UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

const SIZE_UNIT_LIST: &str = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB";

/// Nanoseconds per duration unit, matched exactly.
const DURATION_UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
    ("d", 86_400 * 1_000_000_000),
];

const DURATION_UNIT_LIST: &str = "ns, us, ms, s, m, h, d";

/// Why a size does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// Nothing but whitespace.
    #[error("empty size, expected a number of bytes or a size such as 512KiB or 1MiB")]
    Empty,
    /// Not a number followed by an optional unit.
    #[error("invalid size `{input}`, expected a number of bytes or a size such as 512KiB or 1MiB")]
    Invalid {
        /// The text as given.
        input: String,
    },
    /// A unit that is not one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB.
    #[error("unknown size unit `{unit}` in `{input}`, expected one of {SIZE_UNIT_LIST}")]
    UnknownUnit {
        /// The text as given.
        input: String,
        /// The unit part.
        unit: String,
    },
    /// A fraction that does not come to a whole number of bytes (`0.1KiB`).
    #[error("size `{input}` is not a whole number of bytes")]
    Fractional {
        /// The text as given.
        input: String,
    },
    /// More than `u64::MAX` bytes.
    #[error("size `{input}` is too large")]
    TooLarge {
        /// The text as given.
        input: String,
    },
}

/// Why a duration does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing but whitespace.
    #[error("empty duration, expected a duration such as 200ms, 5s or 1h30m")]
    Empty,
    /// A number without a unit (other than `0`).
    #[error("duration `{input}` needs a unit, such as {input}s or {input}ms")]
    MissingUnit {
        /// The text as given.
        input: String,
    },
    /// Not a sequence of numbers with units.
    #[error("invalid duration `{input}`, expected a duration such as 200ms, 5s or 1h30m")]
    Invalid {
        /// The text as given.
        input: String,
    },
    /// A unit that is not one of ns, us, ms, s, m, h, d.
    #[error("unknown duration unit `{unit}` in `{input}`, expected one of {DURATION_UNIT_LIST}")]
    UnknownUnit {
        /// The text as given.
        input: String,
        /// The unit part.
        unit: String,
    },
    /// Longer than about 584 years.
    #[error("duration `{input}` is too long")]
    TooLarge {
        /// The text as given.
        input: String,
    },
}

/// Parses a size in bytes: a bare number is bytes; `KB`, `MB`, `GB`, `TB` are powers of
/// 1000 and `KiB`, `MiB`, `GiB`, `TiB` powers of 1024 (units are case-insensitive and may
/// follow a space). A fraction is allowed when the result is whole: `1.5KiB` is 1536.
///
/// # Errors
/// Returns a [`SizeError`] naming the text when it is not such a size.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(SizeError::Empty);
    }
    let invalid = || SizeError::Invalid {
        input: input.to_owned(),
    };
    let (number, rest) = split_number(input).ok_or_else(invalid)?;
    let unit = rest.trim_start();
    let multiplier = if unit.is_empty() {
        1
    } else {
        let lower = unit.to_ascii_lowercase();
        SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, multiplier)| *multiplier)
            .ok_or_else(|| SizeError::UnknownUnit {
                input: input.to_owned(),
                unit: unit.to_owned(),
            })?
    };
    let bytes = number
        .scale(u128::from(multiplier))
        .ok_or_else(|| SizeError::TooLarge {
            input: input.to_owned(),
        })?;
    let Scaled::Whole(bytes) = bytes else {
        return Err(SizeError::Fractional {
            input: input.to_owned(),
        });
    };
    u64::try_from(bytes).map_err(|_| SizeError::TooLarge {
        input: input.to_owned(),
    })
}

/// Parses a duration: one or more numbers, each followed by a unit (`ns`, `us`, `ms`,
/// `s`, `m`, `h`, `d`), added together: `200ms`, `5s`, `2m`, `1h30m`, `1.5s`. A bare `0`
/// is zero; any other bare number is an error, because its unit would be a guess.
///
/// # Errors
/// Returns a [`DurationError`] naming the text when it is not such a duration.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    if input == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid {
        input: input.to_owned(),
    };
    let too_large = || DurationError::TooLarge {
        input: input.to_owned(),
    };
    let mut rest = input;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (number, after_number) = split_number(rest).ok_or_else(invalid)?;
        let unit_length = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_length);
        if unit.is_empty() {
            return Err(if total == 0 && after_unit.is_empty() {
                DurationError::MissingUnit {
                    input: input.to_owned(),
                }
            } else {
                invalid()
            });
        }
        let nanos_per_unit = DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, nanos)| *nanos)
            .ok_or_else(|| DurationError::UnknownUnit {
                input: input.to_owned(),
                unit: unit.to_owned(),
            })?;
        let nanos = match number.scale(nanos_per_unit).ok_or_else(too_large)? {
            Scaled::Whole(nanos) | Scaled::Fraction(nanos) => nanos,
        };
        total = total.checked_add(nanos).ok_or_else(too_large)?;
        rest = after_unit;
    }
    let nanos = u64::try_from(total).map_err(|_| too_large())?;
    Ok(Duration::from_nanos(nanos))
}

/// The shortest exact spelling of `duration` that [`parse_duration`] reads back: `200ms`,
/// `5s`, `2h`, `0s` (the largest unit that divides it, so nothing is rounded).
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    const UNITS: [(&str, u128); 7] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in UNITS {
        if nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// A number, or text with a unit (`"7d"`, `"1GiB"`), as JSON documents write sizes and
/// durations. What the number counts is the reader's choice: [`Quantity::millis`] reads
/// it as milliseconds, [`Quantity::bytes`] as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    /// A bare number.
    Number(u64),
    /// Text that [`parse_duration`] or [`parse_size`] reads.
    Text(String),
}

impl Quantity {
    /// The quantity as a duration: a number is milliseconds.
    ///
    /// # Errors
    /// The [`DurationError`] of text that is not a duration.
    pub fn millis(&self) -> Result<Duration, DurationError> {
        match self {
            Quantity::Number(millis) => Ok(Duration::from_millis(*millis)),
            Quantity::Text(text) => parse_duration(text),
        }
    }

    /// The quantity as a size: a number is bytes.
    ///
    /// # Errors
    /// The [`SizeError`] of text that is not a size.
    pub fn bytes(&self) -> Result<u64, SizeError> {
        match self {
            Quantity::Number(bytes) => Ok(*bytes),
            Quantity::Text(text) => parse_size(text),
        }
    }
}

/// A non-negative decimal number as written: integer digits and fraction digits.
struct Decimal<'a> {
    integer: &'a str,
    fraction: &'a str,
}

/// The result of scaling a [`Decimal`]: whole, or truncated from a fraction.
enum Scaled {
    Whole(u128),
    Fraction(u128),
}

impl Decimal<'_> {
    /// `self * multiplier`, or `None` on overflow.
    fn scale(&self, multiplier: u128) -> Option<Scaled> {
        let integer: u128 = if self.integer.is_empty() {
            0
        } else {
            self.integer.parse().ok()?
        };
        let whole = integer.checked_mul(multiplier)?;
        if self.fraction.is_empty() {
            return Some(Scaled::Whole(whole));
        }
        // 30 fraction digits keep 10^digits * multiplier within u128 for any unit here.
        let digits = self.fraction.get(..self.fraction.len().min(30))?;
        let numerator: u128 = digits.parse().ok()?;
        let denominator = 10u128.checked_pow(u32::try_from(digits.len()).ok()?)?;
        let scaled = numerator.checked_mul(multiplier)?;
        let total = whole.checked_add(scaled / denominator)?;
        let exact = scaled % denominator == 0 && digits.len() == self.fraction.len();
        Some(if exact {
            Scaled::Whole(total)
        } else {
            Scaled::Fraction(total)
        })
    }
}

/// Splits a leading `digits[.digits]` from `text`; `None` if it does not start with one.
fn split_number(text: &str) -> Option<(Decimal<'_>, &str)> {
    let integer_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (integer, rest) = text.split_at(integer_end);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let fraction_end = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            after_dot.split_at(fraction_end)
        }
        None => ("", rest),
    };
    if integer.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((Decimal { integer, fraction }, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_integer_size_is_bytes() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn binary_units_are_powers_of_1024() {
        assert_eq!(parse_size("1MiB"), Ok(1_048_576));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
    }

    #[test]
    fn decimal_units_are_powers_of_1000() {
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("3KB"), Ok(3_000));
        assert_eq!(parse_size("10B"), Ok(10));
    }

    #[test]
    fn size_units_ignore_case_and_may_follow_a_space() {
        assert_eq!(parse_size("1mib"), Ok(1_048_576));
        assert_eq!(parse_size(" 4 KiB "), Ok(4_096));
    }

    #[test]
    fn fractional_size_is_allowed_when_whole() {
        assert_eq!(parse_size("1.5KiB"), Ok(1_536));
        assert_eq!(parse_size("0.5MB"), Ok(500_000));
        assert!(matches!(
            parse_size("0.1KiB"),
            Err(SizeError::Fractional { .. })
        ));
    }

    #[test]
    fn malformed_sizes_are_rejected_with_the_reason() {
        assert_eq!(parse_size(""), Err(SizeError::Empty));
        assert!(matches!(parse_size("lots"), Err(SizeError::Invalid { .. })));
        assert!(matches!(parse_size("-1"), Err(SizeError::Invalid { .. })));
        assert!(matches!(parse_size("."), Err(SizeError::Invalid { .. })));
        let unknown = parse_size("1Mi").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown size unit `Mi` in `1Mi`, expected one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
        );
    }

    #[test]
    fn sizes_beyond_u64_are_too_large() {
        assert!(matches!(
            parse_size("18446744073709551616"),
            Err(SizeError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_size("99999999TiB"),
            Err(SizeError::TooLarge { .. })
        ));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn durations_accept_each_unit() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("9ns"), Ok(Duration::from_nanos(9)));
    }

    #[test]
    fn duration_components_add_up() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(
            parse_duration("1m30s500ms"),
            Ok(Duration::from_millis(90_500))
        );
    }

    #[test]
    fn fractional_durations_are_allowed() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("0.25h"), Ok(Duration::from_secs(900)));
    }

    #[test]
    fn zero_needs_no_unit_but_other_bare_numbers_do() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        let error = parse_duration("5").unwrap_err();
        assert_eq!(
            error.to_string(),
            "duration `5` needs a unit, such as 5s or 5ms"
        );
    }

    #[test]
    fn malformed_durations_are_rejected_with_the_reason() {
        assert_eq!(parse_duration(" "), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("soon"),
            Err(DurationError::Invalid { .. })
        ));
        assert!(matches!(
            parse_duration("1h30"),
            Err(DurationError::Invalid { .. })
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationError::Invalid { .. })
        ));
        assert_eq!(
            parse_duration("3w").unwrap_err(),
            DurationError::UnknownUnit {
                input: "3w".into(),
                unit: "w".into()
            }
        );
    }

    #[test]
    fn durations_format_with_the_largest_exact_unit_and_parse_back() {
        assert_eq!(format_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for text in ["200ms", "30s", "2h", "7d", "1500ms", "7ns"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn quantities_read_numbers_in_the_readers_unit_and_text_with_its_own() {
        let number: Quantity = serde_json::from_str("250").unwrap();
        assert_eq!(number.millis(), Ok(Duration::from_millis(250)));
        assert_eq!(number.bytes(), Ok(250));
        let text: Quantity = serde_json::from_str(r#""1KiB""#).unwrap();
        assert_eq!(text.bytes(), Ok(1024));
        assert!(matches!(
            text.millis(),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
    }

    #[test]
    fn durations_beyond_u64_nanoseconds_are_too_large() {
        assert!(matches!(
            parse_duration("999999999d"),
            Err(DurationError::TooLarge { .. })
        ));
    }
}
