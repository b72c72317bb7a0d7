//! The persister: one thread that writes the mesh's files (`server/store.rs`) so that
//! neither the owner task nor the runtime ever waits for the disk.
//!
//! The owner sends it [`Op`]s in the order the node produced them. The thread takes
//! every op waiting, writes them, and when one of them is a [`Op::Sync`] fsyncs every
//! outbox file written since the last sync once, then answers all the syncs (group
//! commit): a publisher's acknowledgement waits for that answer, so an acknowledged
//! event is on disk at the origin before anyone is told it is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use bytes::BytesMut;
use tokio::sync::oneshot;
use weft_broker::ForwardRefused;

use super::owner::Command;
use super::store::{self, StoreError, io_error};
use crate::inbox::StreamPosition;
use crate::interest::RememberedInterest;
use crate::name::NodeName;
use crate::outbox::{OutboxChange, OutboxEntry};

/// Ops taken per round at most (bounds the latency of the first sync in a round).
const ROUND: usize = 4096;

/// A sync's answer: `Ok` once everything sent before it is on disk.
pub(crate) type SyncReply = oneshot::Sender<Result<(), ForwardRefused>>;

/// What the persister is asked to do.
pub(crate) enum Op {
    /// Append a stored or acked record (`Discarded` deletes the file).
    Change(OutboxChange),
    /// Replace `destination`'s file with these entries of `stream` (compaction).
    Rewrite {
        destination: NodeName,
        stream: u64,
        entries: Vec<OutboxEntry>,
    },
    /// Fsync what was written, then answer.
    Sync(Vec<SyncReply>),
    /// Write the inbox positions, then tell the owner (it acknowledges them).
    Inbox(BTreeMap<NodeName, StreamPosition>),
    /// Write the remembered durable interest.
    Interest(BTreeMap<NodeName, RememberedInterest>),
    /// Record the highest stream id this life opened (`incarnation.json`).
    Incarnation(u64),
}

/// The owner's end.
#[derive(Clone)]
pub(crate) struct Persister {
    // Unbounded on purpose: the owner must never wait, and what it holds is bounded by
    // the outboxes' limits (each op is a stored entry, an ack, or a periodic snapshot).
    ops: mpsc::Sender<Op>,
    pub(crate) errors: Arc<AtomicU64>,
}

impl Persister {
    /// Starts the thread writing under `root` (`<data_dir>/mesh`).
    /// Persisted inbox positions are reported on `owner`.
    pub(crate) fn start(
        root: PathBuf,
        owner: tokio::sync::mpsc::Sender<Command>,
    ) -> Result<Persister, StoreError> {
        let (ops, receiver) = mpsc::channel();
        let errors = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&errors);
        std::thread::Builder::new()
            .name("weft-mesh-persist".to_owned())
            .spawn(move || Writer::new(root, counted, owner).run(receiver))
            .map_err(io_error(
                std::path::Path::new("."),
                "start persister thread",
            ))?;
        Ok(Persister { ops, errors })
    }

    /// Queues `op`; false when the thread has stopped.
    pub(crate) fn send(&self, op: Op) -> bool {
        self.ops.send(op).is_ok()
    }
}

struct Writer {
    root: PathBuf,
    files: BTreeMap<NodeName, File>,
    dirty: BTreeSet<NodeName>,
    errors: Arc<AtomicU64>,
    owner: tokio::sync::mpsc::Sender<Command>,
}

impl Writer {
    fn new(
        root: PathBuf,
        errors: Arc<AtomicU64>,
        owner: tokio::sync::mpsc::Sender<Command>,
    ) -> Self {
        Writer {
            root,
            files: BTreeMap::new(),
            dirty: BTreeSet::new(),
            errors,
            owner,
        }
    }

    fn run(mut self, receiver: mpsc::Receiver<Op>) {
        while let Ok(first) = receiver.recv() {
            let mut round = vec![first];
            while round.len() < ROUND {
                match receiver.try_recv() {
                    Ok(op) => round.push(op),
                    Err(_) => break,
                }
            }
            let mut replies = Vec::new();
            let mut failed: Option<String> = None;
            for op in round {
                let result = match op {
                    Op::Change(change) => self.change(change),
                    Op::Rewrite {
                        destination,
                        stream,
                        entries,
                    } => self.rewrite(&destination, stream, &entries),
                    Op::Sync(waiting) => {
                        replies.extend(waiting);
                        Ok(())
                    }
                    Op::Inbox(positions) => {
                        store::write_inbox(&self.root, &positions).map(|()| {
                            // A blocking send from this thread is fine: the owner
                            // drains its commands and never waits for this thread.
                            let _ = self.owner.blocking_send(Command::InboxPersisted(positions));
                        })
                    }
                    Op::Interest(interest) => store::write_interest(&self.root, &interest),
                    Op::Incarnation(used) => store::write_incarnation(&self.root, used),
                };
                if let Err(error) = result {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "mesh store write failed");
                    failed = Some(error.to_string());
                }
            }
            if !replies.is_empty() {
                if let Err(error) = self.sync() {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "mesh store sync failed");
                    failed = Some(error.to_string());
                }
                for reply in replies {
                    let answer = match &failed {
                        None => Ok(()),
                        Some(reason) => Err(ForwardRefused {
                            reason: format!("cannot persist the mesh outbox: {reason}"),
                        }),
                    };
                    let _ = reply.send(answer);
                }
            }
        }
    }

    fn path(&self, destination: &NodeName) -> PathBuf {
        store::outbox_dir(&self.root).join(destination.as_str())
    }

    fn file(&mut self, destination: &NodeName) -> Result<&mut File, StoreError> {
        if !self.files.contains_key(destination) {
            let path = self.path(destination);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_error(&path, "open"))?;
            // The new file's directory entry must survive a crash too.
            if let Ok(dir) = File::open(store::outbox_dir(&self.root)) {
                let _ = dir.sync_all();
            }
            self.files.insert(destination.clone(), file);
        }
        let path = self.path(destination);
        self.files
            .get_mut(destination)
            .ok_or_else(|| io_error(&path, "open")(std::io::ErrorKind::NotFound.into()))
    }

    fn append(&mut self, destination: &NodeName, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(destination);
        self.file(destination)?
            .write_all(bytes)
            .map_err(io_error(&path, "append"))?;
        self.dirty.insert(destination.clone());
        Ok(())
    }

    fn change(&mut self, change: OutboxChange) -> Result<(), StoreError> {
        let mut bytes = BytesMut::new();
        match change {
            OutboxChange::Stored {
                destination,
                stream,
                entry,
            } => {
                store::encode_stored(&mut bytes, stream, &entry);
                self.append(&destination, &bytes)
            }
            OutboxChange::Acked {
                destination,
                stream,
                up_to,
            } => {
                store::encode_acked(&mut bytes, stream, up_to);
                self.append(&destination, &bytes)
            }
            // The journal rewrites the file instead (`Op::Rewrite`).
            OutboxChange::Renumbered { .. } => Ok(()),
            OutboxChange::Discarded { destination } => {
                self.files.remove(&destination);
                self.dirty.remove(&destination);
                let path = self.path(&destination);
                match fs::remove_file(&path) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        Err(io_error(&path, "remove")(error))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Replaces the file atomically (temporary file, fsync, rename).
    fn rewrite(
        &mut self,
        destination: &NodeName,
        stream: u64,
        entries: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut bytes = BytesMut::new();
        for entry in entries {
            store::encode_stored(&mut bytes, stream, entry);
        }
        self.files.remove(destination);
        self.dirty.remove(destination);
        store::write_atomically(&self.path(destination), &bytes)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        for destination in std::mem::take(&mut self.dirty) {
            let path = self.path(&destination);
            if let Some(file) = self.files.get(&destination) {
                file.sync_data().map_err(io_error(&path, "fsync"))?;
            }
        }
        Ok(())
    }
}
