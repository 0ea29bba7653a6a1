//! [`EventView`]: one trace event seen through Falco's fields.
//!
//! A view borrows the event, the process/fd state rebuilt up to it, and the
//! trace context; it answers [`FieldSource`] requests by matching on the
//! [`FieldId`], so no name is looked up per event. Text that must be
//! composed (`proc.cmdline`, rendered flags) is written into one scratch
//! buffer reused across events.
//!
//! **Invariant:** a field the trace cannot know (k8s, overlay layers, DNS
//! names, CPU numbers) yields `None`, never an empty or made-up value, so
//! Falco's missing-field semantics apply (comparisons false, `<NA>`).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use trace_format::model::{
    Event, EventBody, Fd, FdKind, Process, SignalEvent, SocketInfo, SyscallEvent, Value,
    result_index,
};
use trace_format::state::State;
use trace_format::state::fd_table::{display_name, fd_display_name};
use trace_format::state::process_table::{Proc, ProcessTable};
use trace_format::syscalls::{self, ArgKind, ArgRef, Syscall, group};

use super::args::{self, Form};
use super::context::TraceContext;
use crate::rules::{FieldArg, FieldId, FieldRef, FieldSource, FieldValue};

/// The fd an event is about (libsinsp's `m_fdinfo`).
#[derive(Clone, Copy, Debug)]
pub enum Focus<'a> {
    /// The event has no fd.
    None,
    /// An fd the state knows.
    Fd(&'a Fd),
    /// An fd the state does not know (opened before the capture started
    /// and not in a snapshot): only its number and the name the tracer
    /// recorded with the event.
    Named { num: i64, name: &'a [u8] },
    /// A failed open: Falco still names the file (`fd.num` = -1).
    FailedOpen { path: &'a [u8], raw: &'a [u8] },
}

/// An address and port.
type Endpoint = (IpAddr, u16);

/// Scratch space reused across events.
#[derive(Debug, Default)]
pub struct Scratch {
    buf: String,
}

/// One event with everything its fields are computed from.
pub struct EventView<'a> {
    pub ctx: &'a TraceContext,
    pub state: &'a State,
    pub ev: &'a Event,
    /// `evt.num` (1-based over the trace).
    pub num: u64,
    /// Wall-clock time of the event (ns since the epoch).
    pub wall_ns: u64,
    /// Wall-clock time of the previous event of the chunk, 0 for the first.
    pub prev_wall_ns: u64,
    /// `evt.type`.
    pub type_name: &'static str,
    /// The syscall, for syscall events the table knows.
    pub syscall: Option<&'static Syscall>,
    focus: Focus<'a>,
    scratch: &'a mut Scratch,
}

impl<'a> EventView<'a> {
    /// A view of `ev` against `state`. For fd fields the view looks the fd
    /// up in `state` now: callers decide whether `state` is before or after
    /// the event (see [`super::driver`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &'a TraceContext,
        state: &'a State,
        ev: &'a Event,
        num: u64,
        wall_ns: u64,
        prev_wall_ns: u64,
        scratch: &'a mut Scratch,
    ) -> EventView<'a> {
        let (type_name, syscall) = event_type(ev);
        let focus = match &ev.body {
            EventBody::Syscall(s) => focus(state, ev.pid, s, syscall),
            _ => Focus::None,
        };
        EventView {
            ctx,
            state,
            ev,
            num,
            wall_ns,
            prev_wall_ns,
            type_name,
            syscall,
            focus,
            scratch,
        }
    }

    /// The fd the event is about.
    pub fn focus(&self) -> Focus<'a> {
        self.focus
    }

    fn syscall_event(&self) -> Option<&'a SyscallEvent> {
        match &self.ev.body {
            EventBody::Syscall(s) => Some(s),
            _ => None,
        }
    }

    fn proc(&self) -> Option<&'a Proc> {
        self.state.table().process(self.ev.pid)
    }

    fn info(&self) -> Option<&'a Process> {
        self.proc().map(|p| &p.info)
    }

    /// The n-th ancestor (1 = parent); `None` past the top of the tree.
    fn ancestor(&self, n: u32) -> Option<&'a Proc> {
        match n {
            0 => self.proc(),
            n => self.ancestors().nth(n as usize - 1),
        }
    }

    /// The process `n` levels up (0 = the process itself).
    fn level(&self, f: &FieldRef, default: u32) -> Option<&'a Proc> {
        match f.arg {
            FieldArg::Index(i) => self.ancestor(i),
            _ => self.ancestor(default),
        }
    }

    fn comm(&self) -> Option<&'a [u8]> {
        let p = self.proc()?;
        Some(
            p.threads
                .iter()
                .find(|t| t.tid == self.ev.tid)
                .map_or(&p.info.comm[..], |t| &t.comm[..]),
        )
    }

    fn text(&mut self, b: &'a [u8]) -> Option<FieldValue<'_>> {
        match std::str::from_utf8(b) {
            Ok(s) => Some(FieldValue::Str(s)),
            Err(_) => {
                self.scratch.buf.clear();
                self.scratch.buf.push_str(&String::from_utf8_lossy(b));
                Some(FieldValue::Str(&self.scratch.buf))
            }
        }
    }

    /// Composes a string field in the scratch buffer.
    fn compose(&mut self, f: impl FnOnce(&mut String, &Self) -> bool) -> Option<FieldValue<'_>> {
        let mut buf = std::mem::take(&mut self.scratch.buf);
        buf.clear();
        let ok = f(&mut buf, self);
        self.scratch.buf = buf;
        ok.then_some(FieldValue::Str(&self.scratch.buf))
    }

    fn focus_fd(&self) -> Option<&'a Fd> {
        match self.focus {
            Focus::Fd(fd) => Some(fd),
            _ => None,
        }
    }

    fn socket(&self) -> Option<(&'a Fd, &'a SocketInfo)> {
        let fd = self.focus_fd()?;
        fd.socket.as_ref().map(|s| (fd, s))
    }

    /// Client and server ends of the focus socket (address, port).
    fn ends(&self) -> Option<(Option<Endpoint>, Option<Endpoint>)> {
        let (fd, s) = self.socket()?;
        if !matches!(fd.kind, FdKind::Ipv4Socket | FdKind::Ipv6Socket) {
            return None;
        }
        let local = ip(&s.local_addr).map(|a| (a, s.local_port));
        let remote = ip(&s.remote_addr).map(|a| (a, s.remote_port));
        Some(if s.listening {
            (None, local)
        } else if s.accepted {
            (remote, local)
        } else {
            (local, remote)
        })
    }

    fn open_flags(&self) -> Option<u64> {
        let s = self.syscall_event()?;
        let sc = self.syscall?;
        if !is_open(sc) {
            return None;
        }
        let (r, _) = sc.param("flags")?;
        match r {
            ArgRef::Arg(i) => Some(args::reg(s, i)),
            ArgRef::Field { arg, .. } => match args::param(s, arg) {
                Some(Value::OpenHow { flags, .. }) => Some(*flags),
                _ => None,
            },
            ArgRef::Ret => None,
        }
        .or(if sc.name == "creat" {
            Some(0o1101)
        } else {
            None
        })
    }

    fn path_param(&self, nth: usize) -> Option<(&'a [u8], &'a [u8])> {
        let s = self.syscall_event()?;
        s.params
            .iter()
            .filter(|p| p.index < 6)
            .filter_map(|p| match &p.value {
                Value::Path { raw, resolved } => Some((&raw[..], &resolved[..])),
                _ => None,
            })
            .nth(nth)
    }

    fn fd_name(&self, buf: &mut String) -> bool {
        match self.focus {
            Focus::None => false,
            Focus::Fd(fd) if fd.socket.is_none() => {
                args::push_text(buf, &fd.path);
                true
            }
            Focus::Fd(fd) => {
                args::push_text(buf, &fd_display_name(fd));
                true
            }
            Focus::Named { name, .. } => {
                args::push_text(buf, name);
                true
            }
            Focus::FailedOpen { path, .. } => {
                args::push_text(buf, path);
                true
            }
        }
    }

    fn fd_path(&self) -> Option<&'a [u8]> {
        match self.focus {
            Focus::Fd(fd) if fd.socket.is_none() => Some(&fd.path),
            Focus::FailedOpen { path, .. } => Some(path),
            _ => None,
        }
    }

    fn fd_kind(&self) -> Option<FdKind> {
        match self.focus {
            Focus::Fd(fd) => Some(fd.kind),
            Focus::FailedOpen { .. } => Some(FdKind::File),
            _ => None,
        }
    }

    fn is_io(&self) -> Option<(bool, bool)> {
        let sc = self.syscall?;
        Some(io_dir(sc.name))
    }

    fn buffer(&self) -> Option<(&'a [u8], u64)> {
        let s = self.syscall_event()?;
        let sc = self.syscall?;
        if let Some(Value::Bytes { data, len }) = args::param(s, result_index::BUFFER_OUT) {
            return Some((data, *len));
        }
        sc.args.iter().enumerate().find_map(|(i, a)| match a.kind {
            ArgKind::BufIn { .. } | ArgKind::IovecIn { .. } => match args::param(s, i as u8) {
                Some(Value::Bytes { data, len }) => Some((&data[..], *len)),
                _ => None,
            },
            _ => None,
        })
    }

    fn evt_arg(&mut self, f: &FieldRef, form: Form) -> Option<FieldValue<'_>> {
        if let EventBody::Signal(sig) = &self.ev.body {
            let pid = self.ev.pid;
            return self.compose(|buf, _| args::render_signal_arg(buf, sig, pid, &f.arg, form));
        }
        let s = self.syscall_event()?;
        let sc = self.syscall?;
        let (r, kind) = match &f.arg {
            FieldArg::Index(0) => (ArgRef::Ret, sc.ret.kind),
            FieldArg::Index(i) => {
                let a = sc.args.get(*i as usize - 1)?;
                (ArgRef::Arg(*i as u8 - 1), a.kind)
            }
            FieldArg::Key(k) => sc.param(k)?,
            FieldArg::None => return None,
        };
        let ctx = self.ctx;
        self.compose(|buf, _| args::render_param(buf, s, r, kind, form, ctx))
    }

    fn time(&mut self, fmt: &'static str) -> Option<FieldValue<'_>> {
        let ns = self.wall_ns;
        self.compose(|buf, _| {
            let t = chrono::DateTime::from_timestamp(
                (ns / 1_000_000_000) as i64,
                (ns % 1_000_000_000) as u32,
            );
            match t {
                Some(t) => write!(buf, "{}", t.format(fmt)).is_ok(),
                None => false,
            }
        })
    }

    /// The ancestors of the event's process, parent first. The iterator
    /// borrows the state, not the view, so the view can be used while
    /// walking.
    fn ancestors(&self) -> Ancestors<'a> {
        Ancestors {
            table: self.state.table(),
            cur: self.proc(),
            depth: 0,
        }
    }

    fn proc_value(&mut self, id: FieldId, p: &'a Proc) -> Option<FieldValue<'_>> {
        match id {
            FieldId::ProcAname => self.text(&p.info.comm),
            FieldId::ProcAexe => self.text(&p.info.exe),
            FieldId::ProcAexepath => self.text(&p.info.exepath),
            FieldId::ProcApid => Some(FieldValue::I64(p.info.pid.into())),
            FieldId::ProcAcmdline => self.compose(|buf, _| {
                cmdline(buf, &p.info.comm, &p.info.argv);
                true
            }),
            _ => None,
        }
    }
}

/// Ancestor walks stop here: a corrupt snapshot may hold a ppid cycle.
const MAX_DEPTH: usize = 256;

/// Walks up the process tree (see [`EventView::ancestors`]).
struct Ancestors<'a> {
    table: &'a ProcessTable,
    cur: Option<&'a Proc>,
    depth: usize,
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a Proc;

    fn next(&mut self) -> Option<&'a Proc> {
        let p = self.cur?;
        self.depth += 1;
        let ppid = p.info.ppid;
        if self.depth > MAX_DEPTH || ppid <= 0 || ppid == p.info.pid {
            self.cur = None;
            return None;
        }
        self.cur = self.table.process(ppid);
        self.cur
    }
}

impl FieldSource for EventView<'_> {
    fn get(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let ev = self.ev;
        let ctx = self.ctx;
        match f.id {
            // --- evt.* ---
            F::EvtNum => Some(V::U64(self.num)),
            F::EvtTime => self.time("%H:%M:%S%.9f"),
            F::EvtTimeS => self.time("%H:%M:%S"),
            F::EvtTimeIso8601 => self.time("%Y-%m-%dT%H:%M:%S%.9fZ"),
            F::EvtDatetime => self.time("%Y-%m-%d %H:%M:%S%.9f"),
            F::EvtDatetimeS => self.time("%Y-%m-%d %H:%M:%S"),
            F::EvtRawtime | F::EvtRawtimeNs => Some(V::U64(self.wall_ns)),
            F::EvtRawtimeS => Some(V::U64(self.wall_ns / 1_000_000_000)),
            F::EvtReltime => Some(V::U64(self.wall_ns.saturating_sub(ctx.start_wall_ns))),
            F::EvtReltimeS => Some(V::U64(
                self.wall_ns.saturating_sub(ctx.start_wall_ns) / 1_000_000_000,
            )),
            F::EvtReltimeNs => Some(V::U64(
                self.wall_ns.saturating_sub(ctx.start_wall_ns) % 1_000_000_000,
            )),
            F::EvtLatency | F::EvtLatencyNs => self
                .syscall_event()
                .map(|s| V::U64(u64::from(s.duration_ns))),
            F::EvtLatencyS => self
                .syscall_event()
                .map(|s| V::U64(u64::from(s.duration_ns) / 1_000_000_000)),
            F::EvtLatencyHuman => {
                let d = self.syscall_event()?.duration_ns;
                self.compose(|buf, _| {
                    if d >= 1_000_000 {
                        write!(buf, "{:.2}ms", f64::from(d) / 1e6).is_ok()
                    } else if d >= 1000 {
                        write!(buf, "{:.2}us", f64::from(d) / 1e3).is_ok()
                    } else {
                        write!(buf, "{d}ns").is_ok()
                    }
                })
            }
            F::EvtDeltatime | F::EvtDeltatimeNs if self.prev_wall_ns > 0 => {
                Some(V::U64(self.wall_ns.saturating_sub(self.prev_wall_ns)))
            }
            F::EvtDeltatimeS if self.prev_wall_ns > 0 => Some(V::U64(
                self.wall_ns.saturating_sub(self.prev_wall_ns) / 1_000_000_000,
            )),
            F::EvtDir => Some(V::Str("<")),
            F::EvtType => Some(V::Str(self.type_name)),
            F::SyscallType => self.syscall.map(|_| V::Str(self.type_name)),
            F::EvtTypeIs => match &f.arg {
                FieldArg::Key(k) => Some(V::U64(u64::from(&**k == self.type_name))),
                _ => None,
            },
            F::EvtCategory => Some(V::Str(category(&ev.body, self.syscall))),
            F::EvtArgs | F::EvtInfo => match &ev.body {
                EventBody::Syscall(s) => {
                    let sc = self.syscall?;
                    self.compose(|buf, _| {
                        args::render_all(buf, sc, s, ctx);
                        true
                    })
                }
                EventBody::Signal(sig) => {
                    let sig: &SignalEvent = sig;
                    self.compose(|buf, _| {
                        signal_args(buf, sig);
                        true
                    })
                }
                EventBody::ThreadExit(x) => {
                    let status = x.status;
                    self.compose(|buf, _| write!(buf, "status={status}").is_ok())
                }
                _ => None,
            },
            F::EvtArg => self.evt_arg(f, Form::Rendered),
            F::EvtRawarg => self.evt_arg(f, Form::Raw),
            F::EvtBuffer => self.buffer().map(|(b, _)| V::Bytes(b)),
            F::EvtBuflen => self.buffer().map(|(_, n)| V::U64(n)),
            F::EvtRes => match &ev.body {
                EventBody::Syscall(s) if s.no_return => None,
                EventBody::Syscall(s) => Some(V::Str(res_name(s.ret))),
                EventBody::ProcessStart(_) => Some(V::Str("SUCCESS")),
                _ => None,
            },
            F::EvtRawres => match &ev.body {
                EventBody::Syscall(s) if !s.no_return => Some(V::I64(s.ret)),
                EventBody::ProcessStart(_) => Some(V::I64(0)),
                _ => None,
            },
            F::EvtFailed => match &ev.body {
                EventBody::Syscall(s) => Some(V::Bool(!s.no_return && s.ret < 0)),
                _ => Some(V::Bool(false)),
            },
            F::EvtIsIo => self.is_io().map(|(r, w)| V::Bool(r || w)),
            F::EvtIsIoRead => self.is_io().map(|(r, _)| V::Bool(r)),
            F::EvtIsIoWrite => self.is_io().map(|(_, w)| V::Bool(w)),
            F::EvtIoDir => match self.is_io()? {
                (true, _) => Some(V::Str("r")),
                (_, true) => Some(V::Str("w")),
                _ => None,
            },
            F::EvtIsWait => Some(V::Bool(false)),
            F::EvtIsSyslog => {
                let w = self.is_io().is_some_and(|(_, w)| w);
                let log = self
                    .fd_path()
                    .is_some_and(|p| p == b"/dev/log" || p.starts_with(b"/dev/log"))
                    || self
                        .socket()
                        .is_some_and(|(_, s)| s.path.starts_with(b"/dev/log"));
                Some(V::Bool(w && log))
            }
            F::EvtCount | F::EvtCountExit => Some(V::U64(1)),
            F::EvtCountError
            | F::EvtCountErrorFile
            | F::EvtCountErrorNet
            | F::EvtCountErrorMemory
            | F::EvtCountErrorOther => {
                let failed = self
                    .syscall_event()
                    .is_some_and(|s| !s.no_return && s.ret < 0);
                let cat = category(&ev.body, self.syscall);
                let counts = match f.id {
                    F::EvtCountError => true,
                    F::EvtCountErrorFile => cat == "file",
                    F::EvtCountErrorNet => cat == "net",
                    F::EvtCountErrorMemory => cat == "memory",
                    _ => !matches!(cat, "file" | "net" | "memory"),
                };
                Some(V::U64(u64::from(failed && counts)))
            }
            F::EvtAbspath | F::EvtAbspathSrc => {
                let (raw, res) = self.path_param(0)?;
                self.text(if res.is_empty() { raw } else { res })
            }
            F::EvtAbspathDst => {
                let (raw, res) = self.path_param(1)?;
                self.text(if res.is_empty() { raw } else { res })
            }
            F::EvtIsOpenRead => {
                let fl = self.open_flags()?;
                Some(V::Bool(fl & 3 != 1))
            }
            F::EvtIsOpenWrite => {
                let fl = self.open_flags()?;
                Some(V::Bool(fl & 3 == 1 || fl & 3 == 2))
            }
            F::EvtIsOpenCreate => {
                let fl = self.open_flags()?;
                Some(V::Bool(fl & 0o100 != 0))
            }
            F::EvtIsOpenExec => self.open_flags().map(|_| V::Bool(false)),
            F::EvtHostname => Some(V::Str(&ctx.hostname)),
            F::EvtSource => Some(V::Str("syscall")),
            F::EvtIsAsync => Some(V::Bool(false)),

            // --- proc.* ---
            F::ProcName => {
                let c = self.comm()?;
                self.text(c)
            }
            F::ProcPname => {
                let p = self.ancestor(1)?;
                self.text(&p.info.comm)
            }
            F::ProcAname | F::ProcAexe | F::ProcAexepath | F::ProcApid | F::ProcAcmdline => {
                let p = self.level(f, 0)?;
                self.proc_value(f.id, p)
            }
            F::ProcExe | F::ProcPexe | F::ProcExepath | F::ProcPexepath => {
                let up = u32::from(matches!(f.id, F::ProcPexe | F::ProcPexepath));
                let p = self.ancestor(up)?;
                let b = if matches!(f.id, F::ProcExe | F::ProcPexe) {
                    &p.info.exe
                } else {
                    &p.info.exepath
                };
                self.text(b)
            }
            F::ProcArgs => {
                let i = self.info()?;
                self.compose(|buf, _| {
                    join_args(buf, i.argv.get(1..).unwrap_or_default());
                    true
                })
            }
            F::ProcCmdline => {
                let comm = self.comm()?;
                let i = self.info()?;
                self.compose(|buf, _| {
                    cmdline(buf, comm, &i.argv);
                    true
                })
            }
            F::ProcPcmdline => {
                let p = self.ancestor(1)?;
                self.compose(|buf, _| {
                    cmdline(buf, &p.info.comm, &p.info.argv);
                    true
                })
            }
            F::ProcExeline => {
                let i = self.info()?;
                self.compose(|buf, _| {
                    cmdline(buf, &i.exe, &i.argv);
                    true
                })
            }
            F::ProcCmdnargs => self
                .info()
                .map(|i| V::U64(i.argv.len().saturating_sub(1) as u64)),
            F::ProcCmdlenargs => self
                .info()
                .map(|i| V::U64(i.argv.iter().skip(1).map(|a| a.len() as u64).sum::<u64>())),
            F::ProcEnv | F::ProcAenv => {
                let key = match &f.arg {
                    FieldArg::Key(k) => Some(k.to_string()),
                    _ => None,
                };
                let mut procs = vec![self.info()?];
                if f.id == F::ProcAenv {
                    procs.extend(self.ancestors().map(|p| &p.info));
                }
                match key {
                    None => {
                        let i = procs[0];
                        self.compose(|buf, _| {
                            join_args(buf, &i.env);
                            true
                        })
                    }
                    Some(k) => {
                        let found = procs.iter().find_map(|p| env_value(&p.env, k.as_bytes()))?;
                        self.text(found)
                    }
                }
            }
            F::ProcCwd => {
                let cwd = self.state.cwd(ev.pid)?;
                self.compose(|buf, _| {
                    args::push_text(buf, cwd);
                    if !buf.ends_with('/') {
                        buf.push('/');
                    }
                    true
                })
            }
            F::ProcLoginshellid => {
                let mut shell = None;
                if let Some(p) = self.proc()
                    && is_shell(&p.info.comm)
                {
                    shell = Some(p.info.pid);
                }
                for p in self.ancestors() {
                    if is_shell(&p.info.comm) {
                        shell = Some(p.info.pid);
                    }
                }
                shell.map(|pid| V::I64(pid.into()))
            }
            F::ProcTty => self.info().map(|i| V::U64(i.tty.into())),
            F::ProcPid => self.info().map(|i| V::I64(i.pid.into())),
            F::ProcPpid => self.info().map(|i| V::I64(i.ppid.into())),
            F::ProcVpid => self.info().map(|i| V::I64(i.vpid.into())),
            F::ProcPvpid => self.ancestor(1).map(|p| V::I64(p.info.vpid.into())),
            F::ProcSid => self.info().map(|i| V::I64(i.sid.into())),
            F::ProcSname | F::ProcSidExe | F::ProcSidExepath => {
                let sid = self.info()?.sid;
                let p = self.state.table().process(sid)?;
                let b = match f.id {
                    F::ProcSname => &p.info.comm,
                    F::ProcSidExe => &p.info.exe,
                    _ => &p.info.exepath,
                };
                self.text(b)
            }
            F::ProcVpgid | F::ProcPgid => self.info().map(|i| V::I64(i.pgid.into())),
            F::ProcVpgidName
            | F::ProcVpgidExe
            | F::ProcVpgidExepath
            | F::ProcPgidName
            | F::ProcPgidExe
            | F::ProcPgidExepath => {
                let pgid = self.info()?.pgid;
                let p = self.state.table().process(pgid)?;
                let b = match f.id {
                    F::ProcVpgidName | F::ProcPgidName => &p.info.comm,
                    F::ProcVpgidExe | F::ProcPgidExe => &p.info.exe,
                    _ => &p.info.exepath,
                };
                self.text(b)
            }
            F::ProcDuration => {
                let start = self.info()?.start_wall_ns;
                (start > 0).then(|| V::U64(self.wall_ns.saturating_sub(start)))
            }
            F::ProcPpidDuration => {
                let start = self.ancestor(1)?.info.start_wall_ns;
                (start > 0).then(|| V::U64(self.wall_ns.saturating_sub(start)))
            }
            F::ProcPidTs => {
                let start = self.info()?.start_wall_ns;
                (start > 0).then_some(V::U64(start))
            }
            F::ProcPpidTs => {
                let start = self.ancestor(1)?.info.start_wall_ns;
                (start > 0).then_some(V::U64(start))
            }
            F::ProcIsExeFromMemfd => self.info().map(|i| V::Bool(i.exe_from_memfd)),
            F::ProcIsSidLeader => self.info().map(|i| V::Bool(i.pid == i.sid)),
            F::ProcIsVpgidLeader | F::ProcIsPgidLeader => {
                self.info().map(|i| V::Bool(i.pid == i.pgid))
            }
            F::ProcFdopencount => self
                .state
                .table()
                .fds(ev.pid)
                .map(|t| V::U64(t.len() as u64)),
            F::ProcStdinType
            | F::ProcStdinName
            | F::ProcStdoutType
            | F::ProcStdoutName
            | F::ProcStderrType
            | F::ProcStderrName => {
                let n = match f.id {
                    F::ProcStdinType | F::ProcStdinName => 0,
                    F::ProcStdoutType | F::ProcStdoutName => 1,
                    _ => 2,
                };
                let e = self.state.fd(ev.pid, n)?;
                if matches!(
                    f.id,
                    F::ProcStdinType | F::ProcStdoutType | F::ProcStderrType
                ) {
                    Some(V::Str(kind_name(e.fd.kind)))
                } else {
                    let name = display_name(e);
                    self.compose(|buf, _| {
                        args::push_text(buf, &name);
                        true
                    })
                }
            }
            F::ProcIsContainerHealthcheck
            | F::ProcIsContainerLivenessProbe
            | F::ProcIsContainerReadinessProbe => Some(V::Bool(false)),

            // --- thread.* ---
            F::ThreadTid => Some(V::I64(ev.tid.into())),
            F::ThreadIsmain => Some(V::Bool(ev.tid == ev.pid)),
            F::ThreadVtid => {
                let i = self.info()?;
                (i.vpid == i.pid).then_some(V::I64(ev.tid.into()))
            }
            F::ThreadCapPermitted | F::ThreadCapInheritable | F::ThreadCapEffective => {
                let i = self.info()?;
                let caps = match f.id {
                    F::ThreadCapPermitted => i.cap_permitted,
                    F::ThreadCapInheritable => i.cap_inheritable,
                    _ => i.cap_effective,
                };
                self.compose(|buf, _| {
                    render_caps(buf, caps);
                    true
                })
            }

            // --- user.* / group.* ---
            F::UserUid => self.info().map(|i| V::U64(i.euid.into())),
            F::UserName | F::UserHomedir | F::UserShell => {
                let uid = self.info()?.euid;
                let u = ctx.user(uid)?;
                let b = match f.id {
                    F::UserName => &u.name,
                    F::UserHomedir => &u.home,
                    _ => &u.shell,
                };
                self.text(b)
            }
            F::UserLoginuid => self.info().map(|i| {
                V::I64(if i.loginuid == u32::MAX {
                    -1
                } else {
                    i.loginuid.into()
                })
            }),
            F::UserLoginname => {
                let l = self.info()?.loginuid;
                if l == u32::MAX {
                    return None;
                }
                let u = ctx.user(l)?;
                self.text(&u.name)
            }
            F::GroupGid => self.info().map(|i| V::U64(i.egid.into())),
            F::GroupName => {
                let gid = self.info()?.egid;
                ctx.groups.get(&gid).map(|g| V::Str(g))
            }

            // --- fd.* ---
            F::FdNum => match self.focus {
                Focus::None => None,
                Focus::Fd(fd) => Some(V::I64(fd.num.into())),
                Focus::Named { num, .. } => Some(V::I64(num)),
                Focus::FailedOpen { .. } => Some(V::I64(-1)),
            },
            F::FdType => self.fd_kind().map(|k| V::Str(kind_name(k))),
            F::FdTypechar => self.fd_kind().map(|k| V::Str(kind_char(k))),
            F::FdName => self.compose(|buf, v| v.fd_name(buf)),
            F::FdNameraw => match self.focus {
                Focus::FailedOpen { raw, .. } => self.text(raw),
                _ => {
                    if let Some(sc) = self.syscall
                        && is_open(sc)
                        && let Some((raw, _)) = self.path_param(0)
                    {
                        return self.text(raw);
                    }
                    self.compose(|buf, v| v.fd_name(buf))
                }
            },
            F::FdDirectory => {
                let kind = self.fd_kind()?;
                let p = self.fd_path()?;
                let d = if kind == FdKind::Directory {
                    p
                } else {
                    match p.iter().rposition(|&c| c == b'/') {
                        Some(0) => &p[..1],
                        Some(i) => &p[..i],
                        None => return None,
                    }
                };
                self.text(d)
            }
            F::FdFilename => {
                if self.fd_kind()? == FdKind::Directory {
                    return None;
                }
                let p = self.fd_path()?;
                let name = p.rsplit(|&c| c == b'/').next().unwrap_or(p);
                self.text(name)
            }
            F::FdCip | F::FdCport | F::FdCnet => {
                let (c, _) = self.ends()?;
                let (a, port) = c?;
                Some(if f.id == F::FdCport {
                    V::U64(port.into())
                } else {
                    V::Ip(a)
                })
            }
            F::FdSip | F::FdSport | F::FdSnet => {
                let (_, s) = self.ends()?;
                let (a, port) = s?;
                Some(if f.id == F::FdSport {
                    V::U64(port.into())
                } else {
                    V::Ip(a)
                })
            }
            F::FdLip | F::FdLport | F::FdLnet | F::FdRip | F::FdRport | F::FdRnet => {
                let (fd, s) = self.socket()?;
                if !matches!(fd.kind, FdKind::Ipv4Socket | FdKind::Ipv6Socket) {
                    return None;
                }
                let local = matches!(f.id, F::FdLip | F::FdLport | F::FdLnet);
                let (a, port) = if local {
                    (&s.local_addr, s.local_port)
                } else {
                    (&s.remote_addr, s.remote_port)
                };
                if matches!(f.id, F::FdLport | F::FdRport) {
                    return (!a.is_empty() || port != 0).then_some(V::U64(port.into()));
                }
                ip(a).map(V::Ip)
            }
            F::FdL4proto => {
                let (fd, s) = self.socket()?;
                l4proto(fd.kind, s).map(V::Str)
            }
            F::FdSockfamily => match self.fd_kind()? {
                FdKind::Ipv4Socket | FdKind::Ipv6Socket => Some(V::Str("ip")),
                FdKind::UnixSocket => Some(V::Str("unix")),
                _ => None,
            },
            F::FdIsServer => {
                let (_, s) = self.socket()?;
                Some(V::Bool(s.listening || s.accepted))
            }
            F::FdConnected => {
                let (fd, s) = self.socket()?;
                Some(V::Bool(match fd.kind {
                    FdKind::Ipv4Socket | FdKind::Ipv6Socket => {
                        !s.listening && !s.remote_addr.is_empty()
                    }
                    _ => !s.listening && !s.path.is_empty(),
                }))
            }
            F::FdNameChanged => {
                let s = self.syscall_event()?;
                let sc = self.syscall?;
                self.socket()?;
                let addressed = matches!(sc.name, "connect" | "sendto" | "sendmsg")
                    && s.params
                        .iter()
                        .any(|p| matches!(p.value, Value::SockAddr(_)));
                Some(V::Bool(addressed))
            }
            F::FdDev | F::FdDevMajor | F::FdDevMinor => {
                let fd = self.focus_fd()?;
                (fd.dev != 0).then(|| {
                    V::U64(match f.id {
                        F::FdDev => fd.dev,
                        F::FdDevMajor => dev_major(fd.dev),
                        _ => dev_minor(fd.dev),
                    })
                })
            }
            F::FdIno => {
                let fd = self.focus_fd()?;
                (fd.ino != 0).then_some(V::U64(fd.ino))
            }
            F::FdTypes => match &f.arg {
                FieldArg::Index(0) => self.fd_kind().map(|k| V::Str(kind_name(k))),
                _ => None,
            },

            // --- fs.path.* ---
            F::FsPathName | F::FsPathSource => {
                let (raw, res) = self.path_param(0)?;
                self.text(if res.is_empty() { raw } else { res })
            }
            F::FsPathNameraw | F::FsPathSourceraw => {
                let (raw, _) = self.path_param(0)?;
                self.text(raw)
            }
            F::FsPathTarget => {
                let (raw, res) = self.path_param(1)?;
                self.text(if res.is_empty() { raw } else { res })
            }
            F::FsPathTargetraw => {
                let (raw, _) = self.path_param(1)?;
                self.text(raw)
            }

            // --- container.* ---
            F::ContainerId => Some(V::Str(ctx.container_id())),
            F::ContainerFullId => Some(V::Str(ctx.container_full_id())),
            F::ContainerName => ctx.container_name().map(V::Str),
            F::ContainerImage => ctx.image().map(|i| V::Str(i.full)),
            F::ContainerImageRepository => ctx.image().map(|i| V::Str(i.repository)),
            F::ContainerImageTag => ctx.image().map(|i| V::Str(i.tag)),
            F::ContainerImageDigest => ctx.image().map(|i| V::Str(i.digest)),
            F::ContainerImageId => ctx
                .image()
                .filter(|_| ctx.container_id.is_empty())
                .map(|_| V::Str("")),
            F::ContainerType if ctx.container_id.is_empty() => Some(V::Str("host")),
            F::ContainerType if ctx.ecs.is_some() => Some(V::Str("ecs")),
            F::ContainerHealthcheck | F::ContainerLivenessProbe | F::ContainerReadinessProbe
                if ctx.container_id.is_empty() =>
            {
                Some(V::Str(""))
            }

            // Everything else (k8s.*, mounts, overlay layers, DNS names,
            // resource usage, CPU numbers): the trace cannot know it.
            _ => None,
        }
    }

    fn for_each(&mut self, f: &FieldRef, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) {
        use FieldId as F;
        match f.id {
            F::ProcAname | F::ProcAexe | F::ProcAexepath | F::ProcApid | F::ProcAcmdline
                if f.arg == FieldArg::None =>
            {
                for parent in self.ancestors() {
                    if let Some(v) = self.proc_value(f.id, parent)
                        && !visit(v)
                    {
                        return;
                    }
                }
            }
            F::FdIp | F::FdPort | F::FdNet => {
                let Some((c, s)) = self.ends() else { return };
                for (a, port) in [c, s].into_iter().flatten() {
                    let v = if f.id == F::FdPort {
                        FieldValue::U64(port.into())
                    } else {
                        FieldValue::Ip(a)
                    };
                    if !visit(v) {
                        return;
                    }
                }
            }
            F::FdProto => {}
            F::FdTypes => {
                let mut kinds = Vec::new();
                if let Some(k) = self.fd_kind() {
                    kinds.push(k);
                }
                if let Some(Value::FdPair(_, b)) = self
                    .syscall_event()
                    .and_then(|s| args::param(s, result_index::FD_PAIR))
                    && let Some(e) = self.state.fd(self.ev.pid, *b)
                {
                    kinds.push(e.fd.kind);
                }
                for k in kinds {
                    if !visit(FieldValue::Str(kind_name(k))) {
                        return;
                    }
                }
            }
            _ => {
                if let Some(v) = self.get(f) {
                    visit(v);
                }
            }
        }
    }
}

/// `evt.type` and the syscall of an event. Syscalls take Falco's event
/// name (`pread` for `pread64`); a new thread or process is `clone` (the
/// child's side, as Falco's clone exit in the child), a thread's end
/// `procexit`, a signal `signaldeliver`.
pub fn event_type(ev: &Event) -> (&'static str, Option<&'static Syscall>) {
    match &ev.body {
        EventBody::Syscall(s) => match syscalls::by_id(s.id) {
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

fn focus<'a>(
    state: &'a State,
    pid: i32,
    s: &'a SyscallEvent,
    sc: Option<&'static Syscall>,
) -> Focus<'a> {
    let Some(sc) = sc else { return Focus::None };
    let lookup = |num: i64| -> Focus<'a> {
        if let Some(e) = i32::try_from(num).ok().and_then(|n| state.fd(pid, n)) {
            return Focus::Fd(&e.fd);
        }
        match args::param(s, result_index::FD_NAME) {
            Some(Value::Str(name)) => Focus::Named { num, name },
            _ => Focus::Named { num, name: b"" },
        }
    };
    if sc.ret.kind == ArgKind::Fd {
        if s.no_return {
            return Focus::None;
        }
        if s.ret >= 0 {
            return lookup(s.ret);
        }
        // A failed open still names its file.
        if is_open(sc)
            && let Some((raw, res)) = s.params.iter().find_map(|p| match &p.value {
                Value::Path { raw, resolved } if p.index < 6 => Some((&raw[..], &resolved[..])),
                _ => None,
            })
        {
            return Focus::FailedOpen {
                path: if res.is_empty() { raw } else { res },
                raw,
            };
        }
    }
    if let Some(Value::FdPair(a, _)) = args::param(s, result_index::FD_PAIR) {
        return lookup((*a).into());
    }
    match args::first_fd_arg(sc) {
        Some(i) => lookup(ArgKind::Fd.int_value(args::reg(s, i as u8))),
        None => Focus::None,
    }
}

fn is_open(sc: &Syscall) -> bool {
    matches!(
        sc.name,
        "open" | "openat" | "openat2" | "creat" | "open_by_handle_at"
    )
}

fn res_name(ret: i64) -> &'static str {
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

fn category(body: &EventBody, sc: Option<&Syscall>) -> &'static str {
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

fn signal_args(buf: &mut String, s: &SignalEvent) {
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

fn l4proto(kind: FdKind, s: &SocketInfo) -> Option<&'static str> {
    if !matches!(kind, FdKind::Ipv4Socket | FdKind::Ipv6Socket) {
        return None;
    }
    Some(match (s.sock_type, s.protocol) {
        (1, _) | (_, 6) => "tcp",
        (2, _) | (_, 17) => "udp",
        (_, 1) | (_, 58) => "icmp",
        (3, _) => "raw",
        _ => "unknown",
    })
}

fn ip(a: &[u8]) -> Option<IpAddr> {
    match a.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(a);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn dev_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn dev_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

/// `comm arg1 arg2 ...` (`proc.cmdline`).
fn cmdline(buf: &mut String, comm: &[u8], argv: &[Vec<u8>]) {
    args::push_text(buf, comm);
    for a in argv.iter().skip(1) {
        buf.push(' ');
        args::push_text(buf, a);
    }
}

fn join_args(buf: &mut String, items: &[Vec<u8>]) {
    for (i, a) in items.iter().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        args::push_text(buf, a);
    }
}

fn env_value<'e>(env: &'e [Vec<u8>], key: &[u8]) -> Option<&'e [u8]> {
    env.iter().find_map(|e| {
        let rest = e.strip_prefix(key)?;
        rest.strip_prefix(b"=")
    })
}

fn is_shell(comm: &[u8]) -> bool {
    matches!(
        comm,
        b"ash" | b"bash" | b"csh" | b"ksh" | b"sh" | b"tcsh" | b"zsh" | b"dash" | b"fish"
    )
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
