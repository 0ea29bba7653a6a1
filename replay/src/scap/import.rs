//! A `.scap` capture read into sysrec's model and written as a trace, so
//! every replay mode (rules, filters, stats) runs on it unchanged.
//!
//! The header blocks (machine info, users and groups, the process list,
//! the fd lists) become the trace metadata and the first chunk's snapshot.
//! Each syscall's pair of driver events (`_E` at entry, `_X` at exit)
//! becomes one syscall event at its exit, with the arguments and
//! parameters the entry and exit carry, in the places sysrec's capture
//! puts them (the reverse of `export.rs`). A child's `clone` exit becomes a
//! process start, a successful `execve` an exec followed by its syscall,
//! `procexit` a thread exit, `signaldeliver` a delivered signal. Event
//! types with no sysrec meaning (scheduler switches, page faults, plugin
//! events) and types this reader does not decode are counted and skipped.
//!
//! **Invariant:** a damaged block costs that block (an event) or the rest
//! of the capture (a broken frame), reported in [`ImportSummary::problems`];
//! what was read before it is kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use trace_format::model::Snapshot;
use trace_format::model::{
    Event, EventBody, Exec, Fd, FdKind, Group, Param, Process, ProcessStart, SignalEvent, SockAddr,
    SyscallEvent, Thread, ThreadExit, TraceMeta, User, Value, result_index,
};
use trace_format::state::{ClockAnchor, State};
use trace_format::{TraceWriter, WriteError, WriterOptions, syscalls};

use super::block::{EV_V2, FDL_V2, MI, PL_V9, SHB, SHB_MAGIC, UL_V2};
use super::events::{ppm_sc_name, ty};
use super::read::{BlockError, Blocks, Cur};

/// Block types besides the ones the exporter writes.
mod bt {
    pub const PL_V1: u32 = 0x202;
    pub const FDL: u32 = 0x203;
    pub const EV: u32 = 0x204;
    pub const UL: u32 = 0x206;
    pub const PL_V2: u32 = 0x207;
    pub const EVF: u32 = 0x208;
    pub const PL_V3: u32 = 0x209;
    pub const PL_V4: u32 = 0x210;
    pub const PL_V5: u32 = 0x211;
    pub const PL_V6: u32 = 0x212;
    pub const PL_V7: u32 = 0x213;
    pub const PL_V8: u32 = 0x214;
    pub const EVF_V2: u32 = 0x217;
    pub const EV_V2_LARGE: u32 = 0x221;
    pub const EVF_V2_LARGE: u32 = 0x222;
}

/// Why a capture could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a .scap capture: {reason}", path.display())]
    NotScap { path: PathBuf, reason: String },
    #[error("`{}`: the capture's first block is unreadable", path.display())]
    Header {
        path: PathBuf,
        #[source]
        source: BlockError,
    },
    #[error("cannot write the converted trace")]
    Write(#[source] WriteError),
}

/// What an import read, skipped and could not read.
#[derive(Debug, Default)]
pub struct ImportSummary {
    /// Driver events read.
    pub scap_events: u64,
    /// Trace events written.
    pub events: u64,
    /// Driver events with no sysrec form, or of a type not decoded.
    pub skipped: u64,
    /// Damaged blocks, as text (offset and reason).
    pub problems: Vec<String>,
}

/// Entry events waiting for their exit: at most this many, and this many
/// bytes of parameters.
const MAX_PENDING: usize = 1 << 16;
const MAX_PENDING_BYTES: usize = 256 << 20;

/// Threads whose process is remembered.
const MAX_THREADS: usize = 1 << 20;

/// Events per chunk of the converted trace.
const BATCH: usize = 4096;

/// Reads the capture at `path` and writes it as a sysrec trace at `out`.
pub fn import(path: &Path, out: &Path) -> Result<ImportSummary, ImportError> {
    let mut blocks = Blocks::open(path).map_err(|source| ImportError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let not_scap = |reason: &str| ImportError::NotScap {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let shb = match blocks.next_block() {
        None => return Err(not_scap("empty file")),
        Some(Err(source)) => {
            return Err(ImportError::Header {
                path: path.to_path_buf(),
                source,
            });
        }
        Some(Ok(b)) => b,
    };
    if shb.ty != SHB {
        return Err(not_scap("no section header block"));
    }
    if Cur::new(&shb.body).u32() != Some(SHB_MAGIC) {
        return Err(not_scap("byte-order magic is not little endian's"));
    }
    let mut im = Importer::default();
    let mut writer: Option<TraceWriter> = None;
    let mut state: Option<State> = None;
    let mut batch: Vec<Event> = Vec::new();
    // The state before the batch's first event (its chunk's snapshot).
    let mut snap = Snapshot::default();
    while let Some(b) = blocks.next_block() {
        let b = match b {
            Ok(b) => b,
            Err(e) => {
                im.summary.problems.push(e.to_string());
                break;
            }
        };
        let parsed = match b.ty {
            MI => im.machine(&b.body),
            UL_V2 => im.users(&b.body, true),
            bt::UL => im.users(&b.body, false),
            PL_V9
            | bt::PL_V1
            | bt::PL_V2
            | bt::PL_V3
            | bt::PL_V4
            | bt::PL_V5
            | bt::PL_V6
            | bt::PL_V7
            | bt::PL_V8 => im.procs(&b.body, b.ty),
            FDL_V2 => im.fds(&b.body, true),
            bt::FDL => im.fds(&b.body, false),
            bt::EV | bt::EVF | EV_V2 | bt::EVF_V2 | bt::EV_V2_LARGE | bt::EVF_V2_LARGE => {
                im.summary.scap_events += 1;
                match parse_event(&b.body, b.ty) {
                    Some(ev) => {
                        let st = state.get_or_insert_with(|| im.initial_state(ev.ts));
                        if batch.is_empty() {
                            snap = st.snapshot();
                        }
                        // Each event is converted against the state of
                        // the events before it, then applied.
                        let before = batch.len();
                        im.event(&ev, st, &mut batch);
                        for e in &batch[before..] {
                            st.apply(e);
                        }
                        Some(())
                    }
                    None => None,
                }
            }
            _ => Some(()),
        };
        if parsed.is_none() {
            im.summary.problems.push(format!(
                "damaged block at offset {}: block type {:#x} does not parse",
                b.offset, b.ty
            ));
        }
        if batch.len() >= BATCH {
            im.flush(out, &mut writer, &snap, &mut batch)?;
        }
    }
    let st = state.get_or_insert_with(|| im.initial_state(0));
    im.flush(out, &mut writer, &snap, &mut batch)?;
    if writer.is_none() {
        // No event at all: a trace of the snapshot alone.
        let mut w = im.create(out)?;
        let ts = st.snapshot();
        w.push_chunk(&ts, (0, 0), &[marker()])
            .map_err(ImportError::Write)?;
        writer = Some(w);
    }
    if let Some(w) = writer {
        w.finish().map_err(ImportError::Write)?;
    }
    Ok(im.summary)
}

/// The capture-start marker of a capture with no event.
fn marker() -> Event {
    Event {
        ts: 0,
        tid: 0,
        pid: 0,
        body: EventBody::Marker(trace_format::model::Marker::default()),
    }
}

/// One decoded driver event.
struct ScapEvent<'a> {
    ts: u64,
    tid: i64,
    ty: u16,
    params: Vec<&'a [u8]>,
}

/// An event block's body as an event: `u16 cpu`, flags for the `EVF`
/// blocks, then the event (version 1 headers have no parameter count: it
/// is the only one that makes the lengths add up to the event's length).
fn parse_event(body: &[u8], bty: u32) -> Option<ScapEvent<'_>> {
    let mut c = Cur::new(body);
    c.u16()?;
    if matches!(bty, bt::EVF | bt::EVF_V2 | bt::EVF_V2_LARGE) {
        c.u32()?;
    }
    let start = c.b;
    let ts = c.u64()?;
    let tid = c.u64()? as i64;
    let len = c.u32()? as usize;
    let ety = c.u16()?;
    let ev = start.get(..len)?;
    let v1 = matches!(bty, bt::EV | bt::EVF);
    let large = matches!(bty, bt::EV_V2_LARGE | bt::EVF_V2_LARGE);
    let hdr = if v1 { 22 } else { 26 };
    let lsize = if large { 4 } else { 2 };
    let mut lens = Cur::new(ev.get(hdr..)?);
    let n = if v1 {
        // f(n) = hdr + 2n + sum of the first n lengths grows strictly with
        // n, so at most one n fits.
        let mut n = 0usize;
        let mut total = hdr;
        let mut probe = Cur::new(ev.get(hdr..)?);
        loop {
            if total == len {
                break n;
            }
            let l = usize::from(probe.u16()?);
            total = total.checked_add(2 + l)?;
            n += 1;
            if total > len {
                return None;
            }
        }
    } else {
        c.u32()? as usize
    };
    if n > 64 {
        return None;
    }
    let mut sizes = Vec::with_capacity(n);
    for _ in 0..n {
        sizes.push(if large {
            lens.u32()? as usize
        } else {
            usize::from(lens.u16()?)
        });
    }
    let mut data = Cur::new(ev.get(hdr + lsize * n..)?);
    let mut params = Vec::with_capacity(n);
    for s in sizes {
        params.push(data.take(s)?);
    }
    Some(ScapEvent {
        ts,
        tid,
        ty: ety,
        params,
    })
}

#[derive(Default)]
struct Importer {
    meta: TraceMeta,
    procs: Vec<Process>,
    /// Thread id to process id.
    pids: HashMap<i64, i32>,
    /// Entry events waiting for their exit, by thread: type, time, params.
    pending: HashMap<i64, (u16, u64, Vec<Vec<u8>>)>,
    /// Bytes of parameters held in `pending`.
    pending_bytes: usize,
    summary: ImportSummary,
    first_ts: u64,
}

fn i64p(p: &[u8]) -> i64 {
    let mut c = Cur::new(p);
    match p.len() {
        8 => c.u64().map_or(0, |v| v as i64),
        4 => c.u32().map_or(0, |v| i64::from(v as i32)),
        2 => c.u16().map_or(0, |v| i64::from(v as i16)),
        1 => i64::from(p[0] as i8),
        _ => 0,
    }
}

/// A string parameter without its NUL.
fn strp(p: &[u8]) -> Vec<u8> {
    super::block::cut(p, p.len()).to_vec()
}

/// A list of NUL-terminated strings.
fn strs(p: &[u8]) -> Vec<Vec<u8>> {
    p.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The driver's `PPM_O_*` as Linux open flags.
fn linux_open_flags(f: u32) -> u64 {
    let mut r = match f & 3 {
        2 => 1,
        3 => 2,
        _ => 0,
    };
    const MAP: &[(u32, u64)] = &[
        (1 << 2, 0o100),
        (1 << 3, 0o2000),
        (1 << 4, 0o10000),
        (1 << 5, 0o200),
        (1 << 6, 0o4000),
        (1 << 7, 0o4010000),
        (1 << 8, 0o1000),
        (1 << 9, 0o40000),
        (1 << 10, 0o200000),
        (1 << 11, 0o100000),
        (1 << 12, 0o2000000),
        (1 << 13, 0o20200000),
    ];
    for &(ppm, linux) in MAP {
        if f & ppm != 0 {
            r |= linux;
        }
    }
    r
}

/// The driver's `PPM_CL_*` as Linux clone flags.
fn linux_clone_flags(f: u32) -> u64 {
    const MAP: &[(u32, u64)] = &[
        (1 << 0, 0x400),
        (1 << 1, 0x200),
        (1 << 2, 0x8000_0000),
        (1 << 3, 0x0800_0000),
        (1 << 4, 0x4000_0000),
        (1 << 5, 0x0002_0000),
        (1 << 6, 0x2000_0000),
        (1 << 7, 0x0400_0000),
        (1 << 8, 0x8000),
        (1 << 9, 0x0010_0000),
        (1 << 10, 0x2000),
        (1 << 11, 0x800),
        (1 << 12, 0x0004_0000),
        (1 << 13, 0x0001_0000),
        (1 << 14, 0x0080_0000),
        (1 << 15, 0x100),
        (1 << 20, 0x1000_0000),
        (1 << 23, 0x0020_0000),
        (1 << 24, 0x0100_0000),
        (1 << 25, 0x0008_0000),
        (1 << 27, 0x4000),
        (1 << 28, 0x0200_0000),
    ];
    MAP.iter()
        .filter(|(ppm, _)| f & ppm != 0)
        .fold(0, |r, (_, l)| r | l)
}

/// A `PT_SOCKADDR` as a model address.
fn sockaddr(p: &[u8]) -> Option<SockAddr> {
    let mut c = Cur::new(p);
    let fam = c.u8()?;
    let mut a = SockAddr {
        raw: p.to_vec(),
        ..SockAddr::default()
    };
    match fam {
        2 | 10 => {
            let n = if fam == 2 { 4 } else { 16 };
            a.family = u16::from(fam);
            a.addr = c.take(n)?.to_vec();
            a.port = c.u16()?;
        }
        1 => {
            a.family = 1;
            a.path = strp(c.b);
        }
        f => a.family = u16::from(f),
    }
    Some(a)
}

/// A `PT_SOCKTUPLE`: the client end, then the server end (libscap's
/// order for connect and accept alike); a unix socket's path on both.
fn socktuple(p: &[u8]) -> Option<(SockAddr, SockAddr)> {
    fn end(c: &mut Cur<'_>, fam: u8, n: usize) -> Option<SockAddr> {
        Some(SockAddr {
            family: u16::from(fam),
            addr: c.take(n)?.to_vec(),
            port: c.u16()?,
            ..SockAddr::default()
        })
    }
    let mut c = Cur::new(p);
    let fam = c.u8()?;
    match fam {
        2 | 10 => {
            let n = if fam == 2 { 4 } else { 16 };
            let client = end(&mut c, fam, n)?;
            let server = end(&mut c, fam, n)?;
            Some((client, server))
        }
        1 => {
            // Two kernel pointers, then the path.
            c.take(16)?;
            let a = SockAddr {
                family: 1,
                path: strp(c.b),
                ..SockAddr::default()
            };
            Some((a.clone(), a))
        }
        _ => None,
    }
}

/// The syscall a driver event type stands for (`_E` numbers).
fn syscall_of(t: u16) -> Option<&'static str> {
    Some(match t {
        ty::OPEN_E => "open",
        ty::CLOSE_E => "close",
        ty::READ_E => "read",
        ty::WRITE_E => "write",
        ty::SOCKET_E => "socket",
        ty::BIND_E => "bind",
        ty::CONNECT_E => "connect",
        ty::LISTEN_E => "listen",
        ty::SENDTO_E => "sendto",
        ty::RECVFROM_E => "recvfrom",
        ty::SOCKETPAIR_E => "socketpair",
        ty::CREAT_E => "creat",
        ty::PIPE_E => "pipe",
        ty::CHDIR_E => "chdir",
        ty::FCHDIR_E => "fchdir",
        ty::DUP_E => "dup",
        ty::KILL_E => "kill",
        ty::TKILL_E => "tkill",
        ty::TGKILL_E => "tgkill",
        ty::FCNTL_E => "fcntl",
        ty::RENAME_E => "rename",
        ty::RENAMEAT_E => "renameat",
        ty::SETRESUID_E => "setresuid",
        ty::SETRESGID_E => "setresgid",
        ty::SETUID_E => "setuid",
        ty::SETGID_E => "setgid",
        ty::CLONE_20_E => "clone",
        ty::FORK_20_E => "fork",
        ty::VFORK_20_E => "vfork",
        ty::ACCEPT_5_E => "accept",
        ty::ACCEPT4_5_E => "accept4",
        ty::MKDIR_2_E => "mkdir",
        ty::RMDIR_2_E => "rmdir",
        ty::EXECVE_19_E => "execve",
        // execve's previous version (`EXECVE_18`, same leading exit
        // parameters), as the libs sample captures have it.
        230 => "execve",
        ty::UNLINK_2_E => "unlink",
        ty::UNLINKAT_2_E => "unlinkat",
        ty::MKDIRAT_E => "mkdirat",
        ty::OPENAT_2_E => "openat",
        ty::FCHMODAT_E => "fchmodat",
        ty::CHMOD_E => "chmod",
        ty::RENAMEAT2_E => "renameat2",
        ty::OPENAT2_E => "openat2",
        ty::CLONE3_E => "clone3",
        _ => return None,
    })
}

impl Importer {
    fn machine(&mut self, b: &[u8]) -> Option<()> {
        let mut c = Cur::new(b);
        c.u32()?;
        c.u64()?;
        c.u64()?;
        let host = c.take(128)?;
        self.meta.hostname = String::from_utf8_lossy(strp(host).as_slice()).into_owned();
        Some(())
    }

    fn users(&mut self, b: &[u8], v2: bool) -> Option<()> {
        let mut c = Cur::new(b);
        while c.b.len() >= 4 {
            let mut e = if v2 {
                let n = c.u32()? as usize;
                Cur::new(c.take(n.checked_sub(4)?)?)
            } else {
                Cur::new(c.b)
            };
            let before = e.b.len();
            match e.u8()? {
                0 => {
                    let (uid, gid) = (e.u32()?, e.u32()?);
                    let (name, home, shell) = (e.str16()?, e.str16()?, e.str16()?);
                    self.meta.users.push(User {
                        uid,
                        gid,
                        name: name.to_vec(),
                        home: home.to_vec(),
                        shell: shell.to_vec(),
                    });
                }
                1 => {
                    let gid = e.u32()?;
                    let name = e.str16()?;
                    self.meta.groups.push(Group {
                        gid,
                        name: name.to_vec(),
                    });
                }
                _ => return None,
            }
            if !v2 {
                let used = before - e.b.len();
                c.take(used)?;
            }
        }
        Some(())
    }

    fn procs(&mut self, b: &[u8], bty: u32) -> Option<()> {
        let mut c = Cur::new(b);
        let v = match bty {
            bt::PL_V1 => 1,
            bt::PL_V2 => 2,
            bt::PL_V3 => 3,
            bt::PL_V4 => 4,
            bt::PL_V5 => 5,
            bt::PL_V6 => 6,
            bt::PL_V7 => 7,
            bt::PL_V8 => 8,
            _ => 9,
        };
        while c.b.len() >= 4 {
            // Only version 9 entries carry their length; older entries
            // end where their last field ends.
            let mut e = if v >= 9 {
                let n = c.u32()? as usize;
                Cur::new(c.take(n.checked_sub(4)?)?)
            } else {
                Cur::new(c.b)
            };
            let before = e.b.len();
            let tid = e.u64()? as i64;
            let pid = e.u64()? as i64;
            let ppid = e.u64()? as i64;
            let sid = if v >= 6 { e.u64()? as i64 } else { 0 };
            let pgid = if v >= 8 { e.u64()? as i64 } else { 0 };
            let comm = e.str16()?.to_vec();
            let exe = e.str16()?.to_vec();
            let exepath = if v >= 7 {
                e.str16()?.to_vec()
            } else {
                exe.clone()
            };
            let args = strs(e.str16()?);
            let cwd = e.str16()?.to_vec();
            e.u64()?; // fdlimit
            let flags = e.u32()?;
            let uid = e.u32()?;
            let gid = e.u32()?;
            let mut env = Vec::new();
            let (mut vtid, mut vpid) = (tid, pid);
            if v >= 2 {
                e.take(4 * 3 + 8 * 2)?;
            }
            if v >= 3 {
                env = strs(e.str16()?);
            }
            if v >= 4 {
                vtid = e.u64()? as i64;
                vpid = e.u64()? as i64;
            }
            if v >= 5 {
                e.str16()?; // cgroups
            }
            if v >= 5 {
                e.str16()?; // root
            }
            if v < 9 {
                let used = before - e.b.len();
                c.take(used)?;
            }
            let _ = vtid;
            let (tid32, pid32) = (tid as i32, pid as i32);
            self.thread_of(tid, pid32);
            if let Some(p) = self.procs.iter_mut().find(|p| p.pid == pid32) {
                p.threads.push(Thread { tid: tid32, comm });
                continue;
            }
            // A thread's entry says CLONE_THREAD; the process is its
            // leader's entry, which need not come first.
            let _ = flags;
            let mut argv = vec![exe.clone()];
            argv.extend(args);
            self.procs.push(Process {
                pid: pid32,
                ppid: ppid as i32,
                vpid: vpid as i32,
                pgid: pgid as i32,
                sid: sid as i32,
                threads: vec![Thread {
                    tid: tid32,
                    comm: comm.clone(),
                }],
                comm,
                exe,
                exepath,
                argv,
                cwd,
                env,
                uid,
                euid: uid,
                suid: uid,
                fsuid: uid,
                gid,
                egid: gid,
                sgid: gid,
                fsgid: gid,
                ..Process::default()
            });
        }
        Some(())
    }

    fn fds(&mut self, b: &[u8], v2: bool) -> Option<()> {
        let mut c = Cur::new(b);
        let tid = c.u64()? as i64;
        let pid = self.pids.get(&tid).copied().unwrap_or(tid as i32);
        let mut fds = Vec::new();
        while c.b.len() >= 4 {
            let mut e = if v2 {
                let n = c.u32()? as usize;
                Cur::new(c.take(n.checked_sub(4)?)?)
            } else {
                Cur::new(c.b)
            };
            let before = e.b.len();
            let num = e.u64()? as i64 as i32;
            let ino = e.u64()?;
            let t = e.u8()?;
            let mut fd = Fd {
                num,
                ino,
                ..Fd::default()
            };
            match t {
                1 | 2 | 7 | 9..=15 => {
                    fd.path = e.str16()?.to_vec();
                    fd.kind = match t {
                        1 => FdKind::File,
                        2 => FdKind::Directory,
                        7 => FdKind::Pipe,
                        9 => FdKind::EventFd,
                        11 => FdKind::SignalFd,
                        12 => FdKind::Epoll,
                        13 => FdKind::Inotify,
                        14 => FdKind::TimerFd,
                        15 => FdKind::NetlinkSocket,
                        _ => FdKind::AnonInode,
                    };
                }
                16 => {
                    fd.flags = linux_open_flags(e.u32()?) as u32;
                    fd.path = e.str16()?.to_vec();
                    fd.dev = u64::from(e.u32()?);
                    fd.kind = FdKind::File;
                }
                3 => {
                    e.take(13)?;
                    fd.kind = FdKind::Ipv4Socket;
                }
                4 => {
                    e.take(37)?;
                    fd.kind = FdKind::Ipv6Socket;
                }
                5 => {
                    e.take(7)?;
                    fd.kind = FdKind::Ipv4Socket;
                }
                6 => {
                    e.take(19)?;
                    fd.kind = FdKind::Ipv6Socket;
                }
                8 => {
                    e.take(16)?;
                    fd.path = e.str16()?.to_vec();
                    fd.kind = FdKind::UnixSocket;
                }
                _ => {
                    // Unknown entry: without a length, the rest of the
                    // list cannot be framed.
                    if !v2 {
                        return None;
                    }
                    continue;
                }
            }
            if !v2 {
                let used = before - e.b.len();
                c.take(used)?;
            }
            fds.push(fd);
        }
        if let Some(p) = self.procs.iter_mut().find(|p| p.pid == pid) {
            p.fds = fds;
        }
        Some(())
    }

    fn initial_state(&mut self, ts: u64) -> State {
        self.first_ts = ts;
        self.meta.start_wall_ns = ts;
        let mut st = State::new(ClockAnchor {
            mono_ns: ts,
            wall_ns: ts,
        });
        for p in std::mem::take(&mut self.procs) {
            st.seed(p);
        }
        st
    }

    /// Records that thread `tid` is in process `pid`; past
    /// [`MAX_THREADS`] threads (a forged capture) new ones are not
    /// recorded and read as their own process.
    fn thread_of(&mut self, tid: i64, pid: i32) {
        if self.pids.len() < MAX_THREADS || self.pids.contains_key(&tid) {
            self.pids.insert(tid, pid);
        }
    }

    fn pid_of(&self, tid: i64) -> i32 {
        self.pids.get(&tid).copied().unwrap_or(tid as i32)
    }

    fn event(&mut self, ev: &ScapEvent<'_>, st: &State, out: &mut Vec<Event>) {
        let tid = ev.tid as i32;
        let pid = self.pid_of(ev.tid);
        let p = |i: usize| ev.params.get(i).copied().unwrap_or(&[]);
        let mk = |body| Event {
            ts: ev.ts,
            tid,
            pid,
            body,
        };
        let before = out.len();
        match ev.ty {
            ty::PROCEXIT_1_E => {
                out.push(mk(EventBody::ThreadExit(ThreadExit {
                    status: i64p(p(0)) as i32,
                    process_exit: tid == pid,
                })));
            }
            ty::SIGNALDELIVER_E => {
                out.push(mk(EventBody::Signal(SignalEvent {
                    signo: i32::from(p(2).first().copied().unwrap_or(0)),
                    sender_pid: i64p(p(0)) as i32,
                    ..SignalEvent::default()
                })));
            }
            t if t % 2 == 0 && (t == ty::GENERIC_E || syscall_of(t).is_some()) => {
                let params: Vec<Vec<u8>> = ev.params.iter().map(|s| s.to_vec()).collect();
                // Entries waiting for their exits are bounded: past the
                // limit (threads that never exit, or a forged capture)
                // they are dropped, and those exits read without them.
                if self.pending_bytes > MAX_PENDING_BYTES || self.pending.len() > MAX_PENDING {
                    self.pending.clear();
                    self.pending_bytes = 0;
                }
                self.pending_bytes += params.iter().map(Vec::len).sum::<usize>();
                self.pending.insert(ev.tid, (t, ev.ts, params));
            }
            t if t % 2 == 1 && (t == ty::GENERIC_E + 1 || syscall_of(t - 1).is_some()) => {
                let enter = self.pending.remove(&ev.tid).filter(|e| e.0 == t - 1);
                self.exit(ev, enter, st, out);
            }
            _ => {}
        }
        if out.len() == before {
            self.summary.skipped += 1;
        }
    }

    fn exit(
        &mut self,
        ev: &ScapEvent<'_>,
        enter: Option<(u16, u64, Vec<Vec<u8>>)>,
        st: &State,
        out: &mut Vec<Event>,
    ) {
        let tid = ev.tid as i32;
        let mut pid = self.pid_of(ev.tid);
        let x = |i: usize| ev.params.get(i).copied().unwrap_or(&[]);
        let (ets, eparams) = enter.map_or((ev.ts, Vec::new()), |e| (e.1, e.2));
        let e = |i: usize| eparams.get(i).map_or(&[][..], |v| &v[..]);
        let name = if ev.ty == ty::GENERIC_E + 1 {
            let code = Cur::new(x(0)).u16().unwrap_or(0);
            ppm_sc_name(code).unwrap_or("")
        } else {
            syscall_of(ev.ty - 1).unwrap_or("")
        };
        let Some(sc) = syscalls::by_name(name) else {
            return;
        };
        let generic = ev.ty == ty::GENERIC_E + 1;
        // A generic exit carries no result and neither event the
        // arguments: the result reads 0 and the arguments are left out.
        let res = if generic { 0 } else { i64p(x(0)) };
        let mut s = SyscallEvent {
            id: sc.id,
            args: if generic { Vec::new() } else { vec![0; 6] },
            ret: res,
            duration_ns: u32::try_from(ev.ts.saturating_sub(ets)).unwrap_or(u32::MAX),
            ..SyscallEvent::default()
        };
        let cwd = st.cwd(pid).unwrap_or(b"/").to_vec();
        // The directory a relative path of an `*at` call starts from: its
        // dirfd's path, or the cwd for AT_FDCWD.
        let dir = match name {
            "openat" | "openat2" | "mkdirat" | "unlinkat" | "fchmodat" | "renameat"
            | "renameat2" => {
                let fd = i64p(x(1));
                if fd == -100 {
                    cwd.clone()
                } else {
                    i32::try_from(fd)
                        .ok()
                        .and_then(|fd| st.fd(pid, fd))
                        .map_or_else(|| cwd.clone(), |e| e.fd.path.clone())
                }
            }
            _ => cwd.clone(),
        };
        let path = |raw: Vec<u8>| {
            let resolved = if raw.starts_with(b"/") || raw.is_empty() {
                raw.clone()
            } else {
                let mut r = dir.clone();
                if !r.ends_with(b"/") {
                    r.push(b'/');
                }
                r.extend_from_slice(&raw);
                r
            };
            Value::Path { raw, resolved }
        };
        let put = |s: &mut SyscallEvent, index: u8, value: Value| {
            s.params.push(Param { index, value });
        };
        let arg = |s: &mut SyscallEvent, i: usize, v: i64| {
            if let Some(a) = s.args.get_mut(i) {
                *a = v as u64;
            }
        };
        let bytes = |d: &[u8], len: i64| Value::Bytes {
            data: d.to_vec(),
            len: len.max(0) as u64,
        };
        // A generic event's parameters are its syscall code and id, not
        // the layout of the named syscall's own event: nothing to decode.
        match if generic { "" } else { name } {
            "open" => {
                arg(&mut s, 1, linux_open_flags(i64p(x(2)) as u32) as i64);
                arg(&mut s, 2, i64p(x(3)));
                put(&mut s, 0, path(strp(x(1))));
            }
            "openat" => {
                arg(&mut s, 0, i64p(x(1)));
                arg(&mut s, 2, linux_open_flags(i64p(x(3)) as u32) as i64);
                arg(&mut s, 3, i64p(x(4)));
                put(&mut s, 1, path(strp(x(2))));
            }
            "openat2" => {
                arg(&mut s, 0, i64p(x(1)));
                put(&mut s, 1, path(strp(x(2))));
                put(
                    &mut s,
                    2,
                    Value::OpenHow {
                        flags: linux_open_flags(i64p(x(3)) as u32),
                        mode: i64p(x(4)) as u64,
                        resolve: i64p(x(5)) as u64,
                    },
                );
            }
            "creat" => {
                arg(&mut s, 1, i64p(x(2)));
                put(&mut s, 0, path(strp(x(1))));
            }
            "close" | "fchdir" | "dup" | "bind" | "listen" => {
                arg(&mut s, 0, i64p(e(0)));
                if name == "listen" {
                    arg(&mut s, 1, i64p(e(1)));
                }
                if name == "bind"
                    && let Some(a) = sockaddr(x(1))
                {
                    put(&mut s, 1, Value::SockAddr(a));
                }
            }
            "read" | "recvfrom" => {
                arg(&mut s, 0, i64p(e(0)));
                arg(&mut s, 2, i64p(e(1)));
                put(&mut s, result_index::BUFFER_OUT, bytes(x(1), res));
            }
            "write" | "sendto" => {
                arg(&mut s, 0, i64p(e(0)));
                arg(&mut s, 2, i64p(e(1)));
                put(&mut s, 1, bytes(x(1), res));
            }
            "socket" | "socketpair" | "setresuid" | "setresgid" => {
                for i in 0..3 {
                    arg(&mut s, i, i64p(e(i)));
                }
                if name == "socketpair" {
                    let v = Value::FdPair(i64p(x(1)) as i32, i64p(x(2)) as i32);
                    put(&mut s, result_index::FD_PAIR, v);
                }
            }
            "setuid" | "setgid" => arg(&mut s, 0, i64p(e(0))),
            "connect" => {
                arg(&mut s, 0, i64p(e(0)));
                let tuple = socktuple(x(1));
                // The address from the entry event, else (older event
                // versions have none) the tuple's server end.
                match (sockaddr(e(1)), &tuple) {
                    (Some(a), _) => put(&mut s, 1, Value::SockAddr(a)),
                    (None, Some((_, server))) => put(&mut s, 1, Value::SockAddr(server.clone())),
                    (None, None) => {}
                }
                // The tuple is the socket's ends as the kernel reported
                // them after the call: libsinsp names the fd from it.
                if let Some((client, server)) = tuple {
                    put(&mut s, result_index::SOCKADDR_OUT, Value::SockAddr(server));
                    put(&mut s, result_index::EXTRA, Value::SockAddr(client));
                }
            }
            "accept" | "accept4" => {
                if name == "accept4" {
                    arg(&mut s, 3, i64p(e(0)));
                }
                // The peer is the client end, the local address the server's.
                if let Some((client, server)) = socktuple(x(1)) {
                    put(&mut s, result_index::SOCKADDR_OUT, Value::SockAddr(client));
                    put(&mut s, result_index::EXTRA, Value::SockAddr(server));
                }
            }
            "pipe" => {
                let v = Value::FdPair(i64p(x(1)) as i32, i64p(x(2)) as i32);
                put(&mut s, result_index::FD_PAIR, v);
            }
            "chdir" | "rmdir" | "unlink" => put(&mut s, 0, path(strp(x(1)))),
            "mkdir" => {
                arg(&mut s, 1, i64p(e(0)));
                put(&mut s, 0, path(strp(x(1))));
            }
            "chmod" => {
                arg(&mut s, 1, i64p(x(2)));
                put(&mut s, 0, path(strp(x(1))));
            }
            "mkdirat" | "unlinkat" | "fchmodat" => {
                arg(&mut s, 0, i64p(x(1)));
                arg(&mut s, 2, i64p(x(3)));
                put(&mut s, 1, path(strp(x(2))));
            }
            "fcntl" => {
                arg(&mut s, 0, i64p(e(0)));
                let cmd = match e(1).first() {
                    Some(1) => 0,
                    Some(26) => 1030,
                    _ => 1,
                };
                arg(&mut s, 1, cmd);
            }
            "kill" | "tkill" => {
                arg(&mut s, 0, i64p(e(0)));
                arg(&mut s, 1, i64::from(e(1).first().copied().unwrap_or(0)));
            }
            "tgkill" => {
                arg(&mut s, 0, i64p(e(0)));
                arg(&mut s, 1, i64p(e(1)));
                arg(&mut s, 2, i64::from(e(2).first().copied().unwrap_or(0)));
            }
            "rename" => {
                put(&mut s, 0, path(strp(x(1))));
                put(&mut s, 1, path(strp(x(2))));
            }
            "renameat" | "renameat2" => {
                arg(&mut s, 0, i64p(x(1)));
                arg(&mut s, 2, i64p(x(3)));
                arg(&mut s, 4, i64p(x(5)));
                put(&mut s, 1, path(strp(x(2))));
                put(&mut s, 3, path(strp(x(4))));
            }
            "clone" | "fork" | "vfork" | "clone3" => {
                let flags = linux_clone_flags(i64p(x(15)) as u32);
                if res == 0 {
                    // The child's side: a new thread or process.
                    let child_pid = i64p(x(4)) as i32;
                    let parent = i64p(x(5)) as i32;
                    self.thread_of(ev.tid, child_pid);
                    pid = child_pid;
                    out.push(Event {
                        ts: ev.ts,
                        tid,
                        pid,
                        body: EventBody::ProcessStart(ProcessStart {
                            // A thread's creator is in its own process
                            // (ptid names the process's parent).
                            parent_tid: if flags & 0x0001_0000 != 0 {
                                child_pid
                            } else {
                                parent
                            },
                            child_pid,
                            child_tid: tid,
                            clone_flags: flags,
                        }),
                    });
                    return;
                }
                if name == "clone" {
                    arg(&mut s, 0, flags as i64);
                }
            }
            "execve" => {
                // Without its entry event, the exit's exe names the file.
                let filename = match strp(e(0)) {
                    f if f.is_empty() => strp(x(1)),
                    f => f,
                };
                if res == 0 && st.table().process(pid).is_none() {
                    // A process the capture did not list (it started
                    // before the capture, after the process list was
                    // taken): the exit's ids introduce it, as libsinsp
                    // does.
                    let p = i64p(x(4)) as i32;
                    if p > 0 {
                        pid = p;
                        self.thread_of(ev.tid, pid);
                    }
                    out.push(Event {
                        ts: ev.ts,
                        tid,
                        pid,
                        body: EventBody::ProcessStart(ProcessStart {
                            parent_tid: i64p(x(5)) as i32,
                            child_pid: pid,
                            child_tid: tid,
                            clone_flags: 0,
                        }),
                    });
                }
                if res == 0 {
                    let mut argv = vec![strp(x(1))];
                    argv.extend(strs(x(2)));
                    let parent = i64p(x(5)) as i32;
                    let old = st
                        .table()
                        .process(pid)
                        .or_else(|| st.table().process(parent))
                        .map(|p| p.info.clone());
                    let old = old.unwrap_or_default();
                    let Value::Path { resolved, .. } = path(filename.clone()) else {
                        return;
                    };
                    out.push(Event {
                        ts: ev.ts,
                        tid,
                        pid,
                        body: EventBody::Exec(Exec {
                            old_tid: tid,
                            filename_raw: filename.clone(),
                            filename_resolved: resolved.clone(),
                            argv,
                            env: strs(x(15)),
                            exepath: resolved,
                            comm: strp(x(13)),
                            uid: old.uid,
                            euid: old.euid,
                            gid: old.gid,
                            egid: old.egid,
                            cap_permitted: old.cap_permitted,
                            cap_effective: old.cap_effective,
                            ..Exec::default()
                        }),
                    });
                }
                put(&mut s, 0, path(filename));
                if res == 0 {
                    let mut argv = vec![strp(x(1))];
                    argv.extend(strs(x(2)));
                    let lists = [(1, argv), (2, strs(x(15)))];
                    for (i, items) in lists {
                        let v = Value::StrList {
                            items,
                            truncated: false,
                        };
                        put(&mut s, i, v);
                    }
                }
            }
            _ => {}
        }
        // What the fd argument named, as capture records it beside the
        // call (the listing shows it after the fd).
        if matches!(
            name,
            "close"
                | "read"
                | "write"
                | "fcntl"
                | "fchdir"
                | "dup"
                | "bind"
                | "listen"
                | "connect"
                | "sendto"
                | "recvfrom"
        ) && let Some(fd) = s.args.first().and_then(|a| i32::try_from(*a as i64).ok())
            && let Some(e) = st.fd(pid, fd)
            && !e.fd.path.is_empty()
        {
            put(&mut s, result_index::FD_NAME, Value::Str(e.fd.path.clone()));
        }
        out.push(Event {
            ts: ev.ts,
            tid,
            pid,
            body: EventBody::Syscall(s),
        });
    }

    fn create(&self, out: &Path) -> Result<TraceWriter, ImportError> {
        let mut meta = self.meta.clone();
        meta.arch = "x86_64".into();
        meta.command_line = vec!["scap import".into()];
        TraceWriter::create(out, WriterOptions::default(), meta).map_err(ImportError::Write)
    }

    /// Writes `batch` as a chunk over `snap`, the state before it.
    fn flush(
        &mut self,
        out: &Path,
        writer: &mut Option<TraceWriter>,
        snap: &Snapshot,
        batch: &mut Vec<Event>,
    ) -> Result<(), ImportError> {
        if batch.is_empty() {
            return Ok(());
        }
        if writer.is_none() {
            *writer = Some(self.create(out)?);
        }
        if let Some(w) = writer {
            w.push_chunk(snap, (self.first_ts, self.first_ts), batch)
                .map_err(ImportError::Write)?;
        }
        self.summary.events += batch.len() as u64;
        batch.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scap::events::EventBuf;

    #[test]
    fn scap_v1_event_params_are_found_by_length() {
        // A version 2 event, turned into version 1 by dropping nparams.
        let mut e = EventBuf::new(5, 7, ty::OPEN_E + 1);
        e.i64(3).str(b"/etc/passwd").u32(1).u32(0).u32(0);
        let v2 = e.encode();
        let mut v1 = v2[..22].to_vec();
        v1[16..20].copy_from_slice(&((v2.len() - 4) as u32).to_le_bytes());
        v1.extend_from_slice(&v2[26..]);
        let mut body = vec![0, 0];
        body.extend_from_slice(&v1);
        let ev = parse_event(&body, bt::EV).unwrap();
        assert_eq!(ev.params.len(), 5);
        assert_eq!(ev.params[1], b"/etc/passwd\0");
        let mut body = vec![0, 0];
        body.extend_from_slice(&v2);
        let ev = parse_event(&body, EV_V2).unwrap();
        assert_eq!(ev.params.len(), 5);
        // Any cut: no event, no panic.
        for n in 0..body.len() {
            assert!(parse_event(&body[..n], EV_V2).is_none());
        }
    }

    #[test]
    fn scap_generic_event_naming_a_decoded_syscall_is_generic() {
        // A hostile capture: a generic exit whose code names `open`, whose
        // own event is decoded by argument position.
        let st = State::new(trace_format::state::ClockAnchor::now());
        let mut im = Importer::default();
        let code = 5u16.to_le_bytes();
        let ev = ScapEvent {
            ts: 10,
            tid: 7,
            ty: ty::GENERIC_E + 1,
            params: vec![&code[..], &[2, 0][..]],
        };
        let mut out = Vec::new();
        im.exit(&ev, None, &st, &mut out);
        let Some(Event {
            body: EventBody::Syscall(s),
            ..
        }) = out.first()
        else {
            panic!("no syscall event: {out:?}");
        };
        assert!(s.args.is_empty() && s.params.is_empty(), "{s:?}");
    }

    #[test]
    fn scap_flipped_bytes_never_panic() {
        let sample =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/scap/curl_google.scap");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(sample).unwrap()),
            &mut plain,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.scap");
        let mut seen_damage = 0;
        // Bytes all over the file set to values that break lengths and
        // types; each import ends with a summary or an error.
        for (n, at) in (0..plain.len()).step_by(plain.len() / 60).enumerate() {
            let mut bad = plain.clone();
            bad[at] ^= [0xff, 0x80, 0x01][n % 3];
            std::fs::write(&input, &bad).unwrap();
            let out = dir.path().join(format!("out{n}.zst"));
            match import(&input, &out) {
                Ok(s) => seen_damage += usize::from(!s.problems.is_empty()),
                Err(_) => seen_damage += 1,
            }
        }
        assert!(seen_damage > 0);
    }

    #[test]
    fn scap_flags_reverse_the_exporters() {
        use crate::scap::events::{clone_flags, open_flags};
        for f in [0u64, 1, 2, 0o1101, 0o2000000 | 0o200000] {
            assert_eq!(linux_open_flags(open_flags(f)), f);
        }
        assert_eq!(linux_clone_flags(clone_flags(0x4111 - 0x11)), 0x4100);
    }
}
