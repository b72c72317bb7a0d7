//! The receiving side of store-and-forward: per-origin stream positions, in-order
//! delivery with a bounded hold-back buffer, cumulative acknowledgements, and the
//! per-origin high-water mark that recognises an event stored before, however late and
//! under whatever stream it comes again.
//!
//! Delivering is not storing, and storing is not remembering: an event handed to the
//! I/O layer is marked stored when the I/O layer says so ([`Inbox::stored`]; a failure,
//! [`Inbox::failed`], rewinds the position so the origin's retransmission delivers it
//! again), and it is acknowledged to its origin only once the position that includes it
//! is persisted ([`Inbox::persisted`]). So the origin drops an event only when a
//! restarted receiver is sure to expect the one after it: a restart never leaves a gap
//! (which would stall the stream).
//!
//! **The high-water mark.** The origin's stream towards this node is renumbered when
//! the origin restarts (its waiting events move to a new stream, numbered from 1), so
//! the stream position alone cannot tell an event stored in the origin's previous life
//! from a new one. Every event also carries its identity at the origin, (incarnation,
//! sequence) ([`EventId`]), which a restart keeps, and the events of one origin's
//! stream towards one destination are in increasing identity order, across restarts
//! too (a restored outbox keeps its order and a new life's incarnation is larger). The
//! inbox delivers in stream order, so the events of one origin it stored have
//! increasing identities: it keeps the newest ([`StreamPosition::last_stored`]),
//! persisted with the position before anything it covers is acknowledged, and an event
//! at or below it is one stored before: it is passed over (counted, not delivered) and
//! acknowledged like a stored one. No time window is involved.
//!
//! An origin that lost its data directory starts again with a new (larger) incarnation,
//! so its events are all above the mark: nothing new is mistaken for a repeat. What the
//! mark cannot cover is this node's own crash between storing an event and persisting
//! the position after it (at most one tick; a node that stops cleanly persists first):
//! such an event is delivered again after the restart, and the receiving streams drop
//! it by `source` + `id` within their dedupe window.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::name::NodeName;
use crate::wire::{DurableTag, MeshEvent};

/// An event's identity at its origin: the origin's incarnation when it was published and
/// its sequence in that incarnation. Ordered by incarnation, then sequence: the order the
/// origin published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    /// The origin's incarnation.
    pub incarnation: u64,
    /// The origin's sequence number in that incarnation.
    pub sequence: u64,
}

impl EventId {
    /// The identity of `event`.
    pub fn of(event: &MeshEvent) -> Self {
        Self {
            incarnation: event.incarnation,
            sequence: event.sequence,
        }
    }
}

/// Where the receiver stands in one origin's stream: what `inbox.json` keeps per origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The origin's stream id.
    pub stream: u64,
    /// The next sequence to deliver.
    pub next: u64,
    /// The newest event of this origin stored here, in any stream (the high-water mark).
    /// `None` when nothing was stored yet, and in files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_stored: Option<EventId>,
}

/// What receiving a durable event did.
#[derive(Debug, Default)]
pub struct Received {
    /// Events now deliverable, in stream order.
    pub deliver: Vec<MeshEvent>,
    /// The cumulative ack to send again (a repeat arrived): (stream, stored up to).
    pub ack: Option<(u64, u64)>,
    /// Whether the event was a duplicate in its stream.
    pub duplicate: bool,
    /// Events of the stream passed over because they were stored before (at or below the
    /// high-water mark).
    pub already_stored: u64,
}

/// An event passed on in stream order and not yet confirmed stored.
#[derive(Debug, Clone, Copy)]
struct Pending {
    sequence: u64,
    id: EventId,
    /// Delivered to the I/O layer (waits for `stored`), or passed over as stored
    /// before (counts as stored once everything before it is).
    delivered: bool,
}

#[derive(Debug, Clone)]
struct StreamState {
    /// The origin's stream.
    stream: u64,
    /// The next sequence to pass on.
    next: u64,
    /// The highest sequence confirmed stored, every one before it too (0: none).
    stored: u64,
    /// The highest sequence acknowledged to the origin (persisted first).
    acked: u64,
    /// Out-of-order events waiting for the ones before them.
    held: BTreeMap<u64, MeshEvent>,
    /// The sequences after `stored` and before `next`, oldest first (a run of passed
    /// over ones is kept as its last).
    pending: VecDeque<Pending>,
    /// The newest event confirmed stored (the high-water mark, persisted).
    last_stored: Option<EventId>,
    /// The newest event delivered, stored or not yet (`last_stored` or above).
    last_delivered: Option<EventId>,
}

impl StreamState {
    fn new(stream: u64) -> Self {
        Self {
            stream,
            next: 1,
            stored: 0,
            acked: 0,
            held: BTreeMap::new(),
            pending: VecDeque::new(),
            last_stored: None,
            last_delivered: None,
        }
    }

    /// Starts the origin's newer `stream`, keeping the high-water mark.
    fn switch_to(&mut self, stream: u64) {
        self.stream = stream;
        self.next = 1;
        self.stored = 0;
        self.acked = 0;
        self.held.clear();
        self.pending.clear();
    }

    /// Passes `event` (the next in the stream) on: delivered, or passed over when it is
    /// at or below the newest event delivered. Returns whether it was delivered.
    fn pass(&mut self, event: &MeshEvent) -> bool {
        let id = EventId::of(event);
        let delivered = self.last_delivered.is_none_or(|newest| id > newest);
        let pending = Pending {
            sequence: self.next,
            id,
            delivered,
        };
        self.next += 1;
        if delivered {
            self.last_delivered = Some(id);
            self.pending.push_back(pending);
            return true;
        }
        match self.pending.back_mut() {
            Some(last) if !last.delivered => *last = pending,
            _ => self.pending.push_back(pending),
        }
        self.settle();
        false
    }

    /// Moves `stored` over every passed-over event at the front of `pending`.
    fn settle(&mut self) {
        while let Some(front) = self.pending.front().filter(|front| !front.delivered) {
            self.stored = front.sequence;
            self.last_stored = self.last_stored.max(Some(front.id));
            self.pending.pop_front();
        }
    }
}

/// Durable streams received from every origin.
#[derive(Debug, Clone)]
pub struct Inbox {
    hold_capacity: usize,
    streams: BTreeMap<NodeName, StreamState>,
    /// Grows whenever a position to persist moved.
    version: u64,
}

impl Inbox {
    /// An empty inbox holding back at most `hold_capacity` out-of-order events per origin.
    pub fn new(hold_capacity: usize) -> Self {
        Self {
            hold_capacity,
            streams: BTreeMap::new(),
            version: 0,
        }
    }

    /// Grows whenever [`snapshot`](Self::snapshot) changed (an event stored, or passed
    /// over as stored before): the I/O layer persists the positions when it moved.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Takes in a durable event tagged for this node.
    pub fn receive(&mut self, tag: &DurableTag, event: MeshEvent) -> Received {
        let state = self
            .streams
            .entry(event.origin.clone())
            .or_insert_with(|| StreamState::new(tag.stream));
        if tag.stream < state.stream {
            // A stream the origin has abandoned: its events were renumbered or lost.
            return Received {
                duplicate: true,
                ..Received::default()
            };
        }
        if tag.stream > state.stream {
            if !state.pending.is_empty() {
                // Events of the current stream are still being stored: the newer one
                // starts once they are (or failed), so that the high-water mark covers
                // them. This copy is dropped; the origin sends it again.
                return Received::default();
            }
            state.switch_to(tag.stream);
        }
        let mut received = Received::default();
        let stored = state.stored;
        if tag.sequence < state.next || state.held.contains_key(&tag.sequence) {
            received.duplicate = true;
        } else if tag.sequence == state.next {
            let mut next = Some(event);
            while let Some(event) = next {
                if state.pass(&event) {
                    received.deliver.push(event);
                } else {
                    received.already_stored += 1;
                }
                next = state.held.remove(&state.next);
            }
        } else if state.held.len() < self.hold_capacity {
            state.held.insert(tag.sequence, event);
        }
        if received.duplicate && state.acked > 0 {
            received.ack = Some((state.stream, state.acked));
        }
        if state.stored != stored {
            self.version += 1;
        }
        received
    }

    /// The I/O layer stored `origin`'s event `sequence` of `stream` (in delivery order).
    pub fn stored(&mut self, origin: &NodeName, stream: u64, sequence: u64) {
        let Some(state) = self.streams.get_mut(origin) else {
            return;
        };
        if state.stream != stream {
            return;
        }
        let before = state.stored;
        while let Some(front) = state
            .pending
            .front()
            .filter(|front| front.sequence <= sequence)
        {
            state.stored = front.sequence;
            state.last_stored = state.last_stored.max(Some(front.id));
            state.pending.pop_front();
        }
        state.settle();
        if state.stored != before {
            self.version += 1;
        }
    }

    /// `positions` (an earlier [`snapshot`](Self::snapshot)) are persisted: returns the
    /// cumulative acks that may now be sent, as (origin, stream, up to).
    pub fn persisted(
        &mut self,
        positions: &BTreeMap<NodeName, StreamPosition>,
    ) -> Vec<(NodeName, u64, u64)> {
        let mut acks = Vec::new();
        for (origin, position) in positions {
            let Some(state) = self.streams.get_mut(origin) else {
                continue;
            };
            let up_to = position.next.saturating_sub(1);
            if state.stream == position.stream && up_to > state.acked {
                state.acked = up_to;
                acks.push((origin.clone(), position.stream, up_to));
            }
        }
        acks
    }

    /// The I/O layer could not store `origin`'s event `sequence` of `stream`: rewind to
    /// it, so that the origin's retransmission delivers it (and what followed) again.
    pub fn failed(&mut self, origin: &NodeName, stream: u64, sequence: u64) {
        let Some(state) = self.streams.get_mut(origin) else {
            return;
        };
        if state.stream != stream || sequence >= state.next {
            return;
        }
        state.next = sequence.max(state.stored + 1);
        let next = state.next;
        while state
            .pending
            .back()
            .is_some_and(|last| last.sequence >= next)
        {
            state.pending.pop_back();
        }
        state.held.clear();
        // The newest event delivered is now the newest one left (passed-over ones are
        // below it by definition).
        state.last_delivered = state
            .pending
            .iter()
            .rev()
            .find(|pending| pending.delivered)
            .map(|pending| pending.id)
            .max(state.last_stored);
    }

    /// The positions to persist: the next sequence after the last one stored, and the
    /// newest event stored.
    pub fn snapshot(&self) -> BTreeMap<NodeName, StreamPosition> {
        self.streams
            .iter()
            .map(|(origin, state)| {
                let position = StreamPosition {
                    stream: state.stream,
                    next: state.stored + 1,
                    last_stored: state.last_stored,
                };
                (origin.clone(), position)
            })
            .collect()
    }

    /// Restores persisted positions.
    pub fn restore(&mut self, positions: BTreeMap<NodeName, StreamPosition>) {
        self.streams = positions
            .into_iter()
            .map(|(origin, position)| {
                let stored = position.next.saturating_sub(1);
                let state = StreamState {
                    stream: position.stream,
                    next: position.next.max(1),
                    stored,
                    acked: stored,
                    held: BTreeMap::new(),
                    pending: VecDeque::new(),
                    last_stored: position.last_stored,
                    last_delivered: position.last_stored,
                };
                (origin, state)
            })
            .collect();
        self.version += 1;
    }
}

#[cfg(test)]
mod tests;
