//! Falco's vocabulary: event type names, categories, fd type names and
//! characters, result names, capability names, as libsinsp spells them.

use std::fmt::Write as _;

use trace_format::model::{Event, EventBody, FdKind, SignalEvent};
use trace_format::syscalls::{self, Syscall, group};

/// `evt.type` and the syscall of an event. Syscalls take Falco's event
/// name (`pread` for `pread64`); a new thread or process is `clone` (the
/// child's side, as Falco's clone exit in the child), a thread's end
/// `procexit`, a signal `signaldeliver`.
pub fn event_type(ev: &Event) -> (&'static str, Option<&'static Syscall>) {
    match &ev.body {
        EventBody::Syscall(s) => match syscalls::by_id(s.id) {
            // A successful execveat is reported as execve, as Falco does
            // (its drivers emit an execve exit event for it).
            Some(sc) if sc.name == "execveat" && s.ret == 0 => ("execve", Some(sc)),
            Some(sc) => (falco_name(sc.name), Some(sc)),
            None => ("unknown", None),
        },
        EventBody::ProcessStart(_) => ("clone", None),
        EventBody::Exec(_) => ("exec", None),
        EventBody::ThreadExit(_) => ("procexit", None),
        EventBody::Signal(_) => ("signaldeliver", None),
        EventBody::Marker(_) => ("marker", None),
    }
}

/// Falco's event name of a syscall.
pub fn falco_name(syscall: &'static str) -> &'static str {
    syscalls::FALCO_EVENT_ALIASES
        .iter()
        .find(|(_, real)| *real == syscall)
        .map_or(syscall, |(alias, _)| alias)
}

/// Whether a syscall opens a file (its result is an fd for a path).
pub fn is_open(sc: &Syscall) -> bool {
    matches!(
        sc.name,
        "open" | "openat" | "openat2" | "creat" | "open_by_handle_at"
    )
}

/// `evt.res`: `SUCCESS`, or the errno name of a failure.
pub fn res_name(ret: i64) -> &'static str {
    if (-4095..0).contains(&ret) {
        syscalls::errno_name(ret).unwrap_or("EUNKNOWN")
    } else {
        "SUCCESS"
    }
}

/// Whether a syscall reads or writes data through an fd (`evt.is_io_*`).
pub fn io_dir(name: &str) -> (bool, bool) {
    match name {
        "read" | "readv" | "pread64" | "preadv" | "preadv2" | "recvfrom" | "recvmsg"
        | "recvmmsg" => (true, false),
        "write" | "writev" | "pwrite64" | "pwritev" | "pwritev2" | "sendto" | "sendmsg"
        | "sendmmsg" | "sendfile" | "splice" | "tee" | "vmsplice" | "copy_file_range" => {
            (false, true)
        }
        _ => (false, false),
    }
}

/// `evt.category`.
pub fn category(body: &EventBody, sc: Option<&Syscall>) -> &'static str {
    match body {
        EventBody::Syscall(_) => match sc {
            Some(sc) if sc.groups & group::NET != 0 => "net",
            Some(sc) if sc.groups & group::FILE != 0 => "file",
            Some(sc) if sc.groups & group::PROCESS != 0 => "process",
            Some(sc) if sc.name.starts_with("mmap") || sc.name.starts_with("mprotect") => "memory",
            _ => "other",
        },
        EventBody::ProcessStart(_) | EventBody::Exec(_) | EventBody::ThreadExit(_) => "process",
        EventBody::Signal(_) => "signal",
        EventBody::Marker(_) => "internal",
    }
}

/// The arguments of a signal delivery, as `evt.args` renders them.
pub fn signal_args(buf: &mut String, s: &SignalEvent) {
    let _ = write!(
        buf,
        "sig={} code={} spid={} suid={}",
        syscalls::render_enum(&syscalls::SIGNALS, s.signo as u64),
        s.code,
        s.sender_pid,
        s.sender_uid
    );
}

/// `fd.type`, as libsinsp names fd kinds.
pub fn kind_name(k: FdKind) -> &'static str {
    match k {
        FdKind::File | FdKind::CharDevice | FdKind::BlockDevice | FdKind::Fifo => "file",
        FdKind::Directory => "directory",
        FdKind::Ipv4Socket => "ipv4",
        FdKind::Ipv6Socket => "ipv6",
        FdKind::UnixSocket => "unix",
        FdKind::NetlinkSocket => "netlink",
        FdKind::OtherSocket => "socket",
        FdKind::Pipe => "pipe",
        FdKind::EventFd => "event",
        FdKind::SignalFd => "signalfd",
        FdKind::TimerFd => "timerfd",
        FdKind::Epoll => "eventpoll",
        FdKind::Inotify => "inotify",
        FdKind::Memfd => "memfd",
        FdKind::PidFd => "pidfd",
        FdKind::AnonInode | FdKind::Unknown => "unknown",
    }
}

/// `fd.typechar`, as libsinsp's.
pub fn kind_char(k: FdKind) -> &'static str {
    match k {
        FdKind::File | FdKind::CharDevice | FdKind::BlockDevice | FdKind::Fifo => "f",
        FdKind::Directory => "d",
        FdKind::Ipv4Socket => "4",
        FdKind::Ipv6Socket => "6",
        FdKind::UnixSocket => "u",
        FdKind::NetlinkSocket => "n",
        FdKind::OtherSocket => "s",
        FdKind::Pipe => "p",
        FdKind::EventFd => "e",
        FdKind::SignalFd => "s",
        FdKind::TimerFd => "t",
        FdKind::Epoll => "l",
        FdKind::Inotify => "i",
        FdKind::Memfd => "m",
        FdKind::PidFd => "P",
        FdKind::AnonInode | FdKind::Unknown => "o",
    }
}

/// Capability names by bit (capability.h), as libsinsp renders them.
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Capability names separated by spaces (`thread.cap_effective`).
pub fn render_caps(buf: &mut String, caps: u64) {
    for (bit, name) in CAPS.iter().enumerate() {
        if caps & (1 << bit) != 0 {
            if !buf.is_empty() {
                buf.push(' ');
            }
            buf.push_str(name);
        }
    }
}

/// The exe flags of execve's `flags` (`PPM_EXE_*`), named as libsinsp
/// renders them.
pub static EXE_FLAGS: syscalls::FlagSet = syscalls::FlagSet {
    name: "execve_flags",
    values: &[
        (1, "EXE_WRITABLE"),
        (2, "EXE_UPPER_LAYER"),
        (4, "EXE_FROM_MEMFD"),
        (8, "EXE_LOWER_LAYER"),
    ],
    value_bits: syscalls::ValueBits::None,
};
