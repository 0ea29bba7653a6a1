//! What a workload can tell about being traced: its CPU set, the signal
//! dispositions it inherits, signals sent to capture, exit statuses.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, SignalAction};

/// Prints the number of CPUs `sched_getaffinity` reports, then starts four
/// threads and prints it again from one of them (a runtime sizing its pool).
const AFFINITY: &str = r#"
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
static int count(void) {
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof s, &s)) return -1;
    return CPU_COUNT(&s);
}
static void *run(void *p) { *(int *)p = count(); return 0; }
int main(void) {
    printf("%d\n", count());
    pthread_t t[4];
    int n[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, run, &n[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    printf("%d\n", n[3]);
    return 0;
}
"#;

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_workload_sees_its_cpu_set_whatever_the_placement() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("affinity", AFFINITY, &["-pthread"]) else {
        return;
    };
    let native = Command::new(&bin)
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let want = stdout_of(&native);
    let nproc = Command::new("nproc")
        .output()
        .unwrap_or_else(|e| panic!("nproc: {e}"));
    for policy in ["auto", "shared", "none"] {
        let out = w.capture(
            &["-q", "--cpu-affinity", policy],
            &[bin.to_str().unwrap_or_default()],
        );
        assert_eq!(out.status.code(), Some(0), "{policy}");
        assert_eq!(stdout_of(&out), want, "sched_getaffinity under {policy}");
        let out = w.capture(&["-q", "--cpu-affinity", policy], &["nproc"]);
        assert_eq!(stdout_of(&out), stdout_of(&nproc), "nproc under {policy}");
    }
    // Recorded as the workload saw it.
    let t = w.trace();
    assert!(t.syscalls("sched_getaffinity").count() > 0);
}

/// Sets its own CPU set to CPU 0 and reads it back: the workload's own
/// choice applies and stays.
const SET_AFFINITY: &str = r#"
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
int main(void) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    if (sched_setaffinity(0, sizeof s, &s)) return 2;
    CPU_ZERO(&s);
    sched_getaffinity(0, sizeof s, &s);
    printf("%d %d\n", CPU_COUNT(&s), CPU_ISSET(0, &s));
    return 0;
}
"#;

#[test]
fn a_workloads_own_cpu_set_applies() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("setaff", SET_AFFINITY, &[]) else {
        return;
    };
    for policy in ["auto", "shared"] {
        let out = w.capture(
            &["-q", "--cpu-affinity", policy],
            &[bin.to_str().unwrap_or_default()],
        );
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(stdout_of(&out), "1 1\n", "{policy}");
    }
}

/// Reads lines of a child's stdout on a thread (so it never blocks).
fn lines(child: &mut std::process::Child) -> Receiver<String> {
    let Some(out) = child.stdout.take() else {
        panic!("no stdout");
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn expect_line(rx: &Receiver<String>, want: &str) {
    loop {
        match rx.recv_timeout(LIMIT) {
            Ok(l) if l == want => return,
            Ok(_) => continue,
            Err(_) => panic!("the workload never printed `{want}`"),
        }
    }
}

#[test]
fn nohup_keeps_the_workload_alive_on_sighup() {
    if !ptrace_permitted() || !e2e_tests::require("nohup") {
        return;
    }
    let w = Work::new();
    let mut c = Command::new("nohup")
        .arg(capture_bin())
        .arg("-q")
        .arg("-o")
        .arg(w.trace_path())
        .args(["--", "sh", "-c", "echo ready; exec sleep 30"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let rx = lines(&mut c);
    expect_line(&rx, "ready");
    let cap = c.id();
    // nohup execs capture: its child is the workload.
    assert!(wait_until(LIMIT, || children(cap).len() == 1));
    let sleep = children(cap)[0];
    assert!(wait_until(LIMIT, || std::fs::read_to_string(format!(
        "/proc/{sleep}/comm"
    ))
    .is_ok_and(|c| c == "sleep\n")));
    let ign = status_field(sleep, "SigIgn").unwrap_or_default();
    let bits = u64::from_str_radix(&ign, 16).unwrap_or(0);
    assert!(
        bits & 1 != 0,
        "SIGHUP ignored in the workload: SigIgn {ign}"
    );
    // SIGHUP to the workload and to capture: ignored, as under nohup alone.
    kill(sleep, libc::SIGHUP);
    kill(cap, libc::SIGHUP);
    kill(sleep, libc::SIGTERM);
    let st = wait_child(&mut c, LIMIT);
    assert_eq!(
        st.code(),
        Some(128 + libc::SIGTERM),
        "SIGTERM, not SIGHUP, ended it"
    );
}

#[test]
fn an_ignored_sigint_stays_ignored() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let script = format!(
        "trap '' INT; exec {} -q -o {} -- sh -c 'kill -INT $$; echo alive'",
        capture_bin().display(),
        w.trace_path().display()
    );
    let out = e2e_tests::run_with_timeout(Command::new("sh").args(["-c", &script]), LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_of(&out), "alive\n");
}

/// Installs a handler for every signal it can catch, prints `ready`, and
/// prints each signal's number as it arrives; exits 0 once it has seen
/// every one of `argv[1..]`.
const CATCH_ALL: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t seen[65];
static void on(int s) {
    seen[s] = 1;
    char b[8];
    int n = 0;
    if (s >= 10) b[n++] = '0' + s / 10;
    b[n++] = '0' + s % 10;
    b[n++] = '\n';
    write(1, b, n);
}
int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on;
    for (int s = 1; s <= SIGRTMAX; s++) sigaction(s, &sa, 0);
    setvbuf(stdout, 0, _IONBF, 0);
    printf("ready\n");
    for (;;) {
        int all = 1;
        for (int i = 1; i < argc; i++) all &= seen[atoi(argv[i])];
        if (all) return 0;
        pause();
    }
}
"#;

#[test]
fn every_catchable_signal_sent_to_capture_reaches_the_workloads_handler() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("catchall", CATCH_ALL, &[]) else {
        return;
    };
    let sigs: Vec<i32> = (1..32)
        .filter(|s| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(s))
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
        .collect();
    let mut cmd: Vec<String> = vec![bin.display().to_string()];
    cmd.extend(sigs.iter().map(|s| s.to_string()));
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let mut c = w.spawn_capture(&["-q"], &cmd);
    let rx = lines(&mut c);
    expect_line(&rx, "ready");
    for &s in &sigs {
        kill(c.id(), s);
        expect_line(&rx, &s.to_string());
    }
    let st = wait_child(&mut c, LIMIT);
    assert_eq!(st.code(), Some(0), "the workload saw every signal");
    let t = w.trace();
    let me = std::process::id() as i32;
    for &s in &sigs {
        assert!(
            t.bodies(|b| match b {
                EventBody::Signal(x) if x.action == SignalAction::Forwarded => Some(x),
                _ => None,
            })
            .any(|(_, x)| x.signo == s && x.sender_pid == me),
            "signal {s} recorded as forwarded, naming the test as its sender"
        );
    }
}

#[test]
fn sigtstp_to_capture_stops_the_workload_and_sigcont_resumes_it() {
    if !ptrace_permitted() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let w = Work::new();
    // A process group of its own whose parent (this test) is outside it:
    // not orphaned, so the kernel lets SIGTSTP stop its members.
    let mut c = Command::new(capture_bin())
        .arg("-q")
        .arg("-o")
        .arg(w.trace_path())
        .args(["--", "sh", "-c", "echo ready; exec sleep 30"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let rx = lines(&mut c);
    expect_line(&rx, "ready");
    let cap = c.id();
    assert!(wait_until(LIMIT, || children(cap).len() == 1));
    let sleep = children(cap)[0];
    assert!(wait_until(LIMIT, || std::fs::read_to_string(format!(
        "/proc/{sleep}/comm"
    ))
    .is_ok_and(|c| c == "sleep\n")));
    kill(cap, libc::SIGTSTP);
    assert!(
        wait_until(LIMIT, || matches!(proc_state(sleep), Some('T' | 't'))),
        "the workload stopped"
    );
    kill(cap, libc::SIGCONT);
    assert!(
        wait_until(LIMIT, || proc_state(sleep) == Some('S')),
        "the workload runs again"
    );
    kill(cap, libc::SIGTERM);
    let st = wait_child(&mut c, LIMIT);
    assert_eq!(st.code(), Some(128 + libc::SIGTERM));
}

#[test]
fn a_non_executable_command_exits_126() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let f = w.path("not-executable");
    std::fs::write(&f, "#!/bin/sh\necho hi\n").unwrap_or_else(|e| panic!("{e}"));
    let out = w.capture(&[], &[f.to_str().unwrap_or_default()]);
    assert_eq!(
        out.status.code(),
        Some(126),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.capture(&[], &[w.dir.path().to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(126), "a directory");
}

#[test]
fn a_kernel_sigsegv_has_no_sender() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc(
        "segv",
        "int main(void){ volatile int *p = (int *)0x1234; return *p; }\n",
        &[],
    ) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(128 + libc::SIGSEGV));
    let t = w.trace();
    let segv: Vec<_> = t
        .bodies(|b| match b {
            EventBody::Signal(x) if x.signo == libc::SIGSEGV => Some(x),
            _ => None,
        })
        .collect();
    assert!(!segv.is_empty());
    for (_, s) in &segv {
        assert!(s.code > 0, "kernel-sent: {s:?}");
        assert_eq!((s.sender_pid, s.sender_uid), (0, 0), "no sender: {s:?}");
    }
    let replay = e2e_tests::bin("replay");
    let out = e2e_tests::run_with_timeout(
        Command::new(&replay)
            .arg(w.trace_path())
            .args(["--filter", "evt.type=signaldeliver"]),
        LIMIT,
    );
    let text = stdout_of(&out);
    assert!(
        text.contains("SIGSEGV delivered (from the kernel"),
        "{text}"
    );
    assert!(!text.contains("SIGSEGV delivered (from pid"), "{text}");
    let out = e2e_tests::run_with_timeout(
        Command::new(&replay)
            .arg(w.trace_path())
            .args(["--filter", "evt.type=signaldeliver and evt.arg.sig=SIGSEGV"]),
        LIMIT,
    );
    assert!(
        stdout_of(&out).lines().count() >= 1,
        "evt.arg.sig matches a signal's name: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigquit_delivered_matches_a_filter_on_its_name() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let out = w.capture(
        &["-q"],
        &["sh", "-c", "trap 'exit 0' QUIT; kill -QUIT $$; sleep 1"],
    );
    assert_eq!(out.status.code(), Some(0));
    let replay = e2e_tests::bin("replay");
    let out = e2e_tests::run_with_timeout(
        Command::new(&replay)
            .arg(w.trace_path())
            .args(["--filter", "evt.type=signaldeliver and evt.arg.sig=SIGQUIT"]),
        LIMIT,
    );
    let text = stdout_of(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("SIGQUIT"), "{text}");
}

#[test]
fn copy_file_range_names_both_fds_and_fcntl_getfl_shows_no_arg() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let src = w.path("src.txt");
    let dst = w.path("dst.txt");
    std::fs::write(&src, "hello\n").unwrap_or_else(|e| panic!("{e}"));
    let prog = format!(
        r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
int main(void) {{
    int in = open("{}", O_RDONLY);
    int out = open("{}", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (copy_file_range(in, 0, out, 0, 6, 0) != 6) return 1;
    /* garbage in the third argument register */
    return fcntl(out, F_GETFL, 0x5a5a5a5a) < 0;
}}
"#,
        src.display(),
        dst.display()
    );
    let Some(bin) = w.cc("cfr", &prog, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    let replay = e2e_tests::bin("replay");
    let out = e2e_tests::run_with_timeout(
        Command::new(&replay)
            .arg(w.trace_path())
            .args(["--filter", "evt.type in (copy_file_range, fcntl)"]),
        LIMIT,
    );
    let text = stdout_of(&out);
    let cfr = text
        .lines()
        .find(|l| l.contains("copy_file_range"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        cfr.contains(&format!("fdout=4({})", dst.display()))
            || cfr.contains(&format!("({})", dst.display())),
        "{cfr}"
    );
    let getfl = text
        .lines()
        .find(|l| l.contains("F_GETFL"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!getfl.contains("arg="), "{getfl}");
}

#[test]
fn an_ignored_sigchld_is_the_workloads_and_not_captures() {
    use std::os::unix::process::CommandExt;
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    // capture starts with SIGCHLD ignored: the workload inherits it (bit
    // 17 of SigIgn), and capture itself still collects exit statuses.
    let run = |cmd: &[&str]| {
        let mut c = Command::new(capture_bin());
        c.arg("-q")
            .arg("-o")
            .arg(w.trace_path())
            .arg("--")
            .args(cmd);
        // SAFETY: signal(2) is async-signal-safe; runs in the child
        // between fork and exec.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                Ok(())
            });
        }
        e2e_tests::run_with_timeout(&mut c, LIMIT)
    };
    let out = run(&["grep", "SigIgn", "/proc/self/status"]);
    let text = stdout_of(&out);
    let ign = text
        .trim()
        .strip_prefix("SigIgn:")
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap_or(0))
        .unwrap_or(0);
    assert!(ign & (1 << (libc::SIGCHLD - 1)) != 0, "{text}");
    let out = run(&["sh", "-c", "exit 3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
