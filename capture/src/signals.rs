//! Signals sent to capture itself.
//!
//! SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 get a handler that
//! runs on the tracer thread only (every other thread blocks them). In
//! launch mode the handler forwards the signal to the workload's main
//! process with kill(2) (async-signal-safe), so forwarding works even while
//! the tracer sleeps in waitpid, and counts it so the tracer can record a
//! `Forwarded` signal event. Signals the kernel generated (`si_code` > 0:
//! a terminal's ^C or hangup) are *not* forwarded: the kernel already sent
//! them to the whole foreground process group, workload included.
//!
//! In attach mode SIGINT/SIGTERM/SIGHUP/SIGQUIT request a detach: the
//! handler sets a flag and `PTRACE_INTERRUPT`s the target (allowed: the
//! handler runs on the tracer thread), so a blocked waitpid returns.
//!
//! The handler is installed without `SA_RESTART`, so waitpid also returns
//! `EINTR`. **Invariant:** capture never dies of these signals, and the
//! workload gets them exactly once.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The signals capture handles.
pub const HANDLED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

static TARGET: AtomicI32 = AtomicI32::new(0);
static ATTACH_MODE: AtomicBool = AtomicBool::new(false);
static DETACH: AtomicBool = AtomicBool::new(false);
/// Per signal: received and forwarded, not yet recorded.
static FORWARDED: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];
/// Per signal: received before there was a target to forward to.
static PENDING: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];

/// CLOCK_MONOTONIC ns of the first SIGTERM received (0: none yet).
static TERM_AT_NS: AtomicU64 = AtomicU64::new(0);

fn mono_ns() -> u64 {
    // SAFETY: timespec is plain data, valid when zeroed.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime is async-signal-safe and writes only `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let idx = (sig as usize).min(64);
    if sig == libc::SIGTERM {
        let _ = TERM_AT_NS.compare_exchange(0, mono_ns(), Ordering::SeqCst, Ordering::SeqCst);
    }
    let code = if info.is_null() {
        0
    } else {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        unsafe { (*info).si_code }
    };
    let target = TARGET.load(Ordering::SeqCst);
    if ATTACH_MODE.load(Ordering::SeqCst) {
        if matches!(
            sig,
            libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT
        ) {
            DETACH.store(true, Ordering::SeqCst);
            if target > 0 {
                // SAFETY: a plain syscall; the handler runs on the tracer
                // thread, so the tracee is ours to interrupt.
                unsafe {
                    libc::ptrace(
                        libc::PTRACE_INTERRUPT,
                        target,
                        std::ptr::null_mut::<libc::c_void>(),
                        std::ptr::null_mut::<libc::c_void>(),
                    )
                };
            }
        }
        return;
    }
    if code > 0 {
        // Kernel-generated (tty): the workload got its own copy.
        return;
    }
    if target > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(target, sig) };
        FORWARDED[idx].fetch_add(1, Ordering::SeqCst);
    } else {
        PENDING[idx].fetch_add(1, Ordering::SeqCst);
    }
}

/// Blocks the handled signals in the calling thread; returns the old mask.
pub fn block() -> libc::sigset_t {
    set_mask(libc::SIG_BLOCK)
}

/// Unblocks the handled signals in the calling thread.
pub fn unblock() {
    set_mask(libc::SIG_UNBLOCK);
}

fn set_mask(how: libc::c_int) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in HANDLED {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(how, &set, &mut old);
        old
    }
}

/// Installs the handler (on the calling thread's process; other threads
/// must block the signals).
pub fn install(attach_mode: bool) {
    ATTACH_MODE.store(attach_mode, Ordering::SeqCst);
    // SAFETY: installing a handler that only touches atomics and makes
    // async-signal-safe syscalls.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO; // no SA_RESTART: waitpid gets EINTR
        libc::sigemptyset(&mut sa.sa_mask);
        for s in HANDLED {
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

/// Sets the process signals are forwarded to (launch) or interrupted to
/// wake the tracer (attach). Returns signals that arrived before, with
/// their counts (launch mode forwards them now).
pub fn set_target(pid: i32) -> Vec<(i32, u32)> {
    TARGET.store(pid, Ordering::SeqCst);
    let mut out = Vec::new();
    for (sig, c) in PENDING.iter().enumerate() {
        let n = c.swap(0, Ordering::SeqCst);
        if n > 0 {
            out.push((sig as i32, n));
        }
    }
    out
}

/// Signals forwarded since the last call, with counts.
pub fn take_forwarded() -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    for (sig, c) in FORWARDED.iter().enumerate() {
        if c.load(Ordering::Relaxed) == 0 {
            continue;
        }
        let n = c.swap(0, Ordering::SeqCst);
        if n > 0 {
            out.push((sig as i32, n));
        }
    }
    out
}

/// The end of a flush of `timeout`: counted from the first SIGTERM if one
/// was received (ECS sends SIGKILL its stop timeout after SIGTERM), else
/// from now.
pub fn flush_deadline(timeout: Duration) -> Instant {
    let term = TERM_AT_NS.load(Ordering::SeqCst);
    let since = if term == 0 {
        Duration::ZERO
    } else {
        Duration::from_nanos(mono_ns().saturating_sub(term))
    };
    Instant::now() + timeout.saturating_sub(since)
}

/// True once a detach was requested (attach mode).
pub fn detach_requested() -> bool {
    DETACH.load(Ordering::SeqCst)
}

/// In a freshly forked child, before exec: default dispositions for the
/// handled signals and SIGPIPE (Rust ignores SIGPIPE, and an ignored signal
/// would survive exec), and the signal mask capture started with.
///
/// Only async-signal-safe calls: this runs between fork and exec.
pub fn reset_in_child(mask: &libc::sigset_t) {
    // SAFETY: async-signal-safe libc calls on valid arguments.
    unsafe {
        for s in HANDLED {
            libc::signal(s, libc::SIG_DFL);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}
