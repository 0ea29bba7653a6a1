//! `capture -- CMD`: launching, exit statuses, errors, and what simple
//! programs' syscalls look like in the trace.

use std::collections::HashSet;

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, MarkerKind, Value, result_index};

fn skip() -> bool {
    !ptrace_permitted()
}

#[test]
fn exit_code_is_propagated() {
    if skip() {
        return;
    }
    let w = Work::new();
    let out = w.capture(&["-q"], &["sh", "-c", "exit 7"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "-q prints nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    let exits: Vec<_> = t
        .bodies(|b| match b {
            EventBody::ThreadExit(x) if x.process_exit => Some(x),
            _ => None,
        })
        .collect();
    assert!(
        exits
            .iter()
            .any(|(_, x)| libc::WIFEXITED(x.status) && libc::WEXITSTATUS(x.status) == 7)
    );
}

#[test]
fn stdout_and_stderr_are_the_workloads() {
    if skip() {
        return;
    }
    let w = Work::new();
    let out = w.capture(&[], &["sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("err\n"), "{err}");
    // The summary line.
    assert!(err.contains("events"), "{err}");
}

#[test]
fn command_not_found_is_127() {
    if skip() {
        return;
    }
    let w = Work::new();
    let out = w.capture(&[], &["/nonexistent/no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not found"), "{err}");
    let out = w.capture(&[], &["no-such-command-in-path-xyz"]);
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn killed_by_signal_is_128_plus_n() {
    if skip() {
        return;
    }
    let w = Work::new();
    let out = w.capture(&["-q"], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(128 + 9));
    let out = w.capture(&["-q"], &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15));
    let t = w.trace();
    assert!(
        t.signals().iter().any(|(signo, _)| *signo == libc::SIGTERM),
        "the SIGTERM delivery is recorded"
    );
}

#[test]
fn unwritable_output_fails_before_the_workload_runs() {
    if skip() {
        return;
    }
    let w = Work::new();
    let marker = w.path("ran");
    let mut c = std::process::Command::new(capture_bin());
    c.args(["-o", "/nonexistent-dir/t.zst", "--", "touch"])
        .arg(&marker);
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not writable"));
    assert!(!marker.exists(), "the workload must not run");
}

#[test]
fn sh_chain_records_execs_and_parentage() {
    if skip() {
        return;
    }
    let w = Work::new();
    let out = w.capture(&["-q"], &["sh", "-c", "/bin/echo hello; /bin/true"]);
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let execs: Vec<_> = t.execs().collect();
    let argvs: Vec<Vec<String>> = execs
        .iter()
        .map(|(_, x)| {
            x.argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect();
    assert!(
        argvs.contains(&vec![
            "sh".into(),
            "-c".into(),
            "/bin/echo hello; /bin/true".into()
        ]),
        "{argvs:?}"
    );
    assert!(
        argvs.contains(&vec!["/bin/echo".into(), "hello".into()]),
        "{argvs:?}"
    );
    let sh_pid = execs[0].0.pid;
    let echo = execs
        .iter()
        .find(|(_, x)| x.argv.first().is_some_and(|a| a == b"/bin/echo"));
    let echo_pid = echo.map(|(e, _)| e.pid).unwrap_or_default();
    assert_ne!(sh_pid, echo_pid);
    assert_eq!(echo.map(|(_, x)| x.comm.as_slice()), Some(&b"echo"[..]));
    assert!(echo.is_some_and(|(_, x)| x.exepath.ends_with(b"/echo")));
    // echo's process was started by sh.
    let start = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) => Some(p),
            _ => None,
        })
        .find(|(_, p)| p.child_pid == echo_pid);
    assert!(start.is_some(), "ProcessStart for echo");
    let parent_tid = start.map(|(_, p)| p.parent_tid).unwrap_or_default();
    assert_eq!(parent_tid, sh_pid);
    // And its execve syscall returned 0 with the path decoded.
    let (_, ex) = t
        .syscalls("execve")
        .find(|(e, s)| e.pid == echo_pid && s.ret == 0)
        .unwrap_or_else(|| panic!("no execve of echo: {:?}", t.syscall_names()));
    assert_eq!(path_of(ex, 0).as_deref(), Some("/bin/echo"));
    // The markers.
    let kinds: Vec<MarkerKind> = t.markers().map(|(_, m)| m.kind).collect();
    assert_eq!(kinds.first(), Some(&MarkerKind::CaptureStart));
    assert_eq!(kinds.last(), Some(&MarkerKind::CaptureStop));
    // Both exits recorded, sh's last.
    let exits: Vec<i32> = t
        .bodies(|b| match b {
            EventBody::ThreadExit(x) if x.process_exit => Some(x),
            _ => None,
        })
        .map(|(e, _)| e.pid)
        .collect();
    assert!(exits.contains(&echo_pid));
    assert_eq!(exits.last(), Some(&sh_pid));
    // Timestamps never go backwards.
    assert!(t.events.windows(2).all(|w| w[0].ts <= w[1].ts));
}

#[test]
fn cat_of_a_known_file() {
    if skip() {
        return;
    }
    let w = Work::new();
    let f = w.path("known.txt");
    std::fs::write(&f, "sysrec-known-content\n").unwrap_or_else(|e| panic!("{e}"));
    let out = w.capture(&["-q"], &["cat", f.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"sysrec-known-content\n");
    let t = w.trace();
    let want = f.to_string_lossy().into_owned();
    let (open_ev, open) = t
        .syscalls("openat")
        .find(|(_, s)| path_of(s, 1).as_deref() == Some(want.as_str()))
        .unwrap_or_else(|| panic!("no openat of {want}: {:?}", t.syscall_names()));
    let fd = open.ret;
    assert!(fd >= 0);
    let (_, read) = t
        .syscalls("read")
        .find(|(e, s)| {
            e.pid == open_ev.pid && e.ts >= open_ev.ts && s.args[0] as i64 == fd && s.ret > 0
        })
        .unwrap_or_else(|| panic!("no read of fd {fd}"));
    match param(read, result_index::BUFFER_OUT) {
        Some(Value::Bytes { data, len }) => {
            assert_eq!(data.as_slice(), b"sysrec-known-content\n");
            assert_eq!(*len, 21);
        }
        other => panic!("read buffer: {other:?}"),
    }
    match param(read, result_index::FD_NAME) {
        Some(Value::Str(n)) => assert_eq!(String::from_utf8_lossy(n), want),
        other => panic!("fd name: {other:?}"),
    }
    // cat writes it to stdout, the snaplen-limited buffer is kept.
    assert!(t.syscalls("write").any(|(_, s)| matches!(
        param(s, 1),
        Some(Value::Bytes { data, .. }) if data.as_slice() == b"sysrec-known-content\n"
    )));
    assert!(
        t.syscalls("close")
            .any(|(_, s)| s.args[0] as i64 == fd && s.ret == 0)
    );
}

#[test]
fn failed_open_has_enoent() {
    if skip() {
        return;
    }
    let w = Work::new();
    let out = w.capture(&["-q"], &["cat", "/nonexistent/sysrec-file"]);
    assert_eq!(out.status.code(), Some(1));
    let t = w.trace();
    let (_, s) = t
        .syscalls("openat")
        .find(|(_, s)| path_of(s, 1).as_deref() == Some("/nonexistent/sysrec-file"))
        .unwrap_or_else(|| panic!("no failed openat"));
    assert_eq!(s.ret, -(libc::ENOENT as i64));
}

#[test]
fn relative_paths_resolve_through_the_cwd() {
    if skip() {
        return;
    }
    let w = Work::new();
    let dir = w.dir.path().to_string_lossy().into_owned();
    let out = w.capture(
        &["-q"],
        &[
            "sh",
            "-c",
            &format!("cd {dir} && cat ./missing-rel 2>/dev/null; true"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let want = format!("{dir}/missing-rel");
    assert!(
        t.syscalls("openat")
            .any(|(_, s)| path_of(s, 1).as_deref() == Some(want.as_str())),
        "{want} not found"
    );
}

#[test]
fn snapshot_holds_the_process_table() {
    if skip() {
        return;
    }
    let w = Work::new();
    // Small chunks so later chunks' snapshots show the running processes.
    let out = w.capture(
        &["-q", "--chunk-size", "2K"],
        &[
            "sh",
            "-c",
            "exec 9</etc/hostname; cat /etc/hostname >/dev/null; sleep 0.1",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    assert!(t.snapshots.len() > 1, "several chunks");
    let with_fd9 = t
        .snapshots
        .iter()
        .flat_map(|s| s.processes.iter())
        .any(|p| {
            p.fds
                .iter()
                .any(|f| f.num == 9 && f.path == b"/etc/hostname")
        });
    assert!(with_fd9, "fd 9 -> /etc/hostname in some snapshot");
    let pids: HashSet<i32> = t
        .snapshots
        .iter()
        .flat_map(|s| s.processes.iter().map(|p| p.pid))
        .collect();
    assert!(!pids.is_empty());
    assert!(!t.meta.hostname.is_empty());
    assert!(!t.meta.users.is_empty(), "users from /etc/passwd");
    assert_eq!(t.meta.snaplen, 80);
}

#[test]
fn runs_as_pid_1_and_reaps_orphans() {
    if skip() || !e2e_tests::have("unshare") {
        return;
    }
    let w = Work::new();
    let mut c = std::process::Command::new("unshare");
    c.args(["-fp", "--mount-proc"])
        .arg(capture_bin())
        .arg("-q")
        .arg("-o")
        .arg(w.trace_path())
        .args([
            "--",
            "sh",
            "-c",
            "echo parent=$PPID; (sh -c 'sleep 0.1; exit 5' &); sleep 0.5; exit 3",
        ]);
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    if String::from_utf8_lossy(&out.stderr).contains("unshare failed") {
        eprintln!("skipped: cannot create a pid namespace");
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "parent=1\n",
        "capture is PID 1"
    );
    let t = w.trace();
    // The orphan (reparented to capture, PID 1) was followed to its exit.
    assert!(
        t.bodies(|b| match b {
            EventBody::ThreadExit(x) if x.process_exit => Some(x),
            _ => None,
        })
        .any(|(_, x)| libc::WIFEXITED(x.status) && libc::WEXITSTATUS(x.status) == 5),
        "the orphan's exit is recorded"
    );
}
