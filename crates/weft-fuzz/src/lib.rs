//! Fuzzing that runs on the stable toolchain, in the test command.
//!
//! The cargo-fuzz targets under `crates/*/fuzz` need a nightly compiler and so never ran.
//! This crate runs the same checks (and more: the HTTP CloudEvents binding, the manifest
//! loader, the MQTT session driven by packet sequences) with a small mutation engine of
//! its own: each [`Target`] starts from its committed corpus (`corpus/<target>/`), and
//! every iteration mutates a corpus input (bit flips, interesting values, inserted,
//! deleted, duplicated and spliced ranges, truncation) or, now and then, tries random
//! bytes. It is blind to coverage, so it finds less than libFuzzer in the same time;
//! what it finds, it finds on every machine, in every CI run, reproducibly from a seed.
//!
//! A target is a function that must not panic for any input: each one decodes, checks
//! the properties that must hold (a re-encoded packet decodes to the same packet, a
//! traced evaluation equals a plain one, …) with `assert!`, and ignores refusals. A
//! panic or an input that runs for [`STALL`] is a crash: [`fuzz`] returns it with the
//! input, and the runner writes the input to `crashes/` for a regression test in
//! `regressions/<target>/` (replayed by `tests/replay.rs` with the corpus).

mod mutate;
pub mod targets;

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use mutate::Rng;

/// How long one input may run before it counts as a hang.
pub const STALL: Duration = Duration::from_secs(10);

/// The largest input the engine makes.
pub const MAX_INPUT: usize = 64 * 1024;

/// One thing to fuzz: a name (its corpus directory) and a check that must not panic.
#[derive(Clone, Copy)]
pub struct Target {
    /// The name, also the directory of its corpus and regressions.
    pub name: &'static str,
    /// Runs one input; panics when a property does not hold.
    pub run: fn(&[u8]),
}

/// What a run of one target did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Inputs run.
    pub executions: u64,
}

/// An input that made a target panic or stall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// The target.
    pub target: &'static str,
    /// The input.
    pub input: Vec<u8>,
    /// The panic message, or that it stalled.
    pub message: String,
}

/// Runs `input` through `target`, catching a panic: `Err(message)` if it panicked.
pub fn run_one(target: &Target, input: &[u8]) -> Result<(), String> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    outcome.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
            })
            .unwrap_or_else(|| "panic with a non-text payload".to_owned())
    })
}

/// Fuzzes `target` for `duration`, starting from `corpus` (an empty input when it is
/// empty), with mutations drawn from `rng`. Panics are caught and returned; the default
/// panic message is silenced for the run (one per crash would flood the log).
///
/// # Errors
/// The first [`Crash`] found.
pub fn fuzz(
    target: &Target,
    corpus: &[Vec<u8>],
    rng: &mut Rng,
    duration: Duration,
) -> Result<Stats, Crash> {
    let seeds: Vec<Vec<u8>> = if corpus.is_empty() {
        vec![Vec::new()]
    } else {
        corpus.to_vec()
    };
    let current: Running = Arc::default();
    let watchdog = spawn_watchdog(target.name, Arc::clone(&current));
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + duration;
    let mut stats = Stats::default();
    let mut result = Ok(());
    while Instant::now() < deadline {
        let input = if rng.below(32) == 0 {
            let length = rng.below(256);
            rng.bytes(length)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate::mutate(rng, seed, &seeds)
        };
        *lock(&current) = Some((Instant::now(), input.clone()));
        stats.executions += 1;
        if let Err(message) = run_one(target, &input) {
            result = Err(Crash {
                target: target.name,
                input,
                message,
            });
            break;
        }
    }
    *lock(&current) = None;
    panic::set_hook(previous_hook);
    drop(watchdog);
    result.map(|()| stats)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The input running now and since when, shared with the watchdog.
type Running = Arc<Mutex<Option<(Instant, Vec<u8>)>>>;

/// Ends the process when one input runs for [`STALL`]: a hang cannot be caught like a
/// panic, so the input is printed (and written to `crashes/`) before exiting. Stops
/// when dropped.
struct Watchdog {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn spawn_watchdog(name: &'static str, current: Running) -> Watchdog {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::spawn(move || {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let stalled = lock(&current)
                .as_ref()
                .filter(|(started, _)| started.elapsed() >= STALL)
                .map(|(_, input)| input.clone());
            if let Some(input) = stalled {
                let crash = Crash {
                    target: name,
                    input,
                    message: format!("an input ran for more than {STALL:?}"),
                };
                eprintln!("{}", describe(&crash, write_crash(&crash).ok().as_deref()));
                std::process::exit(2);
            }
        }
    });
    Watchdog { stop }
}

/// Writes a crash's input to `crashes/<target>-<hash>` in this crate; returns the path.
///
/// # Errors
/// When the file cannot be written.
pub fn write_crash(crash: &Crash) -> std::io::Result<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-{:016x}", crash.target, fnv1a(&crash.input)));
    std::fs::write(&path, &crash.input)?;
    Ok(path)
}

/// A crash for a person: what, where the input is, the input in hex (cut at 512 bytes),
/// and how to keep it as a regression test.
pub fn describe(crash: &Crash, path: Option<&std::path::Path>) -> String {
    let shown = &crash.input[..crash.input.len().min(512)];
    let hex: String = shown.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "fuzz target {} crashed: {}\n  input ({} bytes): {hex}{}\n  written to: {}\n  \
         fix it, then copy the file to crates/weft-fuzz/regressions/{}/ so tests/replay.rs keeps it fixed",
        crash.target,
        crash.message,
        crash.input.len(),
        if shown.len() < crash.input.len() {
            "…"
        } else {
            ""
        },
        path.map_or_else(
            || "(not written)".to_owned(),
            |path| path.display().to_string()
        ),
        crash.target,
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The committed inputs of `target` in `dir/<target>/` (`corpus` or `regressions`),
/// sorted by file name; none when the directory does not exist.
///
/// # Errors
/// When the directory exists but cannot be read.
pub fn load_inputs(dir: &str, target: &str) -> std::io::Result<Vec<Vec<u8>>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join(target);
    let entries = match std::fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    files.iter().map(std::fs::read).collect()
}
