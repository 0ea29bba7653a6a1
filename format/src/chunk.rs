//! A decompressed, verified chunk and its zero-copy views.

use flatbuffers::{ForwardsUOffset, Vector, VerifierOptions};
use sha2::{Digest, Sha256};

use crate::columns::{self, Cursor};
use crate::fb;
use crate::model::{Event, Snapshot, TraceMeta};
use crate::{FORMAT_VERSION, decode};

/// A chunk whose bytes passed the FlatBuffers verifier and the header checks
/// below. **Invariant:** a `Chunk` value only exists for verified bytes, so
/// its accessors read without re-verifying.
pub struct Chunk {
    bytes: Vec<u8>,
    hash: [u8; 32],
}

/// Header values of a chunk, copied out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    pub format_version: u32,
    pub trace_id: [u8; 16],
    pub seq: u64,
    pub first_event: u64,
    pub event_count: u32,
    pub first_ts: u64,
    pub last_ts: u64,
    pub wall_anchor_ns: u64,
    pub mono_anchor_ns: u64,
    pub prev_hash: [u8; 32],
}

impl ChunkInfo {
    /// Wall-clock ns of a monotonic timestamp of this chunk.
    pub fn wall_ns(&self, ts: u64) -> u64 {
        wall_ns(self.wall_anchor_ns, self.mono_anchor_ns, ts)
    }
}

pub(crate) fn wall_ns(wall_anchor: u64, mono_anchor: u64, ts: u64) -> u64 {
    let w = i128::from(wall_anchor) + i128::from(ts) - i128::from(mono_anchor);
    w.clamp(0, i128::from(u64::MAX)) as u64
}

/// A chunk turned into owned model values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkModel {
    pub info: ChunkInfo,
    pub meta: TraceMeta,
    pub snapshot: Snapshot,
    pub events: Vec<Event>,
}

impl Chunk {
    /// Verifies decompressed chunk bytes (a size-prefixed FlatBuffer).
    /// The error says what is wrong, for a `CorruptChunk` report.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Chunk, String> {
        if bytes.len() < 8 {
            return Err(format!("{} bytes is too short for a chunk", bytes.len()));
        }
        let prefix = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if prefix + 4 != bytes.len() {
            return Err(format!(
                "size prefix says {prefix} bytes but the frame holds {}",
                bytes.len() - 4
            ));
        }
        if !fb::chunk_size_prefixed_buffer_has_identifier(&bytes) {
            return Err("not a chunk (wrong FlatBuffers identifier)".into());
        }
        let opts = VerifierOptions {
            // A table takes at least 4 bytes, so this bound never rejects a
            // valid chunk while still bounding the verifier's work.
            max_tables: bytes.len() / 4 + 16,
            max_apparent_size: bytes.len().saturating_mul(4).max(1 << 20),
            ..VerifierOptions::default()
        };
        let root = fb::size_prefixed_root_as_chunk_with_opts(&opts, &bytes)
            .map_err(|e| format!("invalid FlatBuffer: {e}"))?;
        let h = root.header();
        if h.format_version() == 0 || h.format_version() > FORMAT_VERSION {
            return Err(format!(
                "chunk says format version {}, this build reads up to {FORMAT_VERSION}",
                h.format_version()
            ));
        }
        if h.trace_id().map(|t| t.len()) != Some(16) {
            return Err("trace id is not 16 bytes".into());
        }
        if h.prev_hash().map(|t| t.len()) != Some(32) {
            return Err("previous-chunk hash is not 32 bytes".into());
        }
        if h.format_version() == 1 && h.event_count() as usize != root.events().len() {
            return Err(format!(
                "header counts {} events, chunk holds {}",
                h.event_count(),
                root.events().len()
            ));
        }
        columns::check(root, h.format_version(), h.event_count())?;
        let hash = Sha256::digest(&bytes).into();
        Ok(Chunk { bytes, hash })
    }

    /// The chunk's root table.
    pub fn root(&self) -> fb::Chunk<'_> {
        // SAFETY: `from_bytes` ran the verifier over exactly these bytes and
        // they are never mutated afterwards.
        unsafe { fb::size_prefixed_root_as_chunk_unchecked(&self.bytes) }
    }

    /// SHA-256 of the decompressed bytes (what the next chunk's `prev_hash`
    /// and the index record).
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Length of the decompressed bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the chunk holds no events.
    pub fn is_empty(&self) -> bool {
        self.event_count() == 0
    }

    /// Number of events (the header's count, which the reader checked
    /// against the body).
    pub fn event_count(&self) -> usize {
        self.root().header().event_count() as usize
    }

    pub fn info(&self) -> ChunkInfo {
        let h = self.root().header();
        let mut trace_id = [0u8; 16];
        let mut prev_hash = [0u8; 32];
        // Lengths checked in from_bytes.
        if let Some(t) = h.trace_id() {
            trace_id.copy_from_slice(t.bytes());
        }
        if let Some(p) = h.prev_hash() {
            prev_hash.copy_from_slice(p.bytes());
        }
        ChunkInfo {
            format_version: h.format_version(),
            trace_id,
            seq: h.seq(),
            first_event: h.first_event(),
            event_count: h.event_count(),
            first_ts: h.first_ts(),
            last_ts: h.last_ts(),
            wall_anchor_ns: h.wall_anchor_ns(),
            mono_anchor_ns: h.mono_anchor_ns(),
            prev_hash,
        }
    }

    pub fn seq(&self) -> u64 {
        self.root().header().seq()
    }

    /// A cursor over the events, decoding each into one reused
    /// [`Event`] (the fast way to walk a chunk; replay's).
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::new(self.root())
    }

    /// The events as owned values (events of kinds this version does not
    /// know are left out).
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        let mut cur = self.cursor();
        std::iter::from_fn(move || {
            loop {
                match cur.next_event()? {
                    Some(e) => return Some(e.clone()),
                    None => continue,
                }
            }
        })
    }

    /// Version 1's event rows (empty in version 2, whose events are in
    /// columns: read events with [`Chunk::cursor`] or [`Chunk::events`]).
    pub fn rows(&self) -> Vector<'_, ForwardsUOffset<fb::Event<'_>>> {
        self.root().events()
    }

    pub fn meta(&self) -> TraceMeta {
        decode::meta(self.root().meta())
    }

    pub fn snapshot(&self) -> Snapshot {
        decode::snapshot(self.root().snapshot())
    }

    /// The whole chunk as owned values (events of unknown kinds skipped).
    pub fn to_model(&self) -> ChunkModel {
        ChunkModel {
            info: self.info(),
            meta: self.meta(),
            snapshot: self.snapshot(),
            events: self.events().collect(),
        }
    }
}
