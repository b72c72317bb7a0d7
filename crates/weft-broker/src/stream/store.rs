//! The streams directory on disk. Every function here blocks: callers run them in
//! `spawn_blocking`.
//!
//! Layout: `<dir>/<stream>/stream.json` (the config, the commit point of a stream's
//! existence) and `<dir>/<stream>/<partition>/` (one partition log each). A stream
//! directory without `stream.json` is the remains of an unfinished create or delete and
//! is removed on open.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::StreamsOptions;
use super::config::{StoredConfig, StreamConfig};
use super::error::{StorageError, StreamError};
use super::partition::Usage;
use super::storage::{PartitionStore, stored_usage};

/// The config file of a stream.
pub(super) const CONFIG_FILE: &str = "stream.json";
const CONFIG_TEMP_FILE: &str = "stream.json.tmp";

/// Every stream stored in `dir` (created if missing), sorted by name.
pub(crate) fn load_all(dir: &Path) -> Result<Vec<StreamConfig>, StreamError> {
    let root = |source| StreamError::storage(dir.display().to_string(), source);
    fs::create_dir_all(dir)
        .map_err(StorageError::io("create", dir))
        .map_err(root)?;
    let entries = fs::read_dir(dir)
        .map_err(StorageError::io("list", dir))
        .map_err(root)?;
    let mut configs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(StorageError::io("list", dir)).map_err(root)?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let config_path = path.join(CONFIG_FILE);
        if !config_path.exists() {
            tracing::warn!(directory = %path.display(), "removing a stream directory without stream.json");
            fs::remove_dir_all(&path)
                .map_err(StorageError::io("remove", &path))
                .map_err(root)?;
            continue;
        }
        configs.push(read_config(&config_path)?);
    }
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs)
}

fn read_config(path: &Path) -> Result<StreamConfig, StreamError> {
    let stream = path
        .parent()
        .map_or_else(String::new, |parent| parent.display().to_string());
    let text = fs::read(path)
        .map_err(StorageError::io("read", path))
        .map_err(|source| StreamError::storage(stream.clone(), source))?;
    let stored: StoredConfig = serde_json::from_slice(&text)
        .map_err(|source| StorageError::Config {
            path: path.to_owned(),
            source,
        })
        .map_err(|source| StreamError::storage(stream, source))?;
    StreamConfig::try_from(stored)
}

/// Writes `<stream_dir>/stream.json` atomically: a temporary file, synced, renamed over
/// the old one, and the directory synced.
pub(crate) fn write_config(stream_dir: &Path, config: &StreamConfig) -> Result<(), StorageError> {
    fs::create_dir_all(stream_dir).map_err(StorageError::io("create", stream_dir))?;
    let temp = stream_dir.join(CONFIG_TEMP_FILE);
    let json = serde_json::to_vec_pretty(&StoredConfig::from(config)).map_err(|source| {
        StorageError::Config {
            path: temp.clone(),
            source,
        }
    })?;
    let mut file = File::create(&temp).map_err(StorageError::io("create", &temp))?;
    file.write_all(&json)
        .map_err(StorageError::io("write", &temp))?;
    file.sync_all().map_err(StorageError::io("sync", &temp))?;
    drop(file);
    let target = stream_dir.join(CONFIG_FILE);
    fs::rename(&temp, &target).map_err(StorageError::io("rename", &target))?;
    sync_dir(stream_dir)?;
    if let Some(parent) = stream_dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes a stream: `stream.json` first (so a crash leaves a directory that open removes),
/// then everything else.
pub(crate) fn remove_stream(stream_dir: &Path) -> Result<(), StorageError> {
    let config = stream_dir.join(CONFIG_FILE);
    match fs::remove_file(&config) {
        Ok(()) => sync_dir(stream_dir)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(StorageError::io("remove", &config)(error)),
    }
    fs::remove_dir_all(stream_dir).map_err(StorageError::io("remove", stream_dir))?;
    if let Some(parent) = stream_dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Opens (creating if needed) partition `partition` of the stream in `stream_dir` through
/// the configured store; also returns what it holds.
pub(crate) fn open_partition(
    stream_dir: &Path,
    partition: u32,
    config: &StreamConfig,
    options: &StreamsOptions,
) -> Result<(Arc<dyn PartitionStore>, Usage), StorageError> {
    let path = partition_dir(stream_dir, partition);
    let store = options.store.open(&path, partition, config.flush)?;
    let stored = stored_usage(store.as_ref());
    Ok((store, stored))
}

pub(crate) fn partition_dir(stream_dir: &Path, partition: u32) -> PathBuf {
    stream_dir.join(partition.to_string())
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(StorageError::io("sync", dir))
}
