//! Feeds arbitrary bytes to the reader as a trace directory: the input is
//! split at `--8<--` lines into a manifest (`t.manifest.json`) and segment
//! files (`t.000000.zst`, ...; a part starting with `@dir` becomes a
//! directory named like a segment). Opening the directory and the manifest,
//! reading every chunk and verifying must never panic or hang, whatever the
//! files hold.
#![no_main]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use trace_format::TraceReader;

static RUN: AtomicU64 = AtomicU64::new(0);

fn split(data: &[u8]) -> Vec<&[u8]> {
    const SEP: &[u8] = b"\n--8<--\n";
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(SEP.len()).position(|w| w == SEP) {
        parts.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    parts.push(rest);
    parts
}

fuzz_target!(|data: &[u8]| {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "sysrec-fuzz-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let parts = split(data);
    let _ = std::fs::write(dir.join("t.manifest.json"), parts[0]);
    for (i, part) in parts.iter().skip(1).take(16).enumerate() {
        let p = dir.join(format!("t.{i:06}.zst"));
        if part.starts_with(b"@dir") {
            let _ = std::fs::create_dir(&p);
        } else {
            let _ = std::fs::write(&p, part);
        }
    }
    for path in [dir.clone(), dir.join("t.manifest.json")] {
        if let Ok(reader) = TraceReader::open(&path) {
            for chunk in reader.chunks().flatten() {
                let _ = chunk.to_model();
            }
            let _ = trace_format::verify::verify(&reader);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
});
