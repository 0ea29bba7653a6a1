//! Integrity verification of archived traces: every chunk decompressed,
//! verified and hashed, the hash chain walked, index entries and the
//! manifest's per-segment sizes and SHA-256s checked.
//!
//! Losses are counted from both records the writer keeps: the gap markers
//! in the chunks read ([`VerifyReport::gap_events`]) and the counts in the
//! segments' indexes and the manifest ([`VerifyReport::lost_events`]). They
//! agree with capture's exit summary when every loss reached the disk.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use crate::error::ReadError;
use crate::reader::TraceReader;

/// What `verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub trace_id: Option<[u8; 16]>,
    pub segments: usize,
    /// Chunks that read back intact, and their events.
    pub chunks: u64,
    pub events: u64,
    /// Wall-clock ns of the first and last event of the intact chunks.
    pub first_wall_ns: Option<u64>,
    pub last_wall_ns: Option<u64>,
    /// Gap markers in the intact chunks, and the lost events they name.
    pub gap_markers: u64,
    pub gap_events: u64,
    /// Chunks and events the writer recorded as lost, from the indexes (or
    /// the manifest, when it records more).
    pub lost_chunks: u64,
    pub lost_events: u64,
    /// Every problem, in the order met. Empty means the trace is intact.
    pub problems: Vec<ReadError>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies everything `reader` holds.
pub fn verify(reader: &TraceReader) -> VerifyReport {
    let mut report = VerifyReport {
        segments: reader.segments().len(),
        ..VerifyReport::default()
    };
    for item in reader.chunks() {
        match item {
            Ok(c) => {
                let info = c.info();
                report.trace_id.get_or_insert(info.trace_id);
                report.chunks += 1;
                report.events += u64::from(info.event_count);
                let mut cur = c.cursor();
                while let Some(ev) = cur.next_event() {
                    if let Some(crate::model::Event {
                        body: crate::model::EventBody::Marker(m),
                        ..
                    }) = ev
                        && m.kind == crate::model::MarkerKind::Gap
                    {
                        report.gap_markers += 1;
                        report.gap_events += m.count;
                    }
                }
                if info.event_count > 0 {
                    let (first, last) = (info.wall_ns(info.first_ts), info.wall_ns(info.last_ts));
                    report.first_wall_ns =
                        Some(report.first_wall_ns.map_or(first, |f| f.min(first)));
                    report.last_wall_ns = Some(report.last_wall_ns.map_or(last, |l| l.max(last)));
                }
            }
            Err(e) => report.problems.push(e),
        }
    }
    report.lost_chunks = reader.segments().iter().map(|s| s.lost_chunks).sum();
    report.lost_events = reader.segments().iter().map(|s| s.lost_events).sum();
    if let Some((_, m)) = reader.manifest()
        && (m.lost_chunks, m.lost_events) > (report.lost_chunks, report.lost_events)
    {
        report.lost_chunks = m.lost_chunks;
        report.lost_events = m.lost_events;
    }
    if let Some((path, manifest)) = reader.manifest() {
        let by_name: HashMap<String, &crate::reader::SegmentFile> = reader
            .segments()
            .iter()
            .filter_map(|s| Some((s.path.file_name()?.to_string_lossy().into_owned(), s)))
            .collect();
        let mut seen = HashSet::new();
        for entry in &manifest.segments {
            if !seen.insert(entry.file.as_str()) {
                continue; // listed twice: reported when opening
            }
            let Some(seg) = by_name.get(&entry.file) else {
                continue; // already reported as unreadable when opening
            };
            let problem = |reason: String| ReadError::Manifest {
                path: path.clone(),
                reason: format!("segment `{}` {reason}", entry.file),
            };
            if seg.len != entry.size {
                report.problems.push(problem(format!(
                    "is {} bytes, the manifest recorded {}: it was altered or cut",
                    seg.len, entry.size
                )));
                continue;
            }
            match file_sha256(&*seg.source, seg.len) {
                Ok(h) if h == entry.sha256 => {}
                Ok(_) => report.problems.push(problem(
                    "does not match the SHA-256 the manifest recorded: it was altered".into(),
                )),
                Err(e) => report
                    .problems
                    .push(problem(format!("cannot be read: {e}"))),
            }
        }
    }
    report
}

fn file_sha256(src: &dyn crate::container::Source, len: u64) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..n], off)?;
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok(hex::encode(h.finalize()))
}
