//! Typed extraction that collects errors: read what you can, report the rest.
//!
//! Every reader takes `&mut Errors`, adds a [`Diagnostic`] with the value's place when the
//! value is unusable, and returns `None` for it, so the caller carries on and the next
//! mistake is reported too. A key whose value is `null` (`key:` or `key: ~`) reads as
//! absent.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::diagnostic::{Diagnostic, Errors, Problem};
use crate::node::{Mark, Node, NodeValue};
use crate::path;
use crate::suggest::suggest;
use weft_core::units::{parse_duration, parse_size};

/// A node together with its file and path, ready to be read as a type.
#[derive(Debug, Clone)]
pub struct Value<'n> {
    file: &'n str,
    path: String,
    node: &'n Node,
}

impl<'n> Value<'n> {
    /// `node` of `file`, at `path` (empty for a document root).
    #[must_use]
    pub fn new(file: &'n str, path: String, node: &'n Node) -> Value<'n> {
        Value { file, path, node }
    }

    /// The underlying node.
    #[must_use]
    pub fn node(&self) -> &'n Node {
        self.node
    }

    /// Where the value starts.
    #[must_use]
    pub fn mark(&self) -> Mark {
        self.node.mark
    }

    /// Where the value is in the document, like `http.listen`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The display name of the source.
    #[must_use]
    pub fn file(&self) -> &'n str {
        self.file
    }

    /// A diagnostic for `problem` at this value.
    #[must_use]
    pub fn diagnostic(&self, problem: Problem) -> Diagnostic {
        Diagnostic::new(self.file, self.node.mark, &self.path, problem)
    }

    /// Reports `problem` at this value.
    pub fn report(&self, errors: &mut Errors, problem: Problem) {
        errors.push(self.diagnostic(problem));
    }

    /// Reports that this value is invalid, with a lowercase explanation.
    pub fn report_invalid(&self, errors: &mut Errors, message: impl Into<String>) {
        let message = message.into();
        self.report(errors, Problem::Invalid { message });
    }

    fn wrong_type<T>(&self, errors: &mut Errors, expected: &str) -> Option<T> {
        let problem = Problem::WrongType {
            expected: expected.to_owned(),
            found: self.node.describe(),
        };
        self.report(errors, problem);
        None
    }

    /// The value as a string.
    pub fn str(&self, errors: &mut Errors) -> Option<&'n str> {
        match &self.node.value {
            NodeValue::String(text) => Some(text),
            _ => self.wrong_type(errors, "a string"),
        }
    }

    /// The value as a boolean (`true` or `false`).
    pub fn bool(&self, errors: &mut Errors) -> Option<bool> {
        match self.node.value {
            NodeValue::Bool(value) => Some(value),
            _ => self.wrong_type(errors, "a boolean (true or false)"),
        }
    }

    /// The value as a non-negative integer.
    pub fn u64(&self, errors: &mut Errors) -> Option<u64> {
        match self.node.value {
            NodeValue::Int(value) => match u64::try_from(value) {
                Ok(value) => Some(value),
                Err(_) => self.wrong_type(errors, "a non-negative integer"),
            },
            _ => self.wrong_type(errors, "a non-negative integer"),
        }
    }

    /// The value as an integer.
    pub fn i64(&self, errors: &mut Errors) -> Option<i64> {
        match self.node.value {
            NodeValue::Int(value) => Some(value),
            _ => self.wrong_type(errors, "an integer"),
        }
    }

    /// The value as a mapping.
    pub fn mapping(&self, errors: &mut Errors) -> Option<Mapping<'n>> {
        match &self.node.value {
            NodeValue::Mapping(entries) => Some(Mapping {
                value: self.clone(),
                entries,
            }),
            _ => self.wrong_type(errors, "a mapping"),
        }
    }

    /// The value as a sequence.
    pub fn seq(&self, errors: &mut Errors) -> Option<Sequence<'n>> {
        match &self.node.value {
            NodeValue::Sequence(items) => Some(Sequence {
                value: self.clone(),
                items,
            }),
            _ => self.wrong_type(errors, "a sequence"),
        }
    }

    /// The value as a size in bytes: a non-negative integer, or a string that
    /// [`parse_size`] accepts (`512KiB`, `1MiB`, `1MB`).
    pub fn size(&self, errors: &mut Errors) -> Option<u64> {
        match &self.node.value {
            NodeValue::Int(_) => self.u64(errors),
            NodeValue::String(text) => match parse_size(text) {
                Ok(bytes) => Some(bytes),
                Err(error) => {
                    self.report(errors, Problem::Size { error });
                    None
                }
            },
            _ => self.wrong_type(errors, "a size such as 1048576, 512KiB or 1MiB"),
        }
    }

    /// The value as a duration: a string that [`parse_duration`] accepts (`200ms`,
    /// `1h30m`), or the integer `0`.
    pub fn duration(&self, errors: &mut Errors) -> Option<Duration> {
        match &self.node.value {
            NodeValue::Int(0) => Some(Duration::ZERO),
            NodeValue::Int(value) => {
                let error = weft_core::units::DurationError::MissingUnit {
                    input: value.to_string(),
                };
                self.report(errors, Problem::Duration { error });
                None
            }
            NodeValue::String(text) => match parse_duration(text) {
                Ok(duration) => Some(duration),
                Err(error) => {
                    self.report(errors, Problem::Duration { error });
                    None
                }
            },
            _ => self.wrong_type(errors, "a duration such as 200ms, 5s or 1h30m"),
        }
    }

    /// The value as a string parsed with `T`'s `FromStr`; a parse error is reported with
    /// its `Display` text as the message, so it should be a complete, lowercase sentence.
    pub fn parse<T>(&self, errors: &mut Errors) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse_with(errors, T::from_str)
    }

    /// The value as a string converted by `parse`; an error is reported with its
    /// `Display` text as the message (see [`Value::parse`]).
    pub fn parse_with<T, E, F>(&self, errors: &mut Errors, parse: F) -> Option<T>
    where
        E: Display,
        F: FnOnce(&'n str) -> Result<T, E>,
    {
        let text = self.str(errors)?;
        match parse(text) {
            Ok(value) => Some(value),
            Err(error) => {
                self.report_invalid(errors, error.to_string());
                None
            }
        }
    }
}

/// A mapping node, read key by key with string keys.
#[derive(Debug, Clone)]
pub struct Mapping<'n> {
    value: Value<'n>,
    entries: &'n [(Node, Node)],
}

impl<'n> Mapping<'n> {
    /// The mapping as a plain [`Value`].
    #[must_use]
    pub fn as_value(&self) -> &Value<'n> {
        &self.value
    }

    /// Where the mapping starts.
    #[must_use]
    pub fn mark(&self) -> Mark {
        self.value.mark()
    }

    /// Where the mapping is in the document.
    #[must_use]
    pub fn path(&self) -> &str {
        self.value.path()
    }

    /// How many entries the mapping has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mapping has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`, even if it is `null`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Value<'n>> {
        self.entries
            .iter()
            .find(|(key_node, _)| key_node.as_str() == Some(key))
            .map(|(_, value)| self.child(key, value))
    }

    /// The value of `key`, or `None` if the key is absent or `null`.
    #[must_use]
    pub fn take(&self, key: &str) -> Option<Value<'n>> {
        self.get(key)
            .filter(|value| value.node().value != NodeValue::Null)
    }

    /// The value of `key`; reports a missing field at the mapping if it is absent or `null`.
    pub fn require(&self, key: &str, errors: &mut Errors) -> Option<Value<'n>> {
        let value = self.take(key);
        if value.is_none() {
            let problem = Problem::MissingField {
                field: key.to_owned(),
            };
            self.value.report(errors, problem);
        }
        value
    }

    /// Every entry in source order, each value with its path. Keys are given as nodes
    /// because they need not be strings.
    pub fn entries(&self) -> impl Iterator<Item = (&'n Node, Value<'n>)> + '_ {
        self.entries
            .iter()
            .map(|(key, value)| (key, self.child(&key.key_text(), value)))
    }

    /// Reports every key not in `known`, with a suggestion when a known key is close.
    pub fn deny_unknown(&self, known: &[&str], errors: &mut Errors) {
        for (key, _) in self.entries {
            let known_key = key.as_str().is_some_and(|text| known.contains(&text));
            if known_key {
                continue;
            }
            let field = key.key_text();
            let problem = Problem::UnknownField {
                suggestion: suggest(&field, known).map(str::to_owned),
                expected: known.iter().map(|&name| name.to_owned()).collect(),
                field: field.clone(),
            };
            let path = path::key(self.path(), &field);
            errors.report(self.value.file, key.mark, &path, problem);
        }
    }

    /// The string at `key`, if present (see [`Value::str`]).
    pub fn take_str(&self, key: &str, errors: &mut Errors) -> Option<&'n str> {
        self.take(key)?.str(errors)
    }

    /// The non-negative integer at `key`, if present (see [`Value::u64`]).
    pub fn take_u64(&self, key: &str, errors: &mut Errors) -> Option<u64> {
        self.take(key)?.u64(errors)
    }

    /// The boolean at `key`, if present (see [`Value::bool`]).
    pub fn take_bool(&self, key: &str, errors: &mut Errors) -> Option<bool> {
        self.take(key)?.bool(errors)
    }

    /// The mapping at `key`, if present (see [`Value::mapping`]).
    pub fn take_mapping(&self, key: &str, errors: &mut Errors) -> Option<Mapping<'n>> {
        self.take(key)?.mapping(errors)
    }

    /// The sequence at `key`, if present (see [`Value::seq`]).
    pub fn take_seq(&self, key: &str, errors: &mut Errors) -> Option<Sequence<'n>> {
        self.take(key)?.seq(errors)
    }

    /// The size in bytes at `key`, if present (see [`Value::size`]).
    pub fn take_size(&self, key: &str, errors: &mut Errors) -> Option<u64> {
        self.take(key)?.size(errors)
    }

    /// The duration at `key`, if present (see [`Value::duration`]).
    pub fn take_duration(&self, key: &str, errors: &mut Errors) -> Option<Duration> {
        self.take(key)?.duration(errors)
    }

    /// The string at `key` parsed as `T`, if present (see [`Value::parse`]).
    pub fn take_parsed<T>(&self, key: &str, errors: &mut Errors) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.take(key)?.parse(errors)
    }

    /// The string at `key` converted by `parse`, if present (see [`Value::parse_with`]).
    pub fn take_with<T, E, F>(&self, key: &str, errors: &mut Errors, parse: F) -> Option<T>
    where
        E: Display,
        F: FnOnce(&'n str) -> Result<T, E>,
    {
        self.take(key)?.parse_with(errors, parse)
    }

    fn child(&self, key: &str, node: &'n Node) -> Value<'n> {
        Value::new(self.value.file, path::key(self.path(), key), node)
    }
}

/// A sequence node.
#[derive(Debug, Clone)]
pub struct Sequence<'n> {
    value: Value<'n>,
    items: &'n [Node],
}

impl<'n> Sequence<'n> {
    /// The sequence as a plain [`Value`].
    #[must_use]
    pub fn as_value(&self) -> &Value<'n> {
        &self.value
    }

    /// Where the sequence starts.
    #[must_use]
    pub fn mark(&self) -> Mark {
        self.value.mark()
    }

    /// How many items the sequence has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the sequence has no items.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items in order, each with its path (`routes[0]`, `routes[1]`, …).
    pub fn iter(&self) -> impl Iterator<Item = Value<'n>> + '_ {
        self.items.iter().enumerate().map(|(index, node)| {
            Value::new(self.value.file, path::index(self.value.path(), index), node)
        })
    }
}

#[cfg(test)]
mod tests;
