//! Attribute values: the owned [`ExtensionValue`] and the borrowed [`AttributeValue`]
//! view that [`Attributes::get`](super::Attributes::get) and
//! [`Attributes::iter`](super::Attributes::iter) hand out.

use std::borrow::Cow;
use std::fmt;

use super::ExtensionValue;

/// A borrowed view of any attribute's value (core or extension).
///
/// Every value has a canonical string form, given by `Display` and
/// [`AttributeValue::canonical`]: booleans are `true`/`false`, integers are decimal, and
/// strings (including URIs and timestamps) are themselves. Binary-mode encoders of every
/// protocol write that form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    /// `Boolean`.
    Boolean(bool),
    /// `Integer` (signed 32-bit).
    Integer(i32),
    /// `String` and every type whose canonical form is a string.
    String(&'a str),
}

impl<'a> AttributeValue<'a> {
    /// The canonical string form; borrows for strings, allocates for the others.
    pub fn canonical(&self) -> Cow<'a, str> {
        match *self {
            AttributeValue::Boolean(true) => Cow::Borrowed("true"),
            AttributeValue::Boolean(false) => Cow::Borrowed("false"),
            AttributeValue::Integer(number) => Cow::Owned(number.to_string()),
            AttributeValue::String(text) => Cow::Borrowed(text),
        }
    }

    /// The string, when the value is a string.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            AttributeValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// An owned copy.
    pub fn to_owned_value(&self) -> ExtensionValue {
        match *self {
            AttributeValue::Boolean(flag) => ExtensionValue::Boolean(flag),
            AttributeValue::Integer(number) => ExtensionValue::Integer(number),
            AttributeValue::String(text) => ExtensionValue::String(text.to_owned()),
        }
    }
}

impl fmt::Display for AttributeValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Boolean(flag) => write!(f, "{flag}"),
            AttributeValue::Integer(number) => write!(f, "{number}"),
            AttributeValue::String(text) => f.write_str(text),
        }
    }
}

impl<'a> From<&'a ExtensionValue> for AttributeValue<'a> {
    fn from(value: &'a ExtensionValue) -> Self {
        match value {
            ExtensionValue::Boolean(flag) => AttributeValue::Boolean(*flag),
            ExtensionValue::Integer(number) => AttributeValue::Integer(*number),
            ExtensionValue::String(text) => AttributeValue::String(text),
        }
    }
}

impl ExtensionValue {
    /// A borrowed view of this value.
    pub fn as_value(&self) -> AttributeValue<'_> {
        AttributeValue::from(self)
    }

    /// The string, when the value is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ExtensionValue::String(text) => Some(text),
            _ => None,
        }
    }
}

/// The canonical string form (see [`AttributeValue`]).
impl fmt::Display for ExtensionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value().fmt(f)
    }
}

impl From<bool> for ExtensionValue {
    fn from(flag: bool) -> Self {
        ExtensionValue::Boolean(flag)
    }
}

impl From<i32> for ExtensionValue {
    fn from(number: i32) -> Self {
        ExtensionValue::Integer(number)
    }
}

impl From<String> for ExtensionValue {
    fn from(text: String) -> Self {
        ExtensionValue::String(text)
    }
}

impl From<&str> for ExtensionValue {
    fn from(text: &str) -> Self {
        ExtensionValue::String(text.to_owned())
    }
}
