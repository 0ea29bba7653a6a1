//! Helpers for the `capture_*` end-to-end tests: run the real `capture`
//! binary on real programs (small C programs compiled at test time), with a
//! time limit, and read back what it recorded.
//!
//! Tests never depend on pid values or timing: they relate pids found in
//! the trace to each other, and wait for conditions with deadlines.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use trace_format::TraceReader;
use trace_format::model::{
    Event, EventBody, Exec, Marker, Snapshot, SyscallEvent, TraceMeta, Value,
};

/// Default time limit of one capture run.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The `capture` binary.
pub fn capture_bin() -> PathBuf {
    crate::bin("capture")
}

/// Whether this machine lets us ptrace a child: if not, capture tests skip
/// with a message, except under CI, where a machine that cannot ptrace is a
/// failure (like a missing tool in [`crate::require`]).
pub fn ptrace_permitted() -> bool {
    let Ok(mut child) = Command::new("sleep").arg("5").spawn() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot run `sleep` under CI"
        );
        return false;
    };
    let pid = child.id() as libc::pid_t;
    // SAFETY: PTRACE_SEIZE takes no pointers; the child is ours.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    let err = std::io::Error::last_os_error();
    let _ = child.kill();
    let _ = child.wait();
    if r != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "ptrace is not permitted under CI ({err}); capture tests cannot run"
        );
        eprintln!("skipped: ptrace is not permitted here ({err}); add CAP_SYS_PTRACE");
    }
    r == 0
}

/// What a trace holds, all chunks together.
#[derive(Debug, Default)]
pub struct Trace {
    pub meta: TraceMeta,
    pub snapshots: Vec<Snapshot>,
    pub events: Vec<Event>,
}

impl Trace {
    /// Reads every chunk of `path`.
    pub fn read(path: &Path) -> Trace {
        let r = TraceReader::open(path)
            .unwrap_or_else(|e| panic!("cannot open trace {}: {e}", path.display()));
        let mut t = Trace::default();
        for c in r.chunks() {
            let c = c.unwrap_or_else(|e| panic!("bad chunk in {}: {e}", path.display()));
            let m = c.to_model();
            t.meta = m.meta;
            t.snapshots.push(m.snapshot);
            t.events.extend(m.events);
        }
        t
    }

    /// Syscall events of the syscall called `name`.
    pub fn syscalls<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a Event, &'a SyscallEvent)> + 'a {
        let id = trace_format::syscalls::by_name(name)
            .map(|s| s.id)
            .unwrap_or_else(|| panic!("no syscall `{name}` in the table"));
        self.events.iter().filter_map(move |e| match &e.body {
            EventBody::Syscall(s) if s.id == id => Some((e, s)),
            _ => None,
        })
    }

    /// Names of all recorded syscalls (for messages).
    pub fn syscall_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Syscall(s) => Some(
                    trace_format::syscalls::name(s.id)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("syscall_{}", s.id)),
                ),
                _ => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every signal event as (signal number, what happened to it).
    pub fn signals(&self) -> Vec<(i32, trace_format::model::SignalAction)> {
        self.events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Signal(s) => Some((s.signo, s.action)),
                _ => None,
            })
            .collect()
    }

    /// The exec events, in order.
    pub fn execs(&self) -> impl Iterator<Item = (&Event, &Exec)> + '_ {
        self.bodies(|b| match b {
            EventBody::Exec(x) => Some(x),
            _ => None,
        })
    }

    /// The markers, in order.
    pub fn markers(&self) -> impl Iterator<Item = (&Event, &Marker)> + '_ {
        self.bodies(|b| match b {
            EventBody::Marker(m) => Some(m),
            _ => None,
        })
    }

    /// Events of one kind.
    pub fn bodies<'a, T: 'a>(
        &'a self,
        f: impl Fn(&'a EventBody) -> Option<&'a T> + 'a,
    ) -> impl Iterator<Item = (&'a Event, &'a T)> + 'a {
        self.events
            .iter()
            .filter_map(move |e| f(&e.body).map(|b| (e, b)))
    }
}

/// A param of a syscall by index.
pub fn param(s: &SyscallEvent, index: u8) -> Option<&Value> {
    s.params.iter().find(|p| p.index == index).map(|p| &p.value)
}

/// The resolved path of a param, as text.
pub fn path_of(s: &SyscallEvent, index: u8) -> Option<String> {
    match param(s, index)? {
        Value::Path { resolved, .. } => Some(String::from_utf8_lossy(resolved).into_owned()),
        _ => None,
    }
}

/// Extra capture options for every run, from `SYSREC_TEST_CAPTURE_ARGS`
/// (whitespace-separated), e.g. `--syscalls falco` to run the transparency
/// tests under the seccomp filter. Tests that check which syscalls were
/// recorded expect the default (`all`).
pub fn env_args() -> Vec<String> {
    std::env::var("SYSREC_TEST_CAPTURE_ARGS")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// A temp dir with a trace path in it.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Default for Work {
    fn default() -> Self {
        Self::new()
    }
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn trace_path(&self) -> PathBuf {
        self.path("trace.zst")
    }

    /// `capture -o TRACE EXTRA... -- CMD...`, run to completion.
    pub fn capture(&self, extra: &[&str], cmd: &[&str]) -> Output {
        let mut c = Command::new(capture_bin());
        c.arg("-o")
            .arg(self.trace_path())
            .args(env_args())
            .args(extra)
            .arg("--")
            .args(cmd);
        crate::run_with_timeout(&mut c, LIMIT)
    }

    /// Like [`Work::capture`], spawned (stdout piped, stderr inherited).
    pub fn spawn_capture(&self, extra: &[&str], cmd: &[&str]) -> Child {
        Command::new(capture_bin())
            .arg("-o")
            .arg(self.trace_path())
            .args(env_args())
            .args(extra)
            .arg("--")
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn capture: {e}"))
    }

    pub fn trace(&self) -> Trace {
        Trace::read(&self.trace_path())
    }

    /// Starts `capture -q EXTRA... --pid PID` and waits until it is the
    /// target's tracer.
    pub fn attach(&self, pid: u32, extra: &[&str]) -> Child {
        let cap = Command::new(capture_bin())
            .arg("-o")
            .arg(self.trace_path())
            .arg("-q")
            .args(extra)
            .args(["--pid", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn capture: {e}"));
        assert!(
            wait_until(LIMIT, || status_field(pid, "TracerPid")
                .is_some_and(|t| t == cap.id().to_string())),
            "capture attached"
        );
        cap
    }

    /// Compiles a C program with gcc; `None` (test skipped) without gcc or
    /// when the flags are not supported (e.g. no static libc).
    pub fn cc(&self, name: &str, src: &str, flags: &[&str]) -> Option<PathBuf> {
        if !crate::have("gcc") {
            eprintln!("skipped: gcc is not installed");
            return None;
        }
        let c = self.path(&format!("{name}.c"));
        std::fs::write(&c, src).ok()?;
        let out = self.path(name);
        let o = Command::new("gcc")
            .args(["-O1", "-o"])
            .arg(&out)
            .arg(&c)
            .args(flags)
            .output()
            .ok()?;
        if !o.status.success() {
            eprintln!(
                "skipped: gcc {flags:?} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Some(out)
    }
}

/// Waits for `child` up to `limit`; kills it and panics after.
pub fn wait_child(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child did not finish within {limit:?}");
            }
        }
    }
}

/// Polls `cond` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Sends `sig` to `pid`.
pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) with plain integers.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// The children of `pid` (`/proc/PID/task/*/children`).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// A field of `/proc/PID/status` (e.g. `TracerPid`, `State`).
pub fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
}

/// The one-letter state of `pid` from `/proc/PID/stat`.
pub fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..].trim().chars().next()
}

/// A TCP client and server on 127.0.0.1: the server forks a client that
/// connects, sends `ping` and reads `pong` (exit status 0 when all went well).
pub const PINGPONG: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8)) return 10;
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    pid_t p = fork();
    if (p == 0) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, sizeof a)) _exit(11);
        write(c, "ping", 4);
        char b[8];
        if (read(c, b, sizeof b) != 4 || memcmp(b, "pong", 4)) _exit(12);
        close(c);
        _exit(0);
    }
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int c = accept4(s, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
    char b[8];
    if (read(c, b, sizeof b) != 4) return 13;
    write(c, "pong", 4);
    int st;
    waitpid(p, &st, 0);
    close(c);
    return WEXITSTATUS(st);
}
"#;

/// Kills and reaps a child when dropped, so a failing test leaves no
/// process behind.
pub struct Killer(pub std::process::Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
