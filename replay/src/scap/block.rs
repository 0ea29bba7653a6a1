//! libscap's block layout: `u32 type, u32 total length, body, padding to 4
//! bytes, u32 total length`, little endian (the section header's byte-order
//! magic says so).

use std::io::{self, Write};

/// Section header block.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Byte-order magic in the section header.
pub const SHB_MAGIC: u32 = 0x1A2B_3C4D;
/// Machine info block.
pub const MI: u32 = 0x201;
/// Process list, version 9 (the last versioned one: later fields are
/// appended and recognised by the entry length).
pub const PL_V9: u32 = 0x215;
/// One thread's fd list.
pub const FDL_V2: u32 = 0x218;
/// User and group list.
pub const UL_V2: u32 = 0x220;
/// One event: `u16 cpu`, then the event.
pub const EV_V2: u32 = 0x216;

/// Writes one block around `body`.
pub fn write_block(out: &mut impl Write, block_type: u32, body: &[u8]) -> io::Result<()> {
    let padded = body.len().div_ceil(4) * 4;
    let total = u32::try_from(8 + padded + 4)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "block over 4 GiB"))?;
    out.write_all(&block_type.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0u8; 3][..padded - body.len()])?;
    out.write_all(&total.to_le_bytes())
}

/// A little-endian byte builder for block bodies.
#[derive(Default)]
pub struct Buf(pub Vec<u8>);

impl Buf {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// A string with a `u16` length before it (no NUL), cut at the first
    /// NUL and at `u16::MAX` bytes.
    pub fn str16(&mut self, v: &[u8]) -> &mut Self {
        let v = cut(v, usize::from(u16::MAX));
        self.u16(v.len() as u16);
        self.bytes(v)
    }
}

/// `v` up to its first NUL and at most `max` bytes (libscap reads C
/// strings).
pub fn cut(v: &[u8], max: usize) -> &[u8] {
    let end = memchr::memchr(0, v).unwrap_or(v.len()).min(max);
    &v[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_padded_and_framed() {
        let mut out = Vec::new();
        write_block(&mut out, MI, &[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(out.len(), 8 + 8 + 4);
        assert_eq!(&out[..4], &MI.to_le_bytes());
        assert_eq!(&out[4..8], &20u32.to_le_bytes());
        assert_eq!(&out[16..], &20u32.to_le_bytes());
        assert_eq!(&out[13..16], &[0, 0, 0]);
    }
}
