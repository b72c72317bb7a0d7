//! The broker handle: publish, subscribe, counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use weft_core::{Event, Filter};
use weft_topic::SubscriptionIndex;

use crate::auth::{Action, AllowAll, Authorizer, Denied, Principal};
use crate::forward::{ForwardReceipt, ForwardRefused, Forwarder, GroupSelection};
use crate::interest::{InterestTable, LiveInterest};
use crate::queue::{
    Offer, RecvError, SubscribeOptions, SubscriberQueue, Subscription, SubscriptionId,
};
use crate::state::{Disk, FsDisk, StateDir};
use crate::stream::{StreamError, StreamName, Streams};

mod streams;

/// The in-process broker. Cheap to clone: every clone is a handle to the same broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

/// A broker handle that does not keep the broker alive (held by [`Streams`], which the
/// broker holds, to publish dead letters).
#[derive(Clone)]
pub(crate) struct WeakBroker(std::sync::Weak<Inner>);

impl WeakBroker {
    pub(crate) fn upgrade(&self) -> Option<Broker> {
        self.0.upgrade().map(|inner| Broker { inner })
    }
}

/// An index entry: the subscriber's queue, compared by subscription id.
#[derive(Clone)]
pub(crate) struct Entry(Arc<SubscriberQueue>);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

pub(crate) struct Inner {
    index: RwLock<SubscriptionIndex<Entry>>,
    /// Every live subscription, so shutdown can end them all (the index cannot list
    /// its entries, and `>` does not match `$` topics).
    live: Mutex<HashMap<SubscriptionId, Arc<SubscriberQueue>>>,
    shut_down: AtomicBool,
    authorizer: Arc<dyn Authorizer>,
    streams: Option<Streams>,
    /// The node's disk, whose parts [`Broker::state_dir`] hands out.
    disk: Arc<dyn Disk>,
    next_id: AtomicU64,
    /// Picks the next member of a queue group in turn.
    next_member: AtomicU64,
    counters: Counters,
    /// How many [`crate::OverflowPolicy::RefusePublish`] queues are full now.
    full_queues: Arc<std::sync::atomic::AtomicUsize>,
    /// What live subscriptions want (for the mesh).
    interest: InterestTable,
    /// Sees every fanned-out event (the mesh), if set.
    forwarder: RwLock<Option<Arc<dyn Forwarder>>>,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    disconnected: AtomicU64,
    denied: AtomicU64,
    subscriptions: AtomicU64,
    refused_full: AtomicU64,
}

/// A snapshot of the broker's counters (monotonic unless noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BrokerStats {
    /// Events accepted by [`Broker::publish`].
    pub events_published: u64,
    /// Events queued to live subscribers (one per event per subscriber).
    pub deliveries: u64,
    /// Events dropped from full queues under [`crate::OverflowPolicy::DropOldest`].
    pub dropped: u64,
    /// Subscribers disconnected under [`crate::OverflowPolicy::Disconnect`].
    pub disconnected: u64,
    /// Publishes and subscribes refused by the authoriser.
    pub denied: u64,
    /// Live subscriptions now (a gauge).
    pub subscriptions: u64,
    /// Publishes refused because a matching subscription's queue was full under
    /// [`crate::OverflowPolicy::RefusePublish`].
    pub refused_subscriber_full: u64,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Published {
    /// How many live subscriptions the event was queued to.
    pub subscribers: usize,
    /// Where the event was stored, one entry per capturing stream that stored it.
    pub stored: Vec<StoredAt>,
    /// Capturing streams that had already stored this `source` + `id` within their dedupe
    /// window, so did not store it again.
    pub duplicates: usize,
}

/// Where one stream stored an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAt {
    /// The stream.
    pub stream: StreamName,
    /// The partition.
    pub partition: u32,
    /// The offset in that partition.
    pub offset: u64,
}

/// Why a publish failed. A publisher that gets an error was not acknowledged; with a
/// storage error the event may be stored in some capturing streams (a retry with the
/// same `source` + `id` is then deduplicated there).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The authoriser refused it. Nothing was delivered or stored.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The event is larger than a capturing stream accepts. Nothing was delivered or stored.
    #[error("event of {size} bytes is larger than the limit of {max} bytes of stream {stream}")]
    EventTooLarge {
        /// The stream whose limit it exceeds.
        stream: StreamName,
        /// The event's size as stored.
        size: usize,
        /// The stream's `max_event_bytes`.
        max: usize,
    },
    /// The mesh could not store it for remote durable interest (its store-and-forward
    /// outbox is full: backpressure). Usually refused before anything was done; when
    /// the outbox filled up meanwhile, local streams and subscribers may have it, and a
    /// retry with the same `source` + `id` is deduplicated by local streams.
    #[error("the mesh cannot take the event: {0}")]
    Forward(ForwardRefused),
    /// A subscription that must not drop what it was given (policy
    /// [`crate::OverflowPolicy::RefusePublish`]: an MQTT QoS 1 or 2 subscriber) matches
    /// the event and its queue is full: the event is refused rather than dropped for it
    /// later. Nothing was delivered or stored; a retry may succeed once the subscriber
    /// catches up.
    #[error("subscription {subscription} matches the event and its queue is full")]
    SubscriberFull {
        /// The full subscription.
        subscription: SubscriptionId,
    },
    /// A capturing stream could not store it (disk full, I/O error, stream closed).
    #[error("stream {stream} could not store the event")]
    Storage {
        /// The stream.
        stream: StreamName,
        /// Why.
        #[source]
        source: StreamError,
    },
}

/// Why a subscribe was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// A subscription needs at least one filter.
    #[error("a subscription needs at least one filter")]
    NoFilters,
    /// The authoriser refused one of the filters.
    #[error(transparent)]
    Denied(#[from] Denied),
}

impl Default for Broker {
    fn default() -> Self {
        Self::new(Arc::new(AllowAll))
    }
}

impl Broker {
    /// A broker that asks `authorizer` about every publish and subscribe.
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        Self::build(authorizer, None)
    }

    /// A broker with durable streams: opens every stream stored in `dir`
    /// (`<data_dir>/streams`, created if needed) and stores every published event in the
    /// streams that capture it.
    pub async fn open(
        authorizer: Arc<dyn Authorizer>,
        dir: std::path::PathBuf,
        options: crate::StreamsOptions,
    ) -> Result<Self, StreamError> {
        let streams = Streams::open_with(dir, options).await?;
        Ok(Self::with_streams(authorizer, streams))
    }

    /// A broker that also stores every published event in the [`Streams`] that capture it.
    pub(crate) fn with_streams(authorizer: Arc<dyn Authorizer>, streams: Streams) -> Self {
        Self::build(authorizer, Some(streams))
    }

    fn build(authorizer: Arc<dyn Authorizer>, streams: Option<Streams>) -> Self {
        let disk = streams
            .as_ref()
            .map_or_else(FsDisk::shared, |streams| Arc::clone(streams.disk()));
        let broker = Self {
            inner: Arc::new(Inner {
                index: RwLock::new(SubscriptionIndex::new()),
                live: Mutex::new(HashMap::new()),
                shut_down: AtomicBool::new(false),
                authorizer,
                streams,
                disk,
                next_id: AtomicU64::new(1),
                next_member: AtomicU64::new(0),
                interest: InterestTable::default(),
                counters: Counters::default(),
                full_queues: Arc::default(),
                forwarder: RwLock::new(None),
            }),
        };
        if let Some(streams) = &broker.inner.streams {
            streams.attach_broker(WeakBroker(Arc::downgrade(&broker.inner)));
        }
        broker
    }

    /// The streams this broker stores events in, if it has any.
    pub(crate) fn streams(&self) -> Option<&Streams> {
        self.inner.streams.as_ref()
    }

    /// The directory `path` of the node's disk (the one [`StreamsOptions::disk`] gave
    /// [`Broker::open`]; the file system for a broker without streams): how the other
    /// components of a node (front ends, flows) keep their state files on the same disk
    /// as the streams, without naming the file system.
    ///
    /// [`StreamsOptions::disk`]: crate::StreamsOptions::disk
    pub fn state_dir(&self, path: impl Into<std::path::PathBuf>) -> StateDir {
        StateDir::new(Arc::clone(&self.inner.disk), path)
    }

    /// Asks the authoriser whether `principal` may do `action`; a refusal is counted.
    /// Every broker method asks for its own action; front ends call this only for what
    /// they run themselves (Kafka consumer groups: [`Action::JoinGroup`]).
    pub fn authorize(&self, principal: &Principal, action: Action<'_>) -> Result<(), Denied> {
        self.inner
            .authorizer
            .authorize(principal, action)
            .inspect_err(|_| {
                self.inner.counters.denied.fetch_add(1, Ordering::Relaxed);
            })
    }

    /// The authoriser, for checks that are not refusals (what a listing shows).
    pub(crate) fn authorizer(&self) -> &dyn Authorizer {
        self.inner.authorizer.as_ref()
    }

    /// Sets the [`Forwarder`] that sees every fanned-out event (the mesh).
    pub fn set_forwarder(&self, forwarder: Arc<dyn Forwarder>) {
        *self
            .inner
            .forwarder
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(forwarder);
    }

    /// Asks the forwarder (the mesh) whether it can take `event` now, and whether every
    /// matching subscription that refuses publishes when full has room
    /// ([`Self::admit_subscribers`]).
    pub(crate) fn admit(&self, event: &Event) -> Result<(), PublishError> {
        self.admit_subscribers(&event.topic)?;
        match self.forwarder() {
            Some(forwarder) => forwarder.admit(event).map_err(PublishError::Forward),
            None => Ok(()),
        }
    }

    /// Refuses a publish on `topic` when a matching [`crate::OverflowPolicy::RefusePublish`]
    /// subscription's queue is full. Free while no such queue is full (one atomic
    /// load); otherwise one more walk of the index.
    pub(crate) fn admit_subscribers(&self, topic: &weft_core::Topic) -> Result<(), PublishError> {
        let inner = &self.inner;
        if inner.full_queues.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let mut full = None;
        inner.read_index().for_each_match(topic, |entry| {
            if full.is_none() && entry.0.refuses_publishes() {
                full = Some(entry.0.id);
            }
        });
        match full {
            None => Ok(()),
            Some(subscription) => {
                inner.counters.refused_full.fetch_add(1, Ordering::Relaxed);
                Err(PublishError::SubscriberFull { subscription })
            }
        }
    }

    pub(crate) fn forwarder(&self) -> Option<Arc<dyn Forwarder>> {
        self.inner
            .forwarder
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Queues `event` to every matching live subscription (and one member of each
    /// selected queue group), then hands it to the forwarder. Returns how many
    /// subscriptions matched, and the forwarder's receipt.
    pub(crate) fn fan_out(
        &self,
        event: Event,
        selection: &GroupSelection,
    ) -> (usize, Option<ForwardReceipt>) {
        let forwarder = self.forwarder();
        self.fan_out_with(event, selection, forwarder.as_deref(), &mut Vec::new())
    }

    /// [`Self::fan_out`] with the forwarder already fetched and a scratch vector for
    /// the matches (a batch publish fetches and allocates them once).
    pub(crate) fn fan_out_with(
        &self,
        event: Event,
        selection: &GroupSelection,
        forwarder: Option<&dyn Forwarder>,
        targets: &mut Vec<Entry>,
    ) -> (usize, Option<ForwardReceipt>) {
        let inner = &self.inner;
        let event = Arc::new(event);
        targets.clear();
        inner
            .read_index()
            .for_each_match(&event.topic, |entry| targets.push(entry.clone()));
        // A subscription whose filters overlap matches more than once; it gets one copy.
        if targets.len() > 1 {
            targets.sort_unstable_by_key(|entry| entry.0.id);
            targets.dedup();
        }
        let mut delivered = 0u64;
        let mut groups: Vec<(&Arc<str>, Vec<&Arc<SubscriberQueue>>)> = Vec::new();
        for Entry(queue) in targets.iter() {
            match queue.group() {
                None => delivered += u64::from(self.offer(queue, &event)),
                Some(group) if !selection.includes(group) => {}
                Some(group) => match groups.iter_mut().find(|(name, _)| *name == group) {
                    Some((_, members)) => members.push(queue),
                    None => groups.push((group, vec![queue])),
                },
            }
        }
        // One member per queue group, taken in turn (one counter step per publish, so
        // every group advances by one); a closed member passes it on.
        let turn = if groups.is_empty() {
            0
        } else {
            inner.next_member.fetch_add(1, Ordering::Relaxed) as usize
        };
        for (_, members) in &groups {
            let start = turn;
            for step in 0..members.len() {
                let member = members[(start + step) % members.len()];
                if self.offer(member, &event) {
                    delivered += 1;
                    break;
                }
            }
        }
        inner.counters.published.fetch_add(1, Ordering::Relaxed);
        inner
            .counters
            .delivered
            .fetch_add(delivered, Ordering::Relaxed);
        let receipt = forwarder.and_then(|forwarder| forwarder.forward(&event));
        (targets.len(), receipt)
    }

    /// Offers `event` to one queue, counting what happened; true if it was queued.
    fn offer(&self, queue: &SubscriberQueue, event: &Arc<Event>) -> bool {
        let counters = &self.inner.counters;
        match queue.offer(event) {
            Offer::Queued => true,
            Offer::QueuedDroppingOldest => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Offer::Disconnected => {
                counters.disconnected.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(subscription = %queue.id, "slow subscriber disconnected");
                false
            }
            Offer::Closed => false,
        }
    }

    /// Creates a live subscription for the union of `filters`.
    pub fn subscribe(
        &self,
        principal: &Principal,
        filters: Vec<Filter>,
        options: SubscribeOptions,
    ) -> Result<Subscription, SubscribeError> {
        let inner = &self.inner;
        if filters.is_empty() {
            return Err(SubscribeError::NoFilters);
        }
        for filter in &filters {
            if let Err(denied) = inner
                .authorizer
                .authorize(principal, Action::Subscribe(filter))
            {
                inner.counters.denied.fetch_add(1, Ordering::Relaxed);
                return Err(denied.into());
            }
        }
        let id = SubscriptionId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let queue = Arc::new(SubscriberQueue::new(
            id,
            options,
            Arc::clone(&inner.full_queues),
        ));
        {
            // Checked under the registry lock so a concurrent shutdown either sees this
            // subscription or is seen by it.
            let mut live = inner.lock_live();
            if inner.shut_down.load(Ordering::Acquire) {
                queue.close(RecvError::Shutdown);
            }
            live.insert(id, Arc::clone(&queue));
        }
        {
            let mut index = inner.write_index();
            for filter in &filters {
                index.insert(filter, Entry(Arc::clone(&queue)));
            }
        }
        if !queue.is_internal() {
            inner.interest.update(&filters, queue.group(), true);
        }
        inner.counters.subscriptions.fetch_add(1, Ordering::Relaxed);
        Ok(Subscription::new(
            queue,
            filters,
            Arc::downgrade(&self.inner),
        ))
    }

    /// Every filter (with its queue group) that live subscriptions want now, except
    /// internal ones ([`SubscribeOptions::internal`]).
    pub fn interest(&self) -> Vec<LiveInterest> {
        self.inner.interest.snapshot()
    }

    /// A version number that changes whenever [`Self::interest`] does.
    pub fn interest_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.interest.changes()
    }

    /// Ends every subscription (their `recv` returns [`RecvError::Shutdown`]).
    pub fn shutdown(&self) {
        self.inner.shut_down.store(true, Ordering::Release);
        let queues: Vec<Arc<SubscriberQueue>> = self.inner.lock_live().values().cloned().collect();
        for queue in queues {
            queue.close(RecvError::Shutdown);
        }
    }

    /// The broker's counters now.
    pub fn stats(&self) -> BrokerStats {
        let counters = &self.inner.counters;
        BrokerStats {
            events_published: counters.published.load(Ordering::Relaxed),
            deliveries: counters.delivered.load(Ordering::Relaxed),
            dropped: counters.dropped.load(Ordering::Relaxed),
            disconnected: counters.disconnected.load(Ordering::Relaxed),
            denied: counters.denied.load(Ordering::Relaxed),
            subscriptions: counters.subscriptions.load(Ordering::Relaxed),
            refused_subscriber_full: counters.refused_full.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, SubscriptionIndex<Entry>> {
        // Index updates are single insert/remove calls that cannot be observed half-done
        // by a panic elsewhere, so a poisoned lock is still consistent.
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, SubscriptionIndex<Entry>> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_live(&self) -> MutexGuard<'_, HashMap<SubscriptionId, Arc<SubscriberQueue>>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn unsubscribe(&self, queue: &Arc<SubscriberQueue>, filters: &[Filter]) {
        {
            let mut index = self.write_index();
            let probe = Entry(Arc::clone(queue));
            for filter in filters {
                index.remove(filter, &probe);
            }
        }
        if self.lock_live().remove(&queue.id).is_some() {
            self.counters.subscriptions.fetch_sub(1, Ordering::Relaxed);
            if !queue.is_internal() {
                self.interest.update(filters, queue.group(), false);
            }
        }
    }
}

#[cfg(test)]
mod tests;
