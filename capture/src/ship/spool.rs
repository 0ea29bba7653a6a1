//! The local spool: the output directory itself.
//!
//! Closed segments stay where the writer put them (`NAME.NNNNNN.zst`) until
//! S3 confirmed their upload; then they are deleted. So whatever segment
//! file exists locally is unshipped, and no state file can disagree with the
//! files. The local manifest `NAME.manifest.json` is deleted after the
//! manifest was uploaded (last).
//!
//! A capture that crashed (SIGKILL, OOM, power) leaves unshipped segments,
//! maybe a `NAME.NNNNNN.zst.partial` and the manifest. The next capture with
//! the same `-o` moves them, before its writer reuses those names (this is
//! [`move_leftovers`], which a capture without `--s3` uses too, see
//! [`crate::output`]), into
//!
//! ```text
//! DIR/NAME.leftover/<pid>-<ns>/NAME.manifest.json
//!                              NAME.000003.zst
//!                              NAME.000004.zst.partial
//! ```
//!
//! (renames only: nothing is read before the workload starts), and its
//! uploader ships them in the background: segments first, each as
//! `PREFIX/<trace id>/NNNNNN.zst` (a `.partial` as is: the reader recovers
//! its complete chunks by scanning), then a manifest listing them all (with
//! entries computed for the segments the old manifest did not list yet,
//! `complete` left false: that run did crash), then the folder is removed.
//! A leftover folder that could not be shipped stays for the next run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use trace_format::TraceReader;
use trace_format::manifest::{Manifest, SegmentEntry};

/// `DIR` and `NAME` of an output path `DIR/NAME.zst`.
pub fn stem_of(output: &Path) -> (PathBuf, String) {
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = file.strip_suffix(".zst").unwrap_or(&file).to_string();
    (dir, name)
}

/// Where leftovers of earlier runs of `NAME` wait.
pub fn leftover_root(output: &Path) -> PathBuf {
    let (dir, name) = stem_of(output);
    dir.join(format!("{name}.leftover"))
}

/// The segment index in `NAME.NNNNNN.zst` or `NAME.NNNNNN.zst.partial`.
pub fn segment_index(name: &str, file: &str) -> Option<u32> {
    let rest = file.strip_prefix(name)?.strip_prefix('.')?;
    let rest = rest.strip_suffix(".partial").unwrap_or(rest);
    sysrec_s3::keys::parse_segment_name(rest)
}

/// Whether `file` (a name in the output's directory) is one a run writing
/// `output` creates: with rotation its segments (`.partial` or not) and its
/// manifest; without, `output` itself and its `.partial`.
pub fn is_trace_file(output: &Path, rotating: bool, file: &str) -> bool {
    if rotating {
        let (_, name) = stem_of(output);
        file.strip_prefix(name.as_str()) == Some(".manifest.json")
            || segment_index(&name, file).is_some()
    } else {
        let own = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        file == own || file.strip_suffix(".partial") == Some(own.as_str())
    }
}

/// The files in the output's directory that a run writing `output` would
/// create ([`is_trace_file`]), whatever their type.
pub fn trace_files(output: &Path, rotating: bool) -> std::io::Result<Vec<PathBuf>> {
    let (dir, _) = stem_of(output);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if is_trace_file(output, rotating, &file) {
            found.push(entry.path());
        }
    }
    Ok(found)
}

/// Moves the trace files an earlier run of `output` left behind (those of
/// [`trace_files`]) into a new folder under [`leftover_root`]. Returns that
/// folder and the files' original paths, or `None` when there was nothing.
pub fn move_leftovers(
    output: &Path,
    rotating: bool,
) -> std::io::Result<Option<(PathBuf, Vec<PathBuf>)>> {
    let found = trace_files(output, rotating)?;
    if found.is_empty() {
        return Ok(None);
    }
    let (_, mono) = trace_format::clock::now();
    let dest = leftover_root(output).join(format!("{}-{mono}", std::process::id()));
    std::fs::create_dir_all(&dest)?;
    for p in &found {
        if let Some(f) = p.file_name() {
            std::fs::rename(p, dest.join(f))?;
        }
    }
    Ok(Some((dest, found)))
}

/// The trace files of `output` still in the spool: segments, the manifest,
/// and everything in leftover folders.
pub fn unshipped(output: &Path) -> Vec<PathBuf> {
    let mut out = trace_files(output, true).unwrap_or_default();
    for folder in std::fs::read_dir(leftover_root(output))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.extend(
            std::fs::read_dir(folder.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path()),
        );
    }
    out.sort();
    out
}

/// One trace found in a leftover folder, ready to ship.
#[derive(Debug)]
pub struct LeftoverTrace {
    pub trace_id: String,
    /// Local segment files by index.
    pub segments: BTreeMap<u32, PathBuf>,
    /// The manifest to upload last (file names already the object names).
    pub manifest: Manifest,
    /// The local manifest, deleted once the manifest is uploaded.
    pub local_manifest: Option<PathBuf>,
}

/// What a leftover folder holds: its traces, and files that hold no
/// readable chunk (with why), which are left in place.
#[derive(Debug, Default)]
pub struct LeftoverScan {
    pub traces: Vec<LeftoverTrace>,
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Groups the files of a leftover folder by trace.
pub fn scan_leftovers(folder: &Path, name: &str) -> std::io::Result<LeftoverScan> {
    let mut scan = LeftoverScan::default();
    let mut manifest: Option<(PathBuf, Manifest)> = None;
    let mut segments: Vec<(u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let p = entry?.path();
        let file = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file.ends_with(".manifest.json") {
            match std::fs::read_to_string(&p)
                .map_err(|e| e.to_string())
                .and_then(|t| Manifest::from_json(&t))
            {
                Ok(m) => manifest = Some((p, m)),
                Err(e) => scan.unreadable.push((p, format!("not a manifest: {e}"))),
            }
        } else if let Some(i) = segment_index(name, &file) {
            segments.push((i, p));
        }
    }
    segments.sort();
    let mut by_trace: BTreeMap<String, LeftoverTrace> = BTreeMap::new();
    if let Some((path, m)) = &manifest {
        by_trace.insert(
            m.trace_id.clone(),
            LeftoverTrace {
                trace_id: m.trace_id.clone(),
                segments: BTreeMap::new(),
                manifest: renamed(m),
                local_manifest: Some(path.clone()),
            },
        );
    }
    // Segments without a chunk (the empty last segment that closes a
    // finished trace, a segment cut right after its header) carry no trace
    // id of their own: they go with the folder's one trace.
    let mut chunkless = Vec::new();
    for (index, path) in segments {
        let (trace_id, entry) = match describe_segment(&path, index) {
            Ok((Some(id), entry)) => (id, entry),
            Ok((None, entry)) => {
                chunkless.push((index, path, entry));
                continue;
            }
            Err(why) => {
                scan.unreadable.push((path, why));
                continue;
            }
        };
        add_segment(&mut by_trace, trace_id, index, path, entry);
    }
    let only = (by_trace.len() == 1)
        .then(|| by_trace.keys().next().cloned())
        .flatten();
    for (index, path, entry) in chunkless {
        match &only {
            Some(id) => add_segment(&mut by_trace, id.clone(), index, path, entry),
            None => scan.unreadable.push((
                path,
                "no chunk, and no single trace in the folder to attach it to".into(),
            )),
        }
    }
    scan.traces = by_trace.into_values().collect();
    Ok(scan)
}

fn add_segment(
    by_trace: &mut BTreeMap<String, LeftoverTrace>,
    trace_id: String,
    index: u32,
    path: PathBuf,
    entry: SegmentEntry,
) {
    let t = by_trace
        .entry(trace_id.clone())
        .or_insert_with(|| LeftoverTrace {
            trace_id: trace_id.clone(),
            segments: BTreeMap::new(),
            manifest: Manifest {
                format_version: trace_format::FORMAT_VERSION,
                trace_id,
                segments: Vec::new(),
                complete: false,
                ..Manifest::default()
            },
            local_manifest: None,
        });
    if !t.manifest.segments.iter().any(|s| s.index == index) {
        t.manifest.segments.push(entry);
        t.manifest.segments.sort_by_key(|s| s.index);
    }
    t.segments.insert(index, path);
}

/// The manifest as uploaded: each segment's `file` is its object name.
pub fn renamed(m: &Manifest) -> Manifest {
    let mut m = m.clone();
    for s in &mut m.segments {
        s.file = sysrec_s3::keys::segment_name(s.index);
    }
    m
}

/// The trace id of a segment file (`None` if it holds no chunk) and its
/// manifest entry (object name as `file`), computed from its bytes: a
/// `.partial` is read by scanning.
fn describe_segment(path: &Path, index: u32) -> Result<(Option<String>, SegmentEntry), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let reader = TraceReader::open(path).map_err(|e| trace_format::error::Chain(&e).to_string())?;
    let mut trace_id = None;
    let mut entry = SegmentEntry {
        index,
        file: sysrec_s3::keys::segment_name(index),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        ..SegmentEntry::default()
    };
    for c in reader.chunks().flatten() {
        let info = c.info();
        trace_id.get_or_insert(info.trace_id);
        if entry.chunks == 0 {
            entry.first_chunk = info.seq;
            entry.first_wall_ns = info.wall_ns(info.first_ts);
        }
        entry.chunks += 1;
        entry.events += u64::from(info.event_count);
        entry.last_chunk = info.seq;
        entry.last_wall_ns = info.wall_ns(info.last_ts);
    }
    Ok((
        trace_id.map(|id| sysrec_s3::keys::trace_id_text(&id)),
        entry,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::model::{Event, EventBody, Snapshot, SyscallEvent, TraceMeta};
    use trace_format::{TraceWriter, WriterOptions};

    /// A finished rotated trace `t` in `dir`: segments and manifest.
    fn write_trace(dir: &Path) -> trace_format::WriteSummary {
        let opts = WriterOptions {
            chunk_bytes: 2048,
            rotate_bytes: Some(4096),
            ..WriterOptions::default()
        };
        let mut w = TraceWriter::create(&dir.join("t.zst"), opts, TraceMeta::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let state = Snapshot::default();
        for i in 0..2000u64 {
            let ev = Event {
                ts: i,
                tid: 1,
                pid: 1,
                body: EventBody::Syscall(SyscallEvent {
                    args: vec![i, i * 31, i ^ 77],
                    ..SyscallEvent::default()
                }),
            };
            w.push(&ev, &state).unwrap_or_else(|e| panic!("{e}"));
        }
        w.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn leftovers_are_moved_aside_and_grouped_with_their_manifest() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let summary = write_trace(dir.path());
        let n = summary.segments.len();
        assert!(n >= 3, "{summary:?}");
        // Segment 0 was shipped (deleted) before the crash; the last one
        // (empty, closing the trace) has no chunk.
        std::fs::remove_file(&summary.segments[0]).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("unrelated.txt"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("t.zst");
        let (folder, _) = move_leftovers(&output, true)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("nothing moved"));
        assert!(folder.starts_with(leftover_root(&output)));
        assert!(dir.path().join("unrelated.txt").exists());
        assert!(!dir.path().join("t.manifest.json").exists());
        assert_eq!(unshipped(&output).len(), n); // n-1 segments + manifest

        let scan = scan_leftovers(&folder, "t").unwrap_or_else(|e| panic!("{e}"));
        assert!(scan.unreadable.is_empty(), "{:?}", scan.unreadable);
        assert_eq!(scan.traces.len(), 1);
        let t = &scan.traces[0];
        assert_eq!(
            t.segments.keys().copied().collect::<Vec<_>>(),
            (1..n as u32).collect::<Vec<_>>()
        );
        assert_eq!(t.manifest.segments.len(), n);
        assert!(t.manifest.complete);
        for (i, s) in t.manifest.segments.iter().enumerate() {
            assert_eq!(s.file, format!("{i:06}.zst"));
        }
        // Nothing left to move the second time.
        assert_eq!(
            move_leftovers(&output, true).unwrap_or_else(|e| panic!("{e}")),
            None
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            stem_of(Path::new("/t/trace.zst")),
            (PathBuf::from("/t"), "trace".into())
        );
        assert_eq!(
            stem_of(Path::new("x.zst")),
            (PathBuf::from("."), "x".into())
        );
        assert_eq!(segment_index("t", "t.000003.zst"), Some(3));
        assert_eq!(segment_index("t", "t.000004.zst.partial"), Some(4));
        assert_eq!(segment_index("t", "u.000004.zst"), None);
        assert_eq!(segment_index("t", "t.manifest.json"), None);
        assert_eq!(segment_index("t", "t.zst"), None);
        let out = Path::new("/d/t.zst");
        for (file, rotating, want) in [
            ("t.zst", false, true),
            ("t.zst.partial", false, true),
            ("t.000001.zst", false, false),
            ("t.zst", true, false),
            ("t.000001.zst", true, true),
            ("t.000001.zst.partial", true, true),
            ("t.manifest.json", true, true),
            ("t.manifest.json", false, false),
            ("u.zst", false, false),
        ] {
            assert_eq!(
                is_trace_file(out, rotating, file),
                want,
                "{file} {rotating}"
            );
        }
    }
}
