//! [`UriReference`]: a `source` value checked once and then set on many events.
//!
//! Front ends that synthesise attributes (a plain MQTT message gets
//! `source = weft://NODE/mqtt/CLIENT`) would otherwise format and check the same text for
//! every event; they build a `UriReference` once per connection instead and hand it to
//! [`AttributesBuilder::set_source`](super::AttributesBuilder::set_source), which copies
//! it without checking again.

use std::fmt;

use super::EventError;
use super::rules::{self, Scheme};

/// A non-empty RFC 3986 URI-reference that is a valid CloudEvents `source`: exactly what
/// [`Attributes::set`](super::Attributes::set) accepts for `source`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UriReference(pub(super) String);

impl UriReference {
    /// Checks `text` by the rules of the `source` attribute (errors name `source`).
    pub fn new(text: impl Into<String>) -> Result<Self, EventError> {
        let text = text.into();
        if text.is_empty() {
            return Err(rules::invalid("source", "must not be empty".to_owned()));
        }
        rules::check_string("source", &text)?;
        rules::check_uri("source", &text, Scheme::Optional)?;
        Ok(Self(text))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UriReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for UriReference {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Attributes, ExtensionValue};
    use super::*;

    /// What `Attributes::set("source", …)` says about `text`.
    fn set_source(text: &str) -> Result<String, EventError> {
        let mut attributes = Attributes::new("1", "/", "t")?;
        attributes.set("source", ExtensionValue::String(text.to_owned()))?;
        Ok(attributes.source)
    }

    #[test]
    fn accepts_and_refuses_exactly_what_the_source_attribute_does() {
        let cases = [
            "weft://node/mqtt/client",
            "/relative/path",
            "urn:example:a",
            "weft://node/mqtt/caf%C3%A9",
            "",
            "has space",
            "bad%zz",
            "a#b#c",
            "1scheme:x",
            "weft://node/mqtt/\u{7}",
            "weft://node/mqtt/é",
        ];
        for text in cases {
            let checked = UriReference::new(text).map(|uri| uri.as_str().to_owned());
            assert_eq!(checked, set_source(text), "{text:?}");
        }
    }
}
