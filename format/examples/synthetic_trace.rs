//! Writes a synthetic trace of the benchmark's web-server event mix:
//! `cargo run -p trace-format --example synthetic_trace -- OUT.zst [EVENTS]`.
//! Used to make `samples/traces/synthetic-web.zst`.

#[path = "../benches/mix.rs"]
mod mix;

use trace_format::model::{Snapshot, TraceMeta};
use trace_format::{TraceWriter, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: synthetic_trace OUT.zst [EVENTS]")?;
    let n = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let meta = TraceMeta {
        hostname: "synthetic".into(),
        tool_version: format!("synthetic_trace {}", env!("CARGO_PKG_VERSION")),
        syscall_arch: "x86_64".into(),
        snaplen: 80,
        ..TraceMeta::default()
    };
    let opts = WriterOptions {
        chunk_bytes: 256 << 10,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::create(std::path::Path::new(&out), opts, meta)?;
    for e in mix::mix(n) {
        w.push(&e, &Snapshot::default())?;
    }
    let s = w.finish()?;
    println!(
        "{out}: {} events in {} chunks, {} bytes",
        s.events, s.chunks, s.bytes
    );
    Ok(())
}
