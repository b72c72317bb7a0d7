//! weft's data extension: reading the event's JSON `data`.
//!
//! The CESQL specification deliberately leaves `data` alone; filtering on it is what
//! users ask for most, so weft adds these functions (documented in `docs/cesql.md`):
//!
//! | function | returns |
//! |---|---|
//! | `DATA_STRING(path)` (alias `DATA(path)`) | a string, number or boolean at `path` as a String |
//! | `DATA_INT(path)` | the value at `path` cast to Integer |
//! | `DATA_BOOL(path)` | the value at `path` cast to Boolean |
//! | `DATA_EXISTS(path)` | whether `path` exists (its value may be `null`) |
//!
//! The data is read as JSON when `datacontenttype` is absent or a JSON media type
//! (`application/json`, `*/*+json`, parameters ignored) and the bytes parse as JSON.
//! Otherwise, and when the event has no data, the functions return their type's zero
//! value and a `functionEvaluation` error — except `DATA_EXISTS`, which is simply
//! `false` for an event without data.
//!
//! A **path** is either a JSON pointer (RFC 6901, starts with `/`: `/items/0/price`) or
//! a dot path (`items.0.price`, also written `items[0].price`): object members by name,
//! array elements by 0-based index. The empty path is the whole document.
//!
//! The same JSON is used by the data-field mode of
//! [`EvalOptions::data_fields`](crate::EvalOptions::data_fields).

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::error::{ErrorKind, EvalError};
use crate::eval::Context;
use crate::functions::{Function, Outcome, Param};
use crate::value::{Type, Val};

const PATH: Param = Param::Of(Type::String);

pub(crate) static FUNCTIONS: [Function; 5] = [
    Function::fixed("DATA", &[PATH], Type::String, data_string),
    Function::fixed("DATA_STRING", &[PATH], Type::String, data_string),
    Function::fixed("DATA_INT", &[PATH], Type::Integer, data_int),
    Function::fixed("DATA_BOOL", &[PATH], Type::Boolean, data_bool),
    Function::fixed("DATA_EXISTS", &[PATH], Type::Boolean, data_exists),
];

/// Why the data could not be read as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataError {
    /// The event carries no data.
    Absent,
    /// The data is not JSON (media type or syntax), for humans.
    NotJson(String),
}

/// Parses the event's data as JSON, following the rules in the module docs.
pub(crate) fn parse(event: &weft_core::CloudEvent) -> Result<Json, DataError> {
    let Some(bytes) = &event.data else {
        return Err(DataError::Absent);
    };
    let content_type = event.attributes.datacontenttype.as_deref();
    if !weft_core::json::is_json_media_type(content_type) {
        return Err(DataError::NotJson(format!(
            "datacontenttype `{}` is not json",
            content_type.unwrap_or_default()
        )));
    }
    serde_json::from_slice(bytes)
        .map_err(|error| DataError::NotJson(format!("data is not valid json: {error}")))
}

/// The value at `path` in `document`, if there is one.
pub fn lookup<'j>(document: &'j Json, path: &str) -> Option<&'j Json> {
    if path.is_empty() {
        return Some(document);
    }
    if path.starts_with('/') {
        return document.pointer(path);
    }
    let mut current = document;
    for segment in path.split('.') {
        // `items[0][1]` is `items`, then indices 0 and 1.
        let (name, indices) = segment
            .split_once('[')
            .map_or((segment, ""), |(name, _)| (name, &segment[name.len()..]));
        if !name.is_empty() || indices.is_empty() {
            current = step(current, name)?;
        }
        for index in indices.split('[').filter(|part| !part.is_empty()) {
            current = step(current, index.strip_suffix(']')?)?;
        }
    }
    Some(current)
}

fn step<'j>(current: &'j Json, key: &str) -> Option<&'j Json> {
    match current {
        Json::Object(members) => members.get(key),
        Json::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    }
}

/// A JSON scalar as a CESQL value: strings, booleans and integers that fit 32 bits.
/// `None` for `null`, other numbers, arrays and objects.
pub(crate) fn scalar(json: &Json) -> Option<Val<'static>> {
    match json {
        Json::String(text) => Some(Val::Str(Cow::Owned(text.clone()))),
        Json::Bool(flag) => Some(Val::Bool(*flag)),
        Json::Number(number) => number
            .as_i64()
            .and_then(|wide| i32::try_from(wide).ok())
            .map(Val::Int),
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}

pub(crate) fn json_type(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(number) if number.is_f64() => "non-integer number",
        Json::Number(_) => "integer outside the 32-bit range",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn error(function: &str, message: impl std::fmt::Display) -> Option<EvalError> {
    Some(EvalError::new(
        ErrorKind::FunctionEvaluation,
        format!("{function}: {message}"),
    ))
}

/// The value at the path given as the single argument, or the error message.
fn at_path<'c>(context: &'c Context<'_>, args: &[Val<'_>]) -> Result<&'c Json, String> {
    let path = match args.first() {
        Some(Val::Str(path)) => path.as_ref(),
        _ => "",
    };
    let document = match context.data() {
        Ok(document) => document,
        Err(DataError::Absent) => return Err("the event has no data".to_owned()),
        Err(DataError::NotJson(reason)) => return Err(reason.clone()),
    };
    lookup(document, path).ok_or_else(|| format!("no value at path `{path}`"))
}

fn typed<'a>(context: &Context<'a>, args: &[Val<'a>], name: &str, ty: Type) -> Outcome<'a> {
    let zero = Val::zero(ty);
    let json = match at_path(context, args) {
        Ok(json) => json,
        Err(message) => return (zero, error(name, message)),
    };
    let Some(value) = scalar(json) else {
        let message = format!("cannot convert a json {} to {ty}", json_type(json));
        return (zero, error(name, message));
    };
    match value.cast(ty) {
        (value, None) => (value, None),
        (_, Some(cast)) => (zero, error(name, cast.message)),
    }
}

fn data_string<'a>(context: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
    typed(context, &args, "DATA_STRING", Type::String)
}

fn data_int<'a>(context: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
    typed(context, &args, "DATA_INT", Type::Integer)
}

fn data_bool<'a>(context: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
    typed(context, &args, "DATA_BOOL", Type::Boolean)
}

fn data_exists<'a>(context: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
    match at_path(context, &args) {
        Ok(_) => (Val::Bool(true), None),
        Err(_) if matches!(context.data(), Ok(_) | Err(DataError::Absent)) => {
            (Val::Bool(false), None)
        }
        Err(message) => (Val::Bool(false), error("DATA_EXISTS", message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_walk_objects_and_arrays() {
        let document = serde_json::json!({
            "total": 120, "items": [{"sku": "a"}, {"sku": "b", "tags": ["x", "y"]}],
            "a/b": {"~": 1}
        });
        assert_eq!(lookup(&document, "total"), Some(&Json::from(120)));
        assert_eq!(lookup(&document, "items.1.sku"), Some(&Json::from("b")));
        assert_eq!(lookup(&document, "items[1].sku"), Some(&Json::from("b")));
        assert_eq!(
            lookup(&document, "items[1].tags[0]"),
            Some(&Json::from("x"))
        );
        assert_eq!(lookup(&document, "/items/0/sku"), Some(&Json::from("a")));
        assert_eq!(lookup(&document, "/a~1b/~0"), Some(&Json::from(1)));
        assert_eq!(lookup(&document, ""), Some(&document));
        assert_eq!(lookup(&document, "items.7"), None);
        assert_eq!(lookup(&document, "total.x"), None);
        assert_eq!(lookup(&document, "items[x]"), None);
    }

    #[test]
    fn scalars_map_to_cesql_types() {
        assert_eq!(scalar(&Json::from(5)), Some(Val::Int(5)));
        assert_eq!(scalar(&Json::from(5_000_000_000_i64)), None);
        assert_eq!(scalar(&Json::from(1.5)), None);
        assert_eq!(scalar(&Json::Null), None);
        assert_eq!(scalar(&Json::from(true)), Some(Val::Bool(true)));
    }
}
