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
//! - `auto` (default): in launch mode the tracer thread and the workload
//!   start pinned to one CPU (the one capture runs on); the first time the
//!   workload creates a second thread or process, every tracee and the
//!   tracer get their original CPU sets back and placement is left to the
//!   scheduler from then on. So a single-threaded workload gets the fast,
//!   stable placement, and a multi-threaded or multi-process workload
//!   never loses CPUs (only its first instants before the clone ran
//!   pinned). With `--pid`, nothing is pinned.
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
//! **Invariant:** with `auto`, a tracee's CPU set is restricted only while
//! it is the workload's only thread; restoring needs the permission to set
//! another task's affinity (same euid, or `CAP_SYS_NICE`), checked when the
//! workload forks: a failure is reported as a tracer error in the trace.

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

/// The tracer's placement state.
pub struct Placement {
    policy: CpuAffinity,
    /// The CPU set to give back (`auto`), while pinned.
    original: Option<libc::cpu_set_t>,
}

impl std::fmt::Debug for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placement")
            .field("policy", &self.policy)
            .field("pinned", &self.original.is_some())
            .finish()
    }
}

impl Placement {
    pub fn new(policy: CpuAffinity) -> Placement {
        Placement {
            policy,
            original: None,
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
            self.original = Some(orig);
        }
    }

    /// Whether the workload is pinned and must be unpinned when it gets a
    /// second thread or process.
    pub fn pinned_until_clone(&self) -> bool {
        self.policy == CpuAffinity::Auto && self.original.is_some()
    }

    /// `auto`, the workload got a second task: gives `tids` (every known
    /// tracee, the new one included) and the tracer their original CPU set
    /// back. Returns the tracees that refused (EPERM without
    /// `CAP_SYS_NICE` after a credential change), for a tracer error.
    pub fn unpin(&mut self, tids: impl Iterator<Item = i32>) -> Vec<(i32, std::io::Error)> {
        let Some(orig) = self.original.take() else {
            return Vec::new();
        };
        let mut failed = Vec::new();
        for tid in tids {
            if let Err(e) = set_affinity(tid, &orig) {
                // A thread that already exited is not a failure.
                if e.raw_os_error() != Some(libc::ESRCH) {
                    failed.push((tid, e));
                }
            }
        }
        let _ = set_affinity(0, &orig);
        failed
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
            assert!(p.pinned_until_clone());
            let now = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            // SAFETY: CPU_COUNT reads a valid set.
            assert_eq!(unsafe { libc::CPU_COUNT(&now) }, 1);
            // SAFETY: gettid has no arguments.
            let me = unsafe { libc::gettid() };
            assert!(p.unpin([me].into_iter()).is_empty());
            assert!(!p.pinned_until_clone());
            let after = affinity_of(0).unwrap_or_else(|| panic!("getaffinity"));
            // SAFETY: CPU_EQUAL reads valid sets.
            assert!(unsafe { libc::CPU_EQUAL(&before, &after) });
        });
        assert!(h.join().is_ok());
        let mut none = Placement::new(CpuAffinity::None);
        none.before_launch();
        assert!(!none.pinned_until_clone());
    }
}
