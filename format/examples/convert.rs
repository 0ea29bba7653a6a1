//! Re-encodes a trace into another format version:
//! `cargo run -p trace-format --example convert -- IN OUT.zst [VERSION]`
//! (VERSION 2 by default; 1 writes the row-wise format). Chunks keep their
//! events, snapshots and clock anchors, so `replay` prints the same for
//! both; what could not be read is listed on stderr.

use trace_format::convert::convert;
use trace_format::{TraceReader, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: convert IN OUT.zst [VERSION]";
    let input = args.next().ok_or(usage)?;
    let out = args.next().ok_or(usage)?;
    let version = args
        .next()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(trace_format::FORMAT_VERSION);
    let reader = TraceReader::open(std::path::Path::new(&input))?;
    let opts = WriterOptions {
        format_version: version,
        // Chunks are cut as the original's: never by size or age here.
        chunk_bytes: trace_format::container::MAX_CHUNK_LEN as usize / 2,
        chunk_secs: std::time::Duration::from_secs(u32::MAX.into()),
        ..WriterOptions::default()
    };
    let done = convert(&reader, std::path::Path::new(&out), opts)?;
    for p in &done.problems {
        eprintln!("convert: {p}");
    }
    println!(
        "{out}: format version {version}, {} events in {} chunks, {} bytes",
        done.summary.events, done.summary.chunks, done.summary.bytes
    );
    Ok(())
}
