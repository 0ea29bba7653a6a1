//! [`ObjectSource`]: one object read by ranged GETs, as a `trace_format`
//! [`Source`], so `TraceReader::from_sources` reads a trace straight from
//! the bucket, chunk by chunk, without downloading whole segments first.
//!
//! The reader makes many small reads (file header, index trailer, frame
//! headers when scanning a segment without index) and one large read per
//! chunk. Small reads are served from a few cached aligned blocks, so they
//! cost one request per block; large reads go straight to a ranged GET.
//!
//! **Read-ahead:** given the chunks' extents in reading order
//! ([`ObjectSource::set_read_ahead`]), a read of chunk *i* starts the GETs
//! of chunks *i+1 ..= i+*[`READ_AHEAD`] in the background, so a sequential
//! reader (`replay verify`) has several requests in flight instead of one
//! round trip per chunk. Memory stays bounded by that window.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use trace_format::container::Source;

use crate::client::{Client, Pending};

/// Size of a cached block.
const BLOCK: u64 = 256 << 10;
/// Cached blocks per object.
const CACHED_BLOCKS: usize = 4;
/// Chunks fetched ahead of a sequential reader.
pub const READ_AHEAD: usize = 4;

/// An object of known size, read through a shared [`Client`].
pub struct ObjectSource {
    client: Arc<Client>,
    key: String,
    len: u64,
    /// Recently used blocks, most recent last.
    cache: Mutex<Vec<(u64, Bytes)>>,
    /// Chunk extents in reading order, and the reads started ahead, by
    /// offset.
    extents: OnceLock<Vec<(u64, u64)>>,
    ahead: Mutex<HashMap<u64, (u64, Pending)>>,
}

impl ObjectSource {
    pub fn new(client: Arc<Client>, key: String, len: u64) -> ObjectSource {
        ObjectSource {
            client,
            key,
            len,
            cache: Mutex::new(Vec::new()),
            extents: OnceLock::new(),
            ahead: Mutex::new(HashMap::new()),
        }
    }

    /// The extents `(offset, len)` of the chunks, in the order they will be
    /// read; enables the read-ahead (once: later calls are ignored).
    pub fn set_read_ahead(&self, extents: Vec<(u64, u64)>) {
        let _ = self.extents.set(extents);
    }

    /// Starts the reads of the chunks after the one at `offset`.
    fn read_ahead(&self, offset: u64) {
        let Some(extents) = self.extents.get() else {
            return;
        };
        let Some(i) = extents.iter().position(|(o, _)| *o == offset) else {
            return;
        };
        let Ok(mut ahead) = self.ahead.lock() else {
            return;
        };
        for &(o, l) in extents.iter().skip(i + 1).take(READ_AHEAD) {
            if !ahead.contains_key(&o) && o + l <= self.len {
                ahead.insert(o, (l, self.client.spawn_get_range(&self.key, o..o + l)));
            }
        }
    }

    /// A read of exactly `(offset, len)` started ahead, if any.
    fn take_ahead(&self, offset: u64, len: u64) -> Option<io::Result<Bytes>> {
        let (l, pending) = self.ahead.lock().ok()?.remove(&offset)?;
        if l != len {
            return None;
        }
        Some(self.client.wait(pending).map_err(io::Error::other))
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    fn fetch(&self, start: u64, end: u64) -> io::Result<Bytes> {
        let b = self
            .client
            .get_range(&self.key, start..end)
            .map_err(io::Error::other)?;
        if b.len() as u64 != end - start {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "`{}`: asked for {} bytes at {start}, got {}",
                    self.key,
                    end - start,
                    b.len()
                ),
            ));
        }
        Ok(b)
    }

    fn block(&self, n: u64) -> io::Result<Bytes> {
        if let Ok(cache) = self.cache.lock()
            && let Some((_, b)) = cache.iter().find(|(i, _)| *i == n)
        {
            return Ok(b.clone());
        }
        let start = n * BLOCK;
        let b = self.fetch(start, (start + BLOCK).min(self.len))?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHED_BLOCKS {
                cache.remove(0);
            }
            cache.push((n, b.clone()));
        }
        Ok(b)
    }
}

impl Source for ObjectSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|e| *e <= self.len)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        if buf.is_empty() {
            return Ok(());
        }
        let (first, last) = (offset / BLOCK, (end - 1) / BLOCK);
        if first == last && (buf.len() as u64) < BLOCK / 4 {
            let b = self.block(first)?;
            let at = (offset - first * BLOCK) as usize;
            let src = b
                .get(at..at + buf.len())
                .ok_or(io::ErrorKind::UnexpectedEof)?;
            buf.copy_from_slice(src);
            return Ok(());
        }
        let len = buf.len() as u64;
        let bytes = match self.take_ahead(offset, len) {
            Some(Ok(b)) if b.len() as u64 == len => b,
            // A failed or short read ahead: try again now.
            _ => self.fetch(offset, end)?,
        };
        self.read_ahead(offset);
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}
