//! The container layer: how chunks sit in a file as zstd frames.
//!
//! ```text
//! [skippable frame 0x184D2A50: "SYSREC\0\0" | version u32 | 0u32]   file header, 24 bytes
//! [zstd frame: size-prefixed FlatBuffer Chunk]                       chunk 0
//! [zstd frame: ...]                                                  chunk 1 ...
//! [skippable frame 0x184D2A5E: size-prefixed FlatBuffer Index | frame_len u32 | "SRIX"]
//! ```
//!
//! Frames are walked by their headers alone (RFC 8878 block headers), so a
//! reader can find chunk boundaries without decompressing, and a frame cut
//! short is recognised as such.

use std::io;

/// Magic of an ordinary zstd frame.
pub const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// Skippable-frame magic of the file header.
pub const HEADER_FRAME_MAGIC: u32 = 0x184D_2A50;
/// Skippable-frame magic of the index.
pub const INDEX_FRAME_MAGIC: u32 = 0x184D_2A5E;
/// The file magic inside the header frame.
pub const FILE_MAGIC: &[u8; 8] = b"SYSREC\0\0";
/// Magic closing the index frame.
pub const TRAILER_MAGIC: &[u8; 4] = b"SRIX";
/// Length of the file header frame.
pub const FILE_HEADER_LEN: u64 = 24;
/// Length of the trailer at the end of the index frame.
pub const TRAILER_LEN: u64 = 8;
/// The largest decompressed chunk a reader accepts. Writers close chunks
/// long before this; a frame claiming more is corrupt or hostile.
pub const MAX_CHUNK_LEN: u64 = 256 << 20;
/// The largest index frame a reader accepts.
pub const MAX_INDEX_LEN: u64 = 64 << 20;

/// Random access to the bytes of one trace file.
pub trait Source: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Fills `buf` from `offset`; an error if fewer bytes are there.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Source for std::fs::File {
    fn len(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .filter(|e| *e <= self.as_slice().len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(&self[start..end]);
        Ok(())
    }
}

/// The file header frame for `version`.
pub fn file_header(version: u32) -> [u8; FILE_HEADER_LEN as usize] {
    let mut h = [0u8; FILE_HEADER_LEN as usize];
    h[0..4].copy_from_slice(&HEADER_FRAME_MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&16u32.to_le_bytes());
    h[8..16].copy_from_slice(FILE_MAGIC);
    h[16..20].copy_from_slice(&version.to_le_bytes());
    h
}

/// What the first bytes of a file say.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderCheck {
    /// A sysrec trace of this format version.
    Trace(u32),
    /// Something else, with what it looks like.
    Foreign(&'static str),
}

/// Reads a file header (at least [`FILE_HEADER_LEN`] bytes, fewer if the
/// file is shorter).
pub fn check_file_header(buf: &[u8]) -> HeaderCheck {
    if buf.len() >= FILE_HEADER_LEN as usize
        && buf[0..4] == HEADER_FRAME_MAGIC.to_le_bytes()
        && buf[4..8] == 16u32.to_le_bytes()
        && &buf[8..16] == FILE_MAGIC
    {
        let mut v = [0u8; 4];
        v.copy_from_slice(&buf[16..20]);
        return HeaderCheck::Trace(u32::from_le_bytes(v));
    }
    if buf.len() >= 4 && buf[0..4] == ZSTD_MAGIC.to_le_bytes() {
        HeaderCheck::Foreign("a zstd file without a sysrec header")
    } else if buf.starts_with(b"\x0a\x0d\x0d\x0a") || buf.starts_with(b"\xd4\xc3\xb2\xa1") {
        HeaderCheck::Foreign("a pcap/scap capture (sysdig or tcpdump), not a sysrec trace")
    } else if buf.len() < FILE_HEADER_LEN as usize {
        HeaderCheck::Foreign("too short to hold a trace header")
    } else {
        HeaderCheck::Foreign("no sysrec header at the start")
    }
}

/// Wraps an index FlatBuffer into the index frame with its trailer.
pub fn index_frame(index: &[u8]) -> Vec<u8> {
    let payload_len = index.len() + TRAILER_LEN as usize;
    let total = 8 + payload_len;
    let mut f = Vec::with_capacity(total);
    f.extend_from_slice(&INDEX_FRAME_MAGIC.to_le_bytes());
    f.extend_from_slice(&(payload_len as u32).to_le_bytes());
    f.extend_from_slice(index);
    f.extend_from_slice(&(total as u32).to_le_bytes());
    f.extend_from_slice(TRAILER_MAGIC);
    f
}

/// The total length of the index frame, if the file's last 8 bytes are an
/// index trailer.
pub fn parse_trailer(last: &[u8; TRAILER_LEN as usize]) -> Option<u64> {
    (&last[4..8] == TRAILER_MAGIC)
        .then(|| u64::from(u32::from_le_bytes([last[0], last[1], last[2], last[3]])))
}

/// One frame found in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub offset: u64,
    pub len: u64,
    pub kind: FrameKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// An ordinary zstd frame; its declared decompressed size if any.
    Zstd { content_size: Option<u64> },
    /// A skippable frame with this magic.
    Skippable { magic: u32 },
}

/// Why a frame could not be walked.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The file ends inside the frame.
    Truncated,
    /// The bytes are not a valid frame.
    Invalid(String),
    Io(String),
}

fn read<S: Source + ?Sized, const N: usize>(src: &S, off: u64) -> Result<[u8; N], FrameError> {
    let end = off.checked_add(N as u64).ok_or(FrameError::Truncated)?;
    if end > src.len() {
        return Err(FrameError::Truncated);
    }
    let mut b = [0u8; N];
    src.read_exact_at(&mut b, off)
        .map_err(|e| FrameError::Io(e.to_string()))?;
    Ok(b)
}

/// Walks the frame starting at `offset` by its headers and returns its
/// extent. Reads only headers (a few bytes per 128 KiB block).
pub fn walk_frame<S: Source + ?Sized>(src: &S, offset: u64) -> Result<Frame, FrameError> {
    let magic = u32::from_le_bytes(read::<S, 4>(src, offset)?);
    if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
        let size = u32::from_le_bytes(read::<S, 4>(src, offset + 4)?);
        let len = 8 + u64::from(size);
        if offset + len > src.len() {
            return Err(FrameError::Truncated);
        }
        return Ok(Frame {
            offset,
            len,
            kind: FrameKind::Skippable { magic },
        });
    }
    if magic != ZSTD_MAGIC {
        return Err(FrameError::Invalid(format!(
            "no frame magic (found {magic:#010x})"
        )));
    }
    let [fhd] = read::<S, 1>(src, offset + 4)?;
    if fhd & 0x08 != 0 {
        return Err(FrameError::Invalid(
            "reserved bit set in frame header".into(),
        ));
    }
    let single_segment = fhd & 0x20 != 0;
    let checksum = fhd & 0x04 != 0;
    let dict_len = [0u64, 1, 2, 4][usize::from(fhd & 0x03)];
    let fcs_len = match fhd >> 6 {
        0 => u64::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut pos = offset + 5 + u64::from(!single_segment) + dict_len;
    let content_size = if fcs_len == 0 {
        None
    } else {
        let raw = read::<S, 8>(src, pos).or_else(|_| {
            // The frame may be shorter than 8 bytes past here; read exactly.
            let mut b = [0u8; 8];
            for i in 0..fcs_len {
                b[i as usize] = read::<S, 1>(src, pos + i)?[0];
            }
            Ok::<_, FrameError>(b)
        })?;
        let v = u64::from_le_bytes(raw);
        Some(match fcs_len {
            1 => v & 0xFF,
            2 => (v & 0xFFFF) + 256,
            4 => v & 0xFFFF_FFFF,
            _ => v,
        })
    };
    pos += fcs_len;
    loop {
        let h = read::<S, 3>(src, pos)?;
        let h = u32::from_le_bytes([h[0], h[1], h[2], 0]);
        let last = h & 1 != 0;
        let size = u64::from(h >> 3);
        let body = match (h >> 1) & 3 {
            0 | 2 => size,
            1 => 1,
            _ => return Err(FrameError::Invalid("reserved block type".into())),
        };
        if size > 128 << 10 {
            return Err(FrameError::Invalid(format!(
                "block of {size} bytes exceeds 128 KiB"
            )));
        }
        pos += 3 + body;
        if pos > src.len() {
            return Err(FrameError::Truncated);
        }
        if last {
            break;
        }
    }
    if checksum {
        pos += 4;
        if pos > src.len() {
            return Err(FrameError::Truncated);
        }
    }
    Ok(Frame {
        offset,
        len: pos - offset,
        kind: FrameKind::Zstd { content_size },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_zstd_frames_of_every_size_class() {
        for n in [0usize, 1, 255, 256, 300, 70_000, 300_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let mut c = zstd::bulk::Compressor::new(3).unwrap();
            c.include_checksum(true).unwrap();
            let frame = c.compress(&data).unwrap();
            let mut file = frame.clone();
            file.extend_from_slice(b"trailing");
            let f = walk_frame(&file, 0).unwrap();
            assert_eq!(f.len, frame.len() as u64, "size {n}");
            assert_eq!(
                f.kind,
                FrameKind::Zstd {
                    content_size: Some(n as u64)
                }
            );
            for cut in 0..frame.len() {
                let short = frame[..cut].to_vec();
                assert_eq!(
                    walk_frame(&short, 0),
                    Err(FrameError::Truncated),
                    "size {n} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn header_and_trailer_round_trip() {
        assert_eq!(check_file_header(&file_header(7)), HeaderCheck::Trace(7));
        let f = index_frame(b"abc");
        let last: [u8; 8] = f[f.len() - 8..].try_into().unwrap();
        assert_eq!(parse_trailer(&last), Some(f.len() as u64));
        assert_eq!(walk_frame(&f, 0).unwrap().len, f.len() as u64);
        assert!(matches!(
            check_file_header(b"\x28\xb5\x2f\xfdxxxxxxxxxxxxxxxxxxxxxxxx"),
            HeaderCheck::Foreign(_)
        ));
    }
}
