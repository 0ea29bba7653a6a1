//! Damaged or hostile frames cannot make the reader allocate what they
//! claim: a few kilobytes claiming 256 MiB per chunk, read on 8 threads,
//! cost a few megabytes, not 8 x 256 MiB.

use std::path::PathBuf;
use std::sync::Arc;

use trace_format::container::{MAX_CHUNK_LEN, Source, ZSTD_MAGIC, file_header};
use trace_format::reader::TraceReader;

/// A zstd frame claiming `claim` bytes, made of run-length blocks of
/// `rle_blocks` x 128 KiB then `raw_blocks` raw blocks of `raw`.
fn frame(claim: u64, rle_blocks: usize, raw_blocks: usize, raw: &[u8]) -> Vec<u8> {
    let mut f = ZSTD_MAGIC.to_le_bytes().to_vec();
    // Single segment, 8-byte content size, checksum off.
    f.push(0b1110_0000);
    f.extend_from_slice(&claim.to_le_bytes());
    let block = |f: &mut Vec<u8>, last: bool, kind: u32, size: u32| {
        let h = u32::from(last) | (kind << 1) | (size << 3);
        f.extend_from_slice(&h.to_le_bytes()[..3]);
    };
    for i in 0..rle_blocks {
        block(&mut f, raw_blocks == 0 && i + 1 == rle_blocks, 1, 128 << 10);
        f.push(0x41);
    }
    for i in 0..raw_blocks {
        block(&mut f, i + 1 == raw_blocks, 0, raw.len() as u32);
        f.extend_from_slice(raw);
    }
    f
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn chunks_claiming_256_mib_cost_what_they_hold_not_what_they_claim() {
    let mut file = file_header(trace_format::FORMAT_VERSION).to_vec();
    // Run-length frames that really expand to 256 MiB from 8 KiB.
    for _ in 0..8 {
        file.extend_from_slice(&frame(MAX_CHUNK_LEN, 2048, 0, &[]));
    }
    // Frames whose header claims 256 MiB over 300 KB of data: within the
    // ratio a reader accepts, so they are decoded, and fail at their end.
    let raw: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
    for _ in 0..8 {
        file.extend_from_slice(&frame(MAX_CHUNK_LEN, 0, 3, &raw));
    }
    let src: Arc<dyn Source> = Arc::new(file);
    let reader =
        TraceReader::from_sources(vec![(PathBuf::from("hostile.zst"), src)], None).unwrap();
    assert_eq!(reader.locations().len(), 16);
    let before = peak_rss_kib();
    std::thread::scope(|s| {
        for t in 0..8 {
            let reader = &reader;
            s.spawn(move || {
                for (i, loc) in reader.locations().iter().enumerate() {
                    if i % 8 == t {
                        let e = reader.read_chunk(loc).err().unwrap();
                        assert!(e.to_string().contains("corrupt chunk"), "{e}");
                    }
                }
            });
        }
    });
    let grown = peak_rss_kib().saturating_sub(before);
    eprintln!("peak RSS grew by {grown} KiB reading 16 hostile chunks on 8 threads");
    assert!(grown < 64 << 10, "peak RSS grew by {grown} KiB");
}
