//! A sysrec trace written as a `.scap` capture.
//!
//! The state at the start (processes, their fds, users and groups) comes
//! from the first readable chunk's snapshot and metadata; then every event
//! of every readable chunk, in trace order, becomes the driver events that
//! say the same (see the module doc of `scap.rs`). The exporter keeps its
//! own process and fd state ([`State`]) to fill in what the driver's exit
//! events carry and the trace's events do not (a new process's image, a
//! socket's endpoints).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use trace_format::model::{
    Event, EventBody, Fd, FdKind, Process, SignalAction, SyscallEvent, TraceMeta, Value,
    result_index,
};
use trace_format::state::{ClockAnchor, State};
use trace_format::{ReadError, TraceReader, syscalls};

use super::block::{Buf, EV_V2, FDL_V2, MI, PL_V9, SHB, SHB_MAGIC, UL_V2, cut, write_block};
use super::events::{EventBuf, clone_flags, open_flags, ppm_sc, ty, unlinkat_flags};

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output file could not be created or written.
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// No chunk of the trace could be read.
    #[error("no readable chunk in the trace")]
    Empty,
}

/// What an export wrote and what it could not read.
#[derive(Debug, Default)]
pub struct ExportSummary {
    /// Trace events read.
    pub events: u64,
    /// Events written to the capture (a syscall is two).
    pub scap_events: u64,
    /// Trace events with no `.scap` form (markers).
    pub skipped: u64,
    /// Chunks that could not be read (damage), as the reader reported them.
    pub problems: Vec<ReadError>,
}

/// Writes the events of `readers` (in order) to a new `.scap` file at `out`
/// (an existing file there is an error, never replaced).
pub fn export(readers: &[TraceReader], out: &Path) -> Result<ExportSummary, ExportError> {
    let werr = |source| ExportError::Write {
        path: out.to_path_buf(),
        source,
    };
    let mut summary = ExportSummary::default();
    let mut chunks = readers.iter().flat_map(|r| r.chunks());
    let first = loop {
        match chunks.next() {
            Some(Ok(c)) => break c,
            Some(Err(e)) => summary.problems.push(e),
            None => return Err(ExportError::Empty),
        }
    };
    // Never over an existing file: it could be evidence, or one of the
    // traces being read.
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(werr)?;
    let mut w = BufWriter::new(file);
    let meta = first.meta();
    let info = first.info();
    let mut state = State::new(ClockAnchor {
        mono_ns: info.mono_anchor_ns,
        wall_ns: info.wall_anchor_ns,
    });
    let snapshot = first.snapshot();
    write_header(&mut w, &meta, &snapshot.processes).map_err(werr)?;
    for p in snapshot.processes {
        state.seed(p);
    }
    let mut ex = Exporter {
        w: &mut w,
        state,
        last_ts: 0,
        summary: &mut summary,
        pending_exec: None,
    };
    let mut chunk = Some(first);
    loop {
        if let Some(c) = chunk.take() {
            let info = c.info();
            for ev in c.events() {
                let wall = info.wall_ns(ev.ts);
                ex.event(&ev, wall).map_err(werr)?;
            }
        }
        match chunks.next() {
            Some(Ok(c)) => chunk = Some(c),
            Some(Err(e)) => ex.summary.problems.push(e),
            None => break,
        }
    }
    if let Some((tid, pid, f)) = ex.pending_exec.take() {
        let ts = ex.last_ts;
        ex.exec_pair(tid, pid, &f, ts, ts).map_err(werr)?;
    }
    w.flush().map_err(werr)?;
    Ok(summary)
}

/// Section header, machine info, users and groups, processes, fds.
fn write_header(w: &mut impl Write, meta: &TraceMeta, procs: &[Process]) -> io::Result<()> {
    let mut b = Buf::default();
    b.u32(SHB_MAGIC).u16(1).u16(2).u64(u64::MAX);
    write_block(w, SHB, &b.0)?;

    let mut b = Buf::default();
    let mut host = [0u8; 128];
    let h = cut(meta.hostname.as_bytes(), 127);
    host[..h.len()].copy_from_slice(h);
    b.u32(1).u64(0).u64(u64::from(u32::MAX)).bytes(&host);
    b.u64(0).u64(0).u64(0).u64(0);
    write_block(w, MI, &b.0)?;

    let mut b = Buf::default();
    for u in &meta.users {
        let mut e = Buf::default();
        e.u8(0).u32(u.uid).u32(u.gid);
        e.str16(&u.name).str16(&u.home).str16(&u.shell);
        b.u32(4 + e.0.len() as u32).bytes(&e.0);
    }
    for g in &meta.groups {
        let mut e = Buf::default();
        e.u8(1).u32(g.gid).str16(&g.name);
        b.u32(4 + e.0.len() as u32).bytes(&e.0);
    }
    write_block(w, UL_V2, &b.0)?;

    let mut b = Buf::default();
    for p in procs.iter().filter(|p| !p.exited) {
        let tids: Vec<i32> = if p.threads.is_empty() {
            vec![p.pid]
        } else {
            p.threads.iter().map(|t| t.tid).collect()
        };
        for tid in tids {
            let comm = p
                .threads
                .iter()
                .find(|t| t.tid == tid)
                .map_or(&p.comm[..], |t| &t.comm[..]);
            let e = proc_entry(p, tid, comm);
            b.u32(4 + e.len() as u32).bytes(&e);
        }
    }
    write_block(w, PL_V9, &b.0)?;

    for p in procs.iter().filter(|p| !p.exited) {
        let mut b = Buf::default();
        b.u64(p.pid as i64 as u64);
        for fd in &p.fds {
            if let Some(e) = fd_entry(fd) {
                b.u32(4 + e.len() as u32).bytes(&e);
            }
        }
        write_block(w, FDL_V2, &b.0)?;
    }
    Ok(())
}

/// `PPM_CL_CLONE_THREAD | PPM_CL_CLONE_FILES`: how libscap marks a
/// process's other threads in its process list.
const THREAD_FLAGS: u32 = (1 << 13) | 1;

/// One process-list entry (without its leading length).
fn proc_entry(p: &Process, tid: i32, comm: &[u8]) -> Vec<u8> {
    let mut b = Buf::default();
    b.u64(tid as i64 as u64)
        .u64(p.pid as i64 as u64)
        .u64(p.ppid as i64 as u64)
        .u64(p.sid as i64 as u64)
        .u64(p.pgid as i64 as u64);
    b.str16(comm).str16(argv0(p)).str16(&p.exepath);
    b.bytes(&list16(p.argv.iter().skip(1)));
    b.str16(&p.cwd);
    b.u64(1024)
        .u32(if tid == p.pid { 0 } else { THREAD_FLAGS })
        .u32(p.euid)
        .u32(p.egid);
    b.u32(0).u32(0).u32(0).u64(0).u64(0);
    b.bytes(&list16(p.env.iter()));
    let vtid = if tid == p.pid { p.vpid } else { tid };
    b.u64(vtid as i64 as u64).u64(p.vpid as i64 as u64);
    b.u16(0); // cgroups
    b.str16(b"/");
    b.u32(p.loginuid).u8(0);
    b.0
}

fn argv0(p: &Process) -> &[u8] {
    p.argv.first().map_or(&p.comm[..], |a| &a[..])
}

/// NUL-terminated strings after a `u16` length, cut to fit it.
fn list16<'a>(items: impl Iterator<Item = &'a Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        let s = cut(i, usize::from(u16::MAX));
        if out.len() + s.len() + 1 > usize::from(u16::MAX) {
            break;
        }
        out.extend_from_slice(s);
        out.push(0);
    }
    let mut b = Buf::default();
    b.u16(out.len() as u16).bytes(&out);
    b.0
}

/// scap fd types.
mod fdt {
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
}

/// `SCAP_L4_*` of a socket type.
fn l4(sock_type: u16) -> u8 {
    match sock_type & 0xf {
        1 => 2, // SOCK_STREAM: TCP
        2 => 3, // SOCK_DGRAM: UDP
        3 => 5, // SOCK_RAW
        _ => 0,
    }
}

/// One fd-list entry (without its leading length), `None` for fds the
/// list cannot hold.
fn fd_entry(fd: &Fd) -> Option<Vec<u8>> {
    let mut b = Buf::default();
    b.u64(fd.num as i64 as u64).u64(fd.ino);
    let named = |b: &mut Buf, t: u8| {
        b.u8(t).str16(&fd.path);
    };
    match (fd.kind, &fd.socket) {
        (FdKind::Unknown, _) => return None,
        (FdKind::File | FdKind::CharDevice | FdKind::BlockDevice | FdKind::Memfd, _) => {
            b.u8(fdt::FILE_V2)
                .u32(open_flags(u64::from(fd.flags)))
                .str16(&fd.path)
                .u32(fd.dev as u32);
        }
        (FdKind::Directory, _) => named(&mut b, fdt::DIRECTORY),
        (kind @ (FdKind::Ipv4Socket | FdKind::Ipv6Socket), Some(s))
            if s.local_addr.len() == if kind == FdKind::Ipv4Socket { 4 } else { 16 } =>
        {
            let (servsock, sock, n) = if kind == FdKind::Ipv4Socket {
                (fdt::IPV4_SERVSOCK, fdt::IPV4_SOCK, 4)
            } else {
                (fdt::IPV6_SERVSOCK, fdt::IPV6_SOCK, 16)
            };
            if s.listening {
                b.u8(servsock)
                    .bytes(&s.local_addr)
                    .u16(s.local_port)
                    .u8(l4(s.sock_type));
            } else {
                let ((ca, cp), (sa, sp)) = client_server(s);
                b.u8(sock)
                    .bytes(&pad(ca, n))
                    .bytes(&pad(sa, n))
                    .u16(cp)
                    .u16(sp)
                    .u8(l4(s.sock_type));
            }
        }
        (FdKind::UnixSocket, s) => {
            let path = s.as_ref().map_or(&fd.path, |s| &s.path);
            b.u8(fdt::UNIX_SOCK).u64(0).u64(0).str16(path);
        }
        (FdKind::Pipe | FdKind::Fifo, _) => named(&mut b, fdt::FIFO),
        (FdKind::EventFd, _) => named(&mut b, fdt::EVENT),
        (FdKind::SignalFd, _) => named(&mut b, fdt::SIGNALFD),
        (FdKind::Epoll, _) => named(&mut b, fdt::EVENTPOLL),
        (FdKind::Inotify, _) => named(&mut b, fdt::INOTIFY),
        (FdKind::TimerFd, _) => named(&mut b, fdt::TIMERFD),
        (FdKind::NetlinkSocket, _) => named(&mut b, fdt::NETLINK),
        _ => named(&mut b, fdt::UNSUPPORTED),
    }
    Some(b.0)
}

/// A socket end: address bytes and port.
type End<'a> = (&'a [u8], u16);

/// A socket's (client, server) ends: the remote end is the client of an
/// accepted socket, the local end of any other.
fn client_server(s: &trace_format::model::SocketInfo) -> (End<'_>, End<'_>) {
    let local = (&s.local_addr[..], s.local_port);
    let remote = (&s.remote_addr[..], s.remote_port);
    if s.accepted {
        (remote, local)
    } else {
        (local, remote)
    }
}

/// `a` as exactly `n` bytes (zeros when unknown).
fn pad(a: &[u8], n: usize) -> Vec<u8> {
    let mut v = a.to_vec();
    v.resize(n, 0);
    v
}

struct Exporter<'a, W: Write> {
    w: &'a mut W,
    state: State,
    last_ts: u64,
    summary: &'a mut ExportSummary,
    /// A successful exec (tid, pid, filename) waiting for its syscall
    /// event.
    pending_exec: Option<(i32, i32, Vec<u8>)>,
}

impl<W: Write> Exporter<'_, W> {
    fn emit(&mut self, e: &EventBuf) -> io::Result<()> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&e.encode());
        self.summary.scap_events += 1;
        write_block(self.w, EV_V2, &body)
    }

    /// An entry event's time: the exit's less the syscall's duration, never
    /// before the previous event (libsinsp expects time to go forward).
    fn enter_ts(&self, wall: u64, s: &SyscallEvent) -> u64 {
        wall.saturating_sub(u64::from(s.duration_ns))
            .max(self.last_ts)
            .min(wall)
    }

    fn event(&mut self, ev: &Event, wall: u64) -> io::Result<()> {
        self.summary.events += 1;
        let wall = wall.max(self.last_ts);
        self.state.apply(ev);
        match &ev.body {
            EventBody::Syscall(s) => self.syscall(ev, s, wall)?,
            EventBody::ProcessStart(p) => {
                let mut x = EventBuf::new(wall, p.child_tid, ty::CLONE_20_E + 1);
                self.clone_params(&mut x, 0, p.child_tid, p.child_pid, p.clone_flags);
                self.emit(&x)?;
            }
            // Written with the execve syscall event that follows, at its
            // time (as the driver's exit event).
            EventBody::Exec(x) => {
                if let Some((tid, pid, f)) = self.pending_exec.take() {
                    self.exec_pair(tid, pid, &f, wall, wall)?;
                }
                self.pending_exec = Some((ev.tid, ev.pid, x.filename_raw.clone()));
            }
            EventBody::ThreadExit(x) => {
                if let Some((tid, pid, f)) = self.pending_exec.take_if(|p| p.0 == ev.tid) {
                    self.exec_pair(tid, pid, &f, wall, wall)?;
                }
                let mut e = EventBuf::new(wall, ev.tid, ty::PROCEXIT_1_E);
                let st = x.status;
                e.i64(i64::from(st))
                    .i64(i64::from((st >> 8) & 0xff))
                    .u8((st & 0x7f) as u8)
                    .u8(u8::from(st & 0x80 != 0));
                self.emit(&e)?;
            }
            EventBody::Signal(s) => {
                if s.action == SignalAction::Delivered {
                    let mut e = EventBuf::new(wall, ev.tid, ty::SIGNALDELIVER_E);
                    e.i64(i64::from(s.sender_pid))
                        .i64(i64::from(ev.tid))
                        .u8(s.signo as u8);
                    self.emit(&e)?;
                } else {
                    self.summary.skipped += 1;
                }
            }
            EventBody::Marker(_) => self.summary.skipped += 1,
        }
        self.last_ts = wall;
        Ok(())
    }

    /// A successful exec's entry and exit events.
    fn exec_pair(
        &mut self,
        tid: i32,
        pid: i32,
        filename: &[u8],
        ets: u64,
        wall: u64,
    ) -> io::Result<()> {
        let mut e = EventBuf::new(ets, tid, ty::EXECVE_19_E);
        e.str(filename);
        self.emit(&e)?;
        let mut x = EventBuf::new(wall, tid, ty::EXECVE_19_E + 1);
        self.exec_params(&mut x, 0, tid, pid);
        self.emit(&x)
    }

    /// The 20 parameters of a `clone` exit.
    fn clone_params(&self, e: &mut EventBuf, res: i64, tid: i32, pid: i32, flags: u64) {
        let p = self.state.table().process(pid).map(|p| &p.info);
        let d = Process::default();
        let p = p.unwrap_or(&d);
        let comm = self
            .state
            .table()
            .process(pid)
            .and_then(|pr| pr.threads.iter().find(|t| t.tid == tid))
            .map_or(&p.comm[..], |t| &t.comm[..]);
        let cwd = self.state.cwd(pid).unwrap_or(&p.cwd);
        e.i64(res)
            .str(argv0(p))
            .strs(p.argv.iter().skip(1).map(|a| &a[..]))
            .i64(i64::from(tid))
            .i64(i64::from(pid))
            .i64(i64::from(p.ppid))
            .str(cwd)
            .i64(1024)
            .u64(0)
            .u64(0)
            .u32(0)
            .u32(0)
            .u32(0)
            .str(comm)
            .raw(&[])
            .u32(clone_flags(flags))
            .u32(p.euid)
            .u32(p.egid)
            .i64(i64::from(if tid == pid { p.vpid } else { tid }))
            .i64(i64::from(p.vpid));
    }

    /// The 20 parameters of an `execve` exit.
    fn exec_params(&self, e: &mut EventBuf, res: i64, tid: i32, pid: i32) {
        let p = self.state.table().process(pid).map(|p| &p.info);
        let d = Process::default();
        let p = p.unwrap_or(&d);
        let cwd = self.state.cwd(pid).unwrap_or(&p.cwd);
        e.i64(res)
            .str(argv0(p))
            .strs(p.argv.iter().skip(1).map(|a| &a[..]))
            .i64(i64::from(tid))
            .i64(i64::from(pid))
            .i64(i64::from(p.ppid))
            .str(cwd)
            .u64(1024)
            .u64(0)
            .u64(0)
            .u32(0)
            .u32(0)
            .u32(0)
            .str(&p.comm)
            .raw(&[])
            .strs(p.env.iter().map(|a| &a[..]))
            .i32(p.tty as i32)
            .i64(i64::from(p.pgid))
            .i32(p.loginuid as i32)
            .u32(0);
    }

    fn syscall(&mut self, ev: &Event, s: &SyscallEvent, wall: u64) -> io::Result<()> {
        let name = syscalls::name(s.id).unwrap_or("");
        let ets = self.enter_ts(wall, s);
        let tid = ev.tid;
        let res = s.ret;
        let a = |i: usize| s.args.get(i).copied().unwrap_or(0);
        let fd = |i: usize| i64::from(a(i) as u32 as i32);
        let path = |i: u8| -> Vec<u8> {
            match param(s, i) {
                Some(Value::Path { raw, .. }) => raw.clone(),
                Some(Value::Str(v)) => v.clone(),
                _ => Vec::new(),
            }
        };
        let data = |i: u8| -> Vec<u8> {
            match param(s, i) {
                Some(Value::Bytes { data, .. }) => data.clone(),
                _ => Vec::new(),
            }
        };
        let en = |t: u16| EventBuf::new(ets, tid, t);
        let xt = |t: u16| EventBuf::new(wall, tid, t + 1);
        let (e, x) = match name {
            "open" => {
                let (mut e, mut x) = (en(ty::OPEN_E), xt(ty::OPEN_E));
                let (n, f, m) = (path(0), open_flags(a(1)), a(2) as u32);
                e.str(&n).u32(f).u32(m);
                x.i64(res).str(&n).u32(f).u32(m).u32(self.dev(ev.pid, res));
                (e, x)
            }
            "openat" => {
                let (mut e, mut x) = (en(ty::OPENAT_2_E), xt(ty::OPENAT_2_E));
                let (d, n, f, m) = (fd(0), path(1), open_flags(a(2)), a(3) as u32);
                e.i64(d).str(&n).u32(f).u32(m);
                x.i64(res)
                    .i64(d)
                    .str(&n)
                    .u32(f)
                    .u32(m)
                    .u32(self.dev(ev.pid, res));
                (e, x)
            }
            "openat2" => {
                let (mut e, mut x) = (en(ty::OPENAT2_E), xt(ty::OPENAT2_E));
                let (f, m, r) = match param(s, 2) {
                    Some(Value::OpenHow {
                        flags,
                        mode,
                        resolve,
                    }) => (open_flags(*flags), *mode as u32, *resolve as u32),
                    _ => (0, 0, 0),
                };
                let (d, n) = (fd(0), path(1));
                e.i64(d).str(&n).u32(f).u32(m).u32(r);
                x.i64(res).i64(d).str(&n).u32(f).u32(m).u32(r);
                (e, x)
            }
            "creat" => {
                let (mut e, mut x) = (en(ty::CREAT_E), xt(ty::CREAT_E));
                let (n, m) = (path(0), a(1) as u32);
                e.str(&n).u32(m);
                x.i64(res).str(&n).u32(m).u32(self.dev(ev.pid, res));
                (e, x)
            }
            "close" => {
                let (mut e, mut x) = (en(ty::CLOSE_E), xt(ty::CLOSE_E));
                e.i64(fd(0));
                x.i64(res);
                (e, x)
            }
            "read" | "write" | "pread64" | "pwrite64" => {
                let t = if name.contains("read") {
                    ty::READ_E
                } else {
                    ty::WRITE_E
                };
                if name.starts_with('p') {
                    return self.generic(ev, s, wall);
                }
                let (mut e, mut x) = (en(t), xt(t));
                e.i64(fd(0)).u32(a(2) as u32);
                let buf = if t == ty::READ_E {
                    data(result_index::BUFFER_OUT)
                } else {
                    data(1)
                };
                x.i64(res).raw(&buf);
                (e, x)
            }
            "socket" => {
                let (mut e, mut x) = (en(ty::SOCKET_E), xt(ty::SOCKET_E));
                e.u32(a(0) as u32).u32(a(1) as u32).u32(a(2) as u32);
                x.i64(res);
                (e, x)
            }
            "bind" => {
                let (mut e, mut x) = (en(ty::BIND_E), xt(ty::BIND_E));
                e.i64(fd(0));
                x.i64(res).raw(&sockaddr(param(s, 1)));
                (e, x)
            }
            "connect" => {
                let (mut e, mut x) = (en(ty::CONNECT_E), xt(ty::CONNECT_E));
                e.i64(fd(0)).raw(&sockaddr(param(s, 1)));
                x.i64(res).raw(&self.tuple(ev.pid, fd(0) as i32));
                (e, x)
            }
            "listen" => {
                let (mut e, mut x) = (en(ty::LISTEN_E), xt(ty::LISTEN_E));
                e.i64(fd(0)).u32(a(1) as u32);
                x.i64(res);
                (e, x)
            }
            "accept" | "accept4" => {
                let t = if name == "accept" {
                    ty::ACCEPT_5_E
                } else {
                    ty::ACCEPT4_5_E
                };
                let (mut e, mut x) = (en(t), xt(t));
                if t == ty::ACCEPT4_5_E {
                    e.i32(a(3) as i32);
                }
                x.i64(res)
                    .raw(&self.tuple(ev.pid, res as i32))
                    .u8(0)
                    .u32(0)
                    .u32(0);
                (e, x)
            }
            "sendto" => {
                let (mut e, mut x) = (en(ty::SENDTO_E), xt(ty::SENDTO_E));
                e.i64(fd(0))
                    .u32(a(2) as u32)
                    .raw(&self.tuple(ev.pid, fd(0) as i32));
                x.i64(res).raw(&data(1));
                (e, x)
            }
            "recvfrom" => {
                let (mut e, mut x) = (en(ty::RECVFROM_E), xt(ty::RECVFROM_E));
                e.i64(fd(0)).u32(a(2) as u32);
                x.i64(res)
                    .raw(&data(result_index::BUFFER_OUT))
                    .raw(&self.tuple(ev.pid, fd(0) as i32));
                (e, x)
            }
            "socketpair" | "pipe" | "pipe2" => {
                let (f1, f2) = match param(s, result_index::FD_PAIR) {
                    Some(Value::FdPair(a, b)) => (i64::from(*a), i64::from(*b)),
                    _ => (-1, -1),
                };
                if name == "socketpair" {
                    let (mut e, mut x) = (en(ty::SOCKETPAIR_E), xt(ty::SOCKETPAIR_E));
                    e.u32(a(0) as u32).u32(a(1) as u32).u32(a(2) as u32);
                    x.i64(res).i64(f1).i64(f2).u64(0).u64(0);
                    (e, x)
                } else {
                    let (e, mut x) = (en(ty::PIPE_E), xt(ty::PIPE_E));
                    let ino = self.state.fd(ev.pid, f1 as i32).map_or(0, |en| en.fd.ino);
                    x.i64(res).i64(f1).i64(f2).u64(ino);
                    (e, x)
                }
            }
            "chdir" => {
                let (e, mut x) = (en(ty::CHDIR_E), xt(ty::CHDIR_E));
                x.i64(res).str(&path(0));
                (e, x)
            }
            "fchdir" => {
                let (mut e, mut x) = (en(ty::FCHDIR_E), xt(ty::FCHDIR_E));
                e.i64(fd(0));
                x.i64(res);
                (e, x)
            }
            "dup" | "dup2" | "dup3" => {
                let (mut e, mut x) = (en(ty::DUP_E), xt(ty::DUP_E));
                e.i64(fd(0));
                x.i64(res);
                (e, x)
            }
            "fcntl" => {
                let (mut e, mut x) = (en(ty::FCNTL_E), xt(ty::FCNTL_E));
                let cmd = match a(1) {
                    0 => 1,     // F_DUPFD
                    1030 => 26, // F_DUPFD_CLOEXEC
                    _ => 0,
                };
                e.i64(fd(0)).u8(cmd);
                x.i64(res);
                (e, x)
            }
            "kill" | "tkill" => {
                let t = if name == "kill" {
                    ty::KILL_E
                } else {
                    ty::TKILL_E
                };
                let (mut e, mut x) = (en(t), xt(t));
                e.i64(fd(0)).u8(a(1) as u8);
                x.i64(res);
                (e, x)
            }
            "tgkill" => {
                let (mut e, mut x) = (en(ty::TGKILL_E), xt(ty::TGKILL_E));
                e.i64(fd(0)).i64(fd(1)).u8(a(2) as u8);
                x.i64(res);
                (e, x)
            }
            "rename" => {
                let (e, mut x) = (en(ty::RENAME_E), xt(ty::RENAME_E));
                x.i64(res).str(&path(0)).str(&path(1));
                (e, x)
            }
            "renameat" | "renameat2" => {
                let t = if name == "renameat" {
                    ty::RENAMEAT_E
                } else {
                    ty::RENAMEAT2_E
                };
                let (e, mut x) = (en(t), xt(t));
                x.i64(res).i64(fd(0)).str(&path(1)).i64(fd(2)).str(&path(3));
                if t == ty::RENAMEAT2_E {
                    x.u32(a(4) as u32);
                }
                (e, x)
            }
            "mkdir" => {
                let (mut e, mut x) = (en(ty::MKDIR_2_E), xt(ty::MKDIR_2_E));
                e.u32(a(1) as u32);
                x.i64(res).str(&path(0));
                (e, x)
            }
            "mkdirat" => {
                let (e, mut x) = (en(ty::MKDIRAT_E), xt(ty::MKDIRAT_E));
                x.i64(res).i64(fd(0)).str(&path(1)).u32(a(2) as u32);
                (e, x)
            }
            "rmdir" | "unlink" => {
                let t = if name == "rmdir" {
                    ty::RMDIR_2_E
                } else {
                    ty::UNLINK_2_E
                };
                let (e, mut x) = (en(t), xt(t));
                x.i64(res).str(&path(0));
                (e, x)
            }
            "unlinkat" => {
                let (e, mut x) = (en(ty::UNLINKAT_2_E), xt(ty::UNLINKAT_2_E));
                x.i64(res)
                    .i64(fd(0))
                    .str(&path(1))
                    .u32(unlinkat_flags(a(2)));
                (e, x)
            }
            "chmod" => {
                let (e, mut x) = (en(ty::CHMOD_E), xt(ty::CHMOD_E));
                x.i64(res).str(&path(0)).u32(a(1) as u32);
                (e, x)
            }
            "fchmodat" => {
                let (e, mut x) = (en(ty::FCHMODAT_E), xt(ty::FCHMODAT_E));
                x.i64(res).i64(fd(0)).str(&path(1)).u32(a(2) as u32);
                (e, x)
            }
            "setuid" | "setgid" => {
                let t = if name == "setuid" {
                    ty::SETUID_E
                } else {
                    ty::SETGID_E
                };
                let (mut e, mut x) = (en(t), xt(t));
                e.u32(a(0) as u32);
                x.i64(res);
                (e, x)
            }
            "setresuid" | "setresgid" => {
                let t = if name == "setresuid" {
                    ty::SETRESUID_E
                } else {
                    ty::SETRESGID_E
                };
                let (mut e, mut x) = (en(t), xt(t));
                e.u32(a(0) as u32).u32(a(1) as u32).u32(a(2) as u32);
                x.i64(res);
                (e, x)
            }
            "clone" | "fork" | "vfork" | "clone3" => {
                let t = match name {
                    "clone" => ty::CLONE_20_E,
                    "fork" => ty::FORK_20_E,
                    "vfork" => ty::VFORK_20_E,
                    _ => ty::CLONE3_E,
                };
                let flags = match (name, param(s, 0)) {
                    ("clone", _) => a(0),
                    ("vfork", _) => 0x4100,
                    (_, Some(Value::CloneArgs(c))) => c.flags,
                    _ => 0,
                };
                let e = en(t);
                let mut x = xt(t);
                self.clone_params(&mut x, res, tid, ev.pid, flags);
                (e, x)
            }
            "execve" | "execveat" => {
                if res == 0 {
                    let f = match self.pending_exec.take() {
                        Some((_, _, f)) => f,
                        None => path(if name == "execve" { 0 } else { 1 }),
                    };
                    return self.exec_pair(tid, ev.pid, &f, ets, wall);
                }
                let mut e = en(ty::EXECVE_19_E);
                e.str(&path(if name == "execve" { 0 } else { 1 }));
                let mut x = xt(ty::EXECVE_19_E);
                self.exec_params(&mut x, res, tid, ev.pid);
                (e, x)
            }
            _ => return self.generic(ev, s, wall),
        };
        self.emit(&e)?;
        self.emit(&x)
    }

    fn generic(&mut self, ev: &Event, s: &SyscallEvent, wall: u64) -> io::Result<()> {
        let sc = ppm_sc(syscalls::name(s.id).unwrap_or(""));
        let mut e = EventBuf::new(self.enter_ts(wall, s), ev.tid, ty::GENERIC_E);
        e.u16(sc).u16(s.id);
        self.emit(&e)?;
        let mut x = EventBuf::new(wall, ev.tid, ty::GENERIC_E + 1);
        x.u16(sc);
        self.emit(&x)
    }

    /// The device number of a file fd just opened (0 when unknown).
    fn dev(&self, pid: i32, fd: i64) -> u32 {
        i32::try_from(fd)
            .ok()
            .and_then(|fd| self.state.fd(pid, fd))
            .map_or(0, |e| e.fd.dev as u32)
    }

    /// A `PT_SOCKTUPLE` of an fd as the state knows it (client first), or
    /// empty.
    fn tuple(&self, pid: i32, fd: i32) -> Vec<u8> {
        let Some(entry) = self.state.fd(pid, fd) else {
            return Vec::new();
        };
        let Some(s) = &entry.fd.socket else {
            return Vec::new();
        };
        let mut b = Buf::default();
        match entry.fd.kind {
            FdKind::Ipv4Socket | FdKind::Ipv6Socket => {
                let n = if entry.fd.kind == FdKind::Ipv4Socket {
                    4
                } else {
                    16
                };
                let ((ca, cp), (sa, sp)) = client_server(s);
                b.u8(if n == 4 { 2 } else { 10 })
                    .bytes(&pad(ca, n))
                    .u16(cp)
                    .bytes(&pad(sa, n))
                    .u16(sp);
            }
            FdKind::UnixSocket => {
                b.u8(1).u64(0).u64(0).bytes(cut(&s.path, 4096)).u8(0);
            }
            _ => return Vec::new(),
        }
        b.0
    }
}

fn param(s: &SyscallEvent, i: u8) -> Option<&Value> {
    s.params.iter().find(|p| p.index == i).map(|p| &p.value)
}

/// A `PT_SOCKADDR`: family, then address and port, or a unix path.
fn sockaddr(v: Option<&Value>) -> Vec<u8> {
    let Some(Value::SockAddr(a)) = v else {
        return Vec::new();
    };
    let mut b = Buf::default();
    match a.family {
        2 => {
            b.u8(2).bytes(&pad(&a.addr, 4)).u16(a.port);
        }
        10 => {
            b.u8(10).bytes(&pad(&a.addr, 16)).u16(a.port);
        }
        1 => {
            b.u8(1).bytes(cut(&a.path, 4096)).u8(0);
        }
        f => {
            b.u8(f as u8);
        }
    }
    b.0
}
