//! Moving a long-lived busy thread from the main tracer to a helper
//! (`--tracers N`, issue 19): the threads and processes round robin left
//! together on the main tracer (it cannot know at their creation which
//! will be busy) are spread out once they are seen to be busy.
//!
//! The main tracer counts its stops per thread. Every [`WINDOW`] it
//! compares its own stops with each helper's (published through the pool)
//! and picks at most one thread to move ([`choose`]). The thread moves at
//! its next syscall-exit stop, through the same park and adopt as a new
//! one ([`crate::handover`]); under a seccomp filter capture asks for that
//! exit stop. Helpers move nothing on.
//!
//! **Invariant (a move only lowers the busiest tracer's load):** a thread
//! with `p` stops in the window moves from the main tracer (load `m`) to
//! the least loaded helper (load `h`) only when `p` is under
//! [`SHARE`] of `m - h`: after the move both tracers carry less than the
//! main tracer did, so a lone busy thread never moves (it would only
//! change tracer), and two threads never trade places back and forth.
//!
//! **Invariant (no move on a transient):** a thread moves only when it is
//! the choice of two windows in a row ([`Window::choose`]), so what lasts
//! less than a window (a process's start-up beside a busy one, a burst)
//! moves nothing: without it a lone busy process was moved in the window
//! where its parent's start-up stops still counted, and lost the CPU
//! placement only the main tracer gives (found by
//! `capture_placement::a_process_on_another_tracer_sees_and_sets_the_pinned_ones_cpu_set`).
//!
//! **Unit of placement:** any thread but the launched or attached
//! process's leader (whose end the main tracer acts on), and not while its
//! process is in a group-stop. Every tracer shares one copy of the state,
//! so a thread decodes the same wherever its process's other threads are.

use std::time::{Duration, Instant};

/// How long the main tracer counts stops before it compares loads.
pub const WINDOW: Duration = Duration::from_millis(100);

/// Below this many stops in a window the main tracer is not busy: nothing
/// moves (a process stopping 20 times a second is not worth a handover).
pub const MIN_LOAD: u64 = 500;

/// Nor does a process with fewer stops in a window: moving it gains
/// nothing.
pub const MIN_MOVE: u64 = 100;

/// A process moves only when its stops are under this share (in percent)
/// of the load the main tracer has over the least loaded helper.
pub const SHARE: u64 = 80;

/// How often (in stops) the main tracer looks at its window.
pub const EVERY: u64 = 256;

/// The same with eager moves (tests): see [`Window::eager`].
pub const EAGER_EVERY: u64 = 16;

/// The main tracer's counting window.
pub struct Window {
    /// `SYSREC_FORCE_HANDOVER=moves` (tests): every [`EAGER_EVERY`] stops
    /// the busiest process that may move goes to the next helper in turn,
    /// whatever the loads, so the move runs at arbitrary exit stops of
    /// every test workload (the transparency and signal suites run so in
    /// CI).
    pub eager: bool,
    /// The eager moves' next helper.
    turn: usize,
    /// The last window's choice, which this window must repeat.
    last: Option<i32>,
    start: Instant,
    /// The main tracer's stop count when the window began.
    own: u64,
    /// Each helper's published stop count when the window began.
    helpers: Vec<u64>,
}

/// One window's loads: stops by the main tracer and by each helper.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loads {
    pub own: u64,
    pub helpers: Vec<u64>,
}

impl Window {
    pub fn new(own: u64, helpers: Vec<u64>) -> Window {
        Window {
            eager: false,
            turn: 0,
            last: None,
            start: Instant::now(),
            own,
            helpers,
        }
    }

    /// When [`WINDOW`] has passed: the loads since the window began, and a
    /// new window from the counts given.
    pub fn roll(&mut self, own: u64, helpers: Vec<u64>) -> Option<Loads> {
        if self.start.elapsed() < WINDOW && !self.eager {
            return None;
        }
        let loads = Loads {
            own: own.saturating_sub(self.own),
            helpers: helpers
                .iter()
                .enumerate()
                .map(|(i, &n)| n.saturating_sub(self.helpers.get(i).copied().unwrap_or(0)))
                .collect(),
        };
        self.start = Instant::now();
        self.own = own;
        self.helpers = helpers;
        Some(loads)
    }

    /// How often to look at the window, in stops.
    pub fn every(&self) -> u64 {
        if self.eager { EAGER_EVERY } else { EVERY }
    }

    /// What moves where after a window: [`choose`] when it picked the same
    /// thread the window before (the module's second invariant), or when
    /// eager the busiest candidate to the next helper.
    pub fn choose(&mut self, loads: &Loads, candidates: &[(i32, u64)]) -> Option<(i32, usize)> {
        if !self.eager {
            let pick = choose(loads, candidates);
            let last = std::mem::replace(&mut self.last, pick.map(|p| p.0));
            let again = pick.filter(|p| last == Some(p.0));
            if again.is_some() {
                self.last = None;
            }
            return again;
        }
        let n = loads.helpers.len();
        let &(pid, _) = candidates
            .iter()
            .filter(|c| c.1 > 0)
            .max_by_key(|&&(pid, p)| (p, std::cmp::Reverse(pid)))?;
        if n == 0 {
            return None;
        }
        self.turn = self.turn.wrapping_add(1);
        Some((pid, self.turn % n))
    }
}

/// Which of the main tracer's candidate threads (`(tid, stops in the
/// window)`, already limited to those that may move) goes to which helper,
/// if any (see the module's first invariant): the one that leaves the
/// busier of the two tracers least loaded.
pub fn choose(loads: &Loads, candidates: &[(i32, u64)]) -> Option<(i32, usize)> {
    if loads.own < MIN_LOAD {
        return None;
    }
    let (helper, least) = loads
        .helpers
        .iter()
        .copied()
        .enumerate()
        .min_by_key(|&(_, n)| n)?;
    let gap = loads.own.checked_sub(least)?;
    candidates
        .iter()
        .filter(|&&(_, p)| p >= MIN_MOVE && p.saturating_mul(100) < gap.saturating_mul(SHARE))
        .min_by_key(|&&(pid, p)| ((loads.own - p).max(least + p), pid))
        .map(|&(pid, _)| (pid, helper))
}

#[cfg(test)]
mod tests;
