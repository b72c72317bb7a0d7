//! The node's state directory: one seam for every file a node keeps.
//!
//! The broker owns the node's [`Disk`] (the real file system, [`FsDisk`], or a
//! [`SimulatedDisk`] in crash tests) and hands each component its part as a
//! [`StateDir`] ([`crate::Broker::state_dir`]): the streams' logs and `stream.json`
//! files, durable consumers' cursors, the Kafka front end's committed offsets and
//! cluster id, MQTT sessions and retained messages, the flows controller's state. A
//! component reads, lists, replaces and removes whole files through it, and never
//! names the file system; [`StateDir::write`] is the one implementation of "write a
//! temporary file, sync it, rename it over the old one, sync the directory".
//!
//! Blocking: every call does file I/O. Async callers run them in `spawn_blocking`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_log::Storage;
pub use weft_log::{Disk, FsDisk, SimulatedDisk, SimulatedStorage, TornWrite};

/// The suffix of the temporary file [`StateDir::write`] writes before renaming it over
/// its target (`<name>.tmp`); such a file left behind by a crash is never a state file.
pub const TEMP_SUFFIX: &str = ".tmp";

/// A directory of whole-file state on the node's [`Disk`]. Cheap to clone.
///
/// The directory is created (durably, with its parents) by the first write; reading or
/// listing a directory that does not exist finds nothing.
#[derive(Clone)]
pub struct StateDir {
    disk: Arc<dyn Disk>,
    path: PathBuf,
}

impl fmt::Debug for StateDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StateDir").field(&self.path).finish()
    }
}

impl From<PathBuf> for StateDir {
    /// `path` on the local file system.
    fn from(path: PathBuf) -> Self {
        StateDir::new(FsDisk::shared(), path)
    }
}

impl From<&Path> for StateDir {
    /// `path` on the local file system.
    fn from(path: &Path) -> Self {
        StateDir::from(path.to_owned())
    }
}

impl StateDir {
    /// The directory `path` of `disk`.
    pub fn new(disk: Arc<dyn Disk>, path: impl Into<PathBuf>) -> Self {
        StateDir {
            disk,
            path: path.into(),
        }
    }

    /// Its path (for messages; the disk may not be the file system).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of the file `name` in it (for messages).
    pub fn file_path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The disk it is on.
    pub fn disk(&self) -> &Arc<dyn Disk> {
        &self.disk
    }

    /// The directory `name` inside this one.
    #[must_use]
    pub fn child(&self, name: &str) -> StateDir {
        StateDir::new(Arc::clone(&self.disk), self.path.join(name))
    }

    fn open(&self) -> io::Result<Option<Arc<dyn Storage>>> {
        self.disk.open_directory(&self.path)
    }

    fn open_or_create(&self) -> io::Result<Arc<dyn Storage>> {
        self.disk.create_directory(&self.path)
    }

    /// Creates the directory (and its parents) if it does not exist, durably.
    pub fn create(&self) -> io::Result<()> {
        self.open_or_create().map(drop)
    }

    /// Whether the directory exists.
    pub fn exists(&self) -> io::Result<bool> {
        Ok(self.open()?.is_some())
    }

    /// The names of the files in it (temporary files included), sorted.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let Some(directory) = self.open()? else {
            return Ok(Vec::new());
        };
        let mut names = directory.list()?;
        names.sort();
        Ok(names)
    }

    /// The names of the directories in it, sorted.
    pub fn subdirectories(&self) -> io::Result<Vec<String>> {
        self.disk.subdirectories(&self.path)
    }

    /// The whole of file `name`, or `None` when there is no such file.
    pub fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(directory) = self.open()? else {
            return Ok(None);
        };
        let file = match directory.open(name) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let len = usize::try_from(file.len())
            .map_err(|_| io::Error::other(format!("{name} is too large to read")))?;
        let mut bytes = vec![0; len];
        file.read_at(0, &mut bytes)?;
        Ok(Some(bytes))
    }

    /// Replaces file `name` with `bytes`, atomically and durably: `bytes` go to
    /// `<name>.tmp`, which is synced, renamed over `name`, and the directory synced. A
    /// reader (and a power loss) sees the old file or the new one, never a mix; when this
    /// returns, the new one survives a power loss.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let directory = self.open_or_create()?;
        let temporary = format!("{name}{TEMP_SUFFIX}");
        let file = directory.create(&temporary)?;
        file.append(bytes)?;
        file.sync_data()?;
        drop(file);
        directory.rename(&temporary, name)?;
        directory.sync_directory()
    }

    /// Removes file `name` durably; `false` when there was no such file.
    pub fn remove(&self, name: &str) -> io::Result<bool> {
        let Some(directory) = self.open()? else {
            return Ok(false);
        };
        match directory.remove(name) {
            Ok(()) => directory.sync_directory().map(|()| true),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Renames file `from` to `to` (replacing `to`), durably.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let directory = self
            .open()?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no file {from}")))?;
        directory.rename(from, to)?;
        directory.sync_directory()
    }

    /// Removes the temporary files an unfinished [`StateDir::write`] left (a crash
    /// before its rename); returns their names.
    pub fn remove_leftovers(&self) -> io::Result<Vec<String>> {
        let Some(directory) = self.open()? else {
            return Ok(Vec::new());
        };
        let mut removed = Vec::new();
        for name in directory.list()? {
            if name.ends_with(TEMP_SUFFIX) {
                match directory.remove(&name) {
                    Ok(()) => removed.push(name),
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
        }
        if !removed.is_empty() {
            directory.sync_directory()?;
        }
        removed.sort();
        Ok(removed)
    }

    /// Removes the directory and everything in it, durably (nothing when it does not
    /// exist).
    pub fn remove_all(&self) -> io::Result<()> {
        self.disk.remove_directory(&self.path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn check_round_trip(dir: &StateDir) {
        assert!(!dir.exists().unwrap());
        assert_eq!(dir.read("a.json").unwrap(), None);
        assert!(dir.list().unwrap().is_empty());
        assert!(!dir.remove("a.json").unwrap());
        dir.write("a.json", b"one").unwrap();
        dir.write("a.json", b"two").unwrap();
        assert_eq!(dir.read("a.json").unwrap().unwrap(), b"two");
        assert_eq!(dir.list().unwrap(), ["a.json"]);
        dir.child("sub").create().unwrap();
        assert_eq!(dir.subdirectories().unwrap(), ["sub"]);
        dir.rename("a.json", "a.json.bad").unwrap();
        assert_eq!(dir.list().unwrap(), ["a.json.bad"]);
        assert!(dir.remove("a.json.bad").unwrap());
        dir.remove_all().unwrap();
        assert!(!dir.exists().unwrap());
    }

    #[test]
    fn files_round_trip_on_the_file_system_and_the_simulated_disk() {
        let root = tempfile::tempdir().unwrap();
        check_round_trip(&StateDir::from(root.path().join("state")));
        check_round_trip(&StateDir::new(SimulatedDisk::new().mount(), "/node/state"));
    }

    #[test]
    fn a_power_loss_keeps_the_last_completed_write_only() {
        let disk = SimulatedDisk::new();
        let dir = StateDir::new(disk.mount(), "/node/state");
        dir.write("a.json", b"first").unwrap();
        dir.write("a.json", b"second").unwrap();
        // A write cut short after its temporary file was written and synced, before
        // its rename was synced: it is as if it never happened.
        let directory = disk.directory(Path::new("/node/state")).unwrap();
        let file = directory.create("a.json.tmp").unwrap();
        file.append(b"third").unwrap();
        file.sync_data().unwrap();
        directory.rename("a.json.tmp", "a.json").unwrap();
        disk.power_loss(TornWrite::KeepPrefix(3));
        let dir = StateDir::new(disk.mount(), "/node/state");
        assert_eq!(dir.read("a.json").unwrap().unwrap(), b"second");
        assert_eq!(dir.list().unwrap(), ["a.json"]);
        assert!(
            dir.write("b.json", b"x").is_ok(),
            "the new mount works after the power loss"
        );
    }

    #[test]
    fn leftover_temporary_files_are_removed() {
        let disk = SimulatedDisk::new();
        let dir = StateDir::new(disk.mount(), "/node/state");
        dir.write("a.json", b"a").unwrap();
        let directory = disk.directory(Path::new("/node/state")).unwrap();
        directory.create("b.json.tmp").unwrap();
        directory.sync_directory().unwrap();
        assert_eq!(dir.remove_leftovers().unwrap(), ["b.json.tmp"]);
        assert_eq!(dir.list().unwrap(), ["a.json"]);
    }
}
