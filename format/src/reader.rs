//! Reading traces: a file, a directory of segments, or a manifest.
//!
//! Opening a trace finds every chunk without decompressing any: through each
//! file's index when it has a valid one, else by walking zstd frame headers
//! (a file cut short while recording has no index). Chunks are then read one
//! by one ([`TraceReader::chunks`]) or by location from any thread
//! ([`TraceReader::read_chunk`]), each decompressed, FlatBuffers-verified,
//! hashed and checked against its index entry.
//!
//! **Invariant: damage is local.** A corrupt or altered chunk is reported as
//! an error item and reading goes on with the next chunk; a cut file yields
//! every complete chunk before the cut. Nothing here panics on hostile bytes:
//! every length read from a file is bounds-checked before use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::chunk::Chunk;
use crate::container::{
    FILE_HEADER_LEN, FrameError, FrameKind, HeaderCheck, INDEX_FRAME_MAGIC, MAX_CHUNK_LEN,
    MAX_INDEX_LEN, Source, TRAILER_LEN, ZSTD_MAGIC, check_file_header, parse_trailer, walk_frame,
};
use crate::error::ReadError;
use crate::manifest::Manifest;
use crate::{FORMAT_VERSION, fb};

/// Where one chunk sits, and what its index entry promised about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkLocation {
    /// Position of the segment in [`TraceReader::segments`].
    pub segment: usize,
    pub offset: u64,
    pub compressed_len: u64,
    /// From the index, when there is one.
    pub expected: Option<Expected>,
}

/// An index entry's claims about a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub seq: u64,
    pub hash: [u8; 32],
    pub event_count: u32,
    pub first_wall_ns: u64,
    pub last_wall_ns: u64,
}

/// One file of a trace.
pub struct SegmentFile {
    pub path: PathBuf,
    pub source: Arc<dyn Source>,
    pub len: u64,
    /// The index said this is the trace's last segment.
    pub last_segment: bool,
    /// Chunks were found through the index (not by scanning).
    pub indexed: bool,
}

/// An opened trace; see the module documentation.
pub struct TraceReader {
    segments: Vec<SegmentFile>,
    locations: Vec<ChunkLocation>,
    notices: Vec<ReadError>,
    manifest: Option<(PathBuf, Manifest)>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl TraceReader {
    /// Opens a trace file (`.zst`, or a `.partial` left by a crash), a
    /// directory holding one trace's segments, or a `*.manifest.json`.
    pub fn open(path: &Path) -> Result<TraceReader, ReadError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound {
                path: path.to_path_buf(),
                reason: "no such file or directory".into(),
            },
            _ => io_err(path)(e),
        })?;
        if meta.is_dir() {
            return Self::open_dir(path);
        }
        if path.to_string_lossy().ends_with(".manifest.json") {
            return Self::open_manifest(path);
        }
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        Self::from_sources(
            vec![(path.to_path_buf(), Arc::new(file) as Arc<dyn Source>)],
            None,
        )
    }

    fn open_dir(dir: &Path) -> Result<TraceReader, ReadError> {
        let mut manifests = Vec::new();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".manifest.json") {
                manifests.push(entry.path());
            } else if name.ends_with(".zst") || name.ends_with(".zst.partial") {
                files.push(entry.path());
            }
        }
        match manifests.len() {
            0 => {}
            1 => return Self::open_manifest(&manifests[0]),
            n => {
                return Err(ReadError::NotFound {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "the directory holds {n} traces (manifests); name one manifest"
                    ),
                });
            }
        }
        if files.is_empty() {
            return Err(ReadError::NotFound {
                path: dir.to_path_buf(),
                reason: "no .zst trace files in the directory".into(),
            });
        }
        files.sort();
        let mut sources = Vec::new();
        for f in files {
            let file = std::fs::File::open(&f).map_err(io_err(&f))?;
            sources.push((f, Arc::new(file) as Arc<dyn Source>));
        }
        Self::from_sources(sources, None)
    }

    fn open_manifest(path: &Path) -> Result<TraceReader, ReadError> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let manifest = Manifest::from_json(&text).map_err(|reason| ReadError::Manifest {
            path: path.to_path_buf(),
            reason: format!("not a valid manifest: {reason}"),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut sources = Vec::new();
        let mut notices = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for seg in &manifest.segments {
            // Names come from a file that may be hostile: no paths.
            if seg.file.contains('/') || seg.file.starts_with('.') {
                notices.push(ReadError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!(
                        "segment name `{}` is not a plain file name; ignored",
                        seg.file
                    ),
                });
                continue;
            }
            let p = dir.join(&seg.file);
            listed.insert(p.clone());
            match std::fs::File::open(&p) {
                Ok(f) => sources.push((p, Arc::new(f) as Arc<dyn Source>)),
                Err(e) => notices.push(ReadError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!("segment `{}` is listed but cannot be read: {e}", seg.file),
                }),
            }
        }
        // Segments written after the manifest was last saved (a crash) are
        // still evidence: read them too.
        let stem = path
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_end_matches(".manifest.json")
                    .to_string()
            })
            .unwrap_or_default();
        let mut extra: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                n.starts_with(&format!("{stem}."))
                    && (n.ends_with(".zst") || n.ends_with(".zst.partial"))
                    && !listed.contains(p)
            })
            .collect();
        extra.sort();
        for p in extra {
            if let Ok(f) = std::fs::File::open(&p) {
                sources.push((p, Arc::new(f) as Arc<dyn Source>));
            }
        }
        let mut r = Self::from_sources(sources, Some((path.to_path_buf(), manifest)))?;
        notices.append(&mut r.notices);
        r.notices = notices;
        Ok(r)
    }

    /// Opens a trace from sources already at hand (files, objects in a
    /// store), in segment order.
    pub fn from_sources(
        sources: Vec<(PathBuf, Arc<dyn Source>)>,
        manifest: Option<(PathBuf, Manifest)>,
    ) -> Result<TraceReader, ReadError> {
        let mut r = TraceReader {
            segments: Vec::new(),
            locations: Vec::new(),
            notices: Vec::new(),
            manifest,
        };
        for (path, source) in sources {
            r.add_segment(path, source)?;
        }
        if !r.segments.is_empty() && !r.segments.iter().any(|s| s.last_segment) {
            let last = &r.segments[r.segments.len() - 1];
            r.notices.push(ReadError::Unfinished {
                path: last.path.clone(),
            });
        }
        Ok(r)
    }

    /// Adds problems found by whoever gathered the sources (a segment that
    /// the manifest lists but the store does not hold); they are reported
    /// before those found while opening.
    pub fn with_notices(mut self, mut notices: Vec<ReadError>) -> TraceReader {
        notices.append(&mut self.notices);
        self.notices = notices;
        self
    }

    fn add_segment(&mut self, path: PathBuf, source: Arc<dyn Source>) -> Result<(), ReadError> {
        let len = source.len();
        let mut head = vec![0u8; FILE_HEADER_LEN.min(len) as usize];
        source.read_exact_at(&mut head, 0).map_err(io_err(&path))?;
        match check_file_header(&head) {
            HeaderCheck::Trace(v) if v == 0 || v > FORMAT_VERSION => {
                return Err(ReadError::UnsupportedVersion {
                    path,
                    found: v,
                    supported: FORMAT_VERSION,
                });
            }
            HeaderCheck::Trace(_) => {}
            HeaderCheck::Foreign(what) => {
                return Err(ReadError::NotATrace {
                    path,
                    reason: what.to_string(),
                });
            }
        }
        let segment = self.segments.len();
        let (locations, last_segment, indexed) = match read_index(&*source, len) {
            Ok((locs, last)) => (
                locs.into_iter()
                    .map(|mut l| {
                        l.segment = segment;
                        l
                    })
                    .collect(),
                last,
                true,
            ),
            Err(reason) => {
                if let Some(reason) = reason {
                    self.notices.push(ReadError::NoIndex {
                        path: path.clone(),
                        reason,
                    });
                }
                (self.scan(&path, &*source, len, segment), false, false)
            }
        };
        self.locations.extend(locations);
        self.segments.push(SegmentFile {
            path,
            source,
            len,
            last_segment,
            indexed,
        });
        Ok(())
    }

    /// Finds chunks by walking frames from the header on. A frame whose
    /// walk fails or does not end where another frame starts is damaged:
    /// the walk resynchronises at the next frame magic, and the damaged
    /// stretch becomes a location that reads as a corrupt chunk. Only when
    /// no frame follows is the rest reported as cut off.
    fn scan(
        &mut self,
        path: &Path,
        src: &dyn Source,
        len: u64,
        segment: usize,
    ) -> Vec<ChunkLocation> {
        let mut out = Vec::new();
        let mut off = FILE_HEADER_LEN;
        let loc = |offset, compressed_len| ChunkLocation {
            segment,
            offset,
            compressed_len,
            expected: None,
        };
        while off < len {
            let walked = walk_frame(src, off);
            if let Ok(f) = &walked
                && (off + f.len == len || starts_frame(src, off + f.len))
            {
                if matches!(f.kind, FrameKind::Zstd { .. }) {
                    out.push(loc(off, f.len));
                }
                off += f.len;
                continue;
            }
            let next = next_frame_start(src, off + 1, len);
            match (&walked, next) {
                // The frame walks to an end where no frame starts. If no
                // magic lies inside it, keep it (its checksum and hash
                // decide) and call what follows it damaged.
                (Ok(f), next) if next.is_none_or(|n| n >= off + f.len) => {
                    if matches!(f.kind, FrameKind::Zstd { .. }) {
                        out.push(loc(off, f.len));
                    }
                    off += f.len;
                    // Without a next frame, the loop walks the tail itself:
                    // a frame cut short, or damage to the end.
                    if let Some(next) = next
                        && next > off
                    {
                        out.push(loc(off, next - off));
                        off = next;
                    }
                }
                (_, Some(next)) => {
                    out.push(loc(off, next - off));
                    off = next;
                }
                (Err(FrameError::Truncated), None) => {
                    self.notices.push(ReadError::Truncated {
                        path: path.to_path_buf(),
                        offset: off,
                        lost_bytes: len - off,
                    });
                    break;
                }
                (_, None) => {
                    out.push(loc(off, len - off));
                    break;
                }
            }
        }
        out
    }

    /// The files of the trace, in order.
    pub fn segments(&self) -> &[SegmentFile] {
        &self.segments
    }

    /// Every chunk found, in trace order.
    pub fn locations(&self) -> &[ChunkLocation] {
        &self.locations
    }

    /// Problems found while opening (truncation, missing index, manifest).
    pub fn notices(&self) -> &[ReadError] {
        &self.notices
    }

    pub fn manifest(&self) -> Option<&(PathBuf, Manifest)> {
        self.manifest.as_ref()
    }

    /// Reads, decompresses and verifies one chunk. Safe to call from many
    /// threads at once.
    pub fn read_chunk(&self, loc: &ChunkLocation) -> Result<Chunk, ReadError> {
        let seg = self
            .segments
            .get(loc.segment)
            .ok_or_else(|| ReadError::NotFound {
                path: PathBuf::new(),
                reason: format!("no segment {}", loc.segment),
            })?;
        let corrupt = |reason: String| ReadError::CorruptChunk {
            path: seg.path.clone(),
            seq: loc.expected.as_ref().map(|e| e.seq),
            offset: loc.offset,
            reason,
        };
        if loc.compressed_len > MAX_CHUNK_LEN
            || loc.offset.saturating_add(loc.compressed_len) > seg.len
        {
            return Err(corrupt(format!(
                "its extent ({} bytes at byte {}) is impossible for a chunk of this file",
                loc.compressed_len, loc.offset
            )));
        }
        let mut frame = vec![0u8; loc.compressed_len as usize];
        seg.source
            .read_exact_at(&mut frame, loc.offset)
            .map_err(io_err(&seg.path))?;
        let content = zstd::zstd_safe::get_frame_content_size(&frame)
            .map_err(|_| corrupt("not a zstd frame".into()))?
            .ok_or_else(|| corrupt("the frame does not state its size".into()))?;
        if content > MAX_CHUNK_LEN {
            return Err(corrupt(format!(
                "the frame claims {content} bytes, more than a chunk may hold"
            )));
        }
        let bytes = zstd::bulk::decompress(&frame, content as usize)
            .map_err(|e| corrupt(format!("decompression failed: {e}")))?;
        let chunk = Chunk::from_bytes(bytes).map_err(corrupt)?;
        if let Some(exp) = &loc.expected
            && (chunk.seq() != exp.seq || chunk.hash() != exp.hash)
        {
            return Err(ReadError::HashMismatch {
                path: seg.path.clone(),
                seq: exp.seq,
                offset: loc.offset,
            });
        }
        Ok(chunk)
    }

    /// Reads every chunk in order. Problems come as `Err` items in the
    /// order they are met (open notices first), and reading goes on: a
    /// chunk after a chain break or a gap is still yielded.
    pub fn chunks(&self) -> impl Iterator<Item = Result<Chunk, ReadError>> + '_ {
        let mut chain = ChainChecker::default();
        let notices = self.notices.iter().map(clone_notice).map(Err);
        let chunks = self.locations.iter().flat_map(move |loc| {
            let mut items: Vec<Result<Chunk, ReadError>> = Vec::new();
            match self.read_chunk(loc) {
                Ok(c) => {
                    items.extend(chain.check(&c).into_iter().map(Err));
                    items.push(Ok(c));
                }
                Err(e) => {
                    chain.skip(loc.expected.as_ref().map(|e| e.seq));
                    items.push(Err(e));
                }
            }
            items
        });
        notices.chain(chunks)
    }
}

/// Open notices are re-yielded by every `chunks()` call; `io::Error` is not
/// `Clone`, so I/O notices are re-made from their text.
fn clone_notice(e: &ReadError) -> ReadError {
    match e {
        ReadError::Truncated {
            path,
            offset,
            lost_bytes,
        } => ReadError::Truncated {
            path: path.clone(),
            offset: *offset,
            lost_bytes: *lost_bytes,
        },
        ReadError::NoIndex { path, reason } => ReadError::NoIndex {
            path: path.clone(),
            reason: reason.clone(),
        },
        ReadError::CorruptChunk {
            path,
            seq,
            offset,
            reason,
        } => ReadError::CorruptChunk {
            path: path.clone(),
            seq: *seq,
            offset: *offset,
            reason: reason.clone(),
        },
        ReadError::Manifest { path, reason } => ReadError::Manifest {
            path: path.clone(),
            reason: reason.clone(),
        },
        ReadError::Unfinished { path } => ReadError::Unfinished { path: path.clone() },
        other => ReadError::Manifest {
            path: PathBuf::new(),
            reason: other.to_string(),
        },
    }
}

/// Checks the links between consecutive chunks: sequence numbers, the hash
/// chain and the trace id. Feed it chunks in trace order.
#[derive(Default)]
pub struct ChainChecker {
    /// The last chunk seen: its seq and hash (`None` if it was unreadable).
    prev: Option<(u64, Option<[u8; 32]>)>,
    trace_id: Option<[u8; 16]>,
}

impl ChainChecker {
    /// The problems linking `c` to the chunks before it.
    pub fn check(&mut self, c: &Chunk) -> Vec<ReadError> {
        self.check_parts(&c.info(), c.hash())
    }

    /// [`check`](Self::check) from a chunk's header and hash, for callers
    /// that read chunks in parallel and link them afterwards in order.
    pub fn check_parts(&mut self, info: &crate::ChunkInfo, hash: [u8; 32]) -> Vec<ReadError> {
        let mut out = Vec::new();
        match self.trace_id {
            None => self.trace_id = Some(info.trace_id),
            Some(id) if id != info.trace_id => out.push(ReadError::ForeignChunk {
                seq: info.seq,
                found: uuid::Uuid::from_bytes(info.trace_id).to_string(),
                expected: uuid::Uuid::from_bytes(id).to_string(),
            }),
            Some(_) => {}
        }
        let expected_next = self.prev.map_or(0, |(s, _)| s + 1);
        if info.seq > expected_next {
            out.push(ReadError::MissingChunks {
                first: expected_next,
                last: info.seq - 1,
            });
        } else if info.seq < expected_next {
            out.push(ReadError::OutOfOrder {
                seq: info.seq,
                prev_seq: expected_next - 1,
            });
        } else if let Some((prev_seq, Some(prev_hash))) = self.prev
            && prev_hash != info.prev_hash
        {
            out.push(ReadError::ChainBreak {
                seq: info.seq,
                prev_seq,
            });
        } else if self.prev.is_none() && info.prev_hash != [0; 32] {
            out.push(ReadError::ChainBreak {
                seq: info.seq,
                prev_seq: 0,
            });
        }
        self.prev = Some((info.seq, Some(hash)));
        out
    }

    /// Records that the next chunk (of sequence `seq`, if known) could not
    /// be read, so the one after it is not blamed for the chain.
    pub fn skip(&mut self, seq: Option<u64>) {
        if let Some(seq) = seq {
            self.prev = Some((seq, None));
        }
    }
}

fn is_frame_magic(m: u32) -> bool {
    m == ZSTD_MAGIC || m & 0xFFFF_FFF0 == 0x184D_2A50
}

fn starts_frame(src: &dyn Source, off: u64) -> bool {
    let mut m = [0u8; 4];
    off + 4 <= src.len()
        && src.read_exact_at(&mut m, off).is_ok()
        && is_frame_magic(u32::from_le_bytes(m))
}

/// The offset of the next frame magic at or after `from`, read in blocks.
fn next_frame_start(src: &dyn Source, from: u64, len: u64) -> Option<u64> {
    const BLOCK: u64 = 1 << 16;
    let mut pos = from;
    while pos + 4 <= len {
        let n = BLOCK.min(len - pos);
        let mut buf = vec![0u8; n as usize];
        src.read_exact_at(&mut buf, pos).ok()?;
        if let Some(i) = buf
            .windows(4)
            .position(|w| is_frame_magic(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
        {
            return Some(pos + i as u64);
        }
        if n < 4 {
            break;
        }
        pos += n - 3;
    }
    None
}

/// Reads the index at the end of a file. `Err(None)`: there is none (a file
/// cut short); `Err(Some(reason))`: there is one but it is unusable.
fn read_index(src: &dyn Source, len: u64) -> Result<(Vec<ChunkLocation>, bool), Option<String>> {
    if len < FILE_HEADER_LEN + TRAILER_LEN {
        return Err(None);
    }
    let mut last = [0u8; TRAILER_LEN as usize];
    src.read_exact_at(&mut last, len - TRAILER_LEN)
        .map_err(|e| Some(e.to_string()))?;
    let Some(frame_len) = parse_trailer(&last) else {
        return Err(None);
    };
    if !(8 + TRAILER_LEN..=MAX_INDEX_LEN).contains(&frame_len) || frame_len > len - FILE_HEADER_LEN
    {
        return Err(Some(format!(
            "the trailer gives an impossible index length {frame_len}"
        )));
    }
    let start = len - frame_len;
    let mut frame = vec![0u8; frame_len as usize];
    src.read_exact_at(&mut frame, start)
        .map_err(|e| Some(e.to_string()))?;
    if frame[0..4] != INDEX_FRAME_MAGIC.to_le_bytes() {
        return Err(Some("the trailer does not point at an index frame".into()));
    }
    let body = &frame[8..frame.len() - TRAILER_LEN as usize];
    let index =
        fb::size_prefixed_root_as_index(body).map_err(|e| Some(format!("invalid index: {e}")))?;
    let mut out = Vec::new();
    let mut pos = FILE_HEADER_LEN;
    for e in index.chunks().into_iter().flatten() {
        let hash: Option<[u8; 32]> = e.hash().and_then(|h| h.bytes().try_into().ok());
        let Some(hash) = hash else {
            return Err(Some(format!(
                "index entry for chunk {} has no valid hash",
                e.seq()
            )));
        };
        let end = e.offset().saturating_add(u64::from(e.compressed_len()));
        if e.offset() < pos || end > start {
            return Err(Some(format!(
                "index entry for chunk {} points outside the chunk area",
                e.seq()
            )));
        }
        pos = end;
        out.push(ChunkLocation {
            segment: 0,
            offset: e.offset(),
            compressed_len: u64::from(e.compressed_len()),
            expected: Some(Expected {
                seq: e.seq(),
                hash,
                event_count: e.event_count(),
                first_wall_ns: e.first_wall_ns(),
                last_wall_ns: e.last_wall_ns(),
            }),
        });
    }
    Ok((out, index.last_segment()))
}
