//! The session registry (client id → the task that owns the session) and the members of
//! each shared-subscription group.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, oneshot};

use super::subscriptions::BrokerSubscriptions;
use crate::session::{Message, SessionState};

/// How many shared-subscription deliveries a session task may have waiting (a takeover
/// request is always taken).
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

/// A session task's inbox: a bounded queue and a wake-up, far smaller than a tokio
/// channel (every connection has one, and it is almost never used).
#[derive(Default)]
struct Mailbox {
    /// The waiting requests, and whether the task is gone (then nothing is taken).
    queue: Mutex<(VecDeque<Control>, bool)>,
    notify: Notify,
}

/// Sends requests to one session task. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ControlSender(Arc<Mailbox>);

/// The session task's end of its inbox; closes it when dropped.
pub(crate) struct ControlReceiver(Arc<Mailbox>);

/// A new inbox.
pub(crate) fn control_channel() -> (ControlSender, ControlReceiver) {
    let mailbox = Arc::new(Mailbox::default());
    (
        ControlSender(Arc::clone(&mailbox)),
        ControlReceiver(mailbox),
    )
}

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<Control>, bool)> {
        self.queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl ControlSender {
    /// Queues `control` unless the task is gone or (`bounded`) its inbox is full;
    /// gives it back otherwise.
    fn push(&self, control: Control, bounded: bool) -> Result<(), Control> {
        {
            let mut queue = self.0.lock();
            let (waiting, closed) = &mut *queue;
            if *closed || (bounded && waiting.len() >= CONTROL_CAPACITY) {
                return Err(control);
            }
            waiting.push_back(control);
        }
        self.0.notify.notify_one();
        Ok(())
    }

    /// Asks the task to hand its session over; false when the task is gone.
    pub(crate) fn take_over(&self, clean_start: bool, reply: oneshot::Sender<Handover>) -> bool {
        self.push(Control::TakeOver { clean_start, reply }, false)
            .is_ok()
    }

    /// Offers a shared-subscription message; gives it back when the task is gone or
    /// its inbox is full.
    pub(crate) fn try_deliver_shared(
        &self,
        filter: &str,
        message: Box<Message>,
    ) -> Result<(), Box<Message>> {
        let control = Control::SharedDelivery {
            filter: filter.to_owned(),
            message,
        };
        match self.push(control, true) {
            Ok(()) => Ok(()),
            Err(Control::SharedDelivery { message, .. }) => Err(message),
            // `push` gives back what it was given.
            Err(Control::TakeOver { .. }) => Ok(()),
        }
    }
}

impl ControlReceiver {
    /// The next request, waiting for one. Cancel-safe.
    pub(crate) async fn recv(&self) -> Control {
        loop {
            let notified = self.0.notify.notified();
            if let Some(control) = self.0.lock().0.pop_front() {
                return control;
            }
            notified.await;
        }
    }
}

impl Drop for ControlReceiver {
    fn drop(&mut self) {
        // Whoever waits for an answer (a takeover's reply) learns the task is gone.
        let waiting = {
            let mut queue = self.0.lock();
            queue.1 = true;
            std::mem::take(&mut queue.0)
        };
        drop(waiting);
    }
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
    control: ControlSender,
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
        control: ControlSender,
    ) -> Option<ControlSender> {
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
type Members = Vec<(u64, ControlSender)>;

/// Shared-subscription messages held for a group none of whose members is connected
/// (in memory: lost on a node restart), at most this many per group; beyond it the
/// oldest is dropped (and counted).
pub(crate) const HELD_PER_GROUP: usize = 1000;

/// One share group: its connected members and the messages held for the next one.
#[derive(Default)]
struct Group {
    members: Members,
    /// `(filter as written, message)`, oldest first.
    held: VecDeque<(String, Message)>,
}

/// What [`ShareGroups::hand_over`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandedOver {
    /// Another connected member took it.
    Delivered,
    /// Kept for the next member to join.
    Held,
    /// Kept, and the group's oldest held message was dropped to make room.
    HeldDroppingOldest,
}

/// The connected members of each share group, for [`Control::SharedDelivery`], and
/// the messages held for groups without one.
#[derive(Default)]
pub(crate) struct ShareGroups {
    groups: Mutex<HashMap<String, Group>>,
    turn: AtomicUsize,
    /// Messages held now, over every group (a gauge).
    held: AtomicU64,
}

impl ShareGroups {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.groups
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds member `id` to `key`; returns the messages held for the group, which the
    /// new member must deliver.
    pub(crate) fn join(
        &self,
        key: &str,
        id: u64,
        control: ControlSender,
    ) -> Vec<(String, Message)> {
        let mut groups = self.lock();
        let group = groups.entry(key.to_owned()).or_default();
        if !group.members.iter().any(|(member, _)| *member == id) {
            group.members.push((id, control));
        }
        let held: Vec<_> = group.held.drain(..).collect();
        self.held.fetch_sub(held.len() as u64, Ordering::Relaxed);
        held
    }

    /// Removes member `id` from `key`.
    pub(crate) fn leave(&self, key: &str, id: u64) {
        let mut groups = self.lock();
        if let Some(group) = groups.get_mut(key) {
            group.members.retain(|(member, _)| *member != id);
            if group.members.is_empty() && group.held.is_empty() {
                groups.remove(key);
            }
        }
    }

    /// Messages held now, over every group.
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Gives `message` to one connected member of `key` other than `exclude`, in turn;
    /// when none can take it, holds it for the next member that joins (under the same
    /// lock as [`Self::join`], so a joining member never misses it).
    pub(crate) fn hand_over(
        &self,
        key: &str,
        exclude: u64,
        filter: &str,
        message: Message,
    ) -> HandedOver {
        let mut groups = self.lock();
        let group = groups.entry(key.to_owned()).or_default();
        let mut message = Box::new(message);
        let members: Vec<&ControlSender> = group
            .members
            .iter()
            .filter(|(id, _)| *id != exclude)
            .map(|(_, control)| control)
            .collect();
        if !members.is_empty() {
            let start = self.turn.fetch_add(1, Ordering::Relaxed);
            for step in 0..members.len() {
                let control = members[(start + step) % members.len()];
                match control.try_deliver_shared(filter, message) {
                    Ok(()) => return HandedOver::Delivered,
                    Err(back) => message = back,
                }
            }
        }
        let mut outcome = HandedOver::Held;
        if group.held.len() >= HELD_PER_GROUP {
            group.held.pop_front();
            outcome = HandedOver::HeldDroppingOldest;
        } else {
            self.held.fetch_add(1, Ordering::Relaxed);
        }
        group.held.push_back((filter.to_owned(), *message));
        outcome
    }
}
