//! The declarative syscall table: what every Linux syscall is called, what
//! its arguments are, and how to decode and render them.
//!
//! Syscalls are named by a *canonical id* that does not depend on the
//! recording architecture: the Linux x86_64 syscall number, and ids from
//! [`FIRST_NON_X86_64_ID`] up for syscalls x86_64 does not have (there are
//! none today: every aarch64 syscall exists on x86_64). Argument order is
//! x86_64's; an architecture whose ABI orders arguments differently
//! (aarch64's `clone`) permutes them with [`normalize_args`] when recording,
//! so raw argument registers in a trace are always in this table's order.
//!
//! **Architecture Invariant:** ids are never reused or renumbered; entries
//! are only added. A trace names syscalls by these ids forever.
//!
//! Both sides use this one table: capture to know which argument to read from
//! tracee memory and how, and which syscalls to stop on ([`parse_set`]);
//! replay to name syscalls (`evt.type`), arguments (`evt.arg.NAME`, see
//! [`Syscall::param`]), render flags (`O_RDONLY|O_CLOEXEC`) and results
//! (`ENOENT`, see [`errno_name`]).
//!
//! The table ([`SYSCALLS`], in `syscalls/table.rs`) holds every x86_64
//! syscall of Linux 6.18 (ids 0..=334 and 424..=469).
//!
//! **Invariant:** [`SYSCALLS`] is sorted by id, ids and names are unique,
//! every argument reference (`PathAt::dirfd`, buffer lengths, counts, sizes)
//! points at an existing argument, no syscall has more than six arguments,
//! and no argument shares its name with the return value (all tested).
//!
//! # Which syscalls are `STATE`
//!
//! Capture keeps, per process, what a chunk snapshot holds (pid, parent,
//! threads, comm, exe, argv, cwd, root, credentials, capabilities, and every
//! fd with its kind, path or endpoints, and flags). A syscall is `STATE` when
//! missing it would leave that model wrong, so it is traced whatever
//! `--syscalls` says:
//! - it creates fds: the open family, `creat`, `open_by_handle_at`,
//!   `open_tree*`, `fsopen`/`fsmount`/`fspick`, `socket`, `socketpair`,
//!   `accept*`, `pipe*`, `dup*`, `eventfd*`, `signalfd*`, `timerfd_create`,
//!   `epoll_create*`, `inotify_init*`, `fanotify_init`, `memfd_create`,
//!   `memfd_secret`, `mq_open`, `pidfd_open`, `pidfd_getfd`, `userfaultfd`,
//!   `io_uring_setup`, `perf_event_open`, `bpf`, `landlock_create_ruleset`,
//!   `seccomp` (a listener fd), and `recvmsg`/`recvmmsg` (fds passed with
//!   `SCM_RIGHTS`);
//! - it changes what an fd is or its flags: `connect`, `bind`, `listen`,
//!   `fcntl`, `close`, `close_range`;
//! - it changes the process: `clone`, `clone3`, `fork`, `vfork`, `execve`,
//!   `execveat`, `exit`, `exit_group`, `unshare`, `setns`, `setsid`,
//!   `setpgid`, `prctl` (comm), `chdir`, `fchdir`, `chroot`, `pivot_root`,
//!   the `set*uid`/`set*gid` family, `setgroups`, `capset`.
//!
//! Deliberately not `STATE`: `kill` and signals (delivery is observed as
//! ptrace stops anyway), `mount`/`umount2` (capture does not model mount
//! tables), `rename`/`unlink` (fd paths are as opened, as in Falco), `ioctl`
//! (`FIOCLEX` is rare), `setrlimit`.

mod aarch64;
mod errno;
mod flags;
mod sets;
mod table;

pub use aarch64::AARCH64_TO_CANONICAL;
pub use errno::{errno_name, errno_value, render_res};
pub use flags::*;
pub use sets::{SET_NAMES, SetError, SyscallSet, parse_set, set_by_name};
pub use table::SYSCALLS;

/// Canonical ids from here up are syscalls that x86_64 does not define.
pub const FIRST_NON_X86_64_ID: u16 = 1000;

/// How to decode and render one syscall argument.
///
/// Integer kinds whose C type is `int` ([`ArgKind::Fd`], [`ArgKind::Dirfd`],
/// [`ArgKind::Pid`], [`ArgKind::Signal`], [`ArgKind::Uid`], [`ArgKind::Gid`],
/// [`ArgKind::Mode`]) use only the low 32 bits of the register: the ABI
/// leaves the upper half undefined. [`ArgKind::int_value`] does this.
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
    /// File mode bits (`0644`), rendered in octal ([`render_mode`]).
    Mode,
    /// A signal number ([`SIGNALS`]).
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
    /// `struct open_how` (openat2), its size is argument `size`. Its fields
    /// are parameters too ([`OPEN_HOW_FIELDS`]).
    OpenHow {
        size: u8,
    },
    /// `struct clone_args` (clone3), its size is argument `size`. Its fields
    /// are parameters too ([`CLONE_ARGS_FIELDS`]).
    CloneArgs {
        size: u8,
    },
    /// A socket option name: `SO_*` ([`SOCKOPT_NAMES`]) when argument
    /// `level` is `SOL_SOCKET`, else a number.
    SockOptName {
        level: u8,
    },
    /// A pointer to a struct or value this table does not decode.
    Struct,
}

impl ArgKind {
    /// The argument this kind refers to (a dirfd, a length, a count, a size,
    /// a level), if any.
    pub fn referenced_arg(self) -> Option<u8> {
        match self {
            ArgKind::PathAt { dirfd: r }
            | ArgKind::SockAddrIn { len: r }
            | ArgKind::SockAddrOut { len: r }
            | ArgKind::BufIn { len: r }
            | ArgKind::IovecIn { count: r }
            | ArgKind::IovecOut { count: r }
            | ArgKind::OpenHow { size: r }
            | ArgKind::CloneArgs { size: r }
            | ArgKind::SockOptName { level: r } => Some(r),
            _ => None,
        }
    }

    /// The integer a raw register holds for this kind: the low 32 bits,
    /// sign-extended, for `int`-typed kinds (so `AT_FDCWD` is -100 whatever
    /// the upper half holds), zero-extended for ids and modes, the whole
    /// register otherwise.
    pub fn int_value(self, raw: u64) -> i64 {
        match self {
            ArgKind::Fd | ArgKind::Dirfd | ArgKind::Pid | ArgKind::Signal => {
                i64::from(raw as u32 as i32)
            }
            ArgKind::Uid | ArgKind::Gid | ArgKind::Mode => i64::from(raw as u32),
            _ => raw as i64,
        }
    }

    /// Whether capture reads memory for this kind (a path, string, buffer,
    /// address, struct it decodes), as opposed to rendering the register.
    pub fn reads_memory(self) -> bool {
        matches!(
            self,
            ArgKind::Path
                | ArgKind::PathAt { .. }
                | ArgKind::Str
                | ArgKind::StrList
                | ArgKind::SockAddrIn { .. }
                | ArgKind::SockAddrOut { .. }
                | ArgKind::BufIn { .. }
                | ArgKind::BufOut
                | ArgKind::IovecIn { .. }
                | ArgKind::IovecOut { .. }
                | ArgKind::MsghdrIn
                | ArgKind::MsghdrOut
                | ArgKind::FdPairOut
                | ArgKind::OpenHow { .. }
                | ArgKind::CloneArgs { .. }
        )
    }
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
    /// Files, directories, fd I/O, xattrs, mounts, inotify.
    pub const FILE: u8 = 1;
    /// Sockets and polling.
    pub const NET: u8 = 2;
    /// Process lifecycle, credentials, namespaces, signals, scheduling.
    pub const PROCESS: u8 = 4;
    /// Changes process or fd state: always traced whatever the set (see the
    /// module docs for the rule).
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
    /// Arguments in canonical (x86_64) order.
    pub args: &'static [Arg],
    /// Bit set of [`group`] constants.
    pub groups: u8,
    /// The return value: its Falco name (`res`, or `fd` for open, socket,
    /// accept...) and kind (`Int`, `Fd`, `Pid`, `Ptr` for mmap...).
    pub ret: Arg,
}

/// Where the value of a named parameter lives in a syscall event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgRef {
    /// Argument register `n` (and its decoded `Param` with index `n`).
    Arg(u8),
    /// The return value.
    Ret,
    /// A field of the struct argument `arg` (`flags` of openat2's
    /// `open_how`, `flags` of clone3's `clone_args`).
    Field { arg: u8, field: &'static str },
}

/// Fields of `struct open_how` exposed as parameters of openat2 (as Falco
/// does: `evt.arg.flags`, `evt.arg.mode`, `evt.arg.resolve`).
pub static OPEN_HOW_FIELDS: &[Arg] = &[
    Arg {
        name: "flags",
        kind: ArgKind::Flags(&OPEN_FLAGS),
    },
    Arg {
        name: "mode",
        kind: ArgKind::Mode,
    },
    Arg {
        name: "resolve",
        kind: ArgKind::Flags(&RESOLVE_FLAGS),
    },
];

/// Fields of `struct clone_args` exposed as parameters of clone3 (those the
/// trace's `CloneArgsValue` keeps).
pub static CLONE_ARGS_FIELDS: &[Arg] = &[
    Arg {
        name: "flags",
        kind: ArgKind::Flags(&CLONE_FLAGS),
    },
    Arg {
        name: "exit_signal",
        kind: ArgKind::Signal,
    },
    Arg {
        name: "stack",
        kind: ArgKind::Ptr,
    },
    Arg {
        name: "tls",
        kind: ArgKind::Ptr,
    },
    Arg {
        name: "set_tid_size",
        kind: ArgKind::Uint,
    },
    Arg {
        name: "cgroup",
        kind: ArgKind::Fd,
    },
];

impl Syscall {
    /// Whether the syscall is in every group of `groups`.
    pub fn is(&self, groups: u8) -> bool {
        self.groups & groups == groups
    }

    /// The parameter `evt.arg.NAME` names: an argument, the return value,
    /// or a field of a struct argument (openat2's `flags`), with the kind to
    /// decode and render it with. Arguments win over the return value, which
    /// wins over struct fields; names never collide within one syscall
    /// (tested).
    pub fn param(&self, name: &str) -> Option<(ArgRef, ArgKind)> {
        if let Some(i) = self.args.iter().position(|a| a.name == name) {
            return Some((ArgRef::Arg(i as u8), self.args[i].kind));
        }
        if self.ret.name == name {
            return Some((ArgRef::Ret, self.ret.kind));
        }
        self.args.iter().enumerate().find_map(|(i, a)| {
            let fields = match a.kind {
                ArgKind::OpenHow { .. } => OPEN_HOW_FIELDS,
                ArgKind::CloneArgs { .. } => CLONE_ARGS_FIELDS,
                _ => return None,
            };
            fields.iter().find(|f| f.name == name).map(|f| {
                (
                    ArgRef::Field {
                        arg: i as u8,
                        field: f.name,
                    },
                    f.kind,
                )
            })
        })
    }
}

/// The syscall with canonical id `id`.
pub fn by_id(id: u16) -> Option<&'static Syscall> {
    // SYSCALLS is sorted by id (checked by a test), so an id is at its own
    // index up to the table's first gap: look there first (the hot path
    // of replay, which asks once per event), else search.
    match SYSCALLS.get(usize::from(id)) {
        Some(s) if s.id == id => Some(s),
        _ => SYSCALLS
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|i| &SYSCALLS[i]),
    }
}

/// The syscall called `name`.
pub fn by_name(name: &str) -> Option<&'static Syscall> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// Falco event names that differ from the syscall's name.
pub const FALCO_EVENT_ALIASES: &[(&str, &str)] = &[
    ("pread", "pread64"),
    ("pwrite", "pwrite64"),
    ("prlimit", "prlimit64"),
];

/// The syscall a Falco `evt.type` value names: a syscall name, or one of
/// Falco's own event names in [`FALCO_EVENT_ALIASES`] (`pread` is
/// `pread64`). Non-syscall events (`container`, `procexit`, `switch`...)
/// give `None`.
pub fn by_event_name(name: &str) -> Option<&'static Syscall> {
    by_name(name).or_else(|| {
        FALCO_EVENT_ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .and_then(|(_, real)| by_name(real))
    })
}

/// The name of syscall `id`, or `None` for an id this table does not know
/// (a trace from a newer kernel): callers print `syscall_<id>`.
pub fn name(id: u16) -> Option<&'static str> {
    by_id(id).map(|s| s.name)
}

/// An architecture a trace can be recorded on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The name recorded in a trace's metadata (`syscall_arch`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The architecture called `name` (`x86_64`, `aarch64`; `amd64` and
    /// `arm64` are accepted too).
    pub fn from_name(name: &str) -> Option<Arch> {
        match name {
            "x86_64" | "amd64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }
}

/// The canonical id of syscall number `nr` on `arch`, or `None` when the
/// table does not know it (a newer kernel, or a number the arch leaves
/// unused).
pub fn canonical_id(arch: Arch, nr: u64) -> Option<u16> {
    match arch {
        Arch::X86_64 => {
            let id = u16::try_from(nr)
                .ok()
                .filter(|id| *id < FIRST_NON_X86_64_ID)?;
            by_id(id).map(|s| s.id)
        }
        Arch::Aarch64 => {
            let nr = u16::try_from(nr).ok()?;
            AARCH64_TO_CANONICAL
                .binary_search_by_key(&nr, |(n, _)| *n)
                .ok()
                .map(|i| AARCH64_TO_CANONICAL[i].1)
        }
    }
}

/// The syscall number of canonical id `id` on `arch`, or `None` when the
/// syscall does not exist there (e.g. `open` on aarch64). Used to build
/// per-architecture seccomp filters.
pub fn arch_nr(arch: Arch, id: u16) -> Option<u64> {
    match arch {
        Arch::X86_64 => by_id(id)
            .filter(|s| s.id < FIRST_NON_X86_64_ID)
            .map(|s| u64::from(s.id)),
        Arch::Aarch64 => AARCH64_TO_CANONICAL
            .iter()
            .find(|(_, c)| *c == id)
            .map(|(n, _)| u64::from(*n)),
    }
}

/// Canonical id of `clone`.
const CLONE: u16 = 56;

/// Permutes raw argument registers of syscall `id` as recorded on `arch`
/// into canonical (x86_64) order, in place.
///
/// Differences handled:
/// - aarch64 `clone` is `(flags, stack, parent_tid, tls, child_tid)`
///   (`CONFIG_CLONE_BACKWARDS`); x86_64 is `(flags, stack, parent_tid,
///   child_tid, tls)`: arguments 3 and 4 swap.
///
/// Every other syscall present on both architectures takes the same
/// arguments in the same order on 64-bit ABIs.
pub fn normalize_args(arch: Arch, id: u16, args: &mut [u64; 6]) {
    if arch == Arch::Aarch64 && id == CLONE {
        args.swap(3, 4);
    }
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
    fn by_id_finds_every_syscall_and_nothing_else() {
        for s in SYSCALLS {
            assert_eq!(by_id(s.id).map(|f| f.name), Some(s.name));
        }
        let known = |id: u16| SYSCALLS.iter().any(|s| s.id == id);
        for id in (0..=u16::MAX).filter(|&id| !known(id)) {
            assert!(by_id(id).is_none(), "{id}");
        }
    }

    #[test]
    fn argument_references_point_at_real_arguments() {
        for s in SYSCALLS {
            assert!(s.args.len() <= 6, "{}", s.name);
            for a in s.args {
                if let Some(r) = a.kind.referenced_arg() {
                    assert!((r as usize) < s.args.len(), "{}.{}", s.name, a.name);
                }
                match a.kind {
                    ArgKind::PathAt { dirfd } => {
                        assert_eq!(
                            s.args[dirfd as usize].kind,
                            ArgKind::Dirfd,
                            "{}.{}",
                            s.name,
                            a.name
                        )
                    }
                    ArgKind::SockOptName { level } => {
                        assert_eq!(s.args[level as usize].name, "level", "{}", s.name)
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn parameter_names_do_not_collide() {
        for s in SYSCALLS {
            let mut names: Vec<&str> = s.args.iter().map(|a| a.name).collect();
            names.push(s.ret.name);
            for a in s.args {
                match a.kind {
                    ArgKind::OpenHow { .. } => names.extend(OPEN_HOW_FIELDS.iter().map(|f| f.name)),
                    ArgKind::CloneArgs { .. } => {
                        names.extend(CLONE_ARGS_FIELDS.iter().map(|f| f.name))
                    }
                    _ => {}
                }
            }
            let len = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(len, names.len(), "{}: {names:?}", s.name);
        }
    }

    #[test]
    fn well_known_lookups() {
        assert_eq!(by_name("openat").map(|s| s.id), Some(257));
        assert_eq!(name(0), Some("read"));
        assert_eq!(name(59), Some("execve"));
        assert_eq!(name(335), None);
        assert_eq!(name(469), Some("file_setattr"));
        assert_eq!(SYSCALLS.len(), 335 + 46);
        assert_eq!(by_event_name("pread").map(|s| s.id), Some(17));
        assert_eq!(by_event_name("openat").map(|s| s.id), Some(257));
        assert_eq!(by_event_name("procexit"), None);
    }

    #[test]
    fn params_resolve_like_falco() {
        let openat = by_name("openat").unwrap();
        assert_eq!(openat.param("fd"), Some((ArgRef::Ret, ArgKind::Fd)));
        assert_eq!(openat.param("flags").map(|p| p.0), Some(ArgRef::Arg(2)));
        let openat2 = by_name("openat2").unwrap();
        assert_eq!(
            openat2.param("flags"),
            Some((
                ArgRef::Field {
                    arg: 2,
                    field: "flags"
                },
                ArgKind::Flags(&OPEN_FLAGS)
            ))
        );
        assert_eq!(
            by_name("read").unwrap().param("res"),
            Some((ArgRef::Ret, ArgKind::Int))
        );
        assert_eq!(
            by_name("bpf").unwrap().param("res_or_fd").map(|p| p.0),
            Some(ArgRef::Ret)
        );
        assert_eq!(by_name("read").unwrap().param("nope"), None);
    }

    #[test]
    fn int_values() {
        assert_eq!(ArgKind::Dirfd.int_value(0xffff_ff9c), -100);
        assert_eq!(ArgKind::Dirfd.int_value(0xffff_ffff_ffff_ff9c), -100);
        assert_eq!(ArgKind::Uid.int_value(0xffff_ffff), 4_294_967_295);
        assert_eq!(ArgKind::Int.int_value(u64::MAX), -1);
    }

    #[test]
    fn aarch64_map_round_trips() {
        for w in AARCH64_TO_CANONICAL.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} {:?}", w[0], w[1]);
        }
        let mut ids: Vec<u16> = AARCH64_TO_CANONICAL.iter().map(|(_, c)| *c).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            AARCH64_TO_CANONICAL.len(),
            "two aarch64 numbers share an id"
        );
        for &(nr, id) in AARCH64_TO_CANONICAL {
            assert!(by_id(id).is_some(), "aarch64 {nr} -> unknown id {id}");
            assert!(id < FIRST_NON_X86_64_ID);
            assert_eq!(canonical_id(Arch::Aarch64, u64::from(nr)), Some(id));
            assert_eq!(arch_nr(Arch::Aarch64, id), Some(u64::from(nr)));
        }
        for s in SYSCALLS {
            assert_eq!(canonical_id(Arch::X86_64, u64::from(s.id)), Some(s.id));
            assert_eq!(arch_nr(Arch::X86_64, s.id), Some(u64::from(s.id)));
        }
        // Spot checks against asm-generic/unistd.h.
        for (nr, expected) in [
            (56, "openat"),
            (57, "close"),
            (63, "read"),
            (64, "write"),
            (93, "exit"),
            (220, "clone"),
            (221, "execve"),
            (222, "mmap"),
            (198, "socket"),
            (203, "connect"),
            (281, "execveat"),
            (435, "clone3"),
            (469, "file_setattr"),
        ] {
            assert_eq!(
                canonical_id(Arch::Aarch64, nr).and_then(name),
                Some(expected),
                "aarch64 {nr}"
            );
        }
        assert_eq!(arch_nr(Arch::Aarch64, 2), None, "no open on aarch64");
        assert_eq!(canonical_id(Arch::Aarch64, 244), None);
        assert_eq!(canonical_id(Arch::X86_64, 400), None);
        assert_eq!(canonical_id(Arch::X86_64, u64::MAX), None);
    }

    #[test]
    fn clone_args_are_normalized() {
        let mut args = [1, 2, 3, 4, 5, 6];
        normalize_args(Arch::Aarch64, CLONE, &mut args);
        assert_eq!(args, [1, 2, 3, 5, 4, 6]);
        let mut args = [1, 2, 3, 4, 5, 6];
        normalize_args(Arch::X86_64, CLONE, &mut args);
        assert_eq!(args, [1, 2, 3, 4, 5, 6]);
        normalize_args(Arch::Aarch64, 0, &mut args);
        assert_eq!(args, [1, 2, 3, 4, 5, 6]);
        assert_eq!(by_id(CLONE).unwrap().args[3].name, "child_tid");
    }

    #[test]
    fn arch_names() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(Arch::from_name(arch.name()), Some(arch));
        }
        assert_eq!(Arch::from_name("arm64"), Some(Arch::Aarch64));
        assert_eq!(Arch::from_name("riscv64"), None);
    }
}
