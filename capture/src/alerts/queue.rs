//! The chunks waiting for evaluation: a FIFO that holds at most
//! `--alerts-queue` bytes in memory and the rest in a spill file.
//!
//! The format writer sends each closed chunk on an unbounded channel (its
//! `on_chunk`), so recording never waits for rules. A **relay thread**
//! drains that channel at once into this queue; the evaluator takes chunks
//! from it. While the evaluator keeps up, chunks stay in memory. When the
//! bytes in memory would pass the bound, the chunk is appended to a spill
//! file instead, and so is every later chunk until the evaluator has
//! emptied the file (so the order stays first in, first out); then the file
//! is truncated and memory is used again.
//!
//! Why a spill file and not the trace itself: the trace's chunks may not
//! be on disk yet (compression queue), may be gone (`--s3` deletes a
//! shipped segment) or never get there (a full disk); the spill file holds
//! exactly the bytes the evaluator would have had, under our own name.
//! It is created only when first needed, in the trace's directory (the
//! volume provisioned for the trace, not a tmpfs `/tmp` that would be
//! memory again), unlinked at once (`O_TMPFILE`, or created under a new
//! name and removed), so nothing is left behind, even on a crash.
//!
//! Bounds: memory holds at most the bound plus the chunk being evaluated
//! (a chunk larger than the bound goes through the file; `--alerts-queue
//! 0` spills every chunk); the relay does only a
//! move or a sequential append per chunk, so the writer's channel stays
//! short. A chunk that can be neither kept nor spilled (the spill file
//! cannot be created or written: a full disk) is not evaluated live: it is
//! counted and its sequence number reported at exit, so `replay --rules`
//! over the trace finds its alerts. Never silently.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Default bound on chunk bytes held in memory (`--alerts-queue`).
pub const DEFAULT_QUEUE_BYTES: u64 = 64 << 20;

/// What the queue did, for the exit summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Chunks that waited in the spill file, and their bytes.
    pub spilled_chunks: u64,
    pub spilled_bytes: u64,
    /// Most bytes in the spill file at once.
    pub spill_peak: u64,
    /// Most chunk bytes held in memory at once.
    pub mem_peak: u64,
    /// Chunks neither kept nor spilled (not evaluated live): how many, the
    /// first and last sequence numbers, and the last error.
    pub unevaluated: u64,
    pub unevaluated_seqs: Option<(u64, u64)>,
    pub spill_error: Option<String>,
}

struct Spill {
    file: File,
    /// Where the next record goes; where the oldest unread one starts.
    write_at: u64,
    read_at: u64,
    /// Records written and not yet read.
    pending: u64,
}

struct Inner {
    mem: VecDeque<Vec<u8>>,
    mem_bytes: u64,
    spill: Option<Spill>,
    closed: bool,
    stats: QueueStats,
}

/// The FIFO between the relay and the evaluator.
pub struct ChunkQueue {
    inner: Mutex<Inner>,
    ready: Condvar,
    cap: u64,
    /// The directory the spill file is created in.
    dir: PathBuf,
}

impl ChunkQueue {
    /// A queue holding at most `cap` bytes in memory, spilling into a file
    /// in `dir`.
    pub fn new(cap: u64, dir: &Path) -> ChunkQueue {
        ChunkQueue {
            inner: Mutex::new(Inner {
                mem: VecDeque::new(),
                mem_bytes: 0,
                spill: None,
                closed: false,
                stats: QueueStats::default(),
            }),
            ready: Condvar::new(),
            cap,
            dir: dir.to_path_buf(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere leaves counters, not broken invariants.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one chunk; never waits for the evaluator.
    pub fn push(&self, bytes: Vec<u8>) {
        let mut g = self.lock();
        let len = bytes.len() as u64;
        let spilling = g.spill.as_ref().is_some_and(|s| s.pending > 0);
        if !spilling && g.mem_bytes + len <= self.cap {
            g.mem_bytes += len;
            g.stats.mem_peak = g.stats.mem_peak.max(g.mem_bytes);
            g.mem.push_back(bytes);
            drop(g);
            self.ready.notify_one();
            return;
        }
        match self.spill(&mut g, &bytes) {
            Ok(()) => {
                g.stats.spilled_chunks += 1;
                g.stats.spilled_bytes += len;
                drop(g);
                self.ready.notify_one();
            }
            Err(e) => {
                let seq = trace_format::Chunk::from_bytes(bytes)
                    .ok()
                    .map(|c| c.info().seq);
                let s = &mut g.stats;
                s.unevaluated += 1;
                s.spill_error = Some(e.to_string());
                if let Some(seq) = seq {
                    s.unevaluated_seqs = Some(match s.unevaluated_seqs {
                        None => (seq, seq),
                        Some((a, b)) => (a.min(seq), b.max(seq)),
                    });
                }
            }
        }
    }

    /// Appends one record (length, bytes) to the spill file, creating it
    /// if needed. On error nothing counts as written (the next record goes
    /// to the same offset).
    fn spill(&self, g: &mut Inner, bytes: &[u8]) -> io::Result<()> {
        if g.spill.is_none() {
            g.spill = Some(Spill {
                file: create_unlinked(&self.dir)?,
                write_at: 0,
                read_at: 0,
                pending: 0,
            });
        }
        let Some(s) = g.spill.as_mut() else {
            return Err(io::Error::other("no spill file"));
        };
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::other("chunk over 4 GiB"))?
            .to_le_bytes();
        s.file.write_all_at(&len, s.write_at)?;
        s.file.write_all_at(bytes, s.write_at + 4)?;
        s.write_at += 4 + bytes.len() as u64;
        s.pending += 1;
        let on_disk = s.write_at - s.read_at;
        g.stats.spill_peak = g.stats.spill_peak.max(on_disk);
        Ok(())
    }

    /// No more chunks will come (the relay saw the writer finish).
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The oldest chunk, waiting for one; `None` once closed and empty.
    /// A spilled chunk that cannot be read back counts as unevaluated.
    pub fn pop(&self) -> Option<Vec<u8>> {
        let mut g = self.lock();
        loop {
            if let Some(b) = g.mem.pop_front() {
                g.mem_bytes -= b.len() as u64;
                return Some(b);
            }
            if let Some(s) = g.spill.as_mut()
                && s.pending > 0
            {
                let r = read_record(s);
                s.pending -= 1;
                if s.pending == 0 {
                    // Emptied: give the disk space back, memory again.
                    s.write_at = 0;
                    s.read_at = 0;
                    let _ = s.file.set_len(0);
                }
                match r {
                    Ok(b) => return Some(b),
                    Err(e) => {
                        g.stats.unevaluated += 1;
                        g.stats.spill_error = Some(e.to_string());
                        continue;
                    }
                }
            }
            if g.closed {
                return None;
            }
            g = self.ready.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// What happened so far.
    pub fn stats(&self) -> QueueStats {
        self.lock().stats.clone()
    }
}

/// Reads the record at `read_at` and moves past it.
fn read_record(s: &mut Spill) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.file.read_exact_at(&mut len, s.read_at)?;
    let len = u64::from(u32::from_le_bytes(len));
    // The file is ours and unlinked, but a length is checked before it
    // sizes an allocation all the same.
    if len > trace_format::container::MAX_CHUNK_LEN || s.read_at + 4 + len > s.write_at {
        s.read_at = s.write_at;
        return Err(io::Error::other("damaged spill record"));
    }
    let mut buf = vec![0u8; len as usize];
    s.file.read_exact_at(&mut buf, s.read_at + 4)?;
    s.read_at += 4 + len;
    Ok(buf)
}

/// An unnamed file in `dir`: `O_TMPFILE`, or where the file system lacks
/// it, a new name (never an existing file) removed at once.
fn create_unlinked(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    if let Ok(f) = tmp {
        return Ok(f);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let path = dir.join(format!(
        ".capture-alerts-spill.{}.{nanos}",
        std::process::id()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: u8, len: usize) -> Vec<u8> {
        vec![n; len]
    }

    #[test]
    fn keeps_order_across_memory_and_spill_and_bounds_memory() {
        let dir = tempfile::tempdir().unwrap();
        let q = ChunkQueue::new(250, dir.path());
        for i in 0..10 {
            q.push(chunk(i, 100));
        }
        // Two fit in memory; the other eight waited on disk.
        let s = q.stats();
        assert_eq!(s.mem_peak, 200);
        assert_eq!(s.spilled_chunks, 8);
        assert_eq!(s.spill_peak, 8 * 104);
        assert_eq!(s.unevaluated, 0);
        // Nothing named is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        for i in 0..5 {
            assert_eq!(q.pop().unwrap(), chunk(i, 100));
        }
        // While the spill file holds chunks, new ones go behind them.
        q.push(chunk(10, 100));
        for i in 5..11 {
            assert_eq!(q.pop().unwrap(), chunk(i, 100));
        }
        // Emptied: memory again.
        q.push(chunk(11, 100));
        assert_eq!(q.stats().spilled_chunks, 9);
        q.close();
        assert_eq!(q.pop().unwrap(), chunk(11, 100));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_chunk_larger_than_the_bound_goes_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let q = ChunkQueue::new(10, dir.path());
        q.push(chunk(1, 100));
        q.push(chunk(2, 5));
        let s = q.stats();
        assert_eq!((s.spilled_chunks, s.mem_peak), (2, 0));
        q.close();
        assert_eq!(q.pop().unwrap(), chunk(1, 100));
        assert_eq!(q.pop().unwrap(), chunk(2, 5));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_chunk_that_cannot_be_spilled_is_counted_not_kept() {
        let q = ChunkQueue::new(150, Path::new("/nonexistent/spill/dir"));
        q.push(chunk(1, 100));
        q.push(chunk(2, 100));
        let s = q.stats();
        assert_eq!(s.unevaluated, 1);
        assert!(s.spill_error.is_some());
        q.close();
        assert_eq!(q.pop().unwrap(), chunk(1, 100));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn pop_waits_for_a_push_from_another_thread() {
        let dir = tempfile::tempdir().unwrap();
        let q = std::sync::Arc::new(ChunkQueue::new(0, dir.path()));
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(b) = q2.pop() {
                got.push(b[0]);
            }
            got
        });
        for i in 0..20 {
            q.push(chunk(i, 10));
        }
        q.close();
        assert_eq!(t.join().unwrap(), (0..20).collect::<Vec<u8>>());
    }
}
