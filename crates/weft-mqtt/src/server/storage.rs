//! Durable storage of sessions and retained messages: one JSON file per client id /
//! topic, written atomically through the node's state seam ([`StateDir::write`]: a
//! temporary file, fsync, rename, fsync of the directory). Blocking: call it from
//! `spawn_blocking`.
//!
//! File names are the hex encoding of the client id (or topic) UTF-8 bytes plus
//! `.json`, so any id is a safe, unique name. A file name longer than the file system
//! allows (ids over ~120 bytes) fails to write; that is counted and logged.

use std::io;

use weft_broker::state::StateDir;

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

/// Removes `dir/name` durably; a missing file is fine.
fn remove_durably(dir: &StateDir, name: &str) -> io::Result<()> {
    dir.remove(name).map(drop)
}

fn storage_error(dir: &StateDir) -> impl FnOnce(io::Error) -> MqttStartError {
    let path = dir.path().to_owned();
    move |source| MqttStartError::Storage { path, source }
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
    dir: &StateDir,
    parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<Loaded<T>, MqttStartError> {
    dir.create().map_err(storage_error(dir))?;
    if let Err(error) = dir.remove_leftovers() {
        tracing::warn!(%error, path = %dir.path().display(), "cannot remove unfinished mqtt state files");
    }
    let names = dir.list().map_err(storage_error(dir))?;
    let mut loaded = Loaded {
        values: Vec::new(),
        set_aside: 0,
    };
    for name in names {
        if !name.ends_with(".json") {
            continue;
        }
        let error = match dir
            .read(&name)
            .map(|bytes| bytes.map(|bytes| parse(&bytes)))
        {
            Ok(None) => continue,
            Ok(Some(Ok(value))) => {
                loaded.values.push(value);
                continue;
            }
            Ok(Some(Err(error))) => error.to_string(),
            Err(error) => error.to_string(),
        };
        let aside = format!("{name}.bad");
        let moved = dir.rename(&name, &aside);
        tracing::error!(%error, path = %dir.file_path(&name).display(), moved_to = %dir.file_path(&aside).display(), moved = moved.is_ok(), "unreadable mqtt state file set aside; the node starts without it");
        loaded.set_aside += 1;
    }
    Ok(loaded)
}

/// Session states under `<data_dir>/mqtt/sessions`.
#[derive(Debug, Clone)]
pub(crate) struct SessionFiles {
    dir: StateDir,
}

impl SessionFiles {
    pub(crate) fn new(dir: StateDir) -> Self {
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
        self.dir.write(&Self::name(client_id), json)
    }

    /// Forgets the state of `client_id`.
    pub(crate) fn remove(&self, client_id: &str) -> io::Result<()> {
        remove_durably(&self.dir, &Self::name(client_id))
    }
}

/// Retained messages under `<data_dir>/mqtt/retained`, one file per topic.
#[derive(Debug, Clone)]
pub(crate) struct RetainedFiles {
    dir: StateDir,
}

impl RetainedFiles {
    pub(crate) fn new(dir: StateDir) -> Self {
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
        self.dir.write(&Self::name(message.topic.as_str()), &json)
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
        let files = SessionFiles::new(StateDir::from(dir.path().join("sessions")));
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
