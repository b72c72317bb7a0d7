//! The session registry (client id → the task that owns the session) and the members of
//! each shared-subscription group.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::subscriptions::BrokerSubscriptions;
use crate::session::{Message, SessionState};

/// How many control messages a session task may have waiting.
pub(crate) const CONTROL_CAPACITY: usize = 64;

/// A request to a session task.
pub(crate) enum Control {
    /// A new connection with this client id: hand the session over (or end it).
    TakeOver {
        /// The new connection's Clean Start.
        clean_start: bool,
        /// Where to send the state and the broker subscriptions.
        reply: oneshot::Sender<Handover>,
    },
    /// A shared-subscription message another member could not deliver.
    SharedDelivery {
        /// The shared subscription's filter as written (`$share/g/f`).
        filter: String,
        /// The message (boxed: it is large and this variant rare).
        message: Box<Message>,
    },
}

/// What a taken-over session task hands to its successor.
pub(crate) struct Handover {
    /// The session state, unless the session ended (clean start or expired).
    pub(crate) state: Option<SessionState>,
    /// The broker subscriptions, so nothing published meanwhile is lost.
    pub(crate) subscriptions: Option<BrokerSubscriptions>,
}

struct Entry {
    generation: u64,
    control: mpsc::Sender<Control>,
}

/// Which task owns each client id's session.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<String, Entry>>,
    next_generation: AtomicU64,
}

impl Registry {
    /// A fresh generation number (identifies one task's claim).
    pub(crate) fn generation(&self) -> u64 {
        self.next_generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Makes `control` the owner of `client_id`; returns the previous owner's handle.
    pub(crate) fn claim(
        &self,
        client_id: &str,
        generation: u64,
        control: mpsc::Sender<Control>,
    ) -> Option<mpsc::Sender<Control>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries
            .insert(
                client_id.to_owned(),
                Entry {
                    generation,
                    control,
                },
            )
            .map(|previous| previous.control)
    }

    /// Removes the claim on `client_id` if it is still `generation`'s.
    pub(crate) fn release(&self, client_id: &str, generation: u64) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries
            .get(client_id)
            .is_some_and(|entry| entry.generation == generation)
        {
            entries.remove(client_id);
        }
    }

    /// How many sessions exist.
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .len()
    }
}

/// The broker queue-group name of a shared subscription.
pub(crate) fn share_group_key(group: &str, mqtt_filter: &str) -> String {
    format!("mqtt-share/{group}/{mqtt_filter}")
}

/// The connected members of a share group: task generation and control handle.
type Members = Vec<(u64, mpsc::Sender<Control>)>;

/// The connected members of each share group, for [`Control::SharedDelivery`].
#[derive(Default)]
pub(crate) struct ShareGroups {
    groups: Mutex<HashMap<String, Members>>,
    turn: AtomicUsize,
}

impl ShareGroups {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Members>> {
        self.groups
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds member `id` to `key`.
    pub(crate) fn join(&self, key: &str, id: u64, control: mpsc::Sender<Control>) {
        let mut groups = self.lock();
        let members = groups.entry(key.to_owned()).or_default();
        if !members.iter().any(|(member, _)| *member == id) {
            members.push((id, control));
        }
    }

    /// Removes member `id` from `key`.
    pub(crate) fn leave(&self, key: &str, id: u64) {
        let mut groups = self.lock();
        if let Some(members) = groups.get_mut(key) {
            members.retain(|(member, _)| *member != id);
            if members.is_empty() {
                groups.remove(key);
            }
        }
    }

    /// Offers `message` to one member of `key` other than `exclude`, in turn; false when
    /// none could take it.
    pub(crate) fn redeliver(
        &self,
        key: &str,
        exclude: u64,
        filter: &str,
        message: Message,
    ) -> bool {
        let members: Vec<mpsc::Sender<Control>> = self
            .lock()
            .get(key)
            .map(|members| {
                members
                    .iter()
                    .filter(|(id, _)| *id != exclude)
                    .map(|(_, control)| control.clone())
                    .collect()
            })
            .unwrap_or_default();
        if members.is_empty() {
            return false;
        }
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut message = Some(Box::new(message));
        for step in 0..members.len() {
            let Some(payload) = message.take() else {
                break;
            };
            let control = &members[(start + step) % members.len()];
            match control.try_send(Control::SharedDelivery {
                filter: filter.to_owned(),
                message: payload,
            }) {
                Ok(()) => return true,
                Err(
                    mpsc::error::TrySendError::Full(Control::SharedDelivery {
                        message: back, ..
                    })
                    | mpsc::error::TrySendError::Closed(Control::SharedDelivery {
                        message: back,
                        ..
                    }),
                ) => message = Some(back),
                Err(_) => return false,
            }
        }
        false
    }
}
