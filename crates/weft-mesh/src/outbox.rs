//! Store-and-forward at the origin: per-destination bounded outboxes of durable events
//! that wait for the destination's acknowledgement.
//!
//! Every event published while a remote node has matching durable interest gets a
//! [`DurableTag`] for that node: a place in the origin's *stream* towards it (sequence
//! numbers from 1 without gaps). The entry stays in the destination's outbox until the
//! destination acknowledges the sequence (cumulatively), and is resent, in order, while
//! unacknowledged. Each outbox is bounded; the [`OverflowPolicy`] says what a full one
//! does, and is never silent.
//!
//! The outbox is the state the I/O layer persists: [`Outbox::snapshot`] gives a
//! serialisable [`OutboxSnapshot`], [`Outbox::restore`] takes one back.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weft_core::topic::Topic;

use crate::name::NodeName;
use crate::wire::{DurableTag, MeshEvent};

/// What a publish does when a destination's outbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OverflowPolicy {
    /// Refuse the publish (the publisher gets an error and may retry): nothing acked is
    /// ever lost. The default.
    #[default]
    RejectPublish,
    /// Drop the destination's oldest unacknowledged event to make room, and count it
    /// (`outbox_dropped`): the publisher is never blocked, the destination may miss
    /// events after a long outage.
    DropOldest,
}

/// A full outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store-and-forward outbox for node {destination} is full ({capacity} events)")]
pub struct OutboxFull {
    /// The destination whose outbox is full.
    pub destination: NodeName,
    /// The configured capacity.
    pub capacity: usize,
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The place in the stream towards the destination.
    pub sequence: u64,
    /// The origin incarnation of the event.
    pub origin_incarnation: u64,
    /// The origin sequence of the event.
    pub origin_sequence: u64,
    /// The topic, as text (validated again on restore).
    pub topic: String,
    /// The payload.
    pub payload: Bytes,
    /// When it was last sent (not persisted: a restored entry is due at once).
    #[serde(skip)]
    pub last_sent: Option<Instant>,
}

/// The outbox towards one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationOutbox {
    /// The stream id (the origin incarnation that opened it).
    pub stream: u64,
    /// The sequence the next event gets.
    pub next_sequence: u64,
    /// Unacknowledged events, oldest first.
    pub entries: VecDeque<OutboxEntry>,
}

/// The serialisable state of an [`Outbox`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutboxSnapshot {
    /// Per destination, by node name.
    pub destinations: BTreeMap<NodeName, DestinationOutbox>,
    /// Events dropped by [`OverflowPolicy::DropOldest`] so far.
    pub dropped: u64,
}

/// Every destination's outbox.
#[derive(Debug, Clone)]
pub struct Outbox {
    stream: u64,
    capacity: usize,
    policy: OverflowPolicy,
    state: OutboxSnapshot,
}

impl Outbox {
    /// Empty outboxes; new streams get id `stream` (the local incarnation).
    pub fn new(stream: u64, capacity: usize, policy: OverflowPolicy) -> Self {
        Self {
            stream,
            capacity: capacity.max(1),
            policy,
            state: OutboxSnapshot::default(),
        }
    }

    /// Checks that one more event fits for every destination under the policy.
    pub fn check_room<'a>(
        &self,
        destinations: impl IntoIterator<Item = &'a NodeName>,
    ) -> Result<(), OutboxFull> {
        if self.policy == OverflowPolicy::DropOldest {
            return Ok(());
        }
        for destination in destinations {
            let depth = self.depth(destination);
            if depth >= self.capacity {
                return Err(OutboxFull {
                    destination: destination.clone(),
                    capacity: self.capacity,
                });
            }
        }
        Ok(())
    }

    /// Stores `event` for `destination` and returns its tag. Under
    /// [`OverflowPolicy::DropOldest`] a full outbox loses its oldest entry first.
    pub fn push(&mut self, destination: &NodeName, event: &MeshEvent, now: Instant) -> DurableTag {
        let outbox = self
            .state
            .destinations
            .entry(destination.clone())
            .or_insert_with(|| DestinationOutbox {
                stream: self.stream,
                next_sequence: 1,
                entries: VecDeque::new(),
            });
        while outbox.entries.len() >= self.capacity {
            outbox.entries.pop_front();
            self.state.dropped += 1;
        }
        let sequence = outbox.next_sequence;
        outbox.next_sequence += 1;
        outbox.entries.push_back(OutboxEntry {
            sequence,
            origin_incarnation: event.incarnation,
            origin_sequence: event.sequence,
            topic: event.topic.as_str().to_owned(),
            payload: event.payload.clone(),
            last_sent: Some(now),
        });
        DurableTag {
            node: destination.clone(),
            stream: outbox.stream,
            sequence,
        }
    }

    /// Removes every entry of `destination`'s stream up to `up_to`. Returns how many.
    pub fn ack(&mut self, destination: &NodeName, stream: u64, up_to: u64) -> usize {
        let Some(outbox) = self.state.destinations.get_mut(destination) else {
            return 0;
        };
        if outbox.stream != stream {
            return 0;
        }
        let before = outbox.entries.len();
        while outbox
            .entries
            .front()
            .is_some_and(|entry| entry.sequence <= up_to)
        {
            outbox.entries.pop_front();
        }
        before - outbox.entries.len()
    }

    /// Makes every entry for `destination` due for sending at once.
    pub fn make_due(&mut self, destination: &NodeName) {
        if let Some(outbox) = self.state.destinations.get_mut(destination) {
            outbox
                .entries
                .iter_mut()
                .for_each(|entry| entry.last_sent = None);
        }
    }

    /// The first `limit` entries for `destination` (oldest first), if the oldest is due
    /// (not sent within `interval`); marks them sent at `now`. Resending a prefix keeps
    /// the destination's stream in order.
    pub fn take_due(
        &mut self,
        destination: &NodeName,
        now: Instant,
        interval: std::time::Duration,
        limit: usize,
    ) -> Vec<(DurableTag, OutboxEntry)> {
        let Some(outbox) = self.state.destinations.get_mut(destination) else {
            return Vec::new();
        };
        let due = |entry: &OutboxEntry| {
            entry
                .last_sent
                .is_none_or(|sent| now.saturating_duration_since(sent) >= interval)
        };
        if !outbox.entries.front().is_some_and(due) {
            return Vec::new();
        }
        let stream = outbox.stream;
        outbox
            .entries
            .iter_mut()
            .take(limit)
            .map(|entry| {
                entry.last_sent = Some(now);
                let tag = DurableTag {
                    node: destination.clone(),
                    stream,
                    sequence: entry.sequence,
                };
                (tag, entry.clone())
            })
            .collect()
    }

    /// Drops `destination`'s outbox (its durable interest expired). Returns how many
    /// events it held.
    pub fn discard(&mut self, destination: &NodeName) -> usize {
        self.state
            .destinations
            .remove(destination)
            .map_or(0, |outbox| outbox.entries.len())
    }

    /// The destinations with an outbox.
    pub fn destinations(&self) -> Vec<NodeName> {
        self.state.destinations.keys().cloned().collect()
    }

    /// Unacknowledged events for `destination`.
    pub fn depth(&self, destination: &NodeName) -> usize {
        self.state
            .destinations
            .get(destination)
            .map_or(0, |outbox| outbox.entries.len())
    }

    /// Unacknowledged events for all destinations.
    pub fn total_depth(&self) -> usize {
        self.state
            .destinations
            .values()
            .map(|outbox| outbox.entries.len())
            .sum()
    }

    /// Events dropped by [`OverflowPolicy::DropOldest`].
    pub fn dropped(&self) -> u64 {
        self.state.dropped
    }

    /// A copy of the state to persist.
    pub fn snapshot(&self) -> OutboxSnapshot {
        self.state.clone()
    }

    /// Replaces the state with a persisted one; every entry becomes due.
    pub fn restore(&mut self, snapshot: OutboxSnapshot) {
        self.state = snapshot;
        for outbox in self.state.destinations.values_mut() {
            outbox
                .entries
                .iter_mut()
                .for_each(|entry| entry.last_sent = None);
        }
    }
}

/// Rebuilds the event to resend from a stored entry.
pub(crate) fn resend_event(
    origin: &NodeName,
    tag: DurableTag,
    entry: OutboxEntry,
) -> Option<MeshEvent> {
    let topic = Topic::new(entry.topic).ok()?;
    Some(MeshEvent {
        origin: origin.clone(),
        incarnation: entry.origin_incarnation,
        sequence: entry.origin_sequence,
        topic,
        hops: 0,
        durable: vec![tag],
        groups: Vec::new(),
        payload: entry.payload,
    })
}
