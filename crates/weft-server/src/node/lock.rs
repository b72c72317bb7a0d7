//! The data directory's lock: one node per data directory.
//!
//! Two nodes on one directory would both append to the same logs, rewrite the same MQTT
//! sessions and mesh positions, and both acknowledge publishes that the other then
//! overwrites. So before [`super::start`] opens anything in the directory, it takes an
//! exclusive advisory lock (`flock`) on `<data_dir>/weft.lock` and keeps it for the
//! node's life. The lock belongs to the open file, not to the file's contents: the
//! operating system releases it when the process ends in any way, `kill -9` included,
//! so a lock file left behind by a dead node never blocks the next one. The file's
//! contents (the holder's pid, node name and start time) only serve the error message
//! of a node that is refused.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::StartError;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "weft.lock";

/// Holds the data directory's lock until dropped (or the process ends).
#[derive(Debug)]
pub(super) struct DataDirLock {
    // Never read: the lock lives as long as this open file.
    _file: File,
}

/// Who holds a data directory: what the holder wrote into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holder's process id.
    pub pid: u32,
    /// The holder's node name.
    pub node: String,
    /// When the holder took the lock (RFC 3339, UTC).
    pub started: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "pid {}, node {}, started {}",
            self.pid, self.node, self.started
        )
    }
}

/// Takes the lock on `data_dir` (which exists) for node `node`, or says who holds it.
pub(super) fn acquire(data_dir: &Path, node: &str) -> Result<DataDirLock, StartError> {
    let path = data_dir.join(LOCK_FILE);
    let lock_error = |source| StartError::DataDirLock {
        path: path.clone(),
        source,
    };
    // Not truncated on open: until we hold the lock, the contents are the holder's.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(lock_error)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(StartError::DataDirInUse {
                path: data_dir.to_owned(),
                holder: read_holder(&mut file),
            });
        }
        Err(TryLockError::Error(source)) => return Err(lock_error(source)),
    }
    let holder = LockHolder {
        pid: std::process::id(),
        node: node.to_owned(),
        started: started_now(),
    };
    write_holder(&mut file, &holder).map_err(lock_error)?;
    Ok(DataDirLock { _file: file })
}

/// The holder named in the lock file; `None` when the holder has not written it yet
/// (it is between taking the lock and writing) or the file is not ours.
fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_holder(file: &mut File, holder: &LockHolder) -> std::io::Result<()> {
    // A previous holder's text (a node that was killed) is replaced, not appended to.
    file.set_len(0)?;
    let text = serde_json::to_string(holder).map_err(std::io::Error::other)?;
    // The file was opened at offset 0 and not read: the write lands at the start.
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

fn started_now() -> String {
    weft_core::Timestamp::from_system_time(SystemTime::now()).map_or_else(
        |_| "at an unknown time".to_owned(),
        |time| time.as_str().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn lock_path(data_dir: &Path) -> PathBuf {
        data_dir.join(LOCK_FILE)
    }

    #[test]
    fn a_second_lock_on_one_directory_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), "n1").unwrap();
        let Err(StartError::DataDirInUse { path, holder }) = acquire(dir.path(), "n2") else {
            panic!("the second lock must be refused");
        };
        assert_eq!(path, dir.path());
        let holder = holder.expect("the holder wrote its name");
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.node, "n1");
        drop(held);
        acquire(dir.path(), "n2").expect("free once the holder is gone");
    }

    #[test]
    fn a_refused_node_leaves_the_lock_file_as_the_holder_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let _held = acquire(dir.path(), "n1").unwrap();
        let before = std::fs::read(lock_path(dir.path())).unwrap();
        assert!(acquire(dir.path(), "n2").is_err());
        assert_eq!(std::fs::read(lock_path(dir.path())).unwrap(), before);
    }

    #[test]
    fn a_stale_lock_file_does_not_block_and_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed node leaves behind: a file naming it, with no lock on it. The
        // text is longer than the new holder's, so a leftover tail would show.
        let stale = format!(
            "{{\"pid\":4294967295,\"node\":\"{}\",\"started\":\"2000-01-01T00:00:00Z\"}}\n",
            "x".repeat(200)
        );
        std::fs::write(lock_path(dir.path()), stale).unwrap();
        let _held = acquire(dir.path(), "n2").unwrap();
        let text = std::fs::read_to_string(lock_path(dir.path())).unwrap();
        let holder: LockHolder = serde_json::from_str(&text).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.node, "n2");
    }

    #[test]
    fn the_holder_reads_as_pid_node_and_start_time() {
        let holder = LockHolder {
            pid: 1234,
            node: "n1".to_owned(),
            started: "2026-01-02T03:04:05Z".to_owned(),
        };
        assert_eq!(
            holder.to_string(),
            "pid 1234, node n1, started 2026-01-02T03:04:05Z"
        );
    }
}
