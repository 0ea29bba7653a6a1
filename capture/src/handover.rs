//! Moving a tracee from one tracer thread to another with no moment in
//! which it runs untraced: the primitive of several tracer threads
//! (issue 19; the protocol and who owns what are ARCHITECTURE.md's
//! "Several tracer threads").
//!
//! ptrace accepts requests for a tracee only from its tracer *thread*, and
//! has no "detach and stay stopped": `PTRACE_DETACH` resumes the tracee. So
//! the old tracer **parks** the thread before letting it go ([`park`]):
//!
//! 1. at a stop right after a syscall returned (a new process's first
//!    stop, before it ran one instruction of its own), it saves the
//!    registers and signal mask, blocks every signal (`PTRACE_SETSIGMASK`),
//!    writes a full signal set below the stack's red zone, and points the
//!    thread at the syscall instruction it just returned from, as
//!    `rt_sigsuspend(&full, 8)`;
//! 2. it resumes the thread to that syscall's *entry stop*, still traced:
//!    a stop signal already pending (the only kind not blocked) is
//!    delivered on the way there instead, and then everything is put back
//!    and the thread kept (nothing ran);
//! 3. from the entry stop it detaches. The thread sleeps in
//!    `rt_sigsuspend` with every blockable signal blocked: no user
//!    instruction, no handler, no job-control change its parent could see.
//!    A SIGSTOP stops it (as it would untraced) and makes the call restart
//!    after SIGCONT, still with every signal blocked, since that is the
//!    mask it was called with.
//!
//! The new tracer **adopts** it ([`adopt`]): `PTRACE_SEIZE` with capture's
//! options, `PTRACE_INTERRUPT`, and at that stop the saved registers and
//! stack word go back. The thread continues exactly where it was first
//! stopped; the kernel restores its own signal mask as `rt_sigsuspend`
//! returns, and signals sent meanwhile, still pending, are delivered under
//! the new tracer, once.
//!
//! **Invariant (never untraced in user space):** [`park`] detaches only
//! after everything that could make the injected call return at once has
//! been ruled out: the instruction before the stop is a syscall
//! instruction; the thread runs under no seccomp filter but capture's
//! (`Seccomp_filters` in `/proc/TID/status`; a workload's own filter might
//! refuse the call); capture's own filter does not stop on
//! `rt_sigsuspend` (untraced, `SECCOMP_RET_TRACE` fails with `ENOSYS`);
//! the stack word can be written. Otherwise the thread is kept, unchanged.
//!
//! Between the two tracers `SIGKILL` kills the thread as it would an
//! untraced one, and `SIGSTOP` stops it (the job-control stop its parent
//! would see without capture); [`adopt`] reports both. If capture itself
//! is killed in between, the parked thread sleeps until killed:
//! `PTRACE_O_EXITKILL` no longer covers it.
//!
//! Every tracer thread must collect stops with `__WNOTHREAD`
//! ([`crate::ptrace::wait_own`]): a stop collected by another thread
//! cannot be answered.

use crate::arch::{self, Regs};
use crate::error::{CaptureError, Result};
use crate::mem;
use crate::procfs;
use crate::ptrace::{self, Stop, SyscallInfo};

/// A thread the old tracer let go, sleeping in `rt_sigsuspend`: what the
/// new tracer needs to put it back.
#[derive(Debug)]
pub struct Parked {
    pub tid: i32,
    regs: Regs,
    /// The thread's own blocked-signal mask.
    mask: u64,
    /// Where the signal set was written, and the word it replaced.
    mask_at: u64,
    saved: [u8; 8],
}

/// Why [`park`] kept the thread (it is still stopped, as it was, and
/// still traced by the caller), or that it is gone.
#[derive(Debug)]
pub enum Kept {
    /// One of the invariant's conditions does not hold.
    Unsafe(&'static str),
    /// A signal reached the thread on the way to the parking call: the
    /// thread is at its signal-delivery-stop, registers put back; resume
    /// it delivering the signal, as any signal-delivery-stop.
    Signal(i32),
    /// The thread died meanwhile (this wait status).
    Died(i32),
    /// A ptrace or memory request failed.
    Error(CaptureError),
}

/// What capture did to the workload's seccomp state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filters {
    /// Seccomp filters capture installed (0, or 1 under `--syscalls`).
    pub capture: u32,
    /// Capture's filter stops on `rt_sigsuspend`.
    pub stops_sigsuspend: bool,
}

/// At a stop of `tid` right after a syscall returned, which the caller's
/// thread traces: parks the thread and detaches (see the module docs).
/// On `Err`, the thread is still the caller's.
pub fn park(tid: i32, filters: Filters) -> std::result::Result<Parked, Kept> {
    if filters.capture > 0 && filters.stops_sigsuspend {
        return Err(Kept::Unsafe("capture's seccomp filter stops rt_sigsuspend"));
    }
    let status = procfs::status(tid).ok_or(Kept::Unsafe("no /proc status"))?;
    let own_filters = match (status.seccomp, status.seccomp_filters) {
        (0, _) => false,
        (2, Some(n)) => n != filters.capture,
        _ => true,
    };
    if own_filters {
        return Err(Kept::Unsafe(
            "the thread runs under a seccomp filter of its own",
        ));
    }
    let regs = Regs::get(tid).map_err(|e| Kept::Error(io_err("PTRACE_GETREGS", tid, e)))?;
    let mask = ptrace::sigmask(tid).map_err(Kept::Error)?;
    let insn = regs.ip().wrapping_sub(arch::SYSCALL_INSN.len() as u64);
    if mem::read_exact(tid, insn, arch::SYSCALL_INSN.len()).as_deref() != Some(arch::SYSCALL_INSN) {
        return Err(Kept::Unsafe("no syscall instruction before the stop"));
    }
    let mask_at = regs.sp().wrapping_sub(arch::RED_ZONE + 8) & !15;
    let saved: [u8; 8] = mem::read_exact(tid, mask_at, 8)
        .and_then(|v| v.try_into().ok())
        .ok_or(Kept::Unsafe("the stack below the red zone cannot be read"))?;
    let parked = Parked {
        tid,
        regs,
        mask,
        mask_at,
        saved,
    };
    if !mem::write(tid, mask_at, &[0xff; 8]) {
        return Err(Kept::Unsafe(
            "the stack below the red zone cannot be written",
        ));
    }
    // Block every signal *before* the parking call, not only in it:
    // `rt_sigsuspend` puts back the mask it was called with when it
    // returns, and a stop signal (which no mask blocks) makes it return
    // and restart. Called with the thread's own mask, it would unblock a
    // pending signal for that moment and run its handler untraced (seen:
    // SIGUSR1 with SIGSTOP and SIGCONT during a handover, its delivery
    // missing from the trace, or lost under a filter). Called with every
    // signal blocked, it restarts blocked; `restore` puts the thread's
    // own mask back.
    if let Err(e) = ptrace::set_sigmask(tid, u64::MAX) {
        let _ = parked.restore();
        return Err(Kept::Error(e));
    }
    let call = regs.calling(insn, arch::NR_RT_SIGSUSPEND, mask_at, 8);
    if let Err(e) = call.set(tid) {
        let _ = parked.restore();
        return Err(Kept::Error(io_err("PTRACE_SETREGS", tid, e)));
    }
    // To the entry stop of the parking call, still traced.
    if let Err(e) = ptrace::resume_syscall(tid, 0) {
        let _ = parked.restore();
        return Err(Kept::Error(e));
    }
    let status = ptrace::wait_tid(tid).map_err(Kept::Error)?;
    match Stop::from_status(status) {
        Stop::Syscall => match ptrace::syscall_info(tid) {
            Ok(SyscallInfo::Entry { nr, .. }) if nr == arch::NR_RT_SIGSUSPEND => {
                ptrace::detach(tid, 0).map_err(Kept::Error)?;
                Ok(parked)
            }
            Ok(_) => {
                let _ = parked.restore();
                Err(Kept::Unsafe("the parking call did not stop at its entry"))
            }
            Err(e) => Err(Kept::Error(e)),
        },
        Stop::Signal { signal } => {
            parked.restore().map_err(Kept::Error)?;
            Err(Kept::Signal(signal))
        }
        s if s.is_death() => Err(Kept::Died(status)),
        _ => {
            // A stop the parking call cannot cause (the thread was alone in
            // its process, stopped): put back, keep.
            let _ = parked.restore();
            Err(Kept::Unsafe(
                "an unexpected stop on the way to the parking call",
            ))
        }
    }
}

/// Where an adopted thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adopted {
    /// Stopped (`PTRACE_EVENT_STOP`), everything put back: resume it as
    /// the old tracer would have.
    Stopped,
    /// In a job-control stop (a stop signal reached it while parked),
    /// everything put back: `PTRACE_LISTEN`, as any group-stop.
    GroupStop(i32),
    /// Gone: killed while parked (its parent reaps it), or dead with this
    /// wait status.
    Gone(Option<i32>),
}

/// On the new tracer thread: seizes the parked thread with `options`,
/// stops it and puts back what [`park`] changed. Also returns the signals
/// delivered on the way (re-injected, for the caller to record): only
/// `SIGSTOP` can be, every other one is blocked while parked.
pub fn adopt(p: &Parked, options: nix::sys::ptrace::Options) -> Result<(Adopted, Vec<i32>)> {
    let mut delivered = Vec::new();
    match ptrace::seize(p.tid, options) {
        Ok(()) => {}
        Err(CaptureError::TraceeDied { .. }) => return Ok((Adopted::Gone(None), delivered)),
        Err(e) => return Err(e),
    }
    match ptrace::interrupt(p.tid) {
        Ok(()) | Err(CaptureError::TraceeDied { .. }) => {}
        Err(e) => return Err(e),
    }
    loop {
        let status = match ptrace::wait_tid(p.tid) {
            Ok(s) => s,
            Err(CaptureError::Ptrace {
                errno: nix::errno::Errno::ECHILD,
                ..
            }) => {
                return Ok((Adopted::Gone(None), delivered));
            }
            Err(e) => return Err(e),
        };
        match Stop::from_status(status) {
            Stop::Interrupt { .. } => {
                p.restore()?;
                return Ok((Adopted::Stopped, delivered));
            }
            Stop::GroupStop { signal } => {
                p.restore()?;
                return Ok((Adopted::GroupStop(signal), delivered));
            }
            s if s.is_death() => return Ok((Adopted::Gone(Some(status)), delivered)),
            // A SIGSTOP that woke the thread before the interrupt's trap
            // was set: delivered (never swallowed), so the thread
            // group-stops, reported next as a group-stop.
            Stop::Signal { signal } => {
                delivered.push(signal);
                ptrace::resume_cont(p.tid, signal)?;
            }
            // Nothing else can come first; passed over until the
            // interrupt's stop.
            _ => ptrace::resume_cont(p.tid, 0)?,
        }
    }
}

impl Parked {
    /// Puts back the registers, the signal mask and the stack word of the
    /// stopped thread. The mask is set here, not only left to
    /// `rt_sigsuspend`'s own restore: a parked thread woken by a stop
    /// signal and continued may reach the new tracer's stop with that
    /// restore already done or not yet; setting it makes both end with the
    /// thread's own mask ([`park`] blocked every signal).
    fn restore(&self) -> Result<()> {
        self.regs
            .set(self.tid)
            .map_err(|e| io_err("PTRACE_SETREGS", self.tid, e))?;
        ptrace::set_sigmask(self.tid, self.mask)?;
        if !mem::write(self.tid, self.mask_at, &self.saved) {
            return Err(io_err(
                "write to /proc/TID/mem",
                self.tid,
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

fn io_err(what: &'static str, tid: i32, e: std::io::Error) -> CaptureError {
    CaptureError::ptrace(
        what,
        tid,
        nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    )
}

#[cfg(test)]
mod tests;
