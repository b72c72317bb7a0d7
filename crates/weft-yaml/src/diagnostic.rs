//! Diagnostics: what went wrong, where, collected rather than returned one at a time.

use std::fmt;

use crate::node::Mark;
use weft_core::units::{DurationError, SizeError};

/// One problem found in a source, with its place: `FILE:LINE:COLUMN: PATH: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The display name of the source, usually its file path.
    pub file: String,
    /// The line, starting at 1.
    pub line: usize,
    /// The column, starting at 1.
    pub column: usize,
    /// Where in the document, like `http.listen` or `spec.filters[2]`; empty for the
    /// document itself and for syntax errors.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

impl Diagnostic {
    /// A diagnostic for `problem` at `mark` in `file`, under `path`.
    #[must_use]
    pub fn new(file: &str, mark: Mark, path: &str, problem: Problem) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: mark.line,
            column: mark.column,
            path: path.to_owned(),
            problem,
        }
    }

    /// The line and column as a [`Mark`].
    #[must_use]
    pub fn mark(&self) -> Mark {
        Mark::new(self.line, self.column)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(formatter, "{}: ", self.path)?;
        }
        write!(formatter, "{}", self.problem)
    }
}

impl std::error::Error for Diagnostic {}

/// What is wrong at a [`Diagnostic`]'s place.
///
/// Each message is complete on its own line (a diagnostic is printed as one line, never as
/// an error chain), so the reasons of size and duration errors are part of the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The text is not valid YAML.
    #[error("invalid yaml: {message}")]
    Syntax {
        /// The YAML parser's description.
        message: String,
    },
    /// A mapping has the same key twice.
    #[error("duplicate key `{key}`, first defined at line {}, column {}", first.line, first.column)]
    DuplicateKey {
        /// The key, as written.
        key: String,
        /// Where the key was first defined.
        first: Mark,
    },
    /// An anchor (`&name`) or alias (`*name`).
    #[error("anchors and aliases are not supported, write the value out in full")]
    AnchorOrAlias,
    /// A tag other than `!!str`.
    #[error("unsupported tag `{tag}`, only `!!str` is supported")]
    UnsupportedTag {
        /// The tag, as resolved by the parser.
        tag: String,
    },
    /// A mapping key that the reader does not know.
    #[error("unknown field `{field}`{hint}", hint = unknown_hint(.suggestion, .expected))]
    UnknownField {
        /// The unknown key.
        field: String,
        /// A known key that is close to it.
        suggestion: Option<String>,
        /// Every known key.
        expected: Vec<String>,
    },
    /// A required key is absent.
    #[error("missing required field `{field}`")]
    MissingField {
        /// The missing key.
        field: String,
    },
    /// A value of the wrong type.
    #[error("expected {expected}, found {found}{hint}", hint = quote_hint(.expected, .found))]
    WrongType {
        /// What was expected, like `a string` or `a mapping`.
        expected: String,
        /// What was found, like `the integer 5` (see [`crate::Node::describe`]).
        found: String,
    },
    /// A size that does not parse.
    #[error("{error}")]
    Size {
        /// Why it does not parse.
        error: SizeError,
    },
    /// A duration that does not parse.
    #[error("{error}")]
    Duration {
        /// Why it does not parse.
        error: DurationError,
    },
    /// A value that the reader rejected, with the reader's explanation.
    #[error("{message}")]
    Invalid {
        /// A lowercase, complete explanation.
        message: String,
    },
}

fn unknown_hint(suggestion: &Option<String>, expected: &[String]) -> String {
    match suggestion {
        Some(known) => format!(", did you mean `{known}`?"),
        None if expected.is_empty() => String::new(),
        None => {
            let list: Vec<String> = expected.iter().map(|key| format!("`{key}`")).collect();
            format!(", expected one of {}", list.join(", "))
        }
    }
}

fn quote_hint(expected: &str, found: &str) -> &'static str {
    let scalar = ["the boolean", "the integer", "the number"]
        .iter()
        .any(|prefix| found.starts_with(prefix));
    if expected == "a string" && scalar {
        " (put it in quotes to make it a string)"
    } else {
        ""
    }
}

/// An accumulator of [`Diagnostic`]s, and the error type of everything that collects them.
///
/// Its `Display` prints one diagnostic per line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Errors {
    diagnostics: Vec<Diagnostic>,
}

impl Errors {
    /// No diagnostics yet.
    #[must_use]
    pub fn new() -> Errors {
        Errors::default()
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Adds a diagnostic for `problem` at `mark` in `file`, under `path`.
    pub fn report(&mut self, file: &str, mark: Mark, path: &str, problem: Problem) {
        self.push(Diagnostic::new(file, mark, path, problem));
    }

    /// Adds every diagnostic of `other`.
    pub fn append(&mut self, other: Errors) {
        self.diagnostics.extend(other.diagnostics);
    }

    /// Whether nothing was reported.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// How many diagnostics were reported.
    #[must_use]
    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    /// The diagnostics, in the order they were reported (or sorted, see
    /// [`Errors::sort_by_position`]).
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The diagnostics, by value.
    #[must_use]
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// Puts the diagnostics in file order: files in the order they first appear, and
    /// within a file by line and column. Diagnostics at the same place keep their order.
    pub fn sort_by_position(&mut self) {
        let mut files: Vec<String> = Vec::new();
        for diagnostic in &self.diagnostics {
            if !files.contains(&diagnostic.file) {
                files.push(diagnostic.file.clone());
            }
        }
        self.diagnostics.sort_by_key(|diagnostic| {
            let file_rank = files.iter().position(|file| *file == diagnostic.file);
            (file_rank, diagnostic.line, diagnostic.column)
        });
    }

    /// `Ok(value)` if nothing was reported, else these errors.
    ///
    /// # Errors
    /// Returns `self` when it holds at least one diagnostic.
    pub fn finish<T>(self, value: T) -> Result<T, Errors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.diagnostics.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

impl From<Diagnostic> for Errors {
    fn from(diagnostic: Diagnostic) -> Errors {
        Errors {
            diagnostics: vec![diagnostic],
        }
    }
}

impl IntoIterator for Errors {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.diagnostics.into_iter()
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.diagnostics.iter()
    }
}

impl Extend<Diagnostic> for Errors {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        self.diagnostics.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(file: &str, line: usize, column: usize, path: &str) -> Diagnostic {
        let problem = Problem::Invalid {
            message: "bad".to_owned(),
        };
        Diagnostic::new(file, Mark::new(line, column), path, problem)
    }

    #[test]
    fn diagnostic_displays_file_line_column_path_and_message() {
        let diagnostic = invalid("weft.yaml", 3, 9, "http.listen");
        assert_eq!(diagnostic.to_string(), "weft.yaml:3:9: http.listen: bad");
    }

    #[test]
    fn diagnostic_without_path_omits_it() {
        assert_eq!(invalid("a.yaml", 1, 1, "").to_string(), "a.yaml:1:1: bad");
    }

    #[test]
    fn unknown_field_suggests_or_lists_known_fields() {
        let suggested = Problem::UnknownField {
            field: "htpp".into(),
            suggestion: Some("http".into()),
            expected: vec!["http".into(), "log".into()],
        };
        assert_eq!(
            suggested.to_string(),
            "unknown field `htpp`, did you mean `http`?"
        );
        let listed = Problem::UnknownField {
            field: "zzz".into(),
            suggestion: None,
            expected: vec!["http".into(), "log".into()],
        };
        assert_eq!(
            listed.to_string(),
            "unknown field `zzz`, expected one of `http`, `log`"
        );
    }

    #[test]
    fn wrong_type_for_a_string_suggests_quotes() {
        let problem = Problem::WrongType {
            expected: "a string".into(),
            found: "the integer 12".into(),
        };
        assert_eq!(
            problem.to_string(),
            "expected a string, found the integer 12 (put it in quotes to make it a string)"
        );
    }

    #[test]
    fn errors_display_one_diagnostic_per_line() {
        let mut errors = Errors::new();
        errors.push(invalid("a", 1, 1, "x"));
        errors.push(invalid("a", 2, 1, "y"));
        assert_eq!(errors.to_string(), "a:1:1: x: bad\na:2:1: y: bad");
    }

    #[test]
    fn sort_by_position_orders_by_file_appearance_then_line_then_column() {
        let mut errors = Errors::new();
        errors.push(invalid("b", 5, 1, "late"));
        errors.push(invalid("a", 9, 1, "other-file"));
        errors.push(invalid("b", 2, 7, "second"));
        errors.push(invalid("b", 2, 3, "first"));
        errors.sort_by_position();
        let paths: Vec<&str> = errors
            .diagnostics()
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(paths, ["first", "second", "late", "other-file"]);
    }

    #[test]
    fn finish_is_ok_only_without_diagnostics() {
        assert_eq!(Errors::new().finish(7), Ok(7));
        let errors = Errors::from(invalid("a", 1, 1, ""));
        assert!(errors.finish(7).is_err());
    }
}
