//! The CESQL type system: [`Type`], the owned [`Value`] an evaluation returns, and the
//! borrowed `Val` the evaluator works with, with the casts of CESQL v1 §3.7.

use std::borrow::Cow;
use std::fmt;

use crate::error::{ErrorKind, EvalError};

/// The three primitive CESQL types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// A signed 32-bit integer.
    Integer,
    /// A sequence of Unicode characters.
    String,
    /// `true` or `false`.
    Boolean,
}

impl Type {
    /// The type's name as the specification writes it.
    pub fn name(self) -> &'static str {
        match self {
            Type::Integer => "Integer",
            Type::String => "String",
            Type::Boolean => "Boolean",
        }
    }

    /// The zero ("default") value of the type: `0`, `""` or `false`.
    pub fn zero(self) -> Value {
        Val::zero(self).into_owned()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A CESQL value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// An Integer.
    Integer(i32),
    /// A String.
    String(String),
    /// A Boolean.
    Boolean(bool),
}

impl Value {
    /// The value's type.
    pub fn ty(&self) -> Type {
        match self {
            Value::Integer(_) => Type::Integer,
            Value::String(_) => Type::String,
            Value::Boolean(_) => Type::Boolean,
        }
    }

    /// The value as JSON: a number, a string or a boolean.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Integer(number) => serde_json::Value::from(*number),
            Value::String(text) => serde_json::Value::from(text.as_str()),
            Value::Boolean(flag) => serde_json::Value::from(*flag),
        }
    }

    /// The boolean, when the value is a Boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(flag) => Some(*flag),
            _ => None,
        }
    }

    pub(crate) fn as_val(&self) -> Val<'_> {
        match self {
            Value::Integer(number) => Val::Int(*number),
            Value::String(text) => Val::Str(Cow::Borrowed(text)),
            Value::Boolean(flag) => Val::Bool(*flag),
        }
    }
}

impl fmt::Display for Value {
    /// CESQL literal syntax: `42`, `'text'` (quotes escaped), `TRUE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(number) => write!(f, "{number}"),
            Value::String(text) => write!(f, "'{}'", text.replace('\'', "\\'")),
            Value::Boolean(true) => f.write_str("TRUE"),
            Value::Boolean(false) => f.write_str("FALSE"),
        }
    }
}

/// The evaluator's value: strings borrow from the event or the expression when they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    Int(i32),
    Str(Cow<'a, str>),
    Bool(bool),
}

/// The result of a cast: the value (the target type's zero value when the cast failed)
/// and the error, if any.
pub(crate) type Cast<'a, T> = (T, Option<EvalError>);

impl<'a> Val<'a> {
    pub(crate) fn zero(ty: Type) -> Val<'static> {
        match ty {
            Type::Integer => Val::Int(0),
            Type::String => Val::Str(Cow::Borrowed("")),
            Type::Boolean => Val::Bool(false),
        }
    }

    pub(crate) fn ty(&self) -> Type {
        match self {
            Val::Int(_) => Type::Integer,
            Val::Str(_) => Type::String,
            Val::Bool(_) => Type::Boolean,
        }
    }

    pub(crate) fn into_owned(self) -> Value {
        match self {
            Val::Int(number) => Value::Integer(number),
            Val::Str(text) => Value::String(text.into_owned()),
            Val::Bool(flag) => Value::Boolean(flag),
        }
    }

    /// Cast to Integer (§3.7): strings are parsed as base-10 32-bit integers with an
    /// optional sign; booleans are `1`/`0`.
    pub(crate) fn to_int(&self) -> Cast<'a, i32> {
        match self {
            Val::Int(number) => (*number, None),
            Val::Bool(flag) => (i32::from(*flag), None),
            Val::Str(text) => match parse_int(text) {
                Some(number) => (number, None),
                None => (
                    0,
                    Some(EvalError::new(
                        ErrorKind::Cast,
                        format!("cannot cast string '{text}' to Integer"),
                    )),
                ),
            },
        }
    }

    /// Cast to Boolean (§3.7): strings `true`/`false` in any case; integers are `true`
    /// unless `0`.
    pub(crate) fn to_bool(&self) -> Cast<'a, bool> {
        match self {
            Val::Bool(flag) => (*flag, None),
            Val::Int(number) => (*number != 0, None),
            Val::Str(text) => {
                if text.eq_ignore_ascii_case("true") {
                    (true, None)
                } else if text.eq_ignore_ascii_case("false") {
                    (false, None)
                } else {
                    (
                        false,
                        Some(EvalError::new(
                            ErrorKind::Cast,
                            format!("cannot cast string '{text}' to Boolean"),
                        )),
                    )
                }
            }
        }
    }

    /// Cast to String (§3.7): integers in base 10, booleans as `true`/`false`. Never
    /// fails.
    pub(crate) fn into_str(self) -> Cow<'a, str> {
        match self {
            Val::Str(text) => text,
            Val::Int(number) => Cow::Owned(number.to_string()),
            Val::Bool(true) => Cow::Borrowed("true"),
            Val::Bool(false) => Cow::Borrowed("false"),
        }
    }

    /// Cast to `ty`.
    pub(crate) fn cast(self, ty: Type) -> Cast<'a, Val<'a>> {
        match ty {
            Type::Integer => {
                let (number, error) = self.to_int();
                (Val::Int(number), error)
            }
            Type::Boolean => {
                let (flag, error) = self.to_bool();
                (Val::Bool(flag), error)
            }
            Type::String => (Val::Str(self.into_str()), None),
        }
    }
}

/// Parses a base-10 32-bit integer with an optional leading `+` or `-`; nothing else
/// (no whitespace, no `_`) is accepted.
pub(crate) fn parse_int(text: &str) -> Option<i32> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse::<i32>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_integer_accepts_sign_and_rejects_overflow() {
        assert_eq!(parse_int("+12"), Some(12));
        assert_eq!(parse_int("-2147483648"), Some(i32::MIN));
        assert_eq!(parse_int("2147483648"), None);
        assert_eq!(parse_int(" 1"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("1_0"), None);
    }

    #[test]
    fn string_to_boolean_is_case_insensitive() {
        assert_eq!(Val::Str("TRUE".into()).to_bool(), (true, None));
        assert_eq!(Val::Str("False".into()).to_bool(), (false, None));
        assert!(Val::Str("yes".into()).to_bool().1.is_some());
    }

    #[test]
    fn display_writes_literal_syntax() {
        assert_eq!(Value::String("it's".into()).to_string(), "'it\\'s'");
        assert_eq!(Value::Boolean(true).to_string(), "TRUE");
    }
}
