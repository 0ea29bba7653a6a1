//! What capture does with its output path: it replaces only files it
//! created. Something that is not a regular file is refused before the
//! workload starts (125); earlier traces and `.partial` files are moved
//! aside, never overwritten; a failed start leaves the directory as it was.
//! And `--snaplen` is bounded so every chunk stays readable.

use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::capture_support::*;

fn capture_to(out: &Path, extra: &[&str], cmd: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut c = Command::new(capture_bin());
    c.arg("-o").arg(out).args(extra).arg("--").args(cmd);
    e2e_tests::run_with_timeout(&mut c, LIMIT)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every entry of `dir`, recursively, with its bytes (files) or `None`.
fn listing(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
        {
            let p = e.path();
            let ft = e.file_type().unwrap_or_else(|e| panic!("{e}"));
            if ft.is_dir() {
                stack.push(p.clone());
                out.push((p, None));
            } else if ft.is_file() {
                let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{e}"));
                out.push((p, Some(b)));
            } else {
                out.push((p, None));
            }
        }
    }
    out.sort();
    out
}

fn mkfifo(p: &Path) {
    let c =
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A finished trace at `out` (a real capture of `true`), returned as bytes.
fn earlier_trace(out: &Path) -> Vec<u8> {
    let o = capture_to(out, &["-q"], &["true".as_ref()]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(out).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn what_is_not_a_regular_file_is_refused_before_the_workload_starts() {
    let w = Work::new();
    let marker = w.path("ran");
    let touch = format!("touch {}", marker.display());
    let cmd: [&std::ffi::OsStr; 3] = ["sh".as_ref(), "-c".as_ref(), touch.as_ref()];

    let o = capture_to(Path::new("/dev/null"), &[], &cmd);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not a regular file"),
        "{}",
        stderr(&o)
    );
    let m = std::fs::metadata("/dev/null").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        m.file_type().is_char_device(),
        "/dev/null is still a device"
    );

    let fifo = w.path("fifo.zst");
    mkfifo(&fifo);
    let o = capture_to(&fifo, &[], &cmd);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let m = std::fs::symlink_metadata(&fifo).unwrap_or_else(|e| panic!("{e}"));
    assert!(m.file_type().is_fifo(), "the FIFO is still a FIFO");

    let dir = w.path("a-dir");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("inside"), b"x").unwrap_or_else(|e| panic!("{e}"));
    let o = capture_to(&dir, &[], &cmd);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_eq!(
        listing(&dir),
        vec![(dir.join("inside"), Some(b"x".to_vec()))]
    );

    assert!(!marker.exists(), "the workload never ran");
}

#[test]
fn a_failed_start_leaves_an_existing_trace_untouched() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let out = w.trace_path();
    earlier_trace(&out);
    std::fs::write(w.path("trace.zst.partial"), b"a killed run's chunks")
        .unwrap_or_else(|e| panic!("{e}"));
    let before = listing(w.dir.path());

    // Not found: 127, decided before anything is touched.
    let o = capture_to(&out, &[], &["no-such-command-xyz".as_ref()]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert_eq!(listing(w.dir.path()), before);

    // Found but not executable (ENOEXEC): the exec fails in the traced
    // child, after the writer started: 126 (as shells give), and what it
    // wrote is undone.
    let bad = w.path("bad-exe");
    std::fs::write(&bad, b"\x00\x01\x02 not a program").unwrap_or_else(|e| panic!("{e}"));
    let ok = Command::new("chmod").arg("755").arg(&bad).status();
    assert!(ok.is_ok_and(|s| s.success()));
    let before = listing(w.dir.path());
    let o = capture_to(&out, &[], &[bad.as_os_str()]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert_eq!(listing(w.dir.path()), before, "{}", stderr(&o));
}

#[test]
fn a_failed_attach_leaves_an_existing_trace_untouched() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the tests as root"
        );
        eprintln!("skipped: needs root to run capture unprivileged");
        return;
    }
    if !e2e_tests::require("setpriv") {
        return;
    }
    let w = Work::new();
    let out_dir = w.path("out");
    std::fs::create_dir(&out_dir).unwrap_or_else(|e| panic!("{e}"));
    let out = out_dir.join("t.zst");
    earlier_trace(&out);
    // A world-writable output directory, so only ptrace can fail.
    let _ = Command::new("chmod").arg("777").arg(&out_dir).status();
    let _ = Command::new("chmod").arg("755").arg(w.dir.path()).status();
    let before = listing(&out_dir);
    let mut target = Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(capture_bin())
    .arg("-o")
    .arg(&out)
    .args(["--pid", &target.id().to_string()]);
    let o = e2e_tests::run_with_timeout(&mut c, LIMIT);
    let _ = target.kill();
    let _ = target.wait();
    let err = stderr(&o);
    assert!(
        !err.contains("Permission denied") || err.contains("ptrace"),
        "the capture binary must be reachable by an unprivileged user: {err}"
    );
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(err.contains("SYS_PTRACE"), "{err}");
    assert_eq!(listing(&out_dir), before, "{err}");
}

#[test]
fn earlier_traces_and_partials_are_moved_aside_not_overwritten() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let out = w.trace_path();
    let old = earlier_trace(&out);
    let partial = w.path("trace.zst.partial");
    std::fs::write(&partial, b"a killed run's chunks").unwrap_or_else(|e| panic!("{e}"));

    let o = capture_to(&out, &["-q"], &["true".as_ref()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("moved the earlier trace files") && err.contains("trace.leftover/"),
        "says where they went: {err}"
    );
    // The new trace is complete, the old files kept byte for byte.
    assert!(!Trace::read(&out).events.is_empty());
    assert!(!partial.exists());
    let kept: Vec<_> = listing(&w.path("trace.leftover"))
        .into_iter()
        .filter_map(|(p, b)| Some((p.file_name()?.to_string_lossy().into_owned(), b?)))
        .collect();
    assert_eq!(
        kept,
        vec![
            ("trace.zst".to_string(), old),
            (
                "trace.zst.partial".to_string(),
                b"a killed run's chunks".to_vec()
            ),
        ]
    );

    // A killed capture's real `.partial`: the next run moves it aside too.
    let mut child = w.spawn_capture(&["-q"], &["sleep", "30"]);
    assert!(
        wait_until(LIMIT, || partial.exists()),
        "the running capture writes its .partial"
    );
    let sleeper = children(child.id());
    let _ = child.kill();
    let _ = child.wait();
    for pid in sleeper {
        kill(pid, libc::SIGKILL);
    }
    let len = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let o = capture_to(&out, &["-q"], &["true".as_ref()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let partials: Vec<u64> = listing(&w.path("trace.leftover"))
        .into_iter()
        .filter(|(p, _)| p.ends_with("trace.zst.partial"))
        .filter_map(|(_, b)| b.map(|b| b.len() as u64))
        .collect();
    assert!(partials.contains(&len), "{partials:?} holds {len}");
}

/// Writes 2 MiB in one write(2).
const BIG_WRITE: &str = r#"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    size_t n = 2 << 20;
    char *b = malloc(n);
    memset(b, 'a', n);
    int fd = open("/dev/null", O_WRONLY);
    return write(fd, b, n) == (ssize_t)n ? 0 : 1;
}
"#;

#[test]
fn snaplen_is_bounded_and_the_largest_stays_readable() {
    let w = Work::new();
    let o = capture_to(
        &w.trace_path(),
        &["--snaplen", "300000000"],
        &["true".as_ref()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--snaplen 300000000 is over the limit of 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    assert!(!w.trace_path().exists());

    if !ptrace_permitted() {
        return;
    }
    let Some(bin) = w.cc("big", BIG_WRITE, &[]) else {
        return;
    };
    let o = capture_to(
        &w.trace_path(),
        &["-q", "--snaplen", "1048576"],
        &[bin.as_os_str()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = w.trace();
    let writes: Vec<_> = t
        .syscalls("write")
        .filter(|(_, s)| s.ret == 2 << 20)
        .collect();
    assert_eq!(writes.len(), 1, "the write is recorded");
    let kept = match param(writes[0].1, 1) {
        Some(trace_format::model::Value::Bytes { data, .. }) => data.len(),
        other => panic!("no buffer: {other:?}"),
    };
    assert_eq!(kept, 1 << 20, "snaplen bytes kept");
}
