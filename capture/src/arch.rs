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
