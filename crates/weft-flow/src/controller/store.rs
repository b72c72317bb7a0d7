//! The controller's durable state: `<data_dir>/flows/state.json`, written atomically
//! through the node's state seam ([`StateDir::write`]: a temporary file, fsync, rename,
//! fsync of the directory).
//!
//! ```json
//! {"version": 1, "resources": [
//!   {"file": "flows/a.yaml", "origin": "dir:/etc/weft/flows", "generation": 2,
//!    "manifest": {"apiVersion": "weft/v1", "kind": "Route", "metadata": {...}, "spec": {...}}}
//! ]}
//! ```
//!
//! Manifests are read back through their serde form, which re-checks names, topics,
//! filters and expressions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weft_broker::state::StateDir;

use crate::manifest::Manifest;
use crate::state::{Digest, ResourceKey};

/// The stored file's name inside the flows directory.
pub(crate) const STATE_FILE: &str = "state.json";
const VERSION: u32 = 1;

/// One applied resource as the controller keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The file it was applied from (positions of later problems name it).
    pub(crate) file: String,
    /// Who applied it: `None` through the API, `dir:PATH` from a watched directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<String>,
    /// Bumped every time the digest changes.
    pub(crate) generation: u64,
    /// The manifest as applied.
    pub(crate) manifest: Manifest,
    /// Its digest (recomputed when read).
    #[serde(skip)]
    pub(crate) digest: Option<Digest>,
}

impl Entry {
    pub(crate) fn new(
        manifest: Manifest,
        file: String,
        origin: Option<String>,
        generation: u64,
    ) -> Entry {
        let digest = Some(Digest::of(&manifest));
        Entry {
            file,
            origin,
            generation,
            manifest,
            digest,
        }
    }

    pub(crate) fn digest(&self) -> Digest {
        self.digest
            .clone()
            .unwrap_or_else(|| Digest::of(&self.manifest))
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    resources: Vec<Entry>,
}

/// Why the stored state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, writing or syncing failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was done: `read`, `write`, `create`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a stored state this version understands.
    #[error("{path} is not a valid flows state")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Reads the stored state in `dir` (empty when there is none yet).
pub(crate) fn load(dir: &StateDir) -> Result<BTreeMap<ResourceKey, Entry>, StoreError> {
    let path = dir.file_path(STATE_FILE);
    let bytes = match dir.read(STATE_FILE) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(StoreError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let stored: Stored =
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path, source })?;
    let _ = stored.version;
    Ok(stored
        .resources
        .into_iter()
        .map(|mut entry| {
            entry.digest = Some(Digest::of(&entry.manifest));
            (entry.manifest.key(), entry)
        })
        .collect())
}

/// [`save`] on a blocking thread (it syncs to disk).
pub(crate) async fn save_off_runtime(
    dir: &StateDir,
    entries: &BTreeMap<ResourceKey, Entry>,
) -> Result<(), StoreError> {
    let (dir, entries) = (dir.clone(), entries.clone());
    let path = dir.file_path(STATE_FILE);
    tokio::task::spawn_blocking(move || save(&dir, &entries))
        .await
        .unwrap_or_else(|error| {
            Err(StoreError::Io {
                action: "write",
                path,
                source: std::io::Error::other(error),
            })
        })
}

/// Writes `entries` as the stored state in `dir`, atomically and durably.
pub(crate) fn save(
    dir: &StateDir,
    entries: &BTreeMap<ResourceKey, Entry>,
) -> Result<(), StoreError> {
    let stored = Stored {
        version: VERSION,
        resources: entries.values().cloned().collect(),
    };
    let bytes = serde_json::to_vec_pretty(&stored).unwrap_or_default();
    dir.write(STATE_FILE, &bytes)
        .map_err(|source| StoreError::Io {
            action: "write",
            path: dir.file_path(STATE_FILE),
            source,
        })
}
