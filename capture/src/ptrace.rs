//! A thin typed layer over ptrace(2) and wait(2).
//!
//! [`Stop`] mirrors the kinds of stops ptrace(2) describes, decoded from a
//! wait status in one place ([`Stop::from_status`]); every request maps
//! `ESRCH` to [`CaptureError::TraceeDied`].
//!
//! All tracees are attached with `PTRACE_SEIZE` (launched ones too), so
//! group-stops are reported as `PTRACE_EVENT_STOP` and can be handled with
//! `PTRACE_LISTEN` instead of being swallowed.

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::unistd::Pid;

use crate::arch::AuditArch;
use crate::error::{CaptureError, Result};

/// `PTRACE_EVENT_*` values (status >> 16).
pub mod event {
    pub const FORK: i32 = 1;
    pub const VFORK: i32 = 2;
    pub const CLONE: i32 = 3;
    pub const EXEC: i32 = 4;
    pub const VFORK_DONE: i32 = 5;
    pub const EXIT: i32 = 6;
    pub const SECCOMP: i32 = 7;
    pub const STOP: i32 = 128;
}

/// What a wait status says about a tracee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The thread exited with this code (`WIFEXITED`).
    Exited { code: i32 },
    /// The thread was killed by a signal (`WIFSIGNALED`).
    Killed { signal: i32, core: bool },
    /// A syscall-stop (`SIGTRAP | 0x80`, needs `PTRACE_O_TRACESYSGOOD`):
    /// entry or exit, `PTRACE_GET_SYSCALL_INFO` tells.
    Syscall,
    /// A `PTRACE_EVENT_*` stop other than `PTRACE_EVENT_STOP`.
    Event { event: i32 },
    /// A group-stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) in SEIZE mode.
    GroupStop { signal: i32 },
    /// `PTRACE_EVENT_STOP` with SIGTRAP: a `PTRACE_INTERRUPT`, the first stop
    /// of a new auto-attached child, or the wake-up of a listening tracee.
    Interrupt { signal: i32 },
    /// Signal-delivery-stop: the signal is about to be delivered.
    Signal { signal: i32 },
    /// The thread continued (`WIFCONTINUED`; not requested, kept total).
    Continued,
}

impl Stop {
    /// Decodes a raw wait(2) status.
    pub fn from_status(status: i32) -> Stop {
        if libc::WIFEXITED(status) {
            return Stop::Exited {
                code: libc::WEXITSTATUS(status),
            };
        }
        if libc::WIFSIGNALED(status) {
            return Stop::Killed {
                signal: libc::WTERMSIG(status),
                core: libc::WCOREDUMP(status),
            };
        }
        if libc::WIFSTOPPED(status) {
            let signal = libc::WSTOPSIG(status);
            let ev = (status >> 16) & 0xffff;
            return match ev {
                0 if signal == (libc::SIGTRAP | 0x80) => Stop::Syscall,
                0 => Stop::Signal { signal },
                event::STOP => match signal {
                    libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => {
                        Stop::GroupStop { signal }
                    }
                    _ => Stop::Interrupt { signal },
                },
                event => Stop::Event { event },
            };
        }
        Stop::Continued
    }

    /// True when the thread no longer exists.
    pub fn is_death(&self) -> bool {
        matches!(self, Stop::Exited { .. } | Stop::Killed { .. })
    }
}

/// Waits for any traced or child thread (`__WALL`). `Ok(None)` when
/// interrupted by a signal (EINTR) or, with `nohang`, nothing is ready.
pub fn wait_any(nohang: bool) -> Result<Option<(i32, i32)>, Errno> {
    wait_all(libc::__WALL, nohang)
}

/// Waits for a stop of a tracee of *this* thread (`__WALL | __WNOTHREAD`):
/// with several tracer threads, a stop collected by another thread could
/// not be answered (`crate::handover`). `Ok(None)` as for [`wait_any`].
pub fn wait_own(nohang: bool) -> Result<Option<(i32, i32)>, Errno> {
    wait_all(libc::__WALL | libc::__WNOTHREAD, nohang)
}

/// `waitpid(-1, flags)` (plus `WNOHANG`): `Ok(None)` on `EINTR` or when
/// nothing is ready.
fn wait_all(flags: libc::c_int, nohang: bool) -> Result<Option<(i32, i32)>, Errno> {
    let mut status = 0;
    let flags = flags | if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: plain syscall with a valid out pointer.
    let r = unsafe { libc::waitpid(-1, &mut status, flags) };
    match r {
        -1 => match Errno::last() {
            Errno::EINTR => Ok(None),
            e => Err(e),
        },
        0 => Ok(None),
        tid => Ok(Some((tid, status))),
    }
}

/// Which thread [`wait_own`] would report next, leaving it to be
/// collected (`waitid(WNOWAIT)`): the main tracer with helpers looks
/// before it collects, because it also sees the stops of its *real*
/// children that a helper traces (the kernel reports a tracee's stops to
/// its real parent's thread group as if it were the tracer), and a stop
/// it collected could not be answered. `Ok(None)` on `EINTR`.
/// The report is `(tid, exec)`: `exec` when it is a `PTRACE_EVENT_EXEC`
/// stop (a thread that exec'd reports under its leader's tid, which
/// another tracer may have served).
pub fn peek_own() -> Result<Option<(i32, bool)>, Errno> {
    // SAFETY: siginfo_t is plain data; waitid fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::__WALL | libc::__WNOTHREAD | libc::WNOWAIT;
    // SAFETY: plain syscall with a valid out pointer.
    let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
    if r == -1 {
        return match Errno::last() {
            Errno::EINTR => Ok(None),
            e => Err(e),
        };
    }
    // SAFETY: waitid succeeded, so the SIGCHLD fields are set.
    let (tid, status) = unsafe { (info.si_pid(), info.si_status()) };
    // A ptrace stop's si_status is its whole stop code: event << 8 | SIGTRAP.
    let exec = info.si_code == libc::CLD_TRAPPED && status >> 8 == event::EXEC;
    Ok((tid > 0).then_some((tid, exec)))
}

/// Collects the report [`peek_own`] saw for `tid`: `Ok(None)` when it is
/// no longer there (its tracer collected it).
pub fn take(tid: i32) -> Result<Option<(i32, i32)>, Errno> {
    let mut status = 0;
    // SAFETY: plain syscall with a valid out pointer.
    let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
    match r {
        -1 => match Errno::last() {
            Errno::EINTR | Errno::ECHILD => Ok(None),
            e => Err(e),
        },
        0 => Ok(None),
        tid => Ok(Some((tid, status))),
    }
}

/// Waits for one thread (`__WALL`), retrying on EINTR.
pub fn wait_tid(tid: i32) -> Result<i32> {
    loop {
        let mut status = 0;
        // SAFETY: plain syscall with a valid out pointer.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        if r == tid {
            return Ok(status);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(CaptureError::ptrace("waitpid", tid, e)),
        }
    }
}

/// The options every tracee gets; `exit_kill` only for launched workloads.
pub fn options(exit_kill: bool) -> ptrace::Options {
    use ptrace::Options as O;
    let mut o = O::PTRACE_O_TRACESYSGOOD
        | O::PTRACE_O_TRACEFORK
        | O::PTRACE_O_TRACEVFORK
        | O::PTRACE_O_TRACECLONE
        | O::PTRACE_O_TRACEEXEC
        | O::PTRACE_O_TRACEEXIT
        // Without it a workload's own SECCOMP_RET_TRACE filter would make
        // syscalls fail with ENOSYS; the seccomp issue builds on it.
        | O::PTRACE_O_TRACESECCOMP;
    if exit_kill {
        o |= O::PTRACE_O_EXITKILL;
    }
    o
}

fn pid(tid: i32) -> Pid {
    Pid::from_raw(tid)
}

/// `PTRACE_SEIZE`.
pub fn seize(tid: i32, opts: ptrace::Options) -> Result<()> {
    ptrace::seize(pid(tid), opts).map_err(|e| CaptureError::ptrace("PTRACE_SEIZE", tid, e))
}

/// `PTRACE_INTERRUPT`.
pub fn interrupt(tid: i32) -> Result<()> {
    ptrace::interrupt(pid(tid)).map_err(|e| CaptureError::ptrace("PTRACE_INTERRUPT", tid, e))
}

/// `PTRACE_SYSCALL`, delivering `signal` (0 for none).
pub fn resume_syscall(tid: i32, signal: i32) -> Result<()> {
    // SAFETY: PTRACE_SYSCALL takes no pointers; data is the signal number.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SYSCALL,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            signal as libc::c_long,
        )
    };
    check(r, "PTRACE_SYSCALL", tid)
}

/// `PTRACE_CONT`, delivering `signal` (0 for none): no syscall stops
/// (only seccomp `RET_TRACE`, events and signals stop the tracee).
pub fn resume_cont(tid: i32, signal: i32) -> Result<()> {
    // SAFETY: PTRACE_CONT takes no pointers; data is the signal number.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_CONT,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            signal as libc::c_long,
        )
    };
    check(r, "PTRACE_CONT", tid)
}

/// `PTRACE_LISTEN`: leave a group-stopped tracee stopped, but let it
/// report SIGCONT and new events.
pub fn listen(tid: i32) -> Result<()> {
    // SAFETY: PTRACE_LISTEN takes no pointers.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_LISTEN,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    check(r, "PTRACE_LISTEN", tid)
}

/// `PTRACE_DETACH`, delivering `signal` (0 for none).
pub fn detach(tid: i32, signal: i32) -> Result<()> {
    // SAFETY: PTRACE_DETACH takes no pointers; data is the signal number.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_DETACH,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            signal as libc::c_long,
        )
    };
    check(r, "PTRACE_DETACH", tid)
}

/// `PTRACE_GETSIGMASK` / `PTRACE_SETSIGMASK` (Linux 3.11).
const PTRACE_GETSIGMASK: libc::c_int = 0x420a;
const PTRACE_SETSIGMASK: libc::c_int = 0x420b;

/// The blocked-signal mask of the stopped `tid` (`PTRACE_GETSIGMASK`).
pub fn sigmask(tid: i32) -> Result<u64> {
    let mut mask: u64 = 0;
    // SAFETY: the kernel writes `addr` (8) bytes into `mask`, a live local.
    let r = unsafe {
        libc::ptrace(
            PTRACE_GETSIGMASK as _,
            tid,
            std::mem::size_of::<u64>() as *mut libc::c_void,
            &mut mask as *mut u64,
        )
    };
    check(r, "PTRACE_GETSIGMASK", tid).map(|()| mask)
}

/// Sets the blocked-signal mask of the stopped `tid` (`PTRACE_SETSIGMASK`).
pub fn set_sigmask(tid: i32, mask: u64) -> Result<()> {
    let mut m = mask;
    // SAFETY: the kernel reads `addr` (8) bytes from `m`, a live local.
    let r = unsafe {
        libc::ptrace(
            PTRACE_SETSIGMASK as _,
            tid,
            std::mem::size_of::<u64>() as *mut libc::c_void,
            &mut m as *mut u64,
        )
    };
    check(r, "PTRACE_SETSIGMASK", tid)
}

/// `PTRACE_GETEVENTMSG`.
pub fn event_msg(tid: i32) -> Result<u64> {
    ptrace::getevent(pid(tid))
        .map(|v| v as u64)
        .map_err(|e| CaptureError::ptrace("PTRACE_GETEVENTMSG", tid, e))
}

/// `PTRACE_GETSIGINFO`: (si_code, sender pid, sender uid). The sender is
/// only read where `siginfo_t` holds one: a signal sent by a process
/// (`si_code` <= 0: `SI_USER`, `SI_QUEUE`, `SI_TKILL`, ...) or a SIGCHLD;
/// a kernel-generated signal (a fault's SIGSEGV, whose union holds the
/// fault address; `SI_KERNEL`) has sender 0.
pub fn siginfo(tid: i32) -> Result<(i32, i32, u32)> {
    let si = ptrace::getsiginfo(pid(tid))
        .map_err(|e| CaptureError::ptrace("PTRACE_GETSIGINFO", tid, e))?;
    if !has_sender(si.si_signo, si.si_code) {
        return Ok((si.si_code, 0, 0));
    }
    // SAFETY: for these codes the kernel filled the kill/queue/child union
    // member, whose first fields are si_pid and si_uid.
    let (spid, suid) = unsafe { (si.si_pid(), si.si_uid()) };
    Ok((si.si_code, spid, suid))
}

/// Whether a `siginfo_t` with this signal and code names a sending process.
pub fn has_sender(signo: i32, code: i32) -> bool {
    code <= 0 || signo == libc::SIGCHLD
}

fn check(r: libc::c_long, op: &'static str, tid: i32) -> Result<()> {
    if r == -1 {
        Err(CaptureError::ptrace(op, tid, Errno::last()))
    } else {
        Ok(())
    }
}

/// What `PTRACE_GET_SYSCALL_INFO` reports at a syscall-stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallInfo {
    Entry {
        arch: AuditArch,
        nr: u64,
        args: [u64; 6],
    },
    Exit {
        rval: i64,
        is_error: bool,
    },
    Seccomp {
        arch: AuditArch,
        nr: u64,
        args: [u64; 6],
    },
    None,
}

const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

/// The kernel's `struct ptrace_syscall_info` (uapi `linux/ptrace.h`),
/// declared here because the libc crate has it only for glibc targets and
/// capture also builds for musl (static binaries). Fields capture does not
/// read are there for the layout the kernel writes.
#[allow(dead_code)]
#[repr(C)]
#[derive(Clone, Copy)]
struct RawSyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    u: RawSyscallInfoUnion,
}

#[repr(C)]
#[derive(Clone, Copy)]
union RawSyscallInfoUnion {
    entry: RawEntry,
    exit: RawExit,
    seccomp: RawSeccomp,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawEntry {
    nr: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawExit {
    sval: i64,
    is_error: u8,
}

#[allow(dead_code)]
#[repr(C)]
#[derive(Clone, Copy)]
struct RawSeccomp {
    nr: u64,
    args: [u64; 6],
    ret_data: u32,
}

/// `PTRACE_GET_SYSCALL_INFO` (Linux 5.3).
const PTRACE_GET_SYSCALL_INFO: libc::c_int = 0x420e;

/// `PTRACE_GET_SYSCALL_INFO`.
pub fn syscall_info(tid: i32) -> Result<SyscallInfo> {
    // SAFETY: all-zero bytes are a valid value of this plain-data struct.
    let mut info: RawSyscallInfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<RawSyscallInfo>();
    // SAFETY: the kernel writes at most `size` bytes (the `addr` argument)
    // into `info`, which is that large and lives across the call.
    let r = unsafe {
        libc::ptrace(
            PTRACE_GET_SYSCALL_INFO as _,
            tid,
            std::ptr::without_provenance_mut::<libc::c_void>(size),
            &mut info as *mut RawSyscallInfo as *mut libc::c_void,
        )
    };
    if r < 0 {
        return Err(CaptureError::ptrace(
            "PTRACE_GET_SYSCALL_INFO",
            tid,
            Errno::last(),
        ));
    }
    // SAFETY: `op` says which union member the kernel filled.
    let v = unsafe {
        match info.op {
            PTRACE_SYSCALL_INFO_ENTRY => SyscallInfo::Entry {
                arch: info.arch,
                nr: info.u.entry.nr,
                args: info.u.entry.args,
            },
            PTRACE_SYSCALL_INFO_EXIT => SyscallInfo::Exit {
                rval: info.u.exit.sval,
                is_error: info.u.exit.is_error != 0,
            },
            PTRACE_SYSCALL_INFO_SECCOMP => SyscallInfo::Seccomp {
                arch: info.arch,
                nr: info.u.seccomp.nr,
                args: info.u.seccomp.args,
            },
            _ => SyscallInfo::None,
        }
    };
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(sig: i32, ev: i32) -> i32 {
        (ev << 16) | (sig << 8) | 0x7f
    }

    #[test]
    fn decodes_wait_statuses() {
        assert_eq!(Stop::from_status(7 << 8), Stop::Exited { code: 7 });
        assert_eq!(
            Stop::from_status(libc::SIGKILL),
            Stop::Killed {
                signal: 9,
                core: false
            }
        );
        assert_eq!(
            Stop::from_status(stopped(libc::SIGTRAP | 0x80, 0)),
            Stop::Syscall
        );
        assert_eq!(
            Stop::from_status(stopped(libc::SIGTERM, 0)),
            Stop::Signal { signal: 15 }
        );
        assert_eq!(
            Stop::from_status(stopped(libc::SIGTRAP, event::EXEC)),
            Stop::Event { event: event::EXEC }
        );
        assert_eq!(
            Stop::from_status(stopped(libc::SIGSTOP, event::STOP)),
            Stop::GroupStop { signal: 19 }
        );
        assert_eq!(
            Stop::from_status(stopped(libc::SIGTRAP, event::STOP)),
            Stop::Interrupt { signal: 5 }
        );
        assert!(Stop::from_status(0).is_death());
        // A fault's SIGSEGV (SEGV_MAPERR = 1) has no sender; kill(2) does.
        assert!(!has_sender(libc::SIGSEGV, 1));
        assert!(!has_sender(libc::SIGSEGV, 0x80));
        assert!(has_sender(libc::SIGSEGV, 0));
        assert!(has_sender(libc::SIGTERM, -6));
        assert!(has_sender(libc::SIGCHLD, 1));
    }
}
