//! [`ConfigErrors`]: every problem of every configuration source, each with its place.

use std::error::Error as _;
use std::fmt;
use std::path::PathBuf;

use super::setting::ValueError;

/// Where a configuration problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A config file as a whole (it cannot be read): `weft.yaml`.
    File {
        /// The file's path.
        path: PathBuf,
    },
    /// A position in a config file: `weft.yaml:3:9`.
    Position {
        /// The file's display name.
        file: String,
        /// The line, starting at 1.
        line: usize,
        /// The column, starting at 1.
        column: usize,
    },
    /// An environment variable: `environment variable WEFT_HTTP`.
    Env {
        /// The variable's name.
        name: String,
    },
    /// A command-line flag: `flag --http`.
    Flag {
        /// The flag, with its dashes.
        flag: &'static str,
    },
}

impl fmt::Display for Place {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File { path } => write!(formatter, "{}", path.display()),
            Place::Position { file, line, column } => write!(formatter, "{file}:{line}:{column}"),
            Place::Env { name } => write!(formatter, "environment variable {name}"),
            Place::Flag { flag } => write!(formatter, "flag {flag}"),
        }
    }
}

/// What is wrong with a configuration source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// The config file could not be read.
    #[error("cannot read config file")]
    ReadFile {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A problem in the config file, at a path such as `http.listen`.
    #[error("{}", yaml_message(.path, .problem))]
    Yaml {
        /// Where in the document; empty for the document itself.
        path: String,
        /// What is wrong.
        problem: weft_yaml::Problem,
    },
    /// A `WEFT_*` environment variable that weft does not know (a likely typo).
    #[error("unknown weft variable{}", did_you_mean(.suggestion))]
    UnknownEnvVar {
        /// A known variable with a close name.
        suggestion: Option<&'static str>,
    },
    /// A value from the environment or a flag that is not valid.
    #[error(transparent)]
    Value(#[from] ValueError),
}

fn yaml_message(path: &str, problem: &weft_yaml::Problem) -> String {
    if path.is_empty() {
        problem.to_string()
    } else {
        format!("{path}: {problem}")
    }
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    suggestion.map_or_else(String::new, |name| format!(", did you mean {name}?"))
}

/// One configuration problem and its place; displays as `PLACE: message`.
#[derive(Debug)]
pub struct ConfigError {
    /// Where the problem is.
    pub place: Place,
    /// What is wrong.
    pub problem: ConfigProblem,
}

impl ConfigError {
    /// A config file problem from its diagnostic.
    #[must_use]
    pub fn from_diagnostic(diagnostic: weft_yaml::Diagnostic) -> ConfigError {
        ConfigError {
            place: Place::Position {
                file: diagnostic.file,
                line: diagnostic.line,
                column: diagnostic.column,
            },
            problem: ConfigProblem::Yaml {
                path: diagnostic.path,
                problem: diagnostic.problem,
            },
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.place, self.problem)
    }
}

impl std::error::Error for ConfigError {
    /// The problem's own cause: the problem itself is already in the message.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.problem.source()
    }
}

/// Every problem found while loading a configuration: those of the file in file order,
/// then those of the environment by variable name, then those of the flags.
///
/// Displays one problem per line, each followed by its causes (`: cause`).
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// How many problems there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true of a returned error).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{error}")?;
            let mut cause = error.source();
            while let Some(current) = cause {
                write!(formatter, ": {current}")?;
                cause = current.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
