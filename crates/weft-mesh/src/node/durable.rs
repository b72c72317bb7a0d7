//! Store-and-forward: durable receipt, acknowledgements, retransmission.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{DurableReceipt, MeshNode};
use crate::inbox::StreamPosition;
use crate::name::{LinkId, NodeName};
use crate::outbox::resend_event;
use crate::wire::{Ack, DurableTag, Events, MeshEvent, Message, Route};

impl MeshNode {
    /// A durable event for this node arrived (by tree or unicast): deliver in stream
    /// order, once; it is acknowledged once the I/O layer stored it
    /// ([`durable_stored`](Self::durable_stored)) and persisted the position after it
    /// ([`acknowledge_persisted`](Self::acknowledge_persisted)). A repeat re-sends the
    /// last ack. An event this node stored before (at or below the origin's high-water
    /// mark, see [`crate::inbox`]) is not delivered: it counts as stored, and is
    /// acknowledged once the position after it is persisted.
    pub(super) fn receive_durable(&mut self, _now: Instant, tag: &DurableTag, event: MeshEvent) {
        let origin = event.origin.clone();
        let received = self.inbox.receive(tag, event);
        if received.duplicate {
            self.stats.duplicates_dropped += 1;
        }
        self.stats.durable_already_stored += received.already_stored;
        let me = self.config.node.clone();
        for event in received.deliver {
            let sequence = event.durable_tag(&me).map_or(0, |tag| tag.sequence);
            let receipt = DurableReceipt {
                origin: origin.clone(),
                stream: tag.stream,
                sequence,
            };
            self.deliver(event, Some(receipt));
        }
        if let Some((stream, up_to)) = received.ack {
            self.send_ack(&origin, stream, up_to);
        }
    }

    /// The I/O layer stored the durable event of `receipt` (call in delivery order).
    /// [`inbox_snapshot`](Self::inbox_snapshot) now includes it.
    pub fn durable_stored(&mut self, receipt: &DurableReceipt) {
        self.inbox
            .stored(&receipt.origin, receipt.stream, receipt.sequence);
    }

    /// The I/O layer persisted `positions` (an earlier
    /// [`inbox_snapshot`](Self::inbox_snapshot)): acknowledges, cumulatively, what they
    /// cover to each origin, which then forgets those events.
    pub fn acknowledge_persisted(&mut self, positions: &BTreeMap<NodeName, StreamPosition>) {
        for (origin, stream, up_to) in self.inbox.persisted(positions) {
            self.send_ack(&origin, stream, up_to);
        }
    }

    /// The I/O layer could not store the durable event of `receipt`: it (and what was
    /// delivered after it) will be delivered again when the origin resends it.
    pub fn durable_failed(&mut self, receipt: &DurableReceipt) {
        self.inbox
            .failed(&receipt.origin, receipt.stream, receipt.sequence);
    }

    fn send_ack(&mut self, origin: &NodeName, stream: u64, up_to: u64) {
        let ack = Ack {
            origin: origin.clone(),
            acker: self.config.node.clone(),
            stream,
            up_to_sequence: up_to,
        };
        self.send_towards(origin, Message::Ack(ack));
    }

    /// Sends `message` on the first link of this node's shortest path to `destination`.
    fn send_towards(&mut self, destination: &NodeName, message: Message) -> Option<LinkId> {
        let link = self.next_hop(destination)?;
        self.send(link, message);
        Some(link)
    }

    pub(super) fn on_unicast_event(
        &mut self,
        now: Instant,
        _link: LinkId,
        destination: NodeName,
        mut event: MeshEvent,
    ) {
        if destination == self.config.node {
            if let Some(tag) = event.durable_tag(&destination).cloned() {
                self.receive_durable(now, &tag, event);
            }
            return;
        }
        if event.hops >= self.config.max_hops {
            self.stats.hop_limit_drops += 1;
            return;
        }
        event.hops += 1;
        let message = Message::Events(Events {
            route: Route::Unicast {
                destination: destination.clone(),
            },
            events: vec![event],
        });
        // No route: dropped here, the origin resends it later.
        self.send_towards(&destination, message);
    }

    pub(super) fn on_ack(&mut self, ack: Ack) {
        if ack.origin == self.config.node {
            let removed = self.outbox.ack(&ack.acker, ack.stream, ack.up_to_sequence);
            self.stats.durable_acked += removed as u64;
            return;
        }
        let origin = ack.origin.clone();
        self.send_towards(&origin, Message::Ack(ack));
    }

    /// Makes every reachable destination's unacknowledged events due now.
    pub(super) fn outbox_make_due_for_reachable(&mut self) {
        for destination in self.outbox.destinations() {
            if self.reachable.contains(&destination) {
                self.outbox.make_due(&destination);
            }
        }
    }

    /// Resends due unacknowledged events, oldest first, to reachable destinations.
    pub(super) fn retransmit(&mut self, now: Instant) {
        let origin = self.config.node.clone();
        for destination in self.outbox.destinations() {
            let Some(link) = self.next_hop(&destination) else {
                continue;
            };
            let due = self.outbox.take_due(
                &destination,
                now,
                self.config.retransmit_interval,
                self.config.retransmit_batch,
            );
            if due.is_empty() {
                continue;
            }
            let events: Vec<MeshEvent> = due
                .into_iter()
                .filter_map(|(tag, entry)| resend_event(&origin, tag, entry))
                .collect();
            self.stats.retransmissions += events.len() as u64;
            self.send(
                link,
                Message::Events(Events {
                    route: Route::Unicast {
                        destination: destination.clone(),
                    },
                    events,
                }),
            );
        }
    }
}
