//! Where routes evaluate their filters and transforms: on a small pool of OS threads of
//! their own, never on the async workers.
//!
//! A jq program can run for as long as its author made it (`def f: f; f`). Run inline on
//! a tokio worker it would pin that worker; two such events would stop the node's HTTP,
//! Kafka and MQTT service, its shutdown and the controller that could delete the route.
//! So every event's evaluation (filter, then transform: `explain::process_metered`) of
//! a route with a jq step is a job for an [`EvaluationPool`], and the route's task only
//! awaits its answer. Not `spawn_blocking`: its threads are shared with the node's
//! blocking file I/O, and a runaway evaluation there would hold one of them for good.
//!
//! A route without a jq step evaluates inline, on its task: CESQL has no loops or
//! recursion (`LIKE` is at worst pattern × text), the data is parsed at most once per
//! expression, and `set`, `delete` and `move` steps are linear in the event, so its
//! work is bounded by the size of the event and the manifest — a hop to another thread
//! would cost more than it saves.
//!
//! Two limits apply to each evaluation:
//!
//! 1. **The budget** (`budget` of the route, default 1 s), enforced from inside by the
//!    evaluation's meter (`transform::budget`): the program is stopped, its thread is
//!    free again, and the event fails with `over-budget`.
//! 2. **The hard limit**, [`GRACE`] past the budget, enforced from outside: an
//!    evaluation the meter could not stop (one native operation that runs long, like
//!    comparing two values built by sharing) is given up. The event is dead-lettered
//!    (`over-budget`), the thread is *abandoned* — it goes on until the operation ends,
//!    and is counted — and the pool may start one more thread in its place, so that the
//!    other routes keep their capacity. The route itself takes no new event while one
//!    of its evaluations runs away (its status says so: `OverBudget`): one bad route
//!    costs the node at most the threads it was running then (its share, below) until
//!    the evaluations end, or the route is deleted or changed (then those threads are
//!    abandoned for good and go away with the process; each keeps a core busy).
//!
//! A route that stops (deleted, changed, the node shutting down) does not wait for its
//! evaluations: it sets their cancel flag, which the meter sees within microseconds,
//! and abandons them; their events count as `abandoned`.
//!
//! Each route may run at most half the pool's threads at once (at least one), so one
//! busy route leaves room for the others. The pool's queue holds at most that many jobs
//! per route, so it is bounded by the number of routes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot, watch};
use weft_core::CloudEvent;

use crate::explain::{self, Outcome};
use crate::manifest::route::RouteSpec;
use crate::transform::{Budget, Step, TransformError, budget};

/// How long past its budget an evaluation may run before it is given up.
pub const GRACE: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool of OS threads for route evaluations. Cheap to clone (a handle).
#[derive(Clone)]
pub struct EvaluationPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    /// Threads that serve jobs (abandoned ones not counted).
    size: usize,
    state: Mutex<PoolState>,
    wake: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    /// Threads alive, abandoned ones included.
    threads: usize,
    /// Threads waiting for a job.
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

    /// How many evaluations one route may run at once.
    fn share(&self) -> usize {
        (self.inner.size / 2).max(1)
    }

    /// Queues `job`, starting a thread when none is idle and the pool has room.
    fn submit(&self, job: Job) -> Result<(), String> {
        let mut state = self.inner.lock();
        state.jobs.push_back(job);
        if state.idle >= state.jobs.len() || state.threads >= self.inner.size + state.abandoned {
            self.inner.wake.notify_one();
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
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
                state.jobs.pop_back();
                Err(format!("cannot start an evaluation thread: {error}"))
            }
            // The threads there are will take the job.
            Err(_) => Ok(()),
        }
    }

    /// A running job was given up: one more thread may serve in its place.
    fn abandon(&self) {
        self.inner.lock().abandoned += 1;
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A thread's life: take jobs until the pool has more threads than it needs (one
    /// that ran a given-up job came back).
    fn serve(&self) {
        loop {
            let job = {
                let mut state = self.lock();
                loop {
                    if state.threads > self.size + state.abandoned {
                        state.threads -= 1;
                        return;
                    }
                    if let Some(job) = state.jobs.pop_front() {
                        break job;
                    }
                    state.idle += 1;
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    state.idle -= 1;
                }
            };
            job();
        }
    }

    /// The given-up job that ran on this thread ended at last.
    fn abandoned_job_ended(&self) {
        let mut state = self.lock();
        state.abandoned = state.abandoned.saturating_sub(1);
    }
}

/// Where a job is; moves forward only.
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
/// Given up because the route stopped.
const ABANDONED: u8 = 3;
/// Given up at the hard limit: counted in the route's `runaway` gauge.
const RUNAWAY: u8 = 4;

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
    },
    /// The route stopped first.
    Stopped,
    /// No thread could run it.
    Unavailable(String),
}

/// One route's evaluations: its budget, its share of the pool, its cancel flag and how
/// many of its evaluations run away now.
pub(crate) struct RouteEvaluator {
    pool: EvaluationPool,
    budget: Duration,
    /// No jq step: bounded work, evaluated on the route's task.
    inline: bool,
    permits: Arc<Semaphore>,
    cancel: Arc<AtomicBool>,
    runaway: Arc<watch::Sender<u64>>,
}

impl RouteEvaluator {
    pub(crate) fn new(pool: EvaluationPool, spec: &RouteSpec) -> Self {
        let permits = Arc::new(Semaphore::new(pool.share()));
        RouteEvaluator {
            pool,
            budget: spec.budget,
            inline: !spec
                .transform
                .iter()
                .any(|step| matches!(step, Step::Jq(_))),
            permits,
            cancel: Arc::new(AtomicBool::new(false)),
            runaway: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The flag that stops this route's evaluations from inside.
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Evaluations of this route given up and still running.
    pub(crate) fn runaway(&self) -> u64 {
        *self.runaway.borrow()
    }

    /// Runs `spec`'s filter and transform over `event` on the pool. Waits first while
    /// an earlier evaluation of the route runs away. Returns early when `stop` fires.
    pub(crate) async fn evaluate(
        &self,
        spec: &Arc<RouteSpec>,
        event: &CloudEvent,
        stop: &watch::Receiver<bool>,
    ) -> Evaluated {
        if self.inline {
            let budget = Budget::new(self.budget);
            return Evaluated::Done(explain::process_metered(spec, event, &budget.start()));
        }
        let mut stop = stop.clone();
        let mut runaway = self.runaway.subscribe();
        let _permit = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => return Evaluated::Stopped,
            permit = async {
                let _ = runaway.wait_for(|count| *count == 0).await;
                self.permits.acquire().await
            } => match permit {
                Ok(permit) => permit,
                Err(_) => return Evaluated::Stopped,
            },
        };
        let phase = Arc::new(AtomicU8::new(QUEUED));
        let (started_tx, started_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let job = self.job(spec, event, &phase, started_tx, done_tx);
        if let Err(error) = self.pool.submit(job) {
            return Evaluated::Unavailable(error);
        }
        tokio::select! {
            _ = started_rx => {}
            _ = stop.wait_for(|stopped| *stopped) => {
                // Never started: it will see ABANDONED and not run. Started: give it up.
                if !advance(&phase, QUEUED, ABANDONED) {
                    self.give_up(&phase, ABANDONED);
                }
                return Evaluated::Stopped;
            }
        }
        let limit = self.budget.saturating_add(GRACE);
        let mut done_rx = done_rx;
        let gone = || Evaluated::Unavailable("the evaluation thread ended".to_owned());
        let timed_out = tokio::select! {
            done = tokio::time::timeout(limit, &mut done_rx) => match done {
                Ok(Ok(result)) => return self.finished(result),
                Ok(Err(_)) => return gone(),
                Err(_) => true,
            },
            _ = stop.wait_for(|stopped| *stopped) => false,
        };
        if !timed_out {
            self.give_up(&phase, ABANDONED);
            return Evaluated::Stopped;
        }
        if self.give_up(&phase, RUNAWAY) {
            self.runaway.send_modify(|count| *count += 1);
            return Evaluated::Runaway { after: limit };
        }
        // It finished just now: its result is on the way.
        match done_rx.await {
            Ok(result) => self.finished(result),
            Err(_) => gone(),
        }
    }

    /// A result, unless the route's stop cancelled the evaluation.
    fn finished(&self, result: Result<Outcome, TransformError>) -> Evaluated {
        if result.is_err() && self.cancel.load(Ordering::Relaxed) {
            return Evaluated::Stopped;
        }
        Evaluated::Done(result)
    }

    /// Marks a running evaluation given up (`how`: [`ABANDONED`] or [`RUNAWAY`]);
    /// false when it already ended.
    fn give_up(&self, phase: &AtomicU8, how: u8) -> bool {
        if advance(phase, RUNNING, how) {
            self.pool.abandon();
            true
        } else {
            false
        }
    }

    /// The job that evaluates `event` on a pool thread.
    fn job(
        &self,
        spec: &Arc<RouteSpec>,
        event: &CloudEvent,
        phase: &Arc<AtomicU8>,
        started: oneshot::Sender<()>,
        done: oneshot::Sender<Result<Outcome, TransformError>>,
    ) -> Job {
        let spec = Arc::clone(spec);
        let event = event.clone();
        let phase = Arc::clone(phase);
        let budget = Budget::new(self.budget).with_cancel(Arc::clone(&self.cancel));
        let pool = Arc::clone(&self.pool.inner);
        let runaway = Arc::clone(&self.runaway);
        Box::new(move || {
            if !advance(&phase, QUEUED, RUNNING) {
                return;
            }
            let _ = started.send(());
            let result = explain::process_metered(&spec, &event, &budget.start());
            if !advance(&phase, RUNNING, DONE) {
                // Given up while it ran: the pool (and for a runaway the route) counted
                // it; it ended at last.
                pool.abandoned_job_ended();
                if phase.load(Ordering::Acquire) == RUNAWAY {
                    runaway.send_modify(|count| *count = count.saturating_sub(1));
                }
                return;
            }
            let _ = done.send(result);
        })
    }
}

/// Moves `phase` from `from` to `to`; false when it was elsewhere.
fn advance(phase: &AtomicU8, from: u8, to: u8) -> bool {
    phase
        .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}
