//! A consumer on disk: `<stream dir>/consumers/<name>.json` holds its configuration and
//! its cursors, written atomically through the state seam ([`StateDir::write`]: a
//! temporary file, synced, renamed, the directory synced). Every function here blocks:
//! callers run them in `spawn_blocking`.

use serde::{Deserialize, Serialize};

use super::config::{ConsumerConfig, ConsumerName, StoredConfig};
use super::cursor::Cursor;
use crate::state::StateDir;
use crate::stream::StorageError;

/// The directory of a stream's consumers.
pub(crate) const CONSUMERS_DIR: &str = "consumers";
const SUFFIX: &str = ".json";

/// What one consumer file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredConsumer {
    config: StoredConfig,
    /// One per partition, in order.
    cursors: Vec<Cursor>,
}

/// A consumer as loaded.
pub(crate) struct Loaded {
    pub(crate) config: ConsumerConfig,
    pub(crate) cursors: Vec<Cursor>,
}

/// The directory of the consumers of the stream in `stream_dir`.
pub(crate) fn consumers_dir(stream_dir: &StateDir) -> StateDir {
    stream_dir.child(CONSUMERS_DIR)
}

fn file_name(name: &ConsumerName) -> String {
    format!("{name}{SUFFIX}")
}

/// Every consumer stored in `dir` (a stream's consumers directory); leftover temporary
/// files are removed.
pub(crate) fn load_all(dir: &StateDir) -> Result<Vec<Loaded>, StorageError> {
    dir.remove_leftovers()
        .map_err(StorageError::io("remove", dir.path()))?;
    let names = dir.list().map_err(StorageError::io("list", dir.path()))?;
    let mut loaded = Vec::new();
    for file_name in names {
        if !file_name.ends_with(SUFFIX) {
            continue;
        }
        let path = dir.file_path(&file_name);
        let Some(text) = dir
            .read(&file_name)
            .map_err(StorageError::io("read", &path))?
        else {
            continue;
        };
        let stored: StoredConsumer =
            serde_json::from_slice(&text).map_err(|source| StorageError::Config {
                path: path.clone(),
                source,
            })?;
        let config =
            ConsumerConfig::try_from(stored.config).map_err(|error| StorageError::Config {
                path: path.clone(),
                source: serde::de::Error::custom(error),
            })?;
        loaded.push(Loaded {
            config,
            cursors: stored.cursors,
        });
    }
    loaded.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    Ok(loaded)
}

/// Writes a consumer's file atomically and durably.
pub(crate) fn write(
    dir: &StateDir,
    config: &ConsumerConfig,
    cursors: Vec<Cursor>,
) -> Result<(), StorageError> {
    let name = file_name(&config.name);
    let path = dir.file_path(&name);
    let stored = StoredConsumer {
        config: StoredConfig::from(config),
        cursors,
    };
    let json = serde_json::to_vec(&stored).map_err(|source| StorageError::Config {
        path: path.clone(),
        source,
    })?;
    dir.write(&name, &json)
        .map_err(StorageError::io("write", &path))
}

/// Removes a consumer's file durably (a missing file is fine).
pub(crate) fn remove(dir: &StateDir, name: &ConsumerName) -> Result<(), StorageError> {
    let file = file_name(name);
    dir.remove(&file)
        .map(drop)
        .map_err(StorageError::io("remove", dir.file_path(&file)))
}
