//! `weft`: the command-line tool of the weft event mesh.
//!
//! `weft serve` runs a node; `weft pub`, `sub`, `stream`, `consume`, `consumer`, `mesh`,
//! `apply`, `diff`, `get` and `delete` are HTTP clients of a running node; `weft flow
//! test|explain` and `weft cesql eval` run locally; `weft version` prints the version.
//! This binary is deliberately thin: a node is built by `weft-server`, manifests are
//! `weft-flow`'s, and the clients speak the public HTTP API like any other client.

/// `println!` that returns the write's `io::Result` instead of panicking, so that a
/// closed pipe (`weft stream read … | head`) ends the command quietly (see `main`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns the write's `io::Result`; see [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod cesql;
mod cli;
mod client;
mod consume;
mod flow;
mod manifests;
mod mesh;
mod publish;
mod resources;
mod serve;
mod stream;
mod subscribe;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("weft: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Pub(args) => publish::run(args).await,
            Command::Sub(args) => subscribe::run(args).await,
            Command::Stream(command) => stream::run(command).await,
            Command::Consume(args) => consume::run(args).await,
            Command::Consumer(command) => consume::manage(command).await,
            Command::Mesh(command) => mesh::manage(command).await,
            Command::Apply(args) => resources::apply(args).await,
            Command::Diff(args) => resources::diff(args).await,
            Command::Get(args) => resources::get(args).await,
            Command::Delete(args) => resources::delete(args).await,
            Command::Flow(command) => flow::run(command).await,
            Command::Cesql(command) => cesql::run(command),
            Command::Version => {
                outln!("weft {}", weft_server::VERSION)?;
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match outcome {
        Ok(code) => code,
        // The reader of our output went away (`weft … | head`): nothing to report.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `error` comes from writing to a pipe whose reader has closed it.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
