//! The writer thread: owns the [`TraceWriter`] and the writer's copy of the
//! [`State`].
//!
//! The tracer sends [`Msg`]s through a bounded channel, which the writer
//! polls (drain, then sleep `POLL`) rather than waits on, so sending costs
//! the tracer no wake-up. For each event the
//! writer thread calls `push(&event, &state)` and then `state.apply(&event)`
//! (**Invariant:** push before apply, so a chunk's snapshot is the state
//! before its first event). A full channel blocks the tracer, and with it
//! the workload: backpressure, never a silent drop.
//!
//! The [`TraceWriter`] is created on this thread, after the metadata is
//! complete (ECS task metadata may take up to a second to fetch): the
//! workload starts meanwhile, its first events wait in the channel.
//! Writability of the output was checked before the workload started.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trace_format::model::{Event, Process, TraceMeta};
use trace_format::writer::{TraceWriter, WriteSummary, WriterOptions};

use crate::error::{CaptureError, Result};
use crate::state::{ClockAnchor, State};

/// What the tracer sends to the writer thread.
pub enum Msg {
    Event(Event),
    /// A process read from `/proc` at attach time.
    Seed(Box<Process>),
}

/// Handle to the writer thread.
pub struct Sink {
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<Result<WriteSummary>>>,
}

/// How often the writer is ticked (closing chunks whose time is up).
const TICK: Duration = Duration::from_millis(100);
/// How long the writer sleeps when the channel is empty. At 16k events of
/// capacity this allows 8M events/s before the tracer would block.
const POLL: Duration = Duration::from_millis(2);

impl Sink {
    /// Starts the writer thread. `meta` is called on that thread.
    pub fn spawn(
        path: PathBuf,
        opts: WriterOptions,
        meta: Box<dyn FnOnce() -> TraceMeta + Send>,
        anchor: ClockAnchor,
        capacity: usize,
    ) -> Result<Sink> {
        let (tx, rx) = sync_channel(capacity);
        let handle = std::thread::Builder::new()
            .name("capture-writer".into())
            .spawn(move || run(path, opts, meta, anchor, rx))
            .map_err(|source| CaptureError::Io {
                what: "spawning the writer thread".into(),
                source,
            })?;
        Ok(Sink {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Sends one message, blocking while the channel is full. Fails only
    /// when the writer thread stopped (its error comes from [`Sink::finish`]).
    pub fn send(&self, msg: Msg) -> Result<()> {
        match &self.tx {
            Some(tx) => tx
                .send(msg)
                .map_err(|_| CaptureError::WriterGone("stopped")),
            None => Err(CaptureError::WriterGone("is closed")),
        }
    }

    /// Another handle on the same channel, for a helper tracer thread
    /// (`crate::pool`): it sends, and the writer ends once every handle is
    /// gone; only the first handle [`finish`](Sink::finish)es.
    pub fn handle(&self) -> Sink {
        Sink {
            tx: self.tx.clone(),
            handle: None,
        }
    }

    /// Closes the channel and waits for the trace to be finished.
    pub fn finish(mut self) -> Result<WriteSummary> {
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(CaptureError::WriterGone("panicked")),
            None => Err(CaptureError::WriterGone("is closed")),
        }
    }
}

fn werr(e: trace_format::error::WriteError) -> CaptureError {
    CaptureError::Writer(e)
}

fn run(
    path: PathBuf,
    opts: WriterOptions,
    meta: Box<dyn FnOnce() -> TraceMeta + Send>,
    anchor: ClockAnchor,
    rx: Receiver<Msg>,
) -> Result<WriteSummary> {
    crate::signals::block();
    let meta = meta();
    let mut w = TraceWriter::create(&path, opts, meta).map_err(werr)?;
    let mut state = State::new(anchor);
    let mut last_tick = Instant::now();
    loop {
        // Drain what is there, then sleep: the writer never waits inside
        // the channel, so the tracer's send never has a sleeper to wake (a
        // futex wake, often cross-CPU, per event while a tracee is stopped).
        match rx.try_recv() {
            Ok(Msg::Event(ev)) => {
                w.push(&ev, &state).map_err(werr)?;
                state.apply(&ev);
                continue_tick(&mut w, &state, &mut last_tick)?;
                continue;
            }
            Ok(Msg::Seed(p)) => {
                state.seed(*p);
                continue;
            }
            Err(TryRecvError::Empty) => std::thread::sleep(POLL),
            Err(TryRecvError::Disconnected) => break,
        }
        if last_tick.elapsed() >= TICK {
            w.tick(&state).map_err(werr)?;
            last_tick = Instant::now();
        }
    }
    w.finish().map_err(werr)
}

/// Ticks the writer while events keep coming (a busy channel never sleeps,
/// so the tick in the loop would not run).
fn continue_tick(w: &mut TraceWriter, state: &State, last: &mut Instant) -> Result<()> {
    if last.elapsed() >= TICK {
        w.tick(state).map_err(werr)?;
        *last = Instant::now();
    }
    Ok(())
}
