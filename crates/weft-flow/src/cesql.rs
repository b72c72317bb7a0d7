//! [`Cesql`]: a CloudEvents SQL expression kept with its source text, compiled once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use weft_cesql::{EvalOptions, Evaluation, Expression, TraceNode};
use weft_core::CloudEvent;

/// A compiled CESQL expression that names only known functions. Stored and compared as
/// its source text. Routes evaluate it in data-field mode
/// ([`EvalOptions::with_data_fields`]): an identifier that is not an attribute reads a
/// top-level member of the event's JSON data (`total > 100`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cesql(Expression);

/// Why an expression is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CesqlError {
    /// It does not parse.
    #[error("invalid cesql expression: {0}")]
    Parse(#[from] weft_cesql::ParseError),
    /// It calls a function that does not exist.
    #[error(
        "invalid cesql expression: unknown function `{name}` with {arity} argument(s) at column {column}"
    )]
    MissingFunction {
        /// The name as written.
        name: String,
        /// The number of arguments.
        arity: usize,
        /// The 1-based column (in characters) of the call.
        column: usize,
        /// The byte offset of the call in the expression.
        offset: usize,
    },
}

impl CesqlError {
    /// The byte offset in the expression where the problem is.
    #[must_use]
    pub fn offset(&self) -> usize {
        match self {
            CesqlError::Parse(error) => error.span.start,
            CesqlError::MissingFunction { offset, .. } => *offset,
        }
    }
}

impl Cesql {
    /// Parses `source` and rejects calls to unknown functions (which CESQL would only
    /// report when evaluating).
    ///
    /// # Errors
    /// The first parse error or unknown function.
    pub fn parse(source: &str) -> Result<Self, CesqlError> {
        let expression = Expression::parse(source)?;
        if let Some(call) = expression.missing_functions().into_iter().next() {
            let prefix = source.get(..call.span.start).unwrap_or(source);
            return Err(CesqlError::MissingFunction {
                name: call.name,
                arity: call.arity,
                column: prefix.chars().count() + 1,
                offset: call.span.start,
            });
        }
        Ok(Cesql(expression))
    }

    /// The source text.
    #[must_use]
    pub fn source(&self) -> &str {
        self.0.source()
    }

    /// The compiled expression.
    #[must_use]
    pub fn expression(&self) -> &Expression {
        &self.0
    }

    /// Evaluates the expression over `event` in data-field mode.
    #[must_use]
    pub fn evaluate(&self, event: &CloudEvent) -> Evaluation {
        self.0.evaluate(event, &EvalOptions::with_data_fields())
    }

    /// [`Self::evaluate`] with the value and errors of every evaluated sub-expression
    /// (for `weft flow explain`); the evaluation is the same.
    #[must_use]
    pub fn evaluate_traced(&self, event: &CloudEvent) -> (Evaluation, TraceNode) {
        self.0
            .evaluate_traced(event, &EvalOptions::with_data_fields())
    }
}

impl FromStr for Cesql {
    type Err = CesqlError;

    fn from_str(source: &str) -> Result<Self, Self::Err> {
        Cesql::parse(source)
    }
}

impl TryFrom<String> for Cesql {
    type Error = CesqlError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Cesql::parse(&source)
    }
}

impl From<Cesql> for String {
    fn from(expression: Cesql) -> String {
        expression.source().to_owned()
    }
}

impl fmt::Display for Cesql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_functions_are_rejected_with_their_column() {
        let error = Cesql::parse("type = 'x' AND NOPE(1, 2)").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid cesql expression: unknown function `NOPE` with 2 argument(s) at column 16"
        );
        assert_eq!(error.offset(), 15);
    }

    #[test]
    fn parse_errors_keep_the_cesql_position() {
        let error = Cesql::parse("type = ").unwrap_err();
        assert!(matches!(error, CesqlError::Parse(_)));
        assert!(error.to_string().starts_with("invalid cesql expression: "));
    }
}
