//! `capture --pid PID`: attach to a running process, record, detach, and
//! leave it running untraced.

use std::process::{Command, Stdio};
use std::time::Duration;

use e2e_tests::capture_support::*;
use trace_format::model::MarkerKind;

const LOOP: &str = r#"
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
static void *spin(void *a) {
    (void)a;
    for (;;) { getppid(); usleep(20000); }
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    int fd = open("/etc/hostname", O_RDONLY);
    (void)fd;
    for (;;) {
        int f = open("/nonexistent/attach-probe", O_RDONLY);
        if (f >= 0) close(f);
        usleep(20000);
    }
}
"#;

#[test]
fn attach_record_detach_leaves_it_running() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("loop", LOOP, &["-pthread"]) else {
        return;
    };
    let target = Killer(
        Command::new(&bin)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn loop: {e}")),
    );
    let pid = target.0.id();
    assert!(wait_until(LIMIT, || std::fs::read_dir(format!(
        "/proc/{pid}/task"
    ))
    .map(|d| d.count())
    .unwrap_or(0)
        == 2));
    let mut cap = w.attach(pid, &[]);
    std::thread::sleep(Duration::from_millis(300));
    kill(cap.id(), libc::SIGINT);
    let st = wait_child(&mut cap, LIMIT);
    assert_eq!(st.code(), Some(0));
    // Still running, no longer traced, not stopped.
    assert_eq!(status_field(pid, "TracerPid").as_deref(), Some("0"));
    assert!(
        matches!(proc_state(pid), Some('S' | 'R')),
        "{:?}",
        proc_state(pid)
    );
    let mut target = target;
    assert!(
        target.0.try_wait().ok().flatten().is_none(),
        "the target is alive"
    );

    let t = w.trace();
    let kinds: Vec<MarkerKind> = t.markers().map(|(_, m)| m.kind).collect();
    assert!(kinds.contains(&MarkerKind::Attach), "{kinds:?}");
    assert!(kinds.contains(&MarkerKind::Detach), "{kinds:?}");
    let pid = pid as i32;
    assert!(
        t.syscalls("getppid")
            .any(|(e, _)| e.pid == pid && e.tid != pid),
        "the second thread is recorded"
    );
    assert!(t.syscalls("openat").any(
        |(e, s)| e.pid == pid && path_of(s, 1).as_deref() == Some("/nonexistent/attach-probe")
    ));
    // The snapshot was seeded from /proc: argv, threads, the open fd.
    let p = t.snapshots[0]
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("target in the snapshot"));
    assert_eq!(p.threads.len(), 2);
    assert_eq!(
        p.argv.first().map(|a| a.as_slice()),
        Some(bin.as_os_str().as_encoded_bytes())
    );
    assert!(
        p.fds.iter().any(|f| f.path == b"/etc/hostname"),
        "{:?}",
        p.fds
    );
    assert!(!p.cwd.is_empty());
    kill(pid as u32, libc::SIGKILL);
    let _ = target.0.wait();
}

#[test]
fn attach_to_a_missing_pid_fails() {
    let w = Work::new();
    let mut c = Command::new(capture_bin());
    c.arg("-o")
        .arg(w.trace_path())
        .args(["--pid", "2147483647"]);
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such process"));
}

#[test]
fn attach_ends_when_the_target_exits() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    // The target exits when its stdin closes, which the test does only once
    // capture is attached: no race with capture's start-up.
    let mut target = Command::new("sh")
        .args(["-c", "read x; exit 3"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let pid = target.id();
    let mut cap = w.attach(pid, &[]);
    drop(target.stdin.take());
    let st = wait_child(&mut cap, LIMIT);
    assert_eq!(st.code(), Some(0), "capture ends with the target");
    let st = wait_child(&mut target, LIMIT);
    assert_eq!(st.code(), Some(3), "its parent still gets its status");
}
