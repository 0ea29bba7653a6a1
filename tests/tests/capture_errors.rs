//! Failures capture must report clearly while leaving the workload alone:
//! ptrace refused, disk full while recording.

use std::process::{Command, Stdio};

use e2e_tests::capture_support::*;

#[test]
fn ptrace_refused_names_the_capability() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 || !e2e_tests::have("setpriv") {
        eprintln!("skipped: needs root and setpriv to run capture unprivileged");
        return;
    }
    let w = Work::new();
    let mut target = Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    // A world-writable output directory, so only ptrace can fail.
    let out_dir = w.path("out");
    std::fs::create_dir(&out_dir).unwrap_or_else(|e| panic!("{e}"));
    let _ = Command::new("chmod").arg("777").arg(&out_dir).status();
    let _ = Command::new("chmod").arg("755").arg(w.dir.path()).status();
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(capture_bin())
    .arg("-o")
    .arg(out_dir.join("t.zst"))
    .args(["--pid", &target.id().to_string()]);
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    let _ = target.kill();
    let _ = target.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("Permission denied") && err.contains("capture") && !err.contains("ptrace") {
        eprintln!("skipped: the capture binary is not reachable as an unprivileged user: {err}");
        return;
    }
    assert!(!out.status.success());
    assert!(err.contains("SYS_PTRACE"), "{err}");
    assert!(err.contains("ptrace_scope"), "{err}");
}

struct Tmpfs(std::path::PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

const LOOP: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    char b[64];
    int fd = open("/dev/zero", O_RDONLY);
    for (int i = 0; i < 100000; i++) read(fd, b, sizeof b);
    return 9;
}
"#;

#[test]
fn disk_full_is_a_gap_not_a_failure_of_the_workload() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("loop", LOOP, &[]) else {
        return;
    };
    let mnt = w.path("small");
    std::fs::create_dir(&mnt).unwrap_or_else(|e| panic!("{e}"));
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a small tmpfs");
        return;
    }
    let _guard = Tmpfs(mnt.clone());
    let mut c = Command::new(capture_bin());
    c.arg("-o").arg(mnt.join("t.zst")).arg("--").arg(&bin);
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    assert_eq!(out.status.code(), Some(9), "the workload ran to its end");
    let err = String::from_utf8_lossy(&out.stderr);
    let gaps: u64 = err
        .split(", ")
        .find_map(|f| f.strip_suffix(" gaps"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        gaps > 0 || err.contains("trace incomplete"),
        "the loss is reported: {err}"
    );
}
