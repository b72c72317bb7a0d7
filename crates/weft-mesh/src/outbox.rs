//! Store-and-forward at the origin: per-destination bounded outboxes of durable events
//! that wait for the destination's acknowledgement.
//!
//! Every event published while a remote node has matching durable interest gets a
//! [`DurableTag`] for that node: a place in the origin's *stream* towards it (sequence
//! numbers from 1 without gaps). The entry stays in the destination's outbox until the
//! destination acknowledges the sequence (cumulatively), and is resent, in order, while
//! unacknowledged. Each outbox is bounded (events and bytes); a full one refuses the
//! publish ([`OutboxFull`]), never drops silently.
//!
//! The outbox is the state the I/O layer persists: every change is journalled as an
//! [`OutboxChange`] ([`Outbox::take_changes`]) for an append-only file, and
//! [`Outbox::snapshot`] / [`Outbox::restore`] give and take the whole state.
//!
//! **Streams.** A destination's stream id only ever grows, so that its receiver, which
//! follows the newest stream it has seen, never takes a new stream for an abandoned one:
//! a stream opened by this life is this life's incarnation, or one more than the last
//! stream this life used towards the destination (after its outbox was discarded, or
//! renumbered). Entries keep their identity at the origin, (incarnation, sequence),
//! through every renumbering: that is what the receiver recognises an event stored
//! before by ([`crate::inbox`]). An outbox is renumbered into a new stream, from 1, when
//! this node restarts ([`Outbox::restore`]) and when the destination comes back with a
//! new incarnation ([`Outbox::destination_incarnation`]): a destination that lost its
//! data directory has no position in the old stream and would otherwise wait forever
//! for its acknowledged beginning.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weft_core::topic::Topic;

use crate::name::NodeName;
use crate::wire::{DurableTag, MeshEvent};

/// What a publish does when a destination's outbox is full. There is one policy on
/// purpose: dropping the oldest entry would leave a gap in the destination's stream (the
/// receiver delivers in order and would wait for it forever), so a full outbox refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OverflowPolicy {
    /// Refuse the publish (the publisher gets an error and may retry): nothing acked is
    /// ever lost, and nothing is dropped silently. The default and only policy.
    #[default]
    RejectPublish,
}

/// A full outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "store-and-forward outbox for node {destination} is full ({events} events, {bytes} bytes; limits {max_events} events, {max_bytes} bytes)"
)]
pub struct OutboxFull {
    /// The destination whose outbox is full.
    pub destination: NodeName,
    /// Events waiting for it.
    pub events: usize,
    /// Payload bytes waiting for it.
    pub bytes: u64,
    /// The configured event limit.
    pub max_events: usize,
    /// The configured byte limit.
    pub max_bytes: u64,
}

/// A change to the outbox, in order, for the I/O layer to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxChange {
    /// `entry` was stored for `destination` in `stream`.
    Stored {
        /// The destination.
        destination: NodeName,
        /// Its stream id.
        stream: u64,
        /// The entry.
        entry: OutboxEntry,
    },
    /// Entries of `destination` up to `up_to` were acknowledged.
    Acked {
        /// The destination.
        destination: NodeName,
        /// Its stream id.
        stream: u64,
        /// The cumulative sequence.
        up_to: u64,
    },
    /// `destination`'s outbox was dropped (its durable interest expired).
    Discarded {
        /// The destination.
        destination: NodeName,
    },
    /// `destination`'s waiting entries moved, in order, to a new `stream`, numbered
    /// from 1 to `up_to` (the destination restarted); its file is to be rewritten.
    Renumbered {
        /// The destination.
        destination: NodeName,
        /// The new stream id.
        stream: u64,
        /// The entries moved: sequences 1 to `up_to` of `stream`.
        up_to: u64,
    },
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
    /// Payload bytes of `entries`.
    #[serde(default)]
    pub bytes: u64,
}

/// The serialisable state of an [`Outbox`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutboxSnapshot {
    /// Per destination, by node name.
    pub destinations: BTreeMap<NodeName, DestinationOutbox>,
    /// Events dropped because their destination's durable interest expired.
    pub dropped: u64,
}

/// Every destination's outbox.
#[derive(Debug, Clone)]
pub struct Outbox {
    stream: u64,
    capacity: usize,
    max_bytes: u64,
    state: OutboxSnapshot,
    /// The last stream this life opened towards each destination (kept after a discard).
    last_stream: BTreeMap<NodeName, u64>,
    /// The incarnation each destination was last heard of with (this life).
    receivers: BTreeMap<NodeName, u64>,
    /// Changes since the I/O layer last took them.
    changes: Vec<OutboxChange>,
}

impl Outbox {
    /// Empty outboxes; new streams get id `stream` (the local incarnation). Each
    /// destination holds at most `capacity` events and `max_bytes` payload bytes.
    pub fn new(stream: u64, capacity: usize, max_bytes: u64) -> Self {
        Self {
            stream,
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            state: OutboxSnapshot::default(),
            last_stream: BTreeMap::new(),
            receivers: BTreeMap::new(),
            changes: Vec::new(),
        }
    }

    /// The highest stream id this life has opened towards any destination (at least the
    /// id new streams start with): a later life must start above it.
    pub fn highest_stream(&self) -> u64 {
        self.last_stream
            .values()
            .copied()
            .fold(self.stream, u64::max)
    }

    /// A stream id for `destination` above every one this life used towards it.
    fn open_stream(&mut self, destination: &NodeName) -> u64 {
        let stream = match self.last_stream.get(destination) {
            Some(&last) => self.stream.max(last + 1),
            None => self.stream,
        };
        self.last_stream.insert(destination.clone(), stream);
        stream
    }

    /// `destination` is known (from its advertisement) with `incarnation`. When that is a
    /// new one, its outbox moves to a new stream, numbered from 1 and due at once: a
    /// destination that kept its positions passes over what it stored before, one that
    /// lost them starts the new stream from its beginning. Returns whether it moved.
    pub fn destination_incarnation(&mut self, destination: &NodeName, incarnation: u64) -> bool {
        let previous = self.receivers.insert(destination.clone(), incarnation);
        if previous.is_none_or(|previous| previous == incarnation)
            || !self.state.destinations.contains_key(destination)
        {
            return false;
        }
        let stream = self.open_stream(destination);
        let Some(outbox) = self.state.destinations.get_mut(destination) else {
            return false;
        };
        renumber(outbox, stream);
        self.changes.push(OutboxChange::Renumbered {
            destination: destination.clone(),
            stream,
            up_to: outbox.next_sequence.saturating_sub(1),
        });
        true
    }

    /// The destinations whose outbox is at its event or byte limit.
    pub fn full_destinations(&self) -> Vec<NodeName> {
        self.state
            .destinations
            .iter()
            .filter(|(_, outbox)| {
                outbox.entries.len() >= self.capacity || outbox.bytes >= self.max_bytes
            })
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// Checks that an event of `size` payload bytes fits for every destination.
    pub fn check_room<'a>(
        &self,
        destinations: impl IntoIterator<Item = &'a NodeName>,
        size: usize,
    ) -> Result<(), OutboxFull> {
        for destination in destinations {
            let (events, bytes) = self
                .state
                .destinations
                .get(destination)
                .map_or((0, 0), |outbox| (outbox.entries.len(), outbox.bytes));
            let over_bytes = events > 0 && bytes + size as u64 > self.max_bytes;
            if events >= self.capacity || over_bytes {
                return Err(OutboxFull {
                    destination: destination.clone(),
                    events,
                    bytes,
                    max_events: self.capacity,
                    max_bytes: self.max_bytes,
                });
            }
        }
        Ok(())
    }

    /// Stores `event` for `destination` and returns its tag (call
    /// [`check_room`](Self::check_room) first: this never drops anything).
    pub fn push(&mut self, destination: &NodeName, event: &MeshEvent, now: Instant) -> DurableTag {
        let opened = (!self.state.destinations.contains_key(destination))
            .then(|| self.open_stream(destination));
        let outbox = self
            .state
            .destinations
            .entry(destination.clone())
            .or_insert_with(|| DestinationOutbox {
                stream: opened.unwrap_or_default(),
                next_sequence: 1,
                entries: VecDeque::new(),
                bytes: 0,
            });
        let sequence = outbox.next_sequence;
        outbox.next_sequence += 1;
        let entry = OutboxEntry {
            sequence,
            origin_incarnation: event.incarnation,
            origin_sequence: event.sequence,
            topic: event.topic.as_str().to_owned(),
            payload: event.payload.clone(),
            last_sent: Some(now),
        };
        outbox.bytes += entry.payload.len() as u64;
        outbox.entries.push_back(entry.clone());
        self.changes.push(OutboxChange::Stored {
            destination: destination.clone(),
            stream: outbox.stream,
            entry,
        });
        DurableTag {
            node: destination.clone(),
            stream: outbox.stream,
            sequence,
        }
    }

    /// The changes since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<OutboxChange> {
        std::mem::take(&mut self.changes)
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
            if let Some(entry) = outbox.entries.pop_front() {
                outbox.bytes = outbox.bytes.saturating_sub(entry.payload.len() as u64);
            }
        }
        let removed = before - outbox.entries.len();
        if removed > 0 {
            self.changes.push(OutboxChange::Acked {
                destination: destination.clone(),
                stream,
                up_to,
            });
        }
        removed
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
        let Some(outbox) = self.state.destinations.remove(destination) else {
            return 0;
        };
        self.changes.push(OutboxChange::Discarded {
            destination: destination.clone(),
        });
        self.state.dropped += outbox.entries.len() as u64;
        outbox.entries.len()
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

    /// Payload bytes waiting for all destinations.
    pub fn total_bytes(&self) -> u64 {
        self.state
            .destinations
            .values()
            .map(|outbox| outbox.bytes)
            .sum()
    }

    /// Events dropped because their destination's durable interest expired.
    pub fn dropped(&self) -> u64 {
        self.state.dropped
    }

    /// A copy of the state to persist.
    pub fn snapshot(&self) -> OutboxSnapshot {
        self.state.clone()
    }

    /// Replaces the state with a persisted one (from an earlier life of this node).
    /// Every destination's entries move, in order, to a new stream (this life's id,
    /// numbered from 1) and become due: the destination resets its position when it sees
    /// the newer stream, so nothing the old life sent (persisted or not) can collide with
    /// a sequence number of this life. Each entry keeps its identity at the origin, so
    /// the destination passes over those it had already stored (however late they come)
    /// and acknowledges them. The I/O layer rewrites its files from
    /// [`snapshot`](Self::snapshot) after this.
    pub fn restore(&mut self, snapshot: OutboxSnapshot) {
        self.state = snapshot;
        self.last_stream.clear();
        for (destination, outbox) in &mut self.state.destinations {
            renumber(outbox, self.stream);
            self.last_stream.insert(destination.clone(), self.stream);
        }
        self.changes.clear();
    }
}

/// Moves `outbox`'s entries, in order, to `stream`, numbered from 1, due at once.
fn renumber(outbox: &mut DestinationOutbox, stream: u64) {
    outbox.stream = stream;
    outbox.bytes = 0;
    for (index, entry) in outbox.entries.iter_mut().enumerate() {
        entry.sequence = index as u64 + 1;
        entry.last_sent = None;
        outbox.bytes += entry.payload.len() as u64;
    }
    outbox.next_sequence = outbox.entries.len() as u64 + 1;
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
