//! The I/O seam: every byte the log reads or writes goes through [`Storage`] and
//! [`StorageFile`], so that [`SimulatedStorage`] can stand in for the disk in tests and
//! simulate power loss (lost unsynced bytes, torn writes), a full disk and I/O errors.
//!
//! A `Storage` is one flat directory (one partition). Names are plain file names. A
//! [`Disk`] is a tree of them: a node's whole state directory, with [`FsDisk`] and
//! [`SimulatedDisk`] (one power switch for every directory of a node).

mod disk;
mod fs;
mod simulated;

use std::io;

pub use disk::{Disk, FsDisk, SimulatedDisk};
pub use fs::FsStorage;
pub use simulated::{SimulatedStorage, TornWrite};

/// A directory of files.
pub trait Storage: Send + Sync + 'static {
    /// Opens an existing file for reading and appending.
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;
    /// Creates a file, emptying it if it exists.
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;
    /// Names of the files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Removes a file.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to` if it exists: a reader sees
    /// either the old `to` or the whole of `from`, never a mix. Like creations and
    /// removals, the rename is durable only after [`Storage::sync_directory`]; the data of
    /// `from` must have been synced first for the result to survive a power loss.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes creations and removals durable (fsync of the directory).
    fn sync_directory(&self) -> io::Result<()>;
}

/// One open file: appended at the end, read anywhere.
///
/// Every method takes `&self` so that one open file can be shared (`Arc`) between the
/// log's single writer and its readers; only the writer appends, syncs and truncates.
/// An open file stays readable after it is removed or renamed over (Unix semantics):
/// a reader holding an old view of the log keeps reading the bytes it saw.
pub trait StorageFile: Send + Sync {
    /// Appends all of `data` at the end. On error, some prefix of `data` may have been
    /// written; the caller truncates back.
    fn append(&self, data: &[u8]) -> io::Result<()>;
    /// Fills `buf` from `position`; an error if the file ends first.
    fn read_at(&self, position: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Current length in bytes, including unsynced appends.
    fn len(&self) -> u64;
    /// True when the file has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;
}
