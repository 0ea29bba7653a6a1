//! `capture --syscalls SET`: each set records exactly the syscalls it
//! promises (the set plus the state-changing syscalls), nothing else, and
//! the process and fd state stays exact (a socket `dup2`ed under `net` still
//! has its address).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, FdKind, Value, result_index};
use trace_format::syscalls::{self, parse_set};

/// File, network and process work: open/read/close, a UDP socket connected
/// to 127.0.0.1:9 then `dup2`ed to fd 10 and used through fd 10, a fork
/// whose child execs `/bin/true`, and enough sends to fill several chunks.
const MIXED: &str = r#"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    char b[64];
    for (int i = 0; i < 5; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd < 0) return 10;
        read(fd, b, sizeof b);
        close(fd);
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) return 11;
    if (dup2(s, 10) != 10) return 12;
    close(s);
    for (int i = 0; i < 200; i++) {
        send(10, "0123456789abcdef", 16, MSG_DONTWAIT);
        getpid();
    }
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/true", "true", (char *)0);
        _exit(13);
    }
    int st;
    waitpid(p, &st, 0);
    return WEXITSTATUS(st);
}
"#;

/// Per syscall id, how many syscall events a trace holds; and the counts of
/// process start, exec and thread exit events.
fn counts(t: &Trace) -> (BTreeMap<u16, usize>, [usize; 3]) {
    let mut by_id = BTreeMap::new();
    let mut lifecycle = [0; 3];
    for e in &t.events {
        match &e.body {
            EventBody::Syscall(s) => *by_id.entry(s.id).or_insert(0) += 1,
            EventBody::ProcessStart(_) => lifecycle[0] += 1,
            EventBody::Exec(_) => lifecycle[1] += 1,
            EventBody::ThreadExit(_) => lifecycle[2] += 1,
            _ => {}
        }
    }
    (by_id, lifecycle)
}

fn name(id: u16) -> String {
    syscalls::name(id)
        .map(str::to_string)
        .unwrap_or_else(|| format!("syscall_{id}"))
}

/// Records `bin` with `--syscalls spec`.
fn record(bin: &str, spec: &str) -> Trace {
    let w = Work::new();
    let out = w.capture(&["-q", "--chunk-size", "4K", "--syscalls", spec], &[bin]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "--syscalls {spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    assert_eq!(t.meta.syscall_set, spec, "the set is in the metadata");
    t
}

/// The state every set must get right: fd 10 of the main process is the
/// connected UDP socket, named in events and in a later chunk's snapshot.
fn check_fd_state(spec: &str, t: &Trace) {
    let main_pid = t
        .events
        .iter()
        .find(|e| matches!(e.body, EventBody::Exec(_)))
        .map(|e| e.pid)
        .unwrap_or_else(|| panic!("{spec}: no exec"));
    assert!(
        t.snapshots.len() > 2,
        "{spec}: several chunks ({})",
        t.snapshots.len()
    );
    let in_snapshot = t
        .snapshots
        .iter()
        .flat_map(|s| s.processes.iter())
        .filter(|p| p.pid == main_pid)
        .any(|p| {
            p.fds.iter().any(|f| {
                f.num == 10
                    && f.kind == FdKind::Ipv4Socket
                    && f.socket
                        .as_ref()
                        .is_some_and(|s| s.remote_port == 9 && s.remote_addr == [127, 0, 0, 1])
            })
        });
    assert!(
        in_snapshot,
        "{spec}: fd 10 is the connected socket in a snapshot"
    );
    // Where sends are recorded, they name the socket through fd 10.
    for (_, s) in t.syscalls("sendto") {
        match param(s, result_index::FD_NAME) {
            Some(Value::Str(n)) => {
                let n = String::from_utf8_lossy(n);
                assert!(n.ends_with("->127.0.0.1:9"), "{spec}: sendto fd name {n}");
            }
            other => panic!("{spec}: sendto without fd name: {other:?}"),
        }
    }
}

#[test]
fn each_set_records_what_it_promises_and_nothing_else() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("mixed", MIXED, &[]) else {
        return;
    };
    let bin = bin.to_str().unwrap_or_default().to_string();
    let all = record(&bin, "all");
    let (all_counts, all_life) = counts(&all);
    check_fd_state("all", &all);
    for spec in ["falco", "file", "net", "process", "read,getpid"] {
        let t = record(&bin, spec);
        let set = parse_set(spec).unwrap_or_else(|e| panic!("{e}"));
        let (got, life) = counts(&t);
        // Nothing outside the set.
        let extra: Vec<String> = got
            .keys()
            .filter(|id| !set.contains(**id))
            .map(|id| name(*id))
            .collect();
        assert!(extra.is_empty(), "{spec} recorded {extra:?}");
        // Everything inside it, as often as `all` saw it.
        for (id, n) in &all_counts {
            if set.contains(*id) {
                assert_eq!(
                    got.get(id).copied().unwrap_or(0),
                    *n,
                    "{spec}: count of {}",
                    name(*id)
                );
            }
        }
        assert_eq!(life, all_life, "{spec}: process lifecycle events");
        check_fd_state(spec, &t);
    }
    // Sanity of the comparison: the sets really differ.
    let net = counts(&record(&bin, "net")).0;
    assert!(net.contains_key(&44), "net records sendto");
    assert!(!net.contains_key(&0), "net does not record read");
    assert!(
        net.contains_key(&33),
        "dup2 is a state change, always recorded"
    );
}

const LOOP: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    for (;;) {
        int f = open("/etc/hostname", O_RDONLY);
        char b[8];
        if (f >= 0) { read(f, b, sizeof b); close(f); }
        getppid();
        usleep(10000);
    }
}
"#;

#[test]
fn attach_with_a_set_says_unselected_syscalls_still_stop() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("loop", LOOP, &[]) else {
        return;
    };
    let target = Killer(
        Command::new(&bin)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}")),
    );
    let pid = target.0.id();
    let mut cap = w.attach(pid, &["--syscalls", "getppid"]);
    std::thread::sleep(Duration::from_millis(300));
    kill(cap.id(), libc::SIGINT);
    let st = wait_child(&mut cap, LIMIT);
    assert!(st.success(), "capture exits 0 after detaching");
    let mut err = String::new();
    if let Some(mut e) = cap.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        err.contains("every syscall still stops"),
        "plain notice: {err}"
    );
    let t = w.trace();
    let (got, _) = counts(&t);
    let set = parse_set("getppid").unwrap_or_else(|e| panic!("{e}"));
    assert!(got.contains_key(&110), "getppid recorded: {got:?}");
    assert!(got.contains_key(&3), "close (state) recorded: {got:?}");
    let extra: Vec<String> = got
        .keys()
        .filter(|id| !set.contains(**id))
        .map(|id| name(*id))
        .collect();
    assert!(extra.is_empty(), "recorded outside the set: {extra:?}");
}

#[test]
fn processes_left_behind_under_a_filter_keep_working() {
    if !ptrace_permitted() {
        return;
    }
    // The main process exits first; its background child opens and writes
    // files afterwards. Detached under the filter, its openat would fail
    // with ENOSYS; capture must keep serving it until it exits.
    let w = Work::new();
    let out_file = w.path("late.txt");
    let script = format!(
        "(sleep 0.3; cat /etc/hostname > {}) & exit 0",
        out_file.display()
    );
    let out = w.capture(&["-q", "--syscalls", "file"], &["sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(0));
    let want = std::fs::read("/etc/hostname").unwrap_or_default();
    let got = std::fs::read(&out_file).unwrap_or_default();
    assert_eq!(got, want, "the orphan's cat worked");
    let t = w.trace();
    assert!(
        t.syscalls("openat")
            .any(|(_, s)| path_of(s, 1).is_some_and(|p| p.ends_with("late.txt"))),
        "and was recorded"
    );
}

#[test]
fn the_filter_is_installed_without_no_new_privs_when_capture_may() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let out = w.capture(
        &["-q", "--syscalls", "net"],
        &["grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status"],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(field("Seccomp:").as_deref(), Some("2"), "a filter: {text}");
    // CAP_SYS_ADMIN (bit 21) lets capture skip no_new_privs, keeping the
    // workload's setuid semantics.
    let cap_eff = status_field(std::process::id(), "CapEff")
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0);
    let want = if cap_eff & (1 << 21) != 0 { "0" } else { "1" };
    assert_eq!(field("NoNewPrivs:").as_deref(), Some(want), "{text}");
    // And `all` installs nothing.
    let out = w.capture(&["-q"], &["grep", "^Seccomp:", "/proc/self/status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains('0'));
}

/// An i386 `getpid` (`int 0x80`, number 20) next to the native one; the
/// output is the same with and without capture.
#[cfg(target_arch = "x86_64")]
const COMPAT: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(void) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    printf("%d\n", r == (long)getpid() ? 1 : (int)r);
    return 0;
}
"#;

#[cfg(target_arch = "x86_64")]
#[test]
fn compat_syscalls_are_stopped_not_recorded_and_still_work() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("compat", COMPAT, &[]) else {
        return;
    };
    let bin = bin.to_str().unwrap_or_default().to_string();
    let native = std::process::Command::new(&bin)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let out = w.capture(&["-q", "-v", "--syscalls", "getpid"], &[&bin]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&native.stdout),
        "the i386 syscall behaves as without capture"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("foreign_syscalls: 1"), "counted: {err}");
    let t = w.trace();
    assert_eq!(t.syscalls("getpid").count(), 1, "only the native getpid");
}

/// Runs argv[1..] in a sandbox whose seccomp policy refuses `seccomp(2)`
/// (and the `prctl` form) with EPERM, as some container runtimes do.
const NO_SECCOMP: &str = r#"
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog p = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)) return 3;
    execv(argv[1], argv + 1);
    return 4;
}
"#;

#[test]
fn a_filter_that_cannot_be_installed_is_an_error_unless_all() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(sandbox) = w.cc("nosec", NO_SECCOMP, &[]) else {
        return;
    };
    let marker = w.path("ran");
    let script = format!("touch {}", marker.display());
    let run = |set: &str| {
        let mut c = Command::new(&sandbox);
        c.arg(capture_bin())
            .arg("-q")
            .arg("-o")
            .arg(w.trace_path())
            .args(["--syscalls", set, "--", "sh", "-c", &script]);
        e2e_tests::run_with_timeout(&mut c, LIMIT)
    };
    let out = run("net");
    assert_eq!(
        out.status.code(),
        Some(125),
        "capture failed, not the workload"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot install the seccomp filter") && err.contains("--syscalls all"),
        "says why and what to do: {err}"
    );
    assert!(!marker.exists(), "the workload did not run");
    let out = run("all");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.exists(), "--syscalls all needs no filter");
}
