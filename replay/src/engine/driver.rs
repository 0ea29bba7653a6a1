//! Walking a trace: chunks in parallel, results in trace order.
//!
//! Every chunk is evaluated alone from its own snapshot ([`walk_chunk`]),
//! so chunks can go to any thread. [`for_each_chunk`] streams chunks
//! through the rayon pool, a bounded window ahead of the next one to
//! deliver, puts the results back in trace order and passes them on, with
//! the problems (damage, chain breaks) at the place they occur.
//!
//! **Invariant:** the results reach the sink in trace order (segment,
//! then chunk offset) whatever the number of threads, so the output of a
//! run never depends on `--threads` (tested by property tests and on a
//! recorded trace).
//!
//! **Invariant:** a chunk sees the state its snapshot holds plus its own
//! events, never state carried over from a previous chunk, so a damaged or
//! skipped chunk cannot change what another chunk yields.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use trace_format::model::{Event, EventBody};
use trace_format::reader::{ChainChecker, ChunkLocation};
use trace_format::state::{ClockAnchor, State, sysno};
use trace_format::{Chunk, ChunkInfo, ReadError, TraceReader};

use super::context::TraceContext;
use super::view::{EventView, Scratch};

/// One result of a walk, in trace order.
pub enum Item<T> {
    /// A chunk read intact, with what the work made of it.
    Chunk {
        /// Its header.
        info: ChunkInfo,
        /// Its compressed size in bytes.
        bytes: u64,
        /// The work's result.
        out: T,
    },
    /// Damage or a broken link, where it was met; the walk goes on.
    Problem(ReadError),
    /// A problem found when the trace was opened (truncation, a missing
    /// index or segment), as text.
    Notice(String),
}

/// Chunks read ahead of the next one to deliver, per thread: enough to
/// keep every thread busy while one chunk is slow, few enough to bound
/// memory (each chunk is up to a few MiB, and its results wait for it).
const WINDOW_PER_THREAD: usize = 4;

/// Runs `work` on every chunk of `reader` on `pool` and calls `sink` with
/// the results in trace order.
///
/// Chunks stream through the pool: a chunk is handed over as soon as the
/// one `window` places before it has been delivered, so no thread waits for
/// the slowest chunk of a batch, and `sink` runs on the calling thread
/// while the pool works. At most `window` chunks are in flight or waiting
/// to be delivered. A panic in `work` is carried to the calling thread.
pub fn for_each_chunk<T: Send>(
    reader: &TraceReader,
    pool: &rayon::ThreadPool,
    work: impl Fn(&Chunk) -> T + Sync,
    mut sink: impl FnMut(Item<T>),
) {
    for n in reader.notices() {
        sink(Item::Notice(n.to_string()));
    }
    let window = pool.current_num_threads().max(1) * WINDOW_PER_THREAD;
    let locs = reader.locations();
    let mut chain = ChainChecker::default();
    let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<ChunkResult<T>>)>();
    let work = &work;
    pool.in_place_scope(|scope| {
        let mut waiting: BTreeMap<usize, ChunkResult<T>> = BTreeMap::new();
        let (mut handed, mut delivered) = (0, 0);
        while delivered < locs.len() {
            while handed < locs.len() && handed < delivered + window {
                let (i, loc, tx) = (handed, &locs[handed], tx.clone());
                scope.spawn(move |_| {
                    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let c = reader.read_chunk(loc)?;
                        let out = work(&c);
                        Ok((c.info(), c.hash(), out))
                    }));
                    // The receiver outlives the scope: this cannot fail.
                    let _ = tx.send((i, r));
                });
                handed += 1;
            }
            // Every handed chunk sends exactly once and `tx` is still
            // held here, so this returns once per handed chunk.
            let Ok((i, r)) = rx.recv() else { break };
            match r {
                Ok(r) => {
                    waiting.insert(i, r);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
            while let Some(r) = waiting.remove(&delivered) {
                deliver(&locs[delivered], r, &mut chain, &mut sink);
                delivered += 1;
            }
        }
    });
}

/// A chunk's header, hash and work result, or why it could not be read.
type ChunkResult<T> = Result<(ChunkInfo, [u8; 32], T), ReadError>;

fn deliver<T>(
    loc: &ChunkLocation,
    r: ChunkResult<T>,
    chain: &mut ChainChecker,
    sink: &mut impl FnMut(Item<T>),
) {
    match r {
        Ok((info, hash, out)) => {
            for p in chain.check_parts(&info, hash) {
                sink(Item::Problem(p));
            }
            sink(Item::Chunk {
                info,
                bytes: loc.compressed_len,
                out,
            });
        }
        Err(e) => {
            chain.skip(loc.expected.as_ref().map(|e| e.seq));
            sink(Item::Problem(e));
        }
    }
}

/// Whether an event is looked at before its effect on the state is applied:
/// `close` (its fd is gone after) and a thread's exit (its process too).
/// Every other event is looked at after: an `open` names the fd it created,
/// an `execve` shows the new image, a new process its own pid.
fn view_before_apply(ev: &Event) -> bool {
    match &ev.body {
        EventBody::Syscall(s) => matches!(s.id, sysno::CLOSE | sysno::CLOSE_RANGE),
        EventBody::ThreadExit(_) => true,
        _ => false,
    }
}

/// Rebuilds the state of one chunk from its snapshot and calls `visit`
/// with a view of each event, in order. Returns the number of events.
pub fn walk_chunk(chunk: &Chunk, mut visit: impl FnMut(&mut EventView<'_>)) -> u64 {
    let info = chunk.info();
    let ctx = TraceContext::from_meta(&chunk.meta());
    let mut state = State::new(ClockAnchor {
        mono_ns: info.mono_anchor_ns,
        wall_ns: info.wall_anchor_ns,
    });
    for p in chunk.snapshot().processes {
        state.seed(p);
    }
    let mut scratch = Scratch::default();
    let mut prev_wall = 0;
    let mut n = 0;
    // Events are decoded one at a time, not as a whole chunk, into one
    // reused event (no allocation per event): less memory and the event
    // is still in cache when it is evaluated. An event of a kind this
    // version does not know is skipped but keeps its number.
    let mut cursor = chunk.cursor();
    let mut i = 0u64;
    while let Some(item) = cursor.next_event() {
        i += 1;
        let Some(ev) = item else {
            continue;
        };
        n += 1;
        let num = info.first_event + i;
        let wall = info.wall_ns(ev.ts);
        let before = view_before_apply(ev);
        if !before {
            state.apply(ev);
        }
        {
            let mut view = EventView::new(&ctx, &state, ev, num, wall, prev_wall, &mut scratch);
            visit(&mut view);
        }
        if before {
            state.apply(ev);
        }
        prev_wall = wall;
    }
    n
}
