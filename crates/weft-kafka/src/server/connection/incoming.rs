//! Receiving one size-prefixed request, within three bounds that hold whatever a client
//! sends:
//!
//! - **memory follows the bytes**: the buffer grows with what has arrived, never to the
//!   announced size up front, so announcing 100 MiB and sending ten bytes holds one
//!   [`FIRST_READ`];
//! - **a deadline**: once a request's first byte has arrived, all of it must arrive
//!   within [`KafkaConfig::request_read_timeout`](crate::KafkaConfig), or the connection
//!   is closed and counted. Before that first byte a connection may be idle;
//! - **a node-wide budget**: every byte of buffer held for an incomplete request is
//!   charged to one [`RequestBudget`] for the whole listener; a connection that needs
//!   more than is left stops reading until there is room.
//!
//! Waiting at the budget, rather than closing the connection that hits it, keeps honest
//! clients working under load: TCP pushes back on them and their requests go on once
//! others complete. Requests charged as their bytes arrive could all stall together,
//! though: each holding part of the budget and waiting for more. So the budget keeps a
//! reserve the size of the largest request, drawn on by one waiting request at a time
//! (the first in line): that request never waits again, completes (or meets its
//! deadline), and hands the reserve to the next. The listener always makes progress,
//! and the bytes held never exceed the cap. No wait is for ever: it counts against the
//! request's deadline, and a stalled client holding budget is closed at its own
//! deadline, which gives its bytes back.
//!
//! The reserve is the maximum request size, but at most half the budget, so that the
//! rest is shared: a request larger than half of
//! [`KafkaConfig::max_incomplete_request_bytes`](crate::KafkaConfig) is refused like one
//! over the maximum size.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::ConnectionError;
use crate::server::KafkaContext;

/// The buffer of a request starts at most this large and grows, once full, by what it
/// already holds (at least this much again). Doubling rather than growing by a fixed
/// chunk keeps the copying linear for large requests; the buffer is never larger than
/// the request, nor than twice what has arrived plus this.
pub(crate) const FIRST_READ: usize = 64 * 1024;

/// Room for the bytes of requests still arriving, shared by every connection of a
/// listener: a semaphore with one permit per byte, for everyone, and a reserve for one
/// request at a time (see the module docs). What a request holds is given back when its
/// [`Incoming`] is dropped, however reading ended, so the count is exact.
pub(crate) struct RequestBudget {
    /// Room for every request: the budget less the reserve. Waiters are served in order.
    shared: Arc<Semaphore>,
    shared_limit: usize,
    /// One permit: the right to draw on the reserve.
    reserve: Arc<Semaphore>,
    /// The bytes the reserve holds (at most [`RequestBudget::largest`]).
    reserve_used: Arc<AtomicUsize>,
    /// The reserve's size, and so the largest request that can be received.
    largest: usize,
}

impl RequestBudget {
    /// A budget of `limit` bytes (at most [`Semaphore::MAX_PERMITS`]) for requests of at
    /// most `max_request` bytes.
    pub(crate) fn new(limit: usize, max_request: usize) -> Self {
        let limit = limit.min(Semaphore::MAX_PERMITS);
        let largest = max_request.min(limit / 2);
        let shared_limit = limit - largest;
        RequestBudget {
            shared: Arc::new(Semaphore::new(shared_limit)),
            shared_limit,
            reserve: Arc::new(Semaphore::new(1)),
            reserve_used: Arc::new(AtomicUsize::new(0)),
            largest,
        }
    }

    /// Bytes held now for incomplete requests.
    pub(crate) fn held(&self) -> usize {
        self.shared_limit - self.shared.available_permits()
            + self.reserve_used.load(Ordering::Relaxed)
    }

    /// The largest request that can be received.
    pub(crate) fn largest(&self) -> usize {
        self.largest
    }
}

/// Reads the next request frame (without its size prefix): `None` when the client
/// closed the connection between requests.
pub(super) async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut R,
    context: &KafkaContext,
) -> Result<Option<Bytes>, ConnectionError> {
    let mut prefix = [0u8; 4];
    // No deadline for the first byte: a connection between requests may be idle.
    let first = reader.read(&mut prefix).await?;
    if first == 0 {
        return Ok(None);
    }
    let timeout = context.config().request_read_timeout;
    let mut incoming = Incoming::default();
    let received = incoming.receive(reader, &mut prefix, first, context);
    match tokio::time::timeout(timeout, received).await {
        Ok(frame) => frame.map(Some),
        Err(_elapsed) => {
            let counters = context.counters();
            counters.requests_timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                timeout_ms = timeout.as_millis(),
                received = incoming.bytes.len(),
                waiting_for_budget = incoming.waiting_for_budget,
                "kafka request incomplete at its deadline; closing the connection"
            );
            Err(ConnectionError::TimedOut {
                timeout,
                waiting_for_budget: incoming.waiting_for_budget,
            })
        }
    }
    // `incoming` is dropped here: its share of the budget is given back.
}

/// A request being received: its bytes so far, and the budget its buffer holds (given
/// back on drop: complete, failed or abandoned).
#[derive(Default)]
struct Incoming {
    bytes: Vec<u8>,
    /// Bytes held from the shared room.
    shared: Option<OwnedSemaphorePermit>,
    /// The reserve, once this request has been first in line for it.
    reserve: Option<ReserveDraw>,
    /// Whether the request is waiting for room in the budget (for the timeout's log).
    waiting_for_budget: bool,
}

/// The right to the reserve, and the bytes drawn on it.
struct ReserveDraw {
    _turn: OwnedSemaphorePermit,
    used: usize,
    reserve_used: Arc<AtomicUsize>,
}

impl ReserveDraw {
    fn draw(&mut self, bytes: usize) {
        self.used += bytes;
        self.reserve_used.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Drop for ReserveDraw {
    fn drop(&mut self) {
        self.reserve_used.fetch_sub(self.used, Ordering::Relaxed);
    }
}

impl Incoming {
    /// Receives the rest of the size prefix (of which `first` bytes are in `prefix`) and
    /// the request it announces.
    async fn receive<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        prefix: &mut [u8; 4],
        first: usize,
        context: &KafkaContext,
    ) -> Result<Bytes, ConnectionError> {
        reader.read_exact(&mut prefix[first..]).await?;
        let size = i32::from_be_bytes(*prefix);
        let max = context.request_budget().largest();
        let Some(size) = usize::try_from(size).ok().filter(|&size| size <= max) else {
            let counters = context.counters();
            counters.requests_too_large.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(size, max, "kafka request too large; closing the connection");
            return Err(ConnectionError::TooLarge {
                size: i64::from(size),
                max,
            });
        };
        while self.bytes.len() < size {
            if self.bytes.len() == self.bytes.capacity() {
                let grow = self
                    .bytes
                    .len()
                    .max(FIRST_READ)
                    .min(size - self.bytes.len());
                self.charge(grow, context).await?;
                self.bytes.reserve_exact(grow);
            }
            // Never past this request: the next one's bytes stay in the socket.
            let missing = u64::try_from(size - self.bytes.len()).unwrap_or(u64::MAX);
            let read = (&mut *reader)
                .take(missing)
                .read_buf(&mut self.bytes)
                .await?;
            if read == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
        Ok(Bytes::from(std::mem::take(&mut self.bytes)))
    }

    /// Takes `bytes` more of the budget, waiting for room if there is not enough.
    async fn charge(&mut self, bytes: usize, context: &KafkaContext) -> io::Result<()> {
        if let Some(reserve) = &mut self.reserve {
            // The request fits in the reserve, which is all its own.
            reserve.draw(bytes);
            return Ok(());
        }
        // One acquisition takes at most `u32::MAX` permits; no request is that large
        // unless the maximum request size is raised past 4 GiB.
        let permits = u32::try_from(bytes).map_err(|_| io::Error::other("request too large"))?;
        let budget = context.request_budget();
        let permit = match Arc::clone(&budget.shared).try_acquire_many_owned(permits) {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                let counters = context.counters();
                counters
                    .request_budget_waits
                    .fetch_add(1, Ordering::Relaxed);
                self.waiting_for_budget = true;
                let shared = Arc::clone(&budget.shared).acquire_many_owned(permits);
                let reserve = Arc::clone(&budget.reserve).acquire_owned();
                // Both waits give back what they hold when the other one wins.
                let permit = tokio::select! {
                    permit = shared => permit.map_err(io::Error::other)?,
                    turn = reserve => {
                        let mut draw = ReserveDraw {
                            _turn: turn.map_err(io::Error::other)?,
                            used: 0,
                            reserve_used: Arc::clone(&budget.reserve_used),
                        };
                        draw.draw(bytes);
                        self.reserve = Some(draw);
                        self.waiting_for_budget = false;
                        return Ok(());
                    }
                };
                self.waiting_for_budget = false;
                permit
            }
            Err(TryAcquireError::Closed) => return Err(io::Error::other("request budget closed")),
        };
        match &mut self.shared {
            Some(shared) => shared.merge(permit),
            None => self.shared = Some(permit),
        }
        Ok(())
    }
}
