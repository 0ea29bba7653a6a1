//! [`EventView`]: one trace event seen through Falco's fields.
//!
//! A view borrows the event, the process/fd state rebuilt up to it, and the
//! trace context; it answers [`FieldSource`] requests by the field's
//! [`FieldClass`], then its [`FieldId`], so no name is looked up per event:
//! one file per family (`view/evt.rs`, `process.rs` for `proc.*` and
//! `thread.*`, `user.rs`, `fd.rs` for `fd.*` and `fs.path.*`,
//! `container.rs`); Falco's names for things are in [`super::vocab`]. Text that must be
//! composed (`proc.cmdline`, rendered flags) is written into one scratch
//! buffer reused across events.
//!
//! **Invariant:** a field the trace cannot know (k8s, overlay layers, DNS
//! names, CPU numbers) yields `None`, never an empty or made-up value, so
//! Falco's missing-field semantics apply (comparisons false, `<NA>`).

use std::net::IpAddr;

use trace_format::model::{Event, EventBody, Fd, Process, SyscallEvent, Value, result_index};
use trace_format::state::State;
use trace_format::state::process_table::Proc;
use trace_format::syscalls::{ArgRef, Syscall};

use super::args::{self, Form};
use super::context::TraceContext;
use super::vocab::{event_type, kind_name};
use crate::rules::{FieldArg, FieldClass, FieldId, FieldRef, FieldSource, FieldValue};

mod container;
mod evt;
mod fd;
mod k8s;
mod process;
#[cfg(test)]
mod tests;
mod user;

use fd::focus;

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
    /// `evt.arg.*` / `evt.rawarg.*` values rendered for the current event,
    /// the first `args_used` of them: many rules ask for the same argument
    /// of one event (Falco's files name `evt.arg.flags` 45 times). Their
    /// strings keep their capacity from event to event.
    args: Vec<(ArgRef, Form, String)>,
    args_used: usize,
}

impl Scratch {
    /// The rendered value of `(r, form)` for the current event, rendering
    /// it with `render` the first time; `None` if `render` says there is
    /// no value (not remembered: rendering it again costs what it did).
    fn arg(
        &mut self,
        r: ArgRef,
        form: Form,
        render: impl FnOnce(&mut String) -> bool,
    ) -> Option<&str> {
        let used = self.args_used;
        if let Some(i) = self.args[..used]
            .iter()
            .position(|(r2, f2, _)| *r2 == r && *f2 == form)
        {
            return Some(&self.args[i].2);
        }
        if used == self.args.len() {
            self.args.push((r, form, String::new()));
        }
        let slot = &mut self.args[used];
        slot.0 = r;
        slot.1 = form;
        slot.2.clear();
        if !render(&mut slot.2) {
            return None;
        }
        self.args_used += 1;
        Some(&self.args[used].2)
    }
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
    /// The flags of an open-family call, found on first use.
    open_flags: std::cell::OnceCell<Option<u64>>,
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
        // A new event: nothing rendered for it yet.
        scratch.args_used = 0;
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
            open_flags: std::cell::OnceCell::new(),
            scratch,
        }
    }

    /// The fd the event is about.
    pub fn focus(&self) -> Focus<'a> {
        self.focus
    }

    pub(super) fn syscall_event(&self) -> Option<&'a SyscallEvent> {
        match &self.ev.body {
            EventBody::Syscall(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn proc(&self) -> Option<&'a Proc> {
        self.state.table().process(self.ev.pid)
    }

    pub(super) fn info(&self) -> Option<&'a Process> {
        self.proc().map(|p| &p.info)
    }

    pub(super) fn text(&mut self, b: &'a [u8]) -> Option<FieldValue<'_>> {
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
    pub(super) fn compose(
        &mut self,
        f: impl FnOnce(&mut String, &Self) -> bool,
    ) -> Option<FieldValue<'_>> {
        let mut buf = std::mem::take(&mut self.scratch.buf);
        buf.clear();
        let ok = f(&mut buf, self);
        self.scratch.buf = buf;
        ok.then_some(FieldValue::Str(&self.scratch.buf))
    }
}

impl FieldSource for EventView<'_> {
    fn get(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        match f.id.class() {
            FieldClass::Evt => self.evt_field(f),
            FieldClass::Proc => self.proc_field(f),
            FieldClass::Thread => self.thread_field(f),
            FieldClass::User => self.user_field(f),
            FieldClass::Fd => self.fd_field(f),
            FieldClass::FsPath => self.fs_path_field(f),
            FieldClass::Container => self.container_field(f),
            FieldClass::K8s => self.k8s_field(f),
            // fdlist.* (poll sets): the trace cannot know them.
            FieldClass::Fdlist => None,
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
