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
//!
//! A program runs under a [`Meter`] ([`JqProgram::run_metered`]): jaq asks its global
//! data for the lookup table at every term it evaluates, and here that data is a
//! `Gauge` that ticks the meter first; `range`, jaq's one native generator that can
//! run without end (`last(range(infinite))`), is replaced by a copy that ticks for
//! every value. So a program that never ends (`def f: f; f`), runs long
//! (`[range(1e12)] | length`) or recurses without a base case is stopped at its budget
//! (see [`super::budget`]).

use std::fmt;
use std::sync::Arc;

use std::time::Duration;

use bytes::Bytes;
use jaq_core::data::{DataT, HasLut};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Exn, ValX, Vars};
use jaq_json::Val;

use super::budget::{Budget, Interrupt, Meter};

type Filter = jaq_core::Filter<Metered>;
type Lut = jaq_core::Lut<Metered>;

/// jq over JSON values, with a [`Gauge`] as the global data of every evaluation.
struct Metered;

impl DataT for Metered {
    type V<'a> = Val;
    type Data<'a> = Gauge<'a>;
}

/// The global data of one evaluation: the program's lookup table, handed out only
/// after the evaluation's meter has counted the step.
#[derive(Clone)]
struct Gauge<'a> {
    lut: &'a Lut,
    meter: &'a Meter,
}

impl<'a> HasLut<'a, Metered> for Gauge<'a> {
    fn lut(&self) -> &'a Lut {
        self.meter.tick();
        self.lut
    }
}

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
    /// The program ran past its time budget and was stopped.
    #[error("jq program ran past its budget of {}", weft_core::units::format_duration(*budget))]
    OverBudget {
        /// The budget.
        budget: Duration,
    },
    /// The program recursed too deep (a recursion without a base case) and was stopped.
    #[error("jq program recursed too deep")]
    TooDeep,
    /// The route stopped while the program ran.
    #[error("jq program stopped: the route is stopping")]
    Cancelled,
    /// The interpreter panicked (a bug in it), or no thread could be started to run
    /// it; the event fails, the node goes on.
    #[error("jq evaluation failed: the interpreter panicked or could not start")]
    Crashed,
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
        // jaq's own `range/3` is replaced by one that ticks the meter per value.
        let funs = jaq_core::funs::<Metered>()
            .filter(|(name, args, _)| !(*name == "range" && args.len() == 3))
            .chain([metered_range()])
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

    /// Runs the program over JSON `data` (`None`: `null`) within the default budget
    /// and returns the one output as compact JSON.
    ///
    /// # Errors
    /// Invalid input, a runtime error, zero or several outputs, a non-JSON output, or
    /// the budget exceeded.
    pub fn run(&self, data: Option<&[u8]>) -> Result<Bytes, JqRunError> {
        self.run_metered(data, &Budget::default().start())
    }

    /// [`Self::run`] under `meter`, which stops the program when its evaluation's
    /// budget is spent, its route stops, or it recurses too deep.
    ///
    /// # Errors
    /// See [`Self::run`].
    pub fn run_metered(&self, data: Option<&[u8]>, meter: &Meter) -> Result<Bytes, JqRunError> {
        match meter.run(|| self.evaluate(data, meter)) {
            Ok(result) => result,
            Err(Some(Interrupt::OverBudget)) => Err(JqRunError::OverBudget {
                budget: meter.budget(),
            }),
            Err(Some(Interrupt::TooDeep)) => Err(JqRunError::TooDeep),
            Err(Some(Interrupt::Cancelled)) => Err(JqRunError::Cancelled),
            Err(None) => Err(JqRunError::Crashed),
        }
    }

    fn evaluate(&self, data: Option<&[u8]>, meter: &Meter) -> Result<Bytes, JqRunError> {
        let input = match data {
            None => Val::Null,
            Some(bytes) => {
                // jaq's reader recurses once per level: an event of `[[[[…` would
                // overflow the stack and end the process.
                if nesting_exceeds(bytes, MAX_INPUT_DEPTH) {
                    return Err(JqRunError::Input {
                        message: format!("nested deeper than {MAX_INPUT_DEPTH} levels"),
                    });
                }
                jaq_json::read::parse_single(bytes).map_err(|error| JqRunError::Input {
                    message: error.to_string(),
                })?
            }
        };
        let gauge = Gauge {
            lut: &self.filter.lut,
            meter,
        };
        let ctx = Ctx::<Metered>::new(gauge, Vars::new([]));
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

/// The deepest JSON data a jq step reads (jq's own limit): far below what the
/// evaluation stack holds, far above what events carry.
pub const MAX_INPUT_DEPTH: usize = 10_000;

/// Whether the JSON text `bytes` opens more than `limit` arrays and objects inside one
/// another (brackets in strings do not count). Linear, no recursion.
fn nesting_exceeds(bytes: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// `range($from; $upto; $by)`, as jaq's native one (which it copies), ticking the
/// evaluation's meter for every value.
fn metered_range() -> jaq_core::native::Fun<Metered> {
    jaq_core::native::run(("range", jaq_core::native::v(3), |mut cv| {
        let by = cv.0.pop_var();
        let to = cv.0.pop_var();
        let from = cv.0.pop_var();
        let meter = cv.0.data().meter;
        Box::new(range(Ok(from), to, by).inspect(move |_| meter.tick()))
    }))
}

/// The values from `from` towards `to` in steps of `by` (jaq-core's `range`).
fn range<'a>(
    mut from: ValX<'a, Val>,
    to: Val,
    by: Val,
) -> impl Iterator<Item = ValX<'a, Val>> + 'a {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let direction = by.partial_cmp(&Val::from(0_isize)).unwrap_or(Equal);
    std::iter::from_fn(move || match from.clone() {
        Ok(at) => match direction {
            Greater => at < to,
            Less => at > to,
            Equal => at != to,
        }
        .then(|| std::mem::replace(&mut from, (at + by.clone()).map_err(Exn::from))),
        error @ Err(_) => {
            // Nothing after the error.
            from = Ok(to.clone());
            Some(error)
        }
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

    /// Runs `program` over `{}` with a budget of 100 ms.
    fn run_briefly(program: &str) -> (Result<Bytes, JqRunError>, Duration) {
        let program = JqProgram::compile(program).unwrap();
        let meter = Budget::new(Duration::from_millis(100)).start();
        let started = std::time::Instant::now();
        let result = program.run_metered(Some(b"{}"), &meter);
        (result, started.elapsed())
    }

    #[test]
    fn programs_that_never_end_are_stopped_at_their_budget() {
        for program in [
            "def f: f; f",
            "last(range(infinite))",
            "[range(1e12)] | length",
            "reduce range(1e12) as $x (0; . + $x)",
            "until(false; .)",
            "[repeat(1)] | length",
            "limit(1; repeat(empty))",
        ] {
            let (result, took) = run_briefly(program);
            assert_eq!(
                result,
                Err(JqRunError::OverBudget {
                    budget: Duration::from_millis(100)
                }),
                "{program}"
            );
            assert!(took < Duration::from_secs(2), "{program} took {took:?}");
        }
    }

    #[test]
    fn recursion_without_a_base_case_is_stopped_before_the_stack_ends() {
        for program in ["def f: f + 1; f", "def f: [f]; f", "def f: 1 + f; f"] {
            let (result, _) = run_briefly(program);
            assert_eq!(result, Err(JqRunError::TooDeep), "{program}");
        }
    }

    #[test]
    fn recursion_a_thousand_levels_deep_is_allowed() {
        let program =
            JqProgram::compile("def f: if . == 0 then 0 else (. - 1 | f) + 1 end; f").unwrap();
        let meter = Budget::new(Duration::from_secs(30)).start();
        let output = program.run_metered(Some(b"1000"), &meter).unwrap();
        assert_eq!(&output[..], b"1000");
    }

    #[test]
    fn data_nested_too_deep_is_refused_before_it_is_parsed() {
        let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let program = JqProgram::compile("length").unwrap();
        assert_eq!(
            &program.run(Some(deep(MAX_INPUT_DEPTH).as_bytes())).unwrap()[..],
            b"1"
        );
        // Half a million levels in 1 MB would overflow the reader's stack.
        for data in [deep(MAX_INPUT_DEPTH + 1), deep(500_000)] {
            let Err(JqRunError::Input { message }) = program.run(Some(data.as_bytes())) else {
                panic!("expected an input error");
            };
            assert_eq!(message, "nested deeper than 10000 levels");
        }
        // Brackets inside strings are text.
        let text = format!(r#"{{"s": "{}\"[", "t": [1]}}"#, "[".repeat(20_000));
        assert_eq!(&program.run(Some(text.as_bytes())).unwrap()[..], b"2");
    }

    #[test]
    fn a_cancelled_program_stops() {
        let program = JqProgram::compile("def f: f; f").unwrap();
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let meter = Budget::new(Duration::from_secs(60))
            .with_cancel(cancel)
            .start();
        assert_eq!(
            program.run_metered(None, &meter),
            Err(JqRunError::Cancelled)
        );
    }

    #[test]
    fn the_metered_range_counts_like_jaqs() {
        assert_eq!(run("[range(5)]", "{}").unwrap(), "[0,1,2,3,4]");
        assert_eq!(run("[range(0; 10; 3)]", "{}").unwrap(), "[0,3,6,9]");
        assert_eq!(run("[range(5; 0; -2)]", "{}").unwrap(), "[5,3,1]");
        assert_eq!(
            run("[range(0; 1; 0.25)]", "{}").unwrap(),
            "[0,0.25,0.5,0.75]"
        );
        assert_eq!(
            run("[limit(3; range(1; infinite))]", "{}").unwrap(),
            "[1,2,3]"
        );
    }

    #[test]
    fn programs_are_shareable_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<JqProgram>();
    }
}
