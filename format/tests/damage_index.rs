//! An index that no longer describes its file (bytes inserted, a chunk
//! duplicated, a skippable frame slipped in, chunks swapped, the index
//! frame's header altered): the reader notices, scans the frames instead,
//! and reads every intact chunk.

mod common;

use common::*;
use trace_format::model::*;
use trace_format::{ReadError, TraceReader};

fn events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            ts: 1_000 + i * 10,
            tid: 42,
            pid: 42,
            body: EventBody::Syscall(SyscallEvent {
                id: 257,
                // Varying lengths, so chunks differ in size.
                args: (0..(i % 5)).map(|a| a * i).collect(),
                ret: 3,
                params: vec![Param {
                    index: 1,
                    value: Value::Str(format!("/tmp/file{}", i * i).into_bytes()),
                }],
                ..Default::default()
            }),
        })
        .collect()
}

/// A trace of many chunks: its bytes, each chunk's extent, where the index
/// starts.
fn trace() -> (Vec<u8>, Vec<(usize, usize)>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    write(&path, small_chunks(), &events(1800), &Snapshot::default());
    let r = TraceReader::open(&path).unwrap();
    assert!(r.segments()[0].indexed);
    let extents: Vec<_> = r
        .locations()
        .iter()
        .map(|l| (l.offset as usize, l.compressed_len as usize))
        .collect();
    let (o, l) = extents[extents.len() - 1];
    (std::fs::read(&path).unwrap(), extents, o + l)
}

/// The seqs of the chunks read, and the problems.
fn read_bytes(bytes: &[u8]) -> (Vec<u64>, Vec<ReadError>, TraceReader) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.zst");
    std::fs::write(&path, bytes).unwrap();
    let r = TraceReader::open(&path).unwrap();
    let mut seqs = Vec::new();
    let mut problems = Vec::new();
    for item in r.chunks() {
        match item {
            Ok(c) => seqs.push(c.seq()),
            Err(e) => problems.push(e),
        }
    }
    (seqs, problems, r)
}

fn all(n: usize) -> Vec<u64> {
    (0..n as u64).collect()
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort();
    v.dedup();
    v
}

fn no_false_damage(problems: &[ReadError]) {
    assert!(
        !problems.iter().any(|p| matches!(
            p,
            ReadError::HashMismatch { .. } | ReadError::ChainBreak { .. }
        )),
        "intact chunks blamed: {problems:?}"
    );
}

fn index_rejected(problems: &[ReadError]) {
    assert!(
        problems.iter().any(
            |p| matches!(p, ReadError::NoIndex { reason, .. } if reason.contains("does not match"))
        ),
        "{problems:?}"
    );
}

#[test]
fn a_duplicated_chunk_is_read_and_reported_as_repeated() {
    let (bytes, ext, _) = trace();
    assert!(ext.len() >= 40, "{} chunks", ext.len());
    let (o, l) = ext[20];
    let mut d = bytes[..o + l].to_vec();
    d.extend_from_slice(&bytes[o..o + l]);
    d.extend_from_slice(&bytes[o + l..]);
    let (seqs, problems, _) = read_bytes(&d);
    assert_eq!(sorted(seqs.clone()), all(ext.len()));
    assert_eq!(seqs.len(), ext.len() + 1);
    index_rejected(&problems);
    no_false_damage(&problems);
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, ReadError::OutOfOrder { seq: 20, .. })),
        "{problems:?}"
    );
    assert!(
        !problems
            .iter()
            .any(|p| matches!(p, ReadError::CorruptChunk { .. })),
        "{problems:?}"
    );
}

#[test]
fn five_thousand_bytes_inserted_cost_nothing_between_chunks() {
    let (bytes, ext, _) = trace();
    let (o, l) = ext[30];
    let junk: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 13) as u8).collect();
    let mut d = bytes[..o + l].to_vec();
    d.extend_from_slice(&junk);
    d.extend_from_slice(&bytes[o + l..]);
    let (seqs, problems, _) = read_bytes(&d);
    assert_eq!(seqs, all(ext.len()));
    index_rejected(&problems);
    no_false_damage(&problems);
    // The junk itself is reported where it is.
    assert!(
        problems.iter().any(
            |p| matches!(p, ReadError::CorruptChunk { offset, .. } if *offset == (o + l) as u64)
        ),
        "{problems:?}"
    );
}

#[test]
fn five_thousand_bytes_inserted_in_a_chunk_cost_only_that_chunk() {
    let (bytes, ext, _) = trace();
    let (o, l) = ext[30];
    let mid = o + l / 2;
    let mut d = bytes[..mid].to_vec();
    d.extend_from_slice(&[0xAA; 5000]);
    d.extend_from_slice(&bytes[mid..]);
    let (seqs, problems, _) = read_bytes(&d);
    let want: Vec<u64> = all(ext.len()).into_iter().filter(|s| *s != 30).collect();
    assert_eq!(seqs, want);
    index_rejected(&problems);
    assert!(
        problems.iter().any(|p| matches!(
            p,
            ReadError::MissingChunks {
                first: 30,
                last: 30
            }
        )),
        "{problems:?}"
    );
}

#[test]
fn an_inserted_skippable_frame_header_is_reported_and_skipped() {
    let (bytes, ext, _) = trace();
    for header in [
        [0x50, 0x2A, 0x4D, 0x18, 0x10, 0, 0, 0],
        [0x5E, 0x2A, 0x4D, 0x18, 0, 0, 0, 0],
        [0x53, 0x2A, 0x4D, 0x18, 0xFF, 0xFF, 0, 0],
    ] {
        let (o, _) = ext[40];
        let mut d = bytes[..o].to_vec();
        d.extend_from_slice(&header);
        d.extend_from_slice(&bytes[o..]);
        let (seqs, problems, _) = read_bytes(&d);
        assert_eq!(seqs, all(ext.len()), "{header:x?}");
        index_rejected(&problems);
        no_false_damage(&problems);
        assert!(
            problems.iter().any(
                |p| matches!(p, ReadError::CorruptChunk { offset, .. } if *offset == o as u64)
            ),
            "{header:x?}: {problems:?}"
        );
    }
}

#[test]
fn swapped_chunks_are_out_of_order_not_corrupt() {
    let (bytes, ext, _) = trace();
    let k = (1..ext.len() - 1)
        .find(|&k| ext[k].1 != ext[k + 1].1)
        .unwrap();
    let (a, al) = ext[k];
    let (b, bl) = ext[k + 1];
    let mut d = bytes[..a].to_vec();
    d.extend_from_slice(&bytes[b..b + bl]);
    d.extend_from_slice(&bytes[a..a + al]);
    d.extend_from_slice(&bytes[b + bl..]);
    let (seqs, problems, _) = read_bytes(&d);
    assert_eq!(sorted(seqs), all(ext.len()));
    no_false_damage(&problems);
    assert!(
        !problems
            .iter()
            .any(|p| matches!(p, ReadError::CorruptChunk { .. })),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, ReadError::OutOfOrder { seq, .. } if *seq == k as u64)),
        "{problems:?}"
    );
}

#[test]
fn an_altered_index_frame_header_is_reported() {
    let (bytes, ext, index_start) = trace();
    for pos in index_start + 4..index_start + 8 {
        let mut d = bytes.clone();
        d[pos] ^= 0x01;
        let (seqs, problems, r) = read_bytes(&d);
        assert_eq!(seqs, all(ext.len()));
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, ReadError::NoIndex { .. })),
            "byte {pos}: {problems:?}"
        );
        assert!(!trace_format::verify::verify(&r).is_intact());
    }
}

#[test]
fn an_index_whose_entries_move_is_not_trusted() {
    // Entries that tile the file but point at the wrong frames: every
    // chunk is still found by scanning.
    let (bytes, ext, index_start) = trace();
    let (o, l) = ext[10];
    let needle = (o as u64).to_le_bytes();
    let mut d = bytes.clone();
    let at = d[index_start..]
        .windows(8)
        .position(|w| w == needle)
        .map(|p| p + index_start)
        .unwrap();
    d[at..at + 8].copy_from_slice(&((o + l / 2) as u64).to_le_bytes());
    let (seqs, problems, _) = read_bytes(&d);
    assert_eq!(seqs, all(ext.len()));
    index_rejected(&problems);
}
