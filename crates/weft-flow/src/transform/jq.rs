//! `jq` transform steps: a jq program over the event's JSON data, run with the jaq
//! interpreter (`jaq-core`, `jaq-std`, `jaq-json`).
//!
//! A program is compiled once, when the manifest is loaded ([`JqProgram::compile`]; a
//! syntax error or an undefined filter is a positioned manifest error), and run per
//! event ([`JqProgram::run`]). The input is the event's data parsed as JSON (`null`
//! when the event has no data); the program must produce **exactly one** value, which
//! becomes the new data. No output, several outputs, a runtime error (`error("…")`,
//! `.a` on a number, …) or an output that is not JSON (`nan`, byte strings) fail the
//! step. To drop events, use the route's `filter`.
//!
//! The node's environment is not visible to programs: `env`, `$ENV`, `input`,
//! `halt`, `debug` and `stderr` are not available. Modules (`import`, `include`) are
//! refused.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;

type Data = JustLut<Val>;
type Filter = jaq_core::Filter<Data>;

/// Definitions that shadow filters which would expose the node (its environment, its
/// standard error, its process) to manifest authors; they raise an error instead.
const SHADOWED: &str = r#"
def env: error("env is not available in weft");
def input: error("input is not available in weft");
def inputs: error("inputs is not available in weft");
def halt: error("halt is not available in weft");
def halt($code): error("halt is not available in weft");
def halt_error: error("halt_error is not available in weft");
def halt_error($code): error("halt_error is not available in weft");
def debug: .;
def debug(message): .;
def stderr: .;
def input_filename: null;
"#;

/// A compiled jq program, kept with its source text. Compared, printed and serialised
/// as its source; cheap to clone and shared across threads.
#[derive(Clone)]
pub struct JqProgram {
    source: String,
    filter: Arc<Filter>,
}

/// Why a jq program does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid jq program: {message} at column {column}")]
pub struct JqCompileError {
    /// What is wrong.
    pub message: String,
    /// The byte offset in the program where the problem is.
    pub offset: usize,
    /// The 1-based column (in characters) of `offset`.
    pub column: usize,
}

/// Why a jq program failed on an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqRunError {
    /// The event's data is not valid JSON.
    #[error("data is not valid json: {message}")]
    Input {
        /// The parser's complaint.
        message: String,
    },
    /// The program raised an error.
    #[error("jq error: {message}")]
    Program {
        /// The error value, as text.
        message: String,
    },
    /// The program stopped without a value (`halt`, `break` out of the program).
    #[error("jq program stopped without a value")]
    Halted,
    /// The program produced no value.
    #[error("jq program produced no output")]
    NoOutput,
    /// The program produced more than one value.
    #[error("jq program produced more than one output")]
    SeveralOutputs,
    /// The output cannot be written as JSON.
    #[error("jq output is not json: {output}")]
    NotJson {
        /// The output as jaq prints it (cut to 200 characters).
        output: String,
    },
}

impl JqProgram {
    /// Compiles `source`.
    ///
    /// # Errors
    /// The first lexical, syntax or undefined-name error.
    pub fn compile(source: &str) -> Result<JqProgram, JqCompileError> {
        let error_at = |part: &str, message: String| {
            let offset = offset_in(source, part);
            let column = source.get(..offset).map_or(offset, |p| p.chars().count()) + 1;
            JqCompileError {
                message,
                offset,
                column,
            }
        };
        let shadowed = jaq_core::load::parse(SHADOWED, |parser| parser.defs()).unwrap_or_default();
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(shadowed);
        let arena = Arena::default();
        let program = File {
            code: source,
            path: (),
        };
        let modules = Loader::new(defs).load(&arena, program).map_err(|errors| {
            let (message, part) = errors
                .into_iter()
                .next()
                .map_or((String::from("cannot load"), ""), |(_, error)| {
                    load_error(error)
                });
            error_at(part, message)
        })?;
        let funs = jaq_core::funs::<Data>()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let first = errors.into_iter().flat_map(|(_, errors)| errors).next();
                match first {
                    Some((name, undefined)) => {
                        let what = match undefined {
                            jaq_core::compile::Undefined::Filter(arity) => {
                                format!("undefined filter `{name}/{arity}`")
                            }
                            other => format!("undefined {} `{name}`", other.as_str()),
                        };
                        error_at(name, what)
                    }
                    None => error_at("", String::from("cannot compile")),
                }
            })?;
        Ok(JqProgram {
            source: source.to_owned(),
            filter: Arc::new(filter),
        })
    }

    /// The source text.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the program over JSON `data` (`None`: `null`) and returns the one output as
    /// compact JSON.
    ///
    /// # Errors
    /// Invalid input, a runtime error, zero or several outputs, or a non-JSON output.
    pub fn run(&self, data: Option<&[u8]>) -> Result<Bytes, JqRunError> {
        let input = match data {
            None => Val::Null,
            Some(bytes) => {
                jaq_json::read::parse_single(bytes).map_err(|error| JqRunError::Input {
                    message: error.to_string(),
                })?
            }
        };
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = self.filter.id.run((ctx, input));
        let first = match outputs.next() {
            None => return Err(JqRunError::NoOutput),
            Some(output) => value(output)?,
        };
        if let Some(second) = outputs.next() {
            value(second)?;
            return Err(JqRunError::SeveralOutputs);
        }
        let text = first.to_string();
        match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            Ok(_) => Ok(Bytes::from(text)),
            Err(_) => Err(JqRunError::NotJson {
                output: text.chars().take(200).collect(),
            }),
        }
    }
}

fn value(output: jaq_core::ValX<'_, Val>) -> Result<Val, JqRunError> {
    output.map_err(|exception| match exception.get_err() {
        Ok(error) => JqRunError::Program {
            message: error.to_string(),
        },
        Err(_) => JqRunError::Halted,
    })
}

/// The message of a loading error and the part of the source it points at.
fn load_error(error: jaq_core::load::Error<&str>) -> (String, &str) {
    use jaq_core::load::Error;
    match error {
        Error::Io(errors) => errors.into_iter().next().map_or(
            (String::from("modules are not supported"), ""),
            |(path, _)| (format!("modules are not supported (`{path}`)"), path),
        ),
        Error::Lex(errors) => errors.into_iter().next().map_or(
            (String::from("cannot read the program"), ""),
            |(expect, part)| (format!("expected {}", expect.as_str()), part),
        ),
        Error::Parse(errors) => errors.into_iter().next().map_or(
            (String::from("cannot parse the program"), ""),
            |(expect, part)| {
                let found = if part.is_empty() {
                    String::from("end of program")
                } else {
                    let token: String = part.chars().take(20).collect();
                    format!("`{token}`")
                };
                (format!("expected {}, found {found}", expect.as_str()), part)
            },
        ),
    }
}

/// The byte offset of `part` inside `whole`, or the end of `whole` when `part` is empty
/// or elsewhere (an error at the end of the program).
fn offset_in(whole: &str, part: &str) -> usize {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if part.is_empty() || at < start || at > start + whole.len() {
        if part.is_empty() && at >= start && at <= start + whole.len() {
            return at - start;
        }
        return whole.len();
    }
    at - start
}

impl fmt::Debug for JqProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JqProgram").field(&self.source).finish()
    }
}

impl fmt::Display for JqProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for JqProgram {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl TryFrom<String> for JqProgram {
    type Error = JqCompileError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        JqProgram::compile(&source)
    }
}

impl From<JqProgram> for String {
    fn from(program: JqProgram) -> Self {
        program.source
    }
}

impl serde::Serialize for JqProgram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for JqProgram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        JqProgram::compile(&source).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(program: &str, data: &str) -> Result<String, JqRunError> {
        let program = JqProgram::compile(program).unwrap();
        let output = program.run(Some(data.as_bytes()))?;
        Ok(String::from_utf8(output.to_vec()).unwrap())
    }

    #[test]
    fn reshapes_data_with_object_construction() {
        let output = run(
            ".order | {id, total: .amount}",
            r#"{"order": {"id": 7, "amount": 12.5, "x": 1}}"#,
        );
        assert_eq!(output.unwrap(), r#"{"id":7,"total":12.5}"#);
    }

    #[test]
    fn standard_library_filters_are_available() {
        assert_eq!(
            run("[.[] | select(. > 1)] | map(. * 10) | add", "[1, 2, 3]").unwrap(),
            "50"
        );
        assert_eq!(
            run(r#".s | ascii_upcase | test("AB")"#, r#"{"s": "ab"}"#).unwrap(),
            "true"
        );
    }

    #[test]
    fn missing_data_is_null_input() {
        let program = JqProgram::compile("{was: .}").unwrap();
        assert_eq!(&program.run(None).unwrap()[..], br#"{"was":null}"#);
    }

    #[test]
    fn syntax_error_has_a_column() {
        let error = JqProgram::compile(".a | {id,").unwrap_err();
        assert!(error.message.starts_with("expected"), "{error}");
        assert_eq!(error.column, 10, "{error}");
        let error = JqProgram::compile(".a | @@").unwrap_err();
        assert_eq!(error.column, 7, "{error}");
    }

    #[test]
    fn undefined_filter_is_a_compile_error_at_its_name() {
        let error = JqProgram::compile(".a | nosuch(1)").unwrap_err();
        assert_eq!(error.message, "undefined filter `nosuch/1`");
        assert_eq!(error.column, 6);
    }

    #[test]
    fn shadowing_definitions_parse() {
        let defs = jaq_core::load::parse(SHADOWED, |parser| parser.defs());
        assert!(defs.is_some_and(|defs: Vec<_>| defs.len() > 5));
    }

    #[test]
    fn node_environment_is_not_reachable() {
        assert!(JqProgram::compile("$ENV").is_err());
        for program in ["env", "env.HOME", "halt", "halt(1)", "halt_error", "input"] {
            assert!(
                matches!(run(program, "{}"), Err(JqRunError::Program { .. })),
                "{program}"
            );
        }
        assert_eq!(run("debug | stderr | .a", r#"{"a": 1}"#).unwrap(), "1");
        assert!(JqProgram::compile(r#"import "x" as x; ."#).is_err());
    }

    #[test]
    fn zero_or_several_outputs_fail() {
        assert_eq!(run("empty", "{}"), Err(JqRunError::NoOutput));
        assert_eq!(run(".[]", "[1, 2]"), Err(JqRunError::SeveralOutputs));
        assert_eq!(run(".[]", "[1]").unwrap(), "1");
    }

    #[test]
    fn runtime_errors_fail_with_the_message() {
        let Err(JqRunError::Program { message }) = run(r#"error("bad order")"#, "{}") else {
            panic!("expected a program error");
        };
        assert!(message.contains("bad order"), "{message}");
        assert!(matches!(run(".a", "3"), Err(JqRunError::Program { .. })));
    }

    #[test]
    fn invalid_json_input_fails() {
        assert!(matches!(run(".", "{nope"), Err(JqRunError::Input { .. })));
    }

    #[test]
    fn non_json_output_fails() {
        assert!(matches!(run("nan", "{}"), Err(JqRunError::NotJson { .. })));
    }

    #[test]
    fn programs_compare_and_serialise_as_source() {
        let program = JqProgram::compile(".a").unwrap();
        assert_eq!(program, JqProgram::compile(".a").unwrap());
        assert_eq!(serde_json::to_string(&program).unwrap(), r#"".a""#);
        let back: JqProgram = serde_json::from_str(r#"".a""#).unwrap();
        assert_eq!(back.source(), ".a");
        assert!(serde_json::from_str::<JqProgram>(r#""{""#).is_err());
    }

    #[test]
    fn programs_are_shareable_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<JqProgram>();
    }
}
