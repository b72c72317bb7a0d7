//! Where a route's events come from: a live subscription (at most once) or a durable
//! consumer of a stream (at least once), and how they are spread over tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use weft_broker::PARTITION_KEY_EXTENSION;
use weft_broker::{
    Broker, ConsumerError, ConsumerName, Delivery, Principal, RecvError, StreamName, Subscription,
};
use weft_core::Event;

use super::pipeline::{Outcome, Position, Route};
use crate::manifest::route::OrderBy;

/// How long one pull waits for events before looking again.
const PULL_WAIT: Duration = Duration::from_secs(5);
/// The pause after a failed pull.
const PULL_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Resolves when the route is asked to stop (or its runner is dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The key events are ordered by: the event key, else its `partitionkey` extension.
fn ordering_key(event: &Event) -> Option<Bytes> {
    event.key.clone().or_else(|| {
        event
            .cloudevent
            .attributes
            .get(PARTITION_KEY_EXTENSION)
            .map(|value| Bytes::from(value.canonical().into_owned()))
    })
}

type Queued = (Event, OwnedSemaphorePermit);

/// Events waiting behind an event of the same key that is being processed. A key is
/// present while one task works through its events.
#[derive(Default)]
struct KeyQueues {
    keys: Mutex<HashMap<Bytes, VecDeque<Queued>>>,
}

impl KeyQueues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, VecDeque<Queued>>> {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `item` behind its key's task; gives it back when the key has none (the
    /// caller then starts one).
    fn enqueue(&self, key: &Bytes, item: Queued) -> Option<Queued> {
        let mut keys = self.lock();
        match keys.get_mut(key) {
            Some(queue) => {
                queue.push_back(item);
                None
            }
            None => {
                keys.insert(key.clone(), VecDeque::new());
                Some(item)
            }
        }
    }

    /// The key's next event, or `None` (and the key is released).
    fn next(&self, key: &Bytes) -> Option<Queued> {
        let mut keys = self.lock();
        let next = keys.get_mut(key).and_then(VecDeque::pop_front);
        if next.is_none() {
            keys.remove(key);
        }
        next
    }
}

/// Reads the live subscription until the route stops or the broker shuts down. At most
/// `maxInFlight` events are taken at once (received but not finished); with
/// `ordering: key` each key's events are processed one at a time, in order.
pub(crate) async fn run_topic(route: Arc<Route>, mut subscription: Subscription) {
    let mut stop = route.stop.clone();
    let permits = Arc::new(Semaphore::new(route.spec.max_in_flight.max(1) as usize));
    let queues = Arc::new(KeyQueues::default());
    let mut tasks = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = stopped(&mut stop) => break,
        };
        let received = tokio::select! {
            received = subscription.recv() => received,
            () = stopped(&mut stop) => break,
        };
        route
            .counters
            .dropped
            .store(subscription.dropped(), std::sync::atomic::Ordering::Relaxed);
        let event = match received {
            Ok(event) => Arc::unwrap_or_clone(event),
            Err(RecvError::Shutdown) => {
                tracing::info!(route = %route.name, "broker shut down; route source ended");
                break;
            }
            Err(error) => {
                tracing::warn!(route = %route.name, %error, "subscription ended");
                route
                    .counters
                    .set_error(format!("subscription ended: {error}"));
                break;
            }
        };
        let key = match route.spec.ordering.by {
            OrderBy::Key => ordering_key(&event),
            OrderBy::None => None,
        };
        match key {
            None => {
                let route = Arc::clone(&route);
                tasks.spawn(async move {
                    route.process(event, None).await;
                    drop(permit);
                });
            }
            Some(key) => {
                if let Some(first) = queues.enqueue(&key, (event, permit)) {
                    let route = Arc::clone(&route);
                    let queues = Arc::clone(&queues);
                    tasks.spawn(async move {
                        let mut next = Some(first);
                        while let Some((event, permit)) = next.take() {
                            route.process(event, None).await;
                            drop(permit);
                            next = queues.next(&key);
                        }
                    });
                }
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    drop(subscription);
    while tasks.join_next().await.is_some() {}
}

/// The durable consumer a stream-sourced route pulls from.
pub(crate) struct ConsumerSource {
    pub(crate) broker: Broker,
    pub(crate) principal: Principal,
    pub(crate) stream: StreamName,
    pub(crate) consumer: ConsumerName,
    pub(crate) member: String,
}

/// Pulls from the consumer until the route stops or the consumer is deleted. The
/// consumer itself holds back events of a key with an earlier one in flight (when the
/// route orders by key), so every delivery runs in its own task, `maxInFlight` at most.
/// Settled events are acknowledged; unsettled ones negatively acknowledged.
pub(crate) async fn run_stream(route: Arc<Route>, source: ConsumerSource) {
    let source = Arc::new(source);
    let mut stop = route.stop.clone();
    let permits = Arc::new(Semaphore::new(route.spec.max_in_flight.max(1) as usize));
    let mut tasks = JoinSet::new();
    loop {
        let first = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = stopped(&mut stop) => break,
        };
        let max = 1 + permits.available_permits();
        let pulled = tokio::select! {
            pulled = source.broker.pull(&source.principal, &source.stream, &source.consumer, &source.member, max, PULL_WAIT) => pulled,
            () = stopped(&mut stop) => break,
        };
        while tasks.try_join_next().is_some() {}
        let deliveries = match pulled {
            Ok(deliveries) => deliveries,
            Err(
                error @ (ConsumerError::NotFound { .. } | ConsumerError::StreamNotFound { .. }),
            ) => {
                tracing::warn!(route = %route.name, %error, "route consumer is gone; route source ended");
                route.counters.set_error(error.to_string());
                break;
            }
            Err(error) => {
                tracing::warn!(route = %route.name, %error, "pull failed");
                route.counters.set_error(format!("pull failed: {error}"));
                tokio::select! {
                    () = tokio::time::sleep(PULL_ERROR_PAUSE) => continue,
                    () = stopped(&mut stop) => break,
                }
            }
        };
        let mut first = Some(first);
        for delivery in deliveries {
            let permit = match first.take() {
                Some(permit) => permit,
                // Only this loop takes permits, and `max` were free before the pull.
                None => match Arc::clone(&permits).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let route = Arc::clone(&route);
            let source = Arc::clone(&source);
            tasks.spawn(async move {
                handle_delivery(&route, &source, delivery).await;
                drop(permit);
            });
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn handle_delivery(route: &Route, source: &ConsumerSource, delivery: Delivery) {
    let position = Position {
        stream: source.stream.clone(),
        partition: delivery.partition,
        offset: delivery.offset,
    };
    let outcome = route.process(delivery.event, Some(&position)).await;
    let (broker, principal) = (&source.broker, &source.principal);
    let result = match outcome {
        Outcome::Settled => {
            broker
                .ack(principal, &source.stream, &source.consumer, &delivery.token)
                .await
        }
        Outcome::Unsettled => {
            // On stop: at once, so another member (or the next start) takes it over;
            // after a failed dead letter: after the consumer's backoff.
            let delay = route.stopping().then_some(Duration::ZERO);
            broker
                .nack(
                    principal,
                    &source.stream,
                    &source.consumer,
                    &delivery.token,
                    delay,
                )
                .await
        }
    };
    if let Err(error) = result {
        tracing::warn!(route = %route.name, partition = position.partition, offset = position.offset, %error, "settling a delivery failed");
        route
            .counters
            .set_error(format!("settling a delivery failed: {error}"));
    }
}
