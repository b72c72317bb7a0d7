//! `weft-server`: the composition root of a weft node.
//!
//! It turns a validated [`config::Config`] into a running node: it binds every enabled
//! listener ([`bind`]) — or takes listeners the caller bound, so tests run on port 0 —
//! locks the data directory (one node per directory: [`LOCK_FILE`]), creates the
//! broker, starts the flows controller (its state in `<data_dir>/flows`, its resources
//! API and webhooks on the HTTP listener, the GitOps directory of `--resources`), starts
//! each front end on its listener ([`start`]), writes the ready file once everything is
//! bound, and shuts the node down gracefully.
//!
//! This is the only crate that knows every other weft crate; nothing depends on it but
//! the `weft` binary and the test harness.

pub mod config;
mod flows;
mod node;
mod ready;

pub use node::{
    LOCK_FILE, Listeners, LockHolder, RunningNode, StartError, bind, start, start_on_disk,
};
pub use ready::write_ready_file;

/// weft's version, as reported by `weft version` and `/v1/node`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
