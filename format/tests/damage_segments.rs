//! One bad piece of a rotated trace costs only itself: a damaged file
//! header, an empty or foreign segment, a stray file named like a segment,
//! a FIFO, a damaged manifest. Segments are opened as needed (thousands
//! read under a small open-file limit), and a bare manifest name works.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use trace_format::model::*;
use trace_format::{ReadError, TraceReader, WriteSummary};

fn events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            ts: 1_000 + i * 10,
            tid: 42,
            pid: 42,
            body: EventBody::Syscall(SyscallEvent {
                id: 257,
                args: vec![i, 7],
                ret: 3,
                params: vec![Param {
                    index: 1,
                    value: Value::Str(format!("/tmp/file{i}").into_bytes()),
                }],
                ..Default::default()
            }),
        })
        .collect()
}

/// A trace of five or more segments in `dir`.
fn rotated(dir: &Path) -> WriteSummary {
    let opts = trace_format::WriterOptions {
        rotate_bytes: Some(3000),
        ..small_chunks()
    };
    let s = write(
        &dir.join("t.zst"),
        opts,
        &events(1000),
        &Snapshot::default(),
    );
    assert!(s.segments.len() >= 5, "{} segments", s.segments.len());
    s
}

/// Opens `path` on another thread, so that a hang fails the test instead
/// of hanging it: the seqs read and the problems.
fn read_all(path: &Path) -> (Vec<u64>, Vec<ReadError>) {
    let path = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = TraceReader::open(&path).unwrap();
        let mut seqs = Vec::new();
        let mut problems = Vec::new();
        for item in r.chunks() {
            match item {
                Ok(c) => seqs.push(c.seq()),
                Err(e) => problems.push(e),
            }
        }
        let _ = tx.send((seqs, problems));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("reading the trace hung")
}

fn chunks_of(s: &WriteSummary) -> Vec<u64> {
    (0..s.chunks).collect()
}

/// The seqs of the chunks in segment `i`.
fn seqs_in(seg: &Path) -> Vec<u64> {
    let r = TraceReader::open(seg).unwrap();
    r.chunks().filter_map(|c| c.ok()).map(|c| c.seq()).collect()
}

fn manifest(dir: &Path) -> PathBuf {
    dir.join("t.manifest.json")
}

#[test]
fn a_flipped_byte_in_a_file_header_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    let seg = &s.segments[2];
    let good = std::fs::read(seg).unwrap();
    // Every byte but the version (a newer version is believed).
    for pos in (0..16).chain(20..24) {
        let mut b = good.clone();
        b[pos] ^= 0x10;
        std::fs::write(seg, &b).unwrap();
        for path in [manifest(dir.path()), dir.path().to_path_buf(), seg.clone()] {
            let (seqs, problems) = read_all(&path);
            let want = if path == *seg {
                seqs_in_good(&good)
            } else {
                chunks_of(&s)
            };
            assert_eq!(seqs, want, "byte {pos}, {}", path.display());
            assert!(
                problems
                    .iter()
                    .any(|p| matches!(p, ReadError::DamagedHeader { .. })),
                "byte {pos}: {problems:?}"
            );
        }
    }
    std::fs::write(seg, &good).unwrap();
}

fn seqs_in_good(bytes: &[u8]) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.zst");
    std::fs::write(&p, bytes).unwrap();
    seqs_in(&p)
}

#[test]
fn an_empty_or_foreign_segment_costs_only_itself() {
    for junk in [
        Vec::new(),
        b"hello, not a trace at all, not at all".to_vec(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let s = rotated(dir.path());
        let lost = seqs_in(&s.segments[1]);
        std::fs::write(&s.segments[1], &junk).unwrap();
        for path in [manifest(dir.path()), dir.path().to_path_buf()] {
            let (seqs, problems) = read_all(&path);
            let want: Vec<u64> = chunks_of(&s)
                .into_iter()
                .filter(|q| !lost.contains(q))
                .collect();
            assert_eq!(seqs, want, "{}", path.display());
            assert!(
                problems
                    .iter()
                    .any(|p| matches!(p, ReadError::NotATrace { .. })),
                "{problems:?}"
            );
            assert!(
                problems
                    .iter()
                    .any(|p| matches!(p, ReadError::MissingChunks { .. })),
                "{problems:?}"
            );
        }
    }
}

#[test]
fn a_stray_file_named_like_a_segment_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    std::fs::write(
        dir.path().join("t.000099.zst"),
        b"junk junk junk junk junk junk",
    )
    .unwrap();
    for path in [manifest(dir.path()), dir.path().to_path_buf()] {
        let (seqs, problems) = read_all(&path);
        assert_eq!(seqs, chunks_of(&s), "{}", path.display());
        assert!(
            problems.iter().any(
                |p| matches!(p, ReadError::NotATrace { path, .. } if path.ends_with("t.000099.zst"))
            ),
            "{problems:?}"
        );
    }
}

#[test]
fn a_damaged_manifest_hides_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    let text = std::fs::read_to_string(manifest(dir.path())).unwrap();
    // Cut short: reported, and the segments named like it are read.
    std::fs::write(manifest(dir.path()), &text[..text.len() / 2]).unwrap();
    for path in [manifest(dir.path()), dir.path().to_path_buf()] {
        let (seqs, problems) = read_all(&path);
        assert_eq!(seqs, chunks_of(&s));
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, ReadError::Manifest { .. })),
            "{problems:?}"
        );
    }
    // Fields this version does not know: read as if absent.
    let extended = text.replacen('{', "{\n  \"written_by\": \"a newer sysrec\",", 1);
    std::fs::write(manifest(dir.path()), extended).unwrap();
    let r = TraceReader::open(&manifest(dir.path())).unwrap();
    assert!(r.manifest().is_some());
    let report = trace_format::verify::verify(&r);
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.chunks, s.chunks);
}

#[test]
fn a_segment_listed_twice_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    let mut m = trace_format::manifest::Manifest::from_json(
        &std::fs::read_to_string(manifest(dir.path())).unwrap(),
    )
    .unwrap();
    m.segments.insert(2, m.segments[1].clone());
    std::fs::write(manifest(dir.path()), m.to_json()).unwrap();
    let r = TraceReader::open(&manifest(dir.path())).unwrap();
    assert_eq!(r.segments().len(), s.segments.len());
    let report = trace_format::verify::verify(&r);
    assert_eq!(report.chunks, s.chunks);
    assert_eq!(report.segments, s.segments.len());
    assert!(
        report.problems.iter().any(
            |p| matches!(p, ReadError::Manifest { reason, .. } if reason.contains("more than once"))
        ),
        "{:?}",
        report.problems
    );
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_fifo_named_like_a_segment_is_reported_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    mkfifo(&dir.path().join("t.000099.zst"));
    for path in [manifest(dir.path()), dir.path().to_path_buf()] {
        let (seqs, problems) = read_all(&path);
        assert_eq!(seqs, chunks_of(&s));
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, ReadError::NotRegularFile { what: "a FIFO", .. })),
            "{problems:?}"
        );
    }
    // Listed in the manifest: the same.
    let lost = seqs_in(&s.segments[3]);
    std::fs::remove_file(&s.segments[3]).unwrap();
    mkfifo(&s.segments[3]);
    let (seqs, problems) = read_all(&manifest(dir.path()));
    assert_eq!(seqs.len() + lost.len(), s.chunks as usize);
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, ReadError::NotRegularFile { path, .. } if *path == s.segments[3])),
        "{problems:?}"
    );
    // Named directly: an error, not a hang.
    let e = TraceReader::open(&s.segments[3]).err().unwrap();
    assert!(matches!(e, ReadError::NotRegularFile { .. }), "{e}");
}

#[test]
fn thousands_of_segments_read_under_a_small_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    let one = std::fs::read(&s.segments[0]).unwrap();
    let many = tempfile::tempdir().unwrap();
    const N: usize = 8481;
    for i in 0..N {
        std::fs::write(many.path().join(format!("t.{i:06}.zst")), &one).unwrap();
    }
    let r = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: a valid rlimit; lowering the limit needs no privilege.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) }, 0);
    let reader = TraceReader::open(many.path()).unwrap();
    assert_eq!(reader.segments().len(), N);
    let report = trace_format::verify::verify(&reader);
    assert_eq!(report.chunks as usize, N * seqs_in(&s.segments[0]).len());
    assert!(
        !report
            .problems
            .iter()
            .any(|p| matches!(p, ReadError::Io { .. } | ReadError::NotFound { .. })),
        "{:?}",
        report.problems.iter().take(3).collect::<Vec<_>>()
    );
}

#[test]
fn a_bare_manifest_name_is_read_from_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let s = rotated(dir.path());
    std::env::set_current_dir(dir.path()).unwrap();
    let r = TraceReader::open(Path::new("t.manifest.json")).unwrap();
    let report = trace_format::verify::verify(&r);
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.chunks, s.chunks);
}
