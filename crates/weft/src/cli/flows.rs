//! Flags of the flow commands: `cesql eval`, `flow test|explain`, `apply`, `diff`, `get`,
//! `delete`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::ServerArgs;

/// `weft cesql …`
#[derive(Debug, Subcommand)]
pub(crate) enum CesqlCommand {
    /// Evaluate a CloudEvents SQL expression and print `{"value": V, "errors": [...]}`.
    ///
    /// Without --event the expression is evaluated over the minimal event
    /// `{"specversion": "1.0", "id": "1", "source": "/weft/cli", "type": "weft.cesql.eval"}`.
    /// Exit status: 0 when the expression was evaluated (even if it raised errors), 2 when
    /// it does not parse (the JSON is still printed) or the event file cannot be read.
    Eval(CesqlEvalArgs),
}

/// Flags of `weft cesql eval`.
#[derive(Debug, Args)]
pub(crate) struct CesqlEvalArgs {
    /// The expression, e.g. "type LIKE 'order.%' AND EXISTS subject". Quote it in the shell.
    pub expression: String,
    /// A CloudEvent in the JSON format to evaluate against; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Route-filter mode: an identifier that is not an attribute reads a top-level member
    /// of the event's JSON data (`total > 100`), as route filters do.
    #[arg(long)]
    pub data_fields: bool,
}

/// `weft flow …`
#[derive(Debug, Subcommand)]
pub(crate) enum FlowCommand {
    /// Run every Route's `tests:` locally (no node): one line per test, then
    /// `N passed, N failed`. Exit status 1 if a test failed, 2 if the manifests are invalid.
    Test(FlowTestArgs),
    /// Show, step by step, what a route does with one event: the `from` topic match, the
    /// filter clause by clause, the event after each transform step, and the outcome.
    Explain(FlowExplainArgs),
}

/// Flags of `weft flow test`.
#[derive(Debug, Args)]
pub(crate) struct FlowTestArgs {
    /// A manifest file or a directory of `*.yaml`/`*.yml` files; repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR",
        required = true
    )]
    pub files: Vec<PathBuf>,
}

/// Flags of `weft flow explain`.
#[derive(Debug, Args)]
pub(crate) struct FlowExplainArgs {
    /// The route's name.
    pub route: String,
    /// The event, a CloudEvent in the JSON format; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// The topic the event was published on, checked against a `from.topic` route
    /// [default: the event's `wefttopic` extension if it has one].
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Manifests to read the route (and its sink) from; repeatable [default: `.`].
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR",
        conflicts_with = "url"
    )]
    pub files: Vec<PathBuf>,
    /// Read the route (and its sink) from the node at --server instead of from files.
    #[arg(long)]
    pub url: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = TextOrJson::Text)]
    pub output: TextOrJson,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Text for people or JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TextOrJson {
    /// Human-readable text.
    Text,
    /// One JSON document.
    Json,
}

/// Manifest sources of `apply`, `diff` and `delete -f`.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// A manifest file, a directory of `*.yaml`/`*.yml` files (not recursive, sorted), or
    /// `-` for standard input; repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-")]
    pub files: Vec<PathBuf>,
}

/// Flags of `weft apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// Also delete the node's resources that the manifests do not declare.
    #[arg(long)]
    pub prune: bool,
    /// Show what would change without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// Also show the node's resources that `apply --prune` would delete.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The kind: stream, route, sink or source (any case, singular or plural); omitted:
    /// every kind.
    pub kind: Option<String>,
    /// One resource's name.
    pub name: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = GetOutput::Table)]
    pub output: GetOutput,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What `weft get` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GetOutput {
    /// KIND NAME READY GENERATION AGE columns.
    Table,
    /// The resources as YAML manifests with their status (documents separated by `---`).
    Yaml,
    /// The node's JSON.
    Json,
}

/// Flags of `weft delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The kind (with NAME), when not deleting by -f.
    #[arg(conflicts_with = "files", requires = "name")]
    pub kind: Option<String>,
    /// The resource's name.
    pub name: Option<String>,
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// Show what would be deleted without deleting anything (with -f).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}
