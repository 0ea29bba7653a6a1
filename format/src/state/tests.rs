//! State tests: event sequences in, snapshots out.

use crate::model::{
    Event, EventBody, Exec, FdKind, Param, Process, ProcessStart, SockAddr, SyscallEvent,
    ThreadExit, Value, result_index,
};

use super::process_table::clone_flags::*;
use super::sysno::*;
use super::*;

fn ev(pid: i32, tid: i32, body: EventBody) -> Event {
    Event {
        ts: 1,
        tid,
        pid,
        body,
    }
}

fn sys(pid: i32, id: u16, args: &[u64], ret: i64, params: Vec<Param>) -> Event {
    ev(
        pid,
        pid,
        EventBody::Syscall(SyscallEvent {
            id,
            args: args.to_vec(),
            ret,
            params,
            ..SyscallEvent::default()
        }),
    )
}

fn path(index: u8, p: &str) -> Param {
    Param {
        index,
        value: Value::Path {
            raw: p.as_bytes().to_vec(),
            resolved: p.as_bytes().to_vec(),
        },
    }
}

fn state_with(pid: i32) -> State {
    let mut s = State::default();
    s.seed(Process {
        pid,
        cwd: b"/home".to_vec(),
        comm: b"sh".to_vec(),
        ..Process::default()
    });
    s
}

fn fds(s: &State, pid: i32) -> Vec<(i32, String)> {
    s.snapshot()
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .map(|p| {
            p.fds
                .iter()
                .map(|f| (f.num, String::from_utf8_lossy(&f.path).into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn open_dup_close_and_cloexec_on_exec() {
    let mut s = state_with(10);
    s.apply(&sys(
        10,
        OPENAT,
        &[(-100i64) as u64, 0, 0o2000000, 0],
        3,
        vec![path(1, "/etc/passwd")],
    ));
    s.apply(&sys(
        10,
        OPENAT,
        &[(-100i64) as u64, 0, 0, 0],
        -2,
        vec![path(1, "/nope")],
    ));
    s.apply(&sys(10, DUP2, &[3, 7], 7, vec![]));
    s.apply(&sys(10, OPEN, &[0, 0], 4, vec![path(0, "/tmp/a")]));
    assert_eq!(
        fds(&s, 10),
        vec![
            (3, "/etc/passwd".into()),
            (4, "/tmp/a".into()),
            (7, "/etc/passwd".into())
        ]
    );
    s.apply(&sys(10, CLOSE, &[4], 0, vec![]));
    s.apply(&ev(
        10,
        10,
        EventBody::Exec(Exec {
            comm: b"cat".to_vec(),
            argv: vec![b"cat".to_vec()],
            ..Exec::default()
        }),
    ));
    // fd 3 was O_CLOEXEC; the dup (7) is not.
    assert_eq!(fds(&s, 10), vec![(7, "/etc/passwd".into())]);
    let snap = s.snapshot();
    assert_eq!(snap.processes[0].comm, b"cat");
    assert_eq!(snap.processes[0].exe, b"cat");
}

#[test]
fn fork_copies_clone_files_shares_threads_join() {
    let mut s = state_with(10);
    s.apply(&sys(10, OPENAT, &[0, 0, 0, 0], 3, vec![path(1, "/a")]));
    let start = |child: i32, pid: i32, flags: u64| {
        ev(
            pid,
            child,
            EventBody::ProcessStart(ProcessStart {
                parent_tid: 10,
                child_pid: pid,
                child_tid: child,
                clone_flags: flags,
            }),
        )
    };
    s.apply(&start(11, 11, 17)); // fork
    s.apply(&start(12, 12, CLONE_FILES | CLONE_FS)); // shares fds and cwd
    s.apply(&start(13, 10, CLONE_THREAD | CLONE_FILES | CLONE_FS)); // thread
    s.apply(&sys(10, CLOSE, &[3], 0, vec![]));
    assert_eq!(fds(&s, 11), vec![(3, "/a".into())]);
    assert!(fds(&s, 12).is_empty(), "CLONE_FILES shares the table");
    s.apply(&sys(12, CHDIR, &[0], 0, vec![path(0, "/tmp")]));
    let snap = s.snapshot();
    let p = |pid| {
        snap.processes
            .iter()
            .find(|p| p.pid == pid)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(p(10).cwd, b"/tmp", "CLONE_FS shares the cwd");
    assert_eq!(p(11).cwd, b"/home");
    assert_eq!(p(11).ppid, 10);
    assert_eq!(
        p(10).threads.iter().map(|t| t.tid).collect::<Vec<_>>(),
        vec![10, 13]
    );
    s.apply(&ev(
        10,
        13,
        EventBody::ThreadExit(ThreadExit {
            status: 0,
            process_exit: false,
        }),
    ));
    s.apply(&ev(
        11,
        11,
        EventBody::ThreadExit(ThreadExit {
            status: 0,
            process_exit: true,
        }),
    ));
    let snap = s.snapshot();
    assert_eq!(
        snap.processes.iter().map(|p| p.pid).collect::<Vec<_>>(),
        vec![10, 12]
    );
    assert_eq!(snap.processes[0].threads.len(), 1);
}

#[test]
fn sockets_connect_accept_and_names() {
    let mut s = state_with(10);
    let sa = |addr: [u8; 4], port| {
        Value::SockAddr(SockAddr {
            family: 2,
            addr: addr.to_vec(),
            port,
            ..SockAddr::default()
        })
    };
    s.apply(&sys(10, SOCKET, &[2, 1 | 0o2000000, 6], 3, vec![]));
    s.apply(&sys(
        10,
        BIND,
        &[3, 0, 16],
        0,
        vec![Param {
            index: 1,
            value: sa([127, 0, 0, 1], 8080),
        }],
    ));
    s.apply(&sys(10, LISTEN, &[3, 128], 0, vec![]));
    s.apply(&sys(
        10,
        ACCEPT4,
        &[3, 0, 0, 0o4000],
        4,
        vec![Param {
            index: result_index::SOCKADDR_OUT,
            value: sa([127, 0, 0, 1], 40000),
        }],
    ));
    s.apply(&sys(10, SOCKET, &[2, 1, 0], 5, vec![]));
    s.apply(&sys(
        10,
        CONNECT,
        &[5, 0, 16],
        -115,
        vec![
            Param {
                index: 1,
                value: sa([10, 0, 0, 1], 443),
            },
            Param {
                index: result_index::EXTRA,
                value: sa([10, 0, 0, 2], 5555),
            },
        ],
    ));
    let name = |fd| {
        s.fd(10, fd)
            .map(|e| String::from_utf8_lossy(&fd_table::display_name(e)).into_owned())
    };
    assert_eq!(name(3).as_deref(), Some("127.0.0.1:8080"));
    assert_eq!(name(4).as_deref(), Some("127.0.0.1:40000->127.0.0.1:8080"));
    assert_eq!(name(5).as_deref(), Some("10.0.0.2:5555->10.0.0.1:443"));
    assert_eq!(s.fd(10, 4).map(|e| e.fd.kind), Some(FdKind::Ipv4Socket));
    assert_eq!(s.fd(10, 3).map(|e| e.fd.flags), Some(0o2000000));
}

#[test]
fn pipes_fcntl_close_range_and_creds() {
    let mut s = state_with(10);
    s.apply(&sys(
        10,
        PIPE2,
        &[0, 0o2000000],
        0,
        vec![Param {
            index: result_index::FD_PAIR,
            value: Value::FdPair(3, 4),
        }],
    ));
    s.apply(&sys(10, FCNTL, &[3, 1030, 10], 10, vec![]));
    s.apply(&sys(10, FCNTL, &[4, 2, 0], 0, vec![]));
    assert_eq!(s.fd(10, 10).map(|e| e.fd.kind), Some(FdKind::Pipe));
    assert_eq!(s.fd(10, 4).map(|e| e.fd.flags & 0o2000000), Some(0));
    s.apply(&sys(10, CLOSE_RANGE, &[4, u32::MAX as u64, 0], 0, vec![]));
    assert_eq!(fds(&s, 10).len(), 1);
    s.apply(&sys(10, SETRESUID, &[1000, 1000, 1000], 0, vec![]));
    let p = &s.snapshot().processes[0];
    assert_eq!((p.uid, p.euid, p.suid, p.fsuid), (1000, 1000, 1000, 1000));
}

#[test]
fn capset_sets_the_three_sets() {
    let mut s = state_with(10);
    let mut data = Vec::new();
    for w in [0x1u32, 0x3, 0x0, 0x1, 0x1, 0x0] {
        data.extend_from_slice(&w.to_ne_bytes());
    }
    s.apply(&sys(
        10,
        CAPSET,
        &[0, 0],
        0,
        vec![Param {
            index: 1,
            value: Value::Bytes { data, len: 24 },
        }],
    ));
    let p = &s.snapshot().processes[0];
    assert_eq!(p.cap_effective, 0x1_0000_0001);
    assert_eq!(p.cap_permitted, 0x1_0000_0003);
    assert_eq!(p.cap_inheritable, 0);
}

#[test]
fn orphans_are_reparented_to_the_reaper() {
    // 10 (parent 5: capture, not in the table) -> 11 -> 12 -> 13.
    let mut s = State::default();
    s.seed(Process {
        pid: 10,
        ppid: 5,
        ..Process::default()
    });
    let fork = |parent: i32, child: i32| {
        ev(
            parent,
            child,
            EventBody::ProcessStart(ProcessStart {
                parent_tid: parent,
                child_pid: child,
                child_tid: child,
                clone_flags: 17,
            }),
        )
    };
    let exit = |pid: i32| {
        ev(
            pid,
            pid,
            EventBody::ThreadExit(ThreadExit {
                status: 0,
                process_exit: true,
            }),
        )
    };
    s.apply(&fork(10, 11));
    s.apply(&fork(11, 12));
    s.apply(&fork(12, 13));
    let ppid = |s: &State, pid: i32| {
        s.snapshot()
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .map(|p| p.ppid)
    };
    assert_eq!(ppid(&s, 12), Some(11));
    // 11 dies: 12 goes to the reaper (capture, 10's parent), not to 10.
    s.apply(&exit(11));
    assert_eq!(ppid(&s, 12), Some(5));
    assert_eq!(ppid(&s, 13), Some(12), "grandchildren keep their parent");
    // The workload's root dies: its children go to capture too.
    s.apply(&fork(10, 14));
    s.apply(&exit(10));
    assert_eq!(ppid(&s, 14), Some(5));
    // A root without a known parent: PID 1.
    let mut s = State::default();
    s.seed(Process {
        pid: 20,
        ppid: 0,
        ..Process::default()
    });
    s.apply(&fork(20, 21));
    s.apply(&exit(20));
    assert_eq!(ppid(&s, 21), Some(1));
}

#[test]
fn close_releases_its_fd_whatever_was_observed_of_its_return() {
    let mut s = state_with(10);
    for fd in 3..7 {
        s.apply(&sys(10, OPEN, &[0, 0], fd, vec![path(0, "/tmp/a")]));
    }
    // Success, EINTR and EIO release the fd; EBADF had none to release.
    s.apply(&sys(10, CLOSE, &[3], 0, vec![]));
    s.apply(&sys(10, CLOSE, &[4], -4, vec![]));
    s.apply(&sys(10, CLOSE, &[5], -9, vec![]));
    // No return observed (recorded from its entry stop): released.
    s.apply(&ev(
        10,
        10,
        EventBody::Syscall(SyscallEvent {
            id: CLOSE,
            args: vec![6],
            no_return: true,
            ..SyscallEvent::default()
        }),
    ));
    assert_eq!(fds(&s, 10), vec![(5, "/tmp/a".into())]);
}

#[test]
fn a_close_recorded_after_another_threads_reuse_keeps_the_new_fd() {
    // Thread 10 opens fd 3 at t=10 and closes it (entered t=40, returned
    // t=60); thread 11 of the same process reuses 3 (open returned at
    // t=50), recorded before the close returned.
    let mut s = state_with(10);
    let at = |ts: u64, tid: i32, id: u16, args: &[u64], ret: i64, dur: u32, p: Vec<Param>| Event {
        ts,
        tid,
        pid: 10,
        body: EventBody::Syscall(SyscallEvent {
            id,
            args: args.to_vec(),
            ret,
            duration_ns: dur,
            params: p,
            ..SyscallEvent::default()
        }),
    };
    s.apply(&at(10, 10, OPEN, &[0, 0], 3, 5, vec![path(0, "/tmp/old")]));
    s.apply(&at(50, 11, OPEN, &[0, 0], 3, 5, vec![path(0, "/tmp/new")]));
    s.apply(&at(60, 10, CLOSE, &[3], 0, 20, vec![]));
    assert_eq!(fds(&s, 10), vec![(3, "/tmp/new".into())]);
    // A close that entered after the reuse closes it.
    s.apply(&at(80, 11, CLOSE, &[3], 0, 10, vec![]));
    assert_eq!(fds(&s, 10), vec![]);
}

#[test]
fn a_process_the_state_does_not_know_still_has_its_fds() {
    // Pid 77 has no snapshot entry and no start (a synthetic trace, an
    // imported capture whose process list missed it): its opens are kept,
    // as libsinsp keeps them for a thread it made up; no process appears.
    let mut s = State::default();
    s.apply(&sys(77, OPEN, &[0, 0], 5, vec![path(0, "/etc/passwd")]));
    assert_eq!(
        s.fd(77, 5).map(|e| e.fd.path.clone()),
        Some(b"/etc/passwd".to_vec())
    );
    assert!(s.table().process(77).is_none());
    assert!(s.snapshot().processes.is_empty());
    s.apply(&sys(77, CLOSE, &[5], 0, vec![]));
    assert!(s.fd(77, 5).is_none());
    // A close of a pid with no fds makes no table.
    s.apply(&sys(78, CLOSE, &[5], 0, vec![]));
    assert!(s.table().fds(78).is_none());
    // Once the process is known, the made-up table is gone.
    s.apply(&sys(77, OPEN, &[0, 0], 6, vec![path(0, "/etc/group")]));
    s.seed(Process {
        pid: 77,
        comm: b"x".to_vec(),
        ..Process::default()
    });
    assert!(s.fd(77, 6).is_none());
}

#[test]
fn a_process_taken_from_one_copy_seeds_another_with_its_fds_and_cwd() {
    let mut a = state_with(10);
    a.apply(&sys(10, OPENAT, &[0, 0, 0, 0], 3, vec![path(1, "/a")]));
    a.apply(&ev(
        11,
        11,
        EventBody::ProcessStart(ProcessStart {
            parent_tid: 10,
            child_pid: 11,
            child_tid: 11,
            clone_flags: 17,
        }),
    ));
    let moved = a.take_process(11).expect("the child is there");
    assert!(a.table().process(11).is_none(), "gone from the first copy");
    assert_eq!(fds(&a, 10), vec![(3, "/a".into())], "the parent stays");
    let mut b = State::default();
    b.seed(moved);
    assert_eq!(fds(&b, 11), vec![(3, "/a".into())]);
    assert_eq!(b.cwd(11), Some(&b"/home"[..]));
    // The moved copy follows the child's own events, as the first did.
    b.apply(&sys(11, CLOSE, &[3], 0, vec![]));
    assert!(fds(&b, 11).is_empty());
    assert_eq!(a.take_process(11), None);
}
