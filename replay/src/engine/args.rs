//! Syscall arguments as text: `evt.arg.NAME` (rendered), `evt.rawarg.NAME`
//! (raw), `evt.args` and the event listing. Driven by the syscall table's
//! argument kinds, so every syscall the table knows renders the same way.

use std::fmt::Write as _;

use trace_format::model::{
    CloneArgs, Param, SignalEvent, SockAddr, SyscallEvent, Value, result_index,
};
use trace_format::state::fd_table::endpoint;
use trace_format::syscalls::{
    self, Arg, ArgKind, ArgRef, CLONE_ARGS_FIELDS, OPEN_HOW_FIELDS, SIGNALS, Syscall,
};

use super::context::TraceContext;
use crate::rules::FieldArg;

/// The decoded parameter with `index`, if the trace holds one.
pub fn param(ev: &SyscallEvent, index: u8) -> Option<&Value> {
    ev.params
        .iter()
        .find(|p: &&Param| p.index == index)
        .map(|p| &p.value)
}

/// The raw register of argument `i` (0 when absent).
pub fn reg(ev: &SyscallEvent, i: u8) -> u64 {
    ev.args.get(usize::from(i)).copied().unwrap_or(0)
}

/// Appends printable bytes, others as `.` (Falco's rendering of buffers).
pub fn push_printable(out: &mut String, b: &[u8]) {
    for &c in b {
        out.push(if c.is_ascii_graphic() || c == b' ' {
            c as char
        } else {
            '.'
        });
    }
}

/// Appends text bytes (lossy UTF-8).
pub fn push_text(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

/// A `signaldeliver` event's argument, as Falco names them: `spid` (the
/// sender, 0 for the kernel), `dpid` (the process it was delivered to),
/// `sig` (its name, e.g. `SIGQUIT`; raw: the number), and this format's
/// `code` (`si_code`). Indexes follow Falco's order: 1 `spid`, 2 `dpid`,
/// 3 `sig`. False for anything else.
pub fn render_signal_arg(
    out: &mut String,
    s: &SignalEvent,
    pid: i32,
    arg: &FieldArg,
    form: Form,
) -> bool {
    let key = match arg {
        FieldArg::Key(k) => &**k,
        FieldArg::Index(1) => "spid",
        FieldArg::Index(2) => "dpid",
        FieldArg::Index(3) => "sig",
        _ => return false,
    };
    let _ = match key {
        "spid" => write!(out, "{}", s.sender_pid),
        "dpid" => write!(out, "{pid}"),
        "code" => write!(out, "{}", s.code),
        "sig" if form == Form::Raw => write!(out, "{}", s.signo),
        "sig" => {
            out.push_str(&syscalls::render_enum(&SIGNALS, s.signo as u64));
            Ok(())
        }
        _ => return false,
    };
    true
}

/// Appends a socket address: `ip:port`, a unix path, or `family N`.
pub fn push_sockaddr(out: &mut String, a: &SockAddr) {
    match a.family {
        1 => push_text(out, &a.path),
        2 | 10 => out.push_str(&endpoint(&a.addr, a.port)),
        f => {
            let _ = write!(out, "family {f}");
        }
    }
}

/// Which form of a parameter to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `evt.arg.NAME`: flags by name, paths resolved, uids by name.
    Rendered,
    /// `evt.rawarg.NAME`: numbers as numbers, paths as given.
    Raw,
}

/// Renders the parameter `r` (of `kind`) of `ev` into `out`. Returns `false`
/// when the event has no value for it (an argument the tracer could not
/// read is rendered as the fault).
pub fn render_param(
    out: &mut String,
    ev: &SyscallEvent,
    r: ArgRef,
    kind: ArgKind,
    form: Form,
    ctx: &TraceContext,
) -> bool {
    match r {
        ArgRef::Ret => {
            render_ret(out, ev, kind, form);
            true
        }
        ArgRef::Arg(i) if arg_unused(ev, i) => false,
        ArgRef::Arg(i) => {
            // What the kernel filled is recorded under a result index.
            let filled = match kind {
                ArgKind::BufOut | ArgKind::IovecOut { .. } | ArgKind::MsghdrOut => {
                    param(ev, result_index::BUFFER_OUT)
                }
                ArgKind::SockAddrOut { .. } => param(ev, result_index::SOCKADDR_OUT),
                ArgKind::FdPairOut => param(ev, result_index::FD_PAIR),
                _ => None,
            };
            if let Some(v) = filled.or_else(|| param(ev, i)) {
                render_value(out, v, ev, i, kind, form, ctx)
            } else {
                render_register(out, reg(ev, i), kind, form, ctx);
                true
            }
        }
        ArgRef::Field { arg, field } => match param(ev, arg) {
            Some(Value::OpenHow {
                flags,
                mode,
                resolve,
            }) => {
                let v = match field {
                    "flags" => *flags,
                    "mode" => *mode,
                    _ => *resolve,
                };
                render_register(out, v, field_kind(OPEN_HOW_FIELDS, field), form, ctx);
                true
            }
            Some(Value::CloneArgs(c)) => {
                let v = clone_field(c, field);
                render_register(out, v, field_kind(CLONE_ARGS_FIELDS, field), form, ctx);
                true
            }
            _ => false,
        },
    }
}

fn field_kind(fields: &[Arg], name: &str) -> ArgKind {
    fields
        .iter()
        .find(|f| f.name == name)
        .map_or(ArgKind::Uint, |f| f.kind)
}

fn clone_field(c: &CloneArgs, field: &str) -> u64 {
    match field {
        "flags" => c.flags,
        "exit_signal" => c.exit_signal,
        "stack" => c.stack,
        "tls" => c.tls,
        "set_tid_size" => c.set_tid_size,
        _ => c.cgroup,
    }
}

/// The return value: `evt.arg.res` renders like `evt.res` plus the number
/// for errors (`-2(ENOENT)`); fds and counts are numbers.
fn render_ret(out: &mut String, ev: &SyscallEvent, kind: ArgKind, form: Form) {
    let ret = ev.ret;
    if form == Form::Rendered && (-4095..0).contains(&ret) {
        let name = syscalls::errno_name(ret).unwrap_or("E?");
        let _ = write!(out, "{ret}({name})");
    } else if kind == ArgKind::Ptr && form == Form::Rendered {
        let _ = write!(out, "{:#x}", ret as u64);
    } else {
        let _ = write!(out, "{ret}");
    }
}

fn render_value(
    out: &mut String,
    v: &Value,
    ev: &SyscallEvent,
    i: u8,
    kind: ArgKind,
    form: Form,
    ctx: &TraceContext,
) -> bool {
    match v {
        Value::Int(n) => {
            render_register(out, *n as u64, kind, form, ctx);
        }
        Value::Flags(f) => render_register(out, *f, kind, form, ctx),
        Value::Path { raw, resolved } => {
            let p = if form == Form::Rendered && !resolved.is_empty() {
                resolved
            } else {
                raw
            };
            push_text(out, p);
        }
        Value::Str(s) => push_text(out, s),
        Value::Bytes { data, .. } => push_printable(out, data),
        Value::StrList { items, truncated } => {
            for (n, it) in items.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                push_text(out, it);
            }
            if *truncated {
                out.push_str(" ...");
            }
        }
        Value::SockAddr(a) => push_sockaddr(out, a),
        Value::FdPair(a, b) => {
            let _ = write!(out, "{a} {b}");
        }
        Value::OpenHow { flags, .. } => render_register(
            out,
            *flags,
            ArgKind::Flags(&syscalls::OPEN_FLAGS),
            form,
            ctx,
        ),
        Value::CloneArgs(c) => render_register(
            out,
            c.flags,
            ArgKind::Flags(&syscalls::CLONE_FLAGS),
            form,
            ctx,
        ),
        Value::Fault(addr) => {
            if form == Form::Raw {
                let _ = write!(out, "{:#x}", reg(ev, i));
            } else {
                let _ = write!(out, "<unreadable {addr:#x}>");
            }
        }
    }
    true
}

/// Renders an argument that is only a register value.
pub fn render_register(out: &mut String, raw: u64, kind: ArgKind, form: Form, ctx: &TraceContext) {
    if form == Form::Raw {
        match kind {
            ArgKind::Ptr | ArgKind::Struct => {
                let _ = write!(out, "{raw:#x}");
            }
            k => {
                let _ = write!(out, "{}", k.int_value(raw));
            }
        }
        return;
    }
    match kind {
        ArgKind::Flags(set) => syscalls::render_flags_into(out, set, raw),
        ArgKind::Enum(set) => out.push_str(&syscalls::render_enum(set, raw)),
        ArgKind::Mode => out.push_str(&syscalls::render_mode(raw & 0o7777777)),
        ArgKind::Signal => out.push_str(&syscalls::render_enum(&SIGNALS, raw & 0xffff_ffff)),
        ArgKind::Uid => {
            let uid = raw as u32;
            match ctx.user(uid) {
                Some(u) if uid != u32::MAX => push_text(out, &u.name),
                _ => {
                    let _ = write!(out, "{}", kind.int_value(raw));
                }
            }
        }
        ArgKind::Gid => {
            let gid = raw as u32;
            match ctx.groups.get(&gid) {
                Some(g) if gid != u32::MAX => out.push_str(g),
                _ => {
                    let _ = write!(out, "{}", kind.int_value(raw));
                }
            }
        }
        ArgKind::Ptr | ArgKind::Struct => {
            let _ = write!(out, "{raw:#x}");
        }
        // A pointer whose content was not recorded (nothing read, or a fault).
        k if k.reads_memory() => {
            let _ = write!(out, "{raw:#x}");
        }
        ArgKind::Dirfd if kind.int_value(raw) == -100 => out.push_str("AT_FDCWD"),
        k => {
            let _ = write!(out, "{}", k.int_value(raw));
        }
    }
}

/// Renders every argument as `name=value` pairs separated by spaces, then
/// the result (`evt.args`, the listing): what a reader needs to follow the
/// call. Fds are followed by what they referred to.
pub fn render_all(out: &mut String, sc: &Syscall, ev: &SyscallEvent, ctx: &TraceContext) {
    for (i, a) in sc.args.iter().enumerate() {
        if arg_unused(ev, i as u8) {
            continue;
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(a.name);
        out.push('=');
        render_param(out, ev, ArgRef::Arg(i as u8), a.kind, Form::Rendered, ctx);
        let fd_name = match fd_arg_rank(sc, i) {
            Some(0) => param(ev, result_index::FD_NAME),
            Some(1) => param(ev, result_index::FD2_NAME),
            _ => None,
        };
        if let Some(Value::Str(name)) = fd_name
            && !name.is_empty()
        {
            out.push('(');
            push_text(out, name);
            out.push(')');
        }
    }
    // Results no argument shows (an address filled by recvmsg, say).
    let shown = |idx: u8| {
        sc.args.iter().any(|a| match a.kind {
            ArgKind::BufOut | ArgKind::IovecOut { .. } | ArgKind::MsghdrOut => {
                idx == result_index::BUFFER_OUT
            }
            ArgKind::SockAddrOut { .. } => idx == result_index::SOCKADDR_OUT,
            ArgKind::FdPairOut => idx == result_index::FD_PAIR,
            _ => false,
        })
    };
    for (idx, label) in [
        (result_index::BUFFER_OUT, "data"),
        (result_index::SOCKADDR_OUT, "addr"),
        (result_index::FD_PAIR, "fds"),
    ] {
        if shown(idx) {
            continue;
        }
        if let Some(v) = param(ev, idx) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(label);
            out.push('=');
            render_value(out, v, ev, idx, ArgKind::Uint, Form::Rendered, ctx);
        }
    }
}

/// Whether argument `i` is not read by the kernel for this call, so its
/// register holds whatever the caller left there: `fcntl`'s `arg` for the
/// commands that take none (`F_GETFD`, `F_GETFL`, `F_GETOWN`, `F_GETSIG`,
/// `F_GETLEASE`, `F_GETPIPE_SZ`, `F_GET_SEALS`). Not rendered (missing).
pub fn arg_unused(ev: &SyscallEvent, i: u8) -> bool {
    const FCNTL: u16 = 72;
    const NO_ARG: [u64; 7] = [1, 3, 9, 11, 1025, 1032, 1034];
    ev.id == FCNTL
        && i == 2
        && ev
            .args
            .get(1)
            .is_some_and(|c| NO_ARG.contains(&(c & 0xffff_ffff)))
}

/// Among the arguments of kind `Fd`, which one argument `i` is (0: the
/// first); `None` when it is not an fd.
fn fd_arg_rank(sc: &Syscall, i: usize) -> Option<usize> {
    if !matches!(sc.args.get(i)?.kind, ArgKind::Fd) {
        return None;
    }
    Some(
        sc.args[..i]
            .iter()
            .filter(|a| matches!(a.kind, ArgKind::Fd))
            .count(),
    )
}

/// The first argument of kind `Fd`.
pub fn first_fd_arg(sc: &Syscall) -> Option<usize> {
    sc.args.iter().position(|a| matches!(a.kind, ArgKind::Fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> TraceContext {
        let mut c = TraceContext::default();
        c.users.insert(
            33,
            trace_format::model::User {
                uid: 33,
                name: b"www-data".to_vec(),
                ..Default::default()
            },
        );
        c
    }

    #[test]
    fn renders_by_kind() {
        let openat = syscalls::by_name("openat").unwrap();
        let ev = SyscallEvent {
            id: openat.id,
            args: vec![(-100i64) as u64, 0x1000, 0o2000101, 0o644],
            ret: -2,
            params: vec![Param {
                index: 1,
                value: Value::Path {
                    raw: b"x/../passwd".to_vec(),
                    resolved: b"/etc/passwd".to_vec(),
                },
            }],
            ..SyscallEvent::default()
        };
        let r = |name: &str, form| {
            let (at, kind) = openat.param(name).unwrap();
            let mut s = String::new();
            render_param(&mut s, &ev, at, kind, form, &ctx());
            s
        };
        assert_eq!(r("name", Form::Rendered), "/etc/passwd");
        assert_eq!(r("name", Form::Raw), "x/../passwd");
        assert_eq!(r("flags", Form::Rendered), "O_WRONLY|O_CREAT|O_CLOEXEC");
        assert_eq!(r("flags", Form::Raw), (0o2000101).to_string());
        assert_eq!(r("mode", Form::Rendered), "0644");
        assert_eq!(r("dirfd", Form::Rendered), "AT_FDCWD");
        assert_eq!(r("dirfd", Form::Raw), "-100");
        let (at, kind) = openat.param("fd").unwrap();
        let mut s = String::new();
        render_param(&mut s, &ev, at, kind, Form::Rendered, &ctx());
        assert_eq!(s, "-2(ENOENT)");
        let setuid = syscalls::by_name("setuid").unwrap();
        let ev = SyscallEvent {
            id: setuid.id,
            args: vec![33],
            ..SyscallEvent::default()
        };
        let (at, kind) = setuid.param("uid").unwrap();
        let mut s = String::new();
        render_param(&mut s, &ev, at, kind, Form::Rendered, &ctx());
        assert_eq!(s, "www-data");
    }
}
