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

/// A test program compiled in a new work directory; `None` (the test
/// passes without running) where ptrace is not permitted.
fn compiled(name: &str, src: &str, flags: &[&str]) -> Option<(Work, std::path::PathBuf)> {
    if !ptrace_permitted() {
        return None;
    }
    let w = Work::new();
    let Some(bin) = w.cc(name, src, flags) else {
        panic!("gcc is needed (CI has it)");
    };
    Some((w, bin))
}

/// Runs `test` without a filter, then under `--syscalls falco` (where a
/// move asks for its exit stop and `close` is recorded from one stop).
fn filtered_or_not(test: fn(&[&str])) {
    test(&[]);
    test(&["--syscalls", "falco"]);
}

/// Waits (up to 60 s) for a capture spawned with its stderr piped: its
/// status and what it printed there.
fn finish(cap: &mut std::process::Child) -> (std::process::ExitStatus, String) {
    let status = wait_child(cap, Duration::from_secs(60));
    let mut err = String::new();
    if let Some(mut e) = cap.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    (status, err)
}

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
        .find_map(|p| p.strip_suffix(" threads handed to helper tracers"))
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
    let Some((w, bin)) = compiled("stress", STRESS, &["-pthread"]) else {
        return;
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
    let Some((w, bin)) = compiled("signals", SIGNALS, &[]) else {
        return;
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
    let Some((w, bin)) = compiled("execfork", EXEC_WHILE_FORKING, &["-pthread"]) else {
        return;
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

/// The launched command forks a child that outlives it by 20 seconds,
/// and ends once the child runs (so after its handover: the main process's
/// end could otherwise come first, and `--detach-on-exit` release the
/// child from the main tracer before it was handed over).
const OUTLIVE: &str = r#"
#include <unistd.h>
int main(void) {
    int up[2];
    char c;
    if (pipe(up)) return 2;
    /* The child lets go of capture's output pipes, which the test reads
       to their end. */
    if (fork() == 0) {
        close(1); close(2);
        if (write(up[1], "u", 1) != 1) _exit(3);
        sleep(20); getppid(); _exit(0);
    }
    if (read(up[0], &c, 1) != 1) return 2;
    return 7;
}
"#;

#[test]
fn detach_on_exit_releases_processes_a_helper_traces() {
    let Some((w, bin)) = compiled("outlive", OUTLIVE, &[]) else {
        return;
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
    let Some((w, bin)) = compiled("attached", ATTACHED, &[]) else {
        return;
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
    let (status, err) = finish(&mut cap);
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
        .find_map(|p| p.strip_suffix(" threads handed to helper tracers"))
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
        .find_map(|p| p.strip_suffix(" busy threads moved to helper tracers"))
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
fn two_busy_processes_on_one_tracer_are_spread_and_recorded_whole_with_and_without_a_filter() {
    filtered_or_not(busy_processes_spread);
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
    let Some((w, bin)) = compiled("twobusy", TWO_BUSY, &[]) else {
        return;
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
    let Some((w, bin)) = compiled("twobusy", TWO_BUSY, &[]) else {
        return;
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
    let (status, err) = finish(&mut cap);
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
    filtered_or_not(busy_and_signalled);
}

fn busy_and_signalled(extra: &[&str]) {
    let Some((w, bin)) = compiled("busysig", BUSY_SIGNALLED, &[]) else {
        return;
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

// -- One process's threads on several tracers --------------------------------

/// The threads of one process, on the threads and tids of which the tests
/// below look: `(tid, TracerPid)` of every thread of `pid`.
fn thread_tracers(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            if let Some(tp) = status.lines().find_map(|l| l.strip_prefix("TracerPid:")) {
                out.push((tid, tp.trim().to_string()));
            }
        }
    }
    out
}

/// A Go- or JVM-like process: two threads busy with N numbered calls each
/// (`close(-k)` and `close(-(1000000 + k))`), which then create
/// `<ARG2>-<i>` and wait for `<ARG2>-end`; the main thread joins them.
const THREAD_POOL: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
static long n;
static const char *mark;
static void wait_for(const char *f) { while (access(f, F_OK) != 0) usleep(5000); }
static void *work(void *a) {
    long i = (long)a;
    for (long k = 1; k <= n; k++) syscall(SYS_close, -(i * 1000000 + k));
    char f[4096];
    snprintf(f, sizeof f, "%s-%ld", mark, i);
    FILE *o = fopen(f, "w");
    if (o) fclose(o);
    snprintf(f, sizeof f, "%s-end", mark);
    wait_for(f);
    return 0;
}
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    n = atol(argv[1]);
    mark = argv[2];
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], 0, work, (void *)i) != 0) return 90;
    for (int i = 0; i < 2; i++) pthread_join(t[i], 0);
    return 0;
}
"#;

#[test]
fn one_process_threads_run_on_several_tracers_and_are_recorded_whole() {
    filtered_or_not(thread_pool_spread);
}

fn thread_pool_spread(extra: &[&str]) {
    let Some((w, bin)) = compiled("threadpool", THREAD_POOL, &["-pthread"]) else {
        return;
    };
    let n: u64 = 20_000;
    let mark = w.path("done");
    let mut cap = Command::new(capture_bin())
        .arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "3"])
        .args(extra)
        .arg("--")
        .arg(&bin)
        .arg(n.to_string())
        .arg(&mark)
        .env("SYSREC_FORCE_HANDOVER", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let capture_pid = cap.id();
    let done = wait_until(Duration::from_secs(90), || {
        (0..2).all(|i| w.path(&format!("done-{i}")).exists())
    });
    // While both threads wait: the main thread is traced by capture's
    // main thread, the two workers by other threads of capture.
    let workload = children(capture_pid).first().copied().unwrap_or(0);
    let tracers = thread_tracers(workload);
    let capture_threads: Vec<String> = std::fs::read_dir(format!("/proc/{capture_pid}/task"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    std::fs::write(w.path("done-end"), b"").expect("end");
    let (status, err) = finish(&mut cap);
    assert!(done, "the threads made their calls: {err}");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(handed_err(&err) >= 2, "both workers handed over: {err}");
    assert_eq!(tracers.len(), 3, "three threads: {tracers:?}");
    let main_tracer = capture_pid.to_string();
    for (tid, tp) in &tracers {
        if *tid == workload {
            assert_eq!(tp, &main_tracer, "the leader stays with the main tracer");
        } else {
            assert!(
                tp != &main_tracer && capture_threads.contains(tp),
                "worker {tid} is traced by a helper thread of capture: {tracers:?} {capture_threads:?}"
            );
        }
    }
    // Each worker's calls, whole and in order, under its own tid.
    let t = w.trace();
    let mut by_tid: HashMap<i32, Vec<i64>> = HashMap::new();
    for (e, s) in t.syscalls("close") {
        let fd = s.args.first().map(|&a| a as i32).unwrap_or(0);
        if fd < 0 {
            by_tid.entry(e.tid).or_default().push(-i64::from(fd));
        }
    }
    assert_eq!(by_tid.len(), 2, "two workers");
    let mut firsts: Vec<i64> = Vec::new();
    for (tid, got) in &by_tid {
        let base = got.first().copied().unwrap_or(0) - 1;
        let want: Vec<i64> = (1..=n as i64).map(|k| base + k).collect();
        assert!(
            got == &want,
            "thread {tid}: {} of {n} calls, in order?",
            got.len()
        );
        firsts.push(base);
        assert!(
            t.events
                .iter()
                .any(|e| e.tid == *tid && e.pid == workload as i32),
            "recorded as a thread of the process"
        );
    }
    firsts.sort_unstable();
    assert_eq!(firsts, [0, 1_000_000]);
}

/// How many threads and processes the summary (stderr text) says were
/// handed over at their creation.
fn handed_err(err: &str) -> u64 {
    err.split(", ")
        .find_map(|p| p.strip_suffix(" threads handed to helper tracers"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A thread (handed to a helper) execs `/bin/sh -c 'exit 5'` while the
/// leader (on the main tracer) sleeps: the process goes on under the
/// thread's tracer with the leader's pid, and its end is capture's.
const EXEC_FROM_THREAD: &str = r#"
#include <pthread.h>
#include <unistd.h>
static void *run(void *a) {
    (void)a;
    usleep(50000);
    execl("/bin/sh", "sh", "-c", "exit 5", (char *)0);
    return 0;
}
int main(void) {
    pthread_t t;
    if (pthread_create(&t, 0, run, 0) != 0) return 90;
    for (;;) pause();
}
"#;

#[test]
fn an_exec_from_a_thread_on_a_helper_ends_with_the_process_status() {
    filtered_or_not(exec_from_thread);
}

fn exec_from_thread(extra: &[&str]) {
    let Some((w, bin)) = compiled("execthread", EXEC_FROM_THREAD, &["-pthread"]) else {
        return;
    };
    let out = capture_forced(&w, extra, &[bin.to_str().unwrap_or_default()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(handed(&out) >= 1, "the thread was handed over: {err}");
    let t = w.trace();
    let main_pid = t
        .events
        .iter()
        .find(|e| matches!(e.body, EventBody::Syscall(_)))
        .map(|e| e.pid)
        .unwrap_or(0);
    assert!(
        t.events
            .iter()
            .any(|e| e.pid == main_pid && matches!(&e.body, EventBody::Exec(x) if x.exepath.ends_with(b"sh") || x.exepath.ends_with(b"dash") || x.exepath.ends_with(b"bash"))),
        "the exec is recorded"
    );
    let exit = t.events.iter().rev().find_map(|e| match &e.body {
        EventBody::ThreadExit(x) if e.pid == main_pid && x.process_exit => Some(x.status),
        _ => None,
    });
    assert_eq!(
        exit.map(|s| (s >> 8) & 0xff),
        Some(5),
        "its end is recorded"
    );
}

/// A process of three threads, launched by capture (its leader on the
/// main tracer, its threads on helpers), stopped and continued once by
/// the test: the stop is recorded once, though three tracers see it.
#[test]
fn a_group_stop_of_a_process_spread_over_tracers_is_recorded_once() {
    let src = r#"
#include <pthread.h>
#include <unistd.h>
static void *nap(void *a) { (void)a; for (int i = 0; i < 400; i++) usleep(2000); return 0; }
int main(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, nap, 0);
    nap(0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], 0);
    return 0;
}
"#;
    let Some((w, bin)) = compiled("naps", src, &["-pthread"]) else {
        return;
    };
    let mut cap = Command::new(capture_bin())
        .arg("-o")
        .arg(w.trace_path())
        .args(["--tracers", "3", "--"])
        .arg(&bin)
        .env("SYSREC_FORCE_HANDOVER", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let capture_pid = cap.id();
    let mut workload = 0;
    let three = wait_until(Duration::from_secs(30), || {
        workload = children(capture_pid).first().copied().unwrap_or(0);
        workload > 0 && thread_tracers(workload).len() == 3
    });
    assert!(three, "three threads");
    kill(workload, libc::SIGSTOP);
    let stopped = wait_until(Duration::from_secs(10), || {
        proc_state(workload) == Some('T') || proc_state(workload) == Some('t')
    });
    std::thread::sleep(Duration::from_millis(200));
    kill(workload, libc::SIGCONT);
    let (status, err) = finish(&mut cap);
    assert!(stopped, "the process stopped");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(handed_err(&err) >= 2, "its threads were handed over: {err}");
    let t = w.trace();
    let stops = t
        .events
        .iter()
        .filter(|e| {
            e.pid == workload as i32
                && matches!(&e.body, EventBody::Signal(s) if s.action == SignalAction::Stopped)
        })
        .count();
    assert_eq!(stops, 1, "one group-stop record for process {workload}");
}
