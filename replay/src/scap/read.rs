//! Reading a `.scap` capture's blocks: plain or gzip-compressed input,
//! each block framed and checked before its body is handed on.
//!
//! **Invariant:** input is hostile. Every length is checked against what
//! is left before it is used; a block over [`MAX_BLOCK`] bytes is refused
//! before anything is allocated for it, and the decompressed input is
//! capped at [`MAX_INPUT`] bytes, so a forged length or a gzip bomb costs
//! an error, never memory or time.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::block::SHB;

/// The largest block read (libscap's own blocks are far smaller).
pub const MAX_BLOCK: u32 = 64 << 20;
/// The most bytes read from one capture once decompressed.
pub const MAX_INPUT: u64 = 16 << 30;
/// gzip's magic.
const GZIP: [u8; 2] = [0x1f, 0x8b];

/// Whether the file at `path` starts like a capture: a section header, or
/// gzip (whose content is then checked when it is read).
pub fn looks_like_scap(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    head == SHB.to_le_bytes() || head[..2] == GZIP
}

/// Why the blocks stopped before the end of the input.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("cannot read the capture")]
    Io(#[source] io::Error),
    #[error("damaged block at offset {offset}: {reason}")]
    Damaged { offset: u64, reason: String },
    #[error("the capture is over {} GiB once decompressed", MAX_INPUT >> 30)]
    TooLarge,
}

/// One block: its type, its body (padding included) and where it started.
pub struct Block {
    pub ty: u32,
    pub body: Vec<u8>,
    pub offset: u64,
}

/// Reads blocks one at a time from a plain or gzip-compressed capture.
pub struct Blocks {
    input: io::Take<Box<dyn Read>>,
    offset: u64,
    done: bool,
}

impl Blocks {
    pub fn open(path: &Path) -> io::Result<Blocks> {
        let mut f = BufReader::new(File::open(path)?);
        let mut head = [0u8; 2];
        let n = read_full(&mut f, &mut head)?;
        let raw: Box<dyn Read> = Box::new(io::Cursor::new(head[..n].to_vec()).chain(f));
        let input: Box<dyn Read> = if head[..n] == GZIP {
            Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(raw)))
        } else {
            raw
        };
        Ok(Blocks {
            input: input.take(MAX_INPUT + 1),
            offset: 0,
            done: false,
        })
    }

    /// The next block, `None` at a clean end. After an error, `None`.
    pub fn next_block(&mut self) -> Option<Result<Block, BlockError>> {
        if self.done {
            return None;
        }
        let r = self.read_one();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }

    fn damaged(&self, reason: impl Into<String>) -> Option<Result<Block, BlockError>> {
        Some(Err(BlockError::Damaged {
            offset: self.offset,
            reason: reason.into(),
        }))
    }

    fn read_one(&mut self) -> Option<Result<Block, BlockError>> {
        let mut hdr = [0u8; 8];
        let n = match read_full(&mut self.input, &mut hdr) {
            Ok(n) => n,
            Err(e) => return Some(Err(self.io(e))),
        };
        if n == 0 {
            return None;
        }
        if n < 8 {
            return self.damaged("truncated block header");
        }
        let ty = le32(&hdr[0..4]);
        let total = le32(&hdr[4..8]);
        if total < 12 || !total.is_multiple_of(4) {
            return self.damaged(format!("impossible block length {total}"));
        }
        if total > MAX_BLOCK {
            return self.damaged(format!(
                "block of {total} bytes (over the {} MiB limit)",
                MAX_BLOCK >> 20
            ));
        }
        let mut rest = vec![0u8; total as usize - 8];
        match read_full(&mut self.input, &mut rest) {
            Ok(n) if n == rest.len() => {}
            Ok(n) => {
                return self.damaged(format!(
                    "truncated block: {} of {total} bytes",
                    n as u64 + 8
                ));
            }
            Err(e) => return Some(Err(self.io(e))),
        }
        if self.input.limit() == 0 {
            return Some(Err(BlockError::TooLarge));
        }
        let trailer = rest.split_off(rest.len() - 4);
        if le32(&trailer) != total {
            return self.damaged(format!(
                "block length {total} and trailing length {} differ",
                le32(&trailer)
            ));
        }
        let offset = self.offset;
        self.offset += u64::from(total);
        Some(Ok(Block {
            ty,
            body: rest,
            offset,
        }))
    }

    fn io(&self, e: io::Error) -> BlockError {
        // flate2 reports corrupt compressed data as InvalidInput/InvalidData,
        // and a cut stream as UnexpectedEof.
        match e.kind() {
            io::ErrorKind::InvalidData
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::UnexpectedEof => BlockError::Damaged {
                offset: self.offset,
                reason: format!("corrupt compressed data ({e})"),
            },
            _ => BlockError::Io(e),
        }
    }
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// A checked little-endian cursor over a block body: every read says
/// `None` rather than go past the end.
pub struct Cur<'a> {
    pub b: &'a [u8],
}

impl<'a> Cur<'a> {
    pub fn new(b: &'a [u8]) -> Cur<'a> {
        Cur { b }
    }
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4).map(le32)
    }
    pub fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    /// A string after a `u16` length.
    pub fn str16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scap::block::{MI, write_block};

    fn blocks_of(bytes: &[u8]) -> Vec<Result<Block, BlockError>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.scap");
        std::fs::write(&p, bytes).unwrap();
        let mut b = Blocks::open(&p).unwrap();
        std::iter::from_fn(|| b.next_block()).collect()
    }

    #[test]
    fn scap_blocks_framed_and_checked() {
        let mut out = Vec::new();
        write_block(&mut out, SHB, &[1, 2, 3, 4]).unwrap();
        write_block(&mut out, MI, &[5; 9]).unwrap();
        let r = blocks_of(&out);
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(Result::is_ok));
        // Every truncation: the intact blocks, then one clear error.
        for cut in 1..out.len() {
            let r = blocks_of(&out[..cut]);
            let errs = r.iter().filter(|b| b.is_err()).count();
            assert!(errs <= 1, "cut {cut}");
            if cut != 16 {
                assert_eq!(errs, 1, "cut {cut}");
            }
        }
        // A forged length, huge and small.
        let mut bad = out.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let r = blocks_of(&bad);
        assert!(matches!(r[0], Err(BlockError::Damaged { offset: 0, .. })));
        bad[4..8].copy_from_slice(&20u32.to_le_bytes());
        let r = blocks_of(&bad);
        assert!(r.iter().any(Result::is_err));
    }

    #[test]
    fn scap_cursor_never_reads_past_the_end() {
        let mut c = Cur::new(&[5, 0, b'a', b'b']);
        assert_eq!(c.str16(), None);
        let mut c = Cur::new(&[1, 2, 3]);
        assert_eq!(c.u32(), None);
        assert_eq!(c.u16(), Some(0x201));
    }
}
