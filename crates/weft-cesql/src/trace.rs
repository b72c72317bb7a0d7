//! Evaluation traces for `weft flow explain`: the value and errors of every
//! sub-expression that was evaluated, as a tree mirroring the syntax tree.

use std::fmt;

use crate::ast::{Expr, Span};
use crate::error::EvalError;
use crate::eval::Operand;
use crate::value::Value;

/// One evaluated sub-expression. Sub-expressions that were not evaluated (the right
/// operand of a short-circuited `AND`/`OR`, the arguments of a missing function) have
/// no node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceNode {
    /// Where the sub-expression is in the source.
    pub span: Span,
    /// Its source text.
    pub text: String,
    /// Its value; `None` when it named a missing attribute (or an unusable data field).
    pub value: Option<Value>,
    /// The errors this node raised itself (not those of its children).
    pub errors: Vec<EvalError>,
    /// The evaluated operands and arguments, in evaluation order.
    pub children: Vec<TraceNode>,
}

impl TraceNode {
    /// The trace as JSON: `{"text", "span": [start, end], "value", "errors", "children"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "text": self.text,
            "span": [self.span.start, self.span.end],
            "value": self.value.as_ref().map(Value::to_json),
            "errors": self.errors.iter().map(EvalError::to_json).collect::<Vec<_>>(),
            "children": self.children.iter().map(TraceNode::to_json).collect::<Vec<_>>(),
        })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let value = self
            .value
            .as_ref()
            .map_or_else(|| "<missing>".to_owned(), Value::to_string);
        write!(
            f,
            "{:indent$}{} => {value}",
            "",
            self.text,
            indent = depth * 2
        )?;
        for error in &self.errors {
            write!(f, "  [{error}]")?;
        }
        writeln!(f)?;
        for child in &self.children {
            child.write(f, depth + 1)?;
        }
        Ok(())
    }
}

impl fmt::Display for TraceNode {
    /// An indented tree, one sub-expression per line: `text => value  [errors]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

/// A node being recorded: its own errors and its finished children.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    pub(crate) errors: Vec<EvalError>,
    pub(crate) children: Vec<TraceNode>,
}

impl Frame {
    pub(crate) fn into_node(self, expr: &Expr, source: &str, result: &Operand<'_>) -> TraceNode {
        let value = match result {
            Operand::Value(value) => Some(value.clone().into_owned()),
            Operand::Absent => None,
        };
        TraceNode {
            span: expr.span,
            text: source
                .get(expr.span.start..expr.span.end)
                .unwrap_or_default()
                .to_owned(),
            value,
            errors: self.errors,
            children: self.children,
        }
    }
}
