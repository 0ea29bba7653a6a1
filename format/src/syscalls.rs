//! The declarative syscall table: what every Linux syscall is called, what
//! its arguments are, and how to decode and render them.
//!
//! Syscalls are named by a *canonical id* that does not depend on the
//! recording architecture: the Linux x86_64 syscall number, and ids from
//! [`FIRST_NON_X86_64_ID`] up for syscalls x86_64 does not have. Argument
//! order is x86_64's; an architecture whose ABI orders arguments differently
//! (aarch64's `clone`) permutes them when recording (capture's `arch` module),
//! so raw argument registers in a trace are always in this table's order.
//!
//! **Architecture Invariant:** ids are never reused or renumbered; entries
//! are only added. A trace names syscalls by these ids forever.
//!
//! Both sides use this one table: capture to know which argument to read from
//! tracee memory and how, replay to name syscalls (`evt.type`), arguments
//! (`evt.arg.NAME`) and render flags (`O_RDONLY|O_CLOEXEC`).

mod flags;
mod table;

pub use flags::*;
pub use table::SYSCALLS;

/// Canonical ids from here up are syscalls that x86_64 does not define.
pub const FIRST_NON_X86_64_ID: u16 = 1000;

/// How to decode and render one syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A signed integer (counts, offsets, lengths).
    Int,
    /// An unsigned integer or opaque value, rendered in decimal.
    Uint,
    /// A pointer or opaque word not worth decoding, rendered in hex.
    Ptr,
    /// A file descriptor: rendered as a number plus what it refers to.
    Fd,
    /// A directory fd for the `*at` family (`AT_FDCWD` = -100 is the cwd).
    Dirfd,
    /// A NUL-terminated path, resolved against the cwd.
    Path,
    /// A NUL-terminated path resolved against the dirfd in argument `dirfd`.
    PathAt {
        dirfd: u8,
    },
    /// A NUL-terminated string that is not a path (xattr names, fs types).
    Str,
    /// A NULL-terminated array of string pointers (argv, envp).
    StrList,
    /// A bit set; names in the given [`FlagSet`].
    Flags(&'static FlagSet),
    /// One value of an enumeration (e.g. `whence`, `PTRACE_*`, `F_*`).
    Enum(&'static FlagSet),
    /// File mode bits (`0644`), rendered in octal.
    Mode,
    /// A signal number.
    Signal,
    /// A process or thread id.
    Pid,
    /// A user or group id.
    Uid,
    Gid,
    /// A socket address read from memory; its length is argument `len`.
    SockAddrIn {
        len: u8,
    },
    /// A socket address the kernel fills; `len` is a pointer to its length.
    SockAddrOut {
        len: u8,
    },
    /// A buffer the program passes in; its length is argument `len`.
    BufIn {
        len: u8,
    },
    /// A buffer the kernel fills; the return value says how much.
    BufOut,
    /// An array of `struct iovec` of `count` entries, passed in (writev).
    IovecIn {
        count: u8,
    },
    /// An array of `struct iovec` the kernel fills (readv); return value
    /// says how much.
    IovecOut {
        count: u8,
    },
    /// `struct msghdr` passed in (sendmsg): address, iovecs.
    MsghdrIn,
    /// `struct msghdr` the kernel fills (recvmsg).
    MsghdrOut,
    /// `int[2]` the kernel fills (pipe, pipe2, socketpair).
    FdPairOut,
    /// `struct open_how` (openat2), its size is argument `size`.
    OpenHow {
        size: u8,
    },
    /// `struct clone_args` (clone3), its size is argument `size`.
    CloneArgs {
        size: u8,
    },
    /// A pointer to a struct or value this table does not decode.
    Struct,
}

/// One argument of a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    /// The argument's name, as `evt.arg.NAME` exposes it; Falco's name where
    /// Falco has one (e.g. `fd`, `name`, `flags`, `mode`, `dirfd`).
    pub name: &'static str,
    pub kind: ArgKind,
}

/// Groups a syscall belongs to, for `--syscalls` sets (bit flags).
pub mod group {
    pub const FILE: u8 = 1;
    pub const NET: u8 = 2;
    pub const PROCESS: u8 = 4;
    /// Changes process or fd state: always traced whatever the set.
    pub const STATE: u8 = 8;
    /// Used by the shipped Falco rules (`evt.type` in their conditions).
    pub const FALCO: u8 = 16;
}

/// One syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// Canonical id.
    pub id: u16,
    pub name: &'static str,
    pub args: &'static [Arg],
    /// Bit set of [`group`] constants.
    pub groups: u8,
}

/// The syscall with canonical id `id`.
pub fn by_id(id: u16) -> Option<&'static Syscall> {
    // SYSCALLS is sorted by id (checked by a test), so search it.
    SYSCALLS
        .binary_search_by_key(&id, |s| s.id)
        .ok()
        .map(|i| &SYSCALLS[i])
}

/// The syscall called `name`.
pub fn by_name(name: &str) -> Option<&'static Syscall> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// The name of syscall `id`, or `None` for an id this table does not know
/// (a trace from a newer kernel): callers print `syscall_<id>`.
pub fn name(id: u16) -> Option<&'static str> {
    by_id(id).map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_by_unique_id_and_names_are_unique() {
        for pair in SYSCALLS.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        let mut names: Vec<_> = SYSCALLS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(len, names.len(), "duplicate syscall names");
    }

    #[test]
    fn argument_references_point_at_real_arguments() {
        for s in SYSCALLS {
            assert!(s.args.len() <= 6, "{}", s.name);
            for a in s.args {
                let r = match a.kind {
                    ArgKind::PathAt { dirfd } => Some(dirfd),
                    ArgKind::SockAddrIn { len } | ArgKind::SockAddrOut { len } => Some(len),
                    ArgKind::BufIn { len } => Some(len),
                    ArgKind::IovecIn { count } | ArgKind::IovecOut { count } => Some(count),
                    ArgKind::OpenHow { size } | ArgKind::CloneArgs { size } => Some(size),
                    _ => None,
                };
                if let Some(r) = r {
                    assert!((r as usize) < s.args.len(), "{}.{}", s.name, a.name);
                }
            }
        }
    }

    #[test]
    fn well_known_lookups() {
        assert_eq!(by_name("openat").map(|s| s.id), Some(257));
        assert_eq!(name(0), Some("read"));
        assert_eq!(name(59), Some("execve"));
    }
}
