//! The CloudEvents 1.0 rules for attribute names and values, in one place.
//!
//! - Attribute names consist of lower-case ASCII letters and digits. The specification
//!   says names SHOULD NOT exceed 20 characters; weft enforces that limit, so every name
//!   weft accepts is portable to every binding.
//! - String values must not contain the characters the specification disallows: the
//!   control characters U+0000–U+001F and U+007F–U+009F and the Unicode noncharacters
//!   (surrogates cannot occur in a Rust `str`).
//! - `source` is a URI-reference and `dataschema` an absolute URI (RFC 3986). The check
//!   is syntactic: the character set, percent-escapes, at most one `#`, and the scheme
//!   when there is one.

use std::borrow::Borrow;
use std::str::FromStr;

use super::{EventError, ExtensionName, ExtensionValue};

/// The longest extension name weft accepts (the specification's SHOULD, enforced).
pub const MAX_NAME_LEN: usize = 20;

/// The names of the core context attributes, which extensions cannot reuse.
pub(crate) const CORE_NAMES: [&str; 8] = [
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
];

impl ExtensionName {
    /// Checks `name` against the naming rules: 1 to [`MAX_NAME_LEN`] characters of
    /// `a-z` and `0-9`, and neither a core attribute nor `data`/`data_base64`.
    pub fn new(name: &str) -> Result<Self, EventError> {
        check_name(name)?;
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_name(name: &str) -> Result<(), EventError> {
    let invalid = |reason| EventError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name == "data" || name == "data_base64" {
        return Err(invalid("is reserved for the event data"));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
    {
        return Err(invalid("must contain only the characters a-z and 0-9"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid("must not be longer than 20 characters"));
    }
    if CORE_NAMES.contains(&name) {
        return Err(invalid("is a core attribute, not an extension"));
    }
    Ok(())
}

impl FromStr for ExtensionName {
    type Err = EventError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::new(name)
    }
}

impl TryFrom<&str> for ExtensionName {
    type Error = EventError;

    fn try_from(name: &str) -> Result<Self, Self::Error> {
        Self::new(name)
    }
}

impl AsRef<str> for ExtensionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets maps keyed by [`ExtensionName`] be searched with a `&str`. Sound because the
/// derived `Ord`, `Eq` and `Hash` of the newtype are those of its string.
impl Borrow<str> for ExtensionName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Checks a string value against the characters the specification disallows.
pub(crate) fn check_string(name: &str, value: &str) -> Result<(), EventError> {
    // Fast path: printable ASCII is always allowed.
    if value.bytes().all(|byte| (0x20..0x7f).contains(&byte)) {
        return Ok(());
    }
    match value.chars().find(|&c| is_disallowed(c)) {
        None => Ok(()),
        Some(c) => Err(invalid(
            name,
            format!("contains the disallowed character U+{:04X}", u32::from(c)),
        )),
    }
}

fn is_disallowed(c: char) -> bool {
    let code = u32::from(c);
    c.is_control() // U+0000..=U+001F and U+007F..=U+009F
        || (0xFDD0..=0xFDEF).contains(&code)
        || (code & 0xFFFE) == 0xFFFE
}

/// Takes the string out of a value that the specification types as a string.
pub(crate) fn string(name: &str, value: ExtensionValue) -> Result<String, EventError> {
    match value {
        ExtensionValue::String(text) => {
            check_string(name, &text)?;
            Ok(text)
        }
        other => Err(invalid(
            name,
            format!("must be a string, not {}", kind(&other)),
        )),
    }
}

/// Like [`string`], and the string must not be empty.
pub(crate) fn non_empty_string(name: &str, value: ExtensionValue) -> Result<String, EventError> {
    let text = string(name, value)?;
    if text.is_empty() {
        return Err(invalid(name, "must not be empty".to_owned()));
    }
    Ok(text)
}

fn kind(value: &ExtensionValue) -> &'static str {
    match value {
        ExtensionValue::Boolean(_) => "a boolean",
        ExtensionValue::Integer(_) => "an integer",
        ExtensionValue::String(_) => "a string",
    }
}

pub(crate) fn invalid(name: &str, reason: String) -> EventError {
    EventError::InvalidAttribute {
        name: name.to_owned(),
        reason,
    }
}

/// Whether the scheme of a URI is required (`dataschema`) or optional (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Required,
    Optional,
}

/// Checks the RFC 3986 syntax of a URI (`Scheme::Required`) or URI-reference.
pub(crate) fn check_uri(name: &str, value: &str, scheme: Scheme) -> Result<(), EventError> {
    let bytes = value.as_bytes();
    let first_delimiter = bytes
        .iter()
        .position(|&byte| matches!(byte, b':' | b'/' | b'?' | b'#'));
    match first_delimiter {
        // A colon before any `/`, `?` or `#` ends a scheme (a relative reference may not
        // have a colon in its first segment).
        Some(end) if bytes.get(end) == Some(&b':') && !is_scheme(&bytes[..end]) => {
            return Err(invalid(
                name,
                format!("`{value}` has an invalid uri scheme"),
            ));
        }
        Some(end) if bytes.get(end) == Some(&b':') => {}
        _ if scheme == Scheme::Required => {
            return Err(invalid(
                name,
                format!("`{value}` is not an absolute uri (it has no scheme)"),
            ));
        }
        _ => {}
    }
    let mut index = 0;
    let mut seen_fragment = false;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'%' => {
                let escape = bytes.get(index + 1..index + 3);
                if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(invalid(
                        name,
                        format!("`{value}` has a `%` that does not start a %XX escape"),
                    ));
                }
                index += 3;
                continue;
            }
            b'#' if seen_fragment => {
                return Err(invalid(name, format!("`{value}` has more than one `#`")));
            }
            b'#' => seen_fragment = true,
            _ if is_uri_char(byte) => {}
            _ => {
                let found = value[index..].chars().next().unwrap_or(' ');
                return Err(invalid(
                    name,
                    format!("`{value}` contains {found:?}, which a uri must percent-encode"),
                ));
            }
        }
        index += 1;
    }
    Ok(())
}

fn is_scheme(scheme: &[u8]) -> bool {
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'))
}

/// RFC 3986 unreserved and reserved characters (`%` and `#` are handled by the caller).
fn is_uri_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'/'
                | b'?'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}
