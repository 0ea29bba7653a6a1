//! The trace file as other tools and the `replay verify` command see it.

use std::process::Command;
use std::time::Duration;

use e2e_tests::{bin, require, run_with_timeout};
use trace_format::model::*;
use trace_format::{TraceWriter, WriterOptions};

fn write_trace(path: &std::path::Path, opts: WriterOptions, n: u64) {
    let meta = TraceMeta {
        hostname: "h".into(),
        ..TraceMeta::default()
    };
    let mut w = TraceWriter::create(path, opts, meta).unwrap();
    for i in 0..n {
        let ev = Event {
            ts: 1_000_000 + i * 1_000,
            tid: 7,
            pid: 7,
            body: EventBody::Syscall(SyscallEvent {
                id: 0,
                args: vec![3, 0x1000, 80],
                ret: 80,
                ..Default::default()
            }),
        };
        w.push(&ev, &Snapshot::default()).unwrap();
    }
    w.finish().unwrap();
}

fn small() -> WriterOptions {
    WriterOptions {
        chunk_bytes: 4096,
        ..WriterOptions::default()
    }
}

#[test]
fn zstd_tests_and_decompresses_a_trace() {
    if !require("zstd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    write_trace(&path, small(), 2000);
    let t = run_with_timeout(
        Command::new("zstd").arg("-t").arg(&path),
        Duration::from_secs(30),
    );
    assert!(
        t.status.success(),
        "zstd -t: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let d = run_with_timeout(
        Command::new("zstd").args(["-d", "-c"]).arg(&path),
        Duration::from_secs(30),
    );
    assert!(
        d.status.success(),
        "zstd -d: {}",
        String::from_utf8_lossy(&d.stderr)
    );
    // The decompressed stream is the chunks' FlatBuffers, back to back.
    assert!(d.stdout.len() > 2000 * 20);
    assert_eq!(&d.stdout[8..12], b"SRCK");
}

fn verify(path: &std::path::Path) -> (bool, String) {
    let out = run_with_timeout(
        Command::new(bin("replay")).arg("verify").arg(path),
        Duration::from_secs(60),
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn verify_passes_an_intact_trace_and_names_an_altered_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    write_trace(&path, small(), 3000);
    let (ok, text) = verify(&path);
    assert!(ok, "{text}");
    assert!(
        text.contains("3000 event(s)") && text.contains("OK"),
        "{text}"
    );

    let reader = trace_format::TraceReader::open(&path).unwrap();
    let loc = reader.locations()[2].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(loc.offset + loc.compressed_len / 2) as usize] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let (ok, text) = verify(&path);
    assert!(!ok, "{text}");
    assert!(text.contains("chunk 2"), "{text}");
    assert!(text.contains("FAILED"), "{text}");
}

#[test]
fn verify_checks_segments_against_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    write_trace(
        &path,
        WriterOptions {
            rotate_bytes: Some(2000),
            ..small()
        },
        3000,
    );
    let (ok, text) = verify(dir.path());
    assert!(ok, "{text}");
    // Replace a whole segment by another valid trace file: every chunk in it
    // verifies alone, but the manifest and the chain do not agree.
    let other = dir.path().join("other.zst");
    write_trace(&other, small(), 10);
    std::fs::rename(&other, dir.path().join("t.000001.zst")).unwrap();
    let (ok, text) = verify(&dir.path().join("t.manifest.json"));
    assert!(!ok, "{text}");
    assert!(text.contains("t.000001.zst"), "{text}");
}

#[test]
fn verify_refuses_a_foreign_file_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "just some notes, not a trace at all").unwrap();
    let (ok, text) = verify(&path);
    assert!(!ok);
    assert!(text.contains("is not a sysrec trace"), "{text}");
    let (ok, text) = verify(&dir.path().join("missing.zst"));
    assert!(!ok);
    assert!(text.contains("no such file"), "{text}");
}
