//! The broker side: local events into the mesh, mesh events into the broker, and the
//! broker's interest (live subscriptions and streams) into the mesh.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use weft_broker::{Broker, ForwardReceipt, ForwardRefused, Forwarder, GroupSelection};
use weft_core::Event;

use super::MeshHandle;
use super::durable::Admission;
use super::envelope::{decode_event, encode_event};
use super::owner::{Command, Forwarded};
use crate::interest::InterestEntry;
use crate::name::{GroupName, NodeName};
use crate::node::DurableReceipt;
use crate::wire::MeshEvent;

/// Counters of the bridge tasks, read by the owner for status.
#[derive(Debug, Default)]
pub(crate) struct BridgeCounters {
    pub(crate) envelope_errors: AtomicU64,
    pub(crate) broker_publish_errors: AtomicU64,
    pub(crate) forward_queue_drops: AtomicU64,
}

/// An event the mesh delivers to the local broker.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) event: MeshEvent,
    pub(crate) groups: Vec<GroupName>,
    pub(crate) durable: Option<DurableReceipt>,
}

/// The broker's [`Forwarder`]: every event fanned out at this node whose `origin` is
/// this node (not one the mesh delivered) goes to the owner, with a receipt the
/// publisher waits for (the owner answers at once, or once the event is persisted for
/// remote durable interest). A full queue refuses: backpressure, never a silent drop.
pub(crate) struct MeshForwarder {
    pub(crate) node: NodeName,
    pub(crate) queue: mpsc::Sender<Forwarded>,
    pub(crate) counters: Arc<BridgeCounters>,
    pub(crate) admission: Arc<Admission>,
}

impl Forwarder for MeshForwarder {
    fn admit(&self, event: &Event) -> Result<(), ForwardRefused> {
        if event.origin != self.node.as_str() {
            return Ok(());
        }
        match self.admission.refusal(&event.topic) {
            Some(reason) => Err(ForwardRefused { reason }),
            None => Ok(()),
        }
    }

    fn forward(&self, event: &Arc<Event>) -> Option<ForwardReceipt> {
        if event.origin != self.node.as_str() || event.topic.as_str().starts_with('$') {
            return None;
        }
        let (reply, receipt) = ForwardReceipt::channel();
        let forwarded = Forwarded {
            topic: event.topic.clone(),
            payload: encode_event(event),
            reply,
        };
        match self.queue.try_send(forwarded) {
            Ok(()) => {}
            Err(TrySendError::Full(forwarded)) => {
                self.counters
                    .forward_queue_drops
                    .fetch_add(1, Ordering::Relaxed);
                let _ = forwarded.reply.send(Err(ForwardRefused {
                    reason: "the mesh forwarding queue is full".to_owned(),
                }));
            }
            Err(TrySendError::Closed(forwarded)) => {
                let _ = forwarded.reply.send(Ok(()));
            }
        }
        Some(receipt)
    }
}

/// Durable deliveries submitted to the broker and not yet confirmed stored.
const STORES_IN_FLIGHT: usize = 1024;

/// A submitted durable delivery: resolves to whether it was stored.
type Store = Pin<Box<dyn Future<Output = bool> + Send>>;

/// Publishes the events the mesh delivers to the local broker, in order, each to the
/// queue groups this node was chosen for. A durable event is submitted at once (so its
/// stores share group commits with the ones before it) and confirmed to the owner, in
/// delivery order, once every capturing stream stored it; the owner acknowledges it to
/// its origin after persisting its position. A failure makes the origin send it again.
pub(crate) async fn deliver_remote(
    handle: MeshHandle,
    broker: Broker,
    mut events: mpsc::Receiver<Delivery>,
) {
    let mut stopped = handle.shared().stopped.clone();
    let mut in_flight: VecDeque<(DurableReceipt, Store)> = VecDeque::new();
    loop {
        let room = in_flight.len() < STORES_IN_FLIGHT;
        let oldest = async {
            match in_flight.front_mut() {
                Some((_, store)) => store.await,
                None => std::future::pending().await,
            }
        };
        let step = tokio::select! {
            stored = oldest => Step::Stored(stored),
            delivery = events.recv(), if room => match delivery {
                Some(delivery) => Step::Delivery(delivery),
                None => return,
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        match step {
            Step::Stored(stored) => {
                if let Some((receipt, _)) = in_flight.pop_front() {
                    let command = Command::Stored { receipt, stored };
                    if handle.command(command).await.is_err() {
                        return;
                    }
                }
            }
            Step::Delivery(delivery) => {
                let store = submit(&handle, &broker, &delivery).await;
                if let Some(receipt) = delivery.durable {
                    in_flight.push_back((receipt, store));
                }
            }
        }
    }
}

/// What the delivery loop does next.
enum Step {
    /// The oldest durable delivery was stored (or not).
    Stored(bool),
    /// A new event to deliver.
    Delivery(Delivery),
}

/// Submits one delivered event to the broker.
async fn submit(handle: &MeshHandle, broker: &Broker, delivery: &Delivery) -> Store {
    let counters = &handle.shared().bridge;
    let principal = &handle.shared().options.principal;
    let mesh_event = &delivery.event;
    let event = match decode_event(mesh_event) {
        Ok(event) => event,
        Err(error) => {
            counters.envelope_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, origin = %mesh_event.origin, "dropping undecodable mesh event");
            // Never storable: acknowledged so that it does not block its stream.
            return Box::pin(std::future::ready(true));
        }
    };
    let groups = delivery
        .groups
        .iter()
        .map(|group| Arc::from(group.as_str()))
        .collect();
    match broker
        .submit_publish_with(principal, event, GroupSelection::Only(groups))
        .await
    {
        Ok(pending) => {
            let counters = Arc::clone(counters);
            Box::pin(async move {
                match pending.finish().await {
                    Ok(_) => true,
                    Err(error) => {
                        counters
                            .broker_publish_errors
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, "local streams could not store a mesh event");
                        false
                    }
                }
            })
        }
        Err(error) => {
            counters
                .broker_publish_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, origin = %mesh_event.origin, topic = %mesh_event.topic, "local broker refused a mesh event");
            Box::pin(std::future::ready(false))
        }
    }
}

/// Keeps this node's advertised interest equal to the broker's: live subscriptions
/// (queue groups as queue interest) and, when the broker has streams, every stream's
/// filters as durable interest. Once at start, then after every change (changes
/// arriving together are sent as one update). A queue group whose name is not a valid
/// mesh group name is advertised as live interest (every node with members gets the
/// event; its broker picks one member).
pub(super) async fn follow_interest(handle: MeshHandle, broker: Broker) {
    let mut changes = broker.interest_changes();
    let mut stream_changes = broker.streams().map(weft_broker::Streams::changes);
    loop {
        changes.mark_unchanged();
        if let Some(stream_changes) = &mut stream_changes {
            stream_changes.mark_unchanged();
        }
        if handle.set_interest(broker_interest(&broker)).await.is_err() {
            return;
        }
        let streams_changed = async {
            match &mut stream_changes {
                Some(receiver) => receiver.changed().await,
                None => std::future::pending().await,
            }
        };
        let ended = tokio::select! {
            changed = changes.changed() => changed.is_err(),
            changed = streams_changed => changed.is_err(),
        };
        if ended {
            return;
        }
    }
}

/// The broker's interest now, as mesh interest entries.
fn broker_interest(broker: &Broker) -> Vec<InterestEntry> {
    let mut entries: Vec<InterestEntry> = broker
        .interest()
        .into_iter()
        .map(|interest| {
            match interest
                .group
                .as_deref()
                .and_then(|group| GroupName::new(group).ok())
            {
                Some(group) => InterestEntry::queue(interest.filter, group),
                None => InterestEntry::live(interest.filter),
            }
        })
        .collect();
    if let Some(streams) = broker.streams() {
        for (_, filters) in streams.filters() {
            entries.extend(filters.into_iter().map(InterestEntry::durable));
        }
    }
    entries
}
