//! When and how a session task writes its session state: before the next bytes go out
//! when an acknowledgement depends on it (a PUBREC, a disconnect), behind the
//! connection otherwise (a subscription change, the periodic flush), so that neither
//! the client's next packet nor a delivery waits for the disk.
//!
//! One write at a time: a write behind is a blocking-pool task the run loop watches
//! ([`SessionTask::state_written`]); a change while it runs is written again when it
//! ends, and a write that must come first (or a takeover, or the end) waits for it,
//! so an older state never lands after a newer one.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::SessionTask;

/// When the session state must be written.
#[derive(Debug, Default)]
pub(super) struct Persist {
    /// Changed since the last write.
    pub(super) dirty_since: Option<Instant>,
    /// Must be written before the next bytes go to the client.
    pub(super) urgent: bool,
    /// To be written right after the next bytes went to the client, without the task
    /// waiting for it: a subscription change, which takes effect (and is acknowledged)
    /// without waiting for the disk.
    pub(super) after_write: bool,
    /// A file may exist for this client id.
    pub(super) stored: bool,
    /// The write behind in progress.
    writing: Option<JoinHandle<std::io::Result<()>>>,
    /// The state changed again while `writing` ran: write it once more when it ends.
    again: bool,
}

/// Waits for the write behind; pending forever without one. Cancel-safe.
pub(super) async fn state_written(
    writing: &mut Option<JoinHandle<std::io::Result<()>>>,
) -> Result<std::io::Result<()>, tokio::task::JoinError> {
    match writing {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

impl Persist {
    /// The write behind in progress, for the run loop to wait on.
    pub(super) fn writing(&mut self) -> &mut Option<JoinHandle<std::io::Result<()>>> {
        &mut self.writing
    }

    /// Nothing is waiting to be written any more (a write of the state as it is now
    /// starts, or the state is dropped).
    pub(super) fn settle(&mut self) {
        self.dirty_since = None;
        self.urgent = false;
        self.after_write = false;
    }

    /// Whether anything is left to write (or being written).
    pub(super) fn pending(&self) -> bool {
        self.dirty_since.is_some() || self.after_write || self.again || self.writing.is_some()
    }
}

impl SessionTask {
    /// Writes the session state now and waits for it (or removes it when the session
    /// no longer persists), after any write behind still running.
    pub(super) async fn persist_now(&mut self) {
        self.finish_state_write().await;
        if let Some(write) = self.start_state_write() {
            let result = write.await;
            self.report_state_write(result);
        }
    }

    /// Writes the session state without waiting for it: at once when no write runs,
    /// else once the running one ends.
    pub(super) fn persist_behind(&mut self) {
        if self.persist.writing.is_some() {
            self.persist.again = true;
            self.persist.after_write = false;
        } else {
            self.persist.writing = self.start_state_write();
        }
    }

    /// The write behind ended (the run loop's `state_written` branch).
    pub(super) fn on_state_written(
        &mut self,
        result: Result<std::io::Result<()>, tokio::task::JoinError>,
    ) {
        self.persist.writing = None;
        self.report_state_write(result);
        if std::mem::take(&mut self.persist.again) {
            self.persist_behind();
        }
    }

    /// Waits for the write behind, if one runs (and leaves a change made meanwhile to
    /// be written by the caller).
    pub(super) async fn finish_state_write(&mut self) {
        if let Some(write) = self.persist.writing.take() {
            let result = write.await;
            self.report_state_write(result);
        }
        if std::mem::take(&mut self.persist.again) {
            self.persist.dirty_since.get_or_insert_with(Instant::now);
        }
    }

    /// Takes a snapshot of the session state and starts writing it (or removing the
    /// file) on the blocking pool; `None` when there is nothing to write.
    fn start_state_write(&mut self) -> Option<JoinHandle<std::io::Result<()>>> {
        self.persist.settle();
        let client_id = self.client_id.clone()?;
        if self.session.is_ended() {
            return None;
        }
        let files = Arc::clone(&self.context.inner).session_files.clone();
        let state = self.session.state();
        if state.session_expiry_interval == 0 {
            if !std::mem::take(&mut self.persist.stored) {
                return None;
            }
            return Some(tokio::task::spawn_blocking(move || {
                files.remove(&client_id)
            }));
        }
        let json = match state.to_json() {
            Ok(json) => json,
            Err(error) => {
                tracing::error!(%error, client_id = %client_id, "mqtt session state not serialisable");
                return None;
            }
        };
        self.persist.stored = true;
        Some(tokio::task::spawn_blocking(move || {
            files.store(&client_id, &json)
        }))
    }

    fn report_state_write(&self, result: Result<std::io::Result<()>, tokio::task::JoinError>) {
        if let Some(error) = super::failed_write(&self.context.inner, result) {
            tracing::error!(%error, client_id = %self.session.client_id(), "mqtt session state not stored");
        }
    }
}
