//! `weft-flow`: declarative flows, the manifest layer.
//!
//! It owns the manifests that describe event flows — `apiVersion: weft/v1`, `kind`,
//! `metadata`, `spec` — for the kinds [`Kind::Stream`], [`Kind::Route`], [`Kind::Sink`]
//! and [`Kind::Source`] ([`manifest`]); loading them from files and directories with
//! every problem reported at once with file, line and column ([`load_path`],
//! [`load_str`], [`check_path`]); validation across manifests (references and route
//! cycles, [`validate()`]); the desired state with a digest per resource and the diff
//! that `weft apply` prints ([`DesiredState`], [`diff()`], [`Plan`]); the declarative
//! transform steps on a [`weft_core::CloudEvent`], with jq programs run under a time
//! budget that stops them from inside ([`transform`]); what a route makes
//! of one event — the filter-then-transform that the runtime, route tests and
//! `weft flow explain` all run, and the step-by-step [`Explanation`] ([`explain()`]); and
//! running a route's `tests` without a node ([`route_tests`]).
//!
//! Apart from [`runtime`] and [`controller`] it does no I/O beyond reading manifest
//! files and does not use tokio or the broker; [`runtime`] runs routes and sources
//! (webhook, schedule) against a `weft_broker::Broker`, and [`controller`] owns a
//! node's applied flows — stored durably, applied as one transaction, with a status per
//! resource ([`Controller`]). These two are the only tokio modules. Nothing here
//! depends on a front end: the node serves the controller's resources API and webhooks
//! through weft-http's request-service seam. The reference for users is
//! `docs/flows.md`.
//!
//! ```
//! use weft_flow::{DesiredState, Prune, diff, load_str};
//!
//! let text = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: copy}\n\
//!             spec: {from: {topic: a/>}, to: {topic: b}}\n";
//! let set = load_str("flow.yaml", text).unwrap();
//! let desired = DesiredState::from_set(&set);
//! let plan = diff(&DesiredState::new(), &desired, Prune::Keep);
//! assert_eq!(plan.to_string(), "route/copy created");
//! ```

pub mod cesql;
pub mod controller;

/// weft's global allocator in every program that links weft-flow: the system allocator,
/// with the per-thread meter that bounds what a jq program may hold
/// ([`transform::budget::MEMORY_LIMIT`]). A program that installs another global
/// allocator does not link.
#[global_allocator]
static ALLOCATOR: weft_alloc::MeteredAllocator = weft_alloc::MeteredAllocator;

pub mod cron;
pub mod data_path;
pub mod diff;
pub mod explain;
pub mod load;
pub mod manifest;
pub mod route_tests;
pub mod runtime;
mod serde_text;
pub mod state;
pub mod transform;
pub mod validate;

pub use cesql::Cesql;
pub use controller::{
    Applied, ApplyOptions, Controller, ControllerError, ControllerOptions, ManifestFile,
    ResourceStatus,
};
pub use diff::{Plan, PlanLine, Prune, delete_plan, diff};
pub use explain::{Explanation, Outcome, explain};
pub use load::{Loaded, ManifestSet, Origin, check_path, check_str, load_path, load_str};
pub use manifest::{Kind, Manifest, Metadata, ResourceName, Spec, StreamRef};
pub use route_tests::TestReport;
pub use runtime::{EvaluationPool, RouteRunner, RouteStatus, RunnerOptions, RuntimeError};
pub use serde_text::format_duration;
pub use state::{DesiredState, Digest, Resource, ResourceKey};
pub use validate::{Context, validate};
