//! Process and fd state, rebuilt from the event stream.
//!
//! [`State::apply`] is a pure function of the events: everything it needs
//! (resolved paths, socket endpoints, new credentials) is in the event's
//! decoded params, which the tracer computed while the tracee was stopped.
//! That is what lets two copies of the state exist without drifting: the
//! tracer thread keeps one to resolve paths and name fds, the writer thread
//! keeps one to produce chunk snapshots (see the crate docs).
//!
//! **Invariant:** the writer pushes an event *before* its state applies it,
//! so a chunk's snapshot is the state just before the chunk's first event.
//!
//! Per-syscall semantics live here (which syscalls create, duplicate, close
//! fds, change the cwd or credentials), keyed by canonical syscall id; how
//! arguments are *decoded* is driven by the syscall table, not by this file.

pub mod fd_table;
pub mod process_table;

use crate::model::{
    Event, EventBody, Exec, FdKind, Param, Process, Snapshot, SockAddr, SyscallEvent, Value,
    result_index,
};

use self::fd_table::{Entry, O_CLOEXEC, anon, socket_info};
use self::process_table::ProcessTable;

/// Canonical syscall ids (x86_64 numbers) of the state-changing syscalls.
#[allow(missing_docs)]
pub mod sysno {
    pub const OPEN: u16 = 2;
    pub const CLOSE: u16 = 3;
    pub const PIPE: u16 = 22;
    pub const DUP: u16 = 32;
    pub const DUP2: u16 = 33;
    pub const SOCKET: u16 = 41;
    pub const CONNECT: u16 = 42;
    pub const ACCEPT: u16 = 43;
    pub const BIND: u16 = 49;
    pub const LISTEN: u16 = 50;
    pub const SOCKETPAIR: u16 = 53;
    pub const CLONE: u16 = 56;
    pub const FORK: u16 = 57;
    pub const VFORK: u16 = 58;
    pub const EXECVE: u16 = 59;
    pub const EXIT: u16 = 60;
    pub const FCNTL: u16 = 72;
    pub const CHDIR: u16 = 80;
    pub const FCHDIR: u16 = 81;
    pub const CREAT: u16 = 85;
    pub const SETUID: u16 = 105;
    pub const SETGID: u16 = 106;
    pub const SETPGID: u16 = 109;
    pub const SETSID: u16 = 112;
    pub const SETREUID: u16 = 113;
    pub const SETREGID: u16 = 114;
    pub const SETRESUID: u16 = 117;
    pub const SETRESGID: u16 = 119;
    pub const SETFSUID: u16 = 122;
    pub const SETFSGID: u16 = 123;
    pub const CAPSET: u16 = 126;
    pub const PRCTL: u16 = 157;
    pub const EPOLL_CREATE: u16 = 213;
    pub const EXIT_GROUP: u16 = 231;
    pub const INOTIFY_INIT: u16 = 253;
    pub const OPENAT: u16 = 257;
    pub const SIGNALFD: u16 = 282;
    pub const TIMERFD_CREATE: u16 = 283;
    pub const EVENTFD: u16 = 284;
    pub const ACCEPT4: u16 = 288;
    pub const SIGNALFD4: u16 = 289;
    pub const EVENTFD2: u16 = 290;
    pub const EPOLL_CREATE1: u16 = 291;
    pub const DUP3: u16 = 292;
    pub const PIPE2: u16 = 293;
    pub const INOTIFY_INIT1: u16 = 294;
    pub const PERF_EVENT_OPEN: u16 = 298;
    pub const FANOTIFY_INIT: u16 = 300;
    pub const OPEN_BY_HANDLE_AT: u16 = 304;
    pub const EXECVEAT: u16 = 322;
    pub const MEMFD_CREATE: u16 = 319;
    pub const USERFAULTFD: u16 = 323;
    pub const IO_URING_SETUP: u16 = 425;
    pub const CLONE3: u16 = 435;
    pub const PIDFD_OPEN: u16 = 434;
    pub const CLOSE_RANGE: u16 = 436;
    pub const OPENAT2: u16 = 437;
    pub const PIDFD_GETFD: u16 = 438;
}

/// Maps CLOCK_MONOTONIC to wall-clock time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockAnchor {
    pub mono_ns: u64,
    pub wall_ns: u64,
}

impl ClockAnchor {
    /// Reads both clocks now.
    pub fn now() -> ClockAnchor {
        ClockAnchor {
            mono_ns: crate::clock::mono_ns(),
            wall_ns: crate::clock::wall_ns(),
        }
    }

    pub fn wall(&self, mono_ns: u64) -> u64 {
        self.wall_ns
            .wrapping_add(mono_ns)
            .wrapping_sub(self.mono_ns)
    }
}

/// The process table with the fd tables, updated event by event.
#[derive(Clone, Debug, Default)]
pub struct State {
    table: ProcessTable,
    anchor: ClockAnchor,
    /// The time of the event being applied (fds installed by it get it).
    now: u64,
}

const O_APPEND: u32 = 0o2000;
const O_NONBLOCK: u32 = 0o4000;
const O_SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | 0o20000 | 0o40000 | 0o1000000;
const O_DIRECTORY: u32 = 0o200000;
const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_NETLINK: u16 = 16;
const EINPROGRESS: i64 = 115;

impl State {
    pub fn new(anchor: ClockAnchor) -> State {
        State {
            table: ProcessTable::default(),
            anchor,
            now: 0,
        }
    }

    /// The process table (read-only).
    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    /// Adds a process read from `/proc` (attach mode).
    pub fn seed(&mut self, p: Process) {
        self.table.seed(p);
    }

    /// Removes process `pid` from this copy and returns it, for another
    /// copy to [`seed`](Self::seed) (see `ProcessTable::take`).
    pub fn take_process(&mut self, pid: i32) -> Option<Process> {
        self.table.take(pid)
    }

    /// The state as a snapshot.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            processes: self.table.snapshot(),
        }
    }

    /// The working directory of `pid`.
    pub fn cwd(&self, pid: i32) -> Option<&[u8]> {
        self.table.cwd(pid)
    }

    /// The fd-table entry of `fd` in `pid`.
    pub fn fd(&self, pid: i32, fd: i32) -> Option<&Entry> {
        self.table.fds(pid).and_then(|t| t.get(fd))
    }

    /// Applies one event. Must be called after the event was handed to the
    /// writer (see the module invariant).
    pub fn apply(&mut self, ev: &Event) {
        self.now = ev.ts;
        match &ev.body {
            EventBody::Syscall(s) => self.syscall(ev.pid, ev.tid, s),
            EventBody::ProcessStart(p) => self.table.start(
                p.parent_tid,
                p.child_pid,
                p.child_tid,
                p.clone_flags,
                self.anchor.wall(ev.ts),
            ),
            EventBody::Exec(x) => self.exec(ev.pid, ev.ts, x),
            EventBody::ThreadExit(x) => {
                if x.process_exit {
                    self.table.forget_unknown(ev.pid);
                }
                self.table.exit(ev.tid, x.process_exit)
            }
            EventBody::Signal(_) | EventBody::Marker(_) => {}
        }
    }

    fn exec(&mut self, pid: i32, ts: u64, x: &Exec) {
        self.table.exec(pid, &x.comm);
        let wall = self.anchor.wall(ts);
        if let Some(p) = self.table.process_mut(pid) {
            let i = &mut p.info;
            i.comm = x.comm.clone();
            i.exe = x.argv.first().cloned().unwrap_or_default();
            i.exepath = x.exepath.clone();
            i.argv = x.argv.clone();
            i.env = x.env.clone();
            i.uid = x.uid;
            i.euid = x.euid;
            i.gid = x.gid;
            i.egid = x.egid;
            i.cap_permitted = x.cap_permitted;
            i.cap_effective = x.cap_effective;
            i.exec_wall_ns = wall;
            i.exe_from_memfd = x.exe_from_memfd;
            i.exe_flags = x.exe_flags;
        }
    }

    fn syscall(&mut self, pid: i32, tid: i32, s: &SyscallEvent) {
        use sysno::*;
        if s.no_return || s.ret < 0 && !(s.id == CONNECT && s.ret == -EINPROGRESS) {
            // close(2) releases the fd even when it reports an error other
            // than EBADF, and before it can block or fail: a close with no
            // observed return (recorded from its entry stop only, or its
            // thread died in it) released it too.
            if s.id == CLOSE && (s.no_return || s.ret != -(libc::EBADF as i64)) {
                self.close(pid, arg(s, 0) as i32, entered(s, self.now));
            }
            return;
        }
        let ret = s.ret;
        let a = |i| arg(s, i);
        match s.id {
            OPEN | OPENAT | CREAT | OPEN_BY_HANDLE_AT | OPENAT2 => {
                let flags = match s.id {
                    OPEN => a(1) as u32,
                    OPENAT => a(2) as u32,
                    CREAT => 0o1101,
                    OPENAT2 => params(s)
                        .find_map(|v| match v {
                            Value::OpenHow { flags, .. } => Some(*flags as u32),
                            _ => None,
                        })
                        .unwrap_or(0),
                    _ => a(2) as u32,
                };
                let path = first_path(s).unwrap_or_default();
                let kind = if flags & O_DIRECTORY != 0 {
                    FdKind::Directory
                } else {
                    FdKind::File
                };
                self.install(pid, ret as i32, file_entry(kind, path, flags));
            }
            CLOSE => self.close(pid, a(0) as i32, entered(s, self.now)),
            CLOSE_RANGE => {
                const CLOSE_RANGE_UNSHARE: u64 = 2;
                const CLOSE_RANGE_CLOEXEC: u64 = 4;
                if a(2) & CLOSE_RANGE_UNSHARE != 0 {
                    self.table.unshare_fds(pid);
                }
                if let Some(t) = self.table.fds_mut(pid) {
                    t.close_range(
                        a(0) as u32,
                        a(1) as u32,
                        a(2) & CLOSE_RANGE_CLOEXEC != 0,
                        entered(s, self.now),
                    );
                }
            }
            DUP => self.dup(pid, a(0) as i32, ret as i32, false),
            DUP2 => self.dup(pid, a(0) as i32, ret as i32, false),
            DUP3 => self.dup(pid, a(0) as i32, ret as i32, a(2) as u32 & O_CLOEXEC != 0),
            FCNTL => {
                const F_DUPFD: u64 = 0;
                const F_SETFD: u64 = 2;
                const F_SETFL: u64 = 4;
                const F_DUPFD_CLOEXEC: u64 = 1030;
                let fd = a(0) as i32;
                match a(1) {
                    F_DUPFD => self.dup(pid, fd, ret as i32, false),
                    F_DUPFD_CLOEXEC => self.dup(pid, fd, ret as i32, true),
                    F_SETFD => {
                        if let Some(e) = self.table.fds_mut(pid).and_then(|t| t.get_mut(fd)) {
                            e.fd.flags = (e.fd.flags & !O_CLOEXEC)
                                | if a(2) & 1 != 0 { O_CLOEXEC } else { 0 };
                        }
                    }
                    F_SETFL => {
                        if let Some(e) = self.table.fds_mut(pid).and_then(|t| t.get_mut(fd)) {
                            e.fd.flags =
                                (e.fd.flags & !O_SETFL_MASK) | (a(2) as u32 & O_SETFL_MASK);
                        }
                    }
                    _ => {}
                }
            }
            SOCKET => {
                let family = a(0) as u16;
                let kind = socket_kind(family);
                let ty = a(1) as u32;
                let mut e = file_entry(kind, Vec::new(), ty & (O_CLOEXEC | O_NONBLOCK));
                e.fd.socket = Some(socket_info(family, (ty & 0xf) as u16, a(2) as u16));
                self.install(pid, ret as i32, e);
            }
            SOCKETPAIR => {
                if let Some((f0, f1)) = fd_pair(s) {
                    let family = a(0) as u16;
                    let ty = a(1) as u32;
                    let mut e = file_entry(
                        socket_kind(family),
                        Vec::new(),
                        ty & (O_CLOEXEC | O_NONBLOCK),
                    );
                    e.fd.socket = Some(socket_info(family, (ty & 0xf) as u16, a(2) as u16));
                    self.install(pid, f0, e.clone());
                    self.install(pid, f1, e);
                }
            }
            CONNECT | BIND => {
                // A connect's peer as reported after the call (an imported
                // `.scap` tuple), else the address it was given.
                let addr = match s.id {
                    CONNECT => sockaddr_param(s, result_index::SOCKADDR_OUT)
                        .or_else(|| sockaddr_param(s, 1)),
                    _ => sockaddr_param(s, 1),
                };
                let extra = sockaddr_param(s, result_index::EXTRA);
                let connect = s.id == CONNECT;
                if let Some(e) = self.table.fds_mut(pid).and_then(|t| t.get_mut(a(0) as i32)) {
                    let si = e.fd.socket.get_or_insert_with(Default::default);
                    if let Some(sa) = addr {
                        if si.family == 0 {
                            si.family = sa.family;
                        }
                        if sa.family == AF_UNIX {
                            si.path = sa.path.clone();
                        } else if connect {
                            si.remote_addr = sa.addr.clone();
                            si.remote_port = sa.port;
                        } else {
                            si.local_addr = sa.addr.clone();
                            si.local_port = sa.port;
                        }
                    }
                    if let Some(l) = extra {
                        si.local_addr = l.addr.clone();
                        si.local_port = l.port;
                    }
                }
            }
            LISTEN => {
                if let Some(si) = self
                    .table
                    .fds_mut(pid)
                    .and_then(|t| t.get_mut(a(0) as i32))
                    .and_then(|e| e.fd.socket.as_mut())
                {
                    si.listening = true;
                }
            }
            ACCEPT | ACCEPT4 => {
                let listener = self.fd(pid, a(0) as i32).cloned().unwrap_or_default();
                let flags = if s.id == ACCEPT4 {
                    a(3) as u32 & (O_CLOEXEC | O_NONBLOCK)
                } else {
                    0
                };
                let mut e = file_entry(listener.fd.kind, Vec::new(), flags);
                let mut si = listener.fd.socket.unwrap_or_default();
                si.listening = false;
                si.accepted = true;
                if let Some(peer) = sockaddr_param(s, result_index::SOCKADDR_OUT) {
                    if peer.family == AF_UNIX {
                        if !peer.path.is_empty() {
                            si.path = peer.path.clone();
                        }
                    } else {
                        si.remote_addr = peer.addr.clone();
                        si.remote_port = peer.port;
                    }
                }
                if let Some(l) = sockaddr_param(s, result_index::EXTRA) {
                    si.local_addr = l.addr.clone();
                    si.local_port = l.port;
                }
                e.fd.socket = Some(si);
                self.install(pid, ret as i32, e);
            }
            PIPE | PIPE2 => {
                if let Some((r, w)) = fd_pair(s) {
                    let flags = if s.id == PIPE2 {
                        a(1) as u32 & (O_CLOEXEC | O_NONBLOCK)
                    } else {
                        0
                    };
                    self.install(pid, r, anon(FdKind::Pipe, "pipe", flags));
                    self.install(pid, w, anon(FdKind::Pipe, "pipe", flags | 1));
                }
            }
            EVENTFD | EVENTFD2 => {
                let flags = if s.id == EVENTFD2 {
                    a(1) as u32 & (O_CLOEXEC | O_NONBLOCK)
                } else {
                    0
                };
                self.install(
                    pid,
                    ret as i32,
                    anon(FdKind::EventFd, "anon_inode:[eventfd]", flags),
                );
            }
            SIGNALFD | SIGNALFD4 if a(0) as i32 == -1 => {
                let flags = if s.id == SIGNALFD4 {
                    a(3) as u32 & (O_CLOEXEC | O_NONBLOCK)
                } else {
                    0
                };
                self.install(
                    pid,
                    ret as i32,
                    anon(FdKind::SignalFd, "anon_inode:[signalfd]", flags),
                );
            }
            TIMERFD_CREATE => {
                let flags = a(1) as u32 & (O_CLOEXEC | O_NONBLOCK);
                self.install(
                    pid,
                    ret as i32,
                    anon(FdKind::TimerFd, "anon_inode:[timerfd]", flags),
                );
            }
            EPOLL_CREATE | EPOLL_CREATE1 => {
                let flags = if s.id == EPOLL_CREATE1 {
                    a(0) as u32 & O_CLOEXEC
                } else {
                    0
                };
                self.install(
                    pid,
                    ret as i32,
                    anon(FdKind::Epoll, "anon_inode:[eventpoll]", flags),
                );
            }
            INOTIFY_INIT | INOTIFY_INIT1 => {
                let flags = if s.id == INOTIFY_INIT1 {
                    a(0) as u32 & (O_CLOEXEC | O_NONBLOCK)
                } else {
                    0
                };
                self.install(
                    pid,
                    ret as i32,
                    anon(FdKind::Inotify, "anon_inode:inotify", flags),
                );
            }
            MEMFD_CREATE => {
                let name = params(s)
                    .find_map(|v| match v {
                        Value::Str(n) => Some(n.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let mut path = b"memfd:".to_vec();
                path.extend_from_slice(&name);
                let flags = if a(1) & 1 != 0 { O_CLOEXEC } else { 0 };
                let mut e = file_entry(FdKind::Memfd, path, flags | 2);
                e.fd.kind = FdKind::Memfd;
                self.install(pid, ret as i32, e);
            }
            PIDFD_OPEN => {
                let flags = O_CLOEXEC | (a(1) as u32 & O_NONBLOCK);
                self.install(
                    pid,
                    ret as i32,
                    anon(FdKind::PidFd, "anon_inode:[pidfd]", flags),
                );
            }
            PIDFD_GETFD => self.install(pid, ret as i32, anon(FdKind::Unknown, "", O_CLOEXEC)),
            USERFAULTFD | PERF_EVENT_OPEN | FANOTIFY_INIT | IO_URING_SETUP => {
                let name = match s.id {
                    USERFAULTFD => "anon_inode:[userfaultfd]",
                    PERF_EVENT_OPEN => "anon_inode:[perf_event]",
                    FANOTIFY_INIT => "anon_inode:[fanotify]",
                    _ => "anon_inode:[io_uring]",
                };
                self.install(pid, ret as i32, anon(FdKind::AnonInode, name, 0));
            }
            CHDIR => {
                if let Some(p) = first_path(s) {
                    self.table.set_cwd(pid, p);
                }
            }
            FCHDIR => {
                if let Some(p) = self.fd(pid, a(0) as i32).map(|e| e.fd.path.clone()) {
                    self.table.set_cwd(pid, p);
                }
            }
            SETPGID => {
                let target = if a(0) == 0 { pid } else { a(0) as i32 };
                let pgid = if a(1) == 0 { target } else { a(1) as i32 };
                if let Some(p) = self.table.process_mut(target) {
                    p.info.pgid = pgid;
                }
            }
            SETSID => {
                if let Some(p) = self.table.process_mut(pid) {
                    p.info.sid = pid;
                    p.info.pgid = pid;
                    p.info.tty = 0;
                }
            }
            SETUID | SETGID | SETREUID | SETREGID | SETRESUID | SETRESGID | SETFSUID | SETFSGID => {
                if let Some(p) = self.table.process_mut(pid) {
                    creds(&mut p.info, s.id, [a(0) as u32, a(1) as u32, a(2) as u32]);
                }
            }
            CAPSET => {
                let caps = s.params.iter().find_map(|p| match &p.value {
                    Value::Bytes { data, .. } if p.index == 1 && data.len() >= 12 => Some(data),
                    _ => None,
                });
                if let (Some(d), Some(p)) = (caps, self.table.process_mut(pid)) {
                    let word = |i: usize| {
                        d.get(i * 4..i * 4 + 4)
                            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64)
                            .unwrap_or(0)
                    };
                    // struct { effective, permitted, inheritable } x 1 or 2.
                    p.info.cap_effective = word(0) | word(3) << 32;
                    p.info.cap_permitted = word(1) | word(4) << 32;
                    p.info.cap_inheritable = word(2) | word(5) << 32;
                }
            }
            PRCTL => {
                const PR_SET_NAME: u64 = 15;
                if a(0) == PR_SET_NAME {
                    let name = params(s).find_map(|v| match v {
                        Value::Str(n) => Some(n.clone()),
                        _ => None,
                    });
                    if let (Some(name), Some(p)) = (name, self.table.process_mut(pid)) {
                        if let Some(t) = p.threads.iter_mut().find(|t| t.tid == tid) {
                            t.comm = name.clone();
                        }
                        if tid == pid {
                            p.info.comm = name;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn install(&mut self, pid: i32, fd: i32, mut e: Entry) {
        if fd < 0 {
            return;
        }
        e.since = self.now;
        if let Some(t) = self.table.fds_to_install(pid) {
            t.insert(fd, e);
        }
    }

    fn close(&mut self, pid: i32, fd: i32, entered: u64) {
        if let Some(t) = self.table.fds_mut(pid) {
            t.close(fd, entered);
        }
    }

    fn dup(&mut self, pid: i32, old: i32, new: i32, cloexec: bool) {
        if new < 0 || old == new {
            return;
        }
        if let Some(t) = self.table.fds_to_install(pid) {
            t.dup(old, new, cloexec, self.now);
        }
    }
}

impl crate::SnapshotSource for State {
    fn snapshot(&self) -> Snapshot {
        State::snapshot(self)
    }
}

/// Credential changes of the set*id family, as the kernel applies them to
/// a successful call (privilege approximated by euid 0).
fn creds(p: &mut Process, id: u16, a: [u32; 3]) {
    use sysno::*;
    let was_root = p.uid == 0 || p.euid == 0 || p.suid == 0;
    let old_euid = p.euid;
    let privileged = old_euid == 0;
    match id {
        SETUID => set_id(uids(p), a[0], privileged),
        SETGID => set_id(gids(p), a[0], privileged),
        SETREUID => set_re(uids(p), a[0], a[1]),
        SETREGID => set_re(gids(p), a[0], a[1]),
        SETRESUID => set_res(uids(p), a),
        SETRESGID => set_res(gids(p), a),
        SETFSUID => set_fs(uids(p), a[0], privileged),
        SETFSGID => set_fs(gids(p), a[0], privileged),
        _ => {}
    }
    // capabilities(7): dropping all root uids clears the permitted and
    // effective sets (without SECBIT_KEEP_CAPS, which is not tracked);
    // dropping euid 0 clears the effective set.
    if was_root && p.uid != 0 && p.euid != 0 && p.suid != 0 {
        p.cap_permitted = 0;
        p.cap_effective = 0;
    } else if old_euid == 0 && p.euid != 0 {
        p.cap_effective = 0;
    }
}

/// One of a process's ids of one kind (uid or gid) being changed.
struct Id<'a>(&'a mut u32);

/// The real, effective, saved and filesystem ids of one kind.
type Ids<'a> = [Id<'a>; 4];

/// `-1`: leave this id as it is (setreuid, setresuid, ...).
const KEEP: u32 = u32::MAX;

fn uids(p: &mut Process) -> Ids<'_> {
    [&mut p.uid, &mut p.euid, &mut p.suid, &mut p.fsuid].map(Id)
}

fn gids(p: &mut Process) -> Ids<'_> {
    [&mut p.gid, &mut p.egid, &mut p.sgid, &mut p.fsgid].map(Id)
}

/// setuid/setgid: all four when privileged, else the effective and fs ids.
fn set_id([r, e, s, fs]: Ids<'_>, v: u32, privileged: bool) {
    if privileged {
        (*r.0, *s.0) = (v, v);
    }
    (*e.0, *fs.0) = (v, v);
}

/// setreuid/setregid: the saved id follows the effective one when the real
/// id is set or the effective one changes to other than the old real id.
fn set_re([r, e, s, fs]: Ids<'_>, real: u32, effective: u32) {
    let old_real = *r.0;
    if real != KEEP {
        *r.0 = real;
    }
    if effective != KEEP {
        *e.0 = effective;
    }
    if real != KEEP || (effective != KEEP && effective != old_real) {
        *s.0 = *e.0;
    }
    *fs.0 = *e.0;
}

/// setresuid/setresgid: each of the three unless `-1`; fs follows effective.
fn set_res([r, e, s, fs]: Ids<'_>, a: [u32; 3]) {
    for (slot, v) in [&mut *r.0, &mut *e.0, &mut *s.0].into_iter().zip(a) {
        if v != KEEP {
            *slot = v;
        }
    }
    *fs.0 = *e.0;
}

/// setfsuid/setfsgid: when privileged or `v` is one of the other three.
fn set_fs([r, e, s, fs]: Ids<'_>, v: u32, privileged: bool) {
    if privileged || [*r.0, *e.0, *s.0].contains(&v) {
        *fs.0 = v;
    }
}

fn arg(s: &SyscallEvent, i: usize) -> u64 {
    s.args.get(i).copied().unwrap_or(0)
}

fn params(s: &SyscallEvent) -> impl Iterator<Item = &Value> {
    s.params.iter().map(|p: &Param| &p.value)
}

/// The resolved (else raw) first path argument.
fn first_path(s: &SyscallEvent) -> Option<Vec<u8>> {
    s.params.iter().find_map(|p| match &p.value {
        Value::Path { raw, resolved } if p.index < 6 => Some(if resolved.is_empty() {
            raw.clone()
        } else {
            resolved.clone()
        }),
        _ => None,
    })
}

fn sockaddr_param(s: &SyscallEvent, index: u8) -> Option<&SockAddr> {
    s.params.iter().find_map(|p| match &p.value {
        Value::SockAddr(a) if p.index == index => Some(a),
        _ => None,
    })
}

fn fd_pair(s: &SyscallEvent) -> Option<(i32, i32)> {
    params(s).find_map(|v| match v {
        Value::FdPair(a, b) => Some((*a, *b)),
        _ => None,
    })
}

fn socket_kind(family: u16) -> FdKind {
    match family {
        AF_INET => FdKind::Ipv4Socket,
        AF_INET6 => FdKind::Ipv6Socket,
        AF_UNIX => FdKind::UnixSocket,
        AF_NETLINK => FdKind::NetlinkSocket,
        _ => FdKind::OtherSocket,
    }
}

/// When a syscall recorded at `ts` entered the kernel (its duration is
/// capped at `u32::MAX` ns, about 4.3 s: a longer call counts as entered
/// that long before it returned).
fn entered(s: &SyscallEvent, ts: u64) -> u64 {
    ts.saturating_sub(u64::from(s.duration_ns))
}

fn file_entry(kind: FdKind, path: Vec<u8>, flags: u32) -> Entry {
    let mut e = Entry::default();
    e.fd.kind = kind;
    e.fd.path = path;
    e.fd.flags = flags;
    e
}

#[cfg(test)]
mod tests;
