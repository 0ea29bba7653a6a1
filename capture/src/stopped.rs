//! The processes in a group-stop (job control), shared by every tracer
//! thread: a group-stop is recorded once per process, by whichever tracer
//! sees one of its threads stop first, even when its threads are served
//! by several tracers (`--tracers N`).
//!
//! **Invariant:** a process is in the set from the first group-stop report
//! of one of its threads until one of its threads reports being continued
//! (the `PTRACE_EVENT_STOP` of a listening thread that SIGCONT woke) or a
//! signal-delivery stop (SIGCONT's), or dies. Not at a syscall stop: with
//! several tracers a stop is handled some time after it happened, so a
//! syscall made *before* the group-stop may be handled after another
//! tracer recorded it; a thread continued always reports one of the two
//! first. The hot path, every such stop's [`Stopped::clear`], costs one
//! atomic load while nothing is stopped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Default)]
pub struct Stopped {
    set: Mutex<HashSet<i32>>,
    /// The set's size, read without the lock.
    len: AtomicUsize,
}

impl Stopped {
    fn lock(&self) -> MutexGuard<'_, HashSet<i32>> {
        self.set.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Process `pid` is in a group-stop: true the first time (record it).
    pub fn insert(&self, pid: i32) -> bool {
        let mut set = self.lock();
        let new = set.insert(pid);
        self.len.store(set.len(), Ordering::SeqCst);
        new
    }

    /// Whether any process is in a group-stop (one atomic load).
    pub fn any(&self) -> bool {
        self.len.load(Ordering::SeqCst) > 0
    }

    /// Process `pid` runs again, or is gone.
    pub fn clear(&self, pid: i32) {
        if self.len.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut set = self.lock();
        set.remove(&pid);
        self.len.store(set.len(), Ordering::SeqCst);
    }

    pub fn contains(&self, pid: i32) -> bool {
        self.len.load(Ordering::SeqCst) > 0 && self.lock().contains(&pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_is_recorded_once_until_the_process_runs_again() {
        let s = Stopped::default();
        assert!(!s.contains(7));
        assert!(s.insert(7));
        // Another thread of 7, maybe on another tracer: not again.
        assert!(!s.insert(7));
        assert!(s.contains(7));
        s.clear(8);
        assert!(s.contains(7));
        s.clear(7);
        assert!(!s.contains(7));
        assert!(s.insert(7), "a new stop is recorded");
    }
}
