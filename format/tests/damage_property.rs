//! For random traces and random sequences of damage (truncate, insert,
//! delete, duplicate, swap, flip), every chunk whose bytes are intact is
//! read, and nothing is read that the writer did not write.

mod common;

use common::*;
use proptest::prelude::*;
use trace_format::model::*;
use trace_format::{TraceReader, WriterOptions};

#[derive(Clone, Debug)]
enum Damage {
    /// Positions and lengths are fractions of the current length (/65536).
    Truncate(u16),
    Insert(u16, Vec<u8>),
    Delete(u16, u16),
    DuplicateRange(u16, u16, u16),
    SwapRanges(u16, u16, u16),
    Flip(u16, u8),
    /// Whole chunks (applied to the intact file first).
    DuplicateChunk(u16),
    SwapChunks(u16, u16),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<u16>().prop_map(Damage::Truncate),
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(p, b)| Damage::Insert(p, b)),
        (any::<u16>(), 0..2000u16).prop_map(|(p, l)| Damage::Delete(p, l)),
        (any::<u16>(), 0..4000u16, any::<u16>())
            .prop_map(|(p, l, t)| Damage::DuplicateRange(p, l, t)),
        (any::<u16>(), 0..4000u16, any::<u16>()).prop_map(|(p, l, t)| Damage::SwapRanges(p, l, t)),
        (any::<u16>(), 1..=255u8).prop_map(|(p, m)| Damage::Flip(p, m)),
        any::<u16>().prop_map(Damage::DuplicateChunk),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Damage::SwapChunks(a, b)),
    ]
}

fn at(frac: u16, len: usize) -> usize {
    (frac as usize * len) >> 16
}

fn apply(bytes: &mut Vec<u8>, d: &Damage, chunks: &[(usize, usize)]) {
    let n = bytes.len();
    match d {
        Damage::Truncate(p) => bytes.truncate(at(*p, n)),
        Damage::Insert(p, b) => {
            let p = at(*p, n);
            bytes.splice(p..p, b.iter().copied());
        }
        Damage::Delete(p, l) => {
            let p = at(*p, n);
            let e = (p + *l as usize).min(n);
            bytes.drain(p..e);
        }
        Damage::DuplicateRange(p, l, t) => {
            let p = at(*p, n);
            let e = (p + *l as usize).min(n);
            let copy = bytes[p..e].to_vec();
            let t = at(*t, n);
            bytes.splice(t..t, copy);
        }
        Damage::SwapRanges(p, l, t) => {
            let a = at(*p, n);
            let b = at(*t, n);
            let (a, b) = (a.min(b), a.max(b));
            let l = (*l as usize).min(b - a).min(n - b);
            let first = bytes[a..a + l].to_vec();
            let second = bytes[b..b + l].to_vec();
            bytes[a..a + l].copy_from_slice(&second);
            bytes[b..b + l].copy_from_slice(&first);
        }
        Damage::Flip(p, m) => {
            if n > 0 {
                let p = at(*p, n).min(n - 1);
                bytes[p] ^= m;
            }
        }
        Damage::DuplicateChunk(k) => {
            let (o, l) = chunks[*k as usize % chunks.len()];
            let copy = bytes[o..o + l].to_vec();
            bytes.splice(o + l..o + l, copy);
        }
        Damage::SwapChunks(a, b) => {
            let (a, b) = (*a as usize % chunks.len(), *b as usize % chunks.len());
            let (a, b) = (a.min(b), a.max(b));
            if a != b {
                let (ao, al) = chunks[a];
                let (bo, bl) = chunks[b];
                let mut out = bytes[..ao].to_vec();
                out.extend_from_slice(&bytes[bo..bo + bl]);
                out.extend_from_slice(&bytes[ao + al..bo]);
                out.extend_from_slice(&bytes[ao..ao + al]);
                out.extend_from_slice(&bytes[bo + bl..]);
                *bytes = out;
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn trace_events(n: usize, seed: u64) -> Vec<Event> {
    (0..n as u64)
        .map(|i| Event {
            ts: 1_000 + i * 10,
            tid: 42,
            pid: 42,
            body: EventBody::Syscall(SyscallEvent {
                id: 257,
                args: (0..((i ^ seed) % 6))
                    .map(|a| a.wrapping_mul(seed ^ i))
                    .collect(),
                ret: 3,
                params: vec![Param {
                    index: 1,
                    value: Value::Str(format!("/f/{}", i.wrapping_mul(seed) % 9973).into_bytes()),
                }],
                ..Default::default()
            }),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_intact_chunk_is_read(
        n in 20usize..400,
        seed in any::<u64>(),
        chunk_bytes in 1024usize..4096,
        keep_index in any::<bool>(),
        damages in proptest::collection::vec(damage(), 1..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zst");
        let opts = WriterOptions { chunk_bytes, ..WriterOptions::default() };
        write(&path, opts, &trace_events(n, seed), &Snapshot::default());
        let r = TraceReader::open(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        let extents: Vec<(usize, usize)> = r
            .locations()
            .iter()
            .map(|l| (l.offset as usize, l.compressed_len as usize))
            .collect();
        let originals: Vec<(Vec<u8>, u64, [u8; 32])> = r
            .locations()
            .iter()
            .map(|l| {
                let c = r.read_chunk(l).unwrap();
                let (o, len) = (l.offset as usize, l.compressed_len as usize);
                (good[o..o + len].to_vec(), c.seq(), c.hash())
            })
            .collect();
        let mut bytes = good.clone();
        let index_start = extents.last().map_or(24, |(o, l)| o + l);
        if !keep_index {
            bytes.truncate(index_start);
        }
        let mut ds = damages.clone();
        ds.sort_by_key(|d| !matches!(d, Damage::DuplicateChunk(_) | Damage::SwapChunks(..)));
        let whole_chunks_first = ds.iter().take_while(|d| matches!(d, Damage::DuplicateChunk(_) | Damage::SwapChunks(..))).count();
        for (i, d) in ds.iter().enumerate() {
            // Chunk extents hold for the intact file only: one chunk
            // operation, before any other.
            if i > 0 && i < whole_chunks_first {
                continue;
            }
            apply(&mut bytes, d, &extents);
        }
        let damaged = dir.path().join("d.zst");
        std::fs::write(&damaged, &bytes).unwrap();
        let header_intact = bytes.len() >= 24 && bytes[..24] == good[..24];
        let reader = match TraceReader::open(&damaged) {
            Ok(r) => r,
            Err(e) => {
                prop_assert!(!header_intact, "open failed with an intact header: {e}");
                return Ok(());
            }
        };
        let mut read = Vec::new();
        let mut altered = Vec::new();
        for item in reader.chunks() {
            match item {
                Ok(c) => {
                    let h = c.hash();
                    prop_assert!(
                        originals.iter().any(|(_, _, oh)| *oh == h),
                        "chunk {} was never written", c.seq()
                    );
                    read.push(c.seq());
                }
                Err(trace_format::ReadError::HashMismatch { seq, .. }) => altered.push(seq),
                Err(_) => {}
            }
        }
        // A damaged index may claim another hash for an intact chunk: the
        // reader cannot tell which of the two was altered, and must say so.
        let index_intact = !keep_index || bytes.ends_with(&good[index_start..]);
        for (frame, seq, _) in &originals {
            let intact = contains(&bytes[24.min(bytes.len())..], frame);
            if intact {
                prop_assert!(
                    read.contains(seq) || (!index_intact && altered.contains(seq)),
                    "intact chunk {seq} not read (read {read:?}) after {ds:?}; notices {:?}",
                    reader.notices().iter().map(|n| n.to_string()).collect::<Vec<_>>()
                );
            }
        }
    }
}
