//! Field values over a hand-built state and hand-built events: no trace, no
//! ptrace. One table of `(field, expected text or missing)` per event.

use trace_format::model::{
    Event, EventBody, Fd, FdKind, Param, Process, SocketInfo, SyscallEvent, User, Value,
};
use trace_format::state::State;

use super::{EventView, Scratch};
use crate::engine::context::TraceContext;
use crate::rules::fields::resolve;
use crate::rules::{FieldRef, FieldSource};

const SHELL: i32 = 10;
const CAT: i32 = 20;

fn state() -> State {
    let mut s = State::default();
    s.seed(Process {
        pid: SHELL,
        ppid: 1,
        comm: b"bash".to_vec(),
        exe: b"/bin/bash".to_vec(),
        exepath: b"/usr/bin/bash".to_vec(),
        argv: vec![b"bash".to_vec()],
        cwd: b"/root".to_vec(),
        loginuid: u32::MAX,
        ..Process::default()
    });
    s.seed(Process {
        pid: CAT,
        ppid: SHELL,
        comm: b"cat".to_vec(),
        exe: b"cat".to_vec(),
        exepath: b"/usr/bin/cat".to_vec(),
        argv: vec![b"cat".to_vec(), b"/etc/shadow".to_vec()],
        cwd: b"/tmp".to_vec(),
        euid: 1000,
        loginuid: u32::MAX,
        cap_effective: (1 << 19) | (1 << 21),
        fds: vec![
            Fd {
                num: 3,
                kind: FdKind::File,
                path: b"/etc/shadow".to_vec(),
                ..Fd::default()
            },
            Fd {
                num: 4,
                kind: FdKind::Ipv4Socket,
                socket: Some(SocketInfo {
                    family: 2,
                    sock_type: 1,
                    local_addr: vec![10, 0, 0, 1],
                    local_port: 40000,
                    remote_addr: vec![1, 2, 3, 4],
                    remote_port: 443,
                    ..SocketInfo::default()
                }),
                ..Fd::default()
            },
        ],
        ..Process::default()
    });
    s
}

fn ctx() -> TraceContext {
    let mut c = TraceContext {
        hostname: "box".into(),
        ..TraceContext::default()
    };
    c.users.insert(
        0,
        User {
            name: b"root".to_vec(),
            ..User::default()
        },
    );
    c
}

fn syscall(name: &str, args: &[u64], ret: i64, params: Vec<Param>) -> Event {
    let id = trace_format::syscalls::by_name(name)
        .unwrap_or_else(|| panic!("no syscall {name}"))
        .id;
    Event {
        ts: 1,
        pid: CAT,
        tid: CAT,
        body: EventBody::Syscall(SyscallEvent {
            id,
            args: args.to_vec(),
            ret,
            params,
            ..SyscallEvent::default()
        }),
    }
}

fn field(name: &str) -> FieldRef {
    let (name, arg) = match name.split_once('[') {
        Some((n, rest)) => (n, Some(rest.trim_end_matches(']'))),
        None => (name, None),
    };
    resolve(name, arg).unwrap_or_else(|e| panic!("{e}"))
}

/// Each field of the view over `ev` renders as expected (`None`: missing).
fn check(state: &State, ev: &Event, cases: &[(&str, Option<&str>)]) {
    let ctx = ctx();
    let mut scratch = Scratch::default();
    let mut view = EventView::new(&ctx, state, ev, 7, 2_000_000_000, 0, &mut scratch);
    for (name, want) in cases {
        let got = view.get(&field(name)).map(|v| v.to_string());
        assert_eq!(got.as_deref(), *want, "field {name}");
    }
}

#[test]
fn evt_and_proc_fields_of_a_read() {
    let s = state();
    let ev = syscall("read", &[3, 0, 100], 10, vec![]);
    check(
        &s,
        &ev,
        &[
            ("evt.num", Some("7")),
            ("evt.type", Some("read")),
            ("evt.category", Some("file")),
            ("evt.res", Some("SUCCESS")),
            ("evt.rawres", Some("10")),
            ("evt.failed", Some("false")),
            ("evt.is_io_read", Some("true")),
            ("evt.hostname", Some("box")),
            ("proc.name", Some("cat")),
            ("proc.pname", Some("bash")),
            ("proc.aname[1]", Some("bash")),
            ("proc.aname[2]", None),
            ("proc.exe", Some("cat")),
            ("proc.exepath", Some("/usr/bin/cat")),
            ("proc.pexepath", Some("/usr/bin/bash")),
            ("proc.cmdline", Some("cat /etc/shadow")),
            ("proc.args", Some("/etc/shadow")),
            ("proc.cwd", Some("/tmp/")),
            ("proc.pid", Some("20")),
            ("proc.ppid", Some("10")),
            ("thread.tid", Some("20")),
            ("thread.cap_effective", Some("CAP_SYS_PTRACE CAP_SYS_ADMIN")),
            ("user.uid", Some("1000")),
            // No passwd entry for 1000, no login uid: missing.
            ("user.name", None),
            ("user.loginname", None),
            ("user.loginuid", Some("-1")),
            ("fd.num", Some("3")),
            ("fd.name", Some("/etc/shadow")),
            ("fd.typechar", Some("f")),
            ("fd.type", Some("file")),
            ("fd.directory", Some("/etc")),
            ("fd.filename", Some("shadow")),
            ("fd.sip", None),
            ("container.id", Some("host")),
            ("container.name", Some("host")),
            ("k8s.ns.name", None),
            ("fdlist.names", None),
        ],
    );
}

#[test]
fn a_failed_open_names_its_file_with_fd_minus_one() {
    let s = state();
    let path = Param {
        index: 1,
        value: Value::Path {
            raw: b"x/secret".to_vec(),
            resolved: b"/tmp/x/secret".to_vec(),
        },
    };
    let ev = syscall("openat", &[u64::MAX - 99, 0, 0, 0], -13, vec![path]);
    check(
        &s,
        &ev,
        &[
            ("evt.type", Some("openat")),
            ("evt.res", Some("EACCES")),
            ("evt.failed", Some("true")),
            ("evt.is_open_read", Some("true")),
            ("fd.num", Some("-1")),
            ("fd.name", Some("/tmp/x/secret")),
            ("fd.nameraw", Some("x/secret")),
            ("fd.typechar", Some("f")),
            ("fs.path.name", Some("/tmp/x/secret")),
        ],
    );
}

#[test]
fn socket_fields_name_client_then_server() {
    let s = state();
    let ev = syscall("write", &[4, 0, 5], 5, vec![]);
    check(
        &s,
        &ev,
        &[
            ("evt.category", Some("net")),
            ("fd.name", Some("10.0.0.1:40000->1.2.3.4:443")),
            ("fd.typechar", Some("4")),
            ("fd.l4proto", Some("tcp")),
            ("fd.cip", Some("10.0.0.1")),
            ("fd.sip", Some("1.2.3.4")),
            ("fd.sport", Some("443")),
            ("fd.lport", Some("40000")),
            ("fd.rip", Some("1.2.3.4")),
            ("fd.sockfamily", Some("ip")),
            ("fd.is_server", Some("false")),
            ("fd.connected", Some("true")),
        ],
    );
}

#[test]
fn ancestor_walk_survives_a_ppid_cycle() {
    let mut s = State::default();
    for (pid, ppid) in [(5, 6), (6, 5)] {
        s.seed(Process {
            pid,
            ppid,
            comm: format!("p{pid}").into_bytes(),
            ..Process::default()
        });
    }
    let walked = s.table().ancestors(5).count();
    assert_eq!(
        walked,
        trace_format::state::process_table::MAX_ANCESTORS,
        "the walk is bounded"
    );
    let mut ev = syscall("getpid", &[], 5, vec![]);
    ev.pid = 5;
    ev.tid = 5;
    check(
        &s,
        &ev,
        &[("proc.pname", Some("p6")), ("proc.aname[2]", Some("p5"))],
    );
}
