//! A disk that fills up, then frees space (or never does): the writer keeps
//! the file consistent and records every loss where it is not lost itself.
//!
//! The full disk is real: `RLIMIT_FSIZE` makes the kernel refuse writes past
//! a file size (EFBIG, after a short write), exactly as a full filesystem
//! refuses them (ENOSPC), without needing root to mount one. Each test runs
//! in its own process (nextest), so the limit touches nothing else.

mod common;

use std::path::Path;

use common::*;
use trace_format::model::*;
use trace_format::reader::TraceReader;
use trace_format::{ReadError, TraceWriter, WriteSummary, WriterOptions};

fn limit_file_size(bytes: Option<u64>) {
    // SAFETY: ignoring SIGXFSZ makes writes past the limit fail with EFBIG
    // instead of killing the process; no handler runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit to fill and then pass back.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut r) }, 0);
    r.rlim_cur = bytes.map_or(r.rlim_max, |b| b.min(r.rlim_max));
    // SAFETY: as above; only the soft limit changes, within the hard one.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &r) }, 0);
}

fn event(i: u64) -> Event {
    Event {
        ts: 1_000 + i * 10,
        tid: 42,
        pid: 42,
        body: EventBody::Syscall(SyscallEvent {
            id: 257,
            args: vec![i, i.wrapping_mul(0x9E37_79B9_7F4A_7C15), 7],
            ret: 3,
            params: vec![Param {
                index: 1,
                value: Value::Str(format!("/tmp/some/file/{i}").into_bytes()),
            }],
            ..Default::default()
        }),
    }
}

fn opts() -> WriterOptions {
    WriterOptions {
        chunk_bytes: 2048,
        queue_chunks: 1,
        ..WriterOptions::default()
    }
}

/// Pushes events until the writer has reported at least `losses` more lost
/// events; returns the next event number.
fn push_until_lost(w: &mut TraceWriter, mut i: u64, more: u64) -> u64 {
    let want = w.lost_events() + more;
    let snap = Snapshot::default();
    while w.lost_events() < want {
        w.push(&event(i), &snap).unwrap();
        i += 1;
        assert!(i < 1_000_000, "no write ever failed");
    }
    i
}

fn partial_len(path: &Path) -> u64 {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    std::fs::metadata(p).unwrap().len()
}

/// Every gap marker's count, and every syscall's first argument, in the
/// intact chunks; and the problems.
fn contents(path: &Path) -> (u64, Vec<u64>, Vec<ReadError>) {
    let r = TraceReader::open(path).unwrap();
    let mut gap = 0;
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for item in r.chunks() {
        match item {
            Ok(c) => {
                for ev in c.to_model().events {
                    match ev.body {
                        EventBody::Marker(m) if m.kind == MarkerKind::Gap => gap += m.count,
                        EventBody::Syscall(s) => seen.push(s.args[0]),
                        _ => {}
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    (gap, seen, problems)
}

fn missing_chunks(problems: &[ReadError]) -> u64 {
    problems
        .iter()
        .map(|p| match p {
            ReadError::MissingChunks { first, last } => last - first + 1,
            _ => 0,
        })
        .sum()
}

#[test]
fn disk_full_then_freed_keeps_every_written_chunk_and_counts_every_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let mut w = TraceWriter::create(&path, opts(), meta()).unwrap();
    let snap = Snapshot::default();
    let mut i = 0;
    while i < 400 {
        w.push(&event(i), &snap).unwrap();
        i += 1;
    }
    // Room for part of one more frame: the next write is cut short.
    limit_file_size(Some(partial_len(&path) + 100));
    i = push_until_lost(&mut w, i, 1);
    // More chunks lost, the gap markers of the first ones with them.
    i = push_until_lost(&mut w, i, 200);
    limit_file_size(None);
    let pushed = i + 400;
    while i < pushed {
        w.push(&event(i), &snap).unwrap();
        i += 1;
    }
    let summary: WriteSummary = w.finish().unwrap();
    assert!(summary.lost_chunks >= 2, "{summary:?}");
    assert_eq!(summary.unrecorded_events, 0, "{summary:?}");

    let r = TraceReader::open(&path).unwrap();
    assert!(
        r.segments()[0].indexed,
        "the index matches the frames: {:?}",
        r.notices()
    );
    assert_eq!(r.segments()[0].lost_chunks, summary.lost_chunks);
    assert_eq!(r.segments()[0].lost_events, summary.lost_events);
    assert_eq!(r.locations().len() as u64, summary.chunks);

    let (gap, seen, problems) = contents(&path);
    // Every chunk written reads back intact; only the lost ones are missing.
    assert!(
        problems
            .iter()
            .all(|p| matches!(p, ReadError::MissingChunks { .. })),
        "{problems:?}"
    );
    assert_eq!(missing_chunks(&problems), summary.lost_chunks);
    assert_eq!(gap, summary.lost_events, "gap markers name every loss");
    assert_eq!(seen.len() as u64 + summary.lost_events, pushed);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "events in order");

    let report = trace_format::verify::verify(&r);
    assert_eq!(report.gap_events, summary.lost_events);
    assert_eq!(report.lost_events, summary.lost_events);
    assert_eq!(report.lost_chunks, summary.lost_chunks);
    assert_eq!(report.chunks, summary.chunks);
}

#[test]
fn disk_full_for_good_says_no_marker_reached_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let mut w = TraceWriter::create(&path, opts(), meta()).unwrap();
    let snap = Snapshot::default();
    let mut i = 0;
    while i < 400 {
        w.push(&event(i), &snap).unwrap();
        i += 1;
    }
    limit_file_size(Some(partial_len(&path) + 100));
    let _ = push_until_lost(&mut w, i, 100);
    let summary = w.finish().unwrap();
    limit_file_size(None);
    assert!(summary.lost_events >= 100, "{summary:?}");
    // No chunk could be written after the first loss: no marker is on disk.
    assert_eq!(
        summary.unrecorded_events, summary.lost_events,
        "{summary:?}"
    );
    // The index could not be written either: the .partial is scanned.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let (gap, seen, problems) = contents(Path::new(&partial));
    assert_eq!(gap, 0);
    assert_eq!(seen.len() as u64, summary.events);
    assert!(
        problems.iter().all(|p| matches!(
            p,
            ReadError::Unfinished { .. } | ReadError::MissingChunks { .. }
        )),
        "every chunk on disk is intact: {problems:?}"
    );
}
