//! libscap's event layout and the driver's numbering, as libscap 0.29
//! (falcosecurity/libs e5c53d64, `driver/event_table.c` and
//! `driver/ppm_events_public.h`) defines them: event type numbers, the
//! `ppm_sc` syscall codes of generic events, and the flag encodings the
//! driver translates Linux's values into.
//!
//! An event is `u64 ts, u64 tid, u32 len, u16 type, u32 nparams`, then one
//! `u16` length per parameter, then the parameters' bytes.

/// Event type numbers (`PPME_*`) this exporter writes; each `_X` is its
/// `_E` plus one.
pub mod ty {
    pub const GENERIC_E: u16 = 0;
    pub const OPEN_E: u16 = 2;
    pub const CLOSE_E: u16 = 4;
    pub const READ_E: u16 = 6;
    pub const WRITE_E: u16 = 8;
    pub const SOCKET_E: u16 = 18;
    pub const BIND_E: u16 = 20;
    pub const CONNECT_E: u16 = 22;
    pub const LISTEN_E: u16 = 24;
    pub const SENDTO_E: u16 = 30;
    pub const RECVFROM_E: u16 = 34;
    pub const SOCKETPAIR_E: u16 = 42;
    pub const CREAT_E: u16 = 58;
    pub const PIPE_E: u16 = 60;
    pub const CHDIR_E: u16 = 94;
    pub const FCHDIR_E: u16 = 96;
    pub const DUP_E: u16 = 124;
    pub const KILL_E: u16 = 128;
    pub const TKILL_E: u16 = 130;
    pub const TGKILL_E: u16 = 132;
    pub const FCNTL_E: u16 = 150;
    pub const RENAME_E: u16 = 174;
    pub const RENAMEAT_E: u16 = 176;
    pub const PROCEXIT_1_E: u16 = 186;
    pub const SETRESUID_E: u16 = 192;
    pub const SETRESGID_E: u16 = 194;
    pub const SETUID_E: u16 = 198;
    pub const SETGID_E: u16 = 200;
    pub const CLONE_20_E: u16 = 222;
    pub const FORK_20_E: u16 = 224;
    pub const VFORK_20_E: u16 = 226;
    pub const SIGNALDELIVER_E: u16 = 232;
    pub const ACCEPT_5_E: u16 = 246;
    pub const ACCEPT4_5_E: u16 = 248;
    pub const MKDIR_2_E: u16 = 276;
    pub const RMDIR_2_E: u16 = 278;
    pub const EXECVE_19_E: u16 = 292;
    pub const UNLINK_2_E: u16 = 300;
    pub const UNLINKAT_2_E: u16 = 302;
    pub const MKDIRAT_E: u16 = 304;
    pub const OPENAT_2_E: u16 = 306;
    pub const FCHMODAT_E: u16 = 312;
    pub const CHMOD_E: u16 = 314;
    pub const RENAMEAT2_E: u16 = 318;
    pub const OPENAT2_E: u16 = 326;
    pub const CLONE3_E: u16 = 334;
}

/// `ppm_sc` codes by index (code 0 is "unknown"): a generic event names its
/// syscall by this code, not by the architecture's number.
const PPM_SC: &[&str] = &[
    "unknown",
    "restart_syscall",
    "exit",
    "read",
    "write",
    "open",
    "close",
    "creat",
    "link",
    "unlink",
    "chdir",
    "time",
    "mknod",
    "chmod",
    "stat",
    "lseek",
    "getpid",
    "mount",
    "ptrace",
    "alarm",
    "fstat",
    "pause",
    "utime",
    "access",
    "sync",
    "kill",
    "rename",
    "mkdir",
    "rmdir",
    "dup",
    "pipe",
    "times",
    "brk",
    "acct",
    "ioctl",
    "fcntl",
    "setpgid",
    "umask",
    "chroot",
    "ustat",
    "dup2",
    "getppid",
    "getpgrp",
    "setsid",
    "sethostname",
    "setrlimit",
    "getrusage",
    "gettimeofday",
    "settimeofday",
    "symlink",
    "lstat",
    "readlink",
    "uselib",
    "swapon",
    "reboot",
    "mmap",
    "munmap",
    "truncate",
    "ftruncate",
    "fchmod",
    "getpriority",
    "setpriority",
    "statfs",
    "fstatfs",
    "syslog",
    "setitimer",
    "getitimer",
    "uname",
    "vhangup",
    "wait4",
    "swapoff",
    "sysinfo",
    "fsync",
    "setdomainname",
    "adjtimex",
    "mprotect",
    "init_module",
    "delete_module",
    "quotactl",
    "getpgid",
    "fchdir",
    "sysfs",
    "personality",
    "getdents",
    "select",
    "flock",
    "msync",
    "readv",
    "writev",
    "getsid",
    "fdatasync",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "sched_setparam",
    "sched_getparam",
    "sched_setscheduler",
    "sched_getscheduler",
    "sched_yield",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "nanosleep",
    "mremap",
    "poll",
    "prctl",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "getcwd",
    "capget",
    "capset",
    "sendfile",
    "getrlimit",
    "lchown",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "fchown",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "chown",
    "setuid",
    "setgid",
    "setfsuid",
    "setfsgid",
    "pivot_root",
    "mincore",
    "madvise",
    "gettid",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "tkill",
    "futex",
    "sched_setaffinity",
    "sched_getaffinity",
    "set_thread_area",
    "get_thread_area",
    "io_setup",
    "io_destroy",
    "io_getevents",
    "io_submit",
    "io_cancel",
    "exit_group",
    "epoll_create",
    "epoll_ctl",
    "epoll_wait",
    "remap_file_pages",
    "set_tid_address",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "clock_settime",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "tgkill",
    "utimes",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "kexec_load",
    "waitid",
    "add_key",
    "request_key",
    "keyctl",
    "ioprio_set",
    "ioprio_get",
    "inotify_init",
    "inotify_add_watch",
    "inotify_rm_watch",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "unshare",
    "set_robust_list",
    "get_robust_list",
    "splice",
    "tee",
    "vmsplice",
    "getcpu",
    "epoll_pwait",
    "utimensat",
    "signalfd",
    "timerfd_create",
    "eventfd",
    "timerfd_settime",
    "timerfd_gettime",
    "signalfd4",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "inotify_init1",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "perf_event_open",
    "fanotify_init",
    "prlimit64",
    "clock_adjtime",
    "syncfs",
    "setns",
    "getdents64",
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "sendmmsg",
    "recvmsg",
    "recvmmsg",
    "accept4",
    "semop",
    "semget",
    "semctl",
    "msgsnd",
    "msgrcv",
    "msgget",
    "msgctl",
    "shmdt",
    "shmget",
    "shmctl",
    "statfs64",
    "fstatfs64",
    "fstatat64",
    "sendfile64",
    "ugetrlimit",
    "bdflush",
    "sigprocmask",
    "ipc",
    "socketcall",
    "stat64",
    "lstat64",
    "fstat64",
    "fcntl64",
    "mmap2",
    "_newselect",
    "sgetmask",
    "ssetmask",
    "sigpending",
    "olduname",
    "umount",
    "signal",
    "nice",
    "stime",
    "_llseek",
    "waitpid",
    "pread64",
    "pwrite64",
    "arch_prctl",
    "shmat",
    "sigreturn",
    "fallocate",
    "newfsstat",
    "process_vm_readv",
    "process_vm_writev",
    "fork",
    "vfork",
    "setuid32",
    "getuid32",
    "setgid32",
    "geteuid32",
    "getgid32",
    "setresuid32",
    "setresgid32",
    "getresuid32",
    "getresgid32",
    "finit_module",
    "bpf",
    "seccomp",
    "sigaltstack",
    "getrandom",
    "fadvise64",
    "renameat2",
    "userfaultfd",
    "openat2",
    "umount2",
    "execve",
    "execveat",
    "copy_file_range",
    "clone",
    "clone3",
];

/// The `ppm_sc` code of a syscall name, 0 (unknown) if libscap 0.29 has none.
pub fn ppm_sc(name: &str) -> u16 {
    PPM_SC
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u16::try_from(i).ok())
        .unwrap_or(0)
}

/// The syscall name of a `ppm_sc` code (`None` for 0 and unknown codes).
pub fn ppm_sc_name(code: u16) -> Option<&'static str> {
    PPM_SC.get(usize::from(code)).copied().filter(|_| code != 0)
}

/// One event being built: parameters appended in the table's order.
pub struct EventBuf {
    ts: u64,
    tid: u64,
    ty: u16,
    params: Vec<Vec<u8>>,
}

impl EventBuf {
    pub fn new(ts: u64, tid: i32, ty: u16) -> EventBuf {
        EventBuf {
            ts,
            tid: tid as i64 as u64,
            ty,
            params: Vec::new(),
        }
    }

    fn push(&mut self, v: Vec<u8>) -> &mut Self {
        self.params.push(v);
        self
    }

    /// `PT_INT64`, `PT_FD`, `PT_ERRNO`, `PT_PID`.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.push(v.to_le_bytes().to_vec())
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.push(v.to_le_bytes().to_vec())
    }
    /// `PT_UINT32`, `PT_FLAGS32`, `PT_UID`, `PT_GID`, `PT_MODE`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.push(v.to_le_bytes().to_vec())
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.push(v.to_le_bytes().to_vec())
    }
    /// `PT_UINT16`, `PT_SYSCALLID`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.push(v.to_le_bytes().to_vec())
    }
    /// `PT_UINT8`, `PT_SIGTYPE`, `PT_FLAGS8`.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.push(vec![v])
    }
    /// `PT_CHARBUF`, `PT_FSPATH`, `PT_FSRELPATH`: the string and its NUL.
    pub fn str(&mut self, v: &[u8]) -> &mut Self {
        let mut s = super::block::cut(v, MAX_PARAM - 1).to_vec();
        s.push(0);
        self.push(s)
    }
    /// `PT_BYTEBUF`, `PT_SOCKADDR`, `PT_SOCKTUPLE`: raw bytes.
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.push(v[..v.len().min(MAX_PARAM)].to_vec())
    }
    /// A list of strings, each with its NUL (`args`, `env`, `cgroups`),
    /// cut to what a parameter holds.
    pub fn strs<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>) -> &mut Self {
        let mut out = Vec::new();
        for i in items {
            let s = super::block::cut(i, MAX_PARAM);
            if out.len() + s.len() + 1 > MAX_PARAM {
                break;
            }
            out.extend_from_slice(s);
            out.push(0);
        }
        self.push(out)
    }

    /// The event's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let hdr = 8 + 8 + 4 + 2 + 4;
        let data: usize = self.params.iter().map(Vec::len).sum();
        let len = hdr + 2 * self.params.len() + data;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.tid.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(&self.ty.to_le_bytes());
        out.extend_from_slice(&(self.params.len() as u32).to_le_bytes());
        for p in &self.params {
            out.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        for p in &self.params {
            out.extend_from_slice(p);
        }
        out
    }
}

/// The most bytes one parameter holds (its length is a `u16`).
const MAX_PARAM: usize = u16::MAX as usize;

/// Linux `open(2)` flags as the driver's `PPM_O_*`.
pub fn open_flags(f: u64) -> u32 {
    let mut r = match f & 3 {
        0 => 1,
        1 => 2,
        _ => 3,
    };
    const MAP: &[(u64, u32)] = &[
        (0o100, 1 << 2),       // O_CREAT
        (0o2000, 1 << 3),      // O_APPEND
        (0o10000, 1 << 4),     // O_DSYNC
        (0o200, 1 << 5),       // O_EXCL
        (0o4000, 1 << 6),      // O_NONBLOCK
        (0o4010000, 1 << 7),   // O_SYNC
        (0o1000, 1 << 8),      // O_TRUNC
        (0o40000, 1 << 9),     // O_DIRECT
        (0o200000, 1 << 10),   // O_DIRECTORY
        (0o100000, 1 << 11),   // O_LARGEFILE
        (0o2000000, 1 << 12),  // O_CLOEXEC
        (0o20200000, 1 << 13), // O_TMPFILE
    ];
    for &(linux, ppm) in MAP {
        if f & linux == linux {
            r |= ppm;
        }
    }
    r
}

/// Linux `clone(2)` flags as the driver's `PPM_CL_*`.
pub fn clone_flags(f: u64) -> u32 {
    const MAP: &[(u64, u32)] = &[
        (0x400, 1 << 0),        // CLONE_FILES
        (0x200, 1 << 1),        // CLONE_FS
        (0x8000_0000, 1 << 2),  // CLONE_IO
        (0x0800_0000, 1 << 3),  // CLONE_NEWIPC
        (0x4000_0000, 1 << 4),  // CLONE_NEWNET
        (0x0002_0000, 1 << 5),  // CLONE_NEWNS
        (0x2000_0000, 1 << 6),  // CLONE_NEWPID
        (0x0400_0000, 1 << 7),  // CLONE_NEWUTS
        (0x8000, 1 << 8),       // CLONE_PARENT
        (0x0010_0000, 1 << 9),  // CLONE_PARENT_SETTID
        (0x2000, 1 << 10),      // CLONE_PTRACE
        (0x800, 1 << 11),       // CLONE_SIGHAND
        (0x0004_0000, 1 << 12), // CLONE_SYSVSEM
        (0x0001_0000, 1 << 13), // CLONE_THREAD
        (0x0080_0000, 1 << 14), // CLONE_UNTRACED
        (0x100, 1 << 15),       // CLONE_VM
        (0x1000_0000, 1 << 20), // CLONE_NEWUSER
        (0x0020_0000, 1 << 23), // CLONE_CHILD_CLEARTID
        (0x0100_0000, 1 << 24), // CLONE_CHILD_SETTID
        (0x0008_0000, 1 << 25), // CLONE_SETTLS
        (0x4000, 1 << 27),      // CLONE_VFORK
        (0x0200_0000, 1 << 28), // CLONE_NEWCGROUP
    ];
    MAP.iter()
        .filter(|(linux, _)| f & linux != 0)
        .fold(0, |r, (_, ppm)| r | ppm)
}

/// `unlinkat(2)`'s `AT_REMOVEDIR` as `PPM_AT_REMOVEDIR` (the same bit).
pub fn unlinkat_flags(f: u64) -> u32 {
    (f & 0x200) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_sc_codes_are_libscap_0_29s() {
        assert_eq!(ppm_sc("read"), 3);
        assert_eq!(ppm_sc("open"), 5);
        assert_eq!(ppm_sc("clone3"), 328);
        assert_eq!(ppm_sc("no_such_call"), 0);
    }

    #[test]
    fn flags_translate() {
        assert_eq!(open_flags(0), 1);
        assert_eq!(open_flags(0o1101), 2 | 4 | 256);
        assert_eq!(clone_flags(0x4111), (1 << 15) | (1 << 27));
    }

    #[test]
    fn event_layout() {
        let mut e = EventBuf::new(7, 42, ty::CLOSE_E);
        e.i64(3);
        let b = e.encode();
        assert_eq!(b.len(), 26 + 2 + 8);
        assert_eq!(&b[16..20], &36u32.to_le_bytes());
        assert_eq!(&b[20..22], &4u16.to_le_bytes());
        assert_eq!(&b[22..26], &1u32.to_le_bytes());
        assert_eq!(&b[26..28], &8u16.to_le_bytes());
    }
}
