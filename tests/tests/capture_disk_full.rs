//! A disk that fills up while capture records, then frees space: every loss
//! is recorded in the trace, and capture's exit summary, `replay --stats`
//! and `replay verify` agree on how many events were lost. On a real full
//! filesystem (a small tmpfs; needs root to mount it, skipped otherwise:
//! `format/tests/disk_full.rs` covers the writer without root).

use std::process::{Command, Stdio};
use std::time::Duration;

use e2e_tests::capture_support::*;
use e2e_tests::{bin, run_with_timeout};

struct Tmpfs(std::path::PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Reads /dev/zero many times, frees the space the filler file takes, and
/// reads some more.
const FILL_THEN_FREE: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char b[64];
    int fd = open("/dev/zero", O_RDONLY);
    for (int i = 0; i < 30000; i++) read(fd, b, sizeof b);
    unlink(argv[1]);
    for (int i = 0; i < 2000; i++) read(fd, b, sizeof b);
    return 0;
}
"#;

/// The number before `suffix` in `text`.
fn number_before(text: &str, suffix: &str) -> Option<u64> {
    let end = text.find(suffix)?;
    let start = text[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    text[start..end].parse().ok()
}

#[test]
fn disk_full_then_freed_counts_agree_everywhere() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(prog) = w.cc("fill", FILL_THEN_FREE, &[]) else {
        return;
    };
    let mnt = w.path("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a small tmpfs");
        return;
    }
    let _guard = Tmpfs(mnt.clone());
    // Leave 16 KiB free; once freed, the space holds the whole trace.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; (8 << 20) - (16 << 10)]).unwrap();
    let trace = mnt.join("t.zst");
    let mut c = Command::new(bin("capture"));
    c.arg("-o")
        .arg(&trace)
        .args(["--chunk-size", "16k", "--"])
        .arg(&prog)
        .arg(&filler);
    let out = run_with_timeout(&mut c, LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lost = number_before(&err, " events in ").unwrap_or_else(|| panic!("no loss: {err}"));
    assert!(lost > 0, "{err}");
    assert!(
        err.contains("recorded in the trace as gap markers"),
        "space came back, so the markers are on disk: {err}"
    );
    let chunks = number_before(&err, " chunks, ").unwrap_or_else(|| panic!("{err}"));

    let replay = |args: &[&str]| {
        let o = run_with_timeout(
            Command::new(bin("replay")).args(args).arg(&trace),
            Duration::from_secs(60),
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let stats = replay(&["--stats"]);
    assert_eq!(
        number_before(&stats, " events lost)"),
        Some(lost),
        "--stats: {stats}\ncapture: {err}"
    );
    let verify = replay(&["verify"]);
    assert_eq!(
        number_before(&verify, " lost event(s)"),
        Some(lost),
        "gap markers in verify: {verify}"
    );
    assert_eq!(
        number_before(&verify, " event(s) in "),
        Some(lost),
        "the index's record in verify: {verify}"
    );
    assert_eq!(
        number_before(&verify, " intact chunk(s)"),
        Some(chunks),
        "every chunk written is intact: {verify}"
    );
    assert!(!verify.contains("corrupt"), "{verify}");
}

#[test]
fn disk_full_for_good_says_what_the_trace_holds() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(prog) = w.cc("fill", FILL_THEN_FREE, &[]) else {
        return;
    };
    let mnt = w.path("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a small tmpfs");
        return;
    }
    let _guard = Tmpfs(mnt.clone());
    std::fs::write(mnt.join("filler"), vec![0u8; (1 << 20) - (16 << 10)]).unwrap();
    let trace = mnt.join("t.zst");
    let mut c = Command::new(bin("capture"));
    c.arg("-o")
        .arg(&trace)
        .args(["--chunk-size", "16k", "--"])
        .arg(&prog)
        // Nothing is freed.
        .arg(w.path("not-there"));
    let out = run_with_timeout(&mut c, LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("recorded in the trace as gap markers"),
        "no marker can be on disk: {err}"
    );
    let in_markers = number_before(&err, " of them").unwrap_or_else(|| panic!("{err}"));
    assert!(err.contains("are in no gap marker"), "{err}");
    let mut partial = trace.into_os_string();
    partial.push(".partial");
    let o = run_with_timeout(
        Command::new(bin("replay")).arg("verify").arg(&partial),
        Duration::from_secs(60),
    );
    let verify = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        number_before(&verify, " lost event(s)").unwrap_or(0),
        in_markers,
        "{verify}\ncapture: {err}"
    );
    assert!(!verify.contains("corrupt"), "{verify}");
}
