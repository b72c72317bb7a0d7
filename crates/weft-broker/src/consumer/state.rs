//! [`ConsumerState`]: the delivery state of one consumer, without I/O.
//!
//! It knows, per partition, the acknowledged offsets ([`Cursor`]), the events read but
//! not in flight (new ones and scheduled redeliveries), the deliveries in flight and the
//! ones being dead-lettered; across partitions, the key locks of [`KeyOrdering::ByKey`]
//! and the group's members. Every method that depends on time takes `now`, so tests
//! drive it deterministically. The async layer (`consumer.rs`) reads events from the
//! stream and [`offer`](ConsumerState::offer)s their keys, takes deliveries, and
//! carries out the [`DeadLetterOrder`]s it returns.
//!
//! [`KeyOrdering::ByKey`]: super::KeyOrdering::ByKey

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::cursor::Cursor;
use super::token::DeliveryId;

mod types;

pub(crate) use types::{
    Counters, DeadLetterOrder, DeadLetterReason, READ_AHEAD, Settings, UnknownDelivery,
};

/// One partition's share of the state.
#[derive(Debug, Default)]
struct PartitionState {
    cursor: Cursor,
    /// The next offset not yet offered.
    next_read: u64,
    /// Read but not in flight: new events (`attempts == 0`) and scheduled redeliveries.
    waiting: BTreeMap<u64, Waiting>,
    in_flight: BTreeMap<u64, InFlight>,
    /// Offsets handed out in dead-letter orders, with their key (still locked).
    dead_lettering: BTreeMap<u64, Option<Bytes>>,
}

#[derive(Debug)]
struct Waiting {
    /// Deliveries so far.
    attempts: u32,
    /// Not before this (`None`: now).
    due: Option<Instant>,
    key: Option<Bytes>,
    last_error: Option<String>,
}

#[derive(Debug)]
struct InFlight {
    attempt: u32,
    member: String,
    deadline: Instant,
    key: Option<Bytes>,
    last_error: Option<String>,
}

/// The delivery state of one consumer.
#[derive(Debug)]
pub(crate) struct ConsumerState {
    settings: Settings,
    incarnation: u64,
    partitions: Vec<PartitionState>,
    /// Active members and when each last pulled.
    members: BTreeMap<String, Instant>,
    in_flight: usize,
    /// Keys with a delivery in flight or being dead-lettered (only with `by_key`).
    key_locks: HashMap<Bytes, u32>,
    counters: Counters,
    /// Bumped whenever a cursor changes, so the layer knows what it has persisted.
    version: u64,
    rotation: usize,
    random: u64,
}

impl ConsumerState {
    /// A state with these cursors (one per partition), nothing read yet.
    pub(crate) fn new(settings: Settings, cursors: Vec<Cursor>, incarnation: u64) -> Self {
        let mut state = ConsumerState {
            settings,
            incarnation,
            partitions: Vec::new(),
            members: BTreeMap::new(),
            in_flight: 0,
            key_locks: HashMap::new(),
            counters: Counters::default(),
            version: 0,
            rotation: 0,
            random: incarnation | 1,
        };
        for cursor in cursors {
            state.add_partition(cursor);
        }
        state
    }

    /// Adds the next partition (a stream gained one).
    pub(crate) fn add_partition(&mut self, cursor: Cursor) {
        self.partitions.push(PartitionState {
            next_read: cursor.floor(),
            cursor,
            ..PartitionState::default()
        });
    }

    /// How many partitions it knows.
    pub(crate) fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counters
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Every partition's cursor, to persist.
    pub(crate) fn cursors(&self) -> Vec<Cursor> {
        self.partitions.iter().map(|p| p.cursor.clone()).collect()
    }

    /// Offsets from the ack floor of `partition` on that are not acknowledged but not
    /// pending delivery either: `(floor, acked above floor + in flight + dead-lettering)`.
    pub(crate) fn partition_progress(&self, partition: u32) -> Option<(u64, u64)> {
        let state = self.partitions.get(partition as usize)?;
        let taken = state.cursor.acked_above_floor()
            + state.in_flight.len() as u64
            + state.dead_lettering.len() as u64;
        Some((state.cursor.floor(), taken))
    }

    /// The active members, sorted.
    pub(crate) fn members(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// Records that `member` pulled at `now` (joining the group if new), and applies
    /// every timeout due by `now` (see [`ConsumerState::expire`]).
    pub(crate) fn touch(&mut self, member: &str, now: Instant) -> Vec<DeadLetterOrder> {
        // Refreshed first, so a member that long-polled through its session stays.
        self.members.insert(member.to_owned(), now);
        self.expire(now)
    }

    /// Applies every timeout due by `now`: members that have not pulled within the
    /// session timeout leave (their deliveries in flight become due at once), and
    /// deliveries past their ack wait are scheduled for redelivery after the backoff,
    /// counted from the timeout. A delivery that has had its last attempt is returned
    /// as a [`DeadLetterOrder`] instead.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<DeadLetterOrder> {
        let session = self.settings.session_timeout;
        let gone: HashSet<String> = self
            .members
            .iter()
            .filter(|(_, seen)| now.saturating_duration_since(**seen) >= session)
            .map(|(member, _)| member.clone())
            .collect();
        for member in &gone {
            self.members.remove(member);
            tracing::debug!(member = %member, "consumer member left");
        }
        let mut expired = Vec::new();
        for (index, partition) in self.partitions.iter().enumerate() {
            for (offset, flight) in &partition.in_flight {
                if gone.contains(&flight.member) {
                    expired.push((index as u32, *offset, now, None));
                } else if flight.deadline <= now {
                    let delay = self.settings.backoff.base_delay(flight.attempt - 1);
                    expired.push((index as u32, *offset, flight.deadline, Some(delay)));
                }
            }
        }
        let mut orders = Vec::new();
        for (partition, offset, from, delay) in expired {
            let due = from + delay.map_or(Duration::ZERO, |delay| self.jittered(delay));
            if let Some(order) = self.retry(partition, offset, due, None) {
                orders.push(order);
            }
        }
        orders
    }

    /// The partitions `member` receives from: partition `i` goes to the `i % n`-th of the
    /// `n` active members in name order.
    pub(crate) fn assigned(&self, member: &str) -> Vec<u32> {
        let Some(position) = self.members.keys().position(|name| name == member) else {
            return Vec::new();
        };
        let members = self.members.len();
        (0..self.partition_count())
            .filter(|partition| *partition as usize % members == position)
            .collect()
    }

    /// What to read for `member`: `(partition, from offset, at most)` for each assigned
    /// partition whose read-ahead is not full.
    pub(crate) fn read_requests(&self, member: &str) -> Vec<(u32, u64, usize)> {
        self.assigned(member)
            .into_iter()
            .filter_map(|index| {
                let partition = &self.partitions[index as usize];
                let unread_new = partition
                    .waiting
                    .values()
                    .filter(|w| w.attempts == 0)
                    .count();
                let room = READ_AHEAD.saturating_sub(unread_new);
                (room > 0).then_some((index, partition.next_read, room))
            })
            .collect()
    }

    /// The layer read the event at `offset` (with this ordering key) in `partition`.
    /// Offsets must be offered in increasing order; offsets skipped over (removed by
    /// retention or compaction) count as acknowledged.
    /// Returns whether the event waits for delivery (it is not acknowledged already).
    pub(crate) fn offer(&mut self, partition: u32, offset: u64, key: Option<Bytes>) -> bool {
        let Some(state) = self.partitions.get_mut(partition as usize) else {
            return false;
        };
        if offset < state.next_read {
            return false;
        }
        if offset > state.next_read {
            state.cursor.ack_range(state.next_read, offset);
            self.version += 1;
        }
        state.next_read = offset + 1;
        if state.cursor.is_acked(offset) {
            return false;
        }
        state.waiting.insert(
            offset,
            Waiting {
                attempts: 0,
                due: None,
                key,
                last_error: None,
            },
        );
        true
    }

    /// The layer found no event for this delivery any more (retention or compaction
    /// removed it): it is done, as if acknowledged (but not counted as acked).
    pub(crate) fn gone(&mut self, id: DeliveryId) {
        if let Ok(flight) = self.finish(id) {
            self.unlock(flight.key.as_ref());
            if let Some(state) = self.partitions.get_mut(id.partition as usize) {
                state.cursor.ack(id.offset);
            }
            self.version += 1;
        }
    }

    /// Up to `max` deliveries for `member` from its partitions, at most as many as
    /// `max_in_flight` allows: due events in offset order, skipping (with `by_key`)
    /// events whose key has an earlier event in flight, being dead-lettered or waiting.
    pub(crate) fn take(&mut self, member: &str, max: usize, now: Instant) -> Vec<DeliveryId> {
        let capacity = max.min(self.settings.max_in_flight.saturating_sub(self.in_flight));
        let assigned = self.assigned(member);
        if capacity == 0 || assigned.is_empty() {
            return Vec::new();
        }
        self.rotation = self.rotation.wrapping_add(1);
        let start = self.rotation % assigned.len();
        let mut picked: Vec<(u32, u64)> = Vec::new();
        let mut blocked: HashSet<Bytes> = HashSet::new();
        'partitions: for index in assigned.iter().cycle().skip(start).take(assigned.len()) {
            for (offset, waiting) in &self.partitions[*index as usize].waiting {
                if picked.len() == capacity {
                    break 'partitions;
                }
                let due = waiting.due.is_none_or(|due| due <= now);
                if self.settings.by_key
                    && let Some(key) = &waiting.key
                {
                    if self.key_locks.contains_key(key) || blocked.contains(key) {
                        continue;
                    }
                    // Later events of this key wait for this one, picked or not.
                    blocked.insert(key.clone());
                }
                if due {
                    picked.push((*index, *offset));
                }
            }
        }
        picked
            .into_iter()
            .filter_map(|(partition, offset)| self.start_delivery(partition, offset, member, now))
            .collect()
    }

    fn start_delivery(
        &mut self,
        partition: u32,
        offset: u64,
        member: &str,
        now: Instant,
    ) -> Option<DeliveryId> {
        let state = self.partitions.get_mut(partition as usize)?;
        let waiting = state.waiting.remove(&offset)?;
        let attempt = waiting.attempts + 1;
        if attempt > 1 {
            self.counters.redelivered += 1;
        }
        if self.settings.by_key
            && let Some(key) = &waiting.key
        {
            *self.key_locks.entry(key.clone()).or_default() += 1;
        }
        state.in_flight.insert(
            offset,
            InFlight {
                attempt,
                member: member.to_owned(),
                deadline: now + self.settings.ack_wait,
                key: waiting.key,
                last_error: waiting.last_error,
            },
        );
        self.in_flight += 1;
        Some(DeliveryId {
            partition,
            offset,
            attempt,
            incarnation: self.incarnation,
        })
    }

    /// Acknowledges a delivery in flight.
    pub(crate) fn ack(&mut self, id: DeliveryId) -> Result<(), UnknownDelivery> {
        let flight = self.finish(id)?;
        self.unlock(flight.key.as_ref());
        if let Some(state) = self.partitions.get_mut(id.partition as usize) {
            state.cursor.ack(id.offset);
        }
        self.counters.acked += 1;
        self.version += 1;
        Ok(())
    }

    /// Negatively acknowledges a delivery: it is redelivered after `delay`, else after
    /// the backoff for its attempt; after its last attempt it is dead-lettered instead.
    pub(crate) fn nack(
        &mut self,
        id: DeliveryId,
        delay: Option<Duration>,
        error: Option<String>,
        now: Instant,
    ) -> Result<Option<DeadLetterOrder>, UnknownDelivery> {
        let flight = self.in_flight_entry(id)?;
        let delay = match delay {
            Some(delay) => delay,
            None => {
                let base = self.settings.backoff.base_delay(flight.attempt - 1);
                self.jittered(base)
            }
        };
        Ok(self.retry(id.partition, id.offset, now + delay, error))
    }

    /// Ends a delivery for good: the event is dead-lettered with reason `terminated`.
    pub(crate) fn terminate(
        &mut self,
        id: DeliveryId,
        reason: Option<String>,
    ) -> Result<DeadLetterOrder, UnknownDelivery> {
        let flight = self.finish(id)?;
        Ok(self.dead_letter(
            id.partition,
            id.offset,
            flight,
            DeadLetterReason::Terminated,
            reason,
        ))
    }

    /// The dead-letter destination took the event: it counts as acknowledged.
    pub(crate) fn dead_letter_done(&mut self, partition: u32, offset: u64) {
        let Some(state) = self.partitions.get_mut(partition as usize) else {
            return;
        };
        if let Some(key) = state.dead_lettering.remove(&offset) {
            state.cursor.ack(offset);
            self.counters.dead_lettered += 1;
            self.version += 1;
            self.unlock(key.as_ref());
        }
    }

    /// The dead-letter destination refused the event: it is delivered again after the
    /// backoff (and dead-lettered again after that delivery fails).
    pub(crate) fn dead_letter_failed(&mut self, order: &DeadLetterOrder, now: Instant) {
        let Some(state) = self.partitions.get_mut(order.partition as usize) else {
            return;
        };
        if let Some(key) = state.dead_lettering.remove(&order.offset) {
            let delay = self
                .settings
                .backoff
                .base_delay(order.attempts.saturating_sub(1));
            let due = now + self.jittered(delay);
            self.unlock(key.as_ref());
            if let Some(state) = self.partitions.get_mut(order.partition as usize) {
                state.waiting.insert(
                    order.offset,
                    Waiting {
                        attempts: order.attempts,
                        due: Some(due),
                        key,
                        last_error: order.error.clone(),
                    },
                );
            }
        }
    }

    /// The earliest time after `now` something becomes due: a redelivery, an ack-wait
    /// timeout or a member's session end. (What is due already but held back waits for
    /// an ack, not for time.)
    pub(crate) fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let session = self.settings.session_timeout;
        let members = self.members.values().map(|seen| *seen + session);
        let partitions = self.partitions.iter().flat_map(|partition| {
            let waiting = partition.waiting.values().filter_map(|w| w.due);
            let flights = partition.in_flight.values().map(|f| f.deadline);
            waiting.chain(flights)
        });
        members.chain(partitions).filter(|at| *at > now).min()
    }

    /// Moves a delivery in flight back to waiting (due at `due`), or out to the
    /// dead-letter destination after its last attempt.
    fn retry(
        &mut self,
        partition: u32,
        offset: u64,
        due: Instant,
        error: Option<String>,
    ) -> Option<DeadLetterOrder> {
        let id = DeliveryId {
            partition,
            offset,
            attempt: self.in_flight_attempt(partition, offset)?,
            incarnation: self.incarnation,
        };
        let mut flight = self.finish(id).ok()?;
        if error.is_some() {
            flight.last_error = error;
        }
        let max = self.settings.max_deliveries;
        if max > 0 && flight.attempt >= max {
            return Some(self.dead_letter(
                partition,
                offset,
                flight,
                DeadLetterReason::MaxDeliveries,
                None,
            ));
        }
        self.unlock(flight.key.as_ref());
        let state = self.partitions.get_mut(partition as usize)?;
        state.waiting.insert(
            offset,
            Waiting {
                attempts: flight.attempt,
                due: Some(due),
                key: flight.key,
                last_error: flight.last_error,
            },
        );
        None
    }

    fn dead_letter(
        &mut self,
        partition: u32,
        offset: u64,
        flight: InFlight,
        reason: DeadLetterReason,
        error: Option<String>,
    ) -> DeadLetterOrder {
        // The key stays locked (counted by `finish`'s caller not unlocking) until done.
        if let Some(state) = self.partitions.get_mut(partition as usize) {
            state.dead_lettering.insert(offset, flight.key);
        }
        DeadLetterOrder {
            partition,
            offset,
            attempts: flight.attempt,
            reason,
            error: error.or(flight.last_error),
        }
    }

    fn in_flight_attempt(&self, partition: u32, offset: u64) -> Option<u32> {
        Some(
            self.partitions
                .get(partition as usize)?
                .in_flight
                .get(&offset)?
                .attempt,
        )
    }

    fn in_flight_entry(&self, id: DeliveryId) -> Result<&InFlight, UnknownDelivery> {
        if id.incarnation != self.incarnation {
            return Err(UnknownDelivery);
        }
        self.partitions
            .get(id.partition as usize)
            .and_then(|state| state.in_flight.get(&id.offset))
            .filter(|flight| flight.attempt == id.attempt)
            .ok_or(UnknownDelivery)
    }

    /// Removes a delivery from flight (its key stays locked: callers unlock).
    fn finish(&mut self, id: DeliveryId) -> Result<InFlight, UnknownDelivery> {
        self.in_flight_entry(id)?;
        let flight = self
            .partitions
            .get_mut(id.partition as usize)
            .and_then(|state| state.in_flight.remove(&id.offset))
            .ok_or(UnknownDelivery)?;
        self.in_flight -= 1;
        Ok(flight)
    }

    fn unlock(&mut self, key: Option<&Bytes>) {
        if !self.settings.by_key {
            return;
        }
        if let Some(key) = key
            && let Some(count) = self.key_locks.get_mut(key)
        {
            *count -= 1;
            if *count == 0 {
                self.key_locks.remove(key);
            }
        }
    }

    /// `delay`, or with jitter a uniformly random delay in `delay/2 ..= delay`.
    fn jittered(&mut self, (delay, jitter): (Duration, bool)) -> Duration {
        if !jitter || delay.is_zero() {
            return delay;
        }
        // xorshift64: cheap, and deterministic for a given incarnation.
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        let half = delay / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(self.random % nanos.saturating_add(1))
    }
}

#[cfg(test)]
mod tests;
