//! [`OffsetStore`]: the committed offsets of every group, durable. Every method that
//! writes blocks on file I/O: async callers run it in `spawn_blocking`. Reads only take
//! short in-memory locks.
//!
//! Layout: `<dir>/<name>.json`, one file per group, where `<name>` is the group id's
//! UTF-8 bytes in lowercase hex (group ids are arbitrary strings; hex is safe on every
//! file system, including case-insensitive ones); ids whose hex passes
//! [`MAX_HEX_NAME`] characters keep a prefix and add a 64-bit FNV-1a hash of the whole
//! id. The file holds the group id itself, so names never need decoding. A file is
//! replaced atomically through the node's state seam ([`StateDir::write`]: written to
//! `<name>.json.tmp`, synced, renamed, directory synced); a leftover `.tmp` file is the
//! remains of an unfinished write and is removed on open.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use weft_broker::state::StateDir;

/// The longest hex file name kept whole.
pub(super) const MAX_HEX_NAME: usize = 200;
const HEX_PREFIX: usize = 160;
const SUFFIX: &str = ".json";

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record (-1 if unknown).
    pub leader_epoch: i32,
    /// Client metadata; `None` and `Some("")` are kept apart.
    pub metadata: Option<String>,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub commit_time_ms: i64,
}

/// An OffsetFetch answer for one partition: offset -1, leader epoch -1 and no metadata
/// when nothing is committed (Kafka sends `""` as the metadata then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset, or -1.
    pub offset: i64,
    /// The committed leader epoch, or -1.
    pub leader_epoch: i32,
    /// The committed metadata.
    pub metadata: Option<String>,
}

impl From<&CommittedOffset> for FetchedOffset {
    fn from(committed: &CommittedOffset) -> Self {
        FetchedOffset {
            topic: committed.topic.clone(),
            partition: committed.partition,
            offset: committed.offset,
            leader_epoch: committed.leader_epoch,
            metadata: committed.metadata.clone(),
        }
    }
}

/// Reading or writing the offsets directory failed.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    /// A file system operation failed.
    #[error("failed to {operation} {}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// To which file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An offsets file does not parse.
    #[error("offsets file {} is corrupt", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OffsetStoreError {
    let path = path.to_owned();
    move |source| OffsetStoreError::Io {
        operation,
        path,
        source,
    }
}

/// The file contents of one group.
#[derive(Debug, Serialize, Deserialize)]
struct GroupFile {
    group_id: String,
    offsets: Vec<CommittedOffset>,
}

type Offsets = BTreeMap<(String, i32), CommittedOffset>;

#[derive(Debug, Default)]
struct GroupEntry {
    /// Held for a whole write; `true` once the group was deleted (a writer that finds
    /// it so starts over with a fresh entry).
    write: Mutex<bool>,
    /// What the file holds.
    offsets: Mutex<Arc<Offsets>>,
}

/// The committed offsets of every group, in memory and on disk.
#[derive(Debug)]
pub struct OffsetStore {
    dir: StateDir,
    groups: Mutex<BTreeMap<String, Arc<GroupEntry>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OffsetStore {
    /// Opens `dir` (created if missing; a path is a directory of the file system) and
    /// loads every group's offsets.
    pub fn open(dir: impl Into<StateDir>) -> Result<Self, OffsetStoreError> {
        let dir = dir.into();
        dir.create().map_err(io_error("create", dir.path()))?;
        for name in dir
            .remove_leftovers()
            .map_err(io_error("remove", dir.path()))?
        {
            tracing::warn!(file = %dir.file_path(&name).display(), "removed an unfinished offsets file");
        }
        let mut groups = BTreeMap::new();
        for name in dir.list().map_err(io_error("list", dir.path()))? {
            if !name.ends_with(SUFFIX) {
                continue;
            }
            let path = dir.file_path(&name);
            let Some(text) = dir.read(&name).map_err(io_error("read", &path))? else {
                continue;
            };
            let file: GroupFile =
                serde_json::from_slice(&text).map_err(|source| OffsetStoreError::Corrupt {
                    path: path.clone(),
                    source,
                })?;
            let offsets: Offsets = file
                .offsets
                .into_iter()
                .map(|offset| ((offset.topic.clone(), offset.partition), offset))
                .collect();
            let entry = GroupEntry {
                write: Mutex::new(false),
                offsets: Mutex::new(Arc::new(offsets)),
            };
            groups.insert(file.group_id, Arc::new(entry));
        }
        Ok(OffsetStore {
            dir,
            groups: Mutex::new(groups),
        })
    }

    /// The directory it keeps its files in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stores `offsets` for `group_id` (replacing what the partitions had), durably:
    /// the file is synced before this returns. Writes to one group are serialized.
    pub fn commit(
        &self,
        group_id: &str,
        offsets: Vec<CommittedOffset>,
    ) -> Result<(), OffsetStoreError> {
        if offsets.is_empty() {
            return Ok(());
        }
        loop {
            let entry = Arc::clone(lock(&self.groups).entry(group_id.to_owned()).or_default());
            let deleted = lock(&entry.write);
            if *deleted {
                continue;
            }
            let mut next = Offsets::clone(&lock(&entry.offsets));
            for offset in &offsets {
                next.insert((offset.topic.clone(), offset.partition), offset.clone());
            }
            write_group_file(&self.dir, group_id, &next)?;
            *lock(&entry.offsets) = Arc::new(next);
            return Ok(());
        }
    }

    /// The committed offsets of `group_id`: of the partitions asked for, or of every
    /// partition it has committed if `partitions` is `None`.
    pub fn fetch(
        &self,
        group_id: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Vec<FetchedOffset> {
        let snapshot = lock(&self.groups)
            .get(group_id)
            .map(|entry| Arc::clone(&lock(&entry.offsets)))
            .unwrap_or_default();
        let Some(partitions) = partitions else {
            return snapshot.values().map(FetchedOffset::from).collect();
        };
        let mut fetched = Vec::new();
        for (topic, numbers) in partitions {
            for partition in numbers {
                let found = snapshot.get(&(topic.clone(), *partition));
                fetched.push(found.map_or_else(
                    || FetchedOffset {
                        topic: topic.clone(),
                        partition: *partition,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: None,
                    },
                    FetchedOffset::from,
                ));
            }
        }
        fetched
    }

    /// The groups with committed offsets, sorted.
    pub fn groups(&self) -> Vec<String> {
        lock(&self.groups)
            .iter()
            .filter(|(_, entry)| !lock(&entry.offsets).is_empty())
            .map(|(group_id, _)| group_id.clone())
            .collect()
    }

    /// Deletes a group's offsets; `false` if it had none.
    pub fn delete(&self, group_id: &str) -> Result<bool, OffsetStoreError> {
        let Some(entry) = lock(&self.groups).get(group_id).cloned() else {
            return Ok(false);
        };
        let mut deleted = lock(&entry.write);
        if *deleted {
            return Ok(false);
        }
        remove_group_file(&self.dir, group_id)?;
        *deleted = true;
        self.forget(group_id, &entry);
        Ok(true)
    }

    /// Deletes every group's offsets of `topic` (the topic was deleted).
    pub fn delete_topic(&self, topic: &str) -> Result<(), OffsetStoreError> {
        let entries: Vec<(String, Arc<GroupEntry>)> = lock(&self.groups)
            .iter()
            .map(|(group_id, entry)| (group_id.clone(), Arc::clone(entry)))
            .collect();
        for (group_id, entry) in entries {
            let mut deleted = lock(&entry.write);
            let current = Arc::clone(&lock(&entry.offsets));
            if *deleted || !current.keys().any(|(name, _)| name == topic) {
                continue;
            }
            let next: Offsets = current
                .iter()
                .filter(|((name, _), _)| name != topic)
                .map(|(key, offset)| (key.clone(), offset.clone()))
                .collect();
            if next.is_empty() {
                remove_group_file(&self.dir, &group_id)?;
                *deleted = true;
                self.forget(&group_id, &entry);
            } else {
                write_group_file(&self.dir, &group_id, &next)?;
                *lock(&entry.offsets) = Arc::new(next);
            }
        }
        Ok(())
    }

    fn forget(&self, group_id: &str, entry: &Arc<GroupEntry>) {
        let mut groups = lock(&self.groups);
        if groups
            .get(group_id)
            .is_some_and(|current| Arc::ptr_eq(current, entry))
        {
            groups.remove(group_id);
        }
    }
}

/// The file name (without extension) of a group: see the module docs.
pub fn file_stem(group_id: &str) -> String {
    let hex: String = group_id.bytes().map(|byte| format!("{byte:02x}")).collect();
    if hex.len() <= MAX_HEX_NAME {
        return hex;
    }
    format!("{}-{:016x}", &hex[..HEX_PREFIX], fnv1a(group_id.as_bytes()))
}

/// 64-bit FNV-1a: stable across Rust releases, unlike the standard hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn write_group_file(
    dir: &StateDir,
    group_id: &str,
    offsets: &Offsets,
) -> Result<(), OffsetStoreError> {
    let name = format!("{}{SUFFIX}", file_stem(group_id));
    let path = dir.file_path(&name);
    let file = GroupFile {
        group_id: group_id.to_owned(),
        offsets: offsets.values().cloned().collect(),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|source| OffsetStoreError::Corrupt {
        path: path.clone(),
        source,
    })?;
    dir.write(&name, &json).map_err(io_error("write", &path))
}

fn remove_group_file(dir: &StateDir, group_id: &str) -> Result<(), OffsetStoreError> {
    let name = format!("{}{SUFFIX}", file_stem(group_id));
    dir.remove(&name)
        .map(drop)
        .map_err(io_error("remove", &dir.file_path(&name)))
}

#[cfg(test)]
mod tests;
