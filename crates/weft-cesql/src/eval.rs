//! The evaluator: walks the syntax tree over one event, applying the implicit casts of
//! CESQL v1 §3.7, collecting errors and, when asked, recording a trace.
//!
//! Errors propagate as §3.2 describes for missing attributes: an identifier that names
//! nothing yields no value and a `missingAttribute` error, and the operator or
//! function that consumes it returns the zero value of its own return type without
//! computing anything (so `missing / 0` is `0` with only a `missingAttribute` error).
//! The same holds for an operand that raised any other error: `1 != 1 / 0` is
//! `false` with one `math` error (as the conformance suite expects). Errors an operator
//! or function raises itself (a failed implicit cast, a negative `LEFT` length) do not
//! stop it: it computes its value with the cast's zero value (`NOT 10` is `true` with
//! a `cast` error; `LEFT('abc', -2)` is `'abc'` with a `functionEvaluation` error). At
//! the top level a missing value is `false` (the spec's rule for an undetermined type).

mod operators;

use std::borrow::Cow;
use std::cell::OnceCell;

use weft_core::CloudEvent;
use weft_core::event::AttributeValue;

use crate::ast::{Expr, ExprKind};
use crate::data::{self, DataError};
use crate::error::{ErrorKind, EvalError};
use crate::trace::{Frame, TraceNode};
use crate::value::{Type, Val, Value};

/// How an expression is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EvalOptions {
    /// Data-field mode (weft extension, off by default): an identifier that names no
    /// context attribute and no extension is looked up as a top-level member of the
    /// event's JSON data (see [`data`](crate::data) for when data counts as JSON).
    /// JSON strings, booleans and integers that fit 32 bits become String, Boolean
    /// and Integer; any other JSON value (`null`, fractions, larger numbers, arrays,
    /// objects) yields a `cast` error and no value. `EXISTS name` also sees data
    /// members in this mode.
    pub data_fields: bool,
}

impl EvalOptions {
    /// The specification's behaviour: identifiers are attributes and extensions only.
    pub fn spec() -> Self {
        Self::default()
    }

    /// Data-field mode on (see [`EvalOptions::data_fields`]).
    pub fn with_data_fields() -> Self {
        Self { data_fields: true }
    }
}

/// The result of evaluating an expression: always a value, plus every error raised on
/// the way (empty when all went well).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The value of the expression.
    pub value: Value,
    /// The errors, in the order they were raised.
    pub errors: Vec<EvalError>,
}

impl Evaluation {
    /// Whether the event passes the expression used as a filter: the value is the
    /// Boolean `true` and there are no errors (the Subscriptions API rule, CESQL v1
    /// §1.2).
    pub fn is_match(&self) -> bool {
        self.value == Value::Boolean(true) && self.errors.is_empty()
    }

    /// `{"value": <json>, "errors": [{"kind": K, "message": M}, ...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "value": self.value.to_json(),
            "errors": self.errors.iter().map(EvalError::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The result of evaluating a node: a value, or nothing because an attribute was
/// missing (the error has already been recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operand<'a> {
    Value(Val<'a>),
    Absent,
}

/// Everything one evaluation needs: the event, the options, the lazily parsed data,
/// the errors so far and the trace being recorded.
pub(crate) struct Context<'a> {
    event: &'a CloudEvent,
    options: EvalOptions,
    data: OnceCell<Result<serde_json::Value, DataError>>,
    errors: Vec<EvalError>,
    trace: Option<Vec<Frame>>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(event: &'a CloudEvent, options: EvalOptions, traced: bool) -> Self {
        Self {
            event,
            options,
            data: OnceCell::new(),
            errors: Vec::new(),
            trace: traced.then(|| vec![Frame::default()]),
        }
    }

    /// The event's data parsed as JSON (parsed at most once per evaluation).
    pub(crate) fn data(&self) -> &Result<serde_json::Value, DataError> {
        self.data.get_or_init(|| data::parse(self.event))
    }

    pub(crate) fn error(&mut self, error: EvalError) {
        if let Some(frame) = self.trace.as_mut().and_then(|frames| frames.last_mut()) {
            frame.errors.push(error.clone());
        }
        self.errors.push(error);
    }

    fn raise(&mut self, kind: ErrorKind, message: String) {
        self.error(EvalError::new(kind, message));
    }

    /// Records the error of a cast, if any, and returns the cast value.
    pub(crate) fn cast<T>(&mut self, (value, error): (T, Option<EvalError>)) -> T {
        if let Some(error) = error {
            self.error(error);
        }
        value
    }

    /// Evaluates the whole expression.
    pub(crate) fn finish(
        mut self,
        root: &'a Expr,
        source: &str,
    ) -> (Evaluation, Option<TraceNode>) {
        let value = match self.eval(root, source) {
            Operand::Value(value) => value.into_owned(),
            Operand::Absent => Value::Boolean(false),
        };
        let trace = self
            .trace
            .take()
            .and_then(|mut frames| frames.pop())
            .and_then(|frame| frame.children.into_iter().next());
        let evaluation = Evaluation {
            value,
            errors: self.errors,
        };
        (evaluation, trace)
    }

    /// Evaluates an operand or argument for its consumer: `None` when it has no value
    /// or raised any error, in which case the consumer returns its zero value.
    pub(crate) fn operand(&mut self, expr: &'a Expr, source: &str) -> Option<Val<'a>> {
        let before = self.errors.len();
        match self.eval(expr, source) {
            Operand::Value(value) if self.errors.len() == before => Some(value),
            Operand::Value(_) | Operand::Absent => None,
        }
    }

    pub(crate) fn eval(&mut self, expr: &'a Expr, source: &str) -> Operand<'a> {
        if self.trace.is_none() {
            return self.eval_kind(expr, source);
        }
        if let Some(frames) = self.trace.as_mut() {
            frames.push(Frame::default());
        }
        let result = self.eval_kind(expr, source);
        if let Some(frames) = self.trace.as_mut() {
            let frame = frames.pop().unwrap_or_default();
            let node = frame.into_node(expr, source, &result);
            if let Some(parent) = frames.last_mut() {
                parent.children.push(node);
            }
        }
        result
    }

    fn eval_kind(&mut self, expr: &'a Expr, source: &str) -> Operand<'a> {
        match &expr.kind {
            ExprKind::Literal(value) => Operand::Value(value.as_val()),
            ExprKind::Identifier(name) => self.identifier(name),
            ExprKind::Exists(name) => Operand::Value(Val::Bool(self.exists(name))),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, source),
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, source),
            ExprKind::Like {
                value,
                pattern,
                negated,
            } => self.like(value, pattern, *negated, source),
            ExprKind::In {
                value,
                set,
                negated,
            } => self.in_set(value, set, *negated, source),
            ExprKind::Call {
                name,
                function,
                args,
            } => self.call(name, *function, args, source),
        }
    }

    fn identifier(&mut self, name: &str) -> Operand<'a> {
        if let Some(value) = self.event.attributes.get(name) {
            return Operand::Value(match value {
                AttributeValue::Boolean(flag) => Val::Bool(flag),
                AttributeValue::Integer(number) => Val::Int(number),
                AttributeValue::String(text) => Val::Str(Cow::Borrowed(text)),
            });
        }
        if self.options.data_fields {
            if let Some(field) = self.data_field(name) {
                return field;
            }
            self.raise(
                ErrorKind::MissingAttribute,
                format!("no attribute, extension or data field named `{name}`"),
            );
        } else {
            self.raise(
                ErrorKind::MissingAttribute,
                format!("the event has no attribute `{name}`"),
            );
        }
        Operand::Absent
    }

    /// A top-level member of the JSON data, in data-field mode.
    fn data_field(&mut self, name: &str) -> Option<Operand<'a>> {
        let Ok(serde_json::Value::Object(members)) = self.data() else {
            return None;
        };
        let json = members.get(name)?;
        match data::scalar(json) {
            Some(value) => Some(Operand::Value(value)),
            None => {
                let message = format!(
                    "data field `{name}` is a json {}, not a String, Integer or Boolean",
                    data::json_type(json)
                );
                self.raise(ErrorKind::Cast, message);
                Some(Operand::Absent)
            }
        }
    }

    fn exists(&mut self, name: &str) -> bool {
        if self.event.attributes.get(name).is_some() {
            return true;
        }
        self.options.data_fields
            && matches!(self.data(), Ok(serde_json::Value::Object(members)) if members.contains_key(name))
    }

    fn call(
        &mut self,
        name: &str,
        function: Option<&'static crate::functions::Function>,
        args: &'a [Expr],
        source: &str,
    ) -> Operand<'a> {
        let Some(function) = function else {
            let message = if crate::functions::is_registered(name) {
                format!(
                    "function `{}` does not take {} argument(s)",
                    name.to_uppercase(),
                    args.len()
                )
            } else {
                format!("no function named `{}`", name.to_uppercase())
            };
            self.raise(ErrorKind::MissingFunction, message);
            return Operand::Value(Val::Bool(false));
        };
        let mut values = Vec::with_capacity(args.len());
        let mut absent = false;
        for (index, arg) in args.iter().enumerate() {
            match self.operand(arg, source) {
                Some(value) => {
                    let value = match function.param(index) {
                        crate::functions::Param::Of(ty) => self.cast(value.cast(ty)),
                        crate::functions::Param::Any => value,
                    };
                    values.push(value);
                }
                None => absent = true,
            }
        }
        if absent {
            return Operand::Value(Val::zero(function.returns()));
        }
        let (value, error) = function.call(self, values);
        if let Some(error) = error {
            self.error(error);
        }
        // A body must return its declared type (§3.5.3); enforce it for safety.
        if value.ty() != function.returns() {
            self.raise(
                ErrorKind::FunctionEvaluation,
                format!("{} returned a {} value", function.name(), value.ty()),
            );
            return Operand::Value(Val::zero(function.returns()));
        }
        Operand::Value(value)
    }
}

/// The zero value of `ty` as an operand.
pub(crate) fn zero<'a>(ty: Type) -> Operand<'a> {
    Operand::Value(Val::zero(ty))
}
