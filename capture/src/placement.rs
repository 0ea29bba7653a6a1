//! Where the tracer thread runs (`--cpu-affinity`).
//!
//! Every ptrace stop is two context switches: the tracee stops and wakes
//! the tracer, the tracer resumes the tracee. When the two sit on different
//! CPUs each switch is a cross-CPU wake-up (an IPI, and on a VM often an
//! exit from an idle vCPU), which on the 2-vCPU machines of BENCHMARKS.md
//! costs several times the stop itself. Policies:
//!
//! - `follow` (default): the tracer thread pins itself to the CPU the
//!   tracee that just stopped last ran on, re-checked at most every
//!   [`FOLLOW_EVERY`] (one `/proc/TID/stat` read). The tracee's wake-ups
//!   then come from its own CPU, so the scheduler keeps it there; the
//!   workload's CPU set is never touched, so a multi-threaded workload
//!   keeps every CPU (its other threads' stops are cross-CPU).
//! - `shared`: tracer and launched workload pinned to one CPU (the one
//!   capture starts on). The fastest for a single-threaded workload, but it
//!   takes the other CPUs away from the workload: opt-in only. In `--pid`
//!   mode the target is never re-pinned: `shared` acts as `follow`.
//! - `none`: the scheduler decides.
//!
//! Only the tracer thread is pinned; the writer and compression threads
//! keep capture's original CPU set.

use std::time::{Duration, Instant};

/// How often `follow` looks at where the tracee runs.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(20);

/// `--cpu-affinity`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuAffinity {
    /// No placement.
    None,
    /// The tracer thread follows the tracee's CPU; the workload is untouched.
    #[default]
    Follow,
    /// Tracer and workload on one CPU (restricts the workload).
    Shared,
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

/// The CPU `tid` last ran on (`/proc/TID/stat`, field 39).
pub fn last_cpu(tid: i32) -> Option<usize> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 2..)?;
    rest.split(' ').nth(36)?.parse().ok()
}

/// The tracer's placement state.
#[derive(Debug)]
pub struct Placement {
    policy: CpuAffinity,
    pinned: Option<usize>,
    next_check: Instant,
}

impl Placement {
    pub fn new(policy: CpuAffinity) -> Placement {
        Placement {
            policy,
            pinned: None,
            next_check: Instant::now(),
        }
    }

    /// Before the workload is launched: with `shared`, pins the calling
    /// (tracer) thread to its CPU, so the child forked next inherits it.
    pub fn before_launch(&mut self) {
        if self.policy == CpuAffinity::Shared
            && let Some(c) = current_cpu()
            && pin_current_thread(c)
        {
            self.pinned = Some(c);
        }
    }

    /// At a stop of `tid`: with `follow`, moves the tracer to `tid`'s CPU
    /// when the last check is old enough.
    pub fn on_stop(&mut self, tid: i32) {
        if self.policy == CpuAffinity::None
            || (self.policy == CpuAffinity::Shared && self.pinned.is_some())
        {
            return;
        }
        let now = Instant::now();
        if now < self.next_check {
            return;
        }
        self.next_check = now + FOLLOW_EVERY;
        if let Some(c) = last_cpu(tid)
            && self.pinned != Some(c)
            && pin_current_thread(c)
        {
            self.pinned = Some(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_from_proc() {
        // SAFETY: gettid has no arguments.
        let tid = unsafe { libc::gettid() };
        let c = last_cpu(tid).unwrap_or_else(|| panic!("field 39 of /proc/{tid}/stat"));
        assert!(c < libc::CPU_SETSIZE as usize);
    }
}
