//! The JSON manifest of a rotated trace: which segments were closed, with
//! their sizes, counts, time ranges and hashes.
//!
//! Written next to the segments as `NAME.manifest.json`, rewritten
//! atomically (temporary file + rename) each time a segment closes, so it
//! always lists exactly the closed segments. `complete` is set when the trace
//! was closed normally.
//!
//! Readers tolerate fields they do not know (a newer writer may add some),
//! and fields added later default when absent.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The trace id, as a hyphenated UUID.
    pub trace_id: String,
    pub segments: Vec<SegmentEntry>,
    /// True once the writer closed the trace; false while recording or after
    /// a crash.
    pub complete: bool,
    /// Chunks, and the events in them, that could not be written (a full
    /// disk or spool) so far; each loss is also a gap marker in the next
    /// chunk written, when one could be.
    #[serde(default)]
    pub lost_chunks: u64,
    #[serde(default)]
    pub lost_events: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Position of the segment in the trace, from 0.
    pub index: u32,
    /// File name, relative to the manifest's directory.
    pub file: String,
    pub size: u64,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
    pub chunks: u64,
    pub events: u64,
    /// Sequence numbers of its first and last chunk.
    pub first_chunk: u64,
    pub last_chunk: u64,
    /// Wall-clock ns of its first and last event.
    pub first_wall_ns: u64,
    pub last_wall_ns: u64,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Manifest, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Writes the manifest atomically: a temporary file renamed over `path`.
    pub fn write_atomic(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json())?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}
