//! Hostile and damaged traces: truncation at every byte, flipped bytes,
//! foreign files. The reader never panics, keeps every intact chunk and says
//! what is wrong.

mod common;

use common::*;
use trace_format::model::*;
use trace_format::{ReadError, TraceReader};

fn sample_events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            ts: 1_000 + i * 10,
            tid: 42,
            pid: 42,
            body: EventBody::Syscall(SyscallEvent {
                id: 257,
                args: vec![u64::MAX - 99, 0x7fff_0000 + i, 0o2000000],
                ret: 3,
                params: vec![Param {
                    index: 1,
                    value: Value::Path {
                        raw: format!("file{i}").into_bytes(),
                        resolved: format!("/tmp/file{i}").into_bytes(),
                    },
                }],
                ..Default::default()
            }),
        })
        .collect()
}

/// A small trace of a few chunks: its bytes and the end offset of each chunk.
fn small_trace() -> (Vec<u8>, Vec<(u64, u64)>, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let events = sample_events(60);
    write(&path, small_chunks(), &events, &Snapshot::default());
    let r = TraceReader::open(&path).unwrap();
    let extents = r
        .locations()
        .iter()
        .map(|l| (l.offset, l.offset + l.compressed_len))
        .collect();
    (std::fs::read(&path).unwrap(), extents, events)
}

#[test]
fn truncation_at_every_byte_keeps_exactly_the_complete_chunks() {
    let (bytes, extents, events) = small_trace();
    assert!(
        extents.len() >= 3,
        "want several chunks, got {}",
        extents.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.zst");
    for cut in 0..bytes.len() {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let reader = match TraceReader::open(&path) {
            Ok(r) => r,
            Err(e) => {
                assert!(cut < 24, "cut {cut}: open failed: {e}");
                assert!(matches!(e, ReadError::NotATrace { .. }), "cut {cut}: {e}");
                continue;
            }
        };
        let complete = extents.iter().filter(|(_, end)| *end <= cut as u64).count();
        let mut chunks = Vec::new();
        let mut truncated = false;
        for item in reader.chunks() {
            match item {
                Ok(c) => chunks.push(c.to_model()),
                Err(ReadError::Truncated { .. }) => truncated = true,
                Err(ReadError::NoIndex { .. } | ReadError::Unfinished { .. }) => {}
                Err(e) => panic!("cut {cut}: unexpected {e}"),
            }
        }
        assert_eq!(chunks.len(), complete, "cut {cut}");
        let n: usize = chunks.iter().map(|c| c.events.len()).sum();
        let got: Vec<_> = chunks.into_iter().flat_map(|c| c.events).collect();
        assert_eq!(got, events[..n], "cut {cut}");
        let at_boundary = cut == 24 || extents.iter().any(|(_, end)| *end == cut as u64);
        assert_eq!(truncated, !at_boundary, "cut {cut}: truncation reported?");
    }
}

fn flip_each_byte_of_chunk(index: bool) {
    let (bytes, extents, events) = small_trace();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flip.zst");
    let (start, end) = extents[1];
    // Without an index, as in a file left by a crash.
    let keep = if index {
        bytes.len()
    } else {
        extents[extents.len() - 1].1 as usize
    };
    for pos in (start..end).step_by(7) {
        let mut damaged = bytes[..keep].to_vec();
        damaged[pos as usize] ^= 0x55;
        std::fs::write(&path, &damaged).unwrap();
        let reader = TraceReader::open(&path).unwrap();
        let mut seqs = Vec::new();
        let mut problems = Vec::new();
        let mut read = Vec::new();
        for item in reader.chunks() {
            match item {
                Ok(c) => {
                    seqs.push(c.seq());
                    read.extend(c.events());
                }
                Err(ReadError::NoIndex { .. } | ReadError::Unfinished { .. }) => {}
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            // A few bits of a zstd frame do not change what it decodes to
            // (the content checksum then matches): nothing to report, and
            // nothing may differ.
            assert_eq!(read, events, "flip at {pos} changed events unnoticed");
            continue;
        }
        assert!(
            seqs.contains(&0) && seqs.contains(&2),
            "flip at {pos}: intact chunks lost: {seqs:?}"
        );
        let blamed = problems.iter().any(|p| match p {
            ReadError::CorruptChunk { seq, offset, .. } => {
                *offset == start && seq.is_none_or(|s| s == 1)
            }
            ReadError::HashMismatch { seq, .. } => *seq == 1,
            ReadError::ChainBreak { prev_seq, .. } => *prev_seq == 1,
            ReadError::MissingChunks { first, last } => *first == 1 && *last == 1,
            _ => false,
        });
        assert!(blamed, "flip at {pos}: chunk 1 not named: {problems:?}");
    }
}

#[test]
fn flipped_bytes_are_reported_with_an_index() {
    flip_each_byte_of_chunk(true);
}

#[test]
fn flipped_bytes_are_reported_without_an_index() {
    flip_each_byte_of_chunk(false);
}

#[test]
fn foreign_files_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("empty", Vec::new(), "too short"),
        (
            "text",
            b"hello world, this is not a trace at all".to_vec(),
            "no sysrec header",
        ),
        (
            "plainzstd",
            zstd::encode_all(&b"some data"[..], 3).unwrap(),
            "zstd file without a sysrec header",
        ),
        (
            "scap",
            b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00\xff\xff\xff\xff"
                .to_vec(),
            "pcap/scap",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = TraceReader::open(&path)
            .err()
            .unwrap_or_else(|| panic!("{name} opened"));
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
}

#[test]
fn a_newer_format_version_is_refused_naming_both_versions() {
    let (mut bytes, _, _) = small_trace();
    bytes[16..20].copy_from_slice(&9u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.zst");
    std::fs::write(&path, bytes).unwrap();
    let err = TraceReader::open(&path).err().unwrap();
    assert!(
        matches!(
            err,
            ReadError::UnsupportedVersion {
                found: 9,
                supported: trace_format::FORMAT_VERSION,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("version 9")
            && err
                .to_string()
                .contains(&format!("up to version {}", trace_format::FORMAT_VERSION)),
        "{err}"
    );
}

#[test]
fn a_missing_segment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let opts = trace_format::WriterOptions {
        rotate_bytes: Some(1500),
        ..small_chunks()
    };
    let summary = write(&path, opts, &sample_events(200), &Snapshot::default());
    assert!(summary.segments.len() >= 3);
    std::fs::remove_file(&summary.segments[1]).unwrap();
    let (chunks, errors) = read(&dir.path().join("t.manifest.json"));
    assert!(!chunks.is_empty());
    assert!(
        errors.iter().any(
            |e| matches!(e, ReadError::Manifest { reason, .. } if reason.contains("t.000001.zst"))
        ),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ReadError::MissingChunks { .. })),
        "{errors:?}"
    );
}

#[test]
fn a_partial_segment_left_by_a_crash_is_read() {
    let (bytes, extents, events) = small_trace();
    let dir = tempfile::tempdir().unwrap();
    // As a killed capture leaves it: no index, a chunk cut in the middle.
    let cut = (extents[2].0 + extents[2].1) / 2;
    std::fs::write(dir.path().join("t.zst.partial"), &bytes[..cut as usize]).unwrap();
    let (chunks, errors) = read(dir.path());
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks.iter().map(|c| c.events.len()).sum::<usize>(),
        events[..chunks.iter().map(|c| c.events.len()).sum::<usize>()].len()
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ReadError::Truncated { .. })),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ReadError::Unfinished { .. })),
        "{errors:?}"
    );
}
