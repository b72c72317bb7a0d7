//! From text to [`Document`]s: the YAML parser's events built into a tree of [`Node`]s.

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::{Errors, Problem};
use crate::node::{Mark, Node, NodeValue};
use crate::path;
use crate::view::Value;

/// The tag prefix that `!!` stands for.
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// One YAML document of a source (sources hold several, separated by `---`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The display name of the source, usually its file path.
    pub file: String,
    /// The position of this document in its source, starting at 0.
    pub index: usize,
    /// Where the document starts: its `---`, or its first content when it has none.
    pub start: Mark,
    /// The document's content; `Null` when the document is empty.
    pub root: Node,
}

impl Document {
    /// The root as a [`Value`], the starting point of typed extraction.
    #[must_use]
    pub fn value(&self) -> Value<'_> {
        Value::new(&self.file, String::new(), &self.root)
    }
}

/// Parses every document in `text`, reporting problems as diagnostics naming `file`.
///
/// # Errors
/// Returns every diagnostic found: the first syntax error (the parser cannot continue
/// past one), and every duplicate key, anchor, alias or unsupported tag.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, Errors> {
    let mut errors = Errors::new();
    let documents = parse_collecting(file, text, &mut errors);
    errors.finish(documents)
}

/// Parses every document in `text`, adding problems to `errors` and returning what could
/// be read: after a syntax error, the documents completed before it; after other problems,
/// every document (a duplicate key keeps its first value; an alias becomes `null`).
/// Reading the returned documents can then find more problems in the same pass.
pub fn parse_collecting(file: &str, text: &str, errors: &mut Errors) -> Vec<Document> {
    let mut builder = Builder {
        file,
        errors,
        stack: Vec::new(),
        root: None,
        start: Mark::new(1, 1),
        documents: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((event, marker)) => builder.on_event(event, to_mark(marker)),
            Err(error) => {
                let problem = Problem::Syntax {
                    message: error.info().to_owned(),
                };
                builder.report(to_mark(*error.marker()), String::new(), problem);
                break;
            }
        }
    }
    builder.documents
}

/// A collection being built.
enum Frame {
    Sequence {
        mark: Mark,
        items: Vec<Node>,
    },
    Mapping {
        mark: Mark,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// Set while reading the value of a duplicate key, which is then dropped.
        skipping: bool,
    },
}

struct Builder<'a> {
    file: &'a str,
    errors: &'a mut Errors,
    stack: Vec<Frame>,
    root: Option<Node>,
    start: Mark,
    documents: Vec<Document>,
}

impl Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Mark) {
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart => {
                self.stack.clear();
                self.root = None;
                self.start = mark;
            }
            Event::DocumentEnd => {
                let start = self.start;
                let root = self
                    .root
                    .take()
                    .unwrap_or_else(|| Node::new(NodeValue::Null, start));
                self.documents.push(Document {
                    file: self.file.to_owned(),
                    index: self.documents.len(),
                    start,
                    root,
                });
            }
            Event::Alias(_) => {
                self.report(mark, self.path(), Problem::AnchorOrAlias);
                self.complete(Node::new(NodeValue::Null, mark));
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.check_anchor(anchor, mark);
                let value = self.resolve_scalar(text, style, tag.as_ref(), mark);
                self.complete(Node::new(value, mark));
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_anchor(anchor, mark);
                self.check_collection_tag(tag.as_ref(), "seq", mark);
                let items = Vec::new();
                self.stack.push(Frame::Sequence { mark, items });
            }
            Event::MappingStart(anchor, tag) => {
                self.check_anchor(anchor, mark);
                self.check_collection_tag(tag.as_ref(), "map", mark);
                self.stack.push(Frame::Mapping {
                    mark,
                    entries: Vec::new(),
                    key: None,
                    skipping: false,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Sequence { mark, items }) => {
                        Node::new(NodeValue::Sequence(items), mark)
                    }
                    Some(Frame::Mapping { mark, entries, .. }) => {
                        Node::new(NodeValue::Mapping(entries), mark)
                    }
                    None => return,
                };
                self.complete(node);
            }
        }
    }

    /// Places a finished node: as the root, a sequence item, a key or a value.
    fn complete(&mut self, node: Node) {
        let duplicate_of = match self.stack.last() {
            Some(Frame::Mapping {
                entries, key: None, ..
            }) => entries
                .iter()
                .find(|(existing, _)| existing.same_value(&node))
                .map(|(existing, _)| existing.mark),
            _ => None,
        };
        if let Some(first) = duplicate_of {
            let key_text = node.key_text();
            let path = path::key(&self.path_of_parent(), &key_text);
            let problem = Problem::DuplicateKey {
                key: key_text,
                first,
            };
            self.report(node.mark, path, problem);
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                mark,
                entries,
                key,
                skipping,
            }) => match key.take() {
                None => {
                    // The parser marks a block mapping just after its first key; the
                    // mapping really starts at that key (a flow mapping at its `{`).
                    *mark = (*mark).min(node.mark);
                    *skipping = duplicate_of.is_some();
                    *key = Some(node);
                }
                Some(key_node) => {
                    if !*skipping {
                        entries.push((key_node, node));
                    }
                    *skipping = false;
                }
            },
        }
    }

    /// The path of the collection on top of the stack.
    fn path_of_parent(&self) -> String {
        let depth = self.stack.len().saturating_sub(1);
        self.path_through(depth)
    }

    /// The path of the node about to be completed.
    fn path(&self) -> String {
        self.path_through(self.stack.len())
    }

    /// The path formed by the first `depth` frames of the stack, each contributing the
    /// position where its next node goes.
    fn path_through(&self, depth: usize) -> String {
        let mut current = String::new();
        for frame in self.stack.iter().take(depth) {
            current = match frame {
                Frame::Sequence { items, .. } => path::index(&current, items.len()),
                Frame::Mapping { key: Some(key), .. } => path::key(&current, &key.key_text()),
                Frame::Mapping { key: None, .. } => current,
            };
        }
        current
    }

    fn check_anchor(&mut self, anchor: usize, mark: Mark) {
        if anchor != 0 {
            self.report(mark, self.path(), Problem::AnchorOrAlias);
        }
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, core_name: &str, mark: Mark) {
        if let Some(tag) = tag
            && !(tag.handle == CORE_TAG_PREFIX && tag.suffix == core_name)
        {
            let problem = Problem::UnsupportedTag { tag: show_tag(tag) };
            self.report(mark, self.path(), problem);
        }
    }

    fn resolve_scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        tag: Option<&Tag>,
        mark: Mark,
    ) -> NodeValue {
        if let Some(tag) = tag {
            if tag.handle == CORE_TAG_PREFIX && tag.suffix == "str" {
                return NodeValue::String(text);
            }
            let problem = Problem::UnsupportedTag { tag: show_tag(tag) };
            self.report(mark, self.path(), problem);
        }
        if style == TScalarStyle::Plain {
            resolve_plain(text)
        } else {
            NodeValue::String(text)
        }
    }

    fn report(&mut self, mark: Mark, path: String, problem: Problem) {
        self.errors.report(self.file, mark, &path, problem);
    }
}

/// The parser counts columns from 0; diagnostics count from 1.
fn to_mark(marker: Marker) -> Mark {
    Mark::new(marker.line(), marker.col() + 1)
}

fn show_tag(tag: &Tag) -> String {
    match tag.handle.strip_prefix(CORE_TAG_PREFIX) {
        Some("") => format!("!!{}", tag.suffix),
        _ => format!("{}{}", tag.handle, tag.suffix),
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(text: String) -> NodeValue {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(value) = resolve_integer(&text) {
        return NodeValue::Int(value);
    }
    if is_core_float(&text)
        && let Ok(value) = text.parse::<f64>()
    {
        return NodeValue::Float(value);
    }
    NodeValue::String(text)
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+` that fits an `i64`.
fn resolve_integer(text: &str) -> Option<i64> {
    if let Some(octal) = text.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8)
            .ok()
            .filter(|_| is_digits(octal));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.starts_with('+'));
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if is_digits(digits) {
        text.parse().ok()
    } else {
        None
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_core_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((integer, fraction)) => {
            (integer.is_empty() || is_digits(integer))
                && (fraction.is_empty() || is_digits(fraction))
                && !(integer.is_empty() && fraction.is_empty())
        }
        None => is_digits(mantissa),
    };
    let exponent_ok = exponent
        .is_none_or(|exponent| is_digits(exponent.strip_prefix(['-', '+']).unwrap_or(exponent)));
    mantissa_ok && exponent_ok
}

/// One or more ASCII digits.
fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests;
