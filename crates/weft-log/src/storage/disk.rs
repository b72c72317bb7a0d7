//! [`Disk`]: a tree of [`Storage`] directories — the whole of a node's state directory,
//! so that one seam carries every byte a node keeps (stream logs and state files alike),
//! and one [`SimulatedDisk`] can cut the power to all of it at once.
//!
//! Paths are whole paths (the node's data directory joined with a component's part);
//! the real implementation, [`FsDisk`], uses them as they are. Creating and removing a
//! directory are durable when the call returns (the parent is synced): a directory
//! exists or not, and the files in it follow the rules of [`Storage`].

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{FsStorage, SimulatedStorage, Storage, StorageFile, TornWrite};

/// Directories by path.
pub trait Disk: Send + Sync + fmt::Debug + 'static {
    /// The directory at `path`, if it exists.
    fn open_directory(&self, path: &Path) -> io::Result<Option<Arc<dyn Storage>>>;
    /// The directory at `path`, created with its missing parents if needed; a creation
    /// is durable when this returns.
    fn create_directory(&self, path: &Path) -> io::Result<Arc<dyn Storage>>;
    /// The names of the directories directly in `path`, sorted (none when `path` does
    /// not exist).
    fn subdirectories(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Removes `path` and everything in it (nothing when it does not exist); durable
    /// when this returns.
    fn remove_directory(&self, path: &Path) -> io::Result<()>;
}

/// The local file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsDisk;

impl FsDisk {
    /// The local file system, shared.
    pub fn shared() -> Arc<dyn Disk> {
        Arc::new(FsDisk)
    }
}

fn sync_directory(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

impl Disk for FsDisk {
    fn open_directory(&self, path: &Path) -> io::Result<Option<Arc<dyn Storage>>> {
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                Ok(Some(Arc::new(FsStorage::new(path)?) as Arc<dyn Storage>))
            }
            Ok(_) => Err(io::Error::other(format!(
                "{} is not a directory",
                path.display()
            ))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn create_directory(&self, path: &Path) -> io::Result<Arc<dyn Storage>> {
        let missing: Vec<&Path> = path
            .ancestors()
            .take_while(|ancestor| !ancestor.as_os_str().is_empty() && !ancestor.is_dir())
            .collect();
        std::fs::create_dir_all(path)?;
        // Each new directory's entry is in its parent: sync the parents, deepest first.
        for created in missing {
            if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_directory(parent)?;
            }
        }
        Ok(Arc::new(FsStorage::new(path)?))
    }

    fn subdirectories(&self, path: &Path) -> io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.path().is_dir()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn remove_directory(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_dir_all(path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        }
        match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => sync_directory(parent),
            None => Ok(()),
        }
    }
}

/// An in-memory disk of [`SimulatedStorage`] directories with one power switch, for
/// node-level crash tests. Clones share the disk.
///
/// A node runs on a [`SimulatedDisk::mount`]: every call through that mount, and
/// through the directories it opened, fails once [`SimulatedDisk::power_loss`] cut the
/// power, so what is left of the process that "died" (tasks, writer threads) cannot
/// touch what the next run finds. Files follow [`SimulatedStorage`]: a power loss keeps
/// what was synced (optionally with a torn tail), and each directory loses the file
/// creations, removals and renames since its last `sync_directory`. Creating and
/// removing whole directories is durable at once, as [`Disk`] promises (a removal is
/// atomic here, which a real one is not).
#[derive(Debug, Clone, Default)]
pub struct SimulatedDisk {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Held for reading by every call through a mount, for writing by a power loss.
    state: RwLock<DiskState>,
}

#[derive(Debug, Default)]
struct DiskState {
    /// Bumped by every power loss; mounts of an earlier run fail.
    boot: u64,
    directories: BTreeMap<PathBuf, SimulatedStorage>,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, DiskState> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state, if the power has not been cut since `boot`.
    fn running(&self, boot: u64) -> io::Result<RwLockReadGuard<'_, DiskState>> {
        let state = self.read();
        if state.boot != boot {
            return Err(io::Error::other("the disk lost power"));
        }
        Ok(state)
    }

    fn write(&self) -> RwLockWriteGuard<'_, DiskState> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state to change, if the power has not been cut since `boot`.
    fn running_mut(&self, boot: u64) -> io::Result<RwLockWriteGuard<'_, DiskState>> {
        let state = self.write();
        if state.boot != boot {
            return Err(io::Error::other("the disk lost power"));
        }
        Ok(state)
    }
}

impl SimulatedDisk {
    /// An empty disk.
    pub fn new() -> Self {
        SimulatedDisk::default()
    }

    /// The disk as one run of a node sees it, until the next power loss.
    pub fn mount(&self) -> Arc<dyn Disk> {
        Arc::new(Mount {
            shared: Arc::clone(&self.shared),
            boot: self.shared.read().boot,
        })
    }

    /// Cuts the power: every directory loses what was not synced (files their unsynced
    /// bytes, except what `torn` keeps; directories their unsynced entries), and every
    /// earlier mount, directory and file handle fails from now on.
    pub fn power_loss(&self, torn: TornWrite) {
        let mut state = self.shared.write();
        state.boot += 1;
        for directory in state.directories.values() {
            directory.power_loss(torn);
        }
    }

    /// The directory at `path`, to inspect or inject faults into.
    pub fn directory(&self, path: &Path) -> Option<SimulatedStorage> {
        self.shared.read().directories.get(path).cloned()
    }

    /// Every directory, by path.
    pub fn directories(&self) -> Vec<(PathBuf, SimulatedStorage)> {
        self.shared
            .read()
            .directories
            .iter()
            .map(|(path, storage)| (path.clone(), storage.clone()))
            .collect()
    }
}

/// One run's view of a [`SimulatedDisk`].
#[derive(Debug)]
struct Mount {
    shared: Arc<Shared>,
    boot: u64,
}

impl Mount {
    fn fenced(&self, storage: SimulatedStorage) -> Arc<dyn Storage> {
        Arc::new(Fenced {
            shared: Arc::clone(&self.shared),
            boot: self.boot,
            storage,
        })
    }
}

impl Disk for Mount {
    fn open_directory(&self, path: &Path) -> io::Result<Option<Arc<dyn Storage>>> {
        let state = self.shared.running(self.boot)?;
        Ok(state
            .directories
            .get(path)
            .cloned()
            .map(|storage| self.fenced(storage)))
    }

    fn create_directory(&self, path: &Path) -> io::Result<Arc<dyn Storage>> {
        // A creation takes the write lock; the boot is checked under it.
        let mut state = self.shared.running_mut(self.boot)?;
        for ancestor in path.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            state.directories.entry(ancestor.to_owned()).or_default();
        }
        let storage = state
            .directories
            .entry(path.to_owned())
            .or_default()
            .clone();
        Ok(self.fenced(storage))
    }

    fn subdirectories(&self, path: &Path) -> io::Result<Vec<String>> {
        let state = self.shared.running(self.boot)?;
        Ok(state
            .directories
            .keys()
            .filter(|candidate| candidate.parent() == Some(path))
            .filter_map(|candidate| candidate.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn remove_directory(&self, path: &Path) -> io::Result<()> {
        let mut state = self.shared.running_mut(self.boot)?;
        state
            .directories
            .retain(|candidate, _| !candidate.starts_with(path));
        Ok(())
    }
}

/// A directory of a mount: refuses every call once the power was cut.
struct Fenced {
    shared: Arc<Shared>,
    boot: u64,
    storage: SimulatedStorage,
}

impl Storage for Fenced {
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let _running = self.shared.running(self.boot)?;
        self.storage.open(name)
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let _running = self.shared.running(self.boot)?;
        self.storage.create(name)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let _running = self.shared.running(self.boot)?;
        self.storage.list()
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let _running = self.shared.running(self.boot)?;
        self.storage.remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let _running = self.shared.running(self.boot)?;
        self.storage.rename(from, to)
    }

    fn sync_directory(&self) -> io::Result<()> {
        let _running = self.shared.running(self.boot)?;
        self.storage.sync_directory()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_loss_fences_the_old_mount_and_keeps_what_was_synced() {
        let disk = SimulatedDisk::new();
        let mount = disk.mount();
        let directory = mount.create_directory(Path::new("/node/a/b")).unwrap();
        let file = directory.create("f").unwrap();
        file.append(b"kept").unwrap();
        file.sync_data().unwrap();
        directory.sync_directory().unwrap();
        file.append(b"lost").unwrap();
        assert_eq!(
            mount.subdirectories(Path::new("/node")).unwrap(),
            ["a".to_owned()]
        );

        disk.power_loss(TornWrite::DropUnsynced);
        assert!(
            directory.list().is_err(),
            "the old directory handle is dead"
        );
        assert!(mount.subdirectories(Path::new("/node")).is_err());
        assert!(file.append(b"x").is_err());

        let mount = disk.mount();
        let directory = mount
            .open_directory(Path::new("/node/a/b"))
            .unwrap()
            .unwrap();
        let file = directory.open("f").unwrap();
        assert_eq!(file.len(), 4);
        mount.remove_directory(Path::new("/node/a")).unwrap();
        assert!(
            mount
                .open_directory(Path::new("/node/a/b"))
                .unwrap()
                .is_none()
        );
        assert!(mount.subdirectories(Path::new("/node")).unwrap().is_empty());
    }

    #[test]
    fn the_file_system_disk_creates_lists_and_removes_directories() {
        let root = tempfile::tempdir().unwrap();
        let disk = FsDisk;
        let path = root.path().join("x/y");
        assert!(disk.open_directory(&path).unwrap().is_none());
        assert!(disk.subdirectories(&path).unwrap().is_empty());
        let directory = disk.create_directory(&path).unwrap();
        directory.create("f").unwrap();
        assert_eq!(
            disk.subdirectories(&root.path().join("x")).unwrap(),
            ["y".to_owned()]
        );
        assert!(disk.open_directory(&path).unwrap().is_some());
        disk.remove_directory(&root.path().join("x")).unwrap();
        disk.remove_directory(&root.path().join("x")).unwrap();
        assert!(!root.path().join("x").exists());
    }
}
