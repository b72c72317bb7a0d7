//! The document tree: [`Node`]s that remember where they were written.

use std::fmt;

/// A position in a source text: 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    /// The line, starting at 1.
    pub line: usize,
    /// The column, starting at 1, counted in characters.
    pub column: usize,
}

impl Mark {
    /// A mark at `line`, `column` (both 1-based).
    #[must_use]
    pub const fn new(line: usize, column: usize) -> Mark {
        Mark { line, column }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.line, self.column)
    }
}

/// A YAML value and the place where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// Where the value starts in the source.
    pub mark: Mark,
}

/// The value of a [`Node`], resolved with the YAML 1.2 core schema.
///
/// Plain scalars become `Null` (`~`, `null`, empty), `Bool` (`true`, `false`), `Int`
/// (decimal, `0x` hexadecimal, `0o` octal), `Float` (`1.5`, `1e3`, `.inf`, `.nan`) or
/// `String`; quoted and block scalars are always `String`. YAML 1.1 spellings such as
/// `yes`, `on` or `off` are strings.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `null`, `~` or nothing at all.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in an `i64`.
    Int(i64),
    /// A floating-point number (also integers too large for an `i64`).
    Float(f64),
    /// Any other scalar.
    String(String),
    /// A sequence, in source order.
    Sequence(Vec<Node>),
    /// A mapping, in source order; keys are unique.
    Mapping(Vec<(Node, Node)>),
}

impl Node {
    /// A node holding `value`, starting at `mark`.
    #[must_use]
    pub const fn new(value: NodeValue, mark: Mark) -> Node {
        Node { value, mark }
    }

    /// The string, if this node is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// Whether two nodes hold the same value, wherever they were written.
    #[must_use]
    pub fn same_value(&self, other: &Node) -> bool {
        use NodeValue as V;
        match (&self.value, &other.value) {
            (V::Null, V::Null) => true,
            (V::Bool(left), V::Bool(right)) => left == right,
            (V::Int(left), V::Int(right)) => left == right,
            (V::Float(left), V::Float(right)) => left == right,
            (V::String(left), V::String(right)) => left == right,
            (V::Sequence(left), V::Sequence(right)) => {
                left.len() == right.len() && left.iter().zip(right).all(|(a, b)| a.same_value(b))
            }
            (V::Mapping(left), V::Mapping(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .zip(right)
                        .all(|((key_a, value_a), (key_b, value_b))| {
                            key_a.same_value(key_b) && value_a.same_value(value_b)
                        })
            }
            _ => false,
        }
    }

    /// A short human description of the value, for "expected X, found Y" messages:
    /// `null`, `the boolean true`, `the integer 42`, `the string "abc"`, `a mapping`, …
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.value {
            NodeValue::Null => "null".to_owned(),
            NodeValue::Bool(value) => format!("the boolean {value}"),
            NodeValue::Int(value) => format!("the integer {value}"),
            NodeValue::Float(value) => format!("the number {value}"),
            NodeValue::String(text) => format!("the string {}", quote_short(text)),
            NodeValue::Sequence(_) => "a sequence".to_owned(),
            NodeValue::Mapping(_) => "a mapping".to_owned(),
        }
    }

    /// How this node reads as a mapping key in a path or message: the scalar's text.
    #[must_use]
    pub fn key_text(&self) -> String {
        match &self.value {
            NodeValue::Null => "null".to_owned(),
            NodeValue::Bool(value) => value.to_string(),
            NodeValue::Int(value) => value.to_string(),
            NodeValue::Float(value) => value.to_string(),
            NodeValue::String(text) => text.clone(),
            NodeValue::Sequence(_) => "<sequence>".to_owned(),
            NodeValue::Mapping(_) => "<mapping>".to_owned(),
        }
    }
}

/// `text` in double quotes, shortened to about 40 characters.
fn quote_short(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        format!("{text:?}")
    } else {
        let short: String = text.chars().take(LIMIT).collect();
        format!("{short:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: NodeValue, line: usize) -> Node {
        Node::new(value, Mark::new(line, 1))
    }

    #[test]
    fn same_value_ignores_marks() {
        let left = node(NodeValue::String("a".into()), 1);
        let right = node(NodeValue::String("a".into()), 7);
        assert!(left.same_value(&right));
        assert_ne!(left, right);
    }

    #[test]
    fn same_value_distinguishes_integer_from_string() {
        let int = node(NodeValue::Int(1), 1);
        let text = node(NodeValue::String("1".into()), 1);
        assert!(!int.same_value(&text));
    }

    #[test]
    fn describe_quotes_and_shortens_long_strings() {
        let long = node(NodeValue::String("x".repeat(100)), 1);
        let described = long.describe();
        assert!(described.starts_with("the string \"xxx"));
        assert!(described.ends_with('…'));
        assert_eq!(node(NodeValue::Int(5), 1).describe(), "the integer 5");
        assert_eq!(node(NodeValue::Mapping(vec![]), 1).describe(), "a mapping");
    }
}
