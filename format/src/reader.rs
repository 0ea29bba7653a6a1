//! Reading traces: a file, a directory of segments, or a manifest.
//!
//! Opening a trace finds every chunk without decompressing any: through each
//! file's index when it agrees with the frames it describes
//! (`reader/index.rs`), else by walking zstd frame headers
//! (`reader/scan.rs`; a file cut short while recording has no index).
//! Chunks are then read one by one ([`TraceReader::chunks`]) or by location
//! from any thread ([`TraceReader::read_chunk`]), each decompressed,
//! FlatBuffers-verified, hashed and checked against the index.
//!
//! **Invariant: damage is local.** A corrupt or altered chunk is reported as
//! an error item and reading goes on with the next chunk; a cut file yields
//! every complete chunk before the cut; an index that disagrees with the
//! file is reported and the file scanned; a damaged file header, an
//! unreadable or foreign segment, a stray file named like a segment or a
//! damaged manifest costs only itself (reported as a notice). Nothing here
//! panics on hostile bytes: every length read from a file is bounds-checked
//! before use.
//!
//! **Invariant: only regular files, opened as needed** (`reader/file.rs`):
//! a FIFO or device named like a segment is reported, never opened for
//! reading; a segment holds a file descriptor only while it is opened and
//! while one of its chunks is read.
//!
//! **Invariant: bounded memory.** A chunk is at most [`MAX_CHUNK_LEN`]
//! decompressed; a frame claiming more than [`MAX_RATIO`] times its
//! compressed size is refused unread; memory is committed as a frame really
//! decodes (a claim beyond [`LARGE_CHUNK_LEN`] is streamed, never
//! allocated), and chunks claiming more than [`LARGE_CHUNK_LEN`] are
//! decompressed one at a time. So N threads decompressing hold at most
//! N x `LARGE_CHUNK_LEN` + `MAX_CHUNK_LEN` (+ the compressed frames).

mod file;
mod index;
mod scan;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use file::{FileSource, OpenError, open_regular};

use crate::FORMAT_VERSION;
use crate::chunk::Chunk;
use crate::container::{
    FILE_HEADER_LEN, HeaderCheck, MAX_CHUNK_LEN, Source, check_file_header, file_header,
    parse_trailer,
};
use crate::error::ReadError;
use crate::manifest::Manifest;

/// Chunks claiming more than this (decompressed) are decompressed one at a
/// time per reader.
pub const LARGE_CHUNK_LEN: u64 = 32 << 20;

/// The most a frame may claim to expand to, per compressed byte. Chunks of
/// real traces compress a few times to a few dozen times; zstd itself allows
/// about 32,000 (run-length blocks), which is how a few kilobytes of hostile
/// frames would claim gigabytes.
pub const MAX_RATIO: u64 = 1024;

/// Header versions from here on are damage, not a newer format.
const PLAUSIBLE_VERSIONS: u32 = 1 << 16;

/// The largest manifest read.
pub const MAX_MANIFEST_LEN: u64 = 64 << 20;

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
    /// Decompressed length.
    pub len: u32,
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
    /// Chunks and events the writer lost before closing this segment, as
    /// its index records (0 without an index).
    pub lost_chunks: u64,
    pub lost_events: u64,
}

/// An opened trace; see the module documentation.
pub struct TraceReader {
    segments: Vec<SegmentFile>,
    locations: Vec<ChunkLocation>,
    notices: Vec<ReadError>,
    manifest: Option<(PathBuf, Manifest)>,
    /// The hash every readable index records for each (trace id, seq);
    /// `None` where indexes disagree (then none is believed).
    known_hashes: HashMap<([u8; 16], u64), Option<[u8; 32]>>,
    /// Held while a chunk claiming over [`LARGE_CHUNK_LEN`] decompresses.
    large: Mutex<()>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn open_error(path: &Path, e: OpenError) -> ReadError {
    match e {
        OpenError::NotRegular(what) => ReadError::NotRegularFile {
            path: path.to_path_buf(),
            what,
        },
        OpenError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => ReadError::NotFound {
            path: path.to_path_buf(),
            reason: "no such file or directory".into(),
        },
        OpenError::Io(e) => io_err(path)(e),
    }
}

/// The directory a path's file is in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A segment file name a manifest may name: a plain name in its directory.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && !name.contains('\0') && !name.starts_with('.')
}

impl TraceReader {
    /// Opens a trace file (`.zst`, or a `.partial` left by a crash), a
    /// directory holding one trace's segments, or a `*.manifest.json`.
    pub fn open(path: &Path) -> Result<TraceReader, ReadError> {
        let meta = std::fs::metadata(path).map_err(|e| open_error(path, OpenError::Io(e)))?;
        if meta.is_dir() {
            return Self::open_dir(path);
        }
        if path.to_string_lossy().ends_with(".manifest.json") {
            return Self::open_manifest(path);
        }
        Self::from_paths(vec![path.to_path_buf()], None, Vec::new())
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
        Self::from_paths(files, None, Vec::new())
    }

    fn read_manifest(path: &Path) -> Result<Manifest, String> {
        use std::io::Read;
        let file = open_regular(path).map_err(|e| match e {
            OpenError::NotRegular(what) => format!("it is {what}, not a regular file"),
            OpenError::Io(e) => e.to_string(),
        })?;
        let mut text = String::new();
        file.take(MAX_MANIFEST_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        if text.len() as u64 > MAX_MANIFEST_LEN {
            return Err(format!("longer than {MAX_MANIFEST_LEN} bytes"));
        }
        Manifest::from_json(&text)
    }

    fn open_manifest(path: &Path) -> Result<TraceReader, ReadError> {
        let dir = parent_dir(path);
        let mut notices = Vec::new();
        let manifest = match Self::read_manifest(path) {
            Ok(m) => Some(m),
            Err(reason) => {
                notices.push(ReadError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!(
                        "not a valid manifest ({reason}); the segments named like it are read without it"
                    ),
                });
                None
            }
        };
        let mut paths = Vec::new();
        let mut listed = HashSet::new();
        for seg in manifest.iter().flat_map(|m| &m.segments) {
            // Names come from a file that may be hostile: no paths.
            if !plain_name(&seg.file) {
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
            if !listed.insert(p.clone()) {
                notices.push(ReadError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!("segment `{}` is listed more than once; read once", seg.file),
                });
                continue;
            }
            paths.push(p);
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
        let prefix = format!("{stem}.");
        let mut extra: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                n.starts_with(&prefix)
                    && (n.ends_with(".zst") || n.ends_with(".zst.partial"))
                    && !listed.contains(p)
            })
            .collect();
        extra.sort();
        paths.extend(extra);
        Self::from_paths(paths, manifest.map(|m| (path.to_path_buf(), m)), notices)
    }

    /// Opens local segment files in order, each one only while it is
    /// located (see `reader/file.rs`). One that cannot be opened is a
    /// notice; none at all is an error.
    fn from_paths(
        paths: Vec<PathBuf>,
        manifest: Option<(PathBuf, Manifest)>,
        notices: Vec<ReadError>,
    ) -> Result<TraceReader, ReadError> {
        let mut r = Self::empty(manifest, notices);
        let mut first_error = None;
        let tried = paths.len();
        for path in paths {
            let result = FileSource::open(&path)
                .map_err(|e| open_error(&path, e))
                .and_then(|src| {
                    let src = Arc::new(src);
                    let added = r.add_segment(path.clone(), src.clone());
                    src.release();
                    added
                });
            let result = match (result, &r.manifest) {
                (Err(ReadError::NotFound { .. }), Some((manifest, _))) => {
                    Err(ReadError::Manifest {
                        path: manifest.clone(),
                        reason: format!(
                            "segment `{}` is listed but cannot be read: no such file",
                            path.file_name().unwrap_or_default().to_string_lossy()
                        ),
                    })
                }
                (result, _) => result,
            };
            if let Err(e) = result {
                first_error.get_or_insert_with(|| e.duplicate());
                r.notices.push(e);
            }
        }
        r.finish_open(tried, first_error)
    }

    /// Opens a trace from sources already at hand (files, objects in a
    /// store), in segment order. A source that is not a readable trace
    /// segment is a notice, unless none is.
    pub fn from_sources(
        sources: Vec<(PathBuf, Arc<dyn Source>)>,
        manifest: Option<(PathBuf, Manifest)>,
    ) -> Result<TraceReader, ReadError> {
        let mut r = Self::empty(manifest, Vec::new());
        let mut first_error = None;
        let tried = sources.len();
        for (path, source) in sources {
            if let Err(e) = r.add_segment(path, source) {
                first_error.get_or_insert_with(|| e.duplicate());
                r.notices.push(e);
            }
        }
        r.finish_open(tried, first_error)
    }

    fn empty(manifest: Option<(PathBuf, Manifest)>, notices: Vec<ReadError>) -> TraceReader {
        TraceReader {
            segments: Vec::new(),
            locations: Vec::new(),
            notices,
            manifest,
            known_hashes: HashMap::new(),
            large: Mutex::new(()),
        }
    }

    fn finish_open(
        mut self,
        tried: usize,
        first_error: Option<ReadError>,
    ) -> Result<TraceReader, ReadError> {
        if self.segments.is_empty()
            && tried > 0
            && let Some(e) = first_error
        {
            return Err(e);
        }
        if let Some(last) = self.segments.last()
            && !self.segments.iter().any(|s| s.last_segment)
        {
            self.notices.push(ReadError::Unfinished {
                path: last.path.clone(),
            });
        }
        Ok(self)
    }

    /// Adds problems found by whoever gathered the sources (a segment that
    /// the manifest lists but the store does not hold); they are reported
    /// before those found while opening.
    pub fn with_notices(mut self, mut notices: Vec<ReadError>) -> TraceReader {
        notices.append(&mut self.notices);
        self.notices = notices;
        self
    }

    /// Checks a segment's file header: `Ok(None)` when intact, `Ok(Some)`
    /// with what is wrong when damaged but the file is still a trace.
    fn check_header(
        path: &Path,
        src: &dyn Source,
        len: u64,
        index: &Result<index::IndexInfo, Option<String>>,
    ) -> Result<Option<String>, ReadError> {
        if len == 0 {
            return Err(ReadError::NotATrace {
                path: path.to_path_buf(),
                reason: "the file is empty, too short to hold a trace header".into(),
            });
        }
        let mut head = vec![0u8; FILE_HEADER_LEN.min(len) as usize];
        src.read_exact_at(&mut head, 0).map_err(io_err(path))?;
        let good = file_header(FORMAT_VERSION);
        let index_version = index.as_ref().ok().map(|i| i.format_version);
        match check_file_header(&head) {
            HeaderCheck::Trace(v) if (1..=FORMAT_VERSION).contains(&v) => {
                if head[20..24] != good[20..24] {
                    return Ok(Some("reserved bytes are not zero".into()));
                }
                Ok(None)
            }
            // A newer version is believed (a reader cannot tell it from a
            // flipped low version byte); an absurd one is damage.
            HeaderCheck::Trace(v)
                if v > FORMAT_VERSION && v < PLAUSIBLE_VERSIONS && head[20..24] == good[20..24] =>
            {
                Err(ReadError::UnsupportedVersion {
                    path: path.to_path_buf(),
                    found: v,
                    supported: FORMAT_VERSION,
                })
            }
            HeaderCheck::Trace(v) => Ok(Some(format!(
                "it says format version {v}{}",
                index_version
                    .map(|iv| format!(", the index {iv}"))
                    .unwrap_or_default()
            ))),
            HeaderCheck::Foreign(what) => {
                // A few bytes off, or a file closed by a sysrec index: a
                // trace whose header was damaged, not some other file.
                let off = head.len() >= 16
                    && head[..16]
                        .iter()
                        .zip(&good[..16])
                        .filter(|(a, b)| a != b)
                        .count()
                        <= 4;
                let mut last = [0u8; 8];
                let trailer = len >= FILE_HEADER_LEN + 8
                    && src.read_exact_at(&mut last, len - 8).is_ok()
                    && parse_trailer(&last).is_some();
                if head.len() == FILE_HEADER_LEN as usize && (off || trailer) {
                    Ok(Some("no valid sysrec header at the start".into()))
                } else {
                    Err(ReadError::NotATrace {
                        path: path.to_path_buf(),
                        reason: what.to_string(),
                    })
                }
            }
        }
    }

    fn add_segment(&mut self, path: PathBuf, source: Arc<dyn Source>) -> Result<(), ReadError> {
        let len = source.len();
        let index = index::read_index(&*source, len);
        if let Some(reason) = Self::check_header(&path, &*source, len, &index)? {
            self.notices.push(ReadError::DamagedHeader {
                path: path.clone(),
                reason,
            });
        }
        let segment = self.segments.len();
        let mut file = SegmentFile {
            path,
            source,
            len,
            last_segment: false,
            indexed: false,
            lost_chunks: 0,
            lost_events: 0,
        };
        let mut locations = None;
        match index {
            Ok(info) => {
                file.last_segment = info.last_segment;
                file.lost_chunks = info.lost_chunks;
                file.lost_events = info.lost_events;
                if let Some(id) = info.trace_id {
                    for (seq, hash) in info.hashes() {
                        let known = self.known_hashes.entry((id, seq)).or_insert(Some(hash));
                        if *known != Some(hash) {
                            *known = None;
                        }
                    }
                }
                match index::check_against_frames(&*file.source, &info) {
                    Ok(()) => {
                        file.indexed = true;
                        locations = Some(info.locations);
                    }
                    Err(reason) => self.notices.push(ReadError::NoIndex {
                        path: file.path.clone(),
                        reason: format!("the index does not match the file: {reason}"),
                    }),
                }
            }
            Err(Some(reason)) => self.notices.push(ReadError::NoIndex {
                path: file.path.clone(),
                reason,
            }),
            Err(None) => {}
        }
        let locations = match locations {
            Some(l) => l,
            None => {
                let found = scan::scan(&*file.source, len);
                if let Some(offset) = found.truncated_at {
                    self.notices.push(ReadError::Truncated {
                        path: file.path.clone(),
                        offset,
                        lost_bytes: len - offset,
                    });
                }
                found
                    .extents
                    .into_iter()
                    .map(|(offset, compressed_len)| ChunkLocation {
                        segment,
                        offset,
                        compressed_len,
                        expected: None,
                    })
                    .collect()
            }
        };
        self.locations.extend(locations.into_iter().map(|mut l| {
            l.segment = segment;
            l
        }));
        self.segments.push(file);
        Ok(())
    }

    /// The files of the trace, in order.
    pub fn segments(&self) -> &[SegmentFile] {
        &self.segments
    }

    /// Every chunk found, in trace order.
    pub fn locations(&self) -> &[ChunkLocation] {
        &self.locations
    }

    /// Problems found while opening (truncation, missing index, manifest,
    /// segments that could not be read).
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
                "the frame claims {content} bytes, more than a chunk may hold ({MAX_CHUNK_LEN})"
            )));
        }
        if content > loc.compressed_len.saturating_mul(MAX_RATIO) {
            return Err(corrupt(format!(
                "the frame claims {content} bytes from {} compressed bytes, more than {MAX_RATIO} times its size",
                loc.compressed_len
            )));
        }
        let bytes = {
            let _one_at_a_time = (content > LARGE_CHUNK_LEN).then(|| self.large.lock());
            decompress_bounded(&frame, content).map_err(corrupt)?
        };
        drop(frame);
        let chunk = Chunk::from_bytes(bytes).map_err(corrupt)?;
        let known = self
            .known_hashes
            .get(&(chunk.info().trace_id, chunk.seq()))
            .copied()
            .flatten();
        match &loc.expected {
            // Exactly what the index recorded (even if the index's seq for
            // it is damaged: the hash covers the chunk's own seq).
            Some(exp) if chunk.hash() == exp.hash => {}
            // Chunks moved within the file (equal lengths swapped): intact
            // if the index knows them as they are; the chain reports the
            // order.
            Some(exp) if chunk.seq() != exp.seq && known == Some(chunk.hash()) => {}
            Some(exp) => {
                return Err(ReadError::HashMismatch {
                    path: seg.path.clone(),
                    seq: exp.seq,
                    offset: loc.offset,
                });
            }
            None if known.is_some_and(|h| h != chunk.hash()) => {
                return Err(ReadError::HashMismatch {
                    path: seg.path.clone(),
                    seq: chunk.seq(),
                    offset: loc.offset,
                });
            }
            None => {}
        }
        Ok(chunk)
    }

    /// Reads every chunk in order. Problems come as `Err` items in the
    /// order they are met (open notices first), and reading goes on: a
    /// chunk after a chain break or a gap is still yielded.
    pub fn chunks(&self) -> impl Iterator<Item = Result<Chunk, ReadError>> + '_ {
        let mut chain = ChainChecker::default();
        let notices = self.notices.iter().map(ReadError::duplicate).map(Err);
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

/// Decompresses one frame that claims `claimed` bytes, which must come to
/// exactly the claim. Up to [`LARGE_CHUNK_LEN`], in one call into a buffer
/// of the claimed size (memory is committed only as output is written);
/// beyond, streamed: output grows as the frame really decodes, so a
/// damaged frame costs what it yields before failing, not its claim.
fn decompress_bounded(frame: &[u8], claimed: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    if claimed <= LARGE_CHUNK_LEN {
        return zstd::bulk::decompress(frame, claimed as usize)
            .map_err(|e| format!("decompression failed: {e}"))
            .and_then(|out| match out.len() as u64 == claimed {
                true => Ok(out),
                false => Err(format!(
                    "the frame decompresses to {} bytes, its header claims {claimed}",
                    out.len()
                )),
            });
    }
    let fail = |e: std::io::Error| format!("decompression failed: {e}");
    let mut d = zstd::stream::read::Decoder::with_buffer(frame)
        .map_err(fail)?
        .single_frame();
    // Windows up to the largest chunk (a single-segment frame's window is
    // its content size).
    d.window_log_max(28).map_err(fail)?;
    let mut out = Vec::with_capacity(claimed.min(LARGE_CHUNK_LEN) as usize);
    d.take(claimed + 1).read_to_end(&mut out).map_err(fail)?;
    if out.len() as u64 != claimed {
        return Err(format!(
            "the frame decompresses to {} bytes, its header claims {claimed}",
            out.len()
        ));
    }
    Ok(out)
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
            // A chunk from earlier (moved or repeated): the chain goes on
            // from the latest chunk, so the one after is not blamed.
            out.push(ReadError::OutOfOrder {
                seq: info.seq,
                prev_seq: expected_next - 1,
            });
            return out;
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
        if let Some(seq) = seq
            && self.prev.is_none_or(|(p, _)| seq > p)
        {
            self.prev = Some((seq, None));
        }
    }
}
