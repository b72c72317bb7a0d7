//! A consumer on disk: `<stream dir>/consumers/<name>.json` holds its configuration and
//! its cursors, written atomically (temporary file, fsync, rename, fsync of the
//! directory). Every function here blocks: callers run them in `spawn_blocking`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{ConsumerConfig, ConsumerName, StoredConfig};
use super::cursor::Cursor;
use crate::stream::StorageError;

/// The directory of a stream's consumers.
pub(crate) const CONSUMERS_DIR: &str = "consumers";
const TEMP_SUFFIX: &str = ".json.tmp";

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

fn consumers_dir(stream_dir: &Path) -> PathBuf {
    stream_dir.join(CONSUMERS_DIR)
}

fn file(stream_dir: &Path, name: &ConsumerName) -> PathBuf {
    consumers_dir(stream_dir).join(format!("{name}.json"))
}

/// Every consumer stored for the stream in `stream_dir`; leftover temporary files are
/// removed.
pub(crate) fn load_all(stream_dir: &Path) -> Result<Vec<Loaded>, StorageError> {
    let dir = consumers_dir(stream_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(StorageError::io("list", &dir)(error)),
    };
    let mut loaded = Vec::new();
    for entry in entries {
        let path = entry.map_err(StorageError::io("list", &dir))?.path();
        let Some(file_name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if file_name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(&path).map_err(StorageError::io("remove", &path))?;
            continue;
        }
        if !file_name.ends_with(".json") {
            continue;
        }
        let text = fs::read(&path).map_err(StorageError::io("read", &path))?;
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

/// Writes a consumer's file atomically.
pub(crate) fn write(
    stream_dir: &Path,
    config: &ConsumerConfig,
    cursors: Vec<Cursor>,
) -> Result<(), StorageError> {
    let dir = consumers_dir(stream_dir);
    fs::create_dir_all(&dir).map_err(StorageError::io("create", &dir))?;
    let target = file(stream_dir, &config.name);
    let temp = dir.join(format!("{}{TEMP_SUFFIX}", config.name));
    let stored = StoredConsumer {
        config: StoredConfig::from(config),
        cursors,
    };
    let json = serde_json::to_vec(&stored).map_err(|source| StorageError::Config {
        path: temp.clone(),
        source,
    })?;
    let mut handle = File::create(&temp).map_err(StorageError::io("create", &temp))?;
    handle
        .write_all(&json)
        .map_err(StorageError::io("write", &temp))?;
    handle.sync_all().map_err(StorageError::io("sync", &temp))?;
    drop(handle);
    fs::rename(&temp, &target).map_err(StorageError::io("rename", &target))?;
    sync_dir(&dir)?;
    sync_dir(stream_dir)
}

/// Removes a consumer's file (a missing file is fine).
pub(crate) fn remove(stream_dir: &Path, name: &ConsumerName) -> Result<(), StorageError> {
    let path = file(stream_dir, name);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(&consumers_dir(stream_dir)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(StorageError::io("remove", &path)(error)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(StorageError::io("sync", dir))
}
