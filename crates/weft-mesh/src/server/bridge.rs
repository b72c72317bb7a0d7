//! The broker side: local events into the mesh, mesh events into the broker, and the
//! broker's interest (live subscriptions and streams) into the mesh.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use weft_broker::{
    Broker, ForwardReceipt, ForwardRefused, Forwarder, GroupSelection, PublishOptions,
};
use weft_core::Event;

use super::MeshHandle;
use super::durable::Admission;
use super::owner::{Command, Forwarded};
use crate::envelope::{decode_event_at, encode_event};
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
/// this node (not one the mesh delivered) goes to the owner. An event that remote
/// durable interest may match (as the owner last published it in [`Admission`]) comes
/// with a receipt the publisher waits for (the owner answers at once, or once the event
/// is persisted for remote durable interest); any other needs nothing from the mesh
/// (live delivery is at-most-once) and goes without one. A full queue refuses:
/// backpressure, never a silent drop.
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
        // Read before the event is queued: remote durable interest the owner learns
        // after this point is not owed this event (see docs/design/mesh.md).
        let (reply, receipt) = if self.admission.may_be_durable(&event.topic) {
            let (reply, receipt) = ForwardReceipt::channel();
            (Some(reply), Some(receipt))
        } else {
            (None, None)
        };
        let forwarded = Forwarded {
            topic: event.topic.clone(),
            payload: encode_event(event),
            reply,
        };
        match self.queue.try_send(forwarded) {
            Ok(()) => receipt,
            Err(TrySendError::Full(forwarded)) => {
                self.counters
                    .forward_queue_drops
                    .fetch_add(1, Ordering::Relaxed);
                let refused = ForwardRefused {
                    reason: "the mesh forwarding queue is full".to_owned(),
                };
                match forwarded.reply {
                    Some(reply) => {
                        let _ = reply.send(Err(refused));
                        receipt
                    }
                    None => Some(ForwardReceipt::refused(refused)),
                }
            }
            Err(TrySendError::Closed(forwarded)) => {
                if let Some(reply) = forwarded.reply {
                    let _ = reply.send(Ok(()));
                }
                receipt
            }
        }
    }
}

/// Durable deliveries submitted to the broker and not yet confirmed stored, before
/// the next batch waits (one batch may go past it).
const STORES_IN_FLIGHT: usize = 1024;

/// Events published between two yields to the runtime.
const YIELD_EVERY: usize = 256;

/// A submitted durable delivery: resolves to whether it was stored.
type Store = Pin<Box<dyn Future<Output = bool> + Send>>;

/// The owner's side of the queue of deliveries: batches (one per drain of the node's
/// outputs), bounded in events.
pub(crate) struct DeliverQueue {
    sender: mpsc::Sender<Vec<Delivery>>,
    /// Events queued and not yet published (the owner adds, the bridge subtracts).
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

/// The bridge's side of [`DeliverQueue`].
pub(crate) struct DeliverReceiver {
    receiver: mpsc::Receiver<Vec<Delivery>>,
    queued: Arc<AtomicUsize>,
}

impl DeliverQueue {
    /// A queue of at most `capacity` events.
    pub(crate) fn new(capacity: usize) -> (Self, DeliverReceiver) {
        let capacity = capacity.max(1);
        // Every batch holds at least one event, so the event bound also bounds batches.
        let (sender, receiver) = mpsc::channel(capacity);
        let queued = Arc::new(AtomicUsize::new(0));
        let receiver = DeliverReceiver {
            receiver,
            queued: Arc::clone(&queued),
        };
        let queue = Self {
            sender,
            queued,
            capacity,
        };
        (queue, receiver)
    }

    /// Queues what fits of `batch`, in order; returns the deliveries that did not fit
    /// (or all of them, when the bridge has stopped). Only the owner calls it, so the
    /// room it sees can only grow before it adds.
    pub(crate) fn send(&self, mut batch: Vec<Delivery>) -> Vec<Delivery> {
        let room = self
            .capacity
            .saturating_sub(self.queued.load(Ordering::Acquire));
        let refused = batch.split_off(batch.len().min(room));
        if batch.is_empty() {
            return refused;
        }
        let count = batch.len();
        self.queued.fetch_add(count, Ordering::AcqRel);
        match self.sender.try_send(batch) {
            Ok(()) => refused,
            Err(TrySendError::Full(mut batch) | TrySendError::Closed(mut batch)) => {
                self.queued.fetch_sub(count, Ordering::AcqRel);
                batch.extend(refused);
                batch
            }
        }
    }
}

/// Publishes the events the mesh delivers to the local broker, in order, each to the
/// queue groups this node was chosen for, a batch (what one drain of the owner
/// delivered) per wake-up. A durable event is submitted at once (so its stores share
/// group commits with the ones before it) and confirmed to the owner, in delivery
/// order, once every capturing stream stored it; the owner acknowledges it to its
/// origin after persisting its position. A failure makes the origin send it again.
pub(crate) async fn deliver_remote(
    handle: MeshHandle,
    broker: Broker,
    mut events: DeliverReceiver,
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
            batch = events.receiver.recv(), if room => match batch {
                Some(batch) => Step::Deliveries(batch),
                None => return,
            },
            _ = stopped.wait_for(|stop| *stop) => Step::Stop,
        };
        match step {
            Step::Stop => {
                finish(&handle, in_flight).await;
                return;
            }
            Step::Stored(stored) => {
                if let Some((receipt, _)) = in_flight.pop_front() {
                    // Not `MeshHandle::command`: once the node stops it refuses, and
                    // the owner waits for every confirmation before it stops.
                    let command = Command::Stored { receipt, stored };
                    if handle.shared().commands.send(command).await.is_err() {
                        return;
                    }
                }
            }
            Step::Deliveries(batch) => {
                let count = batch.len();
                // One clock read per batch: its events arrived together.
                let received_at = SystemTime::now();
                let mut batch = batch.into_iter();
                loop {
                    // A large batch (a whole received frame) is published in chunks,
                    // yielding between them: it must not hold the worker thread long.
                    let chunk: Vec<Delivery> = batch.by_ref().take(YIELD_EVERY).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    let stores = submit(&handle, &broker, chunk, received_at).await;
                    in_flight.extend(stores);
                    if batch.len() > 0 {
                        tokio::task::yield_now().await;
                    }
                }
                events.queued.fetch_sub(count, Ordering::AcqRel);
            }
        }
    }
}

/// What the delivery loop does next.
enum Step {
    /// The oldest durable delivery was stored (or not).
    Stored(bool),
    /// New events to deliver.
    Deliveries(Vec<Delivery>),
    /// The node is stopping.
    Stop,
}

/// The node is stopping: waits for the durable deliveries already submitted and
/// confirms them to the owner (which persists their positions before it stops), then
/// tells it the bridge is done. Deliveries not submitted yet are left: never stored,
/// their origins send them again.
async fn finish(handle: &MeshHandle, in_flight: VecDeque<(DurableReceipt, Store)>) {
    // `MeshHandle::command` refuses once stopped; the owner still listens until the
    // bridge is done.
    let commands = &handle.shared().commands;
    for (receipt, store) in in_flight {
        let stored = store.await;
        if commands
            .send(Command::Stored { receipt, stored })
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = commands.send(Command::BridgeDone).await;
}

/// Submits delivered events to the broker, in order, in one batch; returns, for each
/// durable one in delivery order, what resolves once it is stored (a live one needs
/// nothing more).
async fn submit(
    handle: &MeshHandle,
    broker: &Broker,
    deliveries: Vec<Delivery>,
    received_at: SystemTime,
) -> Vec<(DurableReceipt, Store)> {
    let counters = &handle.shared().bridge;
    let principal = &handle.shared().options.principal;
    // Per delivery: what its durable receipt waits for (set for durable ones only).
    let mut stores: Vec<Option<Store>> = Vec::with_capacity(deliveries.len());
    // The deliveries that decoded, by index, and their events.
    let mut decoded = Vec::with_capacity(deliveries.len());
    let mut events = Vec::with_capacity(deliveries.len());
    for (index, delivery) in deliveries.iter().enumerate() {
        let mesh_event = &delivery.event;
        let durable = delivery.durable.is_some();
        match decode_event_at(mesh_event, received_at) {
            Ok(event) => {
                let groups = delivery
                    .groups
                    .iter()
                    .map(|group| Arc::from(group.as_str()))
                    .collect();
                events.push((event, PublishOptions::groups(GroupSelection::Only(groups))));
                decoded.push(index);
                stores.push(None);
            }
            Err(error) => {
                counters.envelope_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, origin = %mesh_event.origin, "dropping undecodable mesh event");
                // Never storable: acknowledged so that it does not block its stream.
                stores.push(durable.then(|| Box::pin(std::future::ready(true)) as Store));
            }
        }
    }
    let results = broker.submit_batch(principal, events).await;
    for (result, index) in results.into_iter().zip(decoded) {
        let delivery = &deliveries[index];
        let durable = delivery.durable.is_some();
        stores[index] = match result {
            Ok(_) if !durable => None,
            Ok(pending) => {
                let counters = Arc::clone(counters);
                Some(Box::pin(async move {
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
                }) as Store)
            }
            Err(error) => {
                counters
                    .broker_publish_errors
                    .fetch_add(1, Ordering::Relaxed);
                let event = &delivery.event;
                tracing::warn!(%error, origin = %event.origin, topic = %event.topic, "local broker refused a mesh event");
                durable.then(|| Box::pin(std::future::ready(false)) as Store)
            }
        };
    }
    deliveries
        .into_iter()
        .zip(stores)
        .filter_map(|(delivery, store)| Some((delivery.durable?, store?)))
        .collect()
}

/// Keeps this node's advertised interest equal to the broker's: live subscriptions
/// (queue groups as queue interest) and, when the broker has streams, every stream's
/// filters as durable interest. Once at start, then after every change (changes
/// arriving together are sent as one update). A queue group whose name is not a valid
/// mesh group name is advertised as live interest (every node with members gets the
/// event; its broker picks one member).
pub(super) async fn follow_interest(handle: MeshHandle, broker: Broker) {
    let mut changes = broker.interest_changes();
    let mut stream_changes = broker.durable_interest_changes();
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
    for (_, filters) in broker.durable_interest() {
        entries.extend(filters.into_iter().map(InterestEntry::durable));
    }
    entries
}
