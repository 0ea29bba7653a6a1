//! A segment's index: read, then checked against the frames it describes.
//!
//! The index is an accelerator, not the evidence. It is used to locate
//! chunks only when it agrees with the file: its frame header and trailer
//! agree on its length, its entries tile the chunk area exactly (from the
//! file header to the index, no gap, no overlap), and each entry's offset
//! holds a zstd frame header stating the entry's decompressed length. Bytes
//! inserted, removed, a chunk duplicated or chunks of different sizes
//! swapped all break this, and the reader then scans the frames instead.
//! Damage that keeps every length (a flipped byte, chunks of equal size
//! swapped) is caught when the chunk is read: its hash, and its seq, are
//! checked against the index.

use std::collections::HashMap;

use crate::container::{
    FILE_HEADER_LEN, INDEX_FRAME_MAGIC, MAX_INDEX_LEN, Source, TRAILER_LEN, ZSTD_MAGIC,
    parse_trailer,
};
use crate::fb;

use super::{ChunkLocation, Expected};

/// What a segment's index says.
pub(crate) struct IndexInfo {
    /// The chunks, in index order (segment 0; the caller sets it).
    pub locations: Vec<ChunkLocation>,
    pub last_segment: bool,
    pub format_version: u32,
    pub trace_id: Option<[u8; 16]>,
    /// Chunks and events the writer lost before closing this segment.
    pub lost_chunks: u64,
    pub lost_events: u64,
    /// Where the index frame starts: the end of the chunk area.
    pub start: u64,
}

impl IndexInfo {
    /// The hash the index records for each seq.
    pub fn hashes(&self) -> HashMap<u64, [u8; 32]> {
        self.locations
            .iter()
            .filter_map(|l| l.expected.as_ref().map(|e| (e.seq, e.hash)))
            .collect()
    }
}

/// Reads the index at the end of a file. `Err(None)`: there is none (a file
/// cut short); `Err(Some(reason))`: there is one but it is unusable.
pub(crate) fn read_index(src: &dyn Source, len: u64) -> Result<IndexInfo, Option<String>> {
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
    let payload = u64::from(u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]));
    if payload + 8 != frame_len {
        return Err(Some(format!(
            "the index frame header says {payload} bytes, its trailer {}: one of them was altered",
            frame_len - 8
        )));
    }
    let body = &frame[8..frame.len() - TRAILER_LEN as usize];
    let index =
        fb::size_prefixed_root_as_index(body).map_err(|e| Some(format!("invalid index: {e}")))?;
    let mut locations = Vec::new();
    for e in index.chunks().into_iter().flatten() {
        let hash: Option<[u8; 32]> = e.hash().and_then(|h| h.bytes().try_into().ok());
        let Some(hash) = hash else {
            return Err(Some(format!(
                "index entry for chunk {} has no valid hash",
                e.seq()
            )));
        };
        locations.push(ChunkLocation {
            segment: 0,
            offset: e.offset(),
            compressed_len: u64::from(e.compressed_len()),
            expected: Some(Expected {
                seq: e.seq(),
                hash,
                len: e.len(),
                event_count: e.event_count(),
                first_wall_ns: e.first_wall_ns(),
                last_wall_ns: e.last_wall_ns(),
            }),
        });
    }
    Ok(IndexInfo {
        locations,
        last_segment: index.last_segment(),
        format_version: index.format_version(),
        trace_id: index.trace_id().and_then(|t| t.bytes().try_into().ok()),
        lost_chunks: index.lost_chunks(),
        lost_events: index.lost_events(),
        start,
    })
}

/// Whether the index's entries describe the frames in the file; the
/// reason when they do not.
pub(crate) fn check_against_frames(src: &dyn Source, info: &IndexInfo) -> Result<(), String> {
    let mut pos = FILE_HEADER_LEN;
    for loc in &info.locations {
        let seq = loc.expected.as_ref().map_or(0, |e| e.seq);
        if loc.offset != pos {
            return Err(format!(
                "its entry for chunk {seq} says byte {}, the previous chunk ends at byte {pos}",
                loc.offset
            ));
        }
        let end = loc.offset.saturating_add(loc.compressed_len);
        if end > info.start {
            return Err(format!(
                "its entry for chunk {seq} reaches past the start of the index"
            ));
        }
        let claimed = frame_header_content_size(src, loc.offset, loc.compressed_len)?;
        let want = loc.expected.as_ref().map(|e| u64::from(e.len));
        if claimed != want {
            return Err(format!(
                "no zstd frame of chunk {seq}'s length at byte {}",
                loc.offset
            ));
        }
        pos = end;
    }
    if pos != info.start {
        return Err(format!(
            "its chunks end at byte {pos}, the index starts at byte {}: {} bytes are not accounted for",
            info.start,
            info.start.abs_diff(pos)
        ));
    }
    Ok(())
}

/// The decompressed size the zstd frame header at `offset` states, reading
/// only the header (at most 18 bytes).
fn frame_header_content_size(
    src: &dyn Source,
    offset: u64,
    max: u64,
) -> Result<Option<u64>, String> {
    let n = max.min(18) as usize;
    let mut head = vec![0u8; n];
    src.read_exact_at(&mut head, offset)
        .map_err(|e| format!("cannot read byte {offset}: {e}"))?;
    if n < 4 || head[0..4] != ZSTD_MAGIC.to_le_bytes() {
        return Err(format!("no zstd frame at byte {offset}"));
    }
    zstd::zstd_safe::get_frame_content_size(&head)
        .map_err(|_| format!("no valid zstd frame header at byte {offset}"))
}
