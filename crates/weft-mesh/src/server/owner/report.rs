//! The owner's answers to status requests, and the durable gauges it keeps current.

use std::sync::atomic::Ordering;

use super::Owner;
use crate::server::durable::{DurableStatus, Journal};
use crate::server::status::{LinkStatus, MeshStatus, NodeStatus, StatusCounters};

impl Owner {
    pub(super) fn durable_status(&self) -> DurableStatus {
        let stats = self.node.stats();
        let snapshot_depths = self.node.outbox_depths();
        DurableStatus {
            outbox_depth: self.node.outbox_total_depth() as u64,
            outbox_bytes: self.node.outbox_total_bytes(),
            publishes_refused: stats.publishes_refused
                + self.admission.refused.load(Ordering::Relaxed),
            durable_acked: stats.durable_acked,
            already_stored: stats.durable_already_stored,
            retransmissions: stats.retransmissions,
            outbox_dropped: stats.outbox_dropped,
            persist_errors: self.journal.as_ref().map_or(0, Journal::errors),
            outboxes: snapshot_depths,
            full: self.full.iter().map(ToString::to_string).collect(),
        }
    }

    pub(super) fn status(&self) -> MeshStatus {
        let node = &self.node;
        let me = node.name().clone();
        let nodes = node
            .database()
            .iter()
            .map(|lsa| NodeStatus {
                name: lsa.node.to_string(),
                reachable: node.reachable().contains(&lsa.node),
                neighbours: lsa.neighbours.iter().map(|a| a.node.to_string()).collect(),
                interest: if lsa.node == me {
                    node.local_interest().len()
                } else {
                    node.remote_interest().entries(&lsa.node).count()
                },
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|(&link, entry)| {
                let stats = node.link_stats(link).cloned().unwrap_or_default();
                let counters = &entry.opened.counters;
                LinkStatus {
                    id: link.0,
                    peer: entry.peer.clone(),
                    direction: entry.opened.direction,
                    remote: entry.opened.remote,
                    established: entry.peer.is_some(),
                    events_in: stats.events_received,
                    events_out: stats.events_sent,
                    bytes_in: entry.opened.counters.bytes_in.load(Ordering::Relaxed),
                    bytes_out: entry.opened.counters.bytes_out.load(Ordering::Relaxed),
                    uncompressed_bytes_in: counters.uncompressed_in.load(Ordering::Relaxed),
                    uncompressed_bytes_out: counters.uncompressed_out.load(Ordering::Relaxed),
                    frames_out: counters.frames_out.load(Ordering::Relaxed),
                    queue_depth: entry.queue_depth(),
                    compression: counters.compression().map(crate::wire::Compression::name),
                    messages_in: stats.messages_received,
                    messages_out: stats.messages_sent,
                    events_dropped: entry.events_dropped,
                    round_trip_us: stats.round_trip.map(|rtt| rtt.as_micros() as u64),
                    reconnects: entry.reconnects,
                }
            })
            .collect();
        let stats = node.stats();
        let bridge = &self.bridge;
        let counters = StatusCounters {
            events_published: stats.events_published,
            events_sent: stats.events_sent,
            events_received: stats.events_received,
            events_delivered: stats.events_delivered,
            duplicates_dropped: stats.duplicates_dropped,
            hop_limit_drops: stats.hop_limit_drops,
            links_refused: stats.links_refused,
            envelope_errors: bridge.envelope_errors.load(Ordering::Relaxed),
            broker_publish_errors: bridge.broker_publish_errors.load(Ordering::Relaxed),
            forward_queue_drops: bridge.forward_queue_drops.load(Ordering::Relaxed),
            durable: self.durable_status(),
            ..self.counters.clone()
        };
        MeshStatus {
            mesh: node.config().mesh.to_string(),
            node: me.to_string(),
            incarnation: node.config().incarnation,
            reachable: node.reachable().len(),
            nodes,
            links,
            joins: self.joins.values().cloned().collect(),
            counters,
            recent_errors: self.recent_errors.iter().cloned().collect(),
        }
    }
}
