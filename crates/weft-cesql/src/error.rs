//! Errors: the spec's seven error kinds ([`ErrorKind`]), the errors an evaluation
//! collects ([`EvalError`]) and the error [`Expression::parse`](crate::Expression::parse)
//! returns ([`ParseError`]).

use std::fmt;

use crate::ast::Span;

/// The kind of an error, exactly the error types CESQL v1 §3.3 requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The expression could not be parsed.
    Parse,
    /// A mathematical operation failed (division by zero, overflow).
    Math,
    /// An implicit or explicit type cast failed.
    Cast,
    /// The expression addressed an attribute the event does not carry.
    MissingAttribute,
    /// The expression called a function that is not registered (name or arity).
    MissingFunction,
    /// A function failed while evaluating (bad argument value, non-JSON data, ...).
    FunctionEvaluation,
    /// Any other error.
    Generic,
}

impl ErrorKind {
    /// The kind's name as the CESQL conformance suite spells it: `parse`, `math`, `cast`,
    /// `missingAttribute`, `missingFunction`, `functionEvaluation` or `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Parse => "parse",
            ErrorKind::Math => "math",
            ErrorKind::Cast => "cast",
            ErrorKind::MissingAttribute => "missingAttribute",
            ErrorKind::MissingFunction => "missingFunction",
            ErrorKind::FunctionEvaluation => "functionEvaluation",
            ErrorKind::Generic => "generic",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One error collected while evaluating an expression. Evaluation never stops at an
/// error: the value it returns is still defined (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct EvalError {
    /// What kind of error it is.
    pub kind: ErrorKind,
    /// What went wrong, for humans (lowercase, no trailing punctuation).
    pub message: String,
}

impl EvalError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The error as the JSON object `{"kind": K, "message": M}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "kind": self.kind.as_str(), "message": self.message })
    }
}

/// Why an expression could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ParseError {
    /// What is wrong, for humans.
    pub message: String,
    /// The byte range of the offending text in the expression.
    pub span: Span,
    /// The 1-based column (in characters) where the offending text starts.
    pub column: usize,
}

impl ParseError {
    pub(crate) fn new(source: &str, span: Span, message: impl Into<String>) -> Self {
        let start = span.start.min(source.len());
        let column = source
            .get(..start)
            .map_or(start, |prefix| prefix.chars().count())
            + 1;
        Self {
            message: message.into(),
            span,
            column,
        }
    }

    /// The parse error as an evaluation error of kind [`ErrorKind::Parse`], for callers
    /// that report every failure as an error list (the `weft cesql eval` command).
    pub fn to_eval_error(&self) -> EvalError {
        EvalError::new(ErrorKind::Parse, self.to_string())
    }
}

impl From<ParseError> for EvalError {
    fn from(error: ParseError) -> Self {
        error.to_eval_error()
    }
}
