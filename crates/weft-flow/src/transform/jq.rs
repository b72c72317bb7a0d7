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

use super::budget::{Budget, Interrupt, MEMORY_LIMIT, Meter};

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
    /// The program held more memory than a step may, or made an output larger than
    /// that, and was stopped.
    #[error("jq program held more than {} MiB", limit / (1024 * 1024))]
    OverMemory {
        /// The limit, in bytes ([`super::budget::MEMORY_LIMIT`]).
        limit: usize,
    },
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
        // jaq's own `range/3` is replaced by one that ticks the meter per value, and
        // `fromjson` and `tojson` by ones bounded in depth and size.
        let funs = jaq_core::funs::<Metered>()
            .filter(|(name, args, _)| !(*name == "range" && args.len() == 3))
            .chain([metered_range()])
            .chain(jaq_std::funs())
            .chain(jaq_json::funs().filter(|(name, _, _)| !matches!(*name, "fromjson" | "tojson")))
            .chain([bounded_fromjson(), bounded_tojson()]);
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
            Err(Some(Interrupt::OverMemory)) => Err(JqRunError::OverMemory {
                limit: MEMORY_LIMIT,
            }),
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
        drop(outputs);
        // JSON text nests at most `MAX_OUTPUT_DEPTH` levels (the check below refuses
        // deeper): refusing deeper values before printing keeps jaq's printer, which
        // recurses once per level, shallow.
        if nested_deeper(&first, MAX_OUTPUT_DEPTH, meter) {
            return Err(JqRunError::NotJson {
                output: format!("a value nested deeper than {MAX_OUTPUT_DEPTH} levels"),
            });
        }
        let Some(text) = print(&first, MEMORY_LIMIT) else {
            return Err(JqRunError::OverMemory {
                limit: MEMORY_LIMIT,
            });
        };
        match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            Ok(_) => Ok(Bytes::from(text)),
            Err(_) => Err(JqRunError::NotJson {
                output: text.chars().take(200).collect(),
            }),
        }
    }
}

/// The deepest output a jq step may make: serde_json's limit, which the JSON check of
/// the output applies.
const MAX_OUTPUT_DEPTH: usize = 128;

/// The longest error message kept from a program's error value.
const MAX_MESSAGE: usize = 1024;

fn value(output: jaq_core::ValX<'_, Val>) -> Result<Val, JqRunError> {
    output.map_err(|exception| match exception.get_err() {
        Ok(error) => {
            // The error value is the program's: print only its start (its printer
            // stops at the cut, however large or deep the value).
            let mut message = Limited::new(MAX_MESSAGE);
            if fmt::Write::write_fmt(&mut message, format_args!("{error}")).is_err() {
                message.text.push('…');
            }
            JqRunError::Program {
                message: message.text,
            }
        }
        Err(_) => JqRunError::Halted,
    })
}

/// `value` printed as jaq prints it, or `None` when that is longer than `limit` bytes
/// (printing stops there).
fn print(value: &Val, limit: usize) -> Option<String> {
    let mut text = Limited::new(limit);
    fmt::Write::write_fmt(&mut text, format_args!("{value}")).ok()?;
    Some(text.text)
}

/// Text that refuses to grow past a limit.
struct Limited {
    text: String,
    limit: usize,
}

impl Limited {
    fn new(limit: usize) -> Self {
        Limited {
            text: String::new(),
            limit,
        }
    }
}

impl fmt::Write for Limited {
    fn write_str(&mut self, part: &str) -> fmt::Result {
        if self.text.len() + part.len() > self.limit {
            let room = self.limit - self.text.len();
            let cut = (0..=room.min(part.len()))
                .rev()
                .find(|&at| part.is_char_boundary(at))
                .unwrap_or(0);
            self.text.push_str(&part[..cut]);
            return Err(fmt::Error);
        }
        self.text.push_str(part);
        Ok(())
    }
}

impl std::io::Write for Limited {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        // jaq writes whole UTF-8 sequences (or `\x` escapes for byte strings).
        let part = String::from_utf8_lossy(bytes);
        fmt::Write::write_str(self, &part)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::OutOfMemory, "too large"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `value` nests arrays and objects more than `limit` levels deep. Iterative,
/// and ticks `meter` per value visited (a value built by sharing can have far more
/// values than it takes memory).
fn nested_deeper(value: &Val, limit: usize, meter: &Meter) -> bool {
    let mut stack = vec![(value, 0_usize)];
    while let Some((value, depth)) = stack.pop() {
        meter.tick();
        let children: Box<dyn Iterator<Item = &Val>> = match value {
            Val::Arr(items) => Box::new(items.iter()),
            Val::Obj(entries) => Box::new(entries.values()),
            _ => continue,
        };
        if depth >= limit {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
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

/// `fromjson`, as jaq's, refusing text nested deeper than [`MAX_INPUT_DEPTH`] before
/// it is read (jaq's reader recurses once per level).
fn bounded_fromjson() -> jaq_core::native::Fun<Metered> {
    use jaq_core::box_iter::box_once;
    jaq_core::native::run(("fromjson", jaq_core::native::v(0), |cv| {
        let text = match cv.1.try_as_utf8_bytes_owned() {
            Ok(text) => text,
            Err(error) => return box_once(Err(Exn::from(error))),
        };
        if nesting_exceeds(&text, MAX_INPUT_DEPTH) {
            let error = jaq_json::Error::str(format_args!(
                "cannot parse as JSON: nested deeper than {MAX_INPUT_DEPTH} levels"
            ));
            return box_once(Err(Exn::from(error)));
        }
        let values = jaq_json::bytes_valrs(text, |text| {
            Box::new(jaq_json::read::parse_many(text).map(|value| {
                value.map_err(|error| {
                    jaq_json::Error::str(format_args!("cannot parse as JSON: {error}"))
                })
            }))
        });
        Box::new(values.map(|value| value.map_err(Exn::from)))
    }))
}

/// `tojson`, as jaq's, failing (a jq error) instead of printing more than
/// [`MEMORY_LIMIT`] bytes: a value built by sharing can print far larger than it is.
fn bounded_tojson() -> jaq_core::native::Fun<Metered> {
    use jaq_core::box_iter::box_once;
    jaq_core::native::run(("tojson", jaq_core::native::v(0), |cv| {
        let mut text = Limited::new(MEMORY_LIMIT);
        let written = jaq_json::write::write(&mut text, &jaq_json::write::Pp::default(), 0, &cv.1);
        box_once(match written {
            Ok(()) => Ok(Val::utf8_str(text.text.into_bytes())),
            Err(_) => Err(Exn::from(jaq_json::Error::str(format_args!(
                "tojson: the value prints longer than {} MiB",
                MEMORY_LIMIT / (1024 * 1024)
            )))),
        })
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
mod tests;
