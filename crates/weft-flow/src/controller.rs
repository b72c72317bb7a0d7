//! The flows controller: the node's desired state of flows, stored durably, and the
//! running streams, routes and sources that make it real.
//!
//! [`Controller::apply`] loads every file (positions name the file), merges the
//! manifests with what is applied, validates the whole (references may name streams
//! that already exist on the node; routes may not form cycles), diffs, and — only when
//! everything is valid — applies the change as one transaction: Stream manifests create
//! or update broker streams, Sinks are configuration for routes, Routes start, restart
//! (when their spec or their sink changed) or stop their [`RouteRunner`], Sources start
//! or stop. A change that cannot be made (an invalid manifest, a route or source that
//! fails to start, the state file not written) leaves the running flows as they were
//! and says why. [`Controller::delete`] removes resources the same way.
//!
//! The state lives in `<data_dir>/flows/state.json` (see `store`): each resource's
//! manifest, the file it came from, its origin (the API, or a watched directory) and
//! its generation. At node start [`Controller::open`] reads it and starts everything;
//! a resource that fails then is reported by its status (`Ready: False`,
//! `StartFailed`) and retried by the next apply.
//!
//! Webhook sources are served through [`Controller::webhook`], which the node's HTTP
//! front end asks for every request on a path it does not serve itself.
//!
//! [`RouteRunner`]: crate::runtime::RouteRunner

mod prepare;
mod running;
mod status;
mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::Mutex;
use weft_broker::state::StateDir;
use weft_broker::{Broker, Principal};
use weft_core::{Clock, SystemClock};
use weft_yaml::Errors;

pub use running::{StartFailure, chain as error_chain};
pub use status::{Condition, ResourceStatus};
pub use store::StoreError;

use crate::diff::{Plan, PlanLine, Prune};

/// The principal the controller manages the streams of Stream manifests as (whoever
/// applies the manifests is checked for [`weft_broker::Action::ManageResources`] where
/// the request arrives).
pub(crate) fn controller_principal() -> Principal {
    Principal::named("$flows")
}
use crate::load::load_str;
use crate::manifest::Kind;
use crate::runtime::WebhookSource;
use crate::state::ResourceKey;
use running::{Running, WebhookPaths};
use store::Entry;

/// One manifest file of a request: its name (for positions) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// The display name, such as `flows/orders.yaml`.
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// How to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Whether applied resources missing from the files are deleted: all of them when
    /// `origin` is `None`, else only those applied with the same origin.
    pub prune: Prune,
    /// Only plan; change nothing.
    pub dry_run: bool,
    /// Who applies: `None` for the API, `dir:PATH` for a watched directory.
    pub origin: Option<String>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            prune: Prune::Keep,
            dry_run: false,
            origin: None,
        }
    }
}

/// What an apply or delete did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Whether nothing was changed on purpose.
    pub dry_run: bool,
    /// One line per resource named by the request, and per deleted resource.
    pub lines: Vec<PlanLine>,
    /// The lines as kubectl prints them (`route/x created`), one per line.
    pub text: String,
}

impl Applied {
    fn new(report: &Plan, dry_run: bool) -> Applied {
        Applied {
            dry_run,
            lines: report.lines(),
            text: report.to_string(),
        }
    }
}

/// Why an apply or delete changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The manifests have problems; each is positioned.
    #[error("the manifests have {} problem(s)", errors.len())]
    Invalid {
        /// Every problem, in file order.
        errors: Errors,
    },
    /// A resource could not be started; nothing was changed.
    #[error(transparent)]
    Start(#[from] StartFailure),
    /// The state could not be stored; nothing was changed.
    #[error("cannot store the flows state")]
    Store(#[from] StoreError),
    /// A resource to delete does not exist.
    #[error("{key} not found")]
    NotFound {
        /// The resource.
        key: ResourceKey,
    },
}

/// Settings of a controller.
#[derive(Clone)]
pub struct ControllerOptions {
    /// Where the state is stored (`<data_dir>/flows`).
    pub dir: PathBuf,
    /// The node's name (the origin of events sources and routes create).
    pub node: String,
    /// "Now" for schedule sources.
    pub clock: Arc<dyn Clock>,
}

impl ControllerOptions {
    /// Options storing the state in `dir`, for node `node`, on the system clock.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, node: impl Into<String>) -> ControllerOptions {
        ControllerOptions {
            dir: dir.into(),
            node: node.into(),
            clock: Arc::new(SystemClock),
        }
    }
}

struct State {
    entries: BTreeMap<ResourceKey, Entry>,
    running: Running,
    /// (ready, reason, since) of each resource's last observed condition.
    transitions: BTreeMap<ResourceKey, (bool, &'static str, SystemTime)>,
}

/// The flows controller; cheap to clone.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Broker,
    /// `<data_dir>/flows` on the node's disk.
    dir: StateDir,
    paths: WebhookPaths,
    state: Mutex<State>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// Reads the stored state and starts every resource in it. Resources that fail to
    /// start are reported by their status; the others run.
    ///
    /// # Errors
    /// The stored state cannot be read.
    pub async fn open(
        broker: Broker,
        options: ControllerOptions,
    ) -> Result<Controller, StoreError> {
        // On the node's disk, which the broker holds.
        let dir = broker.state_dir(&options.dir);
        let entries = store::load(&dir)?;
        let paths: WebhookPaths = Arc::new(RwLock::new(HashMap::new()));
        let mut running = Running {
            broker: broker.clone(),
            node: options.node,
            clock: options.clock,
            routes: BTreeMap::new(),
            schedules: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            paths: Arc::clone(&paths),
            failures: BTreeMap::new(),
        };
        let empty = BTreeMap::new();
        if let Ok(txn) = running.begin(&empty, &entries, false).await {
            running.commit(txn, &empty, &entries).await;
        }
        if !entries.is_empty() {
            tracing::info!(
                resources = entries.len(),
                failed = running.failures.len(),
                "flows restored"
            );
        }
        let state = State {
            entries,
            running,
            transitions: BTreeMap::new(),
        };
        Ok(Controller {
            inner: Arc::new(Inner {
                broker,
                dir,
                paths,
                state: Mutex::new(state),
            }),
        })
    }

    /// Streams on the node now.
    async fn existing_streams(&self) -> BTreeSet<String> {
        self.inner
            .broker
            .list_streams(&controller_principal())
            .await
            .into_iter()
            .map(|info| info.config.name.to_string())
            .collect()
    }

    /// Applies `files` (see the module docs).
    ///
    /// # Errors
    /// Invalid manifests (every problem), a start failure or a storage failure; in each
    /// case nothing changed.
    pub async fn apply(
        &self,
        files: &[ManifestFile],
        options: &ApplyOptions,
    ) -> Result<Applied, ControllerError> {
        let existing = self.existing_streams().await;
        let mut state = self.inner.state.lock().await;
        let prepared = prepare::apply(&state.entries, files, options, &existing)
            .map_err(|errors| ControllerError::Invalid { errors })?;
        self.execute(&mut state, prepared, options.dry_run).await
    }

    /// Deletes the resources the manifests in `files` name (only kind and name count);
    /// those that do not exist are reported `not found`.
    ///
    /// # Errors
    /// Invalid manifests; a remaining resource that needs a deleted one; a storage
    /// failure.
    pub async fn delete(
        &self,
        files: &[ManifestFile],
        dry_run: bool,
    ) -> Result<Applied, ControllerError> {
        let mut errors = Errors::new();
        let mut keys = Vec::new();
        for file in files {
            match load_str(&file.name, &file.text) {
                Ok(set) => keys.extend(set.manifests().map(crate::Manifest::key)),
                Err(problems) => errors.append(problems),
            }
        }
        if !errors.is_empty() {
            return Err(ControllerError::Invalid { errors });
        }
        self.delete_keys(&keys, dry_run).await
    }

    /// Deletes the resources `keys`; those that do not exist are reported `not found`.
    ///
    /// # Errors
    /// A remaining resource that needs a deleted one; a storage failure.
    pub async fn delete_keys(
        &self,
        keys: &[ResourceKey],
        dry_run: bool,
    ) -> Result<Applied, ControllerError> {
        let existing = self.existing_streams().await;
        let mut state = self.inner.state.lock().await;
        let prepared = prepare::delete(&state.entries, keys, &existing)
            .map_err(|errors| ControllerError::Invalid { errors })?;
        self.execute(&mut state, prepared, dry_run).await
    }

    /// Deletes one resource.
    ///
    /// # Errors
    /// [`ControllerError::NotFound`] when it does not exist, else as
    /// [`Self::delete_keys`].
    pub async fn delete_one(&self, key: &ResourceKey) -> Result<Applied, ControllerError> {
        if !self.inner.state.lock().await.entries.contains_key(key) {
            return Err(ControllerError::NotFound { key: key.clone() });
        }
        self.delete_keys(std::slice::from_ref(key), false).await
    }

    async fn execute(
        &self,
        state: &mut State,
        prepared: prepare::Prepared,
        dry_run: bool,
    ) -> Result<Applied, ControllerError> {
        let applied = Applied::new(&prepared.report, dry_run);
        if dry_run || prepared.plan.is_noop() && prepared.next == state.entries {
            return Ok(applied);
        }
        let current = state.entries.clone();
        let txn = state.running.begin(&current, &prepared.next, true).await?;
        if let Err(error) = store::save_off_runtime(&self.inner.dir, &prepared.next).await {
            state.running.rollback(txn).await;
            return Err(error.into());
        }
        state.running.commit(txn, &current, &prepared.next).await;
        state.entries = prepared.next;
        for line in &applied.lines {
            tracing::info!(resource = %line.key, action = line.action.as_str(), "flow applied");
        }
        refresh(state).await;
        Ok(applied)
    }

    /// The applied resources with their statuses, optionally only of `kind` and named
    /// `name`, in creation order (streams, sinks, sources, routes; then by name).
    pub async fn get(&self, kind: Option<Kind>, name: Option<&str>) -> Vec<ResourceStatus> {
        let mut state = self.inner.state.lock().await;
        refresh(&mut state).await;
        let state = &*state;
        let mut out = Vec::new();
        for (key, entry) in &state.entries {
            if !status::selected(key, kind, name) {
                continue;
            }
            let (ready, reason, message, counters) =
                status::observe(key, entry, &state.entries, &state.running).await;
            let since = state
                .transitions
                .get(key)
                .map_or_else(SystemTime::now, |(_, _, since)| *since);
            out.push(ResourceStatus {
                manifest: entry.manifest.clone(),
                generation: entry.generation,
                observed_generation: entry.generation,
                digest: entry.digest().to_string(),
                condition: Condition {
                    ready,
                    reason: reason.to_owned(),
                    message,
                    last_transition: since,
                },
                counters,
            });
        }
        out
    }

    /// The webhook source serving `path`, if one does.
    #[must_use]
    pub fn webhook(&self, path: &str) -> Option<Arc<WebhookSource>> {
        self.inner
            .paths
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(path)
            .cloned()
    }

    /// Stops every route and source (the state stays stored for the next start).
    pub async fn shutdown(&self) {
        self.inner.state.lock().await.running.stop_all().await;
    }
}

/// Records when each resource's condition changed.
async fn refresh(state: &mut State) {
    let now = SystemTime::now();
    let mut seen = BTreeMap::new();
    for (key, entry) in &state.entries {
        let (ready, reason, _, _) =
            status::observe(key, entry, &state.entries, &state.running).await;
        let since = match state.transitions.get(key) {
            Some((was_ready, was_reason, since))
                if *was_ready == ready && *was_reason == reason =>
            {
                *since
            }
            _ => now,
        };
        seen.insert(key.clone(), (ready, reason, since));
    }
    state.transitions = seen;
}
