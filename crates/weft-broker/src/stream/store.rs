//! The streams directory on the node's disk (the state seam, [`crate::state`]). Every
//! function here blocks: callers run them in `spawn_blocking`.
//!
//! Layout: `<dir>/<stream>/stream.json` (the config, the commit point of a stream's
//! existence) and `<dir>/<stream>/<partition>/` (one partition log each). A stream
//! directory without `stream.json` is the remains of an unfinished create or delete and
//! is removed on open.

use std::path::PathBuf;
use std::sync::Arc;

use super::StreamsOptions;
use super::config::{StoredConfig, StreamConfig};
use super::error::{StorageError, StreamError};
use super::partition::Usage;
use super::storage::{PartitionStore, stored_usage};
use crate::state::StateDir;

/// The config file of a stream.
pub(super) const CONFIG_FILE: &str = "stream.json";

/// Every stream stored in `dir` (created if missing), sorted by name.
pub(crate) fn load_all(dir: &StateDir) -> Result<Vec<StreamConfig>, StreamError> {
    let root = |source| StreamError::storage(dir.path().display().to_string(), source);
    dir.create()
        .map_err(StorageError::io("create", dir.path()))
        .map_err(root)?;
    let names = dir
        .subdirectories()
        .map_err(StorageError::io("list", dir.path()))
        .map_err(root)?;
    let mut configs = Vec::new();
    for name in names {
        let stream_dir = dir.child(&name);
        let config_path = stream_dir.file_path(CONFIG_FILE);
        let text = stream_dir
            .read(CONFIG_FILE)
            .map_err(StorageError::io("read", &config_path))
            .map_err(|source| {
                StreamError::storage(stream_dir.path().display().to_string(), source)
            })?;
        let Some(text) = text else {
            tracing::warn!(directory = %stream_dir.path().display(), "removing a stream directory without stream.json");
            stream_dir
                .remove_all()
                .map_err(StorageError::io("remove", stream_dir.path()))
                .map_err(root)?;
            continue;
        };
        configs.push(parse_config(&stream_dir, config_path, &text)?);
    }
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs)
}

fn parse_config(
    stream_dir: &StateDir,
    path: PathBuf,
    text: &[u8],
) -> Result<StreamConfig, StreamError> {
    let stream = stream_dir.path().display().to_string();
    let stored: StoredConfig = serde_json::from_slice(text)
        .map_err(|source| StorageError::Config { path, source })
        .map_err(|source| StreamError::storage(stream, source))?;
    StreamConfig::try_from(stored)
}

/// Writes `<stream_dir>/stream.json` atomically and durably (through the state seam:
/// a temporary file, synced, renamed over the old one, and the directory synced; the
/// stream directory itself is created durably).
pub(crate) fn write_config(
    stream_dir: &StateDir,
    config: &StreamConfig,
) -> Result<(), StorageError> {
    let path = stream_dir.file_path(CONFIG_FILE);
    let json = serde_json::to_vec_pretty(&StoredConfig::from(config)).map_err(|source| {
        StorageError::Config {
            path: path.clone(),
            source,
        }
    })?;
    stream_dir
        .write(CONFIG_FILE, &json)
        .map_err(StorageError::io("write", &path))
}

/// Removes a stream: `stream.json` first (so a crash leaves a directory that open removes),
/// then everything else.
pub(crate) fn remove_stream(stream_dir: &StateDir) -> Result<(), StorageError> {
    stream_dir.remove(CONFIG_FILE).map_err(StorageError::io(
        "remove",
        stream_dir.file_path(CONFIG_FILE),
    ))?;
    stream_dir
        .remove_all()
        .map_err(StorageError::io("remove", stream_dir.path()))
}

/// Opens (creating if needed) partition `partition` of the stream in `stream_dir` through
/// the configured store; also returns what it holds.
pub(crate) fn open_partition(
    stream_dir: &StateDir,
    partition: u32,
    config: &StreamConfig,
    options: &StreamsOptions,
) -> Result<(Arc<dyn PartitionStore>, Usage), StorageError> {
    let path = partition_dir(stream_dir, partition);
    let store = options.store.open(&path, partition, config.flush)?;
    let stored = stored_usage(store.as_ref());
    Ok((store, stored))
}

pub(crate) fn partition_dir(stream_dir: &StateDir, partition: u32) -> PathBuf {
    stream_dir.path().join(partition.to_string())
}
