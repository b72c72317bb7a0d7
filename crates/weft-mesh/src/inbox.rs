//! The receiving side of store-and-forward: per-origin stream positions, in-order
//! delivery with a bounded hold-back buffer, and cumulative acknowledgements.
//!
//! Delivering is not storing, and storing is not remembering: an event handed to the
//! I/O layer is marked stored when the I/O layer says so ([`Inbox::stored`]; a failure,
//! [`Inbox::failed`], rewinds the position so the origin's retransmission delivers it
//! again), and it is acknowledged to its origin only once the position that includes it
//! is persisted ([`Inbox::persisted`]). So the origin drops an event only when a
//! restarted receiver is sure to expect the one after it: a restart never leaves a gap
//! (which would stall the stream), and what was stored but not yet remembered arrives
//! again (the receiver's streams drop it by `source` + `id`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::name::NodeName;
use crate::wire::{DurableTag, MeshEvent};

/// Where the receiver stands in one origin's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The origin's stream id.
    pub stream: u64,
    /// The next sequence to deliver.
    pub next: u64,
}

/// What receiving a durable event did.
#[derive(Debug, Default)]
pub struct Received {
    /// Events now deliverable, in stream order.
    pub deliver: Vec<MeshEvent>,
    /// The cumulative ack to send again (a repeat arrived): (stream, stored up to).
    pub ack: Option<(u64, u64)>,
    /// Whether the event was a duplicate.
    pub duplicate: bool,
}

#[derive(Debug, Clone)]
struct StreamState {
    /// The next sequence to deliver.
    position: StreamPosition,
    /// The highest sequence confirmed stored (0: none).
    stored: u64,
    /// The highest sequence acknowledged to the origin (persisted first).
    acked: u64,
    held: BTreeMap<u64, MeshEvent>,
}

/// Durable streams received from every origin.
#[derive(Debug, Clone)]
pub struct Inbox {
    hold_capacity: usize,
    streams: BTreeMap<NodeName, StreamState>,
}

impl Inbox {
    /// An empty inbox holding back at most `hold_capacity` out-of-order events per origin.
    pub fn new(hold_capacity: usize) -> Self {
        Self {
            hold_capacity,
            streams: BTreeMap::new(),
        }
    }

    /// Takes in a durable event tagged for this node.
    pub fn receive(&mut self, tag: &DurableTag, event: MeshEvent) -> Received {
        let state = self
            .streams
            .entry(event.origin.clone())
            .or_insert_with(|| StreamState {
                position: StreamPosition {
                    stream: tag.stream,
                    next: 1,
                },
                stored: 0,
                acked: 0,
                held: BTreeMap::new(),
            });
        if tag.stream < state.position.stream {
            // A stream the origin has abandoned: its events were re-tagged or lost.
            return Received {
                duplicate: true,
                ..Received::default()
            };
        }
        if tag.stream > state.position.stream {
            state.position = StreamPosition {
                stream: tag.stream,
                next: 1,
            };
            state.stored = 0;
            state.acked = 0;
            state.held.clear();
        }
        let mut received = Received::default();
        if tag.sequence < state.position.next || state.held.contains_key(&tag.sequence) {
            received.duplicate = true;
        } else if tag.sequence == state.position.next {
            received.deliver.push(event);
            state.position.next += 1;
            while let Some(next) = state.held.remove(&state.position.next) {
                received.deliver.push(next);
                state.position.next += 1;
            }
        } else if state.held.len() < self.hold_capacity {
            state.held.insert(tag.sequence, event);
        }
        if received.duplicate && state.acked > 0 {
            received.ack = Some((state.position.stream, state.acked));
        }
        received
    }

    /// The I/O layer stored `origin`'s event `sequence` of `stream` (in delivery order).
    pub fn stored(&mut self, origin: &NodeName, stream: u64, sequence: u64) {
        if let Some(state) = self.streams.get_mut(origin)
            && state.position.stream == stream
            && sequence > state.stored
        {
            state.stored = sequence.min(state.position.next.saturating_sub(1));
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
            if state.position.stream == position.stream && up_to > state.acked {
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
        if state.position.stream == stream && sequence < state.position.next {
            state.position.next = sequence.max(state.stored + 1);
            state.held.clear();
        }
    }

    /// The positions to persist: the next sequence after the last one stored.
    pub fn snapshot(&self) -> BTreeMap<NodeName, StreamPosition> {
        self.streams
            .iter()
            .map(|(origin, state)| {
                let position = StreamPosition {
                    stream: state.position.stream,
                    next: state.stored + 1,
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
                let held = BTreeMap::new();
                let stored = position.next.saturating_sub(1);
                (
                    origin,
                    StreamState {
                        position,
                        stored,
                        acked: stored,
                        held,
                    },
                )
            })
            .collect();
    }
}
