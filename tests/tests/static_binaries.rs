//! The static (musl) binaries built by `scripts/build-static.sh`: the
//! x86_64 capture and replay run in an empty root (nothing but them and a
//! static busybox: no libc, no /etc, no /proc), recording a busybox shell
//! script whose trace the normal replay reads outside; the aarch64 ones
//! start under qemu-user and replay a sample trace (ptrace cannot be tested
//! there: qemu-user implements no ptrace for its guest).
//!
//! The binaries are not built here (a release musl build takes minutes and
//! `.ci/run` builds them once, before the tests): under CI a missing one is
//! a failure; elsewhere the test skips and says which command builds it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::capture_support::{Trace, path_of, ptrace_permitted};

/// `target/` (the test runs from `target/<profile>/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The static binary `name` for `arch`, or None (a skip) outside CI.
fn static_bin(arch: &str, name: &str) -> Option<PathBuf> {
    let path = target_dir()
        .join(format!("{arch}-unknown-linux-musl"))
        .join("dist")
        .join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing under CI (`bash scripts/build-static.sh {arch}` builds it)",
        path.display()
    );
    eprintln!(
        "skipped: {} is not built (bash scripts/build-static.sh {arch})",
        path.display()
    );
    None
}

/// What `file` says of it: static, stripped, for `machine`.
fn assert_static(path: &Path, machine: &str) {
    if !e2e_tests::require("file") {
        return;
    }
    let out = Command::new("file").arg("-b").arg(path).output().unwrap();
    let desc = String::from_utf8_lossy(&out.stdout);
    // Rust's musl targets link static PIE: `file` says "static-pie linked"
    // (no interpreter, no shared library, like "statically linked").
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "{}: {desc}",
        path.display()
    );
    assert!(!desc.contains("interpreter"), "{}: {desc}", path.display());
    assert!(desc.contains(", stripped"), "{}: {desc}", path.display());
    assert!(desc.contains(machine), "{}: {desc}", path.display());
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn x86_64_static_capture_records_in_an_empty_root() {
    let (Some(capture), Some(replay)) = (
        static_bin("x86_64", "capture"),
        static_bin("x86_64", "replay"),
    ) else {
        return;
    };
    assert_static(&capture, "x86-64");
    assert_static(&replay, "x86-64");
    if !ptrace_permitted() || !e2e_tests::require("chroot") || !e2e_tests::require("busybox") {
        return;
    }
    let busybox = PathBuf::from(
        text(
            &Command::new("sh")
                .args(["-c", "command -v busybox"])
                .output()
                .unwrap()
                .stdout,
        )
        .trim(),
    );
    assert_static(&std::fs::canonicalize(&busybox).unwrap(), "x86-64");

    // The root: three static binaries and nothing else.
    let root = tempfile::tempdir().unwrap();
    for (src, name) in [(&capture, "capture"), (&replay, "replay"), (&busybox, "busybox")] {
        std::fs::copy(src, root.path().join(name)).unwrap();
    }
    let mut entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["busybox", "capture", "replay"]);

    // Each external command is a fork and exec of /busybox (a path, so no
    // applet runs inside the shell).
    let script = "/busybox mkdir /out && /busybox echo evidence > /out/note \
                  && /busybox cat /out/note && /busybox rm /out/note";
    let out = e2e_tests::run_with_timeout(
        Command::new("chroot").arg(root.path()).args([
            "/capture",
            "-q",
            "-o",
            "/trace.zst",
            "--",
            "/busybox",
            "sh",
            "-c",
            script,
        ]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "capture in the empty root: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "evidence\n");
    let trace = root.path().join("trace.zst");

    // The static replay reads it in the empty root too.
    let out = e2e_tests::run_with_timeout(
        Command::new("chroot")
            .arg(root.path())
            .args(["/replay", "verify", "/trace.zst"]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "replay verify: {}{}", text(&out.stdout), text(&out.stderr));

    // Outside, the normal replay: the script's execs and its file write.
    let out = e2e_tests::run_with_timeout(
        Command::new(e2e_tests::bin("replay")).arg(&trace).args([
            "-q",
            "--filter",
            "evt.type=execve or (evt.type in (open, openat, openat2) and fd.name=/out/note)",
        ]),
        Duration::from_secs(60),
    );
    let listing = text(&out.stdout);
    assert!(out.status.success(), "replay: {}", text(&out.stderr));
    for argv in [
        "/busybox mkdir /out",
        "/busybox cat /out/note",
        "/busybox rm /out/note",
    ] {
        assert!(listing.contains(argv), "no exec of `{argv}` in:\n{listing}");
    }
    assert!(listing.contains("/out/note"), "{listing}");

    // The same from the trace itself: the shell created /out/note for writing.
    let t = Trace::read(&trace);
    let wrote = t
        .syscalls("openat")
        .filter(|(_, s)| s.ret >= 0)
        .any(|(_, s)| path_of(s, 1).as_deref() == Some("/out/note"));
    assert!(wrote, "no open of /out/note: {:?}", t.syscall_names());
    assert!(t.execs().count() >= 5, "{:?}", t.execs().collect::<Vec<_>>());
}

#[test]
fn aarch64_static_binaries_run_under_qemu() {
    let (Some(capture), Some(replay)) = (
        static_bin("aarch64", "capture"),
        static_bin("aarch64", "replay"),
    ) else {
        return;
    };
    assert_static(&capture, "ARM aarch64");
    assert_static(&replay, "ARM aarch64");
    if !e2e_tests::require("qemu-aarch64-static") {
        return;
    }
    let out = e2e_tests::run_with_timeout(
        Command::new("qemu-aarch64-static")
            .arg(&capture)
            .arg("--version"),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("capture "), "{}", text(&out.stdout));

    // The same listing as the host's replay gives.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces/incident.zst");
    let args = ["-q", "--filter", "evt.type=execve"];
    let arm = e2e_tests::run_with_timeout(
        Command::new("qemu-aarch64-static")
            .arg(&replay)
            .arg(&sample)
            .args(args),
        Duration::from_secs(120),
    );
    assert!(arm.status.success(), "{}", text(&arm.stderr));
    let host = e2e_tests::run_with_timeout(
        Command::new(e2e_tests::bin("replay")).arg(&sample).args(args),
        Duration::from_secs(60),
    );
    assert!(host.status.success(), "{}", text(&host.stderr));
    assert!(!arm.stdout.is_empty());
    assert_eq!(text(&arm.stdout), text(&host.stdout));
}
