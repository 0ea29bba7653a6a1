//! Signals sent to capture itself, and the dispositions the workload
//! inherits.
//!
//! Every signal a process can catch gets a handler ([`FORWARDED_SIGNALS`]:
//! 1-31 but SIGKILL, SIGSTOP and SIGCHLD, and SIGRTMIN..SIGRTMAX as the C
//! library defines them), so no signal but SIGKILL ends capture before it
//! closed the trace. The handler runs on the main tracer thread (every
//! other thread blocks these signals; helper tracers leave only
//! [`wake_signal`] unblocked, so a process-directed one may be handled
//! there, which forwards and queues it just the same). In launch mode it forwards the
//! signal to the workload's main process (`pidfd_send_signal`, else
//! kill(2); both async-signal-safe), so forwarding works even while the
//! tracer sleeps in waitpid, and queues the signal with its sender (the
//! `siginfo`'s `si_pid`/`si_uid`) so the tracer can record a `Forwarded`
//! signal event naming the original sender. Once the main process has
//! exited ([`main_gone`]) the handler only queues: the tracer forwards to
//! every process still traced ([`take_forwarded`]).
//!
//! Not forwarded:
//! - signals the kernel generated (`si_code` > 0: a terminal's ^C, ^Z,
//!   hangup or window change, a child's SIGCHLD): the kernel already sent
//!   them to the whole foreground process group, workload included;
//! - signals capture raised on itself (`si_pid` is capture: SIGPIPE or
//!   SIGXFSZ from its own writes);
//! - a real fault of capture (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
//!   SIGSYS with `si_code` > 0): the default disposition is restored and
//!   the fault kills capture as it would have;
//! - SIGCHLD: capture gets one per ptrace stop, so a handler would cost a
//!   signal delivery per stop. A SIGCHLD sent to capture with kill(2) is
//!   not forwarded.
//! - the glibc-internal signals 32 and 33 (no handler can be installed).
//!
//! Job control: SIGTSTP, SIGTTIN and SIGTTOU sent to capture are forwarded
//! and stop the workload (capture itself keeps running, so a shell that
//! waits for capture does not see the job stop); SIGCONT is forwarded and
//! continues it. SIGSTOP stops capture alone (it cannot be caught; the
//! workload stops at its next traced syscall, which waits for the tracer)
//! and SIGKILL kills capture (the workload is killed with it:
//! `PTRACE_O_EXITKILL`) leaving the trace as it was at the last closed chunk.
//!
//! In attach mode SIGINT/SIGTERM/SIGHUP/SIGQUIT request a detach: the
//! handler sets a flag and `PTRACE_INTERRUPT`s the target (allowed: the
//! handler runs on the tracer thread), so a blocked waitpid returns. Other
//! signals are caught and ignored in attach mode.
//!
//! Dispositions: the workload starts with the dispositions capture
//! inherited: a signal ignored by capture's parent (`nohup`, `trap '' INT`)
//! is ignored in the workload, the others have their default action, and
//! the signal mask is the one capture started with. SIGPIPE's inherited
//! disposition is read before Rust's runtime sets it to ignored
//! ([`record_inherited`], run from the binary's `.init_array`).
//!
//! The handler is installed without `SA_RESTART`, so waitpid also returns
//! `EINTR`, and with every handled signal in its mask, so it never nests.
//! **Invariant:** capture never dies of a catchable signal, and the
//! workload gets each forwarded signal exactly once.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Signals numbered 1..=31 that are never handled: SIGKILL and SIGSTOP
/// (cannot be caught), SIGCHLD (one per ptrace stop).
const NOT_HANDLED: [i32; 3] = [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD];

/// `si_code` of a POSIX timer's expiry.
const SI_TIMER: i32 = -2;
/// `si_code` of a signal sent with `tgkill`/`tkill`.
const SI_TKILL: i32 = -6;

/// Signals whose `si_code` > 0 means a real fault of capture itself.
const FAULTS: [i32; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// The signals capture catches and forwards: 1..=31 but `NOT_HANDLED`,
/// then `SIGRTMIN()..=SIGRTMAX()`.
pub fn forwarded_signals() -> impl Iterator<Item = i32> {
    (1..32)
        .filter(|s| !NOT_HANDLED.contains(s))
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
}

/// The same list, for documentation and tests.
pub const FORWARDED_SIGNALS: &str = "1-31 except SIGKILL, SIGSTOP, SIGCHLD; SIGRTMIN..SIGRTMAX";

static TARGET: AtomicI32 = AtomicI32::new(0);
/// A pidfd of the target (-1: none; kill(2) is used).
static TARGET_FD: AtomicI32 = AtomicI32::new(-1);
/// The main process exited: the tracer forwards to the survivors.
static MAIN_GONE: AtomicBool = AtomicBool::new(false);
static ATTACH_MODE: AtomicBool = AtomicBool::new(false);
static DETACH: AtomicBool = AtomicBool::new(false);
/// capture's own pid, read once before the handler is installed.
static SELF_PID: AtomicI32 = AtomicI32::new(0);

/// Signals received, with their senders, in a ring the tracer drains. The
/// handler is the only writer and runs on the tracer thread, which is the
/// only reader, so a slot is written completely before `HEAD` moves.
const RING: usize = 256;
static RING_SIG: [AtomicU64; RING] = [const { AtomicU64::new(0) }; RING];
static RING_UID: [AtomicU32; RING] = [const { AtomicU32::new(0) }; RING];
static HEAD: AtomicUsize = AtomicUsize::new(0);
static TAIL: AtomicUsize = AtomicUsize::new(0);
/// Signals that did not fit in the ring (delivered but not recorded).
static OVERFLOW: AtomicU64 = AtomicU64::new(0);

/// Bits of a ring slot: signal in bits 0-7, "already sent to the target"
/// in bit 8, "received before there was a target" in bit 9, sender pid in
/// bits 32-63.
const SENT: u64 = 1 << 8;
const EARLY: u64 = 1 << 9;

/// Ignored dispositions inherited from capture's parent (bit N-1 for
/// signal N), recorded before `main` ([`record_inherited`]).
static INHERITED_IGN: AtomicU64 = AtomicU64::new(0);
static INHERITED_RECORDED: AtomicBool = AtomicBool::new(false);

/// CLOCK_MONOTONIC ns of the first SIGTERM received (0: none yet).
static TERM_AT_NS: AtomicU64 = AtomicU64::new(0);

fn mono_ns() -> u64 {
    // SAFETY: timespec is plain data.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime is async-signal-safe and writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// Records which signals capture's parent left ignored. Called from the
/// binary's `.init_array`, before Rust's runtime ignores SIGPIPE; safe to
/// call again (later calls do nothing).
pub extern "C" fn record_inherited() {
    if INHERITED_RECORDED.swap(true, Ordering::SeqCst) {
        return;
    }
    let mut bits = 0u64;
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction is plain data; a null new action only reads.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: reads the current disposition into `old`.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0
            && old.sa_sigaction == libc::SIG_IGN
        {
            bits |= 1 << (sig - 1);
        }
    }
    INHERITED_IGN.store(bits, Ordering::SeqCst);
}

/// Whether `sig` was ignored when capture started.
pub fn inherited_ignored(sig: i32) -> bool {
    (1..=64).contains(&sig) && INHERITED_IGN.load(Ordering::SeqCst) & (1 << (sig - 1)) != 0
}

fn push(word: u64, uid: u32) -> bool {
    let head = HEAD.load(Ordering::SeqCst);
    if head.wrapping_sub(TAIL.load(Ordering::SeqCst)) >= RING {
        OVERFLOW.fetch_add(1, Ordering::SeqCst);
        return false;
    }
    RING_SIG[head % RING].store(word, Ordering::SeqCst);
    RING_UID[head % RING].store(uid, Ordering::SeqCst);
    HEAD.store(head.wrapping_add(1), Ordering::SeqCst);
    true
}

/// Sends `sig` to the target; async-signal-safe.
fn send_to_target(sig: i32) -> bool {
    let fd = TARGET_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: pidfd_send_signal with a pidfd we own and no siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        return r == 0;
    }
    let target = TARGET.load(Ordering::SeqCst);
    // SAFETY: kill(2) is async-signal-safe.
    target > 0 && unsafe { libc::kill(target, sig) } == 0
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if sig == libc::SIGTERM {
        let _ = TERM_AT_NS.compare_exchange(0, mono_ns(), Ordering::SeqCst, Ordering::SeqCst);
    }
    let (code, spid, suid) = if info.is_null() {
        (0, 0, 0)
    } else {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO
        // handler; si_pid/si_uid are read as the kill/queue member, which
        // for other codes is still initialised memory of the struct.
        unsafe { ((*info).si_code, (*info).si_pid(), (*info).si_uid()) }
    };
    if code > 0 && FAULTS.contains(&sig) {
        // A real fault of capture: die of it (the instruction faults again).
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    if code == SI_TIMER {
        // capture's own timers (`crate::entered`'s scan, a helper tracer's
        // backstop in `crate::pool`): waking waitpid was the point. No
        // other timer signals capture.
        return;
    }
    if code == SI_TKILL && spid == SELF_PID.load(Ordering::SeqCst) {
        // A tracer thread waking another ([`wake_signal`]). No other
        // process can send SI_TKILL in capture's name (the kernel sets
        // si_pid, and rt_sigqueueinfo refuses SI_TKILL to others).
        return;
    }
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
        // Kernel-generated (tty, child state): the workload got its own copy.
        return;
    }
    if code == libc::SI_USER && spid == SELF_PID.load(Ordering::SeqCst) {
        // Raised by capture's own writes (SIGPIPE, SIGXFSZ).
        return;
    }
    let word = (sig as u64 & 0xff) | ((spid as u32 as u64) << 32);
    if target > 0 && !MAIN_GONE.load(Ordering::SeqCst) {
        let sent = send_to_target(sig);
        push(word | if sent { SENT } else { 0 }, suid);
    } else if target > 0 {
        push(word, suid);
    } else {
        push(word | EARLY, suid);
    }
}

/// The signal a tracer thread sends another to wake it out of `waitpid`
/// (`crate::pool`): the handler ignores it when capture sent it to itself
/// with `tgkill` or its own timer sent it, and treats it as any other
/// signal (forwarded) when another process sent it. Helper tracer threads
/// leave it unblocked ([`unblock_wake`]), so a process-directed one may
/// run the handler on them; it only forwards and queues, which any thread
/// may do.
pub fn wake_signal() -> i32 {
    libc::SIGRTMAX()
}

/// Unblocks [`wake_signal`] in the calling thread (a helper tracer, which
/// blocked every handled signal first).
pub fn unblock_wake() {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets; only the calling thread's mask changes.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, wake_signal());
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// A POSIX timer that sends `signo` to the thread that started it, every
/// `period` (`SIGEV_THREAD_ID`). Its signals carry `SI_TIMER`, which the
/// handler ignores: waking that thread's `waitpid` is the point
/// (`crate::entered`'s scan, a helper tracer's backstop in `crate::pool`).
/// Deleted when dropped.
pub struct ThreadTimer(libc::timer_t);

impl ThreadTimer {
    /// Starts the timer; `None` if the kernel refuses it.
    pub fn start(signo: i32, period: Duration) -> Option<ThreadTimer> {
        // SAFETY: sigevent is plain data.
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = signo;
        // SAFETY: gettid has no arguments.
        sev.sigev_notify_thread_id = unsafe { libc::gettid() };
        // SAFETY: timer_t is a plain handle the kernel fills.
        let mut timer: libc::timer_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to live locals.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut timer) } != 0 {
            return None;
        }
        let timer = ThreadTimer(timer);
        let every = libc::timespec {
            tv_sec: period.as_secs() as _,
            tv_nsec: period.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: every,
            it_value: every,
        };
        // SAFETY: arms the timer we created with a valid spec (on failure
        // the drop deletes it).
        if unsafe { libc::timer_settime(timer.0, 0, &spec, std::ptr::null_mut()) } != 0 {
            return None;
        }
        Some(timer)
    }
}

impl Drop for ThreadTimer {
    fn drop(&mut self) {
        // SAFETY: deletes the timer this value created.
        unsafe { libc::timer_delete(self.0) };
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

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for s in forwarded_signals() {
        // SAFETY: `set` is a valid sigset_t and `s` a valid signal.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    set
}

fn set_mask(how: libc::c_int) -> libc::sigset_t {
    let set = handled_set();
    // SAFETY: sigset_t is plain data.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets; only the calling thread's mask changes.
    unsafe { libc::pthread_sigmask(how, &set, &mut old) };
    old
}

/// Installs the handler (on the calling thread's process; other threads
/// must block the signals).
pub fn install(attach_mode: bool) {
    record_inherited();
    ATTACH_MODE.store(attach_mode, Ordering::SeqCst);
    SELF_PID.store(std::process::id() as i32, Ordering::SeqCst);
    // SAFETY: sigaction is plain data.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO; // no SA_RESTART: waitpid gets EINTR
    sa.sa_mask = handled_set();
    for s in forwarded_signals() {
        // SAFETY: installing a handler that only touches atomics and makes
        // async-signal-safe syscalls.
        unsafe { libc::sigaction(s, &sa, std::ptr::null_mut()) };
    }
    // An inherited SIG_IGN for SIGCHLD would make the kernel reap capture's
    // children itself, and waitpid would lose their exit statuses; the
    // workload gets the inherited disposition back (`reset_in_child`).
    // SAFETY: signal(2) with a valid disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
}

/// Sets the process signals are forwarded to (launch) or interrupted to
/// wake the tracer (attach). Returns signals that arrived before, with
/// their counts (launch mode forwards them now).
pub fn set_target(pid: i32) -> Vec<(i32, u32)> {
    // SAFETY: pidfd_open takes plain integers; the fd is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd >= 0 {
        TARGET_FD.store(fd as i32, Ordering::SeqCst);
    }
    TARGET.store(pid, Ordering::SeqCst);
    let mut counts = [0u32; 65];
    let early: Vec<Forwarded> = drain()
        .into_iter()
        .filter(|f| {
            let keep = f.early;
            if keep {
                counts[(f.signo as usize).min(64)] += 1;
            }
            !keep
        })
        .collect();
    // Not early (cannot happen before a target exists): keep them.
    for f in early {
        requeue(&f);
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (s as i32, *n))
        .collect()
}

/// The workload's main process exited (and was reaped): the handler stops
/// signalling its pid; [`take_forwarded`]'s caller forwards to the
/// processes still traced.
pub fn main_gone() {
    MAIN_GONE.store(true, Ordering::SeqCst);
    let fd = TARGET_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: closing the pidfd we opened.
        unsafe { libc::close(fd) };
    }
}

/// A signal capture received and forwarded (or must still forward).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forwarded {
    pub signo: i32,
    /// Who sent it to capture (`si_pid`, `si_uid`).
    pub sender_pid: i32,
    pub sender_uid: u32,
    /// Already sent to the main process by the handler.
    pub sent: bool,
    early: bool,
}

fn requeue(f: &Forwarded) {
    let word = (f.signo as u64 & 0xff)
        | ((f.sender_pid as u32 as u64) << 32)
        | if f.sent { SENT } else { 0 };
    push(word, f.sender_uid);
}

fn drain() -> Vec<Forwarded> {
    let mut out = Vec::new();
    loop {
        let tail = TAIL.load(Ordering::SeqCst);
        if tail == HEAD.load(Ordering::SeqCst) {
            break;
        }
        let w = RING_SIG[tail % RING].load(Ordering::SeqCst);
        let uid = RING_UID[tail % RING].load(Ordering::SeqCst);
        TAIL.store(tail.wrapping_add(1), Ordering::SeqCst);
        out.push(Forwarded {
            signo: (w & 0xff) as i32,
            sender_pid: (w >> 32) as u32 as i32,
            sender_uid: uid,
            sent: w & SENT != 0,
            early: w & EARLY != 0,
        });
    }
    out
}

/// Signals received since the last call, in order. Those with `sent`
/// false must be forwarded by the caller (the main process is gone).
pub fn take_forwarded() -> Vec<Forwarded> {
    if TAIL.load(Ordering::Relaxed) == HEAD.load(Ordering::Relaxed) {
        return Vec::new();
    }
    // Block the handler while draining, so a slot is not rewritten under us.
    let old = block();
    let v = drain();
    // SAFETY: restores the mask `block` returned.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    v
}

/// Signals that could not be recorded (the ring was full); they were
/// still forwarded.
pub fn overflowed() -> u64 {
    OVERFLOW.swap(0, Ordering::SeqCst)
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

/// The dispositions to give the workload, computed before the fork (the
/// child only makes async-signal-safe calls): per handled signal, whether
/// it was inherited ignored.
#[derive(Clone, Copy, Debug)]
pub struct ChildDispositions {
    ignored: u64,
}

impl ChildDispositions {
    pub fn now() -> ChildDispositions {
        record_inherited();
        ChildDispositions {
            ignored: INHERITED_IGN.load(Ordering::SeqCst),
        }
    }
}

/// In a freshly forked child, before exec: every handled signal (and
/// SIGPIPE, which Rust ignores) gets the disposition capture inherited
/// (ignored or default), and the signal mask is the one capture started
/// with.
///
/// Only async-signal-safe calls: this runs between fork and exec.
pub fn reset_in_child(mask: &libc::sigset_t, disp: &ChildDispositions) {
    let reset = |s: i32| {
        let ign = (1..=64).contains(&s) && disp.ignored & (1 << (s - 1)) != 0;
        let h = if ign { libc::SIG_IGN } else { libc::SIG_DFL };
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(s, h) };
    };
    for s in 1..32 {
        if !NOT_HANDLED.contains(&s) || s == libc::SIGCHLD {
            reset(s);
        }
    }
    for s in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        reset(s);
    }
    // SAFETY: restores a valid mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
}
