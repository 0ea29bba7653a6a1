//! Ways out of the record, closed: outliving the launched command,
//! io_uring, ptrace of capture itself, killing capture, and entering the
//! PID namespace from outside.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, MarkerKind};

fn opened(t: &Trace, suffix: &str) -> bool {
    t.syscalls("openat")
        .any(|(_, s)| s.ret >= 0 && path_of(s, 1).is_some_and(|p| p.ends_with(suffix)))
}

fn markers(t: &Trace, kind: MarkerKind) -> Vec<String> {
    t.bodies(|b| match b {
        EventBody::Marker(m) if m.kind == kind => Some(m),
        _ => None,
    })
    .map(|(_, m)| m.message.clone())
    .collect()
}

#[test]
fn a_background_child_outliving_its_parent_is_recorded_to_its_end() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let secret = w.path("secret.txt");
    std::fs::write(&secret, "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
    let script = format!("(sleep 1; cat {} > /dev/null) & exit 4", secret.display());
    let out = w.capture(&["-q"], &["sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(4), "the launched command's status");
    let t = w.trace();
    assert!(opened(&t, "secret.txt"), "the late cat's open is recorded");
    assert!(
        t.syscalls("read").any(|(_, s)| s.ret == 7),
        "and its read of the file"
    );
}

#[test]
fn detach_on_exit_releases_survivors_and_says_so() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let done = w.path("done");
    let script = format!("(sleep 1; touch {}) & exit 0", done.display());
    let out = w.capture(&["-q", "--detach-on-exit"], &["sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let detach = markers(&t, MarkerKind::Detach);
    assert!(
        detach.iter().any(|m| m.contains("--detach-on-exit")),
        "{detach:?}"
    );
    // The released process keeps working untraced.
    assert!(wait_until(LIMIT, || done.exists()), "the survivor ran on");
    assert!(!opened(&t, "done"));
}

/// Calls io_uring_setup(4, &params) directly; prints `ok` or the errno.
const IO_URING: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    unsigned char params[120];
    memset(params, 0, sizeof params);
    long fd = syscall(425, 4, params);
    if (fd >= 0) { printf("ok\n"); close(fd); } else printf("errno %d\n", errno);
    return 0;
}
"#;

#[test]
fn io_uring_is_denied_unless_allowed_and_an_allowed_one_is_marked() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("uring", IO_URING, &[]) else {
        return;
    };
    let bin = bin.to_str().unwrap_or_default();
    let native = Command::new(bin)
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let native = String::from_utf8_lossy(&native.stdout).into_owned();
    for extra in [&["-q"][..], &["-q", "--syscalls", "file"][..]] {
        let out = w.capture(extra, &[bin]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("errno {}\n", libc::ENOSYS),
            "{extra:?}"
        );
        let t = w.trace();
        let (_, s) = t
            .syscalls("io_uring_setup")
            .next()
            .unwrap_or_else(|| panic!("io_uring_setup recorded {extra:?}"));
        assert_eq!(s.ret, -(libc::ENOSYS as i64));
        let denied = markers(&t, MarkerKind::Denied);
        assert!(
            denied.iter().any(|m| m.contains("io_uring_setup")),
            "{denied:?}"
        );
        assert!(t.meta.unrecorded_io.is_empty());
    }
    let out = w.capture(&["-q", "--allow-io-uring"], &[bin]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        native,
        "allowed: as without capture"
    );
    let t = w.trace();
    assert!(markers(&t, MarkerKind::Denied).is_empty());
    assert!(
        t.meta.unrecorded_io.iter().any(|u| u.contains("io_uring")),
        "{:?}",
        t.meta.unrecorded_io
    );
    let out = e2e_tests::run_with_timeout(
        Command::new(e2e_tests::bin("replay"))
            .arg(w.trace_path())
            .arg("--stats"),
        LIMIT,
    );
    let stats = String::from_utf8_lossy(&out.stdout);
    assert!(stats.contains("unrecorded I/O paths: 1"), "{stats}");
}

/// ptrace(PTRACE_ATTACH) and ptrace(PTRACE_SEIZE) of its parent (capture).
const PTRACE_PARENT: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) {
    long a = ptrace(PTRACE_ATTACH, getppid(), 0, 0);
    int ea = errno;
    long s = ptrace(PTRACE_SEIZE, getppid(), 0, 0);
    int es = errno;
    printf("%ld %d %ld %d\n", a, ea, s, es);
    return 0;
}
"#;

#[test]
fn a_workload_cannot_ptrace_capture() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("ptparent", PTRACE_PARENT, &[]) else {
        return;
    };
    for extra in [&["-q"][..], &["-q", "--syscalls", "net"][..]] {
        let out = w.capture(extra, &[bin.to_str().unwrap_or_default()]);
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("-1 {} -1 {}\n", libc::EPERM, libc::EPERM),
            "{extra:?}"
        );
        let t = w.trace();
        let denied = markers(&t, MarkerKind::Denied);
        assert_eq!(
            denied.iter().filter(|m| m.contains("ptrace")).count(),
            2,
            "{denied:?}"
        );
        assert!(
            t.syscalls("ptrace")
                .all(|(_, s)| s.ret == -(libc::EPERM as i64))
        );
    }
}

/// Opens `mark-1`, says so, then waits quietly to be killed.
const MARK_THEN_WAIT: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    int fd = open(argv[1], O_RDONLY);
    printf("opened %d\n", fd >= 0);
    fflush(stdout);
    for (;;) pause();
}
"#;

#[test]
fn a_killed_capture_loses_at_most_one_flush_interval() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("mark", MARK_THEN_WAIT, &[]) else {
        return;
    };
    let mark = w.path("mark-1");
    std::fs::write(&mark, "").unwrap_or_else(|e| panic!("{e}"));
    let mut c = w.spawn_capture(
        &["-q", "--flush-interval", "200"],
        &[
            bin.to_str().unwrap_or_default(),
            mark.to_str().unwrap_or_default(),
        ],
    );
    let Some(out) = c.stdout.take() else {
        panic!("no stdout");
    };
    let mut line = String::new();
    let _ = BufReader::new(out).read_line(&mut line);
    assert_eq!(line, "opened 1\n");
    // The workload is quiet now: only the flush interval can close the
    // chunk holding its open. Wait a few intervals, then kill capture.
    std::thread::sleep(Duration::from_millis(1000));
    kill(c.id(), libc::SIGKILL);
    let _ = wait_child(&mut c, LIMIT);
    let mut partial = w.trace_path().into_os_string();
    partial.push(".partial");
    // A killed capture's trace says it was not closed; every chunk written
    // is read.
    let r = trace_format::TraceReader::open(std::path::Path::new(&partial))
        .unwrap_or_else(|e| panic!("open the .partial: {e}"));
    let mut t = Trace::default();
    for c in r.chunks() {
        match c {
            Ok(c) => t.events.extend(c.to_model().events),
            Err(e) => assert!(e.to_string().contains("not closed normally"), "{e}"),
        }
    }
    assert!(
        opened(&t, "mark-1"),
        "the open before the kill is on disk: {:?}",
        t.syscall_names()
    );
}

#[test]
fn a_process_entering_the_pid_namespace_from_outside_is_attached() {
    if !ptrace_permitted() || !e2e_tests::require("unshare") || !e2e_tests::require("nsenter") {
        return;
    }
    let w = Work::new();
    let stop = w.path("stop");
    let secret = w.path("secret.txt");
    std::fs::write(&secret, "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
    let main = format!(
        "echo ready; while [ ! -e {} ]; do sleep 0.05; done",
        stop.display()
    );
    let mut un = Killer(
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(capture_bin())
            .arg("-q")
            .arg("-o")
            .arg(w.trace_path())
            .args(["--", "sh", "-c", &main])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn unshare: {e}")),
    );
    let Some(out) = un.0.stdout.take() else {
        panic!("no stdout");
    };
    let mut line = String::new();
    let _ = BufReader::new(out).read_line(&mut line);
    if line != "ready\n" {
        let _ = un.0.kill();
        let mut err = String::new();
        if let Some(mut e) = un.0.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot create a pid namespace: {err}"
        );
        eprintln!("skipped: cannot create a pid namespace: {err}");
        return;
    }
    // capture: unshare's child (host pid).
    assert!(wait_until(LIMIT, || children(un.0.id()).len() == 1));
    let cap = children(un.0.id())[0];
    // Entered from outside: it waits until it is traced (its child grep's
    // TracerPid is capture, PID 1 of the namespace), then reads the file.
    let entered = format!(
        "until grep -q '^TracerPid:[[:space:]]*1$' /proc/self/status; do sleep 0.02; done; cat {} > /dev/null; touch {}",
        secret.display(),
        stop.display()
    );
    let started = Instant::now();
    let out = e2e_tests::run_with_timeout(
        Command::new("nsenter")
            .args(["--target", &cap.to_string(), "--pid", "--mount", "--"])
            .args(["sh", "-c", &entered]),
        LIMIT,
    );
    eprintln!(
        "entered process attached and done after {:?}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = wait_child(&mut un.0, LIMIT);
    assert!(st.success(), "{st:?}");
    let t = w.trace();
    let attach = markers(&t, MarkerKind::Attach);
    assert!(
        attach
            .iter()
            .any(|m| m.contains("entered the PID namespace from outside")),
        "{attach:?}"
    );
    assert!(opened(&t, "secret.txt"), "its child's open is recorded");
    // Its real parentage: no parent inside the namespace.
    let starts: Vec<_> = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) if p.parent_tid == 0 => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
}
