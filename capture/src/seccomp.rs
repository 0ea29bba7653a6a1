//! The seccomp-bpf filter behind `--syscalls SET`.
//!
//! With a set other than `all`, the launched child installs a classic BPF
//! filter after it was seized and before it execs the workload. The filter
//! returns `SECCOMP_RET_TRACE` for the recorded set and `SECCOMP_RET_ALLOW`
//! for every other syscall, so unrecorded syscalls never stop: the tracer
//! resumes with `PTRACE_CONT`, sees a `PTRACE_EVENT_SECCOMP` stop at the
//! entry of a recorded syscall, and asks for that syscall's exit stop only
//! (`PTRACE_SYSCALL`). With `all` no filter is installed: every syscall
//! stops at entry and exit (`PTRACE_SYSCALL`), which is one stop fewer per
//! syscall than a filter that traces everything would cost.
//!
//! The program ([`Filter::new`]):
//!
//! ```text
//!   A = seccomp_data.arch
//!   if A != native audit arch: return TRACE     (i386 / arm32 compat ABIs)
//!   A = seccomp_data.nr
//!   if A & X32_BIT: return TRACE                (x86_64 only: x32 ABI)
//!   for each range [lo, hi] of native numbers, ascending:
//!       if A < lo: return ALLOW                 (sorted: no later range holds it)
//!       if A <= hi: return TRACE
//!   return ALLOW
//! ```
//!
//! Compat-ABI syscalls are traced rather than allowed: their numbers mean
//! other syscalls, so allowing them by number could let a state change
//! (e.g. an i386 `dup2`) pass unseen. The tracer counts them as foreign.
//!
//! Installing: `seccomp(SECCOMP_SET_MODE_FILTER)` is tried first without
//! `PR_SET_NO_NEW_PRIVS`, which succeeds when the child has `CAP_SYS_ADMIN`
//! (root in its user namespace): the workload then keeps its setuid
//! semantics. Only when that is refused (`EACCES`) is `no_new_privs` set,
//! which means setuid/setgid bits and file capabilities no longer raise
//! privileges on exec in the workload (documented in the README).
//!
//! **Architecture Invariant:** the filter traces every syscall of the set it
//! is built from, and [`crate::options`] only builds sets with
//! `trace_format::syscalls::parse_set`, which always includes the `STATE`
//! syscalls: state-changing syscalls are always in the filter (tested
//! below by running the program for every number).

use trace_format::syscalls::SyscallSet;

use crate::arch;

/// `SECCOMP_RET_TRACE`: notify the tracer (`PTRACE_EVENT_SECCOMP`).
pub const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h):
// BPF_LD (0x00) | BPF_W (0x00) | BPF_ABS (0x20).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGT_K: u16 = 0x05 | 0x20;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;
/// `BPF_MAXINSNS`.
const MAX_INSNS: usize = 4096;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;

const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;

/// A built filter program, ready to install in a child (building allocates,
/// installing does not, so it can run between fork and exec).
#[derive(Clone, Debug)]
pub struct Filter {
    prog: Vec<libc::sock_filter>,
}

/// Why the filter was not installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("syscall set too large for one seccomp filter ({0} instructions)")]
    TooLarge(usize),
    #[error("cannot install the seccomp filter: {0}")]
    Install(std::io::Error),
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Sorted numbers -> inclusive ranges of consecutive numbers.
fn ranges(nrs: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &n in nrs {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(n) => *hi = n,
            _ => out.push((n, n)),
        }
    }
    out
}

impl Filter {
    /// The filter tracing `set` (canonical ids) on the native architecture.
    pub fn new(set: &SyscallSet) -> Result<Filter, SeccompError> {
        Filter::for_numbers(&arch::native_numbers(set))
    }

    /// The filter tracing the native syscall numbers `nrs` (sorted).
    fn for_numbers(nrs: &[u32]) -> Result<Filter, SeccompError> {
        let mut p = vec![
            stmt(BPF_LD_W_ABS, OFF_ARCH),
            jump(BPF_JMP_JEQ_K, arch::NATIVE_AUDIT_ARCH, 1, 0),
            stmt(BPF_RET_K, RET_TRACE),
            stmt(BPF_LD_W_ABS, OFF_NR),
        ];
        if let Some(bit) = arch::COMPAT_NR_BIT {
            p.push(jump(BPF_JMP_JSET_K, bit, 0, 1));
            p.push(stmt(BPF_RET_K, RET_TRACE));
        }
        for (lo, hi) in ranges(nrs) {
            p.push(jump(BPF_JMP_JGE_K, lo, 1, 0));
            p.push(stmt(BPF_RET_K, RET_ALLOW));
            p.push(jump(BPF_JMP_JGT_K, hi, 1, 0));
            p.push(stmt(BPF_RET_K, RET_TRACE));
        }
        p.push(stmt(BPF_RET_K, RET_ALLOW));
        if p.len() > MAX_INSNS {
            return Err(SeccompError::TooLarge(p.len()));
        }
        Ok(Filter { prog: p })
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prog.is_empty()
    }

    /// The BPF instructions (for a measuring tracer that installs them
    /// itself: `capture/examples/bare_tracer.rs`).
    pub fn program(&self) -> &[libc::sock_filter] {
        &self.prog
    }

    /// Installs the filter on the calling thread (and everything it later
    /// forks or execs). Async-signal-safe: no allocation, only `seccomp(2)`
    /// and `prctl(2)`. Tries without `no_new_privs` first (needs
    /// `CAP_SYS_ADMIN`), then sets it. Returns the errno on failure.
    ///
    /// The caller must already be traced: a `SECCOMP_RET_TRACE` with no
    /// tracer fails the syscall with `ENOSYS`.
    pub fn install_raw(&self) -> Result<(), i32> {
        let fprog = libc::sock_fprog {
            len: self.prog.len() as libc::c_ushort,
            filter: self.prog.as_ptr().cast_mut(),
        };
        let call = || {
            // SAFETY: seccomp(2) reads the program through a pointer valid for
            // the duration of the call; flags 0.
            unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_SET_MODE_FILTER,
                    0 as libc::c_long,
                    &fprog as *const libc::sock_fprog,
                )
            }
        };
        if call() == 0 {
            return Ok(());
        }
        // SAFETY: reading errno of this thread.
        let e = unsafe { *libc::__errno_location() };
        if e != libc::EACCES {
            return Err(e);
        }
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            // SAFETY: reading errno of this thread.
            return Err(unsafe { *libc::__errno_location() });
        }
        if call() == 0 {
            Ok(())
        } else {
            // SAFETY: reading errno of this thread.
            Err(unsafe { *libc::__errno_location() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::syscalls::{self, SYSCALLS, group, parse_set};

    /// Runs the program over (arch, nr) like the kernel would (only the
    /// instructions [`Filter`] emits).
    fn run(f: &Filter, audit: u32, nr: u32) -> u32 {
        let mut a = 0u32;
        let mut pc = 0usize;
        loop {
            let i = f.prog[pc];
            pc += 1;
            let (taken, jt, jf) = match i.code {
                BPF_LD_W_ABS => {
                    a = match i.k {
                        OFF_NR => nr,
                        OFF_ARCH => audit,
                        k => panic!("load at {k}"),
                    };
                    continue;
                }
                BPF_RET_K => return i.k,
                BPF_JMP_JEQ_K => (a == i.k, i.jt, i.jf),
                BPF_JMP_JGT_K => (a > i.k, i.jt, i.jf),
                BPF_JMP_JGE_K => (a >= i.k, i.jt, i.jf),
                BPF_JMP_JSET_K => (a & i.k != 0, i.jt, i.jf),
                c => panic!("opcode {c:#x}"),
            };
            pc += usize::from(if taken { jt } else { jf });
        }
    }

    #[test]
    fn traces_exactly_the_set_and_always_state() {
        let native = arch::NATIVE_AUDIT_ARCH;
        for spec in ["falco", "file", "net", "process", "state", "read,write"] {
            let set = parse_set(spec).unwrap();
            let f = Filter::new(&set).unwrap();
            let nrs = arch::native_numbers(&set);
            for nr in 0..2000u32 {
                let want = if nrs.binary_search(&nr).is_ok() {
                    RET_TRACE
                } else {
                    RET_ALLOW
                };
                assert_eq!(run(&f, native, nr), want, "{spec}: nr {nr}");
            }
            // State-changing syscalls are always traced.
            for s in SYSCALLS.iter().filter(|s| s.is(group::STATE)) {
                if let Some(nr) = syscalls::arch_nr(crate::arch::NATIVE.unwrap(), s.id) {
                    assert_eq!(run(&f, native, nr as u32), RET_TRACE, "{spec}: {}", s.name);
                }
            }
            // Foreign ABIs are traced, not allowed by number.
            assert_eq!(run(&f, 0x4000_0003, 3), RET_TRACE, "i386");
            if let Some(bit) = arch::COMPAT_NR_BIT {
                assert_eq!(run(&f, native, bit | 2), RET_TRACE, "x32");
            }
        }
    }

    #[test]
    fn too_many_ranges_is_an_error_not_a_truncated_filter() {
        let sparse: Vec<u32> = (0..2000).map(|i| i * 2).collect();
        match Filter::for_numbers(&sparse) {
            Err(SeccompError::TooLarge(n)) => assert!(n > MAX_INSNS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn all_fits_and_ranges_merge() {
        let f = Filter::new(&parse_set("all").unwrap()).unwrap();
        assert!(f.len() < 64, "one range per gap: {}", f.len());
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 7), (9, 10)]);
        assert!(ranges(&[]).is_empty());
    }
}
