//! A session's broker subscriptions: one live subscription holding every non-shared
//! filter (so the broker delivers each event once per session however many filters
//! match), plus one per shared subscription, in the broker queue group
//! `mqtt-share/GROUP/FILTER`.
//!
//! The plain subscription of a session with a QoS 1 or 2 subscription refuses new
//! publishes while its queue is full ([`OverflowPolicy::RefusePublish`]) instead of
//! dropping what a publisher was told is delivered; the session task stops taking from
//! it while the session's own queue is full, so a slow or absent subscriber makes
//! publishers wait (PUBACK 0x97 Quota exceeded, HTTP 503) rather than lose messages.
//! QoS 0-only sessions and shared subscriptions keep dropping the oldest (counted).
//!
//! A broker subscription's filters are fixed, so a filter change replaces the plain
//! subscription: the new one is created first, then what the old one still holds is
//! carried over, and events that reached both (published between the two steps, the
//! same `Arc`) are delivered once.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::select_all;
use weft_broker::{
    Broker, OverflowPolicy, Principal, RecvError, SubscribeError, SubscribeOptions, Subscription,
};
use weft_core::{Event, Filter};

use crate::codec::QoS;
use crate::sorted_map::SortedMap;

/// What [`BrokerSubscriptions::next`] received.
pub(crate) enum Received {
    /// An event for the non-shared subscriptions.
    Plain(Arc<Event>),
    /// An event the broker picked this session for, for one shared subscription.
    Shared {
        /// The shared subscription's filter as written.
        filter: String,
        /// The event.
        event: Arc<Event>,
    },
    /// A subscription ended (broker shutdown); it is gone.
    Closed(RecvError),
}

struct Shared {
    key: String,
    subscription: Subscription,
}

/// See the [module docs](self).
pub(crate) struct BrokerSubscriptions {
    /// A sorted vector, not a `BTreeMap`: most sessions have one filter. With each
    /// filter, whether it was granted QoS 1 or 2.
    plain_filters: SortedMap<(Vec<Filter>, bool)>,
    plain: Option<Subscription>,
    dirty: bool,
    /// Events taken from a replaced plain subscription, delivered first.
    carry: VecDeque<Arc<Event>>,
    /// The carried events the new subscription may also hold.
    seen: Vec<Arc<Event>>,
    shared: BTreeMap<String, Shared>,
    queue_capacity: usize,
}

type RecvFuture<'a> =
    Pin<Box<dyn Future<Output = (Option<String>, Result<Arc<Event>, RecvError>)> + Send + 'a>>;

impl BrokerSubscriptions {
    pub(crate) fn new(queue_capacity: usize) -> Self {
        Self {
            plain_filters: SortedMap::new(),
            plain: None,
            dirty: false,
            carry: VecDeque::new(),
            seen: Vec::new(),
            shared: BTreeMap::new(),
            queue_capacity,
        }
    }

    fn options(&self, group: Option<&str>, overflow: OverflowPolicy) -> SubscribeOptions {
        SubscribeOptions {
            queue_capacity: self.queue_capacity,
            overflow,
            group: group.map(Arc::from),
            internal: false,
        }
    }

    /// Adds (or keeps) a non-shared filter, granted `qos`; applied by [`Self::apply`].
    pub(crate) fn add_plain(&mut self, full: &str, filters: &[Filter], qos: QoS) {
        let acknowledged = qos != QoS::AtMostOnce;
        let unchanged = self
            .plain_filters
            .get(full)
            .is_some_and(|(known, was)| known.as_slice() == filters && *was == acknowledged);
        if !unchanged {
            self.plain_filters
                .insert(full.to_owned(), (filters.to_vec(), acknowledged));
            self.dirty = true;
        }
    }

    /// Whether a shared subscription for `full` exists.
    pub(crate) fn has_shared(&self, full: &str) -> bool {
        self.shared.contains_key(full)
    }

    /// Subscribes `full` as a member of queue group `key`.
    pub(crate) fn add_shared(
        &mut self,
        broker: &Broker,
        principal: &Principal,
        full: &str,
        key: &str,
        filters: &[Filter],
    ) -> Result<(), SubscribeError> {
        let subscription = broker.subscribe(
            principal,
            filters.to_vec(),
            self.options(Some(key), OverflowPolicy::DropOldest),
        )?;
        self.shared.insert(
            full.to_owned(),
            Shared {
                key: key.to_owned(),
                subscription,
            },
        );
        Ok(())
    }

    /// Removes `full`; returns the share group key when it was a shared subscription.
    pub(crate) fn remove(&mut self, full: &str) -> Option<String> {
        if self.plain_filters.remove(full).is_some() {
            self.dirty = true;
        }
        self.shared.remove(full).map(|shared| shared.key)
    }

    /// Drops every shared subscription (the client went offline: the broker must pick
    /// connected members); returns their group keys. Events already queued to them are
    /// returned too, for redelivery to another member.
    pub(crate) fn drop_shared(&mut self) -> Vec<(String, String, Vec<Arc<Event>>)> {
        std::mem::take(&mut self.shared)
            .into_iter()
            .map(|(full, mut shared)| {
                let mut pending = Vec::new();
                while let Some(Ok(event)) = shared.subscription.try_recv() {
                    pending.push(event);
                }
                (full, shared.key, pending)
            })
            .collect()
    }

    /// The group keys of the shared subscriptions.
    pub(crate) fn shared_keys(&self) -> Vec<String> {
        self.shared
            .values()
            .map(|shared| shared.key.clone())
            .collect()
    }

    /// Replaces the plain subscription if its filters changed.
    pub(crate) fn apply(
        &mut self,
        broker: &Broker,
        principal: &Principal,
    ) -> Result<(), SubscribeError> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        let mut filters: Vec<Filter> = self
            .plain_filters
            .values()
            .flat_map(|(filters, _)| filters)
            .cloned()
            .collect();
        filters.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        filters.dedup();
        let overflow = if self
            .plain_filters
            .values()
            .any(|(_, acknowledged)| *acknowledged)
        {
            OverflowPolicy::RefusePublish
        } else {
            OverflowPolicy::DropOldest
        };
        let new = if filters.is_empty() {
            None
        } else {
            Some(broker.subscribe(principal, filters, self.options(None, overflow))?)
        };
        if let Some(mut old) = std::mem::replace(&mut self.plain, new) {
            while let Some(Ok(event)) = old.try_recv() {
                if self.plain.is_some() {
                    self.seen.push(Arc::clone(&event));
                }
                self.carry.push_back(event);
            }
        }
        Ok(())
    }

    /// The next event if one is waiting.
    pub(crate) fn try_next(&mut self) -> Option<Received> {
        if let Some(event) = self.carry.pop_front() {
            return Some(Received::Plain(event));
        }
        if let Some(plain) = &mut self.plain {
            loop {
                match plain.try_recv() {
                    Some(Ok(event)) => {
                        if self.seen.iter().any(|seen| Arc::ptr_eq(seen, &event)) {
                            continue;
                        }
                        return Some(Received::Plain(event));
                    }
                    Some(Err(error)) => {
                        self.plain = None;
                        return Some(Received::Closed(error));
                    }
                    None => {
                        self.seen.clear();
                        break;
                    }
                }
            }
        }
        let mut closed = None;
        for (filter, shared) in &mut self.shared {
            match shared.subscription.try_recv() {
                Some(Ok(event)) => {
                    return Some(Received::Shared {
                        filter: filter.clone(),
                        event,
                    });
                }
                Some(Err(error)) => {
                    closed = Some((filter.clone(), error));
                    break;
                }
                None => {}
            }
        }
        let (filter, error) = closed?;
        self.shared.remove(&filter);
        Some(Received::Closed(error))
    }

    /// The next event, waiting for one (forever when there are no subscriptions).
    /// Cancel-safe. With only the plain subscription (the common case) it waits on it
    /// in place; with shared ones too, on all of them in a boxed future.
    pub(crate) async fn next(&mut self) -> Received {
        loop {
            if let Some(received) = self.try_next() {
                return received;
            }
            if !self.shared.is_empty() {
                return Box::pin(self.next_of_many()).await;
            }
            let Some(plain) = &mut self.plain else {
                return std::future::pending().await;
            };
            match plain.recv().await {
                Ok(event) => {
                    if !self.seen.iter().any(|seen| Arc::ptr_eq(seen, &event)) {
                        return Received::Plain(event);
                    }
                }
                Err(error) => {
                    self.plain = None;
                    return Received::Closed(error);
                }
            }
        }
    }

    /// [`Self::next`] with shared subscriptions: waits on every subscription.
    async fn next_of_many(&mut self) -> Received {
        loop {
            if let Some(received) = self.try_next() {
                return received;
            }
            let mut futures: Vec<RecvFuture<'_>> = Vec::with_capacity(1 + self.shared.len());
            if let Some(plain) = &mut self.plain {
                futures.push(Box::pin(async move { (None, plain.recv().await) }));
            }
            for (filter, shared) in &mut self.shared {
                let filter = filter.clone();
                futures.push(Box::pin(async move {
                    (Some(filter), shared.subscription.recv().await)
                }));
            }
            if futures.is_empty() {
                return std::future::pending().await;
            }
            let ((filter, result), _, rest) = select_all(futures).await;
            drop(rest);
            match (filter, result) {
                (None, Ok(event)) => {
                    if !self.seen.iter().any(|seen| Arc::ptr_eq(seen, &event)) {
                        return Received::Plain(event);
                    }
                }
                (Some(filter), Ok(event)) => return Received::Shared { filter, event },
                (None, Err(error)) => {
                    self.plain = None;
                    return Received::Closed(error);
                }
                (Some(filter), Err(error)) => {
                    self.shared.remove(&filter);
                    return Received::Closed(error);
                }
            }
        }
    }
}
