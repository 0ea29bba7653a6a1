//! Everything that depends on the CPU architecture.
//!
//! The rest of the crate sees syscalls only through canonical ids (the
//! x86_64 numbers, see `trace_format::syscalls`) and argument words in the
//! table's order. Porting to aarch64 means adding an `imp` module here: its
//! audit arch, its native-number -> canonical-id map, and the argument
//! permutations where its ABI differs (aarch64's `clone` swaps `tls` and
//! `child_tid`).
//!
//! **Invariant:** no other module matches on `target_arch`.

/// `AUDIT_ARCH_*` of a syscall, as `PTRACE_GET_SYSCALL_INFO` reports it.
pub type AuditArch = u32;

#[cfg(target_arch = "x86_64")]
mod imp {
    /// `AUDIT_ARCH_X86_64`.
    pub const AUDIT_ARCH: u32 = 0xC000_003E;
    pub const NAME: &str = "x86_64";
    /// The x32 ABI marks its syscall numbers with this bit.
    const X32_SYSCALL_BIT: u64 = 0x4000_0000;

    pub fn canonical_id(nr: u64) -> Option<u16> {
        if nr & X32_SYSCALL_BIT != 0 {
            return None;
        }
        u16::try_from(nr)
            .ok()
            .filter(|&n| n < trace_format::syscalls::FIRST_NON_X86_64_ID)
    }

    pub fn canonical_args(_id: u16, args: [u64; 6]) -> [u64; 6] {
        args
    }
}

#[cfg(not(target_arch = "x86_64"))]
compile_error!("capture supports x86_64 only for now; add an `imp` module in arch.rs");

/// Name of the architecture, for the trace metadata (`uname -m` style).
pub const NAME: &str = imp::NAME;

/// The audit arch of native syscalls.
pub const NATIVE_AUDIT_ARCH: AuditArch = imp::AUDIT_ARCH;

/// The canonical id of native syscall number `nr` made under `arch`, or
/// `None` for a syscall from a compat ABI (i386 `int 0x80`, x32) that the
/// canonical table does not describe.
pub fn canonical_id(arch: AuditArch, nr: u64) -> Option<u16> {
    if arch != imp::AUDIT_ARCH {
        return None;
    }
    imp::canonical_id(nr)
}

/// Argument registers reordered into the canonical table's order.
pub fn canonical_args(id: u16, args: [u64; 6]) -> [u64; 6] {
    imp::canonical_args(id, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_numbers_are_canonical() {
        assert_eq!(canonical_id(NATIVE_AUDIT_ARCH, 257), Some(257));
        assert_eq!(canonical_id(NATIVE_AUDIT_ARCH, 0x4000_0000 | 1), None);
        assert_eq!(canonical_id(0x4000_0003, 5), None); // AUDIT_ARCH_I386
    }
}
