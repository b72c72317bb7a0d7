//! The built-in functions of CESQL v1 §3.5 and the cast functions of the conformance
//! suite. Each gets its arguments already cast to its parameter types and always
//! returns a value of its return type, plus an error when it fails.

use std::borrow::Cow;

use super::{Function, Outcome, Param};
use crate::error::{ErrorKind, EvalError};
use crate::eval::Context;
use crate::value::{Type, Val};

const STRING: Param = Param::Of(Type::String);
const INTEGER: Param = Param::Of(Type::Integer);

pub(crate) static FUNCTIONS: [Function; 17] = [
    Function::fixed("ABS", &[INTEGER], Type::Integer, abs),
    Function::fixed("LENGTH", &[STRING], Type::Integer, length),
    Function::variadic("CONCAT", &[], STRING, Type::String, concat),
    Function::variadic("CONCAT_WS", &[STRING], STRING, Type::String, concat_ws),
    Function::fixed("LOWER", &[STRING], Type::String, lower),
    Function::fixed("UPPER", &[STRING], Type::String, upper),
    Function::fixed("TRIM", &[STRING], Type::String, trim),
    Function::fixed("LEFT", &[STRING, INTEGER], Type::String, left),
    Function::fixed("RIGHT", &[STRING, INTEGER], Type::String, right),
    Function::fixed("SUBSTRING", &[STRING, INTEGER], Type::String, substring),
    Function::fixed(
        "SUBSTRING",
        &[STRING, INTEGER, INTEGER],
        Type::String,
        substring,
    ),
    Function::fixed("INT", &[Param::Any], Type::Integer, int),
    Function::fixed("BOOL", &[Param::Any], Type::Boolean, bool_cast),
    Function::fixed("STRING", &[Param::Any], Type::String, string),
    Function::fixed("IS_INT", &[Param::Any], Type::Boolean, is_int),
    Function::fixed("IS_BOOL", &[Param::Any], Type::Boolean, is_bool),
    Function::fixed("IS_STRING", &[Param::Any], Type::Boolean, is_string),
];

/// Argument `index`, which the evaluator guarantees exists and has the parameter type.
fn arg<'a>(args: &mut [Val<'a>], index: usize) -> Val<'a> {
    args.get_mut(index).map_or(Val::Bool(false), |slot| {
        std::mem::replace(slot, Val::Bool(false))
    })
}

fn text<'a>(args: &mut [Val<'a>], index: usize) -> Cow<'a, str> {
    arg(args, index).into_str()
}

fn integer(args: &mut [Val<'_>], index: usize) -> i32 {
    arg(args, index).to_int().0
}

fn ok(value: Val<'_>) -> Outcome<'_> {
    (value, None)
}

fn failed<'a>(value: Val<'a>, function: &str, message: String) -> Outcome<'a> {
    (
        value,
        Some(EvalError::new(
            ErrorKind::FunctionEvaluation,
            format!("{function}: {message}"),
        )),
    )
}

fn abs<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let number = integer(&mut args, 0);
    match number.checked_abs() {
        Some(absolute) => ok(Val::Int(absolute)),
        None => (
            Val::Int(i32::MAX),
            Some(EvalError::new(
                ErrorKind::Math,
                format!("ABS: the absolute value of {number} overflows a 32-bit integer"),
            )),
        ),
    }
}

fn length<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let count = text(&mut args, 0).chars().count();
    ok(Val::Int(i32::try_from(count).unwrap_or(i32::MAX)))
}

fn concat<'a>(_: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
    let joined: String = args.into_iter().map(Val::into_str).collect();
    ok(Val::Str(Cow::Owned(joined)))
}

fn concat_ws<'a>(_: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
    let mut args = args.into_iter().map(Val::into_str);
    let delimiter = args.next().unwrap_or_default();
    let parts: Vec<Cow<'a, str>> = args.collect();
    ok(Val::Str(Cow::Owned(parts.join(delimiter.as_ref()))))
}

fn lower<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    ok(Val::Str(Cow::Owned(text(&mut args, 0).to_lowercase())))
}

fn upper<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    ok(Val::Str(Cow::Owned(text(&mut args, 0).to_uppercase())))
}

fn trim<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let value = text(&mut args, 0);
    let trimmed = match value {
        Cow::Borrowed(borrowed) => Cow::Borrowed(borrowed.trim()),
        Cow::Owned(owned) => Cow::Owned(owned.trim().to_owned()),
    };
    ok(Val::Str(trimmed))
}

/// The byte offset of character `index` of `value` (its length when past the end).
fn char_offset(value: &str, index: usize) -> usize {
    value
        .char_indices()
        .nth(index)
        .map_or(value.len(), |(offset, _)| offset)
}

fn slice<'a>(value: Cow<'a, str>, start: usize, end: usize) -> Cow<'a, str> {
    let (from, to) = (char_offset(&value, start), char_offset(&value, end));
    match value {
        Cow::Borrowed(borrowed) => Cow::Borrowed(&borrowed[from..to]),
        Cow::Owned(owned) => Cow::Owned(owned[from..to].to_owned()),
    }
}

fn left<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let value = text(&mut args, 0);
    let count = integer(&mut args, 1);
    let Ok(count) = usize::try_from(count) else {
        return failed(
            Val::Str(value),
            "LEFT",
            format!("the length must not be negative, got {count}"),
        );
    };
    ok(Val::Str(slice(value, 0, count)))
}

fn right<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let value = text(&mut args, 0);
    let count = integer(&mut args, 1);
    let Ok(count) = usize::try_from(count) else {
        return failed(
            Val::Str(value),
            "RIGHT",
            format!("the length must not be negative, got {count}"),
        );
    };
    let total = value.chars().count();
    let start = total.saturating_sub(count);
    ok(Val::Str(slice(value, start, total)))
}

fn substring<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let value = text(&mut args, 0);
    let position = integer(&mut args, 1);
    let length = (args.len() > 2).then(|| integer(&mut args, 2));
    let empty = || Val::Str(Cow::Borrowed(""));
    let total = i64::try_from(value.chars().count()).unwrap_or(i64::MAX);
    let position = i64::from(position);
    if position > total || position < -total {
        return failed(
            empty(),
            "SUBSTRING",
            format!("position {position} is outside a string of length {total}"),
        );
    }
    if let Some(length) = length.filter(|length| *length < 0) {
        return failed(
            empty(),
            "SUBSTRING",
            format!("the length must not be negative, got {length}"),
        );
    }
    if position == 0 {
        return ok(empty());
    }
    // 0-based start; a negative position counts from the end.
    let start = if position > 0 {
        position - 1
    } else {
        total + position
    };
    let end = match length {
        Some(length) => (start + i64::from(length)).min(total),
        None => total,
    };
    let start = usize::try_from(start).unwrap_or(0);
    let end = usize::try_from(end).unwrap_or(0);
    ok(Val::Str(slice(value, start, end)))
}

fn int<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let (number, error) = arg(&mut args, 0).to_int();
    (Val::Int(number), error)
}

fn bool_cast<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    let (flag, error) = arg(&mut args, 0).to_bool();
    (Val::Bool(flag), error)
}

fn string<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    ok(Val::Str(text(&mut args, 0)))
}

fn is_int<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    ok(Val::Bool(arg(&mut args, 0).to_int().1.is_none()))
}

fn is_bool<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    ok(Val::Bool(arg(&mut args, 0).to_bool().1.is_none()))
}

fn is_string<'a>(_: &Context<'a>, mut args: Vec<Val<'a>>) -> Outcome<'a> {
    ok(Val::Bool(matches!(arg(&mut args, 0), Val::Str(_))))
}
