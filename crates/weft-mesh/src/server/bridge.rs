//! The broker side: local events into the mesh, mesh events into the broker.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use weft_broker::{Ack, Broker, Subscription};

use super::MeshHandle;
use super::envelope::{decode_event, encode_event};
use super::owner::Command;
use crate::wire::MeshEvent;

/// Counters of the bridge tasks, read by the owner for status.
#[derive(Debug, Default)]
pub(crate) struct BridgeCounters {
    pub(crate) envelope_errors: AtomicU64,
    pub(crate) broker_publish_errors: AtomicU64,
    pub(crate) forward_queue_drops: AtomicU64,
}

/// Forwards every event published at this node (its `origin` is this node) to the mesh.
/// Events the mesh delivered carry their own origin and are skipped.
pub(crate) async fn forward_local(handle: MeshHandle, mut subscription: Subscription) {
    let mut stopped = handle.shared().stopped.clone();
    let node = handle.node().clone();
    let counters = Arc::clone(&handle.shared().bridge);
    let mut batch = Vec::with_capacity(256);
    loop {
        batch.clear();
        let received = tokio::select! {
            received = subscription.recv_many(&mut batch, 256) => received,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        if let Err(error) = received {
            tracing::warn!(%error, "mesh forwarding subscription ended");
            return;
        }
        counters
            .forward_queue_drops
            .store(subscription.dropped(), Ordering::Relaxed);
        for event in &batch {
            if event.origin != node.as_str() {
                continue;
            }
            let command = Command::Publish {
                topic: event.topic.clone(),
                payload: encode_event(event),
            };
            if handle.command(command).await.is_err() {
                return;
            }
        }
    }
}

/// Publishes the events the mesh delivers to the local broker, in order.
pub(crate) async fn deliver_remote(
    handle: MeshHandle,
    broker: Broker,
    mut events: mpsc::Receiver<MeshEvent>,
) {
    let mut stopped = handle.shared().stopped.clone();
    let counters = Arc::clone(&handle.shared().bridge);
    let principal = handle.shared().options.principal.clone();
    loop {
        let mesh_event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let event = match decode_event(&mesh_event) {
            Ok(event) => event,
            Err(error) => {
                counters.envelope_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, origin = %mesh_event.origin, "dropping undecodable mesh event");
                continue;
            }
        };
        if let Err(error) = broker.publish(&principal, event, Ack::None).await {
            counters
                .broker_publish_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, origin = %mesh_event.origin, topic = %mesh_event.topic, "local broker refused a mesh event");
        }
    }
}

/// Keeps this node's advertised interest equal to the broker's live interest: once at
/// start, then after every change (changes arriving together are sent as one update).
/// A queue group whose name is not a valid mesh group name is advertised as live
/// interest (every node with members gets the event; its broker picks one member).
pub(super) async fn follow_interest(handle: MeshHandle, broker: weft_broker::Broker) {
    let mut changes = broker.interest_changes();
    loop {
        changes.mark_unchanged();
        let entries = broker
            .interest()
            .into_iter()
            .map(|interest| {
                match interest
                    .group
                    .as_deref()
                    .and_then(|group| crate::name::GroupName::new(group).ok())
                {
                    Some(group) => crate::interest::InterestEntry::queue(interest.filter, group),
                    None => crate::interest::InterestEntry::live(interest.filter),
                }
            })
            .collect();
        if handle.set_interest(entries).await.is_err() {
            return;
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}
