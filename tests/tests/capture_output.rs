//! Output options: rotation into segments, snaplen.

use e2e_tests::capture_support::*;
use trace_format::model::{Value, result_index};

const LOOP: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    char b[256];
    int fd = open("/dev/zero", O_RDONLY);
    for (int i = 0; i < 20000; i++) read(fd, b, sizeof b);
    return 0;
}
"#;

#[test]
fn rotation_writes_segments_that_read_back_complete() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("loop", LOOP, &[]) else {
        return;
    };
    let dir = w.path("segments");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let out_path = dir.join("trace.zst");
    let mut c = std::process::Command::new(capture_bin());
    c.arg("-o")
        .arg(&out_path)
        .args([
            "-q",
            "--rotate-size",
            "64K",
            "--chunk-size",
            "16K",
            "--snaplen",
            "16",
            "--",
        ])
        .arg(&bin);
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let segments = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".zst"))
                .count()
        })
        .unwrap_or(0);
    assert!(segments > 1, "{segments} segments");
    let t = Trace::read(&dir);
    let reads: Vec<_> = t.syscalls("read").filter(|(_, s)| s.ret == 256).collect();
    assert_eq!(reads.len(), 20000, "no event lost across segments");
    assert!(
        reads.iter().all(|(_, s)| matches!(
            param(s, result_index::BUFFER_OUT),
            Some(Value::Bytes { data, len: 256 }) if data.len() == 16
        )),
        "snaplen 16 keeps 16 bytes of 256"
    );
    // Once the fd is open, every chunk but the last (after the exit) starts
    // with a snapshot holding the process and its /dev/zero fd. (The
    // dynamic loader's many failed opens before it fill several chunks.)
    let pid = reads[0].0.pid;
    let has = |s: &trace_format::model::Snapshot| {
        s.processes
            .iter()
            .any(|p| p.pid == pid && p.fds.iter().any(|f| f.path == b"/dev/zero"))
    };
    let first = t
        .snapshots
        .iter()
        .position(has)
        .unwrap_or_else(|| panic!("never in a snapshot"));
    let n = t.snapshots.len();
    assert!(n - first > 10);
    assert!(t.snapshots[first..n - 1].iter().all(has));
}
