//! Events as an investigator reads them (`replay --filter`): one line per
//! event in a strace-like form, or one JSON object per event with field
//! names as in the rules language.
//!
//! ```text
//! 2026-11-23T10:12:01.123456789Z #1042 cat(4711:4711) openat(dirfd=AT_FDCWD name=/etc/shadow flags=O_RDONLY mode=0) = 3 [/etc/shadow]
//! ```
//!
//! Every name, path, argument and message in a text line is escaped
//! ([`trace_format::escape`]): the process name, exe path and argv from
//! their bytes (invalid UTF-8 as `\xNN`), the rendered arguments, fd name
//! and marker message as rendered (the renderer has already shown invalid
//! UTF-8 as U+FFFD there).

use std::fmt::Write as _;

use serde_json::{Map, Value as Json};
use trace_format::escape::{escape, escape_bytes};
use trace_format::model::{EventBody, MarkerKind, SignalAction};
use trace_format::syscalls;

use super::alert::{push_time, to_json};
use super::args;
use super::view::{EventView, Focus};
use crate::rules::fields::resolve;
use crate::rules::{FieldRef, FieldSource};

/// The fields of a JSON event line, in this order.
pub const JSON_FIELDS: &[&str] = &[
    "evt.num",
    "evt.time.iso8601",
    "evt.rawtime",
    "evt.type",
    "proc.name",
    "proc.pid",
    "thread.tid",
    "proc.ppid",
    "proc.exepath",
    "proc.cmdline",
    "user.name",
    "user.uid",
    "evt.args",
    "evt.res",
    "evt.rawres",
    "fd.num",
    "fd.name",
    "evt.latency",
];

/// Formats events for listing.
pub struct Lister {
    json_fields: Vec<FieldRef>,
    fd_name: Option<FieldRef>,
}

impl Default for Lister {
    fn default() -> Self {
        Lister::new()
    }
}

impl Lister {
    /// A lister with the JSON field set resolved once.
    pub fn new() -> Lister {
        Lister {
            json_fields: JSON_FIELDS
                .iter()
                .filter_map(|n| resolve(n, None).ok())
                .collect(),
            fd_name: resolve("fd.name", None).ok(),
        }
    }

    /// The text line of an event.
    pub fn text(&self, v: &mut EventView<'_>) -> String {
        let mut out = String::new();
        push_time(&mut out, v.wall_ns, "%Y-%m-%dT%H:%M:%S%.9fZ");
        let _ = write!(out, " #{} ", v.num);
        let comm = v
            .state
            .table()
            .process(v.ev.pid)
            .map(|p| {
                p.threads
                    .iter()
                    .find(|t| t.tid == v.ev.tid)
                    .map_or(&p.info.comm[..], |t| &t.comm[..])
            })
            .unwrap_or(b"?");
        out.push_str(&escape_bytes(comm));
        let _ = write!(out, "({}:{}) ", v.ev.pid, v.ev.tid);
        let ctx = v.ctx;
        match &v.ev.body {
            EventBody::Syscall(s) => {
                out.push_str(v.type_name);
                out.push('(');
                match v.syscall {
                    Some(sc) => {
                        let mut a = String::new();
                        args::render_all(&mut a, sc, s, ctx);
                        out.push_str(&escape(&a));
                    }
                    None => {
                        let _ = write!(out, "id={} args={:x?}", s.id, s.args);
                    }
                }
                out.push(')');
                if s.no_return {
                    out.push_str(" = ? (no return observed)");
                } else if (-4095..0).contains(&s.ret) {
                    let _ = write!(
                        out,
                        " = {} {}",
                        s.ret,
                        syscalls::errno_name(s.ret).unwrap_or("E?")
                    );
                } else {
                    let _ = write!(out, " = {}", s.ret);
                }
                match v.focus() {
                    Focus::None => {}
                    _ => {
                        let mut name = String::new();
                        if let Some(f) = &self.fd_name
                            && v.render(f, &mut name)
                            && !name.is_empty()
                        {
                            let _ = write!(out, " [{}]", escape(&name));
                        }
                    }
                }
            }
            EventBody::ProcessStart(p) => {
                let _ = write!(
                    out,
                    "{} child pid={} tid={} parent_tid={} flags={}",
                    if p.child_pid == p.child_tid {
                        "process"
                    } else {
                        "thread"
                    },
                    p.child_pid,
                    p.child_tid,
                    p.parent_tid,
                    syscalls::render_flags(&syscalls::CLONE_FLAGS, p.clone_flags & !0xff)
                );
            }
            EventBody::Exec(x) => {
                out.push_str("exec ");
                out.push_str(&escape_bytes(&x.exepath));
                out.push_str(" argv=[");
                for (i, a) in x.argv.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&escape_bytes(a));
                }
                let _ = write!(out, "] uid={} euid={}", x.uid, x.euid);
                if x.exe_from_memfd {
                    out.push_str(" (from memfd)");
                }
            }
            EventBody::ThreadExit(x) => {
                out.push_str(if x.process_exit {
                    "procexit "
                } else {
                    "threadexit "
                });
                if x.process_exit {
                    out.push_str(&wait_status(x.status));
                }
            }
            EventBody::Signal(s) => {
                let action = match s.action {
                    SignalAction::Delivered => "delivered",
                    SignalAction::Stopped => "stopped the process",
                    SignalAction::Forwarded => "forwarded by capture",
                };
                const SIGCHLD: i32 = 17;
                let sig = syscalls::render_enum(&syscalls::SIGNALS, s.signo as u64);
                // A kernel-generated signal (a fault, SI_KERNEL) has no
                // sending process; its siginfo holds e.g. a fault address.
                if s.code > 0 && s.signo != SIGCHLD {
                    let _ = write!(
                        out,
                        "signal {sig} {action} (from the kernel, si_code {})",
                        s.code
                    );
                } else {
                    let _ = write!(
                        out,
                        "signal {sig} {action} (from pid {} uid {})",
                        s.sender_pid, s.sender_uid
                    );
                }
            }
            EventBody::Marker(m) => {
                let kind = match m.kind {
                    MarkerKind::CaptureStart => "capture start",
                    MarkerKind::CaptureStop => "capture stop",
                    MarkerKind::Gap => "GAP",
                    MarkerKind::TracerError => "tracer error",
                    MarkerKind::Attach => "attach",
                    MarkerKind::Detach => "detach",
                    MarkerKind::Denied => "denied",
                };
                let _ = write!(out, "-- {kind}");
                if m.kind == MarkerKind::Gap {
                    let _ = write!(out, ": {} events lost", m.count);
                }
                if !m.message.is_empty() {
                    let _ = write!(out, ": {}", escape(&m.message));
                }
            }
        }
        out
    }

    /// The JSON object of an event: [`JSON_FIELDS`], `null` when missing.
    pub fn json(&self, v: &mut EventView<'_>) -> Json {
        let mut o = Map::new();
        for f in &self.json_fields {
            let val = v.get(f).map(|x| to_json(&x.to_owned_value()));
            o.insert(f.to_string(), val.unwrap_or(Json::Null));
        }
        Json::Object(o)
    }
}

/// A wait(2) status in words.
pub fn wait_status(status: i32) -> String {
    let sig = status & 0x7f;
    if sig == 0 {
        format!("exit {}", (status >> 8) & 0xff)
    } else {
        format!(
            "killed by {}{}",
            syscalls::render_enum(&syscalls::SIGNALS, sig as u64),
            if status & 0x80 != 0 {
                " (core dumped)"
            } else {
                ""
            }
        )
    }
}
