//! Signal transparency: forwarding to the workload, job-control stops,
//! stop notifications reaching the real parent.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, SignalAction};

const TERM_HANDLER: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void on_term(int s) { (void)s; _exit(42); }
int main(void) {
    signal(SIGTERM, on_term);
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
"#;

fn wait_ready(child: &mut std::process::Child) {
    let Some(out) = child.stdout.take() else {
        panic!("no stdout");
    };
    let mut line = String::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the workload never blocks on a full pipe.
        let mut rest = String::new();
        while r.read_line(&mut rest).is_ok_and(|n| n > 0) {}
    });
    match rx.recv_timeout(LIMIT) {
        Ok(l) => assert_eq!(l, "ready\n"),
        Err(_) => {
            let _ = child.kill();
            panic!("workload never became ready");
        }
    }
}

#[test]
fn sigterm_to_capture_reaches_the_workload() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("term", TERM_HANDLER, &[]) else {
        return;
    };
    let mut c = w.spawn_capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    wait_ready(&mut c);
    kill(c.id(), libc::SIGTERM);
    let st = wait_child(&mut c, LIMIT);
    assert_eq!(
        st.code(),
        Some(42),
        "the workload's handler decided the status"
    );
    let t = w.trace();
    let sigs: Vec<_> = t.signals();
    assert!(
        sigs.contains(&(libc::SIGTERM, SignalAction::Forwarded)),
        "{sigs:?}"
    );
    assert!(
        sigs.contains(&(libc::SIGTERM, SignalAction::Delivered)),
        "{sigs:?}"
    );
    assert_eq!(
        sigs.iter()
            .filter(|(s, a)| *s == libc::SIGTERM && *a == SignalAction::Delivered)
            .count(),
        1,
        "delivered exactly once"
    );
}

const TICKER: &str = r#"
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("ready\n");
    fflush(stdout);
    for (int i = 1; i <= 150; i++) {
        char b[32];
        int n = snprintf(b, sizeof b, "%010d", i);
        pwrite(fd, b, n, 0);
        usleep(10000);
    }
    return 0;
}
"#;

fn counter(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn sigstop_really_stops_and_sigcont_resumes() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("ticker", TICKER, &[]) else {
        return;
    };
    let file = w.path("counter");
    let mut c = w.spawn_capture(
        &["-q"],
        &[
            bin.to_str().unwrap_or_default(),
            file.to_str().unwrap_or_default(),
        ],
    );
    wait_ready(&mut c);
    let workload = children(c.id());
    assert_eq!(workload.len(), 1, "one workload process");
    let wp = workload[0];
    kill(wp, libc::SIGSTOP);
    // 't' alone would also match a syscall-stop: the counter (bumped every
    // 10 ms while running) must also hold still for 200 ms.
    assert!(
        wait_until(LIMIT, || {
            let a = counter(&file);
            std::thread::sleep(Duration::from_millis(200));
            counter(&file) == a && matches!(proc_state(wp), Some('T' | 't'))
        }),
        "the workload stops"
    );
    let before = counter(&file);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(&file), before, "no progress while stopped");
    assert!(
        c.try_wait().ok().flatten().is_none(),
        "capture is still running"
    );
    kill(wp, libc::SIGCONT);
    assert!(
        wait_until(LIMIT, || counter(&file) > before),
        "progress after SIGCONT"
    );
    let st = wait_child(&mut c, LIMIT);
    assert_eq!(st.code(), Some(0));
    assert_eq!(counter(&file), 150);
    let t = w.trace();
    let sigs: Vec<_> = t.signals();
    assert!(
        sigs.contains(&(libc::SIGSTOP, SignalAction::Stopped)),
        "{sigs:?}"
    );
    assert!(
        sigs.contains(&(libc::SIGCONT, SignalAction::Delivered)),
        "{sigs:?}"
    );
}

const STOP_CHILD: &str = r#"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    pid_t p = fork();
    if (p == 0) { raise(SIGTSTP); _exit(6); }
    int st;
    if (waitpid(p, &st, WUNTRACED) != p || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTSTP) return 10;
    kill(p, SIGCONT);
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st)) return 11;
    return WEXITSTATUS(st);
}
"#;

#[test]
fn the_parent_sees_its_child_stop() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("stopchild", STOP_CHILD, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "WUNTRACED saw SIGTSTP, then the child exited 6"
    );
}

const SELF_SIGNALS: &str = r#"
#include <signal.h>
#include <unistd.h>
static volatile int got;
static void on_usr1(int s) { (void)s; got++; }
int main(void) {
    signal(SIGUSR1, on_usr1);
    signal(SIGPIPE, SIG_DFL);
    for (int i = 0; i < 3; i++) raise(SIGUSR1);
    return got == 3 ? 0 : 1;
}
"#;

#[test]
fn handled_signals_are_delivered_once_each() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("selfsig", SELF_SIGNALS, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let n = t
        .signals()
        .iter()
        .filter(|s| **s == (libc::SIGUSR1, SignalAction::Delivered))
        .count();
    assert_eq!(n, 3);
}

#[test]
fn sigpipe_default_is_restored_for_the_workload() {
    if !ptrace_permitted() {
        return;
    }
    // Rust ignores SIGPIPE in capture itself; the workload must not inherit
    // that: `yes | head -1` ends with yes killed by SIGPIPE.
    let w = Work::new();
    let out = w.capture(&["-q"], &["sh", "-c", "yes | head -c 1 >/dev/null; exit 0"]);
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let pipe_kills = t
        .bodies(|b| match b {
            EventBody::ThreadExit(x) if x.process_exit => Some(x),
            _ => None,
        })
        .filter(|(_, x)| libc::WIFSIGNALED(x.status) && libc::WTERMSIG(x.status) == libc::SIGPIPE)
        .count();
    assert_eq!(pipe_kills, 1, "yes died of SIGPIPE");
}

/// Regression: a SIGTERM arriving while capture is still launching (between
/// fork and exec) was forwarded into the child's inherited copy of capture's
/// handler and lost, and capture waited forever on a workload that never
/// got it (ECS's stop of a task that just started).
#[test]
fn sigterm_during_launch_still_reaches_the_workload() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    for _ in 0..10 {
        let mut child = w.spawn_capture(&["-q"], &["sleep", "300"]);
        // As soon as capture catches SIGTERM (before that, SIGTERM ends
        // capture itself, as it would any program that just started).
        let catches_term = || {
            status_field(child.id(), "SigCgt")
                .and_then(|m| u64::from_str_radix(&m, 16).ok())
                .is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
        };
        assert!(wait_until(LIMIT, catches_term));
        kill(child.id(), libc::SIGTERM);
        let st = wait_child(&mut child, LIMIT);
        assert_eq!(st.code(), Some(143), "{st:?}");
    }
}
