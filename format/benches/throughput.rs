//! Trace format throughput on a realistic event mix (see BENCHMARKS.md).
//!
//! `cargo bench -p trace-format --bench throughput [-- EVENTS]`
//!
//! The mix imitates a web server: mostly openat/read/write/close on a few
//! files, and recvfrom/sendto on a few sockets, with short buffers and
//! real-looking pointers, timestamps and durations. Prints write throughput
//! (one producer), read throughput (decompress + verify + hash + a zero-copy
//! walk of every event's fields, and separately a full decode to owned
//! values), and compressed bytes per event at zstd levels 1 and 3.

use std::time::Instant;

use trace_format::model::TraceMeta;
use trace_format::model::{EventBody, Snapshot};
use trace_format::{TraceReader, TraceWriter, WriterOptions};

#[path = "mix.rs"]
mod mix;
use mix::mix;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let events = mix(n);
    let state = Snapshot::default();
    let dir = tempfile::tempdir().expect("tempdir");
    println!("events: {n} (openat/read/close 60%, recvfrom/sendto 20%, write 20%)");
    for (version, level) in [(1, 1), (2, 1), (1, 3), (2, 3)] {
        let path = dir.path().join(format!("bench{version}-{level}.zst"));
        let opts = WriterOptions {
            level,
            format_version: version,
            ..WriterOptions::default()
        };
        let t = Instant::now();
        let mut w = TraceWriter::create(&path, opts, TraceMeta::default()).expect("create");
        for e in &events {
            w.push(e, &state).expect("push");
        }
        let s = w.finish().expect("finish");
        let write_s = t.elapsed().as_secs_f64();
        let size = std::fs::metadata(&path).expect("size").len();

        let t = Instant::now();
        let r = TraceReader::open(&path).expect("open");
        let mut seen = 0u64;
        let mut checksum = 0u64;
        for c in r.chunks() {
            let c = c.expect("chunk");
            let mut cur = c.cursor();
            while let Some(e) = cur.next_event() {
                seen += 1;
                let Some(e) = e else { continue };
                checksum = checksum.wrapping_add(e.ts).wrapping_add(e.tid as u64);
                if let EventBody::Syscall(s) = &e.body {
                    checksum = checksum
                        .wrapping_add(s.id as u64)
                        .wrapping_add(s.ret as u64);
                    for p in &s.params {
                        checksum = checksum.wrapping_add(p.index as u64);
                    }
                }
            }
        }
        let read_s = t.elapsed().as_secs_f64();
        assert_eq!(seen, n as u64);

        let t = Instant::now();
        let mut decoded = 0usize;
        for c in r.chunks() {
            decoded += c.expect("chunk").to_model().events.len();
        }
        let decode_s = t.elapsed().as_secs_f64();
        assert_eq!(decoded, n);
        println!(
            "v{version} zstd level {level}: write {:.2} M events/s ({} chunks) | read+verify+walk {:.2} M events/s | read+decode to owned {:.2} M events/s | {:.2} bytes/event ({} bytes) [checksum {checksum:x}]",
            n as f64 / write_s / 1e6,
            s.chunks,
            n as f64 / read_s / 1e6,
            n as f64 / decode_s / 1e6,
            size as f64 / n as f64,
            size
        );
    }
}
