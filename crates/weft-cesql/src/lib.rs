//! `weft-cesql`: a CloudEvents SQL (CESQL v1) engine.
//!
//! It owns the language: the lexer and precedence-climbing parser ([`Expression::parse`],
//! errors as [`ParseError`] with a position), the syntax tree ([`ast`]), the type system
//! and casts ([`Value`], [`Type`]), the evaluator over a [`weft_core::CloudEvent`]
//! ([`Expression::evaluate`] → [`Evaluation`]), the function registry ([`functions`]),
//! weft's documented extension for reading JSON event data ([`data`] and
//! [`EvalOptions::data_fields`]) and evaluation traces for `weft flow explain`
//! ([`Expression::evaluate_traced`] → [`TraceNode`]).
//!
//! It depends only on `weft-core` (for the event model), `serde_json` and `thiserror`;
//! never on tokio or any other weft crate.
//!
//! Every evaluation is total: it returns a value *and* the list of errors raised on
//! the way ([`EvalError`], whose [`ErrorKind`] is one of `parse`, `math`, `cast`,
//! `missingAttribute`, `missingFunction`, `functionEvaluation`, `generic`). An
//! expression used as a filter matches only when its value is `true` and there are no
//! errors ([`Evaluation::is_match`]).
//!
//! ```
//! use weft_cesql::{EvalOptions, Expression, Value};
//! use weft_core::{Attributes, CloudEvent};
//!
//! let filter = Expression::parse("type LIKE 'order.%' AND source = '/shop'").unwrap();
//! let event = CloudEvent::new(Attributes::new("1", "/shop", "order.created").unwrap(), None);
//! let result = filter.evaluate(&event, &EvalOptions::default());
//! assert_eq!(result.value, Value::Boolean(true));
//! assert!(result.is_match());
//! ```
//!
//! The language as weft implements it, the extensions and the few differences from
//! the specification are documented in `docs/cesql.md`.

pub mod ast;
pub mod data;
mod error;
mod eval;
pub mod functions;
mod lexer;
mod like;
mod parser;
mod trace;
mod value;

use std::fmt;
use std::str::FromStr;

use weft_core::CloudEvent;

pub use ast::Span;
pub use error::{ErrorKind, EvalError, ParseError};
pub use eval::{EvalOptions, Evaluation};
pub use like::LikePattern;
pub use parser::MAX_DEPTH;
pub use trace::TraceNode;
pub use value::{Type, Value};

use ast::{Expr, ExprKind};

/// A parsed CESQL expression: parse (compile) once, evaluate many times. Cheap to share
/// across threads (`Send + Sync`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
    root: Expr,
}

/// A call that names no registered function overload; it will evaluate to `false` with
/// a `missingFunction` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFunction {
    /// The name as written.
    pub name: String,
    /// The number of arguments.
    pub arity: usize,
    /// Where the call is.
    pub span: Span,
}

impl Expression {
    /// Parses `source`. Calls to unknown functions are not parse errors (the
    /// specification makes them evaluation errors); see
    /// [`Expression::missing_functions`] to reject them up front.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let root = parser::parse(source)?;
        Ok(Self {
            source: source.to_owned(),
            root,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax tree.
    pub fn ast(&self) -> &Expr {
        &self.root
    }

    /// Evaluates the expression over `event`.
    pub fn evaluate(&self, event: &CloudEvent, options: &EvalOptions) -> Evaluation {
        eval::Context::new(event, *options, false)
            .finish(&self.root, &self.source)
            .0
    }

    /// Evaluates the expression over `event` and records the value and errors of every
    /// evaluated sub-expression. The result is the same as [`Expression::evaluate`]'s.
    pub fn evaluate_traced(
        &self,
        event: &CloudEvent,
        options: &EvalOptions,
    ) -> (Evaluation, TraceNode) {
        let (evaluation, trace) =
            eval::Context::new(event, *options, true).finish(&self.root, &self.source);
        let trace = trace.unwrap_or_else(|| TraceNode {
            span: self.root.span,
            text: self.source.clone(),
            value: Some(evaluation.value.clone()),
            errors: evaluation.errors.clone(),
            children: Vec::new(),
        });
        (evaluation, trace)
    }

    /// Every call in the expression that names no registered function overload, in
    /// source order.
    pub fn missing_functions(&self) -> Vec<MissingFunction> {
        let mut missing = Vec::new();
        let mut pending = vec![&self.root];
        while let Some(expr) = pending.pop() {
            match &expr.kind {
                ExprKind::Literal(_) | ExprKind::Identifier(_) | ExprKind::Exists(_) => {}
                ExprKind::Unary { operand, .. } => pending.push(operand),
                ExprKind::Binary { left, right, .. } => pending.extend([&**left, &**right]),
                ExprKind::Like { value, .. } => pending.push(value),
                ExprKind::In { value, set, .. } => {
                    pending.push(value);
                    pending.extend(set);
                }
                ExprKind::Call {
                    name,
                    function,
                    args,
                } => {
                    if function.is_none() {
                        missing.push(MissingFunction {
                            name: name.clone(),
                            arity: args.len(),
                            span: expr.span,
                        });
                    }
                    pending.extend(args);
                }
            }
        }
        missing.sort_by_key(|call| call.span.start);
        missing
    }
}

impl FromStr for Expression {
    type Err = ParseError;

    fn from_str(source: &str) -> Result<Self, Self::Err> {
        Self::parse(source)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses and evaluates `source` in one step, reporting a parse failure the way the
/// conformance suite and `weft cesql eval` do: value `false` and one `parse` error.
pub fn evaluate(source: &str, event: &CloudEvent, options: &EvalOptions) -> Evaluation {
    match Expression::parse(source) {
        Ok(expression) => expression.evaluate(event, options),
        Err(error) => Evaluation {
            value: Value::Boolean(false),
            errors: vec![error.to_eval_error()],
        },
    }
}
