//! `weft-fuzz`: fuzzes every target (or the ones named) for a bounded time.
//!
//! ```text
//! cargo run -p weft-fuzz -- [--seconds N] [--seed S] [TARGET ...]
//! ```
//!
//! `--seconds` is the whole run's budget, shared equally among the targets (default
//! 40); `--seed` picks the mutations (default 1: CI runs are reproducible; pass another
//! to explore). Exits 1 on the first crash, after writing its input to `crashes/` and
//! printing how to keep it as a regression test.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use weft_fuzz::{Rng, describe, fuzz, load_inputs, targets, write_crash};

fn main() -> ExitCode {
    let mut seconds: u64 = 40;
    let mut seed: u64 = 1;
    let mut wanted = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let number = |value: Option<String>, flag: &str| -> Result<u64, String> {
            value
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| format!("{flag} takes a whole number"))
        };
        let parsed = match arg.as_str() {
            "--seconds" => number(args.next(), "--seconds").map(|value| seconds = value),
            "--seed" => number(args.next(), "--seed").map(|value| seed = value),
            "-h" | "--help" => {
                println!("usage: weft-fuzz [--seconds N] [--seed S] [TARGET ...]");
                println!("targets:");
                for target in targets::all() {
                    println!("  {}", target.name);
                }
                return ExitCode::SUCCESS;
            }
            name => {
                wanted.push(name.to_owned());
                Ok(())
            }
        };
        if let Err(message) = parsed {
            eprintln!("weft-fuzz: {message}");
            return ExitCode::from(2);
        }
    }
    let all = targets::all();
    let chosen: Vec<_> = all
        .iter()
        .filter(|target| wanted.is_empty() || wanted.iter().any(|name| name == target.name))
        .collect();
    if chosen.len() < wanted.len().max(1) {
        eprintln!(
            "weft-fuzz: unknown target in {wanted:?}; known: {}",
            all.iter()
                .map(|target| target.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(2);
    }
    let share = Duration::from_secs(seconds) / chosen.len() as u32;
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut total = 0;
    for target in chosen {
        let corpus = match load_inputs("corpus", target.name) {
            Ok(corpus) => corpus,
            Err(error) => {
                eprintln!("weft-fuzz: corpus of {}: {error}", target.name);
                return ExitCode::from(2);
            }
        };
        match fuzz(target, &corpus, &mut rng, share) {
            Ok(stats) => {
                total += stats.executions;
                println!(
                    "{:<22} {:>9} inputs from {:>2} corpus files, no crash",
                    target.name,
                    stats.executions,
                    corpus.len()
                );
            }
            Err(crash) => {
                let path = write_crash(&crash).ok();
                eprintln!("{}", describe(&crash, path.as_deref()));
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "weft-fuzz: {total} inputs in {:.1}s, seed {seed}, no crash",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
