//! Where routes evaluate their transforms: on a small pool of OS threads of their own,
//! never on the async workers.
//!
//! A jq program can run for as long as its author made it (`def f: f; f`). Run inline on
//! a tokio worker it would pin that worker; two such events would stop the node's HTTP,
//! Kafka and MQTT service, its shutdown and the controller that could delete the route.
//! So the transform of every event of a route with a jq step
//! (`explain::transform_metered`) runs on an [`EvaluationPool`] thread, and the route's
//! task only awaits its answer. Not `spawn_blocking`: its threads are shared with the
//! node's blocking file I/O, and a runaway evaluation there would hold one of them for
//! good.
//!
//! The route's CESQL filter runs inline, on the route's task, before the event is handed
//! over, and so does the whole of a route without a jq step: CESQL has no loops or
//! recursion (`LIKE` is at worst pattern × text), the data is parsed at most once per
//! expression, and `set`, `delete` and `move` steps are linear in the event, so that
//! work is bounded by the size of the event and the manifest — a hop to another thread
//! would cost more than it saves. Events the filter drops never cross.
//!
//! **Batches.** A route's events wait in the route's own queue, not one job each in the
//! pool's: the pool queues *routes*. A thread takes a route and evaluates its waiting
//! events one after another — each with a meter and budget of its own — until the
//! route has none left, or, when another route waits for a thread, until it has served
//! this one for [`QUANTUM`] or [`BATCH`] events; then the route goes to the back of
//! the pool's queue and the thread takes the route at its front. So a busy route costs
//! one wake-up per batch, not two per event, and routes take turns under contention.
//! While a route has more events waiting than threads serving it, it asks for another
//! thread: alone, a route uses the whole pool; with others waiting, it gets its turns.
//! Each event carries one allocation to the thread (its slot: the event, its phase and
//! its result), nothing else.
//!
//! Two limits apply to each evaluation:
//!
//! 1. **The budget** (`budget` of the route, default 1 s; and the memory limit, see
//!    `transform::budget`), enforced from inside by the evaluation's meter: the
//!    program is stopped, its thread goes on with the next event, and the event fails
//!    with `over-budget`.
//! 2. **The hard limit**, [`GRACE`] past the budget, enforced from outside: an
//!    evaluation the meter could not stop (one native operation that runs long, like
//!    comparing two values built by sharing) is given up. The event is dead-lettered
//!    (`over-budget`), the thread is *abandoned* — it goes on until the operation ends,
//!    and is counted — and the pool may start one more thread in its place, so that the
//!    other routes keep their capacity. The route itself starts no new evaluation while
//!    one of its evaluations runs away (its status says so: `OverBudget`): one bad route
//!    costs the node at most the threads it was running then until the evaluations
//!    end, or the route is deleted or changed (then those threads are abandoned for good
//!    and go away with the process; each keeps a core busy). That is the whole pool
//!    when the route was alone, its turns of it when others were waiting; the threads
//!    started in their place serve the other routes.
//!
//! A route that stops (deleted, changed, the node shutting down) does not wait for its
//! evaluations: it sets their cancel flag, which the meter sees within microseconds,
//! and abandons them; their events count as `abandoned`. Its queued events are never
//! started.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use weft_core::CloudEvent;

use crate::explain::{self, Outcome};
use crate::manifest::route::RouteSpec;
use crate::transform::{Budget, Step, TransformError, budget};

/// How long past its budget an evaluation may run before it is given up.
pub const GRACE: Duration = Duration::from_secs(1);

/// How long a thread keeps serving one route while another route waits for a thread.
pub(crate) const QUANTUM: Duration = Duration::from_millis(2);

/// How many events a thread evaluates for one route in a row while another route waits
/// for a thread.
pub(crate) const BATCH: usize = 64;

/// A bounded pool of OS threads for route evaluations. Cheap to clone (a handle).
#[derive(Clone)]
pub struct EvaluationPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    /// Threads that serve routes (abandoned ones not counted).
    size: usize,
    state: Mutex<PoolState>,
    wake: Condvar,
    /// `state.ready.len()`, for threads to look at between two events without the lock.
    ready_len: AtomicUsize,
    /// Batches started (a route taken from the queue by a thread), for tests.
    batches: AtomicUsize,
    /// The most threads that served one route at once, for tests.
    widest: AtomicUsize,
}

#[derive(Default)]
struct PoolState {
    /// Routes with events waiting for a thread, each at most once, served in turn.
    ready: VecDeque<Arc<RouteQueue>>,
    /// Threads alive, abandoned ones included.
    threads: usize,
    /// Threads waiting for a route.
    idle: usize,
    /// Threads running an evaluation that was given up.
    abandoned: usize,
}

impl std::fmt::Debug for EvaluationPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationPool")
            .field("size", &self.inner.size)
            .field("threads", &self.threads())
            .field("abandoned", &self.abandoned())
            .finish()
    }
}

impl EvaluationPool {
    /// A pool of at most `size` serving threads (at least 1), started as needed.
    #[must_use]
    pub fn new(size: usize) -> Self {
        EvaluationPool {
            inner: Arc::new(PoolInner {
                size: size.max(1),
                state: Mutex::new(PoolState::default()),
                wake: Condvar::new(),
                ready_len: AtomicUsize::new(0),
                batches: AtomicUsize::new(0),
                widest: AtomicUsize::new(0),
            }),
        }
    }

    /// The process's pool, for runners not given one: as many threads as the machine
    /// has cores, at least 2.
    #[must_use]
    pub fn shared() -> Self {
        static SHARED: OnceLock<EvaluationPool> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(2, usize::from);
                EvaluationPool::new(cores.max(2))
            })
            .clone()
    }

    /// Threads alive now (abandoned ones included).
    #[must_use]
    pub fn threads(&self) -> usize {
        self.inner.lock().threads
    }

    /// Threads still running an evaluation that was given up.
    #[must_use]
    pub fn abandoned(&self) -> usize {
        self.inner.lock().abandoned
    }

    /// How many batches the pool's threads have started: a thread taking a route from
    /// the pool's queue and evaluating its waiting events in a row. Far fewer than the
    /// events evaluated when a busy route's events are batched.
    #[must_use]
    pub fn batches(&self) -> usize {
        self.inner.batches.load(Ordering::Relaxed)
    }

    /// The most threads that have served one route at the same time.
    #[must_use]
    pub fn widest_route(&self) -> usize {
        self.inner.widest.load(Ordering::Relaxed)
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a route waits for a thread.
    fn others_waiting(&self) -> bool {
        self.ready_len.load(Ordering::Relaxed) > 0
    }

    /// Queues `route` (not queued yet) for a thread: wakes an idle one, or starts one
    /// when none is idle and the pool has room; else a busy thread takes it when its
    /// batch ends.
    fn schedule(self: &Arc<Self>, route: Arc<RouteQueue>) -> Result<(), String> {
        let mut state = self.lock();
        state.ready.push_back(route);
        self.ready_len.store(state.ready.len(), Ordering::Relaxed);
        if state.idle >= state.ready.len() || state.threads >= self.size + state.abandoned {
            if state.idle > 0 {
                self.wake.notify_one();
            }
            return Ok(());
        }
        let inner = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("weft-eval".to_owned())
            .stack_size(budget::EVALUATION_STACK)
            .spawn(move || {
                budget::mark_evaluation_thread();
                inner.serve();
            });
        match spawned {
            Ok(_) => {
                state.threads += 1;
                Ok(())
            }
            Err(error) if state.threads == 0 => {
                state.ready.pop_back();
                self.ready_len.store(state.ready.len(), Ordering::Relaxed);
                Err(format!("cannot start an evaluation thread: {error}"))
            }
            // The threads there are will take the route.
            Err(_) => Ok(()),
        }
    }

    /// A thread's life: serve routes in turn until the pool has more threads than it
    /// needs (one that ran a given-up evaluation came back).
    fn serve(self: &Arc<Self>) {
        while let Some(route) = self.next_route() {
            self.batches.fetch_add(1, Ordering::Relaxed);
            route.serve(self);
        }
    }

    /// The route at the front of the queue; waits for one. `None`: this thread ends.
    fn next_route(&self) -> Option<Arc<RouteQueue>> {
        let mut state = self.lock();
        loop {
            if state.threads > self.size + state.abandoned {
                state.threads -= 1;
                return None;
            }
            if let Some(route) = state.ready.pop_front() {
                self.ready_len.store(state.ready.len(), Ordering::Relaxed);
                return Some(route);
            }
            state.idle += 1;
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.idle -= 1;
        }
    }

    /// A running evaluation is given up: one more thread may serve in its place.
    fn abandon(&self) {
        self.lock().abandoned += 1;
    }

    /// A given-up evaluation ended at last (or was not given up after all).
    fn abandoned_evaluation_ended(&self) {
        let mut state = self.lock();
        state.abandoned = state.abandoned.saturating_sub(1);
    }
}

/// Where an evaluation is; moves forward only.
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
/// Given up because the route stopped.
const ABANDONED: u8 = 3;
/// Given up at the hard limit: counted in the route's `runaway` gauge.
const RUNAWAY: u8 = 4;

/// One event handed to the pool: the event, where its evaluation is, and its result.
struct Slot {
    event: CloudEvent,
    phase: AtomicU8,
    /// When a thread started the evaluation.
    started: OnceLock<Instant>,
    /// Set before the phase moves to [`DONE`].
    result: Mutex<Option<Result<CloudEvent, TransformError>>>,
    /// Notified once, when the phase is [`DONE`].
    done: Notify,
}

impl Slot {
    fn new(event: CloudEvent) -> Self {
        Slot {
            event,
            phase: AtomicU8::new(QUEUED),
            started: OnceLock::new(),
            result: Mutex::new(None),
            done: Notify::new(),
        }
    }

    fn result(&self) -> MutexGuard<'_, Option<Result<CloudEvent, TransformError>>> {
        self.result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One route's side of the pool: its transform, budget, cancel flag and runaway gauge,
/// and its events waiting for a thread.
struct RouteQueue {
    spec: Arc<RouteSpec>,
    /// The route's budget, stopped by its cancel flag.
    budget: Budget,
    cancel: Arc<AtomicBool>,
    /// Set when an evaluation's thread froze at the memory ceiling.
    frozen: Arc<AtomicBool>,
    /// Evaluations of this route given up and still running.
    runaway: watch::Sender<u64>,
    state: Mutex<RouteState>,
}

#[derive(Default)]
struct RouteState {
    waiting: VecDeque<Arc<Slot>>,
    /// Threads evaluating this route's events now.
    serving: usize,
    /// In the pool's queue.
    queued: bool,
}

impl RouteQueue {
    fn lock(&self) -> MutexGuard<'_, RouteState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the route starts no evaluation now: it is stopping, or one of its
    /// evaluations runs away.
    fn halted(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || *self.runaway.borrow() != 0
    }

    /// Whether the route should be queued for a(nother) thread.
    fn wants_thread(&self, state: &RouteState, size: usize) -> bool {
        !state.queued
            && !state.waiting.is_empty()
            && state.serving < size
            && (state.serving == 0 || state.waiting.len() > state.serving)
            && !self.halted()
    }

    /// Queues `slot`, and the route for a thread when it needs one.
    fn push(self: &Arc<Self>, pool: &Arc<PoolInner>, slot: &Arc<Slot>) -> Result<(), String> {
        let schedule = {
            let mut state = self.lock();
            state.waiting.push_back(Arc::clone(slot));
            let wanted = self.wants_thread(&state, pool.size);
            state.queued |= wanted;
            wanted
        };
        if schedule && let Err(error) = pool.schedule(Arc::clone(self)) {
            self.lock().queued = false;
            advance(&slot.phase, QUEUED, ABANDONED);
            return Err(error);
        }
        Ok(())
    }

    /// Queues the route for a thread if it needs one.
    fn kick(self: &Arc<Self>, pool: &Arc<PoolInner>) {
        let wanted = {
            let mut state = self.lock();
            let wanted = self.wants_thread(&state, pool.size);
            state.queued |= wanted;
            wanted
        };
        if wanted {
            let _ = pool.schedule(Arc::clone(self));
        }
    }

    /// One batch on the calling pool thread: the route's waiting events, one after
    /// another, until there are none, the route halts, or its turn is over while
    /// another route waits.
    fn serve(self: &Arc<Self>, pool: &Arc<PoolInner>) {
        let more = {
            let mut state = self.lock();
            state.queued = false;
            state.serving += 1;
            pool.widest.fetch_max(state.serving, Ordering::Relaxed);
            let more = self.wants_thread(&state, pool.size);
            state.queued |= more;
            more
        };
        // An error: the threads there are serve the route.
        if more {
            let _ = pool.schedule(Arc::clone(self));
        }
        let turn = Instant::now();
        let mut evaluated = 0_usize;
        loop {
            let slot = {
                let mut state = self.lock();
                let over =
                    (evaluated >= BATCH || turn.elapsed() >= QUANTUM) && pool.others_waiting();
                match state.waiting.pop_front() {
                    Some(slot) if !over && !self.halted() => slot,
                    next => {
                        if let Some(slot) = next {
                            state.waiting.push_front(slot);
                        }
                        state.serving -= 1;
                        let again = self.wants_thread(&state, pool.size);
                        state.queued |= again;
                        drop(state);
                        if again {
                            let _ = pool.schedule(Arc::clone(self));
                        }
                        return;
                    }
                }
            };
            self.evaluate(pool, &slot);
            evaluated += 1;
        }
    }

    /// Evaluates one event on this thread, unless it was abandoned while it waited.
    fn evaluate(&self, pool: &PoolInner, slot: &Slot) {
        if !advance(&slot.phase, QUEUED, RUNNING) {
            return;
        }
        let _ = slot.started.set(Instant::now());
        let result = explain::transform_metered(&self.spec, &slot.event, &self.budget.start());
        *slot.result() = Some(result);
        if advance(&slot.phase, RUNNING, DONE) {
            slot.done.notify_one();
            return;
        }
        // Given up while it ran: the pool (and for a runaway the route) counted it; it
        // ended at last.
        drop(slot.result().take());
        pool.abandoned_evaluation_ended();
        if slot.phase.load(Ordering::Acquire) == RUNAWAY {
            self.runaway
                .send_modify(|count| *count = count.saturating_sub(1));
        }
    }
}

/// What came of one event's evaluation.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per event, returned at once, never stored"
)]
pub(crate) enum Evaluated {
    /// It finished (within its budget, or stopped by it: see
    /// [`TransformError::is_over_budget`]).
    Done(Result<Outcome, TransformError>),
    /// It ran past the hard limit and was given up; it may still be running.
    Runaway {
        /// How long it had run.
        after: Duration,
        /// Whether the route has an evaluation frozen at the memory ceiling (which
        /// never ends).
        frozen: bool,
    },
    /// The route stopped first.
    Stopped,
    /// No thread could run it.
    Unavailable(String),
}

/// One route's evaluations: its filter and transform, where they run, its cancel flag
/// and how many of its evaluations run away now.
pub(crate) struct RouteEvaluator {
    pool: EvaluationPool,
    /// No jq step: bounded work, evaluated on the route's task.
    inline: bool,
    queue: Arc<RouteQueue>,
}

impl RouteEvaluator {
    pub(crate) fn new(pool: EvaluationPool, spec: &Arc<RouteSpec>) -> Self {
        let cancel = Arc::new(AtomicBool::new(false));
        let frozen = Arc::new(AtomicBool::new(false));
        RouteEvaluator {
            pool,
            inline: !spec
                .transform
                .iter()
                .any(|step| matches!(step, Step::Jq(_))),
            queue: Arc::new(RouteQueue {
                spec: Arc::clone(spec),
                budget: Budget::new(spec.budget)
                    .with_cancel(Arc::clone(&cancel))
                    .with_frozen_flag(Arc::clone(&frozen)),
                cancel,
                frozen,
                runaway: watch::Sender::new(0),
                state: Mutex::new(RouteState::default()),
            }),
        }
    }

    /// The flag that stops this route's evaluations from inside.
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.queue.cancel)
    }

    /// Evaluations of this route given up and still running.
    pub(crate) fn runaway(&self) -> u64 {
        *self.queue.runaway.borrow()
    }

    /// Runs the route's filter and transform over `event`: the filter here, the
    /// transform on the pool when it has a jq step. Waits first while an evaluation of
    /// the route runs away. Returns early when `stop` fires.
    pub(crate) async fn evaluate(
        &self,
        event: &CloudEvent,
        stop: &watch::Receiver<bool>,
    ) -> Evaluated {
        let queue = &self.queue;
        if self.inline {
            let budget = Budget::new(queue.budget.time());
            return Evaluated::Done(explain::process_metered(
                &queue.spec,
                event,
                &budget.start(),
            ));
        }
        if !explain::passes_filter(&queue.spec, event) {
            return Evaluated::Done(Ok(Outcome::Dropped));
        }
        let mut stop = stop.clone();
        if self.runaway() != 0 {
            let mut runaway = queue.runaway.subscribe();
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => return Evaluated::Stopped,
                _ = runaway.wait_for(|count| *count == 0) => {}
            }
        }
        let slot = Arc::new(Slot::new(event.clone()));
        if let Err(error) = queue.push(&self.pool.inner, &slot) {
            return Evaluated::Unavailable(error);
        }
        let limit = queue.budget.time().saturating_add(GRACE);
        loop {
            if slot.phase.load(Ordering::Acquire) == DONE {
                let result = slot
                    .result()
                    .take()
                    .map(|result| result.map(Outcome::Delivered));
                return match result {
                    Some(result) => self.finished(result),
                    None => Evaluated::Unavailable("the evaluation left no result".to_owned()),
                };
            }
            // The hard limit counts from the evaluation's start; until it starts, look
            // again a limit from now.
            let deadline = slot
                .started
                .get()
                .map_or_else(Instant::now, |started| *started)
                .checked_add(limit);
            let sleep = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = slot.done.notified() => {}
                _ = stop.wait_for(|stopped| *stopped) => {
                    // Never started: no thread will start it. Started: give it up.
                    if !advance(&slot.phase, QUEUED, ABANDONED) {
                        self.give_up(&slot, ABANDONED);
                    }
                    return Evaluated::Stopped;
                }
                () = sleep => {
                    let overdue = slot
                        .started
                        .get()
                        .is_some_and(|started| started.elapsed() >= limit);
                    if overdue && self.give_up(&slot, RUNAWAY) {
                        let frozen = queue.frozen.load(Ordering::Acquire);
                        return Evaluated::Runaway { after: limit, frozen };
                    }
                }
            }
        }
    }

    /// A result, unless the route's stop cancelled the evaluation.
    fn finished(&self, result: Result<Outcome, TransformError>) -> Evaluated {
        if result.is_err() && self.queue.cancel.load(Ordering::Relaxed) {
            return Evaluated::Stopped;
        }
        Evaluated::Done(result)
    }

    /// Marks a running evaluation given up (`how`: [`ABANDONED`] or [`RUNAWAY`]);
    /// false when it already ended. The counts go up before the phase moves, so that
    /// the thread, which takes them down when it sees the phase, never does so first.
    fn give_up(&self, slot: &Slot, how: u8) -> bool {
        let pool = &self.pool.inner;
        pool.abandon();
        if how == RUNAWAY {
            self.queue.runaway.send_modify(|count| *count += 1);
        }
        if advance(&slot.phase, RUNNING, how) {
            return true;
        }
        pool.abandoned_evaluation_ended();
        if how == RUNAWAY {
            self.queue
                .runaway
                .send_modify(|count| *count = count.saturating_sub(1));
            // A thread may have seen the route halted meanwhile and left it.
            self.queue.kick(pool);
        }
        false
    }
}

/// Moves `phase` from `from` to `to`; false when it was elsewhere.
fn advance(phase: &AtomicU8, from: u8, to: u8) -> bool {
    phase
        .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}
