//! [`ObjectSource`]: one object read by ranged GETs, as a `trace_format`
//! [`Source`], so `TraceReader::from_sources` reads a trace straight from
//! the bucket, chunk by chunk, without downloading whole segments first.
//!
//! The reader makes many small reads (file header, index trailer, frame
//! headers when scanning a segment without index) and one large read per
//! chunk. Small reads are served from a few cached aligned blocks, so they
//! cost one request per block; large reads go straight to a ranged GET.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use trace_format::container::Source;

use crate::client::Client;

/// Size of a cached block.
const BLOCK: u64 = 256 << 10;
/// Cached blocks per object.
const CACHED_BLOCKS: usize = 4;

/// An object of known size, read through a shared [`Client`].
pub struct ObjectSource {
    client: Arc<Client>,
    key: String,
    len: u64,
    /// Recently used blocks, most recent last.
    cache: Mutex<Vec<(u64, Bytes)>>,
}

impl ObjectSource {
    pub fn new(client: Arc<Client>, key: String, len: u64) -> ObjectSource {
        ObjectSource {
            client,
            key,
            len,
            cache: Mutex::new(Vec::new()),
        }
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
        buf.copy_from_slice(&self.fetch(offset, end)?);
        Ok(())
    }
}
