//! The handover on real processes: a C program forks a child with a raw
//! `clone`; tracer thread A sees the child's first stop and parks it;
//! thread B adopts it after a pause long enough for an untraced child to
//! run to its end, and records every syscall it makes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::*;

/// The workload. argv[1]: how many SIGUSR1s the child must have handled;
/// argv[2] == "filter": the parent installs a seccomp filter of its own
/// (allow everything) before forking. The child makes 200 `write(-1, buf,
/// k)` calls (k = 1..200, numbered so a missing one shows), checks that
/// its signal mask is its parent's, and exits 0, or 3 (mask changed) or 4
/// (SIGUSR1 handled a wrong number of times). The parent exits with the
/// child's code, 100 + signal if it was killed, 52 if `waitpid(WUNTRACED)`
/// ever reported it stopped.
const PROGRAM: &str = r#"
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { (void)s; got++; }

int main(int argc, char **argv) {
    char b;
    if (argc < 3 || read(0, &b, 1) != 1) return 50;
    int expected = atoi(argv[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_SETMASK, &m, 0);
    if (strcmp(argv[2], "filter") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = { 1, &allow };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
            return 54;
    }
    long c = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (c == 0) {
        char buf[256] = {0};
        for (long k = 1; k <= 200; k++) syscall(SYS_write, -1, buf, k);
        unsigned long now = 0, want = 0;
        memcpy(&want, &m, sizeof want);
        syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, &now, 8);
        if (now != want) syscall(SYS_exit_group, 3);
        syscall(SYS_exit_group, got == expected ? 0 : 4);
    }
    int st;
    if (waitpid(c, &st, WUNTRACED) != c) return 51;
    if (WIFSTOPPED(st)) return 52;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 100 + WTERMSIG(st);
    return 53;
}
"#;

fn program() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("fork.c");
    let bin = dir.path().join("fork");
    std::fs::write(&src, PROGRAM).expect("write source");
    let out = Command::new("gcc")
        .arg("-O1")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc runs (CI has it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, bin)
}

/// What one run saw.
struct Run {
    /// The parent's exit code.
    code: i32,
    /// What `park` said, if it did not park.
    kept: Option<String>,
    adopted: Option<Adopted>,
    /// `(nr, args)` of every syscall entry the new tracer saw.
    calls: Vec<(u64, [u64; 6])>,
}

/// Runs the program under tracer A (this test's thread), hands its child
/// to tracer B, which sends `signal` (0: none) to the parked child and
/// waits 200 ms before adopting it.
fn run(expected_usr1: u32, filter: bool, signal: i32) -> Run {
    let (_dir, bin) = program();
    let (to_b, parked) = mpsc::channel::<Box<Parked>>();
    let b = std::thread::spawn(move || {
        let Ok(p) = parked.recv() else {
            return (None, Vec::new());
        };
        if signal != 0 {
            // SAFETY: kill(2) on the parked child, alive until reaped by
            // its parent, which waits for it.
            unsafe { libc::kill(p.tid, signal) };
        }
        std::thread::sleep(Duration::from_millis(200));
        let (adopted, _) = adopt(&p, ptrace::options(true)).expect("adopt");
        let mut calls = Vec::new();
        if adopted != Adopted::Stopped {
            return (Some(adopted), calls);
        }
        let mut deliver = 0;
        loop {
            ptrace::resume_syscall(p.tid, deliver).expect("resume");
            deliver = 0;
            let status = ptrace::wait_tid(p.tid).expect("wait");
            match Stop::from_status(status) {
                Stop::Syscall => {
                    if let Ok(SyscallInfo::Entry { nr, args, .. }) = ptrace::syscall_info(p.tid) {
                        calls.push((nr, args));
                    }
                }
                Stop::Signal { signal } => deliver = signal,
                s if s.is_death() => break,
                _ => {}
            }
        }
        (Some(adopted), calls)
    });

    let mut child = Command::new(&bin)
        .arg(expected_usr1.to_string())
        .arg(if filter { "filter" } else { "none" })
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let parent = child.id() as i32;
    ptrace::seize(parent, ptrace::options(true)).expect("seize");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"g")
        .expect("go");
    let mut kept = None;
    let mut to_b = Some(to_b);
    let code = loop {
        let Some((tid, status)) = ptrace::wait_own(false).expect("wait") else {
            continue;
        };
        let stop = Stop::from_status(status);
        if tid == parent {
            match stop {
                Stop::Exited { code } => break code,
                Stop::Killed { signal, .. } => break 200 + signal,
                Stop::Signal { signal } => ptrace::resume_cont(tid, signal).expect("cont"),
                Stop::GroupStop { .. } => ptrace::listen(tid).expect("listen"),
                _ => ptrace::resume_cont(tid, 0).expect("cont"),
            }
            continue;
        }
        // The child, still A's: its first stop is the handover's moment.
        match stop {
            Stop::Interrupt { .. } if to_b.is_some() => match park(tid, Filters::default()) {
                Ok(p) => {
                    let _ = to_b.take().map(|t| t.send(Box::new(p)));
                }
                Err(k) => {
                    kept = Some(format!("{k:?}"));
                    to_b = None;
                    ptrace::resume_cont(tid, 0).expect("cont");
                }
            },
            Stop::Signal { signal } => ptrace::resume_cont(tid, signal).expect("cont"),
            s if s.is_death() => {}
            _ => {
                let _ = ptrace::resume_cont(tid, 0);
            }
        }
    };
    drop(to_b);
    // Already reaped by this thread's waitpid as its tracer; this only
    // tells the Child so.
    let _ = child.wait();
    let (adopted, calls) = b.join().expect("tracer B");
    Run {
        code,
        kept,
        adopted,
        calls,
    }
}

/// The canonical (x86_64) id of a native syscall number.
fn canonical(nr: u64) -> Option<u16> {
    arch::canonical_id(arch::NATIVE_AUDIT_ARCH, nr)
}

/// The `k` of every `write(-1, buf, k)` the new tracer recorded.
fn writes(calls: &[(u64, [u64; 6])]) -> Vec<u64> {
    calls
        .iter()
        .filter(|(nr, a)| canonical(*nr) == Some(1) && a[0] as i32 == -1)
        .map(|(_, a)| a[2])
        .collect()
}

#[test]
fn a_handed_over_child_runs_no_syscall_untraced_and_keeps_its_mask() {
    let r = run(0, false, 0);
    assert_eq!(r.kept, None);
    assert_eq!(r.adopted, Some(Adopted::Stopped));
    // 200 ms parked: had the child run untraced, it would have made its
    // writes (or all of them) before the adoption.
    assert_eq!(writes(&r.calls), (1..=200).collect::<Vec<_>>());
    // 0: mask restored, no SIGUSR1, and its parent never saw it stopped.
    assert_eq!(r.code, 0, "calls: {:?}", r.calls.len());
}

#[test]
fn a_signal_sent_while_parked_is_delivered_once_under_the_new_tracer() {
    let r = run(1, false, libc::SIGUSR1);
    assert_eq!(r.adopted, Some(Adopted::Stopped));
    assert_eq!(writes(&r.calls), (1..=200).collect::<Vec<_>>());
    // The handler ran before the first write: the signal was pending,
    // blocked, until the registers (and with them the mask) came back.
    assert_eq!(r.calls.first().and_then(|c| canonical(c.0)), Some(15)); // rt_sigreturn
    assert_eq!(r.code, 0, "the child handled SIGUSR1 once, mask intact");
}

#[test]
fn a_child_killed_while_parked_dies_as_it_would_untraced() {
    let r = run(0, false, libc::SIGKILL);
    assert_eq!(r.adopted, Some(Adopted::Gone(None)));
    assert!(r.calls.is_empty());
    assert_eq!(r.code, 100 + libc::SIGKILL);
}

#[test]
fn a_child_under_its_own_seccomp_filter_is_kept_not_parked() {
    let r = run(0, true, 0);
    let kept = r.kept.expect("kept");
    assert!(kept.contains("seccomp filter of its own"), "{kept}");
    assert_eq!(r.adopted, None);
    assert_eq!(r.code, 0);
}
