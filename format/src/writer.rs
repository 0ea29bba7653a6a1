//! The streaming trace writer.
//!
//! The producer (`TraceWriter::push`) encodes each event straight into the
//! open chunk's FlatBuffer builder. When the chunk reaches
//! [`WriterOptions::chunk_bytes`] or [`WriterOptions::chunk_secs`], it is
//! finished and handed to a background thread (`writer/sink.rs`) which
//! hashes, compresses, writes, rotates segments and keeps the manifest.
//!
//! - **Invariant: bounded memory.** At most one open chunk plus
//!   [`WriterOptions::queue_chunks`] finished chunks exist at once; when the
//!   background thread falls behind, `push` blocks (backpressure) instead of
//!   buffering more or dropping.
//! - **Invariant: the snapshot precedes the chunk.** A chunk's snapshot is
//!   taken from the caller's [`SnapshotSource`] when the chunk's first event
//!   is pushed, so callers must push an event *before* applying it to their
//!   state.
//! - **Invariant: nothing is lost silently.** When the background thread
//!   cannot write a chunk (disk full), it cuts the file back to its last
//!   good chunk (every write goes to an explicit offset, so nothing lands
//!   after a hole) and counts the loss. The producer puts a `Gap` marker
//!   naming the count into the next chunk it sends; if that chunk is lost
//!   too, its marker's count is handed back and carried into the next one,
//!   until a chunk carrying it reaches the disk. Each segment's index (and
//!   the manifest) records the loss too. `finish` waits for the last
//!   chunks' fate and retries the marker a few times; what no marker on
//!   disk records is [`WriteSummary::unrecorded_events`].
//! - The hash chain: chunk N's header carries the SHA-256 of chunk N-1's
//!   bytes. The background thread hashes chunk N-1 before compressing it and
//!   sends the hash back; the producer waits for it only when it finishes
//!   chunk N, by which time it is long there.

mod budget;
mod sink;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::columns::ColumnBuilder;
use crate::error::WriteError;
use crate::model::{Event, EventBody, Marker, MarkerKind, Snapshot, TraceMeta};
use crate::{FORMAT_VERSION, OLDEST_FORMAT_VERSION, encode, fb};

pub use budget::DiskBudget;
pub use sink::ClosedSegment;

/// Where the writer gets the state snapshot that starts each chunk.
pub trait SnapshotSource {
    /// The state as it is now, before the event being pushed is applied.
    fn snapshot(&self) -> Snapshot;
}

impl SnapshotSource for Snapshot {
    fn snapshot(&self) -> Snapshot {
        self.clone()
    }
}

/// How the writer cuts chunks and segments.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Close a chunk when its uncompressed size reaches this many bytes.
    pub chunk_bytes: usize,
    /// Close a chunk this long after its first event (checked on `push` and
    /// `tick`).
    pub chunk_secs: Duration,
    /// Rotate to a new segment file once the current one reaches this many
    /// (compressed) bytes. `None` with `rotate_secs` `None`: one file.
    pub rotate_bytes: Option<u64>,
    /// Rotate to a new segment file this long after it was opened.
    pub rotate_secs: Option<Duration>,
    /// zstd level.
    pub level: i32,
    /// Finished chunks that may wait for the background thread before `push`
    /// blocks.
    pub queue_chunks: usize,
    /// Told about every segment once it is closed and renamed (for shipping).
    pub on_segment: Option<std::sync::mpsc::Sender<ClosedSegment>>,
    /// A limit on the bytes on disk (a shipper's spool); a chunk that does
    /// not fit is lost and recorded as a gap.
    pub disk_budget: Option<Arc<DiskBudget>>,
    /// Told about every chunk as it is closed, with its uncompressed bytes
    /// (a size-prefixed FlatBuffer, as [`crate::Chunk::from_bytes`] takes
    /// it), for live rule evaluation. Unbounded: it never blocks `push`.
    pub on_chunk: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    /// The format version to write: [`FORMAT_VERSION`] (2, events by
    /// column), or 1 (events as rows, for tools and comparisons).
    pub format_version: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            chunk_bytes: 4 << 20,
            chunk_secs: Duration::from_secs(5),
            rotate_bytes: None,
            rotate_secs: None,
            level: 3,
            queue_chunks: 2,
            on_segment: None,
            disk_budget: None,
            on_chunk: None,
            format_version: FORMAT_VERSION,
        }
    }
}

impl WriterOptions {
    fn rotating(&self) -> bool {
        self.rotate_bytes.is_some() || self.rotate_secs.is_some()
    }
}

/// What a finished trace holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Events written (markers included), and chunks.
    pub events: u64,
    pub chunks: u64,
    /// The closed segment files (one without rotation), and the manifest.
    pub segments: Vec<PathBuf>,
    pub manifest: Option<PathBuf>,
    /// Bytes written to disk, all segments together.
    pub bytes: u64,
    /// Events and chunks lost to write errors (gap markers not counted as
    /// events).
    pub lost_events: u64,
    pub lost_chunks: u64,
    /// Of `lost_events`, those that no gap marker written to disk records
    /// (no chunk could be written after the loss). 0 when every loss is in
    /// the trace as a gap marker.
    pub unrecorded_events: u64,
}

/// Losses the background thread reports to the producer.
#[derive(Default)]
pub(crate) struct Losses {
    /// Events (gap markers not counted) and chunks lost so far.
    events: AtomicU64,
    chunks: AtomicU64,
    /// Lost events that no gap marker in a chunk handed to the background
    /// thread covers: the producer takes them (`swap(0)`) into its next
    /// marker; a lost chunk gives back what its markers covered.
    unclaimed: AtomicU64,
    last_error: std::sync::Mutex<String>,
}

/// A chunk handed to the background thread.
pub(crate) struct FinishedChunk {
    bytes: Vec<u8>,
    seq: u64,
    first_event: u64,
    event_count: u32,
    first_wall_ns: u64,
    last_wall_ns: u64,
    first_ts: u64,
    last_ts: u64,
    /// Gap markers among the events, and the lost events they name.
    gap_markers: u32,
    gap_events: u64,
    hash_tx: SyncSender<[u8; 32]>,
}

pub(crate) enum Msg {
    Chunk(FinishedChunk),
    Tick,
    /// Answered once every message before it was handled.
    Sync(SyncSender<()>),
    Finish,
}

struct OpenChunk {
    meta: WIPOffset<fb::TraceMeta<'static>>,
    snapshot: WIPOffset<fb::Snapshot<'static>>,
    first_ts: u64,
    last_ts: u64,
    wall_anchor: u64,
    mono_anchor: u64,
    opened: Instant,
    gap_markers: u32,
    gap_events: u64,
}

enum PrevHash {
    Known([u8; 32]),
    Pending(Receiver<[u8; 32]>),
}

/// The streaming writer; see the module documentation.
pub struct TraceWriter {
    fbb: FlatBufferBuilder<'static>,
    /// Version 1: the open chunk's event rows.
    events: Vec<WIPOffset<fb::Event<'static>>>,
    /// Version 2: the open chunk's event columns.
    columns: ColumnBuilder,
    /// Events in the open chunk.
    event_count: u32,
    open: Option<OpenChunk>,
    meta: TraceMeta,
    opts: WriterOptions,
    seq: u64,
    /// Events in closed chunks.
    events_before: u64,
    prev_hash: PrevHash,
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<Result<WriteSummary, WriteError>>>,
    losses: Arc<Losses>,
    since_clock_check: u32,
}

/// How often `finish` tries to write a chunk holding the gap marker of a
/// loss met at the very end.
pub const FINISH_GAP_TRIES: usize = 3;

/// Reads CLOCK_REALTIME and CLOCK_MONOTONIC together, in ns.
pub use crate::clock::now as clock_now;

impl TraceWriter {
    /// Creates the trace at `path` (`PATH.partial` until closed; with
    /// rotation, segments `STEM.NNNNNN.zst` and `STEM.manifest.json`, STEM
    /// being `path` without `.zst`). The first file is created now, so an
    /// unwritable location fails here, before any recording starts.
    pub fn create(
        path: &Path,
        opts: WriterOptions,
        mut meta: TraceMeta,
    ) -> Result<TraceWriter, WriteError> {
        // Readers refuse chunks over MAX_CHUNK_LEN; leave room for the last
        // event, which may overshoot the limit.
        let max = crate::container::MAX_CHUNK_LEN as usize / 2;
        if !(1024..=max).contains(&opts.chunk_bytes) {
            return Err(WriteError::Options(format!(
                "chunk size must be between 1 KiB and {} MiB",
                max >> 20
            )));
        }
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&opts.format_version) {
            return Err(WriteError::Options(format!(
                "format version {} is not one this build writes ({OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})",
                opts.format_version
            )));
        }
        if opts.rotate_bytes == Some(0) || opts.rotate_secs == Some(Duration::ZERO) {
            return Err(WriteError::Options(
                "rotation size and time must be positive".into(),
            ));
        }
        if meta.trace_id == [0; 16] {
            meta.trace_id = *uuid::Uuid::new_v4().as_bytes();
        }
        let losses = Arc::new(Losses::default());
        let mut sink = sink::Sink::new(path, &opts, meta.trace_id, losses.clone())?;
        sink.open_first()?;
        let (tx, rx) = sync_channel(opts.queue_chunks.max(1));
        let thread = std::thread::Builder::new()
            .name("trace-writer".into())
            .spawn(move || sink.run(rx))
            .map_err(|source| WriteError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(TraceWriter {
            fbb: FlatBufferBuilder::with_capacity(opts.chunk_bytes + (opts.chunk_bytes >> 2)),
            events: Vec::new(),
            columns: ColumnBuilder::default(),
            event_count: 0,
            open: None,
            meta,
            opts,
            seq: 0,
            events_before: 0,
            prev_hash: PrevHash::Known([0; 32]),
            tx: Some(tx),
            thread: Some(thread),
            losses,
            since_clock_check: 0,
        })
    }

    /// The trace id (random unless the metadata named one).
    pub fn trace_id(&self) -> [u8; 16] {
        self.meta.trace_id
    }

    /// Appends one event. Opens a chunk (taking a snapshot from `state`) if
    /// none is open, and closes it when it is full or old.
    pub fn push(&mut self, ev: &Event, state: &dyn SnapshotSource) -> Result<(), WriteError> {
        self.push_gap(ev.ts, state)?;
        self.push_one(ev, state)
    }

    /// Writes `events` as one chunk of their own over `snapshot`, with the
    /// given clock anchor (wall ns, monotonic ns) instead of the clock's
    /// now: for re-encoding a trace chunk by chunk ([`crate::convert`]),
    /// so that every event keeps its wall-clock time. A chunk open before
    /// is closed first. Events beyond `chunk_bytes` start further chunks
    /// as with `push` (those anchored now).
    pub fn push_chunk(
        &mut self,
        snapshot: &Snapshot,
        anchor: (u64, u64),
        events: &[Event],
    ) -> Result<(), WriteError> {
        self.close_chunk()?;
        let Some(first) = events.first() else {
            return Ok(());
        };
        self.push_gap(first.ts, snapshot)?;
        if self.open.is_none() {
            self.open_chunk(first.ts, snapshot);
        }
        if let Some(open) = &mut self.open {
            (open.wall_anchor, open.mono_anchor) = anchor;
        }
        for ev in events {
            self.push_one(ev, snapshot)?;
        }
        self.close_chunk()
    }

    /// Events lost so far (gap markers not counted).
    pub fn lost_events(&self) -> u64 {
        self.losses.events.load(Ordering::Relaxed)
    }

    /// Puts the losses no marker covers yet into a gap marker.
    fn push_gap(&mut self, ts: u64, state: &dyn SnapshotSource) -> Result<(), WriteError> {
        if self.losses.unclaimed.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let lost = self.losses.unclaimed.swap(0, Ordering::AcqRel);
        if lost == 0 {
            return Ok(());
        }
        let reason = self
            .losses
            .last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        let gap = Event {
            ts,
            tid: 0,
            pid: 0,
            body: EventBody::Marker(Marker {
                kind: MarkerKind::Gap,
                count: lost,
                message: format!("events lost: the trace could not be written: {reason}"),
            }),
        };
        if self.open.is_none() {
            self.open_chunk(ts, state);
        }
        if let Some(open) = &mut self.open {
            open.gap_markers += 1;
            open.gap_events += lost;
        }
        self.push_one(&gap, state)
    }

    fn push_one(&mut self, ev: &Event, state: &dyn SnapshotSource) -> Result<(), WriteError> {
        if self.open.is_none() {
            self.open_chunk(ev.ts, state);
        }
        if self.opts.format_version >= 2 {
            self.columns.push(&mut self.fbb, ev);
        } else {
            let off = encode::event(&mut self.fbb, ev);
            self.events.push(off);
        }
        self.event_count += 1;
        if let Some(open) = &mut self.open {
            open.last_ts = open.last_ts.max(ev.ts);
        }
        self.since_clock_check += 1;
        let full = self.fbb.unfinished_data().len() + self.columns.bytes() >= self.opts.chunk_bytes;
        let old = self.since_clock_check >= 256 && self.chunk_is_old();
        if full || old {
            self.close_chunk()?;
        }
        Ok(())
    }

    fn chunk_is_old(&mut self) -> bool {
        self.since_clock_check = 0;
        self.open
            .as_ref()
            .is_some_and(|o| o.opened.elapsed() >= self.opts.chunk_secs)
    }

    /// Call periodically (every 100 ms or so): closes a chunk whose time is
    /// up and lets the background thread rotate a segment whose time is up.
    /// `state` is used only to record losses.
    pub fn tick(&mut self, state: &dyn SnapshotSource) -> Result<(), WriteError> {
        if self.chunk_is_old() {
            self.close_chunk()?;
        }
        if self.losses.unclaimed.load(Ordering::Relaxed) != 0 {
            let (_, mono) = clock_now();
            self.push_gap(mono, state)?;
        }
        self.send(Msg::Tick)
    }

    /// Closes the open chunk now (if any), e.g. before shutting down.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.close_chunk()
    }

    /// Closes the trace: the last chunk, the index, the rename of the
    /// `.partial` file and the manifest.
    ///
    /// A loss the background thread reports only now (the last chunks did
    /// not fit) gets a chunk of its own holding the gap marker (with an
    /// empty snapshot: it has no other events); that is tried
    /// [`FINISH_GAP_TRIES`] times.
    pub fn finish(mut self) -> Result<WriteSummary, WriteError> {
        for _ in 0..FINISH_GAP_TRIES {
            self.close_chunk()?;
            let (tx, rx) = sync_channel(1);
            self.send(Msg::Sync(tx))?;
            rx.recv().map_err(|_| WriteError::WriterGone)?;
            if self.losses.unclaimed.load(Ordering::Relaxed) == 0 {
                break;
            }
            let (_, mono) = clock_now();
            self.push_gap(mono, &Snapshot::default())?;
        }
        self.close_chunk()?;
        self.send(Msg::Finish)?;
        self.tx = None;
        let thread = self.thread.take().ok_or(WriteError::WriterGone)?;
        thread.join().map_err(|_| WriteError::WriterGone)?
    }

    fn send(&mut self, msg: Msg) -> Result<(), WriteError> {
        let tx = self.tx.as_ref().ok_or(WriteError::WriterGone)?;
        if tx.send(msg).is_err() {
            // The thread ended: it returns the reason.
            self.tx = None;
            return match self.thread.take().map(|t| t.join()) {
                Some(Ok(Err(e))) => Err(e),
                _ => Err(WriteError::WriterGone),
            };
        }
        Ok(())
    }

    fn open_chunk(&mut self, first_ts: u64, state: &dyn SnapshotSource) {
        let (wall_anchor, mono_anchor) = clock_now();
        self.columns.start(first_ts);
        let snapshot = encode::snapshot(&mut self.fbb, &state.snapshot());
        let meta = encode::meta(&mut self.fbb, &self.meta);
        self.open = Some(OpenChunk {
            meta,
            snapshot,
            first_ts,
            last_ts: first_ts,
            wall_anchor,
            mono_anchor,
            opened: Instant::now(),
            gap_markers: 0,
            gap_events: 0,
        });
    }

    fn close_chunk(&mut self) -> Result<(), WriteError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let prev_hash = match std::mem::replace(&mut self.prev_hash, PrevHash::Known([0; 32])) {
            PrevHash::Known(h) => h,
            PrevHash::Pending(rx) => rx.recv().map_err(|_| WriteError::WriterGone)?,
        };
        let fbb = &mut self.fbb;
        let columns = (self.opts.format_version >= 2).then(|| self.columns.finish(fbb));
        let events = fbb.create_vector(&self.events);
        let trace_id = fbb.create_vector(&self.meta.trace_id);
        let prev = fbb.create_vector(&prev_hash);
        let event_count = std::mem::take(&mut self.event_count);
        let header = fb::ChunkHeader::create(
            fbb,
            &fb::ChunkHeaderArgs {
                format_version: self.opts.format_version,
                trace_id: Some(trace_id),
                seq: self.seq,
                first_event: self.events_before,
                event_count,
                first_ts: open.first_ts,
                last_ts: open.last_ts,
                wall_anchor_ns: open.wall_anchor,
                mono_anchor_ns: open.mono_anchor,
                prev_hash: Some(prev),
            },
        );
        let root = fb::Chunk::create(
            fbb,
            &fb::ChunkArgs {
                header: Some(header),
                meta: Some(open.meta),
                snapshot: Some(open.snapshot),
                events: Some(events),
                columns,
            },
        );
        fbb.finish_size_prefixed(root, Some(fb::CHUNK_IDENTIFIER));
        let bytes = fbb.finished_data().to_vec();
        fbb.reset();
        if let Some(tx) = &self.opts.on_chunk {
            // A consumer that is gone is no reason to stop recording.
            let _ = tx.send(bytes.clone());
        }
        self.events.clear();
        let (hash_tx, hash_rx) = sync_channel(1);
        self.prev_hash = PrevHash::Pending(hash_rx);
        let wall = |ts| crate::chunk::wall_ns(open.wall_anchor, open.mono_anchor, ts);
        let chunk = FinishedChunk {
            bytes,
            seq: self.seq,
            first_event: self.events_before,
            event_count,
            first_wall_ns: wall(open.first_ts),
            last_wall_ns: wall(open.last_ts),
            first_ts: open.first_ts,
            last_ts: open.last_ts,
            gap_markers: open.gap_markers,
            gap_events: open.gap_events,
            hash_tx,
        };
        self.seq += 1;
        self.events_before += u64::from(event_count);
        self.send(Msg::Chunk(chunk))
    }
}

impl Drop for TraceWriter {
    /// A writer dropped without `finish` (a panic elsewhere, an early return)
    /// still closes what it has: the segment files are left valid, named
    /// `.partial`, with their index.
    fn drop(&mut self) {
        if self.tx.is_some() {
            let _ = self.close_chunk();
            self.tx = None;
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}
