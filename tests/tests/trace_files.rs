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
    // The decompressed stream is the chunks' FlatBuffers, back to back
    // (version 2 keeps at least 8 bytes per syscall event in its columns).
    assert!(d.stdout.len() > 2000 * 8, "{}", d.stdout.len());
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

fn replay_in(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = run_with_timeout(
        Command::new(bin("replay")).args(args).current_dir(dir),
        Duration::from_secs(60),
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The intact-chunk count `replay verify` prints.
fn intact_chunks(text: &str) -> u64 {
    text.split(", ")
        .find_map(|f| f.strip_suffix(" intact chunk(s)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no chunk count in {text}"))
}

#[test]
fn damaged_pieces_cost_only_themselves_and_exit_1() {
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
    let (code, text) = replay_in(dir.path(), &["verify", "t.manifest.json"]);
    assert_eq!(code, Some(0), "a bare manifest name: {text}");
    let all = intact_chunks(&text);
    // A flipped byte in a segment's file header, a stray file and a FIFO
    // named like segments, and a manifest with a field this version does
    // not know.
    let seg = dir.path().join("t.000001.zst");
    let mut b = std::fs::read(&seg).unwrap();
    b[9] ^= 0x20;
    std::fs::write(&seg, b).unwrap();
    std::fs::write(dir.path().join("t.000099.zst"), "junk, not a segment").unwrap();
    let fifo = std::ffi::CString::new(dir.path().join("t.000098.zst").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let m = dir.path().join("t.manifest.json");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replacen('{', "{\"from_the_future\": 1,", 1)).unwrap();
    for target in ["t.manifest.json", "."] {
        let (code, text) = replay_in(dir.path(), &["verify", target]);
        assert_eq!(code, Some(1), "{target}: {text}");
        assert_eq!(intact_chunks(&text), all, "{target}: {text}");
        assert!(text.contains("file header is damaged"), "{text}");
        assert!(text.contains("t.000099.zst"), "{text}");
        assert!(text.contains("a FIFO, not a regular file"), "{text}");
        let (code, text) = replay_in(dir.path(), &[target, "--stats"]);
        assert_eq!(code, Some(1), "{target} --stats: {text}");
        assert!(text.contains("3000"), "every event evaluated: {text}");
    }
    // A truncated manifest hides nothing either.
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, &text[..text.len() / 3]).unwrap();
    let (code, text) = replay_in(dir.path(), &["verify", "t.manifest.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(intact_chunks(&text), all, "{text}");
}

#[test]
fn an_index_out_of_step_with_its_file_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    write_trace(&path, small(), 3000);
    let reader = trace_format::TraceReader::open(&path).unwrap();
    let n = reader.locations().len() as u64;
    let loc = reader.locations()[5].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    let at = (loc.offset + loc.compressed_len) as usize;
    bytes.splice(at..at, std::iter::repeat_n(0x5a, 5000));
    std::fs::write(&path, bytes).unwrap();
    let (code, text) = replay_in(dir.path(), &["verify", "t.zst"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(intact_chunks(&text), n, "{text}");
    assert!(text.contains("3000 event(s)"), "{text}");
}
