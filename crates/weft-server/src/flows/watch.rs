//! GitOps mode: the manifests of a directory (`--resources DIR`) are applied at start
//! and, with `--watch`, whenever the directory changes.
//!
//! Every apply prunes: resources applied from this directory before (their origin is
//! `dir:PATH`) that are no longer in it are deleted; resources applied through the API
//! are left alone. The directory is polled every [`POLL_INTERVAL`] (file names, sizes
//! and modification times of the `*.yaml`/`*.yml` files directly in it); a change is
//! applied once the directory has looked the same for one more poll (a debounce, so an
//! editor's save in several writes is applied once). An invalid edit is logged with
//! every positioned problem and the running flows stay as they were.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_flow::{ApplyOptions, Controller, ControllerError, ManifestFile, Prune};

/// How often the directory is looked at.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// (file name, size, modification time) of each manifest file, sorted.
type Snapshot = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn is_manifest(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with('.')
}

fn snapshot(dir: &Path) -> std::io::Result<Snapshot> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_file() && is_manifest(&path) {
            files.push((path, metadata.len(), metadata.modified().ok()));
        }
    }
    files.sort();
    Ok(files)
}

fn read_files(dir: &Path) -> std::io::Result<Vec<ManifestFile>> {
    let mut files = Vec::new();
    for (path, _, _) in snapshot(dir)? {
        let text = std::fs::read_to_string(&path)?;
        files.push(ManifestFile {
            name: path.display().to_string(),
            text,
        });
    }
    Ok(files)
}

/// The origin of resources applied from `dir`.
fn origin(dir: &Path) -> String {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    format!("dir:{}", absolute.display())
}

/// Applies the manifests in `dir` with prune; logs the outcome.
pub(crate) async fn apply_dir(controller: &Controller, dir: &Path) {
    let owned = dir.to_owned();
    let read = tokio::task::spawn_blocking(move || read_files(&owned))
        .await
        .unwrap_or_else(|error| Err(std::io::Error::other(error)));
    let files = match read {
        Ok(files) => files,
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "cannot read the resources directory; flows unchanged");
            return;
        }
    };
    let options = ApplyOptions {
        prune: Prune::Delete,
        dry_run: false,
        origin: Some(origin(dir)),
    };
    match controller.apply(&files, &options).await {
        Ok(applied) => {
            let changed = applied
                .lines
                .iter()
                .filter(|line| line.action != weft_flow::diff::Action::Unchanged)
                .count();
            tracing::info!(dir = %dir.display(), resources = applied.lines.len(), changed, "resources directory applied");
        }
        Err(ControllerError::Invalid { errors }) => {
            for diagnostic in errors.diagnostics() {
                tracing::warn!(problem = %diagnostic, "invalid manifest");
            }
            tracing::warn!(dir = %dir.display(), problems = errors.len(), "resources directory not applied; the running flows are unchanged");
        }
        Err(error) => {
            tracing::warn!(dir = %dir.display(), error = %weft_flow::controller::error_chain(&error), "resources directory not applied; the running flows are unchanged");
        }
    }
}

/// Applies `dir` now and, with `watch`, starts a task that applies it again after every
/// change until `stopped` says stop.
pub(crate) async fn start(
    controller: &Controller,
    dir: &Path,
    watch: bool,
    stopped: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let initial = snapshot(dir).ok();
    apply_dir(controller, dir).await;
    if !watch {
        return None;
    }
    let controller = controller.clone();
    let dir = dir.to_owned();
    Some(tokio::spawn(poll(controller, dir, initial, stopped)))
}

async fn poll(
    controller: Controller,
    dir: PathBuf,
    mut applied: Option<Snapshot>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending: Option<Snapshot> = None;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let listed = dir.clone();
        let now = tokio::task::spawn_blocking(move || snapshot(&listed))
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error)));
        let now = match now {
            Ok(now) => now,
            Err(error) => {
                tracing::debug!(dir = %dir.display(), %error, "cannot list the resources directory");
                continue;
            }
        };
        if applied.as_ref() == Some(&now) {
            pending = None;
            continue;
        }
        // Debounce: apply once the directory looked the same on two polls in a row.
        if pending.as_ref() == Some(&now) {
            apply_dir(&controller, &dir).await;
            applied = Some(now);
            pending = None;
        } else {
            pending = Some(now);
        }
    }
}
