//! The writer's background thread: hash, compress, write, rotate, index.
//!
//! On-disk life of a segment: created as `NAME.partial` with the file
//! header; chunks appended one zstd frame each; on close the index frame is
//! appended, the file fsynced and renamed to `NAME` (rr's `incomplete` ->
//! `version`), the directory fsynced, and (with rotation) the manifest
//! rewritten. A crash leaves `NAME.partial` holding every chunk written so
//! far, which the reader recovers by scanning.
//!
//! Every write goes to an explicit offset (`write_all_at` at the segment's
//! length), so a failed write cannot move where the next one lands: the
//! file is cut back to its last good chunk and the next chunk follows it
//! directly, at the offset its index entry records.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{FinishedChunk, Losses, Msg, WriteSummary, WriterOptions};
use crate::container::{file_header, index_frame};
use crate::error::WriteError;
use crate::fb;
use crate::manifest::{Manifest, SegmentEntry};

/// A segment that was closed and renamed, for shippers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedSegment {
    /// The trace the segment belongs to.
    pub trace_id: [u8; 16],
    pub path: PathBuf,
    pub entry: SegmentEntry,
    /// The manifest after this segment was added (rotation only).
    pub manifest: Option<PathBuf>,
    /// True for the trace's last segment (closed by `finish`).
    pub last: bool,
}

struct IndexEntry {
    offset: u64,
    compressed_len: u32,
    len: u32,
    seq: u64,
    first_event: u64,
    event_count: u32,
    first_ts: u64,
    last_ts: u64,
    first_wall_ns: u64,
    last_wall_ns: u64,
    hash: [u8; 32],
}

struct Segment {
    index: u32,
    final_path: PathBuf,
    partial_path: PathBuf,
    file: File,
    len: u64,
    hasher: Sha256,
    entries: Vec<IndexEntry>,
    opened: Instant,
}

pub(crate) struct Sink {
    /// `Some(stem)` when rotating: segments are `STEM.NNNNNN.zst`.
    stem: Option<PathBuf>,
    single: PathBuf,
    rotate_bytes: Option<u64>,
    rotate_secs: Option<std::time::Duration>,
    compressor: zstd::bulk::Compressor<'static>,
    trace_id: [u8; 16],
    losses: Arc<Losses>,
    current: Option<Segment>,
    next_segment: u32,
    manifest: Manifest,
    manifest_path: Option<PathBuf>,
    summary: WriteSummary,
    on_segment: Option<std::sync::mpsc::Sender<ClosedSegment>>,
    budget: Option<Arc<super::DiskBudget>>,
    /// Chunks and events lost since the last index that was written; the
    /// next index records them.
    unindexed_lost: (u64, u64),
    /// The format version written (file headers, indexes, manifest).
    version: u32,
}

fn partial(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

impl Sink {
    pub(crate) fn new(
        path: &Path,
        opts: &WriterOptions,
        trace_id: [u8; 16],
        losses: Arc<Losses>,
    ) -> Result<Sink, WriteError> {
        let io = |source| WriteError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut compressor = zstd::bulk::Compressor::new(opts.level).map_err(io)?;
        compressor.include_checksum(true).map_err(io)?;
        compressor.include_contentsize(true).map_err(io)?;
        let stem = opts.rotating().then(|| {
            let s = path.to_string_lossy();
            PathBuf::from(s.strip_suffix(".zst").unwrap_or(&s).to_string())
        });
        let manifest_path = stem.as_ref().map(|s| {
            let mut p = s.as_os_str().to_owned();
            p.push(".manifest.json");
            PathBuf::from(p)
        });
        Ok(Sink {
            stem,
            single: path.to_path_buf(),
            rotate_bytes: opts.rotate_bytes,
            rotate_secs: opts.rotate_secs,
            compressor,
            trace_id,
            losses,
            current: None,
            next_segment: 0,
            manifest: Manifest {
                format_version: opts.format_version,
                trace_id: uuid::Uuid::from_bytes(trace_id).hyphenated().to_string(),
                segments: Vec::new(),
                complete: false,
                lost_chunks: 0,
                lost_events: 0,
            },
            manifest_path,
            summary: WriteSummary::default(),
            on_segment: opts.on_segment.clone(),
            budget: opts.disk_budget.clone(),
            unindexed_lost: (0, 0),
            version: opts.format_version,
        })
    }

    fn segment_path(&self, index: u32) -> PathBuf {
        match &self.stem {
            Some(stem) => {
                let mut p = stem.as_os_str().to_owned();
                p.push(format!(".{index:06}.zst"));
                PathBuf::from(p)
            }
            None => self.single.clone(),
        }
    }

    /// Opens the first segment on the caller's thread, so that an unwritable
    /// output fails `TraceWriter::create`.
    pub(crate) fn open_first(&mut self) -> Result<(), WriteError> {
        self.open_segment()
    }

    fn open_segment(&mut self) -> Result<(), WriteError> {
        let index = self.next_segment;
        let final_path = self.segment_path(index);
        let partial_path = partial(&final_path);
        let io = |source| WriteError::Io {
            path: partial_path.clone(),
            source,
        };
        let file = File::create(&partial_path).map_err(io)?;
        let header = file_header(self.version);
        file.write_all_at(&header, 0).map_err(io)?;
        let mut hasher = Sha256::new();
        hasher.update(header);
        if let Some(b) = &self.budget {
            b.take(header.len() as u64);
        }
        self.next_segment += 1;
        self.current = Some(Segment {
            index,
            final_path,
            partial_path,
            file,
            len: header.len() as u64,
            hasher,
            entries: Vec::new(),
            opened: Instant::now(),
        });
        Ok(())
    }

    pub(crate) fn run(mut self, rx: Receiver<Msg>) -> Result<WriteSummary, WriteError> {
        let mut finished = false;
        for msg in rx.iter() {
            match msg {
                Msg::Chunk(c) => self.write_chunk(c),
                Msg::Tick => {
                    if let (Some(secs), Some(seg)) = (self.rotate_secs, &self.current)
                        && !seg.entries.is_empty()
                        && seg.opened.elapsed() >= secs
                    {
                        self.close_segment(false);
                    }
                }
                Msg::Sync(done) => {
                    let _ = done.send(());
                }
                Msg::Finish => {
                    finished = true;
                    break;
                }
            }
        }
        // A finished trace ends with a segment marked last, so that readers
        // know none is missing after it: when rotation just closed the
        // previous one, that is an empty segment. A trace dropped without
        // finish closes what it has, not marked last.
        if self.current.is_none() && (finished || self.summary.segments.is_empty()) {
            let _ = self.open_segment();
        }
        if self.current.is_some() {
            self.close_segment(finished);
        }
        if finished && let Some(path) = self.manifest_path.clone() {
            self.manifest.complete = true;
            if let Err(e) = self.manifest.write_atomic(&path) {
                self.record_error(&format!("manifest `{}`: {e}", path.display()));
            }
        }
        self.summary.lost_events = self.losses.events.load(Ordering::Relaxed);
        self.summary.lost_chunks = self.losses.chunks.load(Ordering::Relaxed);
        self.summary.unrecorded_events = self.losses.unclaimed.load(Ordering::Relaxed);
        self.summary.manifest = self.manifest_path.clone();
        Ok(self.summary)
    }

    fn record_error(&self, msg: &str) {
        if let Ok(mut e) = self.losses.last_error.lock() {
            *e = msg.to_string();
        }
    }

    /// Counts `c` as lost. Its gap markers are bookkeeping, not events: the
    /// losses they named are handed back to the producer, to be named again
    /// in the next chunk.
    fn lose(&mut self, c: &FinishedChunk, why: &str) {
        self.record_error(why);
        let events = u64::from(c.event_count.saturating_sub(c.gap_markers));
        self.losses.events.fetch_add(events, Ordering::Relaxed);
        self.losses.chunks.fetch_add(1, Ordering::Relaxed);
        self.losses
            .unclaimed
            .fetch_add(events + c.gap_events, Ordering::AcqRel);
        self.unindexed_lost.0 += 1;
        self.unindexed_lost.1 += events;
        self.manifest.lost_chunks += 1;
        self.manifest.lost_events += events;
    }

    fn write_chunk(&mut self, c: FinishedChunk) {
        let hash: [u8; 32] = Sha256::digest(&c.bytes).into();
        // The producer is waiting on this only if it already finished the
        // next chunk; a closed receiver means it is gone, which is fine.
        let _ = c.hash_tx.send(hash);
        let frame = match self.compressor.compress(&c.bytes) {
            Ok(f) => f,
            Err(e) => return self.lose(&c, &format!("compression failed: {e}")),
        };
        if self.current.is_none()
            && let Err(e) = self.open_segment()
        {
            return self.lose(&c, &e.to_string());
        }
        if let Some(b) = &self.budget
            && !b.try_take(frame.len() as u64)
        {
            let why = format!(
                "the spool is full ({} of {} bytes used by unshipped trace files)",
                b.used(),
                b.limit()
            );
            return self.lose(&c, &why);
        }
        let Some(seg) = self.current.as_mut() else {
            return;
        };
        if let Err(e) = seg.file.write_all_at(&frame, seg.len) {
            if let Some(b) = &self.budget {
                b.release(frame.len() as u64);
            }
            // Leave the file as it was before this chunk: still valid. If
            // cutting fails, the next write overwrites the partial frame
            // and closing cuts the file after the index.
            let _ = seg.file.set_len(seg.len);
            let why = format!("writing `{}`: {e}", seg.partial_path.display());
            return self.lose(&c, &why);
        }
        seg.hasher.update(&frame);
        seg.entries.push(IndexEntry {
            offset: seg.len,
            compressed_len: frame.len() as u32,
            len: c.bytes.len() as u32,
            seq: c.seq,
            first_event: c.first_event,
            event_count: c.event_count,
            first_ts: c.first_ts,
            last_ts: c.last_ts,
            first_wall_ns: c.first_wall_ns,
            last_wall_ns: c.last_wall_ns,
            hash,
        });
        seg.len += frame.len() as u64;
        self.summary.events += u64::from(c.event_count);
        self.summary.chunks += 1;
        if self.rotate_bytes.is_some_and(|max| seg.len >= max) {
            self.close_segment(false);
        }
    }

    fn close_segment(&mut self, last: bool) {
        let Some(mut seg) = self.current.take() else {
            return;
        };
        let index = build_index(
            self.version,
            &self.trace_id,
            &seg,
            last,
            self.unindexed_lost,
        );
        let frame = index_frame(&index);
        let end = seg.len + frame.len() as u64;
        let done = seg
            .file
            .write_all_at(&frame, seg.len)
            .and_then(|()| seg.file.set_len(end))
            .and_then(|()| seg.file.sync_all())
            .and_then(|()| std::fs::rename(&seg.partial_path, &seg.final_path));
        if let Err(e) = done {
            // The chunks are on disk in the .partial file; a reader recovers
            // them by scanning. Say so in the loss record for the next chunk;
            // the next index records the losses this one could not.
            let _ = seg.file.set_len(seg.len);
            self.record_error(&format!(
                "closing `{}`: {e}; its chunks remain readable in the .partial file",
                seg.partial_path.display()
            ));
            return;
        }
        self.unindexed_lost = (0, 0);
        seg.hasher.update(&frame);
        seg.len += frame.len() as u64;
        if let Some(b) = &self.budget {
            b.take(frame.len() as u64);
        }
        if let Some(dir) = seg.final_path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        let entry = SegmentEntry {
            index: seg.index,
            file: seg
                .final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size: seg.len,
            sha256: hex::encode(seg.hasher.finalize()),
            chunks: seg.entries.len() as u64,
            events: seg.entries.iter().map(|e| u64::from(e.event_count)).sum(),
            first_chunk: seg.entries.first().map_or(0, |e| e.seq),
            last_chunk: seg.entries.last().map_or(0, |e| e.seq),
            first_wall_ns: seg.entries.first().map_or(0, |e| e.first_wall_ns),
            last_wall_ns: seg.entries.last().map_or(0, |e| e.last_wall_ns),
        };
        self.summary.bytes += seg.len;
        self.summary.segments.push(seg.final_path.clone());
        self.manifest.segments.push(entry.clone());
        if let Some(path) = &self.manifest_path {
            self.manifest.complete = last;
            if let Err(e) = self.manifest.write_atomic(path) {
                self.record_error(&format!("manifest `{}`: {e}", path.display()));
            }
        }
        if let Some(tx) = &self.on_segment {
            let _ = tx.send(ClosedSegment {
                trace_id: self.trace_id,
                path: seg.final_path,
                entry,
                manifest: self.manifest_path.clone(),
                last,
            });
        }
    }
}

fn build_index(
    version: u32,
    trace_id: &[u8; 16],
    seg: &Segment,
    last: bool,
    lost: (u64, u64),
) -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let entries: Vec<_> = seg
        .entries
        .iter()
        .map(|e| {
            let hash = fbb.create_vector(&e.hash);
            fb::ChunkEntry::create(
                &mut fbb,
                &fb::ChunkEntryArgs {
                    offset: e.offset,
                    compressed_len: e.compressed_len,
                    len: e.len,
                    seq: e.seq,
                    first_event: e.first_event,
                    event_count: e.event_count,
                    first_ts: e.first_ts,
                    last_ts: e.last_ts,
                    first_wall_ns: e.first_wall_ns,
                    last_wall_ns: e.last_wall_ns,
                    hash: Some(hash),
                },
            )
        })
        .collect();
    let chunks = fbb.create_vector(&entries);
    let trace_id = fbb.create_vector(trace_id);
    let root = fb::Index::create(
        &mut fbb,
        &fb::IndexArgs {
            format_version: version,
            trace_id: Some(trace_id),
            segment: seg.index,
            chunks: Some(chunks),
            last_segment: last,
            lost_chunks: lost.0,
            lost_events: lost.1,
        },
    );
    fbb.finish_size_prefixed(root, Some(fb::INDEX_IDENTIFIER));
    fbb.finished_data().to_vec()
}
