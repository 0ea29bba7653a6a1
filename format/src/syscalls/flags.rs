//! Named flag sets and enumerations used by the syscall table, and their
//! rendering as Falco and strace print them (`O_RDONLY|O_CLOEXEC`).
//!
//! A [`FlagSet`] is either a bit set (rendered by [`render_flags`]) or an
//! enumeration (rendered by [`render_enum`]); which one is the table's
//! choice ([`super::ArgKind::Flags`] or [`super::ArgKind::Enum`]). Some flag
//! words carry a small enumerated value in some of their bits (the access
//! mode of `open` flags, the socket type of `socket`'s `type`, the exit signal
//! in `clone`'s flags); [`ValueBits`] says which bits and how they are named.
//!
//! Values are Linux's for x86_64 and aarch64 (they agree for every set here).
//! Names are the C names, so `evt.arg.flags contains O_CREAT` and
//! `evt.arg.request contains PTRACE_ATTACH` work as in Falco.
//!
//! **Invariant:** within a set, no two entries have the same value and no
//! name repeats (tested for every set in [`ALL_FLAG_SETS`]).

/// A set of named values: bits of a flag word, or values of an enumeration.
#[derive(Debug, PartialEq, Eq)]
pub struct FlagSet {
    /// The set's name (e.g. `open_flags`).
    pub name: &'static str,
    /// (value, name) pairs. For a bit set, values are single bits or masks;
    /// a zero value names the empty set (`O_RDONLY`).
    pub values: &'static [(u64, &'static str)],
    /// Bits of a flag word that hold one enumerated value instead of flags.
    pub value_bits: ValueBits,
}

/// Bits of a flag word that hold an enumerated value rather than flags.
#[derive(Debug, PartialEq, Eq)]
pub enum ValueBits {
    /// Every bit is a flag.
    None,
    /// The bits under the mask are one value named by the entries of
    /// `values` that fit under the mask (zero included: `O_RDONLY`); it is
    /// rendered first (`O_RDONLY|O_CLOEXEC`, `SOCK_STREAM|SOCK_CLOEXEC`).
    Leading(u64),
    /// The bits under the mask are one value named in another set, rendered
    /// last and omitted when zero (`CLONE_VM|CLONE_FS|SIGCHLD`).
    Trailing(u64, &'static FlagSet),
}

const fn bits(name: &'static str, values: &'static [(u64, &'static str)]) -> FlagSet {
    FlagSet {
        name,
        values,
        value_bits: ValueBits::None,
    }
}

const fn leading(name: &'static str, mask: u64, values: &'static [(u64, &'static str)]) -> FlagSet {
    FlagSet {
        name,
        values,
        value_bits: ValueBits::Leading(mask),
    }
}

/// An enumeration (rendered with [`render_enum`]).
const fn enumeration(name: &'static str, values: &'static [(u64, &'static str)]) -> FlagSet {
    FlagSet {
        name,
        values,
        value_bits: ValueBits::None,
    }
}

/// Renders `value` as the names of the bits set in it, joined by `|`; bits
/// without a name are appended in hex. A zero value renders as the set's
/// zero-valued name if it has one, else `0`. See [`ValueBits`] for words
/// that carry an enumerated value.
pub fn render_flags(set: &FlagSet, value: u64) -> String {
    let mut out = String::new();
    render_flags_into(&mut out, set, value);
    out
}

/// [`render_flags`], appended to `out` without allocating (replay renders
/// flags for rule conditions on every open).
pub fn render_flags_into(out: &mut String, set: &FlagSet, value: u64) {
    use std::fmt::Write as _;
    let start = out.len();
    let sep = |out: &mut String| {
        if out.len() > start {
            out.push('|');
        }
    };
    let mut rest = value;
    let mut value_mask = 0;
    match set.value_bits {
        ValueBits::None => {}
        ValueBits::Leading(mask) => {
            value_mask = mask;
            let v = value & mask;
            match set.values.iter().find(|(n, _)| *n & !mask == 0 && *n == v) {
                Some((_, name)) => out.push_str(name),
                None if v != 0 => {
                    let _ = write!(out, "{v:#x}");
                }
                None => {}
            }
            rest &= !mask;
        }
        ValueBits::Trailing(mask, _) => {
            value_mask = mask;
            rest &= !mask;
        }
    }
    // Multi-bit names (O_SYNC, O_TMPFILE) first, so they win over their
    // parts; names of equal width in the table's order.
    let named = || {
        set.values
            .iter()
            .filter(move |(v, _)| *v != 0 && *v & value_mask == 0)
    };
    let widest = named().map(|(v, _)| v.count_ones()).max().unwrap_or(0);
    for width in (1..=widest).rev() {
        for (b, name) in named().filter(|(v, _)| v.count_ones() == width) {
            if rest & b == *b {
                sep(out);
                out.push_str(name);
                rest &= !b;
            }
        }
    }
    if rest != 0 {
        sep(out);
        let _ = write!(out, "{rest:#x}");
    }
    if let ValueBits::Trailing(mask, names) = set.value_bits {
        let v = value & mask;
        if v != 0 {
            sep(out);
            match names.values.iter().find(|(n, _)| *n == v) {
                Some((_, name)) => out.push_str(name),
                None => {
                    let _ = write!(out, "{v}");
                }
            }
        }
    }
    if out.len() == start {
        match set.values.iter().find(|(v, _)| *v == 0) {
            Some((_, name)) => out.push_str(name),
            None => out.push('0'),
        }
    }
}

/// Renders one value of an enumeration, or the number when it has no name.
pub fn render_enum(set: &FlagSet, value: u64) -> String {
    set.values
        .iter()
        .find(|(v, _)| *v == value)
        .map_or_else(|| value.to_string(), |(_, n)| n.to_string())
}

/// Renders file mode bits in octal with a leading zero (`0644`), as Falco
/// and strace print `mode` arguments of open, mkdir, mknod...
pub fn render_mode(mode: u64) -> String {
    if mode == 0 {
        "0".to_string()
    } else {
        format!("0{mode:o}")
    }
}

/// The value of `name` in `set` (`O_CREAT` -> 0o100), for parsing rule
/// literals and building filters.
pub fn flag_value(set: &FlagSet, name: &str) -> Option<u64> {
    set.values.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

/// `open(2)` flags; the access mode (low two bits) is an enumerated value.
pub static OPEN_FLAGS: FlagSet = leading(
    "open_flags",
    0o3,
    &[
        (0o0, "O_RDONLY"),
        (0o1, "O_WRONLY"),
        (0o2, "O_RDWR"),
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o20000, "O_ASYNC"),
        (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o4010000, "O_SYNC"),
        (0o10000000, "O_PATH"),
        (0o20200000, "O_TMPFILE"),
    ],
);

/// `struct open_how.resolve` (openat2).
pub static RESOLVE_FLAGS: FlagSet = bits(
    "resolve_flags",
    &[
        (0x01, "RESOLVE_NO_XDEV"),
        (0x02, "RESOLVE_NO_MAGICLINKS"),
        (0x04, "RESOLVE_NO_SYMLINKS"),
        (0x08, "RESOLVE_BENEATH"),
        (0x10, "RESOLVE_IN_ROOT"),
        (0x20, "RESOLVE_CACHED"),
    ],
);

/// `AT_*` flags of the `*at` family (fstatat, fchownat, linkat, utimensat,
/// statx, execveat, name_to_handle_at...). `AT_REMOVEDIR` and `AT_EACCESS`
/// share a value and have their own sets.
pub static AT_FLAGS: FlagSet = bits(
    "at_flags",
    &[
        (0x100, "AT_SYMLINK_NOFOLLOW"),
        (0x400, "AT_SYMLINK_FOLLOW"),
        (0x800, "AT_NO_AUTOMOUNT"),
        (0x1000, "AT_EMPTY_PATH"),
        (0x2000, "AT_STATX_FORCE_SYNC"),
        (0x4000, "AT_STATX_DONT_SYNC"),
        (0x8000, "AT_RECURSIVE"),
        (0x10000, "AT_EXECVE_CHECK"),
    ],
);

/// `unlinkat(2)` flags.
pub static UNLINKAT_FLAGS: FlagSet = bits("unlinkat_flags", &[(0x200, "AT_REMOVEDIR")]);

/// `faccessat2(2)` flags.
pub static FACCESSAT_FLAGS: FlagSet = bits(
    "faccessat_flags",
    &[
        (0x100, "AT_SYMLINK_NOFOLLOW"),
        (0x200, "AT_EACCESS"),
        (0x1000, "AT_EMPTY_PATH"),
    ],
);

/// `access(2)` modes.
pub static ACCESS_MODES: FlagSet = bits(
    "access_modes",
    &[(0, "F_OK"), (4, "R_OK"), (2, "W_OK"), (1, "X_OK")],
);

/// File mode bits as Falco renders `chmod`'s `mode` (`S_IRUSR|S_IWUSR`), so
/// `evt.arg.mode contains S_ISUID` works. File type bits are left in hex.
pub static MODE_FLAGS: FlagSet = bits(
    "mode_flags",
    &[
        (0o1, "S_IXOTH"),
        (0o2, "S_IWOTH"),
        (0o4, "S_IROTH"),
        (0o10, "S_IXGRP"),
        (0o20, "S_IWGRP"),
        (0o40, "S_IRGRP"),
        (0o100, "S_IXUSR"),
        (0o200, "S_IWUSR"),
        (0o400, "S_IRUSR"),
        (0o1000, "S_ISVTX"),
        (0o2000, "S_ISGID"),
        (0o4000, "S_ISUID"),
    ],
);

/// `rename2(2)` flags.
pub static RENAME_FLAGS: FlagSet = bits(
    "rename_flags",
    &[
        (1, "RENAME_NOREPLACE"),
        (2, "RENAME_EXCHANGE"),
        (4, "RENAME_WHITEOUT"),
    ],
);

/// `lseek(2)` whence.
pub static SEEK_WHENCE: FlagSet = enumeration(
    "seek_whence",
    &[
        (0, "SEEK_SET"),
        (1, "SEEK_CUR"),
        (2, "SEEK_END"),
        (3, "SEEK_DATA"),
        (4, "SEEK_HOLE"),
    ],
);

/// `fcntl(2)` commands.
pub static FCNTL_CMDS: FlagSet = enumeration(
    "fcntl_cmds",
    &[
        (0, "F_DUPFD"),
        (1, "F_GETFD"),
        (2, "F_SETFD"),
        (3, "F_GETFL"),
        (4, "F_SETFL"),
        (5, "F_GETLK"),
        (6, "F_SETLK"),
        (7, "F_SETLKW"),
        (8, "F_SETOWN"),
        (9, "F_GETOWN"),
        (10, "F_SETSIG"),
        (11, "F_GETSIG"),
        (15, "F_SETOWN_EX"),
        (16, "F_GETOWN_EX"),
        (17, "F_GETOWNER_UIDS"),
        (36, "F_OFD_GETLK"),
        (37, "F_OFD_SETLK"),
        (38, "F_OFD_SETLKW"),
        (1024, "F_SETLEASE"),
        (1025, "F_GETLEASE"),
        (1026, "F_NOTIFY"),
        (1027, "F_DUPFD_QUERY"),
        (1028, "F_CREATED_QUERY"),
        (1029, "F_CANCELLK"),
        (1030, "F_DUPFD_CLOEXEC"),
        (1031, "F_SETPIPE_SZ"),
        (1032, "F_GETPIPE_SZ"),
        (1033, "F_ADD_SEALS"),
        (1034, "F_GET_SEALS"),
        (1035, "F_GET_RW_HINT"),
        (1036, "F_SET_RW_HINT"),
        (1037, "F_GET_FILE_RW_HINT"),
        (1038, "F_SET_FILE_RW_HINT"),
    ],
);

/// `flock(2)` operations.
pub static FLOCK_OPS: FlagSet = bits(
    "flock_ops",
    &[
        (1, "LOCK_SH"),
        (2, "LOCK_EX"),
        (4, "LOCK_NB"),
        (8, "LOCK_UN"),
    ],
);

/// `fallocate(2)` modes.
pub static FALLOC_FLAGS: FlagSet = bits(
    "falloc_flags",
    &[
        (0x01, "FALLOC_FL_KEEP_SIZE"),
        (0x02, "FALLOC_FL_PUNCH_HOLE"),
        (0x04, "FALLOC_FL_NO_HIDE_STALE"),
        (0x08, "FALLOC_FL_COLLAPSE_RANGE"),
        (0x10, "FALLOC_FL_ZERO_RANGE"),
        (0x20, "FALLOC_FL_INSERT_RANGE"),
        (0x40, "FALLOC_FL_UNSHARE_RANGE"),
        (0x80, "FALLOC_FL_WRITE_ZEROES"),
    ],
);

/// `setxattr(2)` flags.
pub static XATTR_FLAGS: FlagSet = bits("xattr_flags", &[(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")]);

/// `splice(2)`, `tee(2)`, `vmsplice(2)` flags.
pub static SPLICE_FLAGS: FlagSet = bits(
    "splice_flags",
    &[
        (1, "SPLICE_F_MOVE"),
        (2, "SPLICE_F_NONBLOCK"),
        (4, "SPLICE_F_MORE"),
        (8, "SPLICE_F_GIFT"),
    ],
);

/// `dup3(2)` flags.
pub static DUP3_FLAGS: FlagSet = bits("dup3_flags", &[(0o2000000, "O_CLOEXEC")]);

/// `pipe2(2)` flags.
pub static PIPE_FLAGS: FlagSet = bits(
    "pipe_flags",
    &[
        (0o200, "O_NOTIFICATION_PIPE"),
        (0o4000, "O_NONBLOCK"),
        (0o40000, "O_DIRECT"),
        (0o2000000, "O_CLOEXEC"),
    ],
);

/// `eventfd2(2)` flags.
pub static EFD_FLAGS: FlagSet = bits(
    "efd_flags",
    &[
        (1, "EFD_SEMAPHORE"),
        (0o4000, "EFD_NONBLOCK"),
        (0o2000000, "EFD_CLOEXEC"),
    ],
);

/// `timerfd_create(2)` flags.
pub static TFD_FLAGS: FlagSet = bits(
    "tfd_flags",
    &[(0o4000, "TFD_NONBLOCK"), (0o2000000, "TFD_CLOEXEC")],
);

/// `timerfd_settime(2)` flags.
pub static TFD_TIMER_FLAGS: FlagSet = bits(
    "tfd_timer_flags",
    &[(1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET")],
);

/// `signalfd4(2)` flags.
pub static SFD_FLAGS: FlagSet = bits(
    "sfd_flags",
    &[(0o4000, "SFD_NONBLOCK"), (0o2000000, "SFD_CLOEXEC")],
);

/// `inotify_init1(2)` flags.
pub static IN_INIT_FLAGS: FlagSet = bits(
    "inotify_init_flags",
    &[(0o4000, "IN_NONBLOCK"), (0o2000000, "IN_CLOEXEC")],
);

/// `inotify_add_watch(2)` mask.
pub static IN_MASK: FlagSet = bits(
    "inotify_mask",
    &[
        (0x1, "IN_ACCESS"),
        (0x2, "IN_MODIFY"),
        (0x4, "IN_ATTRIB"),
        (0x8, "IN_CLOSE_WRITE"),
        (0x10, "IN_CLOSE_NOWRITE"),
        (0x20, "IN_OPEN"),
        (0x40, "IN_MOVED_FROM"),
        (0x80, "IN_MOVED_TO"),
        (0x100, "IN_CREATE"),
        (0x200, "IN_DELETE"),
        (0x400, "IN_DELETE_SELF"),
        (0x800, "IN_MOVE_SELF"),
        (0x2000, "IN_UNMOUNT"),
        (0x4000, "IN_Q_OVERFLOW"),
        (0x8000, "IN_IGNORED"),
        (0x0100_0000, "IN_ONLYDIR"),
        (0x0200_0000, "IN_DONT_FOLLOW"),
        (0x0400_0000, "IN_EXCL_UNLINK"),
        (0x1000_0000, "IN_MASK_CREATE"),
        (0x2000_0000, "IN_MASK_ADD"),
        (0x4000_0000, "IN_ISDIR"),
        (0x8000_0000, "IN_ONESHOT"),
    ],
);

/// `epoll_create1(2)` flags.
pub static EPOLL_CREATE_FLAGS: FlagSet =
    bits("epoll_create_flags", &[(0o2000000, "EPOLL_CLOEXEC")]);

/// `epoll_ctl(2)` operations.
pub static EPOLL_CTL_OPS: FlagSet = enumeration(
    "epoll_ctl_ops",
    &[
        (1, "EPOLL_CTL_ADD"),
        (2, "EPOLL_CTL_DEL"),
        (3, "EPOLL_CTL_MOD"),
    ],
);

/// `memfd_create(2)` flags (the hugetlb page size bits are left in hex).
pub static MFD_FLAGS: FlagSet = bits(
    "memfd_flags",
    &[
        (0x1, "MFD_CLOEXEC"),
        (0x2, "MFD_ALLOW_SEALING"),
        (0x4, "MFD_HUGETLB"),
        (0x8, "MFD_NOEXEC_SEAL"),
        (0x10, "MFD_EXEC"),
    ],
);

/// `userfaultfd(2)` flags.
pub static UFFD_FLAGS: FlagSet = bits(
    "userfaultfd_flags",
    &[
        (1, "UFFD_USER_MODE_ONLY"),
        (0o4000, "O_NONBLOCK"),
        (0o2000000, "O_CLOEXEC"),
    ],
);

/// `pidfd_open(2)` flags.
pub static PIDFD_FLAGS: FlagSet = bits(
    "pidfd_flags",
    &[(0o200, "PIDFD_THREAD"), (0o4000, "PIDFD_NONBLOCK")],
);

/// `close_range(2)` flags.
pub static CLOSE_RANGE_FLAGS: FlagSet = bits(
    "close_range_flags",
    &[(2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC")],
);

/// `open_tree(2)` flags.
pub static OPEN_TREE_FLAGS: FlagSet = bits(
    "open_tree_flags",
    &[
        (0x1, "OPEN_TREE_CLONE"),
        (0x100, "AT_SYMLINK_NOFOLLOW"),
        (0x800, "AT_NO_AUTOMOUNT"),
        (0x1000, "AT_EMPTY_PATH"),
        (0x8000, "AT_RECURSIVE"),
        (0o2000000, "OPEN_TREE_CLOEXEC"),
    ],
);

/// Signal numbers (x86_64 and aarch64 share them). Real-time signals
/// (32..=64) render as numbers.
pub static SIGNALS: FlagSet = enumeration(
    "signals",
    &[
        (1, "SIGHUP"),
        (2, "SIGINT"),
        (3, "SIGQUIT"),
        (4, "SIGILL"),
        (5, "SIGTRAP"),
        (6, "SIGABRT"),
        (7, "SIGBUS"),
        (8, "SIGFPE"),
        (9, "SIGKILL"),
        (10, "SIGUSR1"),
        (11, "SIGSEGV"),
        (12, "SIGUSR2"),
        (13, "SIGPIPE"),
        (14, "SIGALRM"),
        (15, "SIGTERM"),
        (16, "SIGSTKFLT"),
        (17, "SIGCHLD"),
        (18, "SIGCONT"),
        (19, "SIGSTOP"),
        (20, "SIGTSTP"),
        (21, "SIGTTIN"),
        (22, "SIGTTOU"),
        (23, "SIGURG"),
        (24, "SIGXCPU"),
        (25, "SIGXFSZ"),
        (26, "SIGVTALRM"),
        (27, "SIGPROF"),
        (28, "SIGWINCH"),
        (29, "SIGIO"),
        (30, "SIGPWR"),
        (31, "SIGSYS"),
    ],
);

/// `rt_sigprocmask(2)` how.
pub static SIGPROCMASK_HOW: FlagSet = enumeration(
    "sigprocmask_how",
    &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")],
);

/// `CLONE_*` flags (clone3's `flags`, unshare, setns's `nstype`).
pub static CLONE_FLAGS: FlagSet = bits("clone_flags", CLONE_VALUES);

const CLONE_VALUES: &[(u64, &str)] = &[
    (0x80, "CLONE_NEWTIME"),
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// `clone(2)`'s flags: `CLONE_*` with the exit signal in the low byte
/// (`CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|SIGCHLD`).
pub static CLONE_SYSCALL_FLAGS: FlagSet = FlagSet {
    name: "clone_syscall_flags",
    // CLONE_NEWTIME (0x80) lies in the exit-signal byte: clone(2) cannot
    // request it, so it is not listed here.
    values: CLONE_FLAGS_NO_NEWTIME,
    value_bits: ValueBits::Trailing(0xff, &SIGNALS),
};

const CLONE_FLAGS_NO_NEWTIME: &[(u64, &str)] = CLONE_VALUES.split_at(1).1;

/// `ptrace(2)` requests (x86_64 numbering; aarch64 lacks the register
/// requests 12..=19 but shares the rest).
pub static PTRACE_REQUESTS: FlagSet = enumeration(
    "ptrace_requests",
    &[
        (0, "PTRACE_TRACEME"),
        (1, "PTRACE_PEEKTEXT"),
        (2, "PTRACE_PEEKDATA"),
        (3, "PTRACE_PEEKUSER"),
        (4, "PTRACE_POKETEXT"),
        (5, "PTRACE_POKEDATA"),
        (6, "PTRACE_POKEUSER"),
        (7, "PTRACE_CONT"),
        (8, "PTRACE_KILL"),
        (9, "PTRACE_SINGLESTEP"),
        (12, "PTRACE_GETREGS"),
        (13, "PTRACE_SETREGS"),
        (14, "PTRACE_GETFPREGS"),
        (15, "PTRACE_SETFPREGS"),
        (16, "PTRACE_ATTACH"),
        (17, "PTRACE_DETACH"),
        (18, "PTRACE_GETFPXREGS"),
        (19, "PTRACE_SETFPXREGS"),
        (24, "PTRACE_SYSCALL"),
        (25, "PTRACE_GET_THREAD_AREA"),
        (26, "PTRACE_SET_THREAD_AREA"),
        (30, "PTRACE_ARCH_PRCTL"),
        (31, "PTRACE_SYSEMU"),
        (32, "PTRACE_SYSEMU_SINGLESTEP"),
        (33, "PTRACE_SINGLEBLOCK"),
        (0x4200, "PTRACE_SETOPTIONS"),
        (0x4201, "PTRACE_GETEVENTMSG"),
        (0x4202, "PTRACE_GETSIGINFO"),
        (0x4203, "PTRACE_SETSIGINFO"),
        (0x4204, "PTRACE_GETREGSET"),
        (0x4205, "PTRACE_SETREGSET"),
        (0x4206, "PTRACE_SEIZE"),
        (0x4207, "PTRACE_INTERRUPT"),
        (0x4208, "PTRACE_LISTEN"),
        (0x4209, "PTRACE_PEEKSIGINFO"),
        (0x420a, "PTRACE_GETSIGMASK"),
        (0x420b, "PTRACE_SETSIGMASK"),
        (0x420c, "PTRACE_SECCOMP_GET_FILTER"),
        (0x420d, "PTRACE_SECCOMP_GET_METADATA"),
        (0x420e, "PTRACE_GET_SYSCALL_INFO"),
        (0x420f, "PTRACE_GET_RSEQ_CONFIGURATION"),
        (0x4210, "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG"),
        (0x4211, "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG"),
        (0x4212, "PTRACE_SET_SYSCALL_INFO"),
    ],
);

/// `prctl(2)` options.
pub static PRCTL_OPTIONS: FlagSet = enumeration(
    "prctl_options",
    &[
        (1, "PR_SET_PDEATHSIG"),
        (2, "PR_GET_PDEATHSIG"),
        (3, "PR_GET_DUMPABLE"),
        (4, "PR_SET_DUMPABLE"),
        (5, "PR_GET_UNALIGN"),
        (6, "PR_SET_UNALIGN"),
        (7, "PR_GET_KEEPCAPS"),
        (8, "PR_SET_KEEPCAPS"),
        (9, "PR_GET_FPEMU"),
        (10, "PR_SET_FPEMU"),
        (11, "PR_GET_FPEXC"),
        (12, "PR_SET_FPEXC"),
        (13, "PR_GET_TIMING"),
        (14, "PR_SET_TIMING"),
        (15, "PR_SET_NAME"),
        (16, "PR_GET_NAME"),
        (19, "PR_GET_ENDIAN"),
        (20, "PR_SET_ENDIAN"),
        (21, "PR_GET_SECCOMP"),
        (22, "PR_SET_SECCOMP"),
        (23, "PR_CAPBSET_READ"),
        (24, "PR_CAPBSET_DROP"),
        (25, "PR_GET_TSC"),
        (26, "PR_SET_TSC"),
        (27, "PR_GET_SECUREBITS"),
        (28, "PR_SET_SECUREBITS"),
        (29, "PR_SET_TIMERSLACK"),
        (30, "PR_GET_TIMERSLACK"),
        (31, "PR_TASK_PERF_EVENTS_DISABLE"),
        (32, "PR_TASK_PERF_EVENTS_ENABLE"),
        (33, "PR_MCE_KILL"),
        (34, "PR_MCE_KILL_GET"),
        (35, "PR_SET_MM"),
        (36, "PR_SET_CHILD_SUBREAPER"),
        (37, "PR_GET_CHILD_SUBREAPER"),
        (38, "PR_SET_NO_NEW_PRIVS"),
        (39, "PR_GET_NO_NEW_PRIVS"),
        (40, "PR_GET_TID_ADDRESS"),
        (41, "PR_SET_THP_DISABLE"),
        (42, "PR_GET_THP_DISABLE"),
        (43, "PR_MPX_ENABLE_MANAGEMENT"),
        (44, "PR_MPX_DISABLE_MANAGEMENT"),
        (45, "PR_SET_FP_MODE"),
        (46, "PR_GET_FP_MODE"),
        (47, "PR_CAP_AMBIENT"),
        (50, "PR_SVE_SET_VL"),
        (51, "PR_SVE_GET_VL"),
        (52, "PR_GET_SPECULATION_CTRL"),
        (53, "PR_SET_SPECULATION_CTRL"),
        (54, "PR_PAC_RESET_KEYS"),
        (55, "PR_SET_TAGGED_ADDR_CTRL"),
        (56, "PR_GET_TAGGED_ADDR_CTRL"),
        (57, "PR_SET_IO_FLUSHER"),
        (58, "PR_GET_IO_FLUSHER"),
        (59, "PR_SET_SYSCALL_USER_DISPATCH"),
        (60, "PR_PAC_SET_ENABLED_KEYS"),
        (61, "PR_PAC_GET_ENABLED_KEYS"),
        (62, "PR_SCHED_CORE"),
        (63, "PR_SME_SET_VL"),
        (64, "PR_SME_GET_VL"),
        (65, "PR_SET_MDWE"),
        (66, "PR_GET_MDWE"),
        (67, "PR_SET_MEMORY_MERGE"),
        (68, "PR_GET_MEMORY_MERGE"),
        (69, "PR_RISCV_V_SET_CONTROL"),
        (70, "PR_RISCV_V_GET_CONTROL"),
        (71, "PR_RISCV_SET_ICACHE_FLUSH_CTX"),
        (72, "PR_PPC_GET_DEXCR"),
        (73, "PR_PPC_SET_DEXCR"),
        (74, "PR_GET_SHADOW_STACK_STATUS"),
        (75, "PR_SET_SHADOW_STACK_STATUS"),
        (76, "PR_LOCK_SHADOW_STACK_STATUS"),
        (77, "PR_TIMER_CREATE_RESTORE_IDS"),
        (78, "PR_FUTEX_HASH"),
        (0x4d44_5747, "PR_SET_VMA"),
    ],
);

/// `arch_prctl(2)` codes (x86_64).
pub static ARCH_PRCTL_CODES: FlagSet = enumeration(
    "arch_prctl_codes",
    &[
        (0x1001, "ARCH_SET_GS"),
        (0x1002, "ARCH_SET_FS"),
        (0x1003, "ARCH_GET_FS"),
        (0x1004, "ARCH_GET_GS"),
        (0x1011, "ARCH_GET_CPUID"),
        (0x1012, "ARCH_SET_CPUID"),
        (0x1021, "ARCH_GET_XCOMP_SUPP"),
        (0x1022, "ARCH_GET_XCOMP_PERM"),
        (0x1023, "ARCH_REQ_XCOMP_PERM"),
        (0x1024, "ARCH_GET_XCOMP_GUEST_PERM"),
        (0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"),
        (0x4001, "ARCH_GET_UNTAG_MASK"),
        (0x4002, "ARCH_ENABLE_TAGGED_ADDR"),
        (0x4003, "ARCH_GET_MAX_TAG_BITS"),
        (0x4004, "ARCH_FORCE_TAGGED_SVA"),
        (0x5001, "ARCH_SHSTK_ENABLE"),
        (0x5002, "ARCH_SHSTK_DISABLE"),
        (0x5003, "ARCH_SHSTK_LOCK"),
        (0x5004, "ARCH_SHSTK_UNLOCK"),
        (0x5005, "ARCH_SHSTK_STATUS"),
    ],
);

/// Address families (`AF_*`).
pub static ADDRESS_FAMILIES: FlagSet = enumeration(
    "address_families",
    &[
        (0, "AF_UNSPEC"),
        (1, "AF_UNIX"),
        (2, "AF_INET"),
        (3, "AF_AX25"),
        (4, "AF_IPX"),
        (5, "AF_APPLETALK"),
        (6, "AF_NETROM"),
        (7, "AF_BRIDGE"),
        (8, "AF_ATMPVC"),
        (9, "AF_X25"),
        (10, "AF_INET6"),
        (11, "AF_ROSE"),
        (12, "AF_DECnet"),
        (13, "AF_NETBEUI"),
        (14, "AF_SECURITY"),
        (15, "AF_KEY"),
        (16, "AF_NETLINK"),
        (17, "AF_PACKET"),
        (18, "AF_ASH"),
        (19, "AF_ECONET"),
        (20, "AF_ATMSVC"),
        (21, "AF_RDS"),
        (22, "AF_SNA"),
        (23, "AF_IRDA"),
        (24, "AF_PPPOX"),
        (25, "AF_WANPIPE"),
        (26, "AF_LLC"),
        (27, "AF_IB"),
        (28, "AF_MPLS"),
        (29, "AF_CAN"),
        (30, "AF_TIPC"),
        (31, "AF_BLUETOOTH"),
        (32, "AF_IUCV"),
        (33, "AF_RXRPC"),
        (34, "AF_ISDN"),
        (35, "AF_PHONET"),
        (36, "AF_IEEE802154"),
        (37, "AF_CAIF"),
        (38, "AF_ALG"),
        (39, "AF_NFC"),
        (40, "AF_VSOCK"),
        (41, "AF_KCM"),
        (42, "AF_QIPCRTR"),
        (43, "AF_SMC"),
        (44, "AF_XDP"),
        (45, "AF_MCTP"),
    ],
);

/// `socket(2)` type: the type in the low four bits, then flags.
pub static SOCKET_TYPES: FlagSet = leading(
    "socket_types",
    0xf,
    &[
        (1, "SOCK_STREAM"),
        (2, "SOCK_DGRAM"),
        (3, "SOCK_RAW"),
        (4, "SOCK_RDM"),
        (5, "SOCK_SEQPACKET"),
        (6, "SOCK_DCCP"),
        (10, "SOCK_PACKET"),
        (0o4000, "SOCK_NONBLOCK"),
        (0o2000000, "SOCK_CLOEXEC"),
    ],
);

/// `accept4(2)` flags.
pub static SOCK_FLAGS: FlagSet = bits(
    "sock_flags",
    &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")],
);

/// IP protocols (`IPPROTO_*`), the `protocol` of inet sockets.
pub static IP_PROTOCOLS: FlagSet = enumeration(
    "ip_protocols",
    &[
        (0, "IPPROTO_IP"),
        (1, "IPPROTO_ICMP"),
        (2, "IPPROTO_IGMP"),
        (4, "IPPROTO_IPIP"),
        (6, "IPPROTO_TCP"),
        (8, "IPPROTO_EGP"),
        (12, "IPPROTO_PUP"),
        (17, "IPPROTO_UDP"),
        (22, "IPPROTO_IDP"),
        (29, "IPPROTO_TP"),
        (33, "IPPROTO_DCCP"),
        (41, "IPPROTO_IPV6"),
        (46, "IPPROTO_RSVP"),
        (47, "IPPROTO_GRE"),
        (50, "IPPROTO_ESP"),
        (51, "IPPROTO_AH"),
        (58, "IPPROTO_ICMPV6"),
        (92, "IPPROTO_MTP"),
        (94, "IPPROTO_BEETPH"),
        (98, "IPPROTO_ENCAP"),
        (103, "IPPROTO_PIM"),
        (108, "IPPROTO_COMP"),
        (115, "IPPROTO_L2TP"),
        (132, "IPPROTO_SCTP"),
        (136, "IPPROTO_UDPLITE"),
        (137, "IPPROTO_MPLS"),
        (143, "IPPROTO_ETHERNET"),
        (255, "IPPROTO_RAW"),
        (262, "IPPROTO_MPTCP"),
    ],
);

/// `send`/`recv` flags (`MSG_*`).
pub static MSG_FLAGS: FlagSet = bits(
    "msg_flags",
    &[
        (0x1, "MSG_OOB"),
        (0x2, "MSG_PEEK"),
        (0x4, "MSG_DONTROUTE"),
        (0x8, "MSG_CTRUNC"),
        (0x10, "MSG_PROXY"),
        (0x20, "MSG_TRUNC"),
        (0x40, "MSG_DONTWAIT"),
        (0x80, "MSG_EOR"),
        (0x100, "MSG_WAITALL"),
        (0x200, "MSG_FIN"),
        (0x400, "MSG_SYN"),
        (0x800, "MSG_CONFIRM"),
        (0x1000, "MSG_RST"),
        (0x2000, "MSG_ERRQUEUE"),
        (0x4000, "MSG_NOSIGNAL"),
        (0x8000, "MSG_MORE"),
        (0x10000, "MSG_WAITFORONE"),
        (0x40000, "MSG_BATCH"),
        (0x0400_0000, "MSG_ZEROCOPY"),
        (0x2000_0000, "MSG_FASTOPEN"),
        (0x4000_0000, "MSG_CMSG_CLOEXEC"),
    ],
);

/// `shutdown(2)` how.
pub static SHUTDOWN_HOW: FlagSet = enumeration(
    "shutdown_how",
    &[(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")],
);

/// `setsockopt(2)`/`getsockopt(2)` levels.
pub static SOCKOPT_LEVELS: FlagSet = enumeration(
    "sockopt_levels",
    &[
        (0, "SOL_IP"),
        (1, "SOL_SOCKET"),
        (6, "SOL_TCP"),
        (17, "SOL_UDP"),
        (41, "SOL_IPV6"),
        (58, "SOL_ICMPV6"),
        (132, "SOL_SCTP"),
        (136, "SOL_UDPLITE"),
        (255, "SOL_RAW"),
        (263, "SOL_PACKET"),
        (270, "SOL_NETLINK"),
        (274, "SOL_BLUETOOTH"),
        (279, "SOL_ALG"),
        (282, "SOL_TLS"),
        (283, "SOL_XDP"),
        (284, "SOL_MPTCP"),
    ],
);

/// `SO_*` option names, meaningful when the level is `SOL_SOCKET` (see
/// [`super::ArgKind::SockOptName`]).
pub static SOCKOPT_NAMES: FlagSet = enumeration(
    "sockopt_names",
    &[
        (1, "SO_DEBUG"),
        (2, "SO_REUSEADDR"),
        (3, "SO_TYPE"),
        (4, "SO_ERROR"),
        (5, "SO_DONTROUTE"),
        (6, "SO_BROADCAST"),
        (7, "SO_SNDBUF"),
        (8, "SO_RCVBUF"),
        (9, "SO_KEEPALIVE"),
        (10, "SO_OOBINLINE"),
        (11, "SO_NO_CHECK"),
        (12, "SO_PRIORITY"),
        (13, "SO_LINGER"),
        (14, "SO_BSDCOMPAT"),
        (15, "SO_REUSEPORT"),
        (16, "SO_PASSCRED"),
        (17, "SO_PEERCRED"),
        (18, "SO_RCVLOWAT"),
        (19, "SO_SNDLOWAT"),
        (20, "SO_RCVTIMEO_OLD"),
        (21, "SO_SNDTIMEO_OLD"),
        (22, "SO_SECURITY_AUTHENTICATION"),
        (23, "SO_SECURITY_ENCRYPTION_TRANSPORT"),
        (24, "SO_SECURITY_ENCRYPTION_NETWORK"),
        (25, "SO_BINDTODEVICE"),
        (26, "SO_ATTACH_FILTER"),
        (27, "SO_DETACH_FILTER"),
        (28, "SO_PEERNAME"),
        (29, "SO_TIMESTAMP_OLD"),
        (30, "SO_ACCEPTCONN"),
        (31, "SO_PEERSEC"),
        (32, "SO_SNDBUFFORCE"),
        (33, "SO_RCVBUFFORCE"),
        (34, "SO_PASSSEC"),
        (35, "SO_TIMESTAMPNS_OLD"),
        (36, "SO_MARK"),
        (37, "SO_TIMESTAMPING_OLD"),
        (38, "SO_PROTOCOL"),
        (39, "SO_DOMAIN"),
        (40, "SO_RXQ_OVFL"),
        (41, "SO_WIFI_STATUS"),
        (42, "SO_PEEK_OFF"),
        (43, "SO_NOFCS"),
        (44, "SO_LOCK_FILTER"),
        (45, "SO_SELECT_ERR_QUEUE"),
        (46, "SO_BUSY_POLL"),
        (47, "SO_MAX_PACING_RATE"),
        (48, "SO_BPF_EXTENSIONS"),
        (49, "SO_INCOMING_CPU"),
        (50, "SO_ATTACH_BPF"),
        (51, "SO_ATTACH_REUSEPORT_CBPF"),
        (52, "SO_ATTACH_REUSEPORT_EBPF"),
        (53, "SO_CNX_ADVICE"),
        (55, "SO_MEMINFO"),
        (56, "SO_INCOMING_NAPI_ID"),
        (57, "SO_COOKIE"),
        (59, "SO_PEERGROUPS"),
        (60, "SO_ZEROCOPY"),
        (61, "SO_TXTIME"),
        (62, "SO_BINDTOIFINDEX"),
        (63, "SO_TIMESTAMP_NEW"),
        (64, "SO_TIMESTAMPNS_NEW"),
        (65, "SO_TIMESTAMPING_NEW"),
        (66, "SO_RCVTIMEO_NEW"),
        (67, "SO_SNDTIMEO_NEW"),
        (68, "SO_DETACH_REUSEPORT_BPF"),
        (69, "SO_PREFER_BUSY_POLL"),
        (70, "SO_BUSY_POLL_BUDGET"),
        (71, "SO_NETNS_COOKIE"),
        (72, "SO_BUF_LOCK"),
        (73, "SO_RESERVE_MEM"),
        (74, "SO_TXREHASH"),
        (75, "SO_RCVMARK"),
        (76, "SO_PASSPIDFD"),
        (77, "SO_PEERPIDFD"),
    ],
);

/// `mmap(2)`/`mprotect(2)` protection.
pub static PROT_FLAGS: FlagSet = bits(
    "prot_flags",
    &[
        (0, "PROT_NONE"),
        (0x1, "PROT_READ"),
        (0x2, "PROT_WRITE"),
        (0x4, "PROT_EXEC"),
        (0x8, "PROT_SEM"),
        (0x0100_0000, "PROT_GROWSDOWN"),
        (0x0200_0000, "PROT_GROWSUP"),
    ],
);

/// `mmap(2)` flags: the mapping type in the low four bits, then flags.
pub static MMAP_FLAGS: FlagSet = leading(
    "mmap_flags",
    0xf,
    &[
        (0x1, "MAP_SHARED"),
        (0x2, "MAP_PRIVATE"),
        (0x3, "MAP_SHARED_VALIDATE"),
        (0x8, "MAP_DROPPABLE"),
        (0x10, "MAP_FIXED"),
        (0x20, "MAP_ANONYMOUS"),
        (0x40, "MAP_32BIT"),
        (0x100, "MAP_GROWSDOWN"),
        (0x800, "MAP_DENYWRITE"),
        (0x1000, "MAP_EXECUTABLE"),
        (0x2000, "MAP_LOCKED"),
        (0x4000, "MAP_NORESERVE"),
        (0x8000, "MAP_POPULATE"),
        (0x10000, "MAP_NONBLOCK"),
        (0x20000, "MAP_STACK"),
        (0x40000, "MAP_HUGETLB"),
        (0x80000, "MAP_SYNC"),
        (0x100000, "MAP_FIXED_NOREPLACE"),
        (0x0400_0000, "MAP_UNINITIALIZED"),
    ],
);

/// `mremap(2)` flags.
pub static MREMAP_FLAGS: FlagSet = bits(
    "mremap_flags",
    &[
        (1, "MREMAP_MAYMOVE"),
        (2, "MREMAP_FIXED"),
        (4, "MREMAP_DONTUNMAP"),
    ],
);

/// `msync(2)` flags.
pub static MSYNC_FLAGS: FlagSet = bits(
    "msync_flags",
    &[(1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC")],
);

/// `mlockall(2)` flags.
pub static MLOCKALL_FLAGS: FlagSet = bits(
    "mlockall_flags",
    &[(1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT")],
);

/// `madvise(2)` advice.
pub static MADV_ADVICE: FlagSet = enumeration(
    "madvise_advice",
    &[
        (0, "MADV_NORMAL"),
        (1, "MADV_RANDOM"),
        (2, "MADV_SEQUENTIAL"),
        (3, "MADV_WILLNEED"),
        (4, "MADV_DONTNEED"),
        (8, "MADV_FREE"),
        (9, "MADV_REMOVE"),
        (10, "MADV_DONTFORK"),
        (11, "MADV_DOFORK"),
        (12, "MADV_MERGEABLE"),
        (13, "MADV_UNMERGEABLE"),
        (14, "MADV_HUGEPAGE"),
        (15, "MADV_NOHUGEPAGE"),
        (16, "MADV_DONTDUMP"),
        (17, "MADV_DODUMP"),
        (18, "MADV_WIPEONFORK"),
        (19, "MADV_KEEPONFORK"),
        (20, "MADV_COLD"),
        (21, "MADV_PAGEOUT"),
        (22, "MADV_POPULATE_READ"),
        (23, "MADV_POPULATE_WRITE"),
        (24, "MADV_DONTNEED_LOCKED"),
        (25, "MADV_COLLAPSE"),
        (100, "MADV_HWPOISON"),
        (101, "MADV_SOFT_OFFLINE"),
        (102, "MADV_GUARD_INSTALL"),
        (103, "MADV_GUARD_REMOVE"),
    ],
);

/// `mount(2)` flags (`MS_MGC_VAL` is the old magic in the top 16 bits).
pub static MOUNT_FLAGS: FlagSet = bits(
    "mount_flags",
    &[
        (0x1, "MS_RDONLY"),
        (0x2, "MS_NOSUID"),
        (0x4, "MS_NODEV"),
        (0x8, "MS_NOEXEC"),
        (0x10, "MS_SYNCHRONOUS"),
        (0x20, "MS_REMOUNT"),
        (0x40, "MS_MANDLOCK"),
        (0x80, "MS_DIRSYNC"),
        (0x100, "MS_NOSYMFOLLOW"),
        (0x400, "MS_NOATIME"),
        (0x800, "MS_NODIRATIME"),
        (0x1000, "MS_BIND"),
        (0x2000, "MS_MOVE"),
        (0x4000, "MS_REC"),
        (0x8000, "MS_SILENT"),
        (0x10000, "MS_POSIXACL"),
        (0x20000, "MS_UNBINDABLE"),
        (0x40000, "MS_PRIVATE"),
        (0x80000, "MS_SLAVE"),
        (0x100000, "MS_SHARED"),
        (0x200000, "MS_RELATIME"),
        (0x400000, "MS_KERNMOUNT"),
        (0x800000, "MS_I_VERSION"),
        (0x1000000, "MS_STRICTATIME"),
        (0x2000000, "MS_LAZYTIME"),
        (0xC0ED_0000, "MS_MGC_VAL"),
    ],
);

/// `umount2(2)` flags.
pub static UMOUNT_FLAGS: FlagSet = bits(
    "umount_flags",
    &[
        (1, "MNT_FORCE"),
        (2, "MNT_DETACH"),
        (4, "MNT_EXPIRE"),
        (8, "UMOUNT_NOFOLLOW"),
    ],
);

/// `seccomp(2)` operations.
pub static SECCOMP_OPS: FlagSet = enumeration(
    "seccomp_ops",
    &[
        (0, "SECCOMP_SET_MODE_STRICT"),
        (1, "SECCOMP_SET_MODE_FILTER"),
        (2, "SECCOMP_GET_ACTION_AVAIL"),
        (3, "SECCOMP_GET_NOTIF_SIZES"),
    ],
);

/// `seccomp(2)` flags for `SECCOMP_SET_MODE_FILTER`.
pub static SECCOMP_FILTER_FLAGS: FlagSet = bits(
    "seccomp_filter_flags",
    &[
        (1, "SECCOMP_FILTER_FLAG_TSYNC"),
        (2, "SECCOMP_FILTER_FLAG_LOG"),
        (4, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        (8, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
        (16, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
        (32, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
    ],
);

/// `futex(2)` operations: the command in the low seven bits, then flags.
pub static FUTEX_OPS: FlagSet = leading(
    "futex_ops",
    0x7f,
    &[
        (0, "FUTEX_WAIT"),
        (1, "FUTEX_WAKE"),
        (2, "FUTEX_FD"),
        (3, "FUTEX_REQUEUE"),
        (4, "FUTEX_CMP_REQUEUE"),
        (5, "FUTEX_WAKE_OP"),
        (6, "FUTEX_LOCK_PI"),
        (7, "FUTEX_UNLOCK_PI"),
        (8, "FUTEX_TRYLOCK_PI"),
        (9, "FUTEX_WAIT_BITSET"),
        (10, "FUTEX_WAKE_BITSET"),
        (11, "FUTEX_WAIT_REQUEUE_PI"),
        (12, "FUTEX_CMP_REQUEUE_PI"),
        (13, "FUTEX_LOCK_PI2"),
        (128, "FUTEX_PRIVATE_FLAG"),
        (256, "FUTEX_CLOCK_REALTIME"),
    ],
);

/// `getrandom(2)` flags.
pub static GRND_FLAGS: FlagSet = bits(
    "grnd_flags",
    &[
        (1, "GRND_NONBLOCK"),
        (2, "GRND_RANDOM"),
        (4, "GRND_INSECURE"),
    ],
);

/// Resource limits (`RLIMIT_*`).
pub static RLIMIT_RESOURCES: FlagSet = enumeration(
    "rlimit_resources",
    &[
        (0, "RLIMIT_CPU"),
        (1, "RLIMIT_FSIZE"),
        (2, "RLIMIT_DATA"),
        (3, "RLIMIT_STACK"),
        (4, "RLIMIT_CORE"),
        (5, "RLIMIT_RSS"),
        (6, "RLIMIT_NPROC"),
        (7, "RLIMIT_NOFILE"),
        (8, "RLIMIT_MEMLOCK"),
        (9, "RLIMIT_AS"),
        (10, "RLIMIT_LOCKS"),
        (11, "RLIMIT_SIGPENDING"),
        (12, "RLIMIT_MSGQUEUE"),
        (13, "RLIMIT_NICE"),
        (14, "RLIMIT_RTPRIO"),
        (15, "RLIMIT_RTTIME"),
    ],
);

/// Interval timers (`ITIMER_*`).
pub static ITIMER_WHICH: FlagSet = enumeration(
    "itimer_which",
    &[
        (0, "ITIMER_REAL"),
        (1, "ITIMER_VIRTUAL"),
        (2, "ITIMER_PROF"),
    ],
);

/// Clock ids (`CLOCK_*`).
pub static CLOCK_IDS: FlagSet = enumeration(
    "clock_ids",
    &[
        (0, "CLOCK_REALTIME"),
        (1, "CLOCK_MONOTONIC"),
        (2, "CLOCK_PROCESS_CPUTIME_ID"),
        (3, "CLOCK_THREAD_CPUTIME_ID"),
        (4, "CLOCK_MONOTONIC_RAW"),
        (5, "CLOCK_REALTIME_COARSE"),
        (6, "CLOCK_MONOTONIC_COARSE"),
        (7, "CLOCK_BOOTTIME"),
        (8, "CLOCK_REALTIME_ALARM"),
        (9, "CLOCK_BOOTTIME_ALARM"),
        (11, "CLOCK_TAI"),
    ],
);

/// `clock_nanosleep(2)`/`timer_settime(2)` flags.
pub static TIMER_FLAGS: FlagSet = bits("timer_flags", &[(1, "TIMER_ABSTIME")]);

/// `wait4(2)`/`waitid(2)` options.
pub static WAIT_OPTIONS: FlagSet = bits(
    "wait_options",
    &[
        (0x1, "WNOHANG"),
        (0x2, "WUNTRACED"),
        (0x4, "WEXITED"),
        (0x8, "WCONTINUED"),
        (0x0100_0000, "WNOWAIT"),
        (0x2000_0000, "__WNOTHREAD"),
        (0x4000_0000, "__WALL"),
        (0x8000_0000, "__WCLONE"),
    ],
);

/// `waitid(2)` id types.
pub static WAITID_TYPES: FlagSet = enumeration(
    "waitid_types",
    &[(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")],
);

/// `getpriority(2)`/`setpriority(2)` which.
pub static PRIO_WHICH: FlagSet = enumeration(
    "prio_which",
    &[(0, "PRIO_PROCESS"), (1, "PRIO_PGRP"), (2, "PRIO_USER")],
);

/// Scheduling policies (`SCHED_*`).
pub static SCHED_POLICIES: FlagSet = enumeration(
    "sched_policies",
    &[
        (0, "SCHED_OTHER"),
        (1, "SCHED_FIFO"),
        (2, "SCHED_RR"),
        (3, "SCHED_BATCH"),
        (5, "SCHED_IDLE"),
        (6, "SCHED_DEADLINE"),
        (7, "SCHED_EXT"),
    ],
);

/// `bpf(2)` commands.
pub static BPF_CMDS: FlagSet = enumeration(
    "bpf_cmds",
    &[
        (0, "BPF_MAP_CREATE"),
        (1, "BPF_MAP_LOOKUP_ELEM"),
        (2, "BPF_MAP_UPDATE_ELEM"),
        (3, "BPF_MAP_DELETE_ELEM"),
        (4, "BPF_MAP_GET_NEXT_KEY"),
        (5, "BPF_PROG_LOAD"),
        (6, "BPF_OBJ_PIN"),
        (7, "BPF_OBJ_GET"),
        (8, "BPF_PROG_ATTACH"),
        (9, "BPF_PROG_DETACH"),
        (10, "BPF_PROG_TEST_RUN"),
        (11, "BPF_PROG_GET_NEXT_ID"),
        (12, "BPF_MAP_GET_NEXT_ID"),
        (13, "BPF_PROG_GET_FD_BY_ID"),
        (14, "BPF_MAP_GET_FD_BY_ID"),
        (15, "BPF_OBJ_GET_INFO_BY_FD"),
        (16, "BPF_PROG_QUERY"),
        (17, "BPF_RAW_TRACEPOINT_OPEN"),
        (18, "BPF_BTF_LOAD"),
        (19, "BPF_BTF_GET_FD_BY_ID"),
        (20, "BPF_TASK_FD_QUERY"),
        (21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
        (22, "BPF_MAP_FREEZE"),
        (23, "BPF_BTF_GET_NEXT_ID"),
        (24, "BPF_MAP_LOOKUP_BATCH"),
        (25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
        (26, "BPF_MAP_UPDATE_BATCH"),
        (27, "BPF_MAP_DELETE_BATCH"),
        (28, "BPF_LINK_CREATE"),
        (29, "BPF_LINK_UPDATE"),
        (30, "BPF_LINK_GET_FD_BY_ID"),
        (31, "BPF_LINK_GET_NEXT_ID"),
        (32, "BPF_ENABLE_STATS"),
        (33, "BPF_ITER_CREATE"),
        (34, "BPF_LINK_DETACH"),
        (35, "BPF_PROG_BIND_MAP"),
        (36, "BPF_TOKEN_CREATE"),
        (37, "BPF_PROG_STREAM_READ_BY_FD"),
    ],
);

/// `finit_module(2)` flags.
pub static MODULE_INIT_FLAGS: FlagSet = bits(
    "module_init_flags",
    &[
        (1, "MODULE_INIT_IGNORE_MODVERSIONS"),
        (2, "MODULE_INIT_IGNORE_VERMAGIC"),
        (4, "MODULE_INIT_COMPRESSED_FILE"),
    ],
);

/// Every named set, for tests and for tools that list them.
pub static ALL_FLAG_SETS: &[&FlagSet] = &[
    &OPEN_FLAGS,
    &RESOLVE_FLAGS,
    &AT_FLAGS,
    &UNLINKAT_FLAGS,
    &FACCESSAT_FLAGS,
    &ACCESS_MODES,
    &MODE_FLAGS,
    &RENAME_FLAGS,
    &SEEK_WHENCE,
    &FCNTL_CMDS,
    &FLOCK_OPS,
    &FALLOC_FLAGS,
    &XATTR_FLAGS,
    &SPLICE_FLAGS,
    &DUP3_FLAGS,
    &PIPE_FLAGS,
    &EFD_FLAGS,
    &TFD_FLAGS,
    &TFD_TIMER_FLAGS,
    &SFD_FLAGS,
    &IN_INIT_FLAGS,
    &IN_MASK,
    &EPOLL_CREATE_FLAGS,
    &EPOLL_CTL_OPS,
    &MFD_FLAGS,
    &UFFD_FLAGS,
    &PIDFD_FLAGS,
    &CLOSE_RANGE_FLAGS,
    &OPEN_TREE_FLAGS,
    &SIGNALS,
    &SIGPROCMASK_HOW,
    &CLONE_FLAGS,
    &CLONE_SYSCALL_FLAGS,
    &PTRACE_REQUESTS,
    &PRCTL_OPTIONS,
    &ARCH_PRCTL_CODES,
    &ADDRESS_FAMILIES,
    &SOCKET_TYPES,
    &SOCK_FLAGS,
    &IP_PROTOCOLS,
    &MSG_FLAGS,
    &SHUTDOWN_HOW,
    &SOCKOPT_LEVELS,
    &SOCKOPT_NAMES,
    &PROT_FLAGS,
    &MMAP_FLAGS,
    &MREMAP_FLAGS,
    &MSYNC_FLAGS,
    &MLOCKALL_FLAGS,
    &MADV_ADVICE,
    &MOUNT_FLAGS,
    &UMOUNT_FLAGS,
    &SECCOMP_OPS,
    &SECCOMP_FILTER_FLAGS,
    &FUTEX_OPS,
    &GRND_FLAGS,
    &RLIMIT_RESOURCES,
    &ITIMER_WHICH,
    &CLOCK_IDS,
    &TIMER_FLAGS,
    &WAIT_OPTIONS,
    &WAITID_TYPES,
    &PRIO_WHICH,
    &SCHED_POLICIES,
    &BPF_CMDS,
    &MODULE_INIT_FLAGS,
];

/// The named set called `name` (e.g. `open_flags`).
pub fn flag_set(name: &str) -> Option<&'static FlagSet> {
    ALL_FLAG_SETS.iter().copied().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(set: &FlagSet, value: u64, expected: &str) {
        assert_eq!(
            render_flags(set, value),
            expected,
            "{} {value:#x}",
            set.name
        );
    }

    #[test]
    fn sets_have_unique_values_and_names() {
        let mut names: Vec<&str> = ALL_FLAG_SETS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_FLAG_SETS.len(), "duplicate set name");
        for set in ALL_FLAG_SETS {
            for (i, (v, n)) in set.values.iter().enumerate() {
                for (v2, n2) in &set.values[i + 1..] {
                    assert_ne!(v, v2, "{}: {n} / {n2}", set.name);
                    assert_ne!(n, n2, "{}", set.name);
                }
            }
        }
    }

    #[test]
    fn open_flags() {
        check(&OPEN_FLAGS, 0, "O_RDONLY");
        check(&OPEN_FLAGS, 0o2000000, "O_RDONLY|O_CLOEXEC");
        check(
            &OPEN_FLAGS,
            0o1 | 0o100 | 0o1000 | 0o2000000,
            "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC",
        );
        check(&OPEN_FLAGS, 0o2 | 0o4010000, "O_RDWR|O_SYNC");
        check(&OPEN_FLAGS, 0o2 | 0o20200000, "O_RDWR|O_TMPFILE");
        check(&OPEN_FLAGS, 0o3, "0x3");
        check(&OPEN_FLAGS, 0x8000_0000, "O_RDONLY|0x80000000");
        // Appending starts its own `|`-joined list after what is there.
        let mut out = "flags=".to_string();
        render_flags_into(&mut out, &OPEN_FLAGS, 0o1 | 0o100);
        assert_eq!(out, "flags=O_WRONLY|O_CREAT");
        render_flags_into(&mut out, &CLONE_SYSCALL_FLAGS, 0);
        assert_eq!(out, "flags=O_WRONLY|O_CREAT0");
    }

    #[test]
    fn other_sets() {
        check(
            &CLONE_SYSCALL_FLAGS,
            0x100 | 0x200 | 0x400 | 0x800 | 17,
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|SIGCHLD",
        );
        check(
            &CLONE_SYSCALL_FLAGS,
            0x1200000 | 17,
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD",
        );
        check(&CLONE_SYSCALL_FLAGS, 0, "0");
        check(&CLONE_FLAGS, 0x80 | 0x20000, "CLONE_NEWTIME|CLONE_NEWNS");
        check(&SOCKET_TYPES, 1 | 0o2000000, "SOCK_STREAM|SOCK_CLOEXEC");
        check(&SOCKET_TYPES, 2, "SOCK_DGRAM");
        check(&MMAP_FLAGS, 0x22, "MAP_PRIVATE|MAP_ANONYMOUS");
        check(&PROT_FLAGS, 0, "PROT_NONE");
        check(&PROT_FLAGS, 5, "PROT_READ|PROT_EXEC");
        check(&FUTEX_OPS, 128, "FUTEX_WAIT|FUTEX_PRIVATE_FLAG");
        check(
            &MODE_FLAGS,
            0o4755,
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID",
        );
        check(&ACCESS_MODES, 0, "F_OK");
        check(&ACCESS_MODES, 6, "R_OK|W_OK");
        check(&MOUNT_FLAGS, 0xC0ED_0000 | 0x1000, "MS_MGC_VAL|MS_BIND");
        assert_eq!(render_enum(&PTRACE_REQUESTS, 0x4206), "PTRACE_SEIZE");
        assert_eq!(render_enum(&PTRACE_REQUESTS, 0x9999), "39321");
        assert_eq!(render_enum(&ADDRESS_FAMILIES, 17), "AF_PACKET");
        assert_eq!(render_enum(&BPF_CMDS, 5), "BPF_PROG_LOAD");
        assert_eq!(render_enum(&SIGNALS, 9), "SIGKILL");
        assert_eq!(render_mode(0o644), "0644");
        assert_eq!(render_mode(0), "0");
        assert_eq!(flag_value(&OPEN_FLAGS, "O_CREAT"), Some(0o100));
        assert_eq!(flag_set("clone_flags").map(|s| s.name), Some("clone_flags"));
    }
}
