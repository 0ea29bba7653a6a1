//! Where the tracer and the workload run (`--cpu-affinity`).
//!
//! Every ptrace stop is two context switches: the tracee stops and wakes
//! the tracer, the tracer resumes the tracee. When the two sit on different
//! CPUs each switch is a cross-CPU wake-up (an IPI, and on a VM often an
//! exit from an idle vCPU). On the 2-vCPU machines of BENCHMARKS.md that
//! makes unpinned runs bimodal: the same command runs at ~4k or ~20k
//! loop iterations/s depending on where the scheduler put the two, while a
//! tracer and tracee on one CPU run at ~20k every time. Policies:
//!
//! - `auto` (default), launch mode only: the tracer thread and the
//!   workload start pinned to one CPU (the one capture runs on); the first
//!   time the workload creates a second thread or process, every tracee
//!   and the tracer get their original CPU sets back. From then on,
//!   placement adapts per [`WINDOW`]: when exactly one thread stopped in
//!   the last window and its process has a single thread (e.g. an nginx
//!   worker while the master sleeps), that thread and the tracer are
//!   pinned to one CPU; as soon as another thread stops in a window, or
//!   the pinned one forks or clones, it gets its CPU set back. So a
//!   multi-threaded process is never restricted, and a single-threaded one
//!   only while it is the only thing capture is stopping (then it is bound
//!   by the stops anyway). With `--pid`, nothing is pinned.
//! - `shared`: tracer and launched workload stay on one CPU for the whole
//!   run: the fastest for stop-bound workloads (every stop goes through the
//!   one tracer thread anyway), but it takes the other CPUs away from the
//!   workload: opt-in only. With `--pid`, nothing is pinned.
//! - `none`: the scheduler decides.
//!
//! Only the tracer thread is pinned, before the workload is forked (the
//! child inherits the set); the writer and compression threads were
//! started earlier and keep capture's CPU set.
//!
//! **Invariant (invisible):** a tracee never sees a CPU set placement
//! gave it: `sched_getaffinity` of a restricted tracee is answered at its
//! exit stop with the set it would have without capture
//! ([`Placement::original_set`], written into the tracee's buffer; the
//! return value, the mask size, does not depend on the set), and before a
//! workload's `sched_setaffinity` the restriction is lifted
//! ([`Placement::before_setaffinity`]) so the workload's set applies and
//! stays. What remains visible: `Cpus_allowed`/`Cpus_allowed_list` in
//! `/proc/PID/status` and `sched_getcpu` while restricted.
//!
//! With several tracer threads (`--tracers`), the main tracer places what
//! it traces (helpers place nothing), and which tracee it restricts, with
//! the set that tracee would have, is kept in one [`Restricted`] cell that
//! every tracer reads: a tracee on a helper asking for that tracee's CPU
//! set is answered from it, and one setting that tracee's set lifts the
//! restriction through it, so the main tracer never gives back a set the
//! workload has replaced since (`tests/tests/capture_placement.rs`).
//!
//! **Invariant:** with `auto`, a tracee's CPU set is restricted only while
//! its process has one thread and it is the only thread that stopped in
//! the last window (or, at the start, the workload's only thread), and at
//! most one tracee is restricted at a time. Restoring needs the permission
//! to set another task's affinity (same euid, or `CAP_SYS_NICE`): capture
//! checks that it can before pinning (it reads and rewrites the set), and a
//! failure to restore is reported as a tracer error in the trace.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// `--cpu-affinity`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuAffinity {
    /// One CPU for tracer and workload while the workload is one thread.
    #[default]
    Auto,
    /// Tracer and workload on one CPU for the whole run.
    Shared,
    /// No placement.
    None,
}

/// The CPU the calling thread runs on.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: plain call.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).ok()
}

/// Pins the calling thread to `cpu`. Errors are ignored by callers:
/// placement is an optimisation (a CPU set restricted by a cgroup may
/// refuse it).
pub fn pin_current_thread(cpu: usize) -> bool {
    if cpu >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn affinity_of(tid: i32) -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data filled by sched_getaffinity.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        (libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0)
            .then_some(set)
    }
}

fn set_affinity(tid: i32, set: &libc::cpu_set_t) -> std::io::Result<()> {
    // SAFETY: sched_setaffinity reads a valid cpu_set_t.
    let r = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The bytes of `set` as the kernel copies a CPU mask to user space
/// (`unsigned long` words in native order, which is `cpu_set_t`'s layout).
pub fn set_bytes(set: &libc::cpu_set_t) -> Vec<u8> {
    let n = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is plain data of `n` initialised bytes, borrowed
    // for the duration of the copy.
    unsafe { std::slice::from_raw_parts((set as *const libc::cpu_set_t).cast::<u8>(), n) }.to_vec()
}

/// How long `auto` observes stops before deciding whom to pin.
pub const WINDOW: Duration = Duration::from_millis(100);

/// The tracee placement restricts now, with the CPU set it would have
/// without capture: one cell for every tracer thread. A tracee's set is
/// restricted and given back only while the cell is held, by whoever
/// holds it then ([`Placement::pin_with`] on the main tracer, a
/// `sched_setaffinity` of that tracee on any tracer): so it is given back
/// once, and never over a set the workload set since (the workload's call
/// runs after its tracer gave the set back).
#[derive(Clone, Default)]
pub struct Restricted(Arc<Mutex<Option<(i32, libc::cpu_set_t)>>>);

impl Restricted {
    /// Restricts `tid` to `one`, recording `set`, its set without
    /// capture. Whether it was.
    fn restrict(&self, tid: i32, set: libc::cpu_set_t, one: &libc::cpu_set_t) -> bool {
        let mut cell = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let done = set_affinity(tid, one).is_ok();
        if done {
            *cell = Some((tid, set));
        }
        done
    }

    /// `tid`'s set without capture, if it is the restricted tracee.
    fn get(&self, tid: i32) -> Option<libc::cpu_set_t> {
        match *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((t, set)) if t == tid => Some(set),
            _ => None,
        }
    }

    /// If `tid` is the restricted tracee: runs `give` with its set, the
    /// cell held, and clears the cell. What `give` returned.
    fn give_back<R>(&self, tid: i32, give: impl FnOnce(&libc::cpu_set_t) -> R) -> Option<R> {
        let mut cell = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match *cell {
            Some((t, set)) if t == tid => {
                *cell = None;
                Some(give(&set))
            }
            _ => None,
        }
    }
}

/// The tracer's placement state.
pub struct Placement {
    policy: CpuAffinity,
    /// Launch pinning (`auto`, `shared`): the tracer's original CPU set,
    /// which the workload inherited pinned; `Some` while pinned.
    launch_pinned: Option<libc::cpu_set_t>,
    /// `auto` after the first clone: adapts per window.
    adaptive: bool,
    window_end: Instant,
    active: Option<i32>,
    several: bool,
    /// The tracee pinned by the adaptive policy, and the tracer's original
    /// set; the tracee's own set is in `restricted` while it is pinned.
    pinned: Option<(i32, libc::cpu_set_t)>,
    /// Shared with every tracer thread ([`Placement::sharing`]).
    restricted: Restricted,
}

impl std::fmt::Debug for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placement")
            .field("policy", &self.policy)
            .field("launch_pinned", &self.launch_pinned.is_some())
            .field("pinned", &self.pinned.map(|p| p.0))
            .finish()
    }
}

/// A decision the tracer must complete (it knows the processes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Only this thread stopped in the last window: pin it if its process
    /// has one thread ([`Placement::pin_with`]).
    Single(i32),
    /// Several threads stopped, or none: nobody stays pinned (done).
    Released,
}

impl Placement {
    pub fn new(policy: CpuAffinity) -> Placement {
        Placement {
            policy,
            launch_pinned: None,
            adaptive: false,
            window_end: Instant::now(),
            active: None,
            several: false,
            pinned: None,
            restricted: Restricted::default(),
        }
    }

    /// The same, reading and lifting what `restricted` holds (a helper
    /// tracer's placement: `policy` `None`, it restricts nothing itself).
    pub fn sharing(policy: CpuAffinity, restricted: &Restricted) -> Placement {
        Placement {
            restricted: restricted.clone(),
            ..Placement::new(policy)
        }
    }

    /// Launch mode, before the fork: with `auto` or `shared`, pins the
    /// calling (tracer) thread to the CPU it runs on; the child inherits it.
    pub fn before_launch(&mut self) {
        if self.policy == CpuAffinity::None {
            return;
        }
        let Some(orig) = affinity_of(0) else {
            return;
        };
        if let Some(c) = current_cpu()
            && pin_current_thread(c)
        {
            self.launch_pinned = Some(orig);
        } else if self.policy == CpuAffinity::Auto {
            self.adaptive = true;
        }
    }

    /// Whether a clone or fork must go through [`Placement::on_clone`].
    pub fn restricts_on_clone(&self) -> bool {
        self.policy == CpuAffinity::Auto && (self.launch_pinned.is_some() || self.pinned.is_some())
    }

    /// `auto`: the workload got a new task `child` (`parent` cloned it).
    /// Every restricted tracee in `tids` gets its CPU set back (the child
    /// too: it inherited its parent's), and so does the tracer. Returns the
    /// tracees that refused, for a tracer error.
    pub fn on_clone(
        &mut self,
        parent: i32,
        child: i32,
        tids: impl Iterator<Item = i32>,
    ) -> Vec<(i32, std::io::Error)> {
        let mut failed = Vec::new();
        let mut restore = |tid: i32, set: &libc::cpu_set_t| {
            if let Err(e) = set_affinity(tid, set) {
                // A thread that already exited is not a failure.
                if e.raw_os_error() != Some(libc::ESRCH) {
                    failed.push((tid, e));
                }
            }
        };
        if self.policy != CpuAffinity::Auto {
            return failed;
        }
        if let Some(orig) = self.launch_pinned.take() {
            for tid in tids {
                restore(tid, &orig);
            }
            let _ = set_affinity(0, &orig);
            self.adaptive = true;
        } else if let Some((tid, tracer)) = self.pinned.take() {
            // Not if the workload set it meanwhile (taken out then): the
            // child inherited the workload's set.
            self.restricted.give_back(tid, |set| {
                restore(tid, set);
                if tid == parent {
                    restore(child, set);
                }
            });
            let _ = set_affinity(0, &tracer);
        }
        failed
    }

    /// At every stop of `tid`: `auto` records who stops, and at the end of
    /// a [`WINDOW`] returns what to do.
    pub fn on_stop(&mut self, tid: i32) -> Option<Window> {
        if !self.adaptive {
            return None;
        }
        match self.active {
            None => self.active = Some(tid),
            Some(t) if t != tid => self.several = true,
            _ => {}
        }
        let now = Instant::now();
        if now < self.window_end {
            return None;
        }
        self.window_end = now + WINDOW;
        let single = if self.several { None } else { self.active };
        self.active = None;
        self.several = false;
        match single {
            Some(t) => Some(Window::Single(t)),
            None => {
                self.release();
                Some(Window::Released)
            }
        }
    }

    /// Pins `tid` (the only thread of its process, the only one stopping)
    /// and the tracer to the tracer's CPU; releases any other pinned tracee.
    pub fn pin_with(&mut self, tid: i32) {
        if self.pinned.is_some_and(|p| p.0 == tid) && self.restricted.get(tid).is_some() {
            return;
        }
        self.release();
        let (Some(cpu), Some(set), Some(tracer)) =
            (current_cpu(), affinity_of(tid), affinity_of(0))
        else {
            return;
        };
        // Test that its set can be written back before restricting it.
        if set_affinity(tid, &set).is_err() {
            return;
        }
        if cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        // SAFETY: cpu_set_t is plain data; cpu is below CPU_SETSIZE.
        let one = unsafe {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            one
        };
        if self.restricted.restrict(tid, set, &one) {
            pin_current_thread(cpu);
            self.pinned = Some((tid, tracer));
        }
    }

    /// Gives the pinned tracee (if any) and the tracer their sets back.
    pub fn release(&mut self) {
        if let Some((tid, tracer)) = self.pinned.take() {
            self.restricted.give_back(tid, |set| set_affinity(tid, set));
            let _ = set_affinity(0, &tracer);
        }
    }

    /// The CPU set `tid` would have without capture, if placement restricts
    /// it now: what its `sched_getaffinity` must report. `traced_here`:
    /// whether this tracer traces `tid`.
    pub fn original_set(&self, tid: i32, traced_here: bool) -> Option<libc::cpu_set_t> {
        if let Some(orig) = self.launch_pinned {
            // Until the first clone only the launched workload is pinned,
            // and every tracee (all on this tracer) is restricted.
            return traced_here.then_some(orig);
        }
        self.restricted.get(tid)
    }

    /// The workload is about to set `target`'s CPU set: whatever placement
    /// restricted is given back first (all tracees in `tids` at launch, or
    /// the one pinned tracee), so the workload's own set is what applies
    /// and is never overwritten later. Returns the tracees that refused.
    pub fn before_setaffinity(
        &mut self,
        target: i32,
        tids: impl Iterator<Item = i32>,
    ) -> Vec<(i32, std::io::Error)> {
        if self.launch_pinned.is_some() {
            let mut failed = Vec::new();
            if let Some(orig) = self.launch_pinned.take() {
                for tid in tids {
                    if let Err(e) = set_affinity(tid, &orig)
                        && e.raw_os_error() != Some(libc::ESRCH)
                    {
                        failed.push((tid, e));
                    }
                }
                let _ = set_affinity(0, &orig);
                self.adaptive = self.policy == CpuAffinity::Auto;
            }
            return failed;
        }
        if self.pinned.is_some_and(|p| p.0 == target) {
            self.release();
        } else if let Some(Err(e)) = self
            .restricted
            .give_back(target, |set| set_affinity(target, set))
            && e.raw_os_error() != Some(libc::ESRCH)
        {
            // Restricted by another tracer thread's placement, which will
            // find the cell empty and leave the set alone.
            return vec![(target, e)];
        }
        Vec::new()
    }

    /// `tid`, alive, goes to another tracer thread: if it is the pinned
    /// tracee, it and this tracer get their CPU sets back.
    pub fn let_go(&mut self, tid: i32) {
        if self.pinned.is_some_and(|p| p.0 == tid) {
            self.release();
        }
    }

    /// `tid` is gone.
    pub fn forget(&mut self, tid: i32) {
        if let Some((t, tracer)) = self.pinned
            && t == tid
        {
            self.restricted.give_back(tid, |_| ());
            let _ = set_affinity(0, &tracer);
            self.pinned = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_and_give_back() {
        // On a thread of its own: pinning changes only that thread.
        let h = std::thread::spawn(|| {
            let before = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            let mut p = Placement::new(CpuAffinity::Auto);
            p.before_launch();
            assert!(p.restricts_on_clone());
            let now = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            // SAFETY: CPU_COUNT reads a valid set.
            assert_eq!(unsafe { libc::CPU_COUNT(&now) }, 1);
            // SAFETY: gettid has no arguments.
            let me = unsafe { libc::gettid() };
            assert!(p.on_clone(me, me, [me].into_iter()).is_empty());
            assert!(!p.restricts_on_clone());
            let after = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            // SAFETY: CPU_EQUAL reads valid sets.
            assert!(unsafe { libc::CPU_EQUAL(&before, &after) });
        });
        assert!(h.join().is_ok());
        // What a restricted tracee is told, and its own set winning.
        let h = std::thread::spawn(|| {
            let before = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            let mut p = Placement::new(CpuAffinity::Shared);
            p.before_launch();
            // SAFETY: gettid has no arguments.
            let me = unsafe { libc::gettid() };
            let told = p
                .original_set(me, true)
                .unwrap_or_else(|| panic!("restricted"));
            assert_eq!(set_bytes(&told), set_bytes(&before));
            assert!(p.before_setaffinity(me, [me].into_iter()).is_empty());
            assert!(p.original_set(me, true).is_none(), "no longer restricted");
            let after = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            assert_eq!(set_bytes(&after), set_bytes(&before));
        });
        assert!(h.join().is_ok());
        let mut none = Placement::new(CpuAffinity::None);
        none.before_launch();
        assert!(!none.restricts_on_clone());
        assert_eq!(none.on_stop(1), None);
    }

    /// Two placements sharing one cell, as the main tracer's and a
    /// helper's do: the helper tells the pinned thread's set without
    /// capture, lifts the restriction for the workload's own
    /// `sched_setaffinity`, and the main tracer's later release leaves the
    /// workload's set alone.
    #[test]
    fn a_restriction_lifted_by_another_tracer_is_not_given_back_over_the_workload() {
        let h = std::thread::spawn(|| {
            let all = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            // SAFETY: CPU_COUNT reads a valid set.
            let cpus = unsafe { libc::CPU_COUNT(&all) };
            assert!(cpus >= 2, "needs two CPUs, CI has them");
            let last = (0..libc::CPU_SETSIZE as usize)
                // SAFETY: CPU_ISSET reads a valid set below CPU_SETSIZE.
                .rfind(|&c| unsafe { libc::CPU_ISSET(c, &all) })
                .unwrap_or_else(|| panic!("no CPU"));
            // The "tracee": another thread of this process, waiting.
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
            let tracee = std::thread::spawn(move || {
                // SAFETY: gettid has no arguments.
                let _ = tid_tx.send(unsafe { libc::gettid() });
                let _ = end_rx.recv();
            });
            let tid = tid_rx.recv().unwrap_or_else(|e| panic!("{e}"));
            let cell = Restricted::default();
            let mut main = Placement::sharing(CpuAffinity::Auto, &cell);
            let mut helper = Placement::sharing(CpuAffinity::None, &cell);
            main.pin_with(tid);
            let pinned = affinity_of(tid).unwrap_or_else(|| panic!("getaffinity"));
            // SAFETY: CPU_COUNT reads a valid set.
            assert_eq!(unsafe { libc::CPU_COUNT(&pinned) }, 1, "pinned");
            let told = helper
                .original_set(tid, false)
                .unwrap_or_else(|| panic!("not told"));
            assert_eq!(set_bytes(&told), set_bytes(&all));
            assert!(
                helper
                    .before_setaffinity(tid, std::iter::empty())
                    .is_empty()
            );
            assert!(helper.original_set(tid, false).is_none(), "lifted");
            assert_eq!(
                set_bytes(&affinity_of(tid).unwrap_or(pinned)),
                set_bytes(&all)
            );
            // The workload's own set, then the main tracer's release.
            // SAFETY: cpu_set_t is plain data; `last` is below CPU_SETSIZE.
            let own = unsafe {
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(last, &mut one);
                one
            };
            assert!(set_affinity(tid, &own).is_ok());
            main.release();
            let after = affinity_of(tid).unwrap_or_else(|| panic!("getaffinity"));
            assert_eq!(
                set_bytes(&after),
                set_bytes(&own),
                "the workload's set stays"
            );
            let _ = end_tx.send(());
            assert!(tracee.join().is_ok());
        });
        assert!(h.join().is_ok());
    }
}
