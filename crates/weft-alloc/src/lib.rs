//! weft's global allocator: the system allocator, plus a per-thread meter that
//! `weft-flow` turns on while a jq program runs.
//!
//! jaq, the jq interpreter, has no memory limit of its own, and a jq program can build
//! values as large as it likes (`[range(1e9)]`, `"x" * 10000000000`). While a thread is
//! [`meter`]ed, every allocation it makes adds its size to the thread's *held* bytes and
//! every deallocation takes it off, so [`held`] is what the evaluation holds now. The
//! evaluation's meter in `weft-flow` reads it at every step of the program and stops
//! the program cleanly (an unwind) above its limit.
//!
//! One native operation can allocate much without a step in between (`"x" * 10000000000` asks
//! for 10 GB at once). An allocator cannot fail softly — a null pointer aborts the
//! process, and unwinding out of an allocator is undefined behaviour — so an allocation
//! that would take a metered thread's held bytes past its *ceiling* never returns: the
//! thread sets the flag it was given and parks for good (*frozen*). It holds what it
//! held (at most the ceiling), uses no CPU, and its evaluation is given up by the
//! runtime like one that runs away ([`frozen_threads`] counts them).
//!
//! Threads that are not metered pay one thread-local flag test per allocation and
//! deallocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator, metering the threads that asked for it ([`meter`]).
///
/// Installed by the binary, or by a library it links (`weft-flow` does):
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: weft_alloc::MeteredAllocator = weft_alloc::MeteredAllocator;
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct MeteredAllocator;

/// One thread's meter.
struct ThreadMeter {
    on: Cell<bool>,
    /// Bytes allocated minus bytes freed since the meter was turned on.
    held: Cell<isize>,
    ceiling: Cell<isize>,
    /// Set when the thread freezes; valid while `on` (see [`Metered`]).
    frozen: Cell<*const AtomicBool>,
}

thread_local! {
    static METER: ThreadMeter = const {
        ThreadMeter {
            on: Cell::new(false),
            held: Cell::new(0),
            ceiling: Cell::new(isize::MAX),
            frozen: Cell::new(std::ptr::null()),
        }
    };
}

/// Threads frozen at their ceiling since the process started.
static FROZEN: AtomicUsize = AtomicUsize::new(0);

/// Whether the allocator has served an allocation: false when another global
/// allocator is installed, and the meter sees nothing. Written once.
static IN_USE: AtomicBool = AtomicBool::new(false);

fn size(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}

/// Counts `bytes` more held by this thread, if it is metered; freezes it past its
/// ceiling.
#[inline]
fn charge(bytes: usize) {
    let _ = METER.try_with(|meter| {
        if !meter.on.get() {
            return;
        }
        let held = meter.held.get().saturating_add(size(bytes));
        meter.held.set(held);
        if held > meter.ceiling.get() {
            freeze(meter);
        }
    });
}

/// Counts `bytes` fewer held by this thread, if it is metered.
#[inline]
fn credit(bytes: usize) {
    let _ = METER.try_with(|meter| {
        if meter.on.get() {
            meter.held.set(meter.held.get().saturating_sub(size(bytes)));
        }
    });
}

/// Never returns: the thread stops metering (what it allocates from here on, parking
/// included, is not counted), sets its frozen flag, and parks for good.
#[cold]
fn freeze(meter: &ThreadMeter) -> ! {
    meter.on.set(false);
    let flag = meter.frozen.replace(std::ptr::null());
    if !flag.is_null() {
        // SAFETY: `flag` was set by `meter()` from a reference that outlives the
        // returned `Metered` guard, and the guard is still alive: the thread is inside
        // an allocation made under it, and never leaves it.
        #[allow(unsafe_code)]
        unsafe { &*flag }.store(true, Ordering::Release);
    }
    FROZEN.fetch_add(1, Ordering::Relaxed);
    loop {
        std::thread::park();
    }
}

// SAFETY: every method forwards to `System` with the same arguments and returns what it
// returns; the meter only counts sizes (it touches no memory) and never unwinds.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for MeteredAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !IN_USE.load(Ordering::Relaxed) {
            IN_USE.store(true, Ordering::Relaxed);
        }
        charge(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        credit(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match new_size.checked_sub(layout.size()) {
            Some(more) => charge(more),
            None => credit(layout.size() - new_size),
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A metered stretch of the calling thread; dropping it turns the meter off (and back
/// to what it was, for nested ones).
#[must_use = "the thread is metered while this lives"]
#[derive(Debug)]
pub struct Metered<'a> {
    previous: (bool, isize, isize, *const AtomicBool),
    /// Borrows the frozen flag for as long as the thread may write it; `!Send`, so it
    /// ends on the thread it started on.
    _flag: PhantomData<(&'a AtomicBool, *const ())>,
}

/// Meters the calling thread from now until the returned guard drops: [`held`] starts
/// at zero and follows what the thread allocates and frees. An allocation that would
/// take it past `ceiling` bytes sets `frozen` and never returns (see the crate's doc).
pub fn meter(ceiling: usize, frozen: &AtomicBool) -> Metered<'_> {
    let previous = METER.with(|meter| {
        (
            meter.on.replace(true),
            meter.held.replace(0),
            meter.ceiling.replace(size(ceiling)),
            meter.frozen.replace(std::ptr::from_ref(frozen)),
        )
    });
    Metered {
        previous,
        _flag: PhantomData,
    }
}

impl Drop for Metered<'_> {
    fn drop(&mut self) {
        let (on, held, ceiling, frozen) = self.previous;
        METER.with(|meter| {
            meter.on.set(on);
            meter.held.set(held);
            meter.ceiling.set(ceiling);
            meter.frozen.set(frozen);
        });
    }
}

/// The bytes the calling thread holds since its meter was turned on (0 when it is not
/// metered; may be below 0 when it freed more than it allocated since).
#[must_use]
pub fn held() -> isize {
    METER
        .try_with(|meter| if meter.on.get() { meter.held.get() } else { 0 })
        .unwrap_or(0)
}

/// Threads frozen at their ceiling since the process started.
#[must_use]
pub fn frozen_threads() -> usize {
    FROZEN.load(Ordering::Relaxed)
}

/// Whether this allocator is the process's global allocator (it has served an
/// allocation).
#[must_use]
pub fn installed() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static ALLOCATOR: MeteredAllocator = MeteredAllocator;

    #[test]
    fn a_metered_thread_counts_what_it_holds() {
        let frozen = AtomicBool::new(false);
        let guard = meter(usize::MAX, &frozen);
        assert_eq!(held(), 0);
        let kept = vec![0_u8; 1 << 20];
        assert!(held() >= 1 << 20, "{}", held());
        drop(kept);
        assert!(held() < 1024, "{}", held());
        drop(guard);
        assert_eq!(held(), 0);
        assert!(!frozen.load(Ordering::Relaxed));
    }

    #[test]
    fn other_threads_are_not_counted() {
        let frozen = AtomicBool::new(false);
        let _guard = meter(usize::MAX, &frozen);
        let elsewhere = std::thread::spawn(|| vec![0_u8; 1 << 20].len());
        assert_eq!(elsewhere.join().ok(), Some(1 << 20));
        assert!(held() < 64 * 1024, "{}", held());
    }

    #[test]
    fn an_allocation_past_the_ceiling_freezes_the_thread_with_what_it_held() {
        let frozen = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&frozen);
        let before = frozen_threads();
        let _thread = std::thread::spawn(move || {
            let _guard = meter(1 << 20, &flag);
            let small = vec![1_u8; 1000];
            // 1 TB: never granted, never touched.
            let huge = vec![0_u8; 1 << 40];
            (small.len(), huge.len())
        });
        let started = std::time::Instant::now();
        while !frozen.load(Ordering::Acquire) {
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(frozen_threads() > before);
        assert!(installed());
    }
}
