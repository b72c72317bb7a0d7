//! The evaluation budget of one event: how long its filter and transform may run, and
//! how they are stopped from inside when they run longer.
//!
//! jaq evaluates lazily and offers no fuel or interrupt hook of its own. It does ask its
//! global data for the program's lookup table every time it evaluates a term
//! (`HasLut::lut`), and native filters can read that data too; jq steps run with a
//! [`Meter`] as that data (see `jq.rs`), so every term evaluated, and every value
//! `range` produces, passes through [`Meter::tick`]. Every `CHECK_EVERY` (256) ticks the
//! meter looks at the clock and at the route's cancel flag. When the deadline has
//! passed, or the route is stopping, or the program has used more than
//! [`STACK_LIMIT`] of the thread's stack (a recursion without a base case, which would
//! otherwise overflow the stack and abort the process), the meter unwinds out of the
//! evaluation with [`std::panic::resume_unwind`] and an [`Interrupt`] payload, which
//! [`Meter::run`] catches and turns into an error. `resume_unwind` does not call the
//! panic hook, so nothing is printed. This needs `panic = "unwind"`, Rust's default,
//! which the workspace keeps: built with `panic = "abort"` (as fuzzers build), the
//! first stop would end the process instead of the event.
//!
//! Unwinding drops every value the evaluation made; the compiled program is immutable
//! and shared, so it is left as it was.
//!
//! The stack limit only holds on a thread with a known stack, so [`Meter::run`] runs
//! the work on one ([`EVALUATION_STACK`]).
//!
//! **Memory.** While [`Meter::run`] runs the work, the thread is metered by weft's
//! global allocator (`weft-alloc`): every byte it allocates counts, every byte it frees
//! comes off. Every tick looks at what the evaluation holds (a thread-local read), and
//! above [`MEMORY_LIMIT`] the meter unwinds like at the deadline
//! ([`Interrupt::OverMemory`]). So a program that builds a large value step by step
//! (`[range(1e9)]`, `reduce range(1e7) as $i ([]; . + [$i])`) is stopped within a step
//! of the limit, and its values are dropped. One native operation can allocate much
//! without a tick (`"x" * 10000000000`, printing a value built by sharing): an allocation that
//! would take the evaluation past [`MEMORY_CEILING`] never returns — the thread is
//! *frozen* for good, holding at most the ceiling, and the runtime gives it up like an
//! evaluation that runs away.
//!
//! **Depth.** A value nested `d` levels deep takes at least 56 bytes a level (an array
//! of one element: its `Rc` box and its buffer), so an evaluation that holds at most
//! [`MEMORY_LIMIT`] at every tick holds no value deeper than about 600,000 levels.
//! Dropping, comparing, hashing and printing such a value recurse once per level
//! inside jaq, printing with up to about 1.3 KB of stack a level (measured): the
//! [`EVALUATION_STACK`] has room for that below the [`STACK_LIMIT`] the program itself
//! may use.
//!
//! What the meter cannot stop is one native operation that runs long without
//! evaluating a term (comparing a value built by sharing, like 60 nested `[., .]`, with
//! itself): the runtime runs evaluations on threads of its own and stops waiting for
//! them (`runtime/evaluate.rs`).

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The default time budget of one event's filter and transform (`budget` of a Route).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(1);

/// The stack of every thread a metered evaluation runs on: the runtime's evaluation
/// threads, and a thread of this size that [`Meter::run`] starts for callers on other
/// threads (route tests, `weft flow explain`). Only the pages used are committed, so
/// the size is a limit, not a cost (address space is reserved). One size everywhere,
/// so that a program recurses as deep in `weft flow test` as in the running route.
/// Room for [`STACK_LIMIT`] plus printing the deepest value [`MEMORY_LIMIT`] allows.
pub const EVALUATION_STACK: usize = 1024 * 1024 * 1024;

/// The most stack an evaluation may use, counted from where it started (a few thousand
/// levels of jq recursion): [`EVALUATION_STACK`] less room for dropping and printing
/// what the program built.
pub const STACK_LIMIT: usize = 48 * 1024 * 1024;

/// The most memory one jq step may hold, checked at every tick: what it allocated and
/// has not freed since it started (its input included).
pub const MEMORY_LIMIT: usize = 32 * 1024 * 1024;

/// The most memory one jq step may ever hold: an allocation past it freezes the
/// evaluation's thread for good (see the module's doc). Room above [`MEMORY_LIMIT`] for
/// one native operation that allocates a few times what its input holds.
pub const MEMORY_CEILING: usize = 4 * MEMORY_LIMIT;

thread_local! {
    /// Whether this thread has an [`EVALUATION_STACK`].
    static ON_EVALUATION_STACK: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as one started with an [`EVALUATION_STACK`].
pub(crate) fn mark_evaluation_thread() {
    ON_EVALUATION_STACK.with(|flag| flag.set(true));
}

/// How many ticks pass between two looks at the clock (a tick costs an increment; a
/// look at the clock tens of nanoseconds).
const CHECK_EVERY: u32 = 256;

/// Why an evaluation was stopped from inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// It ran past its deadline.
    OverBudget,
    /// It recursed deeper than [`STACK_LIMIT`].
    TooDeep,
    /// It held more than [`MEMORY_LIMIT`].
    OverMemory,
    /// The route is stopping.
    Cancelled,
}

/// What one event's evaluation may use: a time budget from its start, and the route's
/// cancel flag (set when the route stops).
#[derive(Debug, Clone)]
pub struct Budget {
    time: Duration,
    cancel: Option<Arc<AtomicBool>>,
    frozen: Option<Arc<AtomicBool>>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_BUDGET)
    }
}

impl Budget {
    /// A budget of `time`, not cancellable.
    #[must_use]
    pub fn new(time: Duration) -> Self {
        Budget {
            time,
            cancel: None,
            frozen: None,
        }
    }

    /// The same budget, stopped early when `cancel` becomes true.
    #[must_use]
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The same budget, setting `frozen` when an evaluation's thread is frozen at the
    /// [`MEMORY_CEILING`].
    #[must_use]
    pub fn with_frozen_flag(mut self, frozen: Arc<AtomicBool>) -> Self {
        self.frozen = Some(frozen);
        self
    }

    /// The time budget.
    #[must_use]
    pub fn time(&self) -> Duration {
        self.time
    }

    /// A meter whose deadline is `time` from now.
    #[must_use]
    pub fn start(&self) -> Meter {
        Meter {
            deadline: Instant::now().checked_add(self.time),
            cancel: self.cancel.clone(),
            frozen: self.frozen.clone(),
            ticks: AtomicU32::new(0),
            stack_base: AtomicUsize::new(0),
            budget: self.time,
        }
    }
}

/// A running evaluation's budget: its deadline, its route's cancel flag and where its
/// stack started. Used by one thread at a time (the atomics are there so that
/// [`Self::run`] can hand it to a thread with a large stack; only plain loads and
/// stores are used).
#[derive(Debug)]
pub struct Meter {
    deadline: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
    /// Set if the thread is frozen at the memory ceiling.
    frozen: Option<Arc<AtomicBool>>,
    ticks: AtomicU32,
    /// Where the stack was when [`Self::run`] started the work.
    stack_base: AtomicUsize,
    budget: Duration,
}

impl Meter {
    /// The time budget this meter was started with.
    #[must_use]
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Counts one step of work; unwinds with an [`Interrupt`] (caught by
    /// [`Self::run`]) when the evaluation must stop.
    pub fn tick(&self) {
        let ticks = self.ticks.load(Ordering::Relaxed).wrapping_add(1);
        self.ticks.store(ticks, Ordering::Relaxed);
        if stack_position().abs_diff(self.stack_base.load(Ordering::Relaxed)) > STACK_LIMIT {
            resume_unwind(Box::new(Interrupt::TooDeep));
        }
        if weft_alloc::held() > MEMORY_LIMIT.cast_signed() {
            resume_unwind(Box::new(Interrupt::OverMemory));
        }
        if !ticks.is_multiple_of(CHECK_EVERY) {
            return;
        }
        if self
            .cancel
            .as_ref()
            .is_some_and(|cancel| cancel.load(Ordering::Relaxed))
        {
            resume_unwind(Box::new(Interrupt::Cancelled));
        }
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            resume_unwind(Box::new(Interrupt::OverBudget));
        }
    }

    /// Runs `work` on a thread with an [`EVALUATION_STACK`] — this one when it has one,
    /// else a thread started for it — turning an interrupt raised by [`Self::tick`]
    /// into `Err`. Any other panic inside `work` is returned as `Err(None)`, so that a
    /// bug in the evaluator fails one event instead of taking down the thread; so is a
    /// thread that cannot be started.
    ///
    /// # Errors
    /// `Some(interrupt)` when the meter stopped the work, `None` when it panicked or
    /// could not run.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, Option<Interrupt>> {
        let guarded = || {
            self.stack_base.store(stack_position(), Ordering::Relaxed);
            let unflagged = AtomicBool::new(false);
            let frozen = self.frozen.as_deref().unwrap_or(&unflagged);
            let _metered = weft_alloc::meter(MEMORY_CEILING, frozen);
            catch_unwind(AssertUnwindSafe(work)).map_err(|payload| interrupt_of(&*payload))
        };
        if ON_EVALUATION_STACK.with(Cell::get) {
            return guarded();
        }
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name("weft-eval".to_owned())
                .stack_size(EVALUATION_STACK)
                .spawn_scoped(scope, || {
                    mark_evaluation_thread();
                    guarded()
                });
            match thread {
                Ok(thread) => thread.join().unwrap_or(Err(None)),
                Err(_) => Err(None),
            }
        })
    }
}

fn interrupt_of(payload: &(dyn Any + Send)) -> Option<Interrupt> {
    payload.downcast_ref::<Interrupt>().copied()
}

/// Roughly where the stack is now: the address of a local. Only differences between two
/// positions on one thread are used.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0_u8;
    std::ptr::from_ref(std::hint::black_box(&marker)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_stops_work_past_its_deadline() {
        let meter = Budget::new(Duration::from_millis(20)).start();
        let started = Instant::now();
        let result = meter.run(|| {
            loop {
                meter.tick();
            }
        });
        assert_eq!(result, Err::<(), _>(Some(Interrupt::OverBudget)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_meter_stops_work_when_cancelled() {
        let cancel = Arc::new(AtomicBool::new(true));
        let meter = Budget::new(Duration::from_secs(60))
            .with_cancel(cancel)
            .start();
        let result = meter.run(|| {
            loop {
                meter.tick();
            }
        });
        assert_eq!(result, Err::<(), _>(Some(Interrupt::Cancelled)));
    }

    #[test]
    fn a_meter_stops_deep_recursion_before_the_stack_ends() {
        fn recurse(meter: &Meter, depth: u64) -> u64 {
            meter.tick();
            if depth == u64::MAX {
                return depth;
            }
            let below = recurse(meter, depth + 1);
            std::hint::black_box(below) + 1
        }
        let meter = Budget::new(Duration::from_secs(60)).start();
        assert_eq!(
            meter.run(|| recurse(&meter, 0)),
            Err(Some(Interrupt::TooDeep))
        );
    }

    #[test]
    fn a_meter_stops_work_that_holds_more_than_the_memory_limit() {
        assert!(
            weft_alloc::installed(),
            "weft-flow installs the metering allocator"
        );
        let meter = Budget::new(Duration::from_secs(60)).start();
        let result = meter.run(|| {
            let mut kept: Vec<Vec<u8>> = Vec::new();
            loop {
                kept.push(vec![1; 64 * 1024]);
                meter.tick();
            }
        });
        assert_eq!(result, Err::<(), _>(Some(Interrupt::OverMemory)));
        // What it held was freed; the next evaluation starts from nothing.
        assert_eq!(meter.run(|| weft_alloc::held() < 1024), Ok(true));
    }

    #[test]
    fn other_panics_are_reported_without_an_interrupt() {
        let meter = Budget::default().start();
        let result = meter.run(|| -> u8 { resume_unwind(Box::new("boom")) });
        assert_eq!(result, Err(None));
        assert_eq!(meter.run(|| 7), Ok(7));
    }
}
