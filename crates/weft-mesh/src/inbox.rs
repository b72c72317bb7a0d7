//! The receiving side of store-and-forward: per-origin stream positions, in-order
//! delivery with a bounded hold-back buffer, and cumulative acknowledgements.

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
    /// The cumulative ack to send: (stream, up to), if any.
    pub ack: Option<(u64, u64)>,
    /// Whether the event was a duplicate.
    pub duplicate: bool,
}

#[derive(Debug, Clone)]
struct StreamState {
    position: StreamPosition,
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
        if state.position.next > 1 {
            received.ack = Some((state.position.stream, state.position.next - 1));
        }
        received
    }

    /// The positions to persist.
    pub fn snapshot(&self) -> BTreeMap<NodeName, StreamPosition> {
        self.streams
            .iter()
            .map(|(origin, state)| (origin.clone(), state.position.clone()))
            .collect()
    }

    /// Restores persisted positions.
    pub fn restore(&mut self, positions: BTreeMap<NodeName, StreamPosition>) {
        self.streams = positions
            .into_iter()
            .map(|(origin, position)| {
                let held = BTreeMap::new();
                (origin, StreamState { position, held })
            })
            .collect();
    }
}
