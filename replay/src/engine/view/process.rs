//! `proc.*` and `thread.*`: the event's process, its ancestors and threads.

use trace_format::model::exe_flags;
use trace_format::state::fd_table::display_name;
use trace_format::state::process_table::{Ancestors, Proc};

use super::super::args;
use super::super::vocab::{kind_name, render_caps};
use super::EventView;
use crate::rules::{FieldArg, FieldId, FieldRef, FieldValue};

impl<'a> EventView<'a> {
    /// `proc.*`.
    pub(super) fn proc_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let ev = self.ev;
        match f.id {
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
            F::ProcIsExeFromMemfd => self
                .info()
                .map(|i| V::Bool(i.exe_from_memfd || i.exe_flags & exe_flags::FROM_MEMFD != 0)),
            F::ProcIsExeWritable => self
                .info()
                .map(|i| V::Bool(i.exe_flags & exe_flags::WRITABLE != 0)),
            F::ProcIsExeUpperLayer => self
                .info()
                .map(|i| V::Bool(i.exe_flags & exe_flags::UPPER_LAYER != 0)),
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

            _ => None,
        }
    }

    /// `thread.*`.
    pub(super) fn thread_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let ev = self.ev;
        match f.id {
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

            _ => None,
        }
    }

    pub(super) fn comm(&self) -> Option<&'a [u8]> {
        let p = self.proc()?;
        Some(
            p.threads
                .iter()
                .find(|t| t.tid == self.ev.tid)
                .map_or(&p.info.comm[..], |t| &t.comm[..]),
        )
    }

    /// The n-th ancestor (1 = parent); `None` past the top of the tree.
    pub(super) fn ancestor(&self, n: u32) -> Option<&'a Proc> {
        match n {
            0 => self.proc(),
            n => self.ancestors().nth(n as usize - 1),
        }
    }

    /// The process `n` levels up (0 = the process itself).
    pub(super) fn level(&self, f: &FieldRef, default: u32) -> Option<&'a Proc> {
        match f.arg {
            FieldArg::Index(i) => self.ancestor(i),
            _ => self.ancestor(default),
        }
    }

    /// The ancestors of the event's process, parent first. The iterator
    /// borrows the state, not the view, so the view can be used while
    /// walking.
    pub(super) fn ancestors(&self) -> Ancestors<'a> {
        self.state.table().ancestors(self.ev.pid)
    }

    pub(super) fn proc_value(&mut self, id: FieldId, p: &'a Proc) -> Option<FieldValue<'_>> {
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
