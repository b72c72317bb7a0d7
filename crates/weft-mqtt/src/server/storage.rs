//! Durable storage of sessions and retained messages: one JSON file per client id /
//! topic, written atomically (temporary file, fsync, rename, fsync of the directory).
//! Blocking: call it from `spawn_blocking`.
//!
//! File names are the hex encoding of the client id (or topic) UTF-8 bytes plus
//! `.json`, so any id is a safe, unique name. A file name longer than the file system
//! allows (ids over ~120 bytes) fails to write; that is counted and logged.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::MqttStartError;
use crate::session::{Message, SessionState};

/// The hex encoding of `text`.
pub(crate) fn hex(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Writes `bytes` to `dir/name` atomically and durably.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Removes `dir/name` durably; a missing file is fine.
fn remove_durably(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => File::open(dir)?.sync_all(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

fn create_dir(dir: &Path) -> Result<(), MqttStartError> {
    fs::create_dir_all(dir).map_err(|source| MqttStartError::Storage {
        path: dir.to_owned(),
        source,
    })
}

/// What [`load_dir`] read.
#[derive(Debug)]
pub(crate) struct Loaded<T> {
    /// Every file that parsed.
    pub(crate) values: Vec<T>,
    /// Files that did not, renamed to `NAME.bad` (each reported at error level).
    pub(crate) set_aside: u64,
}

/// Every `*.json` file of `dir`, parsed with `parse`; leftover temporary files are
/// removed. A file that cannot be read or parsed is one client's session or one topic's
/// retained message, damaged outside weft (they are written atomically): it is renamed
/// to `NAME.bad`, reported at error level and counted, and the node starts without it,
/// rather than refusing every other client or silently forgetting it.
fn load_dir<T>(
    dir: &Path,
    parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<Loaded<T>, MqttStartError> {
    create_dir(dir)?;
    let entries = fs::read_dir(dir).map_err(|source| MqttStartError::Storage {
        path: dir.to_owned(),
        source,
    })?;
    let mut loaded = Loaded {
        values: Vec::new(),
        set_aside: 0,
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if name.ends_with(".tmp") {
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let error = match fs::read(&path).map(|bytes| parse(&bytes)) {
            Ok(Ok(value)) => {
                loaded.values.push(value);
                continue;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        let aside = path.with_file_name(format!("{name}.bad"));
        let moved = fs::rename(&path, &aside);
        tracing::error!(%error, path = %path.display(), moved_to = %aside.display(), moved = moved.is_ok(), "unreadable mqtt state file set aside; the node starts without it");
        loaded.set_aside += 1;
    }
    Ok(loaded)
}

/// Session states under `<data_dir>/mqtt/sessions`.
#[derive(Debug, Clone)]
pub(crate) struct SessionFiles {
    dir: PathBuf,
}

impl SessionFiles {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn name(client_id: &str) -> String {
        format!("{}.json", hex(client_id))
    }

    /// Every stored session state.
    pub(crate) fn load_all(&self) -> Result<Loaded<SessionState>, MqttStartError> {
        load_dir(&self.dir, SessionState::from_json)
    }

    /// Stores `json` (a `SessionState::to_json`) as the state of `client_id`.
    pub(crate) fn store(&self, client_id: &str, json: &[u8]) -> io::Result<()> {
        write_atomic(&self.dir, &Self::name(client_id), json)
    }

    /// Forgets the state of `client_id`.
    pub(crate) fn remove(&self, client_id: &str) -> io::Result<()> {
        remove_durably(&self.dir, &Self::name(client_id))
    }
}

/// Retained messages under `<data_dir>/mqtt/retained`, one file per topic.
#[derive(Debug, Clone)]
pub(crate) struct RetainedFiles {
    dir: PathBuf,
}

impl RetainedFiles {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn name(topic: &str) -> String {
        format!("{}.json", hex(topic))
    }

    /// Every stored retained message.
    pub(crate) fn load_all(&self) -> Result<Loaded<Message>, MqttStartError> {
        load_dir(&self.dir, |bytes| serde_json::from_slice::<Message>(bytes))
    }

    /// Stores `message` as its topic's retained message.
    pub(crate) fn store(&self, message: &Message) -> io::Result<()> {
        let json = serde_json::to_vec(message).map_err(io::Error::other)?;
        write_atomic(&self.dir, &Self::name(message.topic.as_str()), &json)
    }

    /// Deletes the retained message of `topic`.
    pub(crate) fn remove(&self, topic: &str) -> io::Result<()> {
        remove_durably(&self.dir, &Self::name(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_names_are_unique_and_safe() {
        assert_eq!(hex("a/b"), "612f62");
        assert_eq!(hex(""), "");
        assert_eq!(hex("é"), "c3a9");
    }

    #[test]
    fn session_files_round_trip_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let files = SessionFiles::new(dir.path().join("sessions"));
        assert!(files.load_all().unwrap().values.is_empty());
        let mut state = SessionState::new("client/1");
        state.session_expiry_interval = 60;
        files.store("client/1", &state.to_json().unwrap()).unwrap();
        assert_eq!(files.load_all().unwrap().values, vec![state]);
        files.remove("client/1").unwrap();
        files.remove("client/1").unwrap();
        assert!(files.load_all().unwrap().values.is_empty());
    }
}
