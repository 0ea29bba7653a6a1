//! Everything that depends on the CPU architecture.
//!
//! The rest of the crate sees syscalls only through canonical ids (the
//! x86_64 numbers, see `trace_format::syscalls`) and argument words in the
//! table's order. The audit arch that `PTRACE_GET_SYSCALL_INFO` reports
//! says which ABI a syscall was made with; the number maps to a canonical
//! id through the shared table (`syscalls::canonical_id`), and argument
//! registers are permuted where the ABI differs (`syscalls::normalize_args`,
//! e.g. aarch64's `clone`). Adding an architecture is adding its audit arch
//! here and its number map in the table.
//!
//! It also changes a stopped syscall's number and return value
//! ([`deny_syscall`], [`set_return`]), and reads and writes a stopped
//! thread's registers for a handover between tracer threads ([`Regs`],
//! [`SYSCALL_INSN`], [`NR_RT_SIGSUSPEND`]; see `handover.rs`).
//!
//! It also says what the seccomp filter must compare against
//! ([`NATIVE_AUDIT_ARCH`], [`COMPAT_NR_BIT`], [`native_numbers`]).
//!
//! **Architecture Invariant:** no other module of capture depends on
//! `target_arch`.

use trace_format::syscalls::{self, Arch, FIRST_NON_X86_64_ID, SyscallSet};

/// `AUDIT_ARCH_*` of a syscall, as `PTRACE_GET_SYSCALL_INFO` reports it.
pub type AuditArch = u32;

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: AuditArch = 0xC000_003E;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: AuditArch = 0xC000_00B7;

/// The x32 ABI marks its syscall numbers with this bit.
const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// Name of the architecture capture was built for, for the metadata.
pub const NAME: &str = if cfg!(target_arch = "x86_64") {
    "x86_64"
} else if cfg!(target_arch = "aarch64") {
    "aarch64"
} else {
    "unknown"
};

/// The syscall table's architecture capture was built for, if supported.
pub const NATIVE: Option<Arch> = if cfg!(target_arch = "x86_64") {
    Some(Arch::X86_64)
} else if cfg!(target_arch = "aarch64") {
    Some(Arch::Aarch64)
} else {
    None
};

/// The audit arch of the native syscall ABI capture was built for (what a
/// seccomp filter sees in `seccomp_data.arch` for native syscalls).
pub const NATIVE_AUDIT_ARCH: AuditArch = if cfg!(target_arch = "aarch64") {
    AUDIT_ARCH_AARCH64
} else {
    AUDIT_ARCH_X86_64
};

/// Bit that marks x32 syscall numbers on x86_64; `None` elsewhere. A seccomp
/// filter must not take an x32 number for a native one.
pub const COMPAT_NR_BIT: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(X32_SYSCALL_BIT as u32)
} else {
    None
};

/// The native syscall numbers of the canonical ids in `set`, sorted and
/// deduplicated (ids the native ABI lacks, e.g. `open` on aarch64, are left
/// out). Used to build the seccomp filter.
pub fn native_numbers(set: &SyscallSet) -> Vec<u32> {
    let Some(arch) = NATIVE else {
        return Vec::new();
    };
    let mut v: Vec<u32> = set
        .iter()
        .filter_map(|id| syscalls::arch_nr(arch, id))
        .filter_map(|nr| u32::try_from(nr).ok())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn arch_of(audit: AuditArch) -> Option<Arch> {
    match audit {
        AUDIT_ARCH_X86_64 => Some(Arch::X86_64),
        AUDIT_ARCH_AARCH64 => Some(Arch::Aarch64),
        _ => None,
    }
}

/// The canonical id of syscall number `nr` made under `audit`, or `None`
/// for a syscall from an ABI the canonical table does not describe (i386
/// `int 0x80`, x32, arm32 compat).
///
/// On x86_64 a number the table does not know yet (a newer kernel) is still
/// its canonical id: it is recorded, and named `syscall_<id>` by readers.
pub fn canonical_id(audit: AuditArch, nr: u64) -> Option<u16> {
    match arch_of(audit)? {
        Arch::X86_64 => {
            if nr & X32_SYSCALL_BIT != 0 {
                return None;
            }
            u16::try_from(nr).ok().filter(|&n| n < FIRST_NON_X86_64_ID)
        }
        arch => syscalls::canonical_id(arch, nr),
    }
}

/// Argument registers reordered into the canonical table's order.
pub fn canonical_args(audit: AuditArch, id: u16, mut args: [u64; 6]) -> [u64; 6] {
    if let Some(arch) = arch_of(audit) {
        syscalls::normalize_args(arch, id, &mut args);
    }
    args
}

/// At a syscall-entry or seccomp stop of `tid`: makes the kernel skip the
/// syscall (its number becomes -1) and sets its return value to `ret`
/// (e.g. `-ENOSYS`). At the following exit stop, [`set_return`] again (a
/// skipped syscall keeps the value set here on x86_64; aarch64 reports
/// the register as it was).
pub fn deny_syscall(tid: i32, ret: i64) -> std::io::Result<()> {
    set_syscall_nr(tid, -1)?;
    set_return(tid, ret)
}

#[cfg(target_arch = "x86_64")]
mod regs {
    /// Offsets in `struct user_regs_struct` (asm/ptrace.h).
    pub const ORIG_RAX: usize = 15 * 8;
    pub const RAX: usize = 10 * 8;
}

#[cfg(target_arch = "x86_64")]
fn poke_user(tid: i32, offset: usize, value: i64) -> std::io::Result<()> {
    // SAFETY: PTRACE_POKEUSER writes one word of the stopped tracee's user
    // area at a register offset; no pointer of ours is dereferenced.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_POKEUSER,
            tid,
            offset as *mut libc::c_void,
            value as *mut libc::c_void,
        )
    };
    if r == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(target_arch = "x86_64")]
fn set_syscall_nr(tid: i32, nr: i64) -> std::io::Result<()> {
    poke_user(tid, regs::ORIG_RAX, nr)
}

/// Sets the syscall return register of the stopped `tid`.
#[cfg(target_arch = "x86_64")]
pub fn set_return(tid: i32, ret: i64) -> std::io::Result<()> {
    poke_user(tid, regs::RAX, ret)
}

#[cfg(target_arch = "aarch64")]
const NT_ARM_SYSTEM_CALL: libc::c_int = 0x404;

#[cfg(target_arch = "aarch64")]
fn set_syscall_nr(tid: i32, nr: i64) -> std::io::Result<()> {
    let mut v: libc::c_int = nr as libc::c_int;
    let mut iov = libc::iovec {
        iov_base: (&mut v as *mut libc::c_int).cast(),
        iov_len: std::mem::size_of::<libc::c_int>(),
    };
    // SAFETY: PTRACE_SETREGSET reads `iov_len` bytes from a live local.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGSET,
            tid,
            NT_ARM_SYSTEM_CALL as *mut libc::c_void,
            &mut iov as *mut libc::iovec,
        )
    };
    if r == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `PTRACE_GETREGSET` (or `PTRACE_SETREGSET` when `set`) of the general
/// registers of the stopped `tid`. (The request's C type differs between
/// glibc and musl, so it is chosen here rather than passed in.)
#[cfg(target_arch = "aarch64")]
fn prstatus(tid: i32, set: bool, regs: &mut libc::user_regs_struct) -> std::io::Result<()> {
    let request = if set {
        libc::PTRACE_SETREGSET
    } else {
        libc::PTRACE_GETREGSET
    };
    let mut iov = libc::iovec {
        iov_base: (regs as *mut libc::user_regs_struct).cast(),
        iov_len: std::mem::size_of::<libc::user_regs_struct>(),
    };
    // SAFETY: the kernel reads or fills at most `iov_len` bytes of `regs`,
    // which outlives the call.
    let r = unsafe {
        libc::ptrace(
            request,
            tid,
            libc::NT_PRSTATUS as *mut libc::c_void,
            &mut iov as *mut libc::iovec,
        )
    };
    if r == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets the syscall return register (x0) of the stopped `tid`.
#[cfg(target_arch = "aarch64")]
pub fn set_return(tid: i32, ret: i64) -> std::io::Result<()> {
    // SAFETY: user_regs_struct is plain data.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    prstatus(tid, false, &mut regs)?;
    regs.regs[0] = ret as u64;
    prstatus(tid, true, &mut regs)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn set_syscall_nr(_tid: i32, _nr: i64) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Sets the syscall return register of the stopped `tid`.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn set_return(_tid: i32, _ret: i64) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The bytes of the instruction that makes a syscall (`syscall` on
/// x86_64, `svc #0` on aarch64); a thread stopped right after a syscall
/// returned has it just before its instruction pointer.
pub const SYSCALL_INSN: &[u8] = if cfg!(target_arch = "aarch64") {
    &[0x01, 0x00, 0x00, 0xd4]
} else {
    &[0x0f, 0x05]
};

/// The native number of `rt_sigsuspend`.
pub const NR_RT_SIGSUSPEND: u64 = if cfg!(target_arch = "aarch64") {
    133
} else {
    130
};

/// Bytes below the stack pointer that code may use without moving it
/// (x86_64's red zone; aarch64 has none, the same gap is kept anyway).
pub const RED_ZONE: u64 = 128;

/// A stopped thread's general registers, as the kernel's
/// `user_regs_struct` holds them (`PTRACE_GETREGS` on x86_64, the
/// `NT_PRSTATUS` register set on aarch64).
#[derive(Clone, Copy)]
pub struct Regs(Raw);

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type Raw = libc::user_regs_struct;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type Raw = ();

impl std::fmt::Debug for Regs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regs {{ ip: {:#x}, sp: {:#x} }}", self.ip(), self.sp())
    }
}

#[cfg(target_arch = "x86_64")]
impl Regs {
    /// The registers of the stopped `tid`.
    pub fn get(tid: i32) -> std::io::Result<Regs> {
        // SAFETY: user_regs_struct is plain data.
        let mut r: Raw = unsafe { std::mem::zeroed() };
        // SAFETY: PTRACE_GETREGS fills exactly one user_regs_struct, a
        // live local.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGS,
                tid,
                std::ptr::null_mut::<libc::c_void>(),
                (&mut r as *mut Raw).cast::<libc::c_void>(),
            )
        };
        if rc == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Regs(r))
    }

    /// Sets the registers of the stopped `tid`.
    pub fn set(&self, tid: i32) -> std::io::Result<()> {
        // SAFETY: PTRACE_SETREGS reads one user_regs_struct from `self`.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_SETREGS,
                tid,
                std::ptr::null_mut::<libc::c_void>(),
                (&self.0 as *const Raw).cast_mut().cast::<libc::c_void>(),
            )
        };
        if rc == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// The instruction pointer.
    pub fn ip(&self) -> u64 {
        self.0.rip
    }

    /// The stack pointer.
    pub fn sp(&self) -> u64 {
        self.0.rsp
    }

    /// These registers changed so that the thread, resumed, executes the
    /// syscall instruction at `insn` as syscall `nr(a0, a1)`.
    pub fn calling(&self, insn: u64, nr: u64, a0: u64, a1: u64) -> Regs {
        let mut r = self.0;
        r.rip = insn;
        r.rax = nr;
        r.rdi = a0;
        r.rsi = a1;
        Regs(r)
    }
}

#[cfg(target_arch = "aarch64")]
impl Regs {
    /// The registers of the stopped `tid`.
    pub fn get(tid: i32) -> std::io::Result<Regs> {
        // SAFETY: user_regs_struct is plain data.
        let mut r: Raw = unsafe { std::mem::zeroed() };
        prstatus(tid, false, &mut r)?;
        Ok(Regs(r))
    }

    /// Sets the registers of the stopped `tid`.
    pub fn set(&self, tid: i32) -> std::io::Result<()> {
        let mut r = self.0;
        prstatus(tid, true, &mut r)
    }

    /// The instruction pointer.
    pub fn ip(&self) -> u64 {
        self.0.pc
    }

    /// The stack pointer.
    pub fn sp(&self) -> u64 {
        self.0.sp
    }

    /// These registers changed so that the thread, resumed, executes the
    /// syscall instruction at `insn` as syscall `nr(a0, a1)`.
    pub fn calling(&self, insn: u64, nr: u64, a0: u64, a1: u64) -> Regs {
        let mut r = self.0;
        r.pc = insn;
        r.regs[8] = nr;
        r.regs[0] = a0;
        r.regs[1] = a1;
        Regs(r)
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
impl Regs {
    /// Not supported on this architecture.
    pub fn get(_tid: i32) -> std::io::Result<Regs> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }

    /// Not supported on this architecture.
    pub fn set(&self, _tid: i32) -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }

    pub fn ip(&self) -> u64 {
        0
    }

    pub fn sp(&self) -> u64 {
        0
    }

    pub fn calling(&self, _insn: u64, _nr: u64, _a0: u64, _a1: u64) -> Regs {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_to_canonical_ids() {
        assert_eq!(canonical_id(AUDIT_ARCH_X86_64, 257), Some(257));
        assert_eq!(canonical_id(AUDIT_ARCH_X86_64, 999), Some(999));
        assert_eq!(canonical_id(AUDIT_ARCH_X86_64, 0x4000_0000 | 1), None);
        assert_eq!(canonical_id(0x4000_0003, 5), None); // AUDIT_ARCH_I386
        // aarch64 openat is 56.
        assert_eq!(canonical_id(AUDIT_ARCH_AARCH64, 56), Some(257));
        let a = canonical_args(AUDIT_ARCH_AARCH64, 56, [1, 2, 3, 4, 5, 6]);
        assert_eq!(a, [1, 2, 3, 5, 4, 6]);
    }
}
