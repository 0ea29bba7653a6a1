//! Finding chunks without an index: walking frame headers from the file
//! header on.
//!
//! A frame whose walk fails, or does not end where another frame starts,
//! is damaged: the walk resynchronises at the next frame magic, and the
//! damaged stretch becomes a location that reads as a corrupt chunk (a
//! problem, reported). A skippable frame inside the chunk area is not
//! something a writer makes (only the file header and the index, at the
//! ends, are skippable frames), so it is reported the same way, and its
//! claimed length is not trusted to skip over frames that follow it.
//! Only when no frame follows is the rest reported as cut off.

use crate::container::{
    FILE_HEADER_LEN, FrameError, FrameKind, INDEX_FRAME_MAGIC, Source, ZSTD_MAGIC, walk_frame,
};

/// What a scan found.
pub(crate) struct Scan {
    /// `(offset, length)` of each zstd frame or damaged stretch, in order.
    pub extents: Vec<(u64, u64)>,
    /// The file ends inside a frame: where, if so.
    pub truncated_at: Option<u64>,
}

pub(crate) fn scan(src: &dyn Source, len: u64) -> Scan {
    let mut extents = Vec::new();
    let mut off = FILE_HEADER_LEN;
    let mut truncated_at = None;
    while off < len {
        let walked = walk_frame(src, off);
        if let Ok(f) = &walked {
            match f.kind {
                // The index, ending the file, unless frames were moved into
                // it: then it is damage, up to the first of them.
                FrameKind::Skippable { magic }
                    if magic == INDEX_FRAME_MAGIC && off + f.len == len =>
                {
                    match next_frame_start(src, off + 8, len) {
                        Some(next) => {
                            extents.push((off, next - off));
                            off = next;
                            continue;
                        }
                        None => break,
                    }
                }
                FrameKind::Skippable { .. } => {
                    // Damage: up to the next frame magic inside or after it.
                    let end = next_frame_start(src, off + 8, len)
                        .map_or(off + f.len, |n| n.min(off + f.len));
                    extents.push((off, end - off));
                    off = end;
                    continue;
                }
                FrameKind::Zstd { .. } if off + f.len == len || starts_frame(src, off + f.len) => {
                    extents.push((off, f.len));
                    nested_frames(src, off, off + f.len, &mut extents);
                    off += f.len;
                    continue;
                }
                FrameKind::Zstd { .. } => {}
            }
        }
        let next = next_frame_start(src, off + 1, len);
        match (&walked, next) {
            // The frame walks to an end where no frame starts. If no magic
            // lies inside it, keep it (its checksum and hash decide) and
            // call what follows it damaged.
            (Ok(f), next) if next.is_none_or(|n| n >= off + f.len) => {
                extents.push((off, f.len));
                off += f.len;
                // Without a next frame, the loop walks the tail itself: a
                // frame cut short, or damage to the end.
                if let Some(next) = next
                    && next > off
                {
                    extents.push((off, next - off));
                    off = next;
                }
            }
            (_, Some(next)) => {
                extents.push((off, next - off));
                off = next;
            }
            (Err(FrameError::Truncated), None) => {
                truncated_at = Some(off);
                break;
            }
            (_, None) => {
                extents.push((off, len - off));
                break;
            }
        }
    }
    Scan {
        extents,
        truncated_at,
    }
}

/// Whole zstd frames lying inside the frame `[start, end)`, added after it.
///
/// A frame can walk cleanly over bytes that were replaced with another
/// chunk's whole frame (a small chunk is one zstd block, whose content the
/// walk skips by its length): that chunk is intact and must still be read.
/// The outer frame stays a location too (its checksum and hash decide
/// whether it is itself intact). Only a candidate that walks to an end
/// inside the outer frame is added, so a magic number that compressed data
/// happens to contain is read as nothing more than a damaged location at
/// worst, and only when the index is missing (the scan is the fallback).
fn nested_frames(src: &dyn Source, start: u64, end: u64, extents: &mut Vec<(u64, u64)>) {
    let mut from = start + 1;
    while let Some(p) = next_frame_start(src, from, end) {
        match walk_frame(src, p) {
            Ok(f) if matches!(f.kind, FrameKind::Zstd { .. }) && p + f.len <= end => {
                extents.push((p, f.len));
                from = p + f.len;
            }
            _ => from = p + 1,
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
