//! The syntax tree [`Expression::parse`](crate::Expression::parse) builds: every node
//! carries the [`Span`] of the source text it came from, so errors and traces can point
//! at it.

use std::fmt;

use crate::functions::Function;
use crate::like::LikePattern;
use crate::value::Value;

/// A byte range `start..end` of the expression's source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// One node of the syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it is in the source.
    pub span: Span,
}

/// The kinds of node.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer, string or boolean literal.
    Literal(Value),
    /// A value identifier: a context attribute, an extension or (in data-field mode) a
    /// top-level field of the JSON data.
    Identifier(String),
    /// `NOT x` or `-x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `x op y` for the arithmetic, comparison and logical operators.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `x [NOT] LIKE 'pattern'`; the pattern is compiled at parse time.
    Like {
        /// The value matched.
        value: Box<Expr>,
        /// The compiled pattern.
        pattern: LikePattern,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `EXISTS identifier`.
    Exists(String),
    /// `x [NOT] IN (y1, y2, ...)`.
    In {
        /// The value looked for.
        value: Box<Expr>,
        /// The set, at least one element.
        set: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// A function invocation. `function` is `None` when no function of that name and
    /// arity is registered: evaluating it yields `false` and a `missingFunction` error,
    /// as the specification requires.
    Call {
        /// The name as written.
        name: String,
        /// The resolved overload.
        function: Option<&'static Function>,
        /// The arguments.
        args: Vec<Expr>,
    },
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `NOT`.
    Not,
    /// `-`.
    Negate,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `*`.
    Multiply,
    /// `/`.
    Divide,
    /// `%`.
    Modulo,
    /// `+`.
    Add,
    /// `-`.
    Subtract,
    /// `=`.
    Equal,
    /// `!=` or `<>`.
    NotEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `XOR`.
    Xor,
}

impl BinaryOp {
    /// The operator as written in expressions.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Equal => "=",
            BinaryOp::NotEqual => "!=",
            BinaryOp::Less => "<",
            BinaryOp::LessOrEqual => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterOrEqual => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Xor => "XOR",
        }
    }

    /// Binding strength: higher binds tighter (CESQL v1 §3.6).
    pub(crate) fn precedence(self) -> u8 {
        match self {
            BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo => 4,
            BinaryOp::Add | BinaryOp::Subtract => 3,
            BinaryOp::Equal
            | BinaryOp::NotEqual
            | BinaryOp::Less
            | BinaryOp::LessOrEqual
            | BinaryOp::Greater
            | BinaryOp::GreaterOrEqual => 2,
            BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => 1,
        }
    }
}
