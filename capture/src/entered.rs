//! Processes that enter capture's PID namespace from outside (`docker
//! exec`, `kubectl exec`, ECS Exec, `nsenter`): found and attached.
//!
//! Such a process is not a descendant of the launched command, so no
//! `PTRACE_EVENT_FORK` announces it. When capture is its PID namespace's
//! init (PID 1, the container entrypoint), everything in the namespace is
//! the container, and `/proc` (mounted for the namespace) lists it all.
//!
//! How it is found: a POSIX timer ([`SCAN_PERIOD`]) sends capture's
//! tracer thread a signal, which interrupts its `waitpid`
//! ([`crate::signals`] ignores the timer's own signals). At each tick the
//! tracer reads one small file, `/proc/loadavg`, whose last field is the
//! last pid allocated *in the reader's PID namespace*. Only when that pid is
//! not one capture already traces does it list `/proc` and attach to every
//! process it does not trace (not traced by capture per `TracerPid`, not
//! released by `--detach-on-exit`). So the delay from a process's creation
//! to its attach is at most one period plus the scan, and while nobody
//! enters the cost is one 50-byte read per period.
//!
//! Where capture is not PID 1 (a shared or the host PID namespace) nothing
//! is scanned: every process of the namespace is visible, but nothing says
//! which belong to the workload, and attaching to unrelated processes is
//! not capture's business. Entered processes are then not recorded
//! (documented in README).

use std::time::{Duration, Instant};

use crate::procfs;

/// How often the tracer looks for entered processes.
pub const SCAN_PERIOD: Duration = Duration::from_millis(100);

/// The timer signal (its `si_code` is `SI_TIMER`, which no forwarded
/// signal has).
const TIMER_SIGNAL: i32 = libc::SIGALRM;

/// The scanner; exists only when capture is its PID namespace's init.
pub struct Scanner {
    _timer: crate::signals::ThreadTimer,
    next: Instant,
    last_pid: Option<i32>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("last_pid", &self.last_pid)
            .finish()
    }
}

/// Whether capture is PID 1 of the namespace `/proc` shows.
pub fn is_namespace_init() -> bool {
    std::process::id() == 1 && procfs::readlink("/proc/self") == b"1"
}

impl Scanner {
    /// Starts the timer aimed at the calling (tracer) thread, if capture is
    /// its namespace's init; `None` otherwise.
    pub fn start() -> Option<Scanner> {
        if !is_namespace_init() {
            return None;
        }
        let timer = crate::signals::ThreadTimer::start(TIMER_SIGNAL, SCAN_PERIOD)?;
        Some(Scanner {
            _timer: timer,
            next: Instant::now() + SCAN_PERIOD,
            last_pid: last_pid(),
        })
    }

    /// Whether a period has passed since the last check.
    pub fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// The processes to attach: pids of `/proc` that `known` does not
    /// claim and that capture does not trace; empty (without listing
    /// `/proc`) while the namespace's last pid is `known`.
    pub fn candidates(&mut self, known: impl Fn(i32) -> bool) -> Vec<i32> {
        self.next = Instant::now() + SCAN_PERIOD;
        let last = last_pid();
        if last.is_some() && last == self.last_pid {
            return Vec::new();
        }
        self.last_pid = last;
        if last.is_some_and(&known) {
            return Vec::new();
        }
        let me = std::process::id() as i32;
        let mut out: Vec<i32> = list_pids()
            .into_iter()
            .filter(|&p| p != me && !known(p))
            .filter(|&p| {
                procfs::status(p).is_some_and(|s| s.tracer_pid != me && s.tgid == p)
                    && !is_zombie(p)
            })
            .collect();
        out.sort_unstable();
        out
    }
}

/// The last pid allocated in our namespace (`/proc/loadavg`'s last field).
fn last_pid() -> Option<i32> {
    let t = std::fs::read_to_string("/proc/loadavg").ok()?;
    t.split_whitespace().last()?.parse().ok()
}

fn list_pids() -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let i = s.rfind(')')?;
            s[i + 1..].trim_start().chars().next()
        })
        .is_none_or(|c| c == 'Z' || c == 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_last_pid() {
        assert!(last_pid().is_some_and(|p| p > 0));
        assert!(!list_pids().is_empty());
        // The test runner is not a namespace's init.
        assert!(Scanner::start().is_none() || std::process::id() == 1);
    }
}
