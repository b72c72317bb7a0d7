//! [`SimulatedStorage`]: an in-memory disk that remembers which bytes were synced, for
//! crash tests.
//!
//! Each file keeps the bytes a reader sees and the bytes that survive a power loss (the
//! state at its last `sync_data`). [`SimulatedStorage::power_loss`] replaces every file by
//! its durable bytes, optionally followed by a torn part of what was written after.
//!
//! The directory is modelled the same way: it keeps the names a reader sees and the names
//! that survive a power loss (the entries at its last `sync_directory`). A creation,
//! removal or rename not followed by `sync_directory` is undone by a power loss: a file
//! created since is gone, a file removed or renamed over since is back under its old
//! name with its durable bytes. A rename is atomic and moves the file's visible and
//! durable bytes together, so bytes not synced before the rename are still lost by a
//! power loss after it.
//!
//! Names point at files the way directory entries point at inodes: an open handle keeps
//! reading and writing its file after the name is removed or renamed over (as on Unix),
//! and the file goes away with its last handle. A power loss forgets unnamed files.
//!
//! [`SimulatedStorage::hold_syncs`] makes every `sync_data` wait until released, so a
//! test can keep a writer busy in the middle of a group commit.
//!
//! [`SimulatedStorage::crash_after`] stops the disk after a number of mutating operations
//! (every later call fails), so a test can cut the power at every step of a multi-step
//! operation such as compaction.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Storage, StorageFile};

/// What survives of the bytes written after a file's last sync when power is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornWrite {
    /// Nothing: the file ends at its last synced byte.
    DropUnsynced,
    /// Up to this many of the unsynced bytes survive, in order (a torn write).
    KeepPrefix(usize),
    /// Up to this many of the unsynced bytes survive as zeroes (an extent allocated but
    /// never written).
    ZeroFilled(usize),
}

/// An in-memory [`Storage`] with fault injection. Clones share the same disk.
#[derive(Debug, Clone, Default)]
pub struct SimulatedStorage {
    state: Arc<Mutex<State>>,
    /// Syncs wait while held; apart from `state` so that waiting holds no lock on it.
    gate: Arc<SyncGate>,
}

#[derive(Debug, Default)]
struct SyncGate {
    /// Whether syncs are held, and how many are waiting.
    held: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl SyncGate {
    fn lock(&self) -> MutexGuard<'_, (bool, usize)> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pass(&self) {
        let mut held = self.lock();
        if !held.0 {
            return;
        }
        held.1 += 1;
        self.changed.notify_all();
        while held.0 {
            held = self
                .changed
                .wait(held)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        held.1 -= 1;
    }
}

#[derive(Debug, Default)]
struct State {
    /// Directory entries: name → file id.
    names: BTreeMap<String, u64>,
    /// The directory entries as of the last `sync_directory`: what a power loss leaves.
    durable_names: BTreeMap<String, u64>,
    /// Files by id, named or still open.
    files: HashMap<u64, SimulatedFileData>,
    next_id: u64,
    /// Bumped by every power loss; handles from an earlier boot fail.
    boot: u64,
    /// Bytes that may still be appended before appends fail with "storage full".
    space_left: Option<u64>,
    fail_syncs: bool,
    fail_appends: bool,
    syncs: u64,
    /// Mutating operations allowed before every operation fails (a crash in progress).
    operations_left: Option<u64>,
}

impl State {
    /// Counts one mutating operation, failing once the crash point is reached.
    fn spend_operation(&mut self) -> io::Result<()> {
        match self.operations_left.as_mut() {
            Some(0) => Err(io::Error::other("injected crash: the disk has stopped")),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn named(&self, name: &str) -> Option<&SimulatedFileData> {
        self.files.get(self.names.get(name)?)
    }

    fn named_mut(&mut self, name: &str) -> Option<&mut SimulatedFileData> {
        self.files.get_mut(self.names.get(name)?)
    }

    /// Removes the directory entry `name`; its file lives on while a handle has it open
    /// (or while the durable directory still names it).
    fn unlink(&mut self, name: &str) -> Option<u64> {
        let id = self.names.remove(name)?;
        if !self.names.values().any(|linked| *linked == id)
            && let Some(file) = self.files.get_mut(&id)
        {
            file.linked = false;
        }
        self.collect(id);
        Some(id)
    }

    /// Forgets file `id` once nothing refers to it: no name, no durable name, no handle.
    fn collect(&mut self, id: u64) {
        let unused = self
            .files
            .get(&id)
            .is_some_and(|file| file.handles == 0 && !file.linked);
        if unused && !self.durable_names.values().any(|durable| *durable == id) {
            self.files.remove(&id);
        }
    }
}

#[derive(Debug, Default, Clone)]
struct SimulatedFileData {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Whether a name points at it (now; the durable directory may differ).
    linked: bool,
    /// Open handles.
    handles: usize,
}

impl SimulatedStorage {
    /// An empty disk.
    pub fn new() -> Self {
        SimulatedStorage::default()
    }

    /// Power loss: every file loses what was not synced, except what `torn` keeps, and
    /// the directory loses the creations, removals and renames since its last sync.
    /// Files opened before keep failing afterwards, like the process that died.
    pub fn power_loss(&self, torn: TornWrite) {
        let mut state = self.lock();
        state.boot += 1;
        state.operations_left = None;
        // The directory is what was last synced of it; the process died, so its open
        // handles are gone, and so are files without a (durable) name.
        state.names = state.durable_names.clone();
        let named: std::collections::HashSet<u64> = state.names.values().copied().collect();
        state.files.retain(|id, _| named.contains(id));
        for file in state.files.values_mut() {
            file.linked = true;
            file.handles = 0;
            let unsynced = if file.data.starts_with(&file.durable) {
                &file.data[file.durable.len()..]
            } else {
                &[][..]
            };
            let mut survived = file.durable.clone();
            match torn {
                TornWrite::DropUnsynced => {}
                TornWrite::KeepPrefix(count) => {
                    survived.extend_from_slice(&unsynced[..count.min(unsynced.len())])
                }
                TornWrite::ZeroFilled(count) => {
                    survived.resize(survived.len() + count.min(unsynced.len()), 0)
                }
            }
            file.data = survived.clone();
            file.durable = survived;
        }
    }

    /// Limits how many more bytes may be appended (over all files); `None` is unlimited.
    pub fn set_space_left(&self, bytes: Option<u64>) {
        self.lock().space_left = bytes;
    }

    /// Makes every `sync_data` fail (or succeed again).
    pub fn fail_syncs(&self, fail: bool) {
        self.lock().fail_syncs = fail;
    }

    /// Makes every `append` fail without writing (or succeed again).
    pub fn fail_appends(&self, fail: bool) {
        self.lock().fail_appends = fail;
    }

    /// Lets `operations` more mutating calls (append, sync, truncate, create, remove,
    /// rename, directory sync) succeed, then fails every call until [`Self::power_loss`]
    /// (or `crash_after(None)`): the machine stopped in the middle of what it was doing.
    pub fn crash_after(&self, operations: Option<u64>) {
        self.lock().operations_left = operations;
    }

    /// Makes every `sync_data` wait (or lets the waiting ones and later ones through).
    pub fn hold_syncs(&self, hold: bool) {
        self.gate.lock().0 = hold;
        self.gate.changed.notify_all();
    }

    /// Blocks until `count` syncs are waiting at the gate of [`Self::hold_syncs`], or
    /// `timeout` passed; returns whether they are.
    pub fn wait_for_held_syncs(&self, count: usize, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut held = self.gate.lock();
        while held.1 < count {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            held = self
                .gate
                .changed
                .wait_timeout(held, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }

    /// Successful `sync_data` calls so far.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }

    /// The bytes a reader of `name` sees now.
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().named(name).map(|file| file.data.clone())
    }

    /// The bytes of `name` that a power loss now would leave (`None` when the name
    /// itself would not survive): its durable directory entry and its synced bytes.
    pub fn durable_contents(&self, name: &str) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.durable_names.get(name)?;
        state.files.get(id).map(|file| file.durable.clone())
    }

    /// Flips bits of `name` at `position` (both visible and durable bytes): bit rot.
    pub fn corrupt(&self, name: &str, position: usize, mask: u8) {
        let mut state = self.lock();
        if let Some(file) = state.named_mut(name) {
            for bytes in [&mut file.data, &mut file.durable] {
                if let Some(byte) = bytes.get_mut(position) {
                    *byte ^= mask;
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock can only come from a test assertion elsewhere;
        // the state itself stays consistent, so recover it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new handle on the file named `name`, which must exist.
    fn handle(&self, state: &mut State, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let id = *state.names.get(name).ok_or_else(|| not_found(name))?;
        let file = state.files.get_mut(&id).ok_or_else(|| not_found(name))?;
        file.handles += 1;
        Ok(Box::new(SimulatedFile {
            storage: self.clone(),
            name: name.to_owned(),
            id,
            boot: state.boot,
        }))
    }
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl Storage for SimulatedStorage {
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut state = self.lock();
        self.handle(&mut state, name)
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut state = self.lock();
        state.spend_operation()?;
        state.unlink(name);
        let id = state.next_id;
        state.next_id += 1;
        state.files.insert(
            id,
            SimulatedFileData {
                linked: true,
                ..SimulatedFileData::default()
            },
        );
        state.names.insert(name.to_owned(), id);
        self.handle(&mut state, name)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().names.keys().cloned().collect())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.lock();
        state.spend_operation()?;
        state
            .unlink(name)
            .map(|_| ())
            .ok_or_else(|| not_found(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.lock();
        state.spend_operation()?;
        let id = *state.names.get(from).ok_or_else(|| not_found(from))?;
        if from == to {
            return Ok(());
        }
        state.names.remove(from);
        state.unlink(to);
        state.names.insert(to.to_owned(), id);
        Ok(())
    }

    fn sync_directory(&self) -> io::Result<()> {
        let mut state = self.lock();
        state.spend_operation()?;
        let forgotten: Vec<u64> = state.durable_names.values().copied().collect();
        state.durable_names = state.names.clone();
        for id in forgotten {
            state.collect(id);
        }
        Ok(())
    }
}

struct SimulatedFile {
    storage: SimulatedStorage,
    /// The name it was opened by (for error messages; it may since have been removed).
    name: String,
    id: u64,
    boot: u64,
}

impl SimulatedFile {
    fn with<T>(&self, action: impl FnOnce(&mut State, u64) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.storage.lock();
        if state.boot != self.boot {
            return Err(io::Error::other("file handle from before a power loss"));
        }
        if !state.files.contains_key(&self.id) {
            return Err(not_found(&self.name));
        }
        action(&mut state, self.id)
    }
}

impl Drop for SimulatedFile {
    fn drop(&mut self) {
        let mut state = self.storage.lock();
        if state.boot != self.boot {
            return;
        }
        if let Some(file) = state.files.get_mut(&self.id) {
            file.handles = file.handles.saturating_sub(1);
        }
        state.collect(self.id);
    }
}

fn file(state: &mut State, id: u64) -> io::Result<&mut SimulatedFileData> {
    state
        .files
        .get_mut(&id)
        .ok_or_else(|| io::Error::other("file is gone"))
}

impl StorageFile for SimulatedFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        self.with(|state, id| {
            state.spend_operation()?;
            if state.fail_appends {
                return Err(io::Error::other("injected write error"));
            }
            let allowed = match state.space_left {
                Some(left) => usize::try_from(left).unwrap_or(usize::MAX).min(data.len()),
                None => data.len(),
            };
            if let Some(left) = state.space_left.as_mut() {
                *left -= allowed as u64;
            }
            file(state, id)?.data.extend_from_slice(&data[..allowed]);
            if allowed < data.len() {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            Ok(())
        })
    }

    fn read_at(&self, position: u64, buf: &mut [u8]) -> io::Result<()> {
        self.with(|state, id| {
            let data = &file(state, id)?.data;
            let start = usize::try_from(position).unwrap_or(usize::MAX);
            match data.get(start..start.saturating_add(buf.len())) {
                Some(bytes) => {
                    buf.copy_from_slice(bytes);
                    Ok(())
                }
                None => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the file",
                )),
            }
        })
    }

    fn len(&self) -> u64 {
        self.with(|state, id| Ok(file(state, id)?.data.len() as u64))
            .unwrap_or(0)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.storage.gate.pass();
        self.with(|state, id| {
            state.spend_operation()?;
            if state.fail_syncs {
                return Err(io::Error::other("injected fsync error"));
            }
            state.syncs += 1;
            let file = file(state, id)?;
            file.durable = file.data.clone();
            Ok(())
        })
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.with(|state, id| {
            state.spend_operation()?;
            let file = file(state, id)?;
            let len = usize::try_from(len)
                .unwrap_or(usize::MAX)
                .min(file.data.len());
            file.data.truncate(len);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_loss_keeps_synced_bytes_and_the_torn_prefix() {
        let storage = SimulatedStorage::new();
        let file = storage.create("a").unwrap();
        storage.sync_directory().unwrap();
        file.append(b"durable").unwrap();
        file.sync_data().unwrap();
        file.append(b"-lost").unwrap();
        storage.power_loss(TornWrite::KeepPrefix(2));
        assert_eq!(storage.contents("a").unwrap(), b"durable-l");
        assert!(
            file.append(b"x").is_err(),
            "a handle from before the crash must not write"
        );
        let reopened = storage.open("a").unwrap();
        assert_eq!(reopened.len(), 9);
    }

    #[test]
    fn rename_replaces_the_target_and_keeps_unsynced_bytes_unsynced() {
        let storage = SimulatedStorage::new();
        let old = storage.create("target").unwrap();
        old.append(b"old").unwrap();
        old.sync_data().unwrap();
        let new = storage.create("source").unwrap();
        new.append(b"new").unwrap();
        new.sync_data().unwrap();
        new.append(b"-unsynced").unwrap();
        storage.rename("source", "target").unwrap();
        storage.sync_directory().unwrap();
        assert_eq!(storage.contents("target").unwrap(), b"new-unsynced");
        assert!(storage.contents("source").is_none());
        storage.power_loss(TornWrite::DropUnsynced);
        assert_eq!(storage.contents("target").unwrap(), b"new");
    }

    #[test]
    fn power_loss_undoes_directory_changes_since_the_last_directory_sync() {
        let storage = SimulatedStorage::new();
        let kept = storage.create("kept").unwrap();
        kept.append(b"old").unwrap();
        kept.sync_data().unwrap();
        storage.create("removed").unwrap().sync_data().unwrap();
        storage.sync_directory().unwrap();
        drop(kept);

        // Not followed by a directory sync: a creation, a rename over a file, a removal.
        let replacement = storage.create("kept.tmp").unwrap();
        replacement.append(b"new").unwrap();
        replacement.sync_data().unwrap();
        drop(replacement);
        storage.rename("kept.tmp", "kept").unwrap();
        storage.remove("removed").unwrap();
        storage.create("created").unwrap();
        assert_eq!(storage.contents("kept").unwrap(), b"new");
        assert_eq!(storage.durable_contents("kept").unwrap(), b"old");
        assert!(storage.durable_contents("created").is_none());

        storage.power_loss(TornWrite::DropUnsynced);
        let mut names = storage.list().unwrap();
        names.sort();
        assert_eq!(names, ["kept", "removed"]);
        assert_eq!(
            storage.contents("kept").unwrap(),
            b"old",
            "the rename is undone"
        );
        assert_eq!(storage.lock().files.len(), 2, "the replacement is gone");
    }

    #[test]
    fn a_synced_directory_keeps_its_changes() {
        let storage = SimulatedStorage::new();
        let file = storage.create("a.tmp").unwrap();
        file.append(b"data").unwrap();
        file.sync_data().unwrap();
        drop(file);
        storage.rename("a.tmp", "a").unwrap();
        storage.sync_directory().unwrap();
        storage.power_loss(TornWrite::DropUnsynced);
        assert_eq!(storage.list().unwrap(), ["a"]);
        assert_eq!(storage.contents("a").unwrap(), b"data");
        assert_eq!(storage.lock().files.len(), 1);
    }

    #[test]
    fn crash_after_stops_every_operation_until_power_loss() {
        let storage = SimulatedStorage::new();
        let file = storage.create("a").unwrap();
        storage.crash_after(Some(1));
        file.append(b"x").unwrap();
        assert!(file.sync_data().is_err());
        assert!(storage.create("b").is_err());
        assert!(storage.rename("a", "c").is_err());
        storage.power_loss(TornWrite::DropUnsynced);
        assert!(storage.create("b").is_ok());
    }

    #[test]
    fn an_open_file_outlives_its_name_until_the_last_handle_goes() {
        let storage = SimulatedStorage::new();
        let file = storage.create("a").unwrap();
        file.append(b"old").unwrap();
        let replacement = storage.create("b").unwrap();
        replacement.append(b"new").unwrap();
        storage.rename("b", "a").unwrap();
        let mut buf = [0u8; 3];
        file.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"old", "renamed over, the open file keeps its bytes");
        storage.remove("a").unwrap();
        replacement.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"new", "removed, the open file keeps its bytes");
        assert!(storage.open("a").is_err());
        assert_eq!(storage.lock().files.len(), 2);
        drop(file);
        drop(replacement);
        assert!(
            storage.lock().files.is_empty(),
            "the last handle frees the file"
        );
    }

    #[test]
    fn full_disk_writes_a_prefix_then_fails() {
        let storage = SimulatedStorage::new();
        let file = storage.create("a").unwrap();
        storage.set_space_left(Some(3));
        let error = file.append(b"hello").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(storage.contents("a").unwrap(), b"hel");
    }
}
