//! Several tracer threads (`--tracers N`): the main tracer and its
//! helpers, what they share, and how a thread goes from one to another
//! (issue 19; ARCHITECTURE.md, "Several tracer threads").
//!
//! The main tracer (the main thread, [`crate::tracer::Tracer`]) traces the
//! launched process and everything born to it, as with one tracer. At a new
//! thread's or process's first stop (before it ran an instruction of its
//! own) it may hand it to a helper ([`Pool::pick`]):
//! [`crate::handover::park`], a message in the helper's inbox, a wake-up.
//! Later it may move a busy one the same way ([`crate::rebalance`]). The
//! helper (a `Tracer` too, on its own thread) adopts it and traces it, and
//! everything born to it, until the end. Helpers hand nothing on.
//!
//! **Invariant (unit of placement: a thread).** Every tracer decodes with
//! one shared copy of the state ([`crate::tracer::SharedState`]), applied
//! before the thread whose event changed it is resumed, so a thread's
//! stops decode the same whichever tracers serve its process's other
//! threads. Only a vfork child stays (it runs on its parent's stack, where
//! the parking call's signal set would go), and the launched process's
//! leader stays with the main tracer, which acts on its end. What spans
//! tracers when a process does: its group-stops, recorded once
//! ([`crate::stopped`]); an exec from a thread on another tracer than its
//! leader's, where the leader's tracer gets no report of the leader
//! ([`Pool::leader_replaced`]) and, for the launched process, its end is
//! seen by a helper ([`Pool::main_exited`]); and the reports of a helper's
//! tracee that is a real child of capture's main thread (the launched
//! process after such an exec, or an orphan reparented to capture), which
//! the kernel also shows the main thread as if it traced it: the main
//! tracer looks before it collects ([`crate::ptrace::peek_own`]).
//!
//! **Invariant (one stream, causal):** every tracer sends into the writer's
//! one channel. The main tracer sends a process's `ProcessStart` before it
//! hands the process over, and the helper sends the process's first event
//! after it adopted it, so the writer sees the `ProcessStart` first.
//!
//! **Waking a helper:** a helper blocks in `waitpid` while its tracees run;
//! a handover must not wait for one of them to stop. The main tracer sends
//! the helper [`signals::wake_signal`] with `tgkill`, which the helper
//! alone leaves unblocked (no `SA_RESTART`: `waitpid` returns `EINTR`). A
//! wake-up that lands between the helper's look at its inbox and its
//! `waitpid` is lost; a timer sends the helper the same signal every
//! [`BACKSTOP`], so such a handover waits at most that long (a new process
//! starting up to 10 ms later; timing aside, nothing else changes).
//!
//! **Ending:** the main tracer's loop ends when its own tracees are gone
//! and every helper has none and none waiting in its inbox
//! ([`Pool::idle`]); then it closes the pool and joins the helpers.
//! `--detach-on-exit` and the survivors of the main process are the main
//! tracer's to decide: it reads the helpers' processes from the pool
//! ([`Pool::processes`]) and tells the helpers to detach ([`Pool::detach`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::handover::Parked;
use crate::signals;
use crate::stopped::Stopped;

/// The longest a handover waits for a helper that missed its wake-up.
pub const BACKSTOP: Duration = Duration::from_millis(10);

/// A thread handed to a helper (a process's only thread, or one thread of
/// a process whose others stay elsewhere).
pub struct Handed {
    /// The thread, parked.
    pub parked: Parked,
    /// Its process.
    pub pid: i32,
}

/// What a helper shares with the main tracer.
struct Slot {
    inbox: Mutex<Option<Sender<Box<Handed>>>>,
    /// The helper thread's kernel tid, once it runs (0 before).
    tid: AtomicI32,
    /// Handovers sent and not yet taken.
    pending: AtomicUsize,
    /// Threads the helper traces (published after each stop it handled).
    tracees: AtomicUsize,
    /// Stops the helper handled so far (published with `tracees`), for
    /// [`crate::rebalance`].
    stops: AtomicU64,
}

/// Where [`Pool::pick`] sends new processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Birth {
    /// One in N to each tracer, the main one included.
    RoundRobin,
    /// Every movable process to a helper (`SYSREC_FORCE_HANDOVER=1`, for
    /// tests of the handover).
    Helpers,
    /// None: they stay with the main tracer until [`crate::rebalance`]
    /// moves the busy ones (`SYSREC_FORCE_HANDOVER=0`, for its tests).
    Main,
    /// None at birth, and the main tracer moves its processes eagerly,
    /// whatever the loads (`SYSREC_FORCE_HANDOVER=moves`, for tests of
    /// the move: [`crate::rebalance::Window::eager`]).
    Moves,
}

impl Birth {
    /// From `SYSREC_FORCE_HANDOVER`.
    pub fn from_env() -> Birth {
        match std::env::var_os("SYSREC_FORCE_HANDOVER") {
            Some(v) if v == "1" => Birth::Helpers,
            Some(v) if v == "0" => Birth::Main,
            Some(v) if v == "moves" => Birth::Moves,
            _ => Birth::RoundRobin,
        }
    }
}

/// The helpers and what every tracer shares.
pub struct Pool {
    slots: Vec<Slot>,
    /// Round robin over the main tracer (0) and the helpers (1..).
    next: AtomicUsize,
    /// Where new processes go.
    birth: Birth,
    /// Processes the helpers trace: pid -> helper.
    owned: Mutex<HashMap<i32, usize>>,
    closing: AtomicBool,
    detach: AtomicBool,
    /// Processes in a group-stop, for every tracer.
    pub stopped: Arc<Stopped>,
    /// Leaders replaced by an exec from another thread of their process,
    /// one inbox per tracer (helpers 0.., the main tracer last), which
    /// that tracer drains: the leader's old tracer gets no report of it
    /// ([`Pool::leader_replaced`]).
    replaced: Vec<News>,
    /// The launched (or attached) process, and its end when a helper saw it.
    main_pid: AtomicI32,
    main_status: Mutex<Option<i32>>,
}

/// The main tracer's index where a tracer's index is asked for (helpers
/// are 0..).
pub const MAIN: usize = usize::MAX;

/// One tracer's inbox of replaced leaders.
#[derive(Default)]
struct News {
    pids: Mutex<Vec<i32>>,
    /// Something is in `pids` (read without its lock, at every stop).
    any: AtomicBool,
}

impl Pool {
    /// A pool of `helpers` helper slots, and their inboxes' receiving ends
    /// (one per helper, for its thread).
    pub fn new(helpers: usize, birth: Birth) -> (Arc<Pool>, Vec<Receiver<Box<Handed>>>) {
        let mut slots = Vec::with_capacity(helpers);
        let mut rxs = Vec::with_capacity(helpers);
        for _ in 0..helpers {
            let (tx, rx) = channel();
            slots.push(Slot {
                inbox: Mutex::new(Some(tx)),
                tid: AtomicI32::new(0),
                pending: AtomicUsize::new(0),
                tracees: AtomicUsize::new(0),
                stops: AtomicU64::new(0),
            });
            rxs.push(rx);
        }
        let pool = Pool {
            slots,
            next: AtomicUsize::new(0),
            birth,
            owned: Mutex::new(HashMap::new()),
            closing: AtomicBool::new(false),
            detach: AtomicBool::new(false),
            stopped: Arc::default(),
            replaced: (0..=helpers).map(|_| News::default()).collect(),
            main_pid: AtomicI32::new(0),
            main_status: Mutex::new(None),
        };
        (Arc::new(pool), rxs)
    }

    /// Where the next new process goes: `Some(helper)`, or `None` to stay
    /// with the main tracer. Round robin over all tracers (every process
    /// to a helper when forced).
    pub fn pick(&self) -> Option<usize> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        match self.birth {
            Birth::Main | Birth::Moves => None,
            Birth::Helpers => Some(k % n),
            Birth::RoundRobin => match k % (n + 1) {
                0 => None,
                h => Some(h - 1),
            },
        }
    }

    /// Where new processes go.
    pub fn birth(&self) -> Birth {
        self.birth
    }

    /// Sends `h` to helper `helper` and wakes it. `Err` gives it back when
    /// the helper is gone.
    pub fn hand(&self, helper: usize, h: Box<Handed>) -> Result<(), Box<Handed>> {
        let Some(slot) = self.slots.get(helper) else {
            return Err(h);
        };
        let (pid, leader) = (h.pid, h.pid == h.parked.tid);
        slot.pending.fetch_add(1, Ordering::SeqCst);
        // Listed before the helper can see it (and see it exit), so an
        // exit never comes before the listing it removes. A process is
        // listed where its leader is.
        if leader {
            self.owned_set().insert(pid, helper);
        }
        let sent = match &*slot.inbox.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(tx) => tx.send(h).map_err(|e| e.0),
            None => Err(h),
        };
        if let Err(h) = sent {
            if leader {
                self.owned_set().remove(&pid);
            }
            slot.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(h);
        }
        Self::wake(slot);
        Ok(())
    }

    fn wake(slot: &Slot) {
        let tid = slot.tid.load(Ordering::SeqCst);
        if tid > 0 {
            // SAFETY: tgkill(2) to a thread of this process; the signal's
            // handler ignores capture's own wake-ups.
            unsafe {
                libc::syscall(
                    libc::SYS_tgkill,
                    std::process::id() as libc::c_int,
                    tid,
                    signals::wake_signal(),
                )
            };
        }
    }

    fn owned_set(&self) -> std::sync::MutexGuard<'_, HashMap<i32, usize>> {
        self.owned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The processes the helpers trace, by pid.
    pub fn processes(&self) -> Vec<i32> {
        self.owned_set().keys().copied().collect()
    }

    /// The stops each helper has handled so far, by helper.
    pub fn helper_stops(&self) -> Vec<u64> {
        self.slots
            .iter()
            .map(|s| s.stops.load(Ordering::Relaxed))
            .collect()
    }

    /// Whether every helper has no tracee and no handover waiting.
    pub fn idle(&self) -> bool {
        // `pending` first: a helper publishes its tracees before it takes
        // a handover off `pending`, so both cannot read 0 mid-adoption.
        self.slots
            .iter()
            .all(|s| s.pending.load(Ordering::SeqCst) == 0 && s.tracees.load(Ordering::SeqCst) == 0)
    }

    /// Tells the helpers to detach from their tracees.
    pub fn detach(&self) {
        self.detach.store(true, Ordering::SeqCst);
        self.slots.iter().for_each(Self::wake);
    }

    /// Whether the helpers are to detach.
    pub fn detaching(&self) -> bool {
        self.detach.load(Ordering::SeqCst)
    }

    /// Ends the pool: no more handovers; helpers end once their tracees
    /// are gone.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for s in &self.slots {
            *s.inbox.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        self.slots.iter().for_each(Self::wake);
    }

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// The process the main tracer launched or attached to.
    pub fn set_main_pid(&self, pid: i32) {
        self.main_pid.store(pid, Ordering::SeqCst);
    }

    pub fn main_pid(&self) -> i32 {
        self.main_pid.load(Ordering::SeqCst)
    }

    /// A helper saw the main process end (its leader came to the helper
    /// by an exec from a thread it served): wakes the main tracer.
    pub fn main_exited(&self, status: i32) {
        *self
            .main_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(status);
        Self::wake_main();
    }

    /// Wakes the main tracer (its `waitid` returns `EINTR`).
    fn wake_main() {
        // SAFETY: tgkill(2) to this process's main thread, which runs the
        // main tracer; the signal's handler ignores capture's own.
        unsafe {
            libc::syscall(
                libc::SYS_tgkill,
                std::process::id() as libc::c_int,
                std::process::id() as libc::c_int,
                signals::wake_signal(),
            )
        };
    }

    /// The main process's end, if a helper saw it.
    pub fn main_status(&self) -> Option<i32> {
        *self
            .main_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A thread of process `pid` exec'd on tracer `by` and took over the
    /// leader's tid; the tracer that served the old leader must forget it.
    /// Every other tracer is told and woken to look.
    pub fn leader_replaced(&self, pid: i32, by: usize) {
        let by = self.news_index(by);
        for (i, news) in self.replaced.iter().enumerate() {
            if i != by {
                news.pids
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(pid);
                news.any.store(true, Ordering::SeqCst);
            }
        }
        self.slots.iter().for_each(Self::wake);
        if by != self.slots.len() {
            Self::wake_main();
        }
    }

    /// The leaders replaced by another tracer since tracer `me` last
    /// looked (its inbox, drained).
    pub fn replaced_leaders(&self, me: usize) -> Vec<i32> {
        let Some(news) = self.replaced.get(self.news_index(me)) else {
            return Vec::new();
        };
        if !news.any.swap(false, Ordering::SeqCst) {
            return Vec::new();
        }
        std::mem::take(&mut *news.pids.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A tracer's inbox: helpers by index, the main tracer last.
    fn news_index(&self, tracer: usize) -> usize {
        if tracer == MAIN {
            self.slots.len()
        } else {
            tracer
        }
    }

    // -- The helper's side ------------------------------------------------

    /// Helper `helper` runs on the calling thread.
    pub fn register(&self, helper: usize) {
        if let Some(s) = self.slots.get(helper) {
            // SAFETY: gettid has no arguments.
            s.tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
        }
    }

    /// Helper `helper` now traces `tracees` threads, and has handled
    /// `stops` stops.
    pub fn publish(&self, helper: usize, tracees: usize, stops: u64) {
        if let Some(s) = self.slots.get(helper) {
            s.tracees.store(tracees, Ordering::SeqCst);
            s.stops.store(stops, Ordering::Relaxed);
        }
    }

    /// Helper `helper` took one handover (after publishing its tracees).
    pub fn taken(&self, helper: usize) {
        if let Some(s) = self.slots.get(helper) {
            s.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Process `pid` was born to a process of helper `helper`.
    pub fn process_born(&self, helper: usize, pid: i32) {
        self.owned_set().insert(pid, helper);
    }

    /// Process `pid`, a helper's, is gone.
    pub fn process_gone(&self, pid: i32) {
        self.owned_set().remove(&pid);
    }

    /// Helper `helper` traces nothing any more (it detached).
    pub fn helper_empty(&self, helper: usize) {
        self.owned_set().retain(|_, h| *h != helper);
    }
}

/// A helper thread's handle: its stats come back at the join.
pub type HelperHandle = JoinHandle<crate::tracer::Stats>;

/// What a helper thread runs once its signals and timer are set up: its
/// tracer's loop, returning the tracer's stats.
pub type HelperBody =
    Arc<dyn Fn(Arc<Pool>, usize, Receiver<Box<Handed>>) -> crate::tracer::Stats + Send + Sync>;

/// Starts `helpers` helper threads running `body`; `None` when `helpers`
/// is 0. A thread that cannot be started is left out (its slot's inbox is
/// closed, so nothing is handed to it).
pub fn spawn(helpers: usize, body: HelperBody) -> Option<(Arc<Pool>, Vec<HelperHandle>)> {
    if helpers == 0 {
        return None;
    }
    let (pool, inboxes) = Pool::new(helpers, Birth::from_env());
    let mut handles = Vec::new();
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let (p, b) = (pool.clone(), body.clone());
        let started = std::thread::Builder::new()
            .name(format!("capture-tracer-{}", i + 1))
            .spawn(move || {
                signals::block();
                signals::unblock_wake();
                p.register(i);
                // Every BACKSTOP, a wake-up this thread may have missed.
                let _backstop = signals::ThreadTimer::start(signals::wake_signal(), BACKSTOP);
                b(p, i, inbox)
            });
        match started {
            Ok(h) => handles.push(h),
            Err(_) => {
                if let Some(s) = pool.slots.get(i) {
                    *s.inbox.lock().unwrap_or_else(PoisonError::into_inner) = None;
                }
            }
        }
    }
    Some((pool, handles))
}

/// Closes the pool and joins its helpers: their stats, summed.
pub fn finish(pool: Option<(Arc<Pool>, Vec<HelperHandle>)>) -> crate::tracer::Stats {
    let mut stats = crate::tracer::Stats::default();
    if let Some((pool, handles)) = pool {
        pool.close();
        for h in handles {
            if let Ok(s) = h.join() {
                stats.add(&s);
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_over_every_tracer_or_only_helpers_when_forced() {
        let (p, _rx) = Pool::new(2, Birth::RoundRobin);
        let picks: Vec<_> = (0..6).map(|_| p.pick()).collect();
        assert_eq!(picks, [None, Some(0), Some(1), None, Some(0), Some(1)]);
        let (p, _rx) = Pool::new(2, Birth::Helpers);
        let picks: Vec<_> = (0..4).map(|_| p.pick()).collect();
        assert_eq!(picks, [Some(0), Some(1), Some(0), Some(1)]);
        let (p, _rx) = Pool::new(0, Birth::Helpers);
        assert_eq!(p.pick(), None);
        let (p, _rx) = Pool::new(2, Birth::Main);
        assert_eq!(p.pick(), None);
    }

    #[test]
    fn a_replaced_leader_reaches_every_other_tracer_once() {
        let (p, _rx) = Pool::new(2, Birth::RoundRobin);
        // By the main tracer (which wakes no one in this test: the helpers
        // have no thread yet).
        p.leader_replaced(7, MAIN);
        assert_eq!(p.replaced_leaders(MAIN), Vec::<i32>::new());
        assert_eq!(p.replaced_leaders(0), [7]);
        assert_eq!(p.replaced_leaders(1), [7]);
        // Drained: the inboxes hold nothing more.
        assert_eq!(p.replaced_leaders(0), Vec::<i32>::new());
        assert_eq!(p.replaced_leaders(1), Vec::<i32>::new());
    }

    #[test]
    fn idle_only_when_no_helper_has_tracees_or_waiting_handovers() {
        let (p, _rx) = Pool::new(2, Birth::RoundRobin);
        assert!(p.idle());
        p.slots[1].pending.fetch_add(1, Ordering::SeqCst);
        assert!(!p.idle());
        p.publish(1, 1, 0);
        p.taken(1);
        assert!(!p.idle(), "adopted: one tracee");
        p.publish(1, 0, 0);
        assert!(p.idle());
    }
}
