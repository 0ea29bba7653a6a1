//! Several tracer threads (`--tracers N`, issue 19): new processes handed
//! from the main tracer to helpers at their first stop. Every test forces
//! a handover of every movable process (`SYSREC_FORCE_HANDOVER=1`) and
//! checks the summary says handovers happened, so a build that stopped
//! handing over would fail here, not pass quietly.
//!
//! The transparency, decoding, process and signal suites also run with
//! handovers forced (`.ci/run`, `SYSREC_TEST_CAPTURE_ARGS="--tracers 3"`).

use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, SignalAction};

/// `capture --tracers 3 EXTRA... -- BIN ARGS...` with every movable
/// process handed over.
fn capture_forced(w: &Work, extra: &[&str], cmd: &[&str]) -> Output {
    let mut c = Command::new(capture_bin());
    c.arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "3"])
        .args(extra)
        .arg("--")
        .args(cmd)
        .env("SYSREC_FORCE_HANDOVER", "1");
    e2e_tests::run_with_timeout(&mut c, Duration::from_secs(120))
}

/// How many processes the summary says were handed over.
fn handed(out: &Output) -> u64 {
    let err = String::from_utf8_lossy(&out.stderr);
    err.split(", ")
        .find_map(|p| p.strip_suffix(" processes handed to helper tracers"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// 150 children forked while the parent and the earlier children are
/// busy; every third child forks a grandchild (born to a helper's
/// process), every fifth runs a second thread, every seventh execs
/// `/bin/true` after its writes. Each child and grandchild makes 40
/// `write(-1, buf, k)` calls, k = 1..40 (numbered: a missing one shows)
/// and exits with a code of its own; the parent checks every code.
const STRESS: &str = r#"
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void numbered(void) {
    char buf[64] = {0};
    for (long k = 1; k <= 40; k++) syscall(SYS_write, -1, buf, k);
}
static void *spin(void *a) { (void)a; for (int i = 0; i < 20; i++) getppid(); return 0; }
int main(void) {
    int n = 150;
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) return 90;
        if (p == 0) {
            pthread_t t;
            if (i % 5 == 0) pthread_create(&t, 0, spin, 0);
            if (i % 3 == 0) {
                pid_t g = fork();
                if (g == 0) { numbered(); _exit(3); }
                int st;
                if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 3) _exit(91);
            }
            numbered();
            if (i % 5 == 0) pthread_join(t, 0);
            if (i % 7 == 0) execl("/bin/true", "true", (char *)0);
            _exit(i % 50);
        }
        for (int j = 0; j < 20; j++) getppid();
    }
    int st, bad = 0;
    pid_t p;
    while ((p = wait(&st)) > 0)
        if (!WIFEXITED(st)) bad++;
    return bad ? 92 : 0;
}
"#;

#[test]
fn every_process_handed_over_under_load_is_recorded_whole_and_in_order() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("stress", STRESS, &["-pthread"]) else {
        panic!("gcc is needed (CI has it)");
    };
    let out = capture_forced(&w, &[], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The 150 children at least (grandchildren are born to helpers,
    // which keep them).
    assert!(
        handed(&out) >= 150,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let t = w.trace();
    let main_pid = t
        .events
        .iter()
        .find(|e| matches!(e.body, EventBody::Syscall(_)))
        .map(|e| e.pid)
        .unwrap_or(0);
    // In the trace's own order: a process's ProcessStart comes before any
    // of its events, and its numbered writes come 1..40 with none missing.
    let mut started: HashSet<i32> = HashSet::from([main_pid]);
    let mut writes: HashMap<i32, Vec<u64>> = HashMap::new();
    let mut exited: HashSet<i32> = HashSet::new();
    for e in &t.events {
        match &e.body {
            EventBody::ProcessStart(p) => {
                started.insert(p.child_pid);
            }
            EventBody::Marker(_) => {}
            body => {
                assert!(
                    started.contains(&e.pid),
                    "an event of pid {} before its ProcessStart: {body:?}",
                    e.pid
                );
                if let EventBody::Syscall(s) = body
                    && trace_format::syscalls::by_id(s.id).map(|d| d.name) == Some("write")
                    && s.args.first().map(|&a| a as i32) == Some(-1)
                {
                    writes.entry(e.pid).or_default().push(s.args[2]);
                }
                if let EventBody::ThreadExit(x) = body
                    && x.process_exit
                {
                    exited.insert(e.pid);
                }
            }
        }
    }
    let want: Vec<u64> = (1..=40).collect();
    // 150 children and 50 grandchildren.
    assert_eq!(writes.len(), 200, "processes with numbered writes");
    for (pid, ws) in &writes {
        assert_eq!(ws, &want, "pid {pid}'s writes");
    }
    let children: HashSet<i32> = started.iter().copied().filter(|&p| p != main_pid).collect();
    assert_eq!(children.len(), 200);
    assert!(
        children.iter().all(|p| exited.contains(p)),
        "every process's exit is recorded"
    );
    // Replay reads it back as one stream.
    let replay = Command::new(e2e_tests::bin("replay"))
        .arg(w.trace_path())
        .arg("--stats")
        .output()
        .expect("replay");
    assert!(replay.status.success());
}

/// Each child is sent SIGUSR1 by its parent at once (while it is being
/// handed over), and half are also stopped and continued (not with the
/// argument `nostop`); each child
/// counts its SIGUSR1s and exits 0 only after exactly one. The parent
/// checks that it saw each stop (`WUNTRACED`) and every exit code.
const SIGNALS: &str = r#"
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void on_usr1(int s) { (void)s; got++; }
int main(int argc, char **argv) {
    (void)argv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    for (int i = 0; i < 40; i++) {
        pid_t p = fork();
        if (p < 0) return 90;
        if (p == 0) {
            for (int k = 0; k < 200 && got == 0; k++) usleep(1000);
            usleep(20000);
            _exit(got == 1 ? 0 : 4);
        }
        kill(p, SIGUSR1);
        int st;
        if (argc < 2 && i % 2 == 0) {
            kill(p, SIGSTOP);
            if (waitpid(p, &st, WUNTRACED) != p || !WIFSTOPPED(st)) return 93;
            kill(p, SIGCONT);
        }
        if (waitpid(p, &st, 0) != p) return 94;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 95;
    }
    return 0;
}
"#;

#[test]
fn signals_and_stops_sent_during_a_handover_arrive_once_and_are_recorded() {
    signals_during_handover(&[], &[]);
}

/// Under a seccomp filter too: capture's own filter is the one a process
/// may run under and still be parked. (Before the parked thread's mask was
/// blocked ahead of the parking call, the stop variant lost a SIGUSR1 in
/// 2-4 runs of 50 here.)
#[test]
fn handovers_happen_under_a_syscalls_filter() {
    signals_during_handover(&["--syscalls", "falco"], &[]);
    signals_during_handover(&["--syscalls", "falco"], &["nostop"]);
}

fn signals_during_handover(extra: &[&str], args: &[&str]) {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("signals", SIGNALS, &[]) else {
        panic!("gcc is needed (CI has it)");
    };
    let mut cmd = vec![bin.to_str().unwrap_or_default()];
    cmd.extend_from_slice(args);
    let out = capture_forced(&w, extra, &cmd);
    let stops = args.is_empty();
    assert_eq!(
        out.status.code(),
        Some(0),
        "93: a stop not seen by the parent, 95: a child's SIGUSR1 count was not 1; {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A child whose SIGUSR1 came before it was parked stays with the main
    // tracer (the signal is delivered there first): most are handed over.
    assert!(
        handed(&out) >= 10,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    let mut delivered: HashMap<i32, usize> = HashMap::new();
    let mut stopped: HashSet<i32> = HashSet::new();
    for e in &t.events {
        if let EventBody::Signal(s) = &e.body {
            match (s.signo, s.action) {
                (libc::SIGUSR1, SignalAction::Delivered) => {
                    *delivered.entry(e.pid).or_default() += 1
                }
                (libc::SIGSTOP, SignalAction::Stopped) => {
                    stopped.insert(e.pid);
                }
                _ => {}
            }
        }
    }
    assert_eq!(delivered.len(), 40, "{delivered:?}");
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    // A stop that begins and ends while a child is parked (between its two
    // tracers) is seen by its parent (93 above) but by no tracer, so it may
    // be missing from the trace; the others are recorded, once each.
    let most = if stops { 20 } else { 0 };
    assert!(stopped.len() <= most, "{stopped:?}");
    assert!(stops || stopped.is_empty());
}

/// A process whose second thread execs while the main thread forks
/// children: the children are handed over during the exec's de-thread.
const EXEC_WHILE_FORKING: &str = r#"
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
static void *execer(void *a) {
    (void)a;
    usleep(2000);
    execl("/bin/true", "true", (char *)0);
    return 0;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, execer, 0);
    for (int i = 0; i < 400; i++) {
        pid_t p = fork();
        if (p == 0) {
            char buf[8] = {0};
            for (long k = 1; k <= 10; k++) syscall(SYS_write, -1, buf, k);
            _exit(0);
        }
    }
    pthread_join(t, 0);
    return 5;
}
"#;

#[test]
fn exec_from_a_non_leader_thread_while_its_forks_are_handed_over() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("execfork", EXEC_WHILE_FORKING, &["-pthread"]) else {
        panic!("gcc is needed (CI has it)");
    };
    let out = capture_forced(&w, &[], &[bin.to_str().unwrap_or_default()]);
    // The exec wins (true exits 0) or the forks all ran first (5): either
    // way every child that was born is recorded whole.
    assert!(
        matches!(out.status.code(), Some(0 | 5)),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    let born: HashSet<i32> = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) if p.child_pid == p.child_tid => Some(p),
            _ => None,
        })
        .map(|(_, p)| p.child_pid)
        .collect();
    let mut writes: HashMap<i32, Vec<u64>> = HashMap::new();
    for (e, s) in t.syscalls("write") {
        if s.args.first().map(|&a| a as i32) == Some(-1) {
            writes.entry(e.pid).or_default().push(s.args[2]);
        }
    }
    let want: Vec<u64> = (1..=10).collect();
    assert!(!born.is_empty());
    for pid in &born {
        assert_eq!(writes.get(pid), Some(&want), "child {pid}");
    }
    assert!(t.execs().any(|(_, x)| x.exepath.ends_with(b"true")));
}

/// The launched command forks a child that outlives it by 20 seconds.
const OUTLIVE: &str = r#"
#include <unistd.h>
int main(void) {
    /* The child lets go of capture's output pipes, which the test reads
       to their end. */
    if (fork() == 0) { close(1); close(2); sleep(20); getppid(); _exit(0); }
    return 7;
}
"#;

#[test]
fn detach_on_exit_releases_processes_a_helper_traces() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("outlive", OUTLIVE, &[]) else {
        panic!("gcc is needed (CI has it)");
    };
    let out = capture_forced(
        &w,
        &["--detach-on-exit"],
        &[bin.to_str().unwrap_or_default()],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(
        handed(&out) >= 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    assert!(
        t.markers()
            .any(|(_, m)| m.message.contains("detached from 1 threads")),
        "the helper detached its process: {:?}",
        t.markers().map(|(_, m)| &m.message).collect::<Vec<_>>()
    );
    assert_eq!(t.syscalls("getppid").count(), 0, "released before it woke");
    // Still running, untraced: released, not killed, and capture did not
    // wait for it.
    let child = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) => Some(p),
            _ => None,
        })
        .map(|(_, p)| p.child_pid)
        .next()
        .expect("the child's start");
    assert_eq!(
        status_field(child as u32, "TracerPid").as_deref(),
        Some("0"),
        "the child runs on, untraced"
    );
    kill(child as u32, libc::SIGKILL);
}

/// Waits for `go` to exist, then forks 20 children that each make 20
/// numbered `write(-1, buf, k)` calls, report on a pipe and sleep; once
/// all reported, creates `ready` and sleeps.
const ATTACHED: &str = r#"
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
    struct stat st;
    int p[2];
    if (argc < 3 || pipe(p)) return 50;
    while (stat(argv[1], &st) != 0) usleep(10000);
    for (int i = 0; i < 20; i++) {
        if (fork() == 0) {
            char buf[32] = {0};
            for (long k = 1; k <= 20; k++) syscall(SYS_write, -1, buf, k);
            write(p[1], "x", 1);
            sleep(60);
            _exit(0);
        }
    }
    char b;
    for (int i = 0; i < 20; i++) read(p[0], &b, 1);
    close(open(argv[2], O_CREAT | O_WRONLY, 0600));
    sleep(60);
    return 0;
}
"#;

#[test]
fn attach_mode_hands_new_processes_over_and_releases_them_all_on_detach() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("attached", ATTACHED, &[]) else {
        panic!("gcc is needed (CI has it)");
    };
    let (go, ready) = (w.path("go"), w.path("ready"));
    let mut target = Command::new(&bin)
        .arg(&go)
        .arg(&ready)
        .process_group(0)
        .spawn()
        .expect("spawn the target");
    let pid = target.id();
    let mut cap = Command::new(capture_bin())
        .arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "3", "--pid", &pid.to_string()])
        .env("SYSREC_FORCE_HANDOVER", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let attached = wait_until(Duration::from_secs(30), || {
        status_field(pid, "TracerPid").is_some_and(|t| t == cap.id().to_string())
    });
    assert!(attached, "capture attached");
    std::fs::write(&go, b"").expect("go");
    assert!(
        wait_until(Duration::from_secs(60), || ready.exists()),
        "the children ran"
    );
    kill(cap.id(), libc::SIGTERM);
    let status = wait_child(&mut cap, Duration::from_secs(60));
    let mut err = String::new();
    if let Some(mut e) = cap.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "{status:?} {err}");
    let children = children(pid);
    // Released, all of them: alive and untraced after the detach.
    let traced: Vec<u32> = children
        .iter()
        .copied()
        .filter(|&c| status_field(c, "TracerPid").is_some_and(|t| t != "0"))
        .collect();
    // SAFETY: kill(2) of the target's process group, which this test made.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let _ = target.wait();
    assert_eq!(children.len(), 20, "children alive after the detach");
    assert!(
        traced.is_empty(),
        "still traced after the detach: {traced:?}"
    );
    let handed = err
        .split(", ")
        .find_map(|p| p.strip_suffix(" processes handed to helper tracers"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert_eq!(handed, 20, "{err}");

    let t = w.trace();
    let mut writes: HashMap<i32, Vec<u64>> = HashMap::new();
    for (e, s) in t.syscalls("write") {
        if s.args.first().map(|&a| a as i32) == Some(-1) {
            writes.entry(e.pid).or_default().push(s.args[2]);
        }
    }
    let want: Vec<u64> = (1..=20).collect();
    assert_eq!(writes.len(), 20);
    assert!(writes.values().all(|w| w == &want), "{writes:?}");
    let detached: u64 = t
        .markers()
        .filter(|(_, m)| m.message.starts_with("detached from"))
        .map(|(_, m)| m.count)
        .sum();
    assert_eq!(
        detached, 21,
        "the target and its 20 children, by their tracers"
    );
}

// -- Moving busy processes (crate::rebalance) -------------------------------

/// How many busy processes the summary says were moved.
fn moved(err: &str) -> u64 {
    err.split(", ")
        .find_map(|p| p.strip_suffix(" busy processes moved to helper tracers"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Each process's numbered `close(-k)` calls, by pid, in trace order.
fn numbered_closes(t: &Trace) -> HashMap<i32, Vec<u64>> {
    let mut closes: HashMap<i32, Vec<u64>> = HashMap::new();
    for (e, s) in t.syscalls("close") {
        let fd = s.args.first().map(|&a| a as i32).unwrap_or(0);
        if fd < 0 {
            closes
                .entry(e.pid)
                .or_default()
                .push(u64::from(fd.unsigned_abs()));
        }
    }
    closes
}

/// Two children, each busy with N numbered `close(-k)` calls (k = 1..N)
/// after it created `<ARG2>-<i>`, then waiting for `<ARG2>-end` (when
/// given); each exits 7 and the parent checks both codes. With
/// `SYSREC_FORCE_HANDOVER=0` both stay with the main tracer at birth.
const TWO_BUSY: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void wait_for(const char *f) { while (access(f, F_OK) != 0) usleep(5000); }
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    const char *mark = argc > 2 ? argv[2] : 0;
    if (argc > 3) wait_for(argv[3]);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        pid_t p = fork();
        if (p < 0) return 90;
        if (p == 0) {
            for (long k = 1; k <= n; k++) syscall(SYS_close, -k);
            if (mark) {
                char f[4096];
                snprintf(f, sizeof f, "%s-%d", mark, i);
                FILE *o = fopen(f, "w");
                if (o) fclose(o);
                snprintf(f, sizeof f, "%s-end", mark);
                wait_for(f);
            }
            _exit(7);
        }
        kids[i] = p;
    }
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 7) bad++;
    }
    return bad ? 92 : 0;
}
"#;

#[test]
fn two_busy_processes_on_one_tracer_are_spread_and_recorded_whole() {
    busy_processes_spread(&[]);
}

#[test]
fn busy_processes_are_spread_under_a_syscalls_filter() {
    // Under a filter `close` is recorded from its seccomp stop alone:
    // capture asks for the exit stop it moves a process at.
    busy_processes_spread(&["--syscalls", "falco"]);
}

/// Checks that each of the two children's N closes is in the trace, in
/// order, none missing.
fn assert_closes_whole(w: &Work, n: u64) {
    let closes = numbered_closes(&w.trace());
    let want: Vec<u64> = (1..=n).collect();
    assert_eq!(closes.len(), 2, "two busy processes");
    for (pid, got) in &closes {
        assert!(
            got == &want,
            "pid {pid}: {} of {n} closes, in order?",
            got.len()
        );
    }
}

fn busy_processes_spread(extra: &[&str]) {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("twobusy", TWO_BUSY, &[]) else {
        panic!("gcc is needed (CI has it)");
    };
    let n: u64 = 40_000;
    let mut c = Command::new(capture_bin());
    c.arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "2"])
        .args(extra)
        .arg("--")
        .arg(&bin)
        .arg(n.to_string())
        .env("SYSREC_FORCE_HANDOVER", "0");
    let out = e2e_tests::run_with_timeout(&mut c, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(handed(&out), 0, "none handed over at birth: {err}");
    assert!(moved(&err) >= 1, "a busy process moved: {err}");
    assert_closes_whole(&w, n);
}

#[test]
fn attach_mode_moves_a_busy_child_to_another_tracer_thread() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("twobusy", TWO_BUSY, &[]) else {
        panic!("gcc is needed (CI has it)");
    };
    let n: u64 = 40_000;
    let (go, mark) = (w.path("go"), w.path("done"));
    let mut target = Command::new(&bin)
        .arg(n.to_string())
        .arg(&mark)
        .arg(&go)
        .process_group(0)
        .spawn()
        .expect("spawn the target");
    let pid = target.id();
    let mut cap = Command::new(capture_bin())
        .arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "2", "--pid", &pid.to_string()])
        .env("SYSREC_FORCE_HANDOVER", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let capture_pid = cap.id().to_string();
    let attached = wait_until(Duration::from_secs(30), || {
        status_field(pid, "TracerPid").is_some_and(|t| t == capture_pid)
    });
    assert!(attached, "capture attached");
    std::fs::write(&go, b"").expect("go");
    let both_done = wait_until(Duration::from_secs(90), || {
        (0..2).all(|i| w.path(&format!("done-{i}")).exists())
    });
    // While they wait: one child is traced by the main tracer thread,
    // the other by another thread of capture.
    let kids = children(pid);
    let tracers: Vec<String> = kids
        .iter()
        .filter_map(|&k| status_field(k, "TracerPid"))
        .collect();
    let capture_threads: Vec<String> = std::fs::read_dir(format!("/proc/{capture_pid}/task"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    std::fs::write(w.path("done-end"), b"").expect("end");
    let target_status = wait_child(&mut target, Duration::from_secs(60));
    kill(cap.id(), libc::SIGTERM);
    let status = wait_child(&mut cap, Duration::from_secs(60));
    let mut err = String::new();
    if let Some(mut e) = cap.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(both_done, "the children made their calls: {err}");
    assert!(target_status.success(), "{target_status:?}");
    assert!(status.success(), "{status:?} {err}");
    assert!(moved(&err) >= 1, "a busy child moved: {err}");
    assert_eq!(tracers.len(), 2, "{tracers:?}");
    assert!(
        tracers.contains(&capture_pid),
        "one child stays with the main tracer: {tracers:?}"
    );
    let other = tracers
        .iter()
        .find(|&t| t != &capture_pid)
        .cloned()
        .unwrap_or_default();
    assert!(
        capture_threads.contains(&other),
        "the other child is traced by a thread of capture ({other}): {tracers:?} {capture_threads:?}"
    );
    assert_closes_whole(&w, n);
}

/// Two busy children (N numbered `close(-k)`) while the parent queues K
/// real-time signals to each (each is delivered, none merged) and stops
/// and continues the first one every 50 rounds, seeing each stop
/// (`WUNTRACED`). A child exits 7 once its handler ran exactly K times.
const BUSY_SIGNALLED: &str = r#"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void on_sig(int s) { (void)s; got++; }
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int k = argc > 2 ? atoi(argv[2]) : 400;
    int sig = SIGRTMIN + 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, 0);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        pid_t p = fork();
        if (p < 0) return 90;
        if (p == 0) {
            for (long j = 1; j <= n; j++) syscall(SYS_close, -j);
            for (int w = 0; w < 10000 && got < k; w++) usleep(1000);
            _exit(got == k ? 7 : 4);
        }
        kids[i] = p;
    }
    union sigval v;
    v.sival_int = 0;
    for (int r = 0; r < k; r++) {
        for (int i = 0; i < 2; i++)
            if (sigqueue(kids[i], sig, v) != 0) return 93;
        if (r % 50 == 25) {
            int st;
            kill(kids[0], SIGSTOP);
            if (waitpid(kids[0], &st, WUNTRACED) != kids[0] || !WIFSTOPPED(st)) return 94;
            kill(kids[0], SIGCONT);
        }
        usleep(500);
    }
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 7) bad++;
    }
    return bad ? 92 : 0;
}
"#;

#[test]
fn signals_and_stops_while_a_busy_process_moves_arrive_once_and_are_recorded() {
    busy_and_signalled(&[]);
}

#[test]
fn signals_while_a_busy_process_moves_under_a_syscalls_filter() {
    busy_and_signalled(&["--syscalls", "falco"]);
}

fn busy_and_signalled(extra: &[&str]) {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("busysig", BUSY_SIGNALLED, &[]) else {
        panic!("gcc is needed (CI has it)");
    };
    let (n, k): (u64, usize) = (40_000, 400);
    let mut c = Command::new(capture_bin());
    c.arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "2"])
        .args(extra)
        .arg("--")
        .arg(&bin)
        .arg(n.to_string())
        .arg(k.to_string())
        .env("SYSREC_FORCE_HANDOVER", "0");
    let out = e2e_tests::run_with_timeout(&mut c, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(moved(&err) >= 1, "a busy process moved: {err}");
    assert_closes_whole(&w, n);
    // Every delivery of the K signals to each child is in the trace.
    let t = w.trace();
    let rt = libc::SIGRTMIN() + 2;
    let mut delivered: HashMap<i32, usize> = HashMap::new();
    for e in &t.events {
        if let EventBody::Signal(s) = &e.body
            && s.signo == rt
            && s.action == SignalAction::Delivered
        {
            *delivered.entry(e.pid).or_default() += 1;
        }
    }
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(delivered.values().all(|&d| d == k), "{delivered:?}");
}

/// `--tracers auto` runs (one tracer per usable CPU: 2 in CI) and the
/// workload's processes are all recorded, its exit status passed on.
#[test]
fn tracers_auto_records_every_process_and_passes_the_exit_status() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let mut c = Command::new(capture_bin());
    c.arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "auto", "--"])
        .args(["sh", "-c", "for i in 1 2 3 4; do /bin/true; done; exit 3"]);
    let out = e2e_tests::run_with_timeout(&mut c, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    let execs = t.syscalls("execve").filter(|(_, s)| s.ret == 0).count();
    // sh, then four /bin/true.
    assert_eq!(execs, 5);
}
