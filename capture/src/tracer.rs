//! The ptrace loop.
//!
//! One [`Tracer`] runs on one thread: ptrace requests are only accepted from
//! the thread that attached, so the type is `!Send` (a `PhantomData` of a
//! raw pointer). It waits for any tracee (`waitpid(-1, __WALL)`), turns the
//! wait status into a [`Stop`], acts on it, and resumes the thread with
//! `PTRACE_SYSCALL` (under a `--syscalls` seccomp filter: `PTRACE_CONT`,
//! except between a `PTRACE_EVENT_SECCOMP` stop and that syscall's exit),
//! doing as little as possible while the tracee is stopped: one
//! `PTRACE_GET_SYSCALL_INFO`, the memory reads the syscall table asks for,
//! and a channel send. Every few stops it may move itself (and one lone
//! single-threaded tracee) to share a CPU ([`crate::placement`]).
//!
//! Per thread it keeps the syscall-entry record (number, arguments, entry
//! params, entry time) until the matching exit stop, when the
//! `SyscallEvent` is emitted. Syscalls that never return (exit, a
//! successful exec's old image, a thread killed mid-call) are emitted with
//! `no_return` at `PTRACE_EVENT_EXIT` or at the thread's death. Under a
//! filter, the syscalls of [`crate::stops`] (`close` when the set does not
//! name it) are emitted at their seccomp stop with `no_return` and resumed
//! with `PTRACE_CONT`: one stop, no observed result.
//!
//! Transparency rules (ptrace(2) names):
//! - signal-delivery-stop: the signal is recorded and re-injected;
//! - group-stop (SEIZE mode, `PTRACE_EVENT_STOP` with a stop signal): the
//!   thread is left stopped with `PTRACE_LISTEN`, so the job-control stop
//!   really happens and SIGCONT ends it;
//! - `PTRACE_EVENT_STOP` with SIGTRAP (first stop of an auto-attached
//!   child, `PTRACE_INTERRUPT`, SIGCONT waking a listener): resumed;
//! - a new child's first stop may arrive before its parent's
//!   `PTRACE_EVENT_FORK/CLONE`: it is parked until the parent's event
//!   announces it, so `ProcessStart` always precedes the child's events.
//!
//! **Invariant:** every stop of a known thread ends with exactly one resume
//! (`PTRACE_SYSCALL`, `PTRACE_CONT`, `PTRACE_LISTEN` or `PTRACE_DETACH`),
//! except a parked early child, resumed when announced.
//!
//! **Invariant:** every tracee is recorded until it exits, the main
//! process's survivors included (as `strace -f` does); `--detach-on-exit`
//! releases the survivors when the main process exits, and as PID 1 they
//! are killed then (the kernel kills a namespace whose init exits). A
//! tracee running under capture's seccomp filter is never detached (its
//! recorded syscalls would fail with `ENOSYS` without a tracer): after the
//! main process exits, or the writer fails, the tracer keeps serving its
//! stops until every tracee has exited.
//!
//! Denials: `io_uring_setup` (ENOSYS, unless `--allow-io-uring`) and
//! `ptrace` attach/seize of capture's own threads (EPERM) are skipped at
//! their entry stop and answered at their exit stop (`arch::deny_syscall`),
//! recorded with a `Denied` marker. A restricted tracee's
//! `sched_getaffinity` is answered with its original CPU set
//! ([`crate::placement`]).
//!
//! **Invariant:** an event is sent to the writer before the tracer's own
//! copy of the state applies it (see [`crate::state`]).
//!
//! With `--tracers N` ([`crate::pool`]) the main tracer may hand a new
//! process to a helper at its first stop (`Tracer::hand_over`); a helper
//! is a `Tracer` too ([`Tracer::helper`], [`Tracer::run_helper`]) that
//! adopts what it is handed and traces it and its descendants. Each copy
//! of the state then holds its own tracer's processes.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use trace_format::error::Chain;

use nix::errno::Errno;
use trace_format::model::{
    Event, EventBody, Exec, Marker, MarkerKind, Param, ProcessStart, SignalAction, SignalEvent,
    SockAddr, SyscallEvent, ThreadExit, Value, result_index,
};
use trace_format::syscalls::{self, SyscallSet};

use crate::arch;
use crate::clock::mono_ns;
use crate::decode::{self, Ctx};
use crate::error::{CaptureError, Result};
use crate::handover::{self, Adopted, Filters, Kept};
use crate::placement::{self, CpuAffinity, Placement};
use crate::pool::{self, Handed, Pool};
use crate::procfs;
use crate::ptrace::{self, Stop, SyscallInfo, event};
use crate::rebalance;
use crate::signals;
use crate::sink::{Msg, Sink};
use crate::state::process_table::clone_flags::CLONE_THREAD;
use crate::state::{State, sysno};
use crate::stopped::Stopped;

/// Counters for the exit summary.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub stops: u64,
    pub events: u64,
    pub syscalls: u64,
    /// Syscall exits whose entry was not seen (attach mid-call).
    pub unmatched_exits: u64,
    /// Syscalls of a compat ABI (i386, x32) not recorded.
    pub foreign_syscalls: u64,
    pub tracer_errors: u64,
    /// New threads handed to helper tracers.
    pub handovers: u64,
    /// Busy processes moved from the main tracer to a helper
    /// ([`crate::rebalance`]).
    pub rebalanced: u64,
}

impl Stats {
    /// Adds a helper tracer's counts.
    pub fn add(&mut self, o: &Stats) {
        self.stops += o.stops;
        self.events += o.events;
        self.syscalls += o.syscalls;
        self.unmatched_exits += o.unmatched_exits;
        self.foreign_syscalls += o.foreign_syscalls;
        self.tracer_errors += o.tracer_errors;
        self.handovers += o.handovers;
        self.rebalanced += o.rebalanced;
    }
}

/// The tracers' one copy of the state ([`Tracer`]'s `state`).
pub type SharedState = Arc<Mutex<State>>;

/// A new shared state.
pub fn shared_state(state: State) -> SharedState {
    Arc::new(Mutex::new(state))
}

/// Locks the shared state (a panic while it was held left it as it was:
/// decoding goes on with it).
pub fn lock_state(state: &SharedState) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why [`Tracer::hand_to`] hands a thread over (what the summary counts).
#[derive(Clone, Copy)]
enum Why {
    /// At its first stop (`Stats::handovers`).
    Birth,
    /// Busy, at a syscall-exit stop (`Stats::rebalanced`).
    Busy,
}

/// How the tracer got its tracees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// It launched the workload (main process `pid`).
    Launch,
    /// It attached to `pid` and detaches when done.
    Attach,
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The main process exited with this wait status.
    Exited(i32),
    /// The tracer detached (attach mode, or after the writer failed); the
    /// main process may still run.
    Detached,
}

struct Entry {
    id: Option<u16>,
    args: [u64; 6],
    ts: u64,
    params: Vec<Param>,
    /// Denied by capture ([`Tracer::denial`]): skipped, returns `-errno`.
    deny: Option<i32>,
}

#[derive(Default)]
struct ThreadInfo {
    pid: i32,
    /// Its first stop was seen (auto-attached children start stopped).
    started: bool,
    entry: Option<Entry>,
    /// The launched child before its execve: its syscalls are capture's
    /// own launch code (waiting for the go byte), not the workload's.
    prelude: bool,
    /// A new thread (not a vfork child), which may be handed to a helper
    /// tracer at its first stop ([`crate::pool`]'s unit of placement).
    movable: bool,
    /// Its stops in the current [`rebalance::Window`] (main tracer with
    /// helpers only).
    stops: u32,
    /// Its `PTRACE_EVENT_EXIT` was seen: its next report is its death,
    /// or, for a leader whose process a thread on another tracer exec'd,
    /// none (that tracer now has its tid).
    exiting: bool,
}

impl ThreadInfo {
    /// A thread of process `pid` whose first stop is still to come.
    fn new(pid: i32) -> ThreadInfo {
        ThreadInfo {
            pid,
            ..ThreadInfo::default()
        }
    }

    /// A thread of process `pid` whose first stop was seen (seized,
    /// adopted, or an exec's survivor).
    fn started(pid: i32) -> ThreadInfo {
        ThreadInfo {
            pid,
            started: true,
            ..ThreadInfo::default()
        }
    }
}

/// The tracer; see the module documentation.
pub struct Tracer {
    mode: Mode,
    main_pid: i32,
    threads: HashMap<i32, ThreadInfo>,
    /// Stops of threads not announced yet (child before parent's event).
    early: HashMap<i32, i32>,
    /// Processes currently in a group-stop (recorded once).
    stopped: Arc<Stopped>,
    /// The tracers' copy of the state, one for every tracer of a pool
    /// (decoding reads it; `emit` applies to it before the thread that
    /// caused an event is resumed, so a later stop of any thread, on any
    /// tracer, is decoded with it).
    state: SharedState,
    sink: Sink,
    snaplen: usize,
    main_status: Option<i32>,
    detaching: bool,
    detached: u64,
    sink_failed: Option<CaptureError>,
    /// `--syscalls`: `None` records every syscall.
    set: Option<SyscallSet>,
    /// Recorded from their seccomp stop alone, no exit stop
    /// ([`crate::stops`]).
    entry_only: SyscallSet,
    /// A seccomp filter selects the syscalls that stop (launch mode with a
    /// set): threads run with `PTRACE_CONT` unless a syscall is pending.
    seccomp: bool,
    placement: Placement,
    /// `--detach-on-exit`: release survivors when the main process exits.
    detach_on_exit: bool,
    /// `--allow-io-uring`: io_uring_setup is not denied.
    allow_io_uring: bool,
    /// The main process's exit was handled ([`Tracer::on_main_exit`]).
    main_exit_done: bool,
    /// capture is its PID namespace's init: survivors of the main process
    /// are killed when it exits, as the kernel does when init exits.
    pid1: bool,
    /// Finds processes entering the namespace from outside (PID 1 only).
    entered: Option<crate::entered::Scanner>,
    /// Processes released by `--detach-on-exit` (not "entered" later).
    released: HashSet<i32>,
    /// `--tracers N`: the pool this tracer belongs to.
    pool: Option<Arc<Pool>>,
    /// A helper: its index and inbox.
    helper: Option<(usize, Receiver<Box<Handed>>)>,
    /// This tracer thread's tid.
    me: i32,
    /// The main tracer with helpers: its load-counting window.
    window: Option<rebalance::Window>,
    /// A busy process chosen to move to this helper at its next
    /// syscall-exit stop ([`crate::rebalance`]).
    moving: Option<(i32, usize)>,
    pub stats: Stats,
    _not_send: PhantomData<*const ()>,
}

impl Tracer {
    /// A tracer for tracees already seized: `tids` of process `main_pid`
    /// (all stopped or about to stop with `PTRACE_EVENT_STOP`, except in
    /// launch mode where the main thread was already resumed).
    pub fn new(
        mode: Mode,
        main_pid: i32,
        tids: &[i32],
        state: SharedState,
        sink: Sink,
        snaplen: usize,
    ) -> Tracer {
        let threads = tids
            .iter()
            .map(|&tid| {
                (
                    tid,
                    ThreadInfo {
                        pid: main_pid,
                        started: mode == Mode::Launch,
                        prelude: mode == Mode::Launch,
                        ..ThreadInfo::default()
                    },
                )
            })
            .collect();
        Tracer {
            mode,
            main_pid,
            threads,
            early: HashMap::new(),
            stopped: Arc::default(),
            state,
            sink,
            snaplen,
            main_status: None,
            detaching: false,
            detached: 0,
            sink_failed: None,
            set: None,
            entry_only: SyscallSet::new(),
            seccomp: false,
            placement: Placement::new(CpuAffinity::None),
            detach_on_exit: false,
            allow_io_uring: false,
            main_exit_done: false,
            pid1: false,
            entered: None,
            released: HashSet::new(),
            pool: None,
            helper: None,
            // SAFETY: gettid has no arguments.
            me: unsafe { libc::gettid() },
            window: None,
            moving: None,
            stats: Stats::default(),
            _not_send: PhantomData,
        }
    }

    /// Under a seccomp filter, records the syscalls of `entry_only` from
    /// their `PTRACE_EVENT_SECCOMP` stop alone, with no exit stop and no
    /// observed result ([`crate::stops`]). Without a filter it has no
    /// effect.
    pub fn with_entry_only(mut self, entry_only: SyscallSet) -> Tracer {
        self.entry_only = entry_only;
        self
    }

    /// Records only the syscalls of `set` (`None`: all). With `seccomp`, the
    /// tracees run under the filter built from the same set: the entry of a
    /// recorded syscall is a `PTRACE_EVENT_SECCOMP` stop, and threads are
    /// resumed with `PTRACE_CONT` except between such a stop and the
    /// syscall's exit.
    pub fn with_syscalls(mut self, set: Option<SyscallSet>, seccomp: bool) -> Tracer {
        self.seccomp = seccomp && set.is_some();
        self.set = set;
        self
    }

    /// What happens when the main process exits and which syscalls are
    /// denied: `detach_on_exit` releases the survivors (else they are
    /// recorded until the last one exits; as PID 1 they are killed, as the
    /// kernel would); `allow_io_uring` lets `io_uring_setup` through.
    pub fn with_policy(mut self, detach_on_exit: bool, allow_io_uring: bool) -> Tracer {
        self.detach_on_exit = detach_on_exit;
        self.allow_io_uring = allow_io_uring;
        self.pid1 = crate::entered::is_namespace_init();
        self
    }

    /// Attaches processes entering the PID namespace from outside
    /// ([`crate::entered`]).
    pub fn with_entered(mut self, scanner: Option<crate::entered::Scanner>) -> Tracer {
        self.entered = scanner;
        self
    }

    /// Makes this the main tracer of `pool`: it may hand new processes to
    /// the pool's helpers.
    pub fn with_pool(mut self, pool: Option<Arc<Pool>>) -> Tracer {
        if let Some(p) = &pool {
            self.stopped = p.stopped.clone();
            p.set_main_pid(self.main_pid);
        }
        self.window = pool.as_ref().map(|p| {
            let mut w = rebalance::Window::new(0, p.helper_stops());
            w.eager = p.birth() == pool::Birth::Moves;
            w
        });
        self.pool = pool;
        self
    }

    /// A helper tracer of `pool` (index `index`, fed by `inbox`): it
    /// starts with no tracee; see [`Tracer::run_helper`].
    pub fn helper(mut self, pool: Arc<Pool>, index: usize, inbox: Receiver<Box<Handed>>) -> Tracer {
        self.threads.clear();
        self.stopped = pool.stopped.clone();
        self.pool = Some(pool);
        self.helper = Some((index, inbox));
        self.window = None;
        self
    }

    /// Places the tracer thread by `placement` ([`crate::placement`]).
    pub fn with_placement(mut self, placement: Placement) -> Tracer {
        self.placement = placement;
        self
    }

    /// Sends an event to the writer, then applies it to the tracer's state.
    pub fn emit(&mut self, ev: Event) {
        if self.sink_failed.is_some() {
            return;
        }
        // The tracer's copy only serves decoding of *later* stops, so it may
        // apply before sending; the writer's copy is the one that must
        // push first (see `sink`).
        lock_state(&self.state).apply(&ev);
        if let Err(e) = self.sink.send(Msg::Event(ev)) {
            self.sink_failed = Some(e);
            // Under a seccomp filter a detached tracee would get ENOSYS for
            // every syscall of the set (RET_TRACE without a tracer): stay
            // attached, stopping and resuming without recording.
            if !self.detaching && !self.seccomp {
                self.begin_detach();
            }
            return;
        }
        self.stats.events += 1;
    }

    /// Records a marker now.
    pub fn marker(&mut self, kind: MarkerKind, count: u64, message: String) {
        let ev = Event {
            ts: mono_ns(),
            tid: self.main_pid,
            pid: self.main_pid,
            body: EventBody::Marker(Marker {
                kind,
                count,
                message,
            }),
        };
        self.emit(ev);
    }

    /// Gives the sink back when the loop is over.
    pub fn into_sink(self) -> (Sink, Stats, Option<CaptureError>) {
        (self.sink, self.stats, self.sink_failed)
    }

    /// Runs until the main process exited (launch) or the tracer detached.
    pub fn run(&mut self) -> Result<Outcome> {
        loop {
            self.pool_news();
            if self.main_status.is_some() && !self.main_exit_done {
                self.main_exit_done = true;
                self.on_main_exit();
            }
            self.record_forwarded();
            if self.mode == Mode::Attach && signals::detach_requested() && !self.detaching {
                self.begin_detach();
            }
            if self.threads.is_empty() && self.early.is_empty() {
                if self.helpers_busy() {
                    // Helpers still trace survivors: forward signals to
                    // them (above) until they are done.
                    std::thread::sleep(pool::BACKSTOP);
                    continue;
                }
                break;
            }
            if !self.main_exit_done
                && !self.detaching
                && self.entered.as_ref().is_some_and(|s| s.due())
            {
                self.attach_entered();
            }
            // With helpers, only this thread's tracees (`__WNOTHREAD`): a
            // stop collected here could not be answered by its tracer. And
            // while a helper traces something, look before collecting
            // (`wait_main`); while none does, nothing but this thread's
            // own tracees can report here, and only this thread gives a
            // helper work (a handover, after this wait returns), so one
            // `waitpid` does (a lone process under `--tracers N` pays no
            // second syscall per stop).
            let waited = match &self.pool {
                Some(pool) if !pool.idle() => self.wait_main(),
                Some(_) => ptrace::wait_own(false),
                None => ptrace::wait_any(false),
            };
            match waited {
                Ok(None) => continue,
                Ok(Some((tid, status))) => self.on_wait(tid, status),
                Err(Errno::ECHILD) if self.helpers_busy() => {
                    self.threads.clear();
                    self.early.clear();
                }
                Err(Errno::ECHILD) => break,
                Err(e) => return Err(CaptureError::ptrace("waitpid", -1, e)),
            }
        }
        // A helper may have seen the main process end as its last tracee
        // went (the loop above ends once the helpers are idle).
        self.pool_news();
        self.record_forwarded();
        if self.detached > 0 {
            self.marker(
                MarkerKind::Detach,
                self.detached,
                format!("detached from {} threads", self.detached),
            );
        }
        Ok(match self.main_status {
            Some(s) => Outcome::Exited(s),
            None => Outcome::Detached,
        })
    }

    /// The main tracer's wait with helpers: the next report of one of its
    /// own tracees (or of an untraced orphan to reap). A report of a real
    /// child of capture's main thread that a helper traces (an orphan
    /// reparented to capture, or the launched process after a thread on a
    /// helper exec'd) is left for that helper ([`ptrace::peek_own`]).
    fn wait_main(&mut self) -> std::result::Result<Option<(i32, i32)>, Errno> {
        let Some((tid, exec)) = ptrace::peek_own()? else {
            return Ok(None);
        };
        let mine = match self.threads.get(&tid) {
            // A leader that exited, or an exec reported under its tid,
            // may be another tracer's thread now (checked below).
            Some(t) if !t.exiting && !exec => true,
            _ => procfs::status(tid).is_none_or(|s| s.tracer_pid == 0 || s.tracer_pid == self.me),
        };
        if !mine {
            if self.threads.get(&tid).is_some_and(|t| t.pid == tid) {
                // A leader whose tid a thread on a helper took over by an
                // exec: no report of it will come here.
                self.forget_replaced_leader(tid);
            }
            // Its tracer collects it; look again shortly.
            std::thread::sleep(std::time::Duration::from_micros(100));
            return Ok(None);
        }
        ptrace::take(tid)
    }

    /// Whether helper tracers still trace something (main tracer).
    fn helpers_busy(&self) -> bool {
        self.helper.is_none() && self.pool.as_ref().is_some_and(|p| !p.idle())
    }

    /// The main process exited. Its survivors are recorded until the last
    /// one exits (as `strace -f` does), except: as PID 1 they are killed
    /// (the kernel kills a PID namespace when its init exits, and capture
    /// is about to); with `--detach-on-exit` they are released (not under
    /// a seccomp filter: detached, they would get ENOSYS for every syscall
    /// of the set, so capture keeps tracing them).
    fn on_main_exit(&mut self) {
        signals::main_gone();
        let survivors = self.survivors();
        if survivors.is_empty() || self.detaching {
            return;
        }
        if self.pid1 && self.mode == Mode::Launch {
            for pid in &survivors {
                // SAFETY: kill(2) on a process we trace (not reaped, so
                // its pid is still its own).
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            self.marker(
                MarkerKind::Detach,
                survivors.len() as u64,
                format!(
                    "the launched command exited; capture is PID 1: {} remaining processes killed, as the kernel does when a PID namespace's init exits",
                    survivors.len()
                ),
            );
            return;
        }
        if !self.detach_on_exit {
            return;
        }
        if self.seccomp {
            self.marker(
                MarkerKind::Detach,
                0,
                "--detach-on-exit: not under a --syscalls filter (released processes would get ENOSYS); recording them until they exit".into(),
            );
            return;
        }
        self.marker(
            MarkerKind::Detach,
            survivors.len() as u64,
            format!(
                "--detach-on-exit: the launched command exited; releasing {} processes: {:?}",
                survivors.len(),
                survivors
            ),
        );
        self.released.extend(survivors);
        self.begin_detach();
    }

    /// Processes still traced, by pid.
    fn survivors(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.threads.values().map(|t| t.pid).collect();
        if self.helper.is_none()
            && let Some(pool) = &self.pool
        {
            v.extend(pool.processes());
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Records the signals capture received and forwarded, each naming its
    /// original sender; after the main process exited, forwards them to
    /// every process still traced.
    fn record_forwarded(&mut self) {
        let lost = signals::overflowed();
        if lost > 0 {
            self.tracer_error(format!(
                "{lost} signals sent to capture were forwarded but not recorded (queue full)"
            ));
        }
        for f in signals::take_forwarded() {
            let targets = if f.sent {
                vec![self.main_pid]
            } else if self.main_exit_done {
                self.survivors()
            } else {
                Vec::new()
            };
            for pid in targets {
                if !f.sent {
                    // SAFETY: kill(2) on a process we trace (not reaped).
                    unsafe { libc::kill(pid, f.signo) };
                }
                let ev = Event {
                    ts: mono_ns(),
                    tid: pid,
                    pid,
                    body: EventBody::Signal(SignalEvent {
                        signo: f.signo,
                        code: 0,
                        sender_pid: f.sender_pid,
                        sender_uid: f.sender_uid,
                        action: SignalAction::Forwarded,
                    }),
                };
                self.emit(ev);
            }
        }
    }

    /// Attaches every process that entered the PID namespace from outside
    /// since the last look ([`crate::entered`]).
    fn attach_entered(&mut self) {
        let (threads, early, released) = (&self.threads, &self.early, &self.released);
        let Some(scanner) = self.entered.as_mut() else {
            return;
        };
        let found = scanner.candidates(|p| {
            threads.contains_key(&p) || early.contains_key(&p) || released.contains(&p)
        });
        for pid in found {
            self.attach_one_entered(pid);
        }
    }

    /// Attaches `pid` (entered from outside) and records it: a marker
    /// saying so, a `ProcessStart` with its real parent (none inside the
    /// namespace unless its parent is traced), an `Exec` with its image as
    /// `/proc` shows it, and the rest of `/proc` (cwd, fds) as a seed of
    /// both state copies.
    fn attach_one_entered(&mut self, pid: i32) {
        // Attaching an earlier candidate may have made this one ours (a
        // child it forked meanwhile is auto-attached, announced later).
        let me = std::process::id() as i32;
        let ours = |pid: i32| procfs::status(pid).is_some_and(|s| s.tracer_pid == me);
        if self.threads.contains_key(&pid) || self.early.contains_key(&pid) || ours(pid) {
            return;
        }
        let ppid = procfs::status(pid).map(|s| s.ppid).unwrap_or(0);
        let tids = match crate::attach::attach(pid) {
            Ok(t) => t,
            Err(CaptureError::NoSuchProcess { .. } | CaptureError::TraceeDied { .. }) => return,
            Err(_) if ours(pid) || procfs::status(pid).is_none() => return,
            Err(e) => {
                self.tracer_error(format!(
                    "cannot attach to pid {pid}, which entered the PID namespace from outside: {e}"
                ));
                return;
            }
        };
        let seed = crate::attach::seed(pid);
        let parent_traced = ppid > 0 && self.threads.contains_key(&ppid);
        self.marker(
            MarkerKind::Attach,
            pid as u64,
            format!(
                "pid {pid} ({}) entered the PID namespace from outside (parent: {}); attached {} threads",
                String::from_utf8_lossy(&seed.comm),
                if ppid > 0 {
                    format!("pid {ppid}")
                } else {
                    "outside the namespace".to_string()
                },
                tids.len()
            ),
        );
        let ts = mono_ns();
        self.emit(Event {
            ts,
            tid: pid,
            pid,
            body: EventBody::ProcessStart(ProcessStart {
                parent_tid: if parent_traced { ppid } else { 0 },
                child_pid: pid,
                child_tid: pid,
                clone_flags: libc::SIGCHLD as u64,
            }),
        });
        for &t in tids.iter().filter(|&&t| t != pid) {
            self.emit(Event {
                ts,
                tid: t,
                pid,
                body: EventBody::ProcessStart(ProcessStart {
                    parent_tid: pid,
                    child_pid: pid,
                    child_tid: t,
                    clone_flags: CLONE_THREAD | 0x0f00,
                }),
            });
        }
        self.emit(Event {
            ts,
            tid: pid,
            pid,
            body: EventBody::Exec(Exec {
                old_tid: pid,
                filename_raw: Vec::new(),
                filename_resolved: seed.exepath.clone(),
                argv: seed.argv.clone(),
                env: seed.env.clone(),
                exe_from_memfd: seed.exe_from_memfd,
                exepath: seed.exepath.clone(),
                comm: seed.comm.clone(),
                uid: seed.uid,
                euid: seed.euid,
                gid: seed.gid,
                egid: seed.egid,
                cap_permitted: seed.cap_permitted,
                cap_effective: seed.cap_effective,
                exe_flags: seed.exe_flags,
            }),
        });
        // cwd, fds and the rest of /proc: into both copies of the state.
        lock_state(&self.state).seed(seed.clone());
        if let Err(e) = self.sink.send(Msg::Seed(Box::new(seed))) {
            self.sink_failed.get_or_insert(e);
        }
        for t in tids {
            self.threads.insert(t, ThreadInfo::new(pid));
        }
    }

    fn tracer_error(&mut self, what: String) {
        self.stats.tracer_errors += 1;
        self.marker(MarkerKind::TracerError, 0, what);
    }

    /// Resumes with `PTRACE_SYSCALL`, or under a seccomp filter with
    /// `PTRACE_CONT` unless the thread is inside a recorded syscall (whose
    /// exit stop is wanted); a vanished tracee is not an error (its death is
    /// reported by wait).
    fn resume(&mut self, tid: i32, sig: i32) {
        let syscall_stops = !self.seccomp
            || self.threads.get(&tid).is_some_and(|t| t.entry.is_some())
            || self.moving.is_some_and(|(pid, _)| pid == tid);
        let r = if syscall_stops {
            ptrace::resume_syscall(tid, sig)
        } else {
            ptrace::resume_cont(tid, sig)
        };
        match r {
            Ok(()) | Err(CaptureError::TraceeDied { .. }) => {}
            Err(e) => self.tracer_error(Chain(&e).to_string()),
        }
    }

    fn on_wait(&mut self, tid: i32, status: i32) {
        self.stats.stops += 1;
        if self.window.is_some() {
            if let Some(t) = self.threads.get_mut(&tid) {
                t.stops = t.stops.saturating_add(1);
            }
            if self
                .window
                .as_ref()
                .is_some_and(|w| self.stats.stops.is_multiple_of(w.every()))
            {
                self.balance();
            }
        }
        if let Some(placement::Window::Single(t)) = self.placement.on_stop(tid) {
            // Only one thread stopped lately: share a CPU with it, if its
            // process has no other thread.
            let pid = self.pid_of(t);
            // Alone in its process on every tracer: with helpers, another
            // thread of it may be served elsewhere (and would read the
            // restricted CPU set), so /proc counts them.
            let alone = self.threads.values().filter(|i| i.pid == pid).count() == 1
                && (self.pool.is_none() || procfs::status(pid).is_some_and(|s| s.threads == 1));
            if alone && self.threads.contains_key(&t) {
                self.placement.pin_with(t);
            } else {
                self.placement.release();
            }
        }
        let stop = Stop::from_status(status);
        if !self.threads.contains_key(&tid) && !self.exec_took_over(tid, stop) {
            if stop.is_death() {
                // An untraced orphan reaped (capture is a subreaper), or a
                // thread forgotten after a non-leader exec.
                return;
            }
            if self.detaching {
                // A child whose parent was detached before announcing it.
                if ptrace::detach(tid, 0).is_ok() {
                    self.detached += 1;
                }
                return;
            }
            self.early.insert(tid, status);
            return;
        }
        if self.detaching {
            self.detach_stop(tid, status, stop);
            return;
        }
        match stop {
            Stop::Exited { .. } | Stop::Killed { .. } => self.on_death(tid, status),
            Stop::Syscall => self.on_syscall(tid),
            Stop::Event { event } => self.on_event(tid, event),
            Stop::GroupStop { signal } => self.on_group_stop(tid, signal),
            Stop::Interrupt { .. } => {
                self.clear_stopped(tid);
                let mut movable = false;
                if let Some(t) = self.threads.get_mut(&tid) {
                    movable = t.movable && !t.started;
                    t.started = true;
                }
                if movable && self.hand_over(tid) {
                    return;
                }
                self.resume(tid, 0);
            }
            Stop::Signal { signal } => self.on_signal(tid, signal),
            Stop::Continued => {}
        }
    }

    fn pid_of(&self, tid: i32) -> i32 {
        self.threads.get(&tid).map(|t| t.pid).unwrap_or(tid)
    }

    fn clear_stopped(&mut self, tid: i32) {
        if self.stopped.any() {
            let pid = self.pid_of(tid);
            self.stopped.clear(pid);
        }
    }

    fn on_signal(&mut self, tid: i32, signal: i32) {
        self.clear_stopped(tid);
        let (code, sender_pid, sender_uid) = ptrace::siginfo(tid).unwrap_or((0, 0, 0));
        let pid = self.pid_of(tid);
        self.emit(Event {
            ts: mono_ns(),
            tid,
            pid,
            body: EventBody::Signal(SignalEvent {
                signo: signal,
                code,
                sender_pid,
                sender_uid,
                action: SignalAction::Delivered,
            }),
        });
        self.resume(tid, signal);
    }

    fn on_group_stop(&mut self, tid: i32, signal: i32) {
        let pid = self.pid_of(tid);
        if self.stopped.insert(pid) {
            self.emit(Event {
                ts: mono_ns(),
                tid,
                pid,
                body: EventBody::Signal(SignalEvent {
                    signo: signal,
                    action: SignalAction::Stopped,
                    ..SignalEvent::default()
                }),
            });
        }
        match ptrace::listen(tid) {
            Ok(()) | Err(CaptureError::TraceeDied { .. }) => {}
            Err(e) => {
                self.tracer_error(Chain(&e).to_string());
                self.resume(tid, 0);
            }
        }
    }

    fn on_syscall(&mut self, tid: i32) {
        let info = match ptrace::syscall_info(tid) {
            Ok(i) => i,
            Err(CaptureError::TraceeDied { .. }) => return,
            Err(e) => {
                self.tracer_error(Chain(&e).to_string());
                self.resume(tid, 0);
                return;
            }
        };
        match info {
            SyscallInfo::Entry { arch, nr, args } | SyscallInfo::Seccomp { arch, nr, args } => {
                let seccomp_stop = matches!(info, SyscallInfo::Seccomp { .. });
                let pending = self.threads.get(&tid).is_some_and(|t| t.entry.is_some());
                if pending && (seccomp_stop || self.seccomp) {
                    // The same syscall seen twice: a seccomp stop after its
                    // syscall-entry stop (a workload's own RET_TRACE filter
                    // without ours), or an entry stop after our seccomp
                    // stop (kernels before 4.8). The first one counts.
                    self.resume(tid, 0);
                    return;
                }
                let ts = mono_ns();
                let id = arch::canonical_id(arch, nr);
                let wanted = match (id, &self.set) {
                    (Some(id), Some(set)) => set.contains(id),
                    _ => true,
                };
                if let Some(t) = self.threads.get_mut(&tid)
                    && t.prelude
                {
                    if !matches!(id, Some(sysno::EXECVE)) {
                        self.resume(tid, 0);
                        return;
                    }
                    t.prelude = false;
                }
                if id.is_none() {
                    self.stats.foreign_syscalls += 1;
                }
                let deny =
                    id.and_then(|id| self.denial(tid, id, &arch::canonical_args(arch, id, args)));
                let wanted = wanted || deny.is_some();
                if !wanted || id.is_none() {
                    // Not recorded. Under a filter nothing is kept (the exit
                    // is not wanted: `PTRACE_CONT`); otherwise an entry
                    // without id marks the exit as expected.
                    if !self.seccomp
                        && let Some(t) = self.threads.get_mut(&tid)
                    {
                        t.entry = Some(Entry {
                            id: None,
                            args,
                            ts,
                            params: Vec::new(),
                            deny: None,
                        });
                    }
                    self.resume(tid, 0);
                    return;
                }
                let pid = self.pid_of(tid);
                let (args, params) = match id {
                    Some(id) => {
                        let args = arch::canonical_args(arch, id, args);
                        let params = match syscalls::by_id(id) {
                            Some(sc) => {
                                let state = lock_state(&self.state);
                                let ctx = Ctx {
                                    tid,
                                    pid,
                                    state: &state,
                                    snaplen: self.snaplen,
                                };
                                let mut p = decode::entry(&ctx, sc, &args);
                                special_entry(tid, id, &args, &mut p);
                                p
                            }
                            None => {
                                let mut p = Vec::new();
                                special_entry(tid, id, &args, &mut p);
                                p
                            }
                        };
                        (args, params)
                    }
                    None => (args, Vec::new()),
                };
                if id == Some(SCHED_SETAFFINITY) {
                    let target = target_tid(tid, args[0]);
                    let failed = self
                        .placement
                        .before_setaffinity(target, self.threads.keys().copied());
                    for (t, e) in failed {
                        self.tracer_error(format!(
                            "--cpu-affinity: cannot give thread {t} its CPUs back: {e}"
                        ));
                    }
                }
                let entry = Entry {
                    id,
                    args,
                    ts,
                    params,
                    deny,
                };
                if let Some(errno) = deny {
                    if let Err(e) = arch::deny_syscall(tid, -(errno as i64)) {
                        self.tracer_error(format!("cannot deny a syscall of {tid}: {e}"));
                    }
                    if seccomp_stop {
                        // Skipped at a seccomp stop: resumed with
                        // PTRACE_CONT, so no exit stop follows.
                        self.finish_syscall(tid, entry, -(errno as i64), false);
                        self.resume(tid, 0);
                        return;
                    }
                }
                if seccomp_stop
                    && entry.deny.is_none()
                    && id.is_some_and(|id| self.entry_only.contains(id))
                {
                    // One stop: recorded now, its result not observed
                    // (`crate::stops`), resumed with PTRACE_CONT.
                    self.finish_syscall(tid, entry, 0, true);
                    self.resume(tid, 0);
                    return;
                }
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.entry = Some(entry);
                }
            }
            SyscallInfo::Exit { rval, .. } => {
                let entry = self.threads.get_mut(&tid).and_then(|t| t.entry.take());
                let rval = match entry {
                    Some(e) => {
                        let rval = self.answer_exit(tid, &e, rval);
                        self.finish_syscall(tid, e, rval, false);
                        rval
                    }
                    // Under a filter, only a move asks for an exit stop
                    // without a recorded entry.
                    None if self.seccomp => rval,
                    None => {
                        self.stats.unmatched_exits += 1;
                        rval
                    }
                };
                if let Some((pid, helper)) = self.moving
                    && pid == tid
                {
                    self.moving = None;
                    if self.move_busy(tid, helper, rval) {
                        return;
                    }
                }
            }
            SyscallInfo::None => {}
        }
        self.resume(tid, 0);
    }

    /// Whether capture denies this syscall, with the errno it returns:
    /// `io_uring_setup` (ENOSYS, as Docker's default seccomp profile does,
    /// unless `--allow-io-uring`): io_uring moves data without syscalls the
    /// trace could see; `ptrace(PTRACE_ATTACH|PTRACE_SEIZE)` of one of
    /// capture's own threads (EPERM): both would stop for ever, each
    /// waiting for the other.
    fn denial(&self, _tid: i32, id: u16, args: &[u64; 6]) -> Option<i32> {
        const PTRACE_ATTACH: u64 = 16;
        const PTRACE_SEIZE: u64 = 0x4206;
        match id {
            IO_URING_SETUP if !self.allow_io_uring => Some(libc::ENOSYS),
            PTRACE
                if matches!(args[0], PTRACE_ATTACH | PTRACE_SEIZE)
                    && is_capture_task(args[1] as i32) =>
            {
                Some(libc::EPERM)
            }
            _ => None,
        }
    }

    /// At a syscall's exit stop: the return value of a denied syscall
    /// (set in the tracee), and the CPU set a `sched_getaffinity` of a
    /// tracee that placement restricts would report without capture
    /// (written over the kernel's answer; the return value is the mask
    /// size, the same either way). Returns the value the tracee sees.
    fn answer_exit(&mut self, tid: i32, e: &Entry, rval: i64) -> i64 {
        if let Some(errno) = e.deny {
            let r = -(errno as i64);
            if let Err(err) = arch::set_return(tid, r) {
                self.tracer_error(format!("cannot deny a syscall of {tid}: {err}"));
            }
            return r;
        }
        if e.id == Some(SCHED_GETAFFINITY) && rval > 0 {
            let target = target_tid(tid, e.args[0]);
            let traced_here = self.threads.contains_key(&target);
            if let Some(set) = self.placement.original_set(target, traced_here) {
                let bytes = placement::set_bytes(&set);
                let n = (rval as usize).min(bytes.len());
                if !crate::mem::write(tid, e.args[2], &bytes[..n]) {
                    self.tracer_error(format!(
                        "--cpu-affinity: cannot give {tid} its CPU set in sched_getaffinity"
                    ));
                }
            }
        }
        rval
    }

    /// Emits the `SyscallEvent` for `entry`.
    fn finish_syscall(&mut self, tid: i32, entry: Entry, ret: i64, no_return: bool) {
        let Some(id) = entry.id else {
            return;
        };
        if let Some(errno) = entry.deny {
            let name = syscalls::name(id).unwrap_or("syscall");
            self.marker(
                MarkerKind::Denied,
                u64::from(id),
                format!(
                    "{name} of thread {tid} denied by capture ({})",
                    if errno == libc::EPERM {
                        "EPERM: it would ptrace capture itself"
                    } else {
                        "ENOSYS: io_uring's I/O would not be recorded; --allow-io-uring permits it"
                    }
                ),
            );
        }
        let ts = mono_ns().max(entry.ts);
        let pid = self.pid_of(tid);
        let sc = syscalls::by_id(id);
        let mut params = entry.params;
        if !no_return {
            let state = lock_state(&self.state);
            let ctx = Ctx {
                tid,
                pid,
                state: &state,
                snaplen: self.snaplen,
            };
            if let Some(sc) = sc {
                decode::exit(&ctx, sc, &entry.args, ret, &mut params);
            }
            special_exit(&ctx, id, &entry.args, ret, &mut params);
        }
        let nargs = sc.map(|s| s.args.len()).unwrap_or(6);
        self.stats.syscalls += 1;
        self.emit(Event {
            ts,
            tid,
            pid,
            body: EventBody::Syscall(SyscallEvent {
                id,
                args: entry.args[..nargs].to_vec(),
                ret: if no_return { 0 } else { ret },
                duration_ns: (ts - entry.ts).min(u32::MAX as u64) as u32,
                params,
                no_return,
            }),
        });
    }

    fn on_event(&mut self, tid: i32, ev: i32) {
        match ev {
            // A syscall entry selected by the filter (resumed there).
            event::SECCOMP => return self.on_syscall(tid),
            event::FORK | event::VFORK | event::CLONE => self.on_new_child(tid, ev),
            event::EXEC => self.on_exec(tid),
            event::EXIT => {
                // The thread is exiting; its pending syscall never returns.
                let entry = self.threads.get_mut(&tid).and_then(|t| {
                    t.exiting = true;
                    t.entry.take()
                });
                if let Some(e) = entry {
                    self.finish_syscall(tid, e, 0, true);
                }
            }
            _ => {}
        }
        self.resume(tid, 0);
    }

    fn on_new_child(&mut self, tid: i32, ev: i32) {
        let child = match ptrace::event_msg(tid) {
            Ok(c) => c as i32,
            Err(_) => return,
        };
        if self.threads.contains_key(&child) {
            // Announced already by `announce_orphans` (a CLONE_PARENT
            // child whose announcement looked lost when another process
            // exited): one ProcessStart per child.
            return;
        }
        let pid = self.pid_of(tid);
        let flags = self
            .threads
            .get(&tid)
            .and_then(|t| t.entry.as_ref())
            .and_then(|e| match e.id {
                Some(sysno::CLONE) => Some(e.args[0]),
                Some(sysno::CLONE3) => e.params.iter().find_map(|p| match &p.value {
                    Value::CloneArgs(c) => Some(c.flags | (c.exit_signal & 0xff)),
                    _ => None,
                }),
                Some(sysno::FORK) => Some(libc::SIGCHLD as u64),
                Some(sysno::VFORK) => Some(0x4100 | libc::SIGCHLD as u64),
                _ => None,
            });
        let flags = match flags {
            Some(f) => f,
            // Unknown entry (attached mid-call): ask /proc.
            None => match procfs::status(child) {
                Some(s) if s.tgid == pid => CLONE_THREAD,
                _ if ev == event::CLONE => 0,
                _ => libc::SIGCHLD as u64,
            },
        };
        let child_pid = if flags & CLONE_THREAD != 0 {
            pid
        } else {
            child
        };
        // `crate::pool`'s unit of placement: a thread (all tracers share
        // the state), but not a vfork child, which runs on its parent's
        // stack until it execs.
        let movable = self.pool.is_some()
            && self.helper.is_none()
            && ev != event::VFORK
            && flags & CLONE_VFORK == 0;
        self.threads.insert(
            child,
            ThreadInfo {
                movable,
                ..ThreadInfo::new(child_pid)
            },
        );
        if child_pid == child
            && let (Some((index, _)), Some(pool)) = (&self.helper, &self.pool)
        {
            pool.process_born(*index, child);
        }
        if self.placement.restricts_on_clone() {
            // A restricted task cloned: everyone gets their CPUs back.
            let failed = self
                .placement
                .on_clone(tid, child, self.threads.keys().copied());
            for (t, e) in failed {
                self.tracer_error(format!(
                    "--cpu-affinity auto: cannot give thread {t} its CPUs back: {e}"
                ));
            }
        }
        self.emit(Event {
            ts: mono_ns(),
            tid: child,
            pid: child_pid,
            body: EventBody::ProcessStart(ProcessStart {
                parent_tid: tid,
                child_pid,
                child_tid: child,
                clone_flags: flags,
            }),
        });
        if let Some(status) = self.early.remove(&child) {
            self.on_wait_parked(child, status);
        }
    }

    /// Handles a parked stop of a child now announced.
    fn on_wait_parked(&mut self, tid: i32, status: i32) {
        self.stats.stops = self.stats.stops.saturating_sub(1);
        self.on_wait(tid, status);
    }

    /// Children still waiting for their announcement ([`Tracer::early`])
    /// whose parent was process `pid`, which has just lost every thread
    /// but one (exec) or all (exit): a thread killed in its fork event stop
    /// never reports the event, so nothing else would announce them and
    /// their first stop would wait forever. They are announced here as
    /// `pid`'s children (flags unknown: a fork), then their stop handled.
    fn announce_orphans(&mut self, pid: i32) {
        if self.early.is_empty() {
            return;
        }
        let me = std::process::id() as i32;
        let orphans: Vec<(i32, i32)> = self
            .early
            .iter()
            .map(|(&c, &st)| (c, st))
            .filter(|&(c, _)| {
                procfs::status(c).is_some_and(|s| s.ppid == pid || s.ppid == me || s.tgid == pid)
            })
            .collect();
        for (child, status) in orphans {
            self.early.remove(&child);
            let child_pid = procfs::status(child).map_or(child, |s| s.tgid);
            self.threads.insert(child, ThreadInfo::new(child_pid));
            self.emit(Event {
                ts: mono_ns(),
                tid: child,
                pid: child_pid,
                body: EventBody::ProcessStart(ProcessStart {
                    parent_tid: pid,
                    child_pid,
                    child_tid: child,
                    clone_flags: if child_pid == child {
                        libc::SIGCHLD as u64
                    } else {
                        CLONE_THREAD
                    },
                }),
            });
            self.on_wait_parked(child, status);
        }
    }

    fn on_exec(&mut self, tid: i32) {
        let pid = self.pid_of(tid);
        let old_tid = ptrace::event_msg(tid).map(|v| v as i32).unwrap_or(tid);
        if old_tid != tid {
            // A non-leader thread exec'd: it took over the leader's tid, all
            // other threads are gone (no further reports for them).
            let entry = self.threads.remove(&old_tid).and_then(|t| t.entry);
            self.threads.retain(|_, t| t.pid != pid);
            self.threads.insert(
                tid,
                ThreadInfo {
                    entry,
                    ..ThreadInfo::started(pid)
                },
            );
        } else {
            let others: Vec<i32> = self
                .threads
                .iter()
                .filter(|(t, i)| i.pid == pid && **t != tid)
                .map(|(t, _)| *t)
                .collect();
            for t in others {
                self.threads.remove(&t);
            }
        }
        if old_tid != tid
            && let Some(pool) = &self.pool
        {
            // The old leader's tracer, if another, gets no report of it;
            // the process is listed where its leader now is.
            match &self.helper {
                Some((index, _)) => pool.process_born(*index, pid),
                None => pool.process_gone(pid),
            }
            pool.leader_replaced(pid, self.index());
        }
        // Children of the threads the exec just killed, if they were never
        // announced (before the Exec: they were born to the old image).
        self.announce_orphans(pid);
        let (filename_raw, filename_resolved, argv, env) = self
            .threads
            .get(&tid)
            .and_then(|t| t.entry.as_ref())
            .map(|e| {
                let mut f = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let argv_idx = if e.id == Some(sysno::EXECVEAT) { 2 } else { 1 };
                for p in &e.params {
                    match &p.value {
                        Value::Path { raw, resolved } => {
                            f.0 = raw.clone();
                            f.1 = resolved.clone();
                        }
                        Value::StrList { items, .. } if p.index == argv_idx => f.2 = items.clone(),
                        Value::StrList { items, .. } if p.index == argv_idx + 1 => {
                            f.3 = items.clone()
                        }
                        _ => {}
                    }
                }
                f
            })
            .unwrap_or_default();
        let exepath = procfs::readlink(&format!("/proc/{pid}/exe"));
        let st = procfs::status(pid).unwrap_or_default();
        // The argv the kernel left (a script's interpreter first), as Falco.
        let cmdline = procfs::read_capped(&format!("/proc/{pid}/cmdline"), procfs::CMDLINE_MAX);
        let argv = if cmdline.is_empty() {
            argv
        } else {
            procfs::split_nul(&cmdline)
        };
        let exe_flags = crate::exe_flags::of(pid, &exepath, &st);
        self.emit(Event {
            ts: mono_ns(),
            tid,
            pid,
            body: EventBody::Exec(Exec {
                old_tid,
                filename_raw,
                filename_resolved,
                argv,
                env,
                exe_from_memfd: exepath.starts_with(b"/memfd:"),
                exepath,
                comm: procfs::comm(pid),
                uid: st.uids[0],
                euid: st.uids[1],
                gid: st.gids[0],
                egid: st.gids[1],
                cap_permitted: st.cap_prm,
                cap_effective: st.cap_eff,
                exe_flags,
            }),
        });
    }

    fn on_death(&mut self, tid: i32, status: i32) {
        self.placement.forget(tid);
        if self.moving.is_some_and(|m| m.0 == tid) {
            self.moving = None;
        }
        let Some(t) = self.threads.remove(&tid) else {
            return;
        };
        if let Some(e) = t.entry {
            self.threads.insert(tid, ThreadInfo::started(t.pid));
            self.finish_syscall(tid, e, 0, true);
            self.threads.remove(&tid);
        }
        let process_exit = tid == t.pid;
        self.stopped.clear(t.pid);
        if process_exit || (self.pool.is_some() && !self.threads.values().any(|i| i.pid == t.pid)) {
            // With several tracers, a process may lose its last thread on
            // this tracer before it exits: its children still unannounced
            // here have no parent thread left to announce them either.
            self.announce_orphans(t.pid);
        }
        self.emit(Event {
            ts: mono_ns(),
            tid,
            pid: t.pid,
            body: EventBody::ThreadExit(ThreadExit {
                status,
                process_exit,
            }),
        });
        if process_exit {
            // Threads of the process still listed never reported (killed
            // together): forget them.
            self.threads.retain(|_, i| i.pid != t.pid);
            if self.helper.is_some()
                && let Some(pool) = &self.pool
            {
                pool.process_gone(t.pid);
            }
            if t.pid == self.main_pid && self.helper.is_none() {
                self.main_status = Some(status);
            } else if self.helper.is_some()
                && let Some(pool) = &self.pool
                && pool.main_pid() == t.pid
            {
                // The launched process's leader came here by an exec from
                // one of its threads: its end is the main tracer's to act on.
                pool.main_exited(status);
            }
        }
    }

    // -- Several tracers (crate::pool) ------------------------------------

    /// This tracer's index in the pool: helpers 0.., the main tracer
    /// [`pool::MAIN`].
    fn index(&self) -> usize {
        self.helper.as_ref().map_or(pool::MAIN, |h| h.0)
    }

    /// A stop of `tid`, which this tracer does not list: true when it is
    /// the exec event of one of its threads that exec'd from a non-leader
    /// (reported under the leader's tid, which another tracer may have
    /// listed), to be handled as its own.
    fn exec_took_over(&self, tid: i32, stop: Stop) -> bool {
        stop == (Stop::Event { event: event::EXEC })
            && ptrace::event_msg(tid).is_ok_and(|old| self.threads.contains_key(&(old as i32)))
    }

    /// The leader of `pid`, served here, was replaced by an exec from a
    /// thread on another tracer: forgotten, and the children it forked
    /// whose fork event it never reported (killed in that stop by the
    /// exec) announced here, where their first stops wait.
    fn forget_replaced_leader(&mut self, pid: i32) {
        self.threads.remove(&pid);
        self.placement.forget(pid);
        self.announce_orphans(pid);
    }

    /// Leaders that vanished from this tracer by an exec from a thread of
    /// their process on another tracer (no report comes for them): forgotten.
    /// And, on the main tracer, the launched process's end seen by a helper.
    fn pool_news(&mut self) {
        let me = self.index();
        let Some(pool) = &self.pool else {
            return;
        };
        let gone = pool.replaced_leaders(me);
        let main_status = if self.helper.is_none() && self.main_status.is_none() {
            pool.main_status()
        } else {
            None
        };
        for pid in gone {
            if self.threads.get(&pid).is_some_and(|t| t.pid == pid) {
                self.forget_replaced_leader(pid);
            }
        }
        if main_status.is_some() {
            self.main_status = main_status;
        }
    }

    /// At the first stop of the new process `tid`: hands it to a helper if
    /// the pool picks one and it can be parked; true when `tid` is no
    /// longer this tracer's to resume (handed over, or its signal or death
    /// handled here).
    fn hand_over(&mut self, tid: i32) -> bool {
        let Some(helper) = self.pool.as_ref().and_then(|p| p.pick()) else {
            return false;
        };
        self.hand_to(tid, helper, Why::Birth)
    }

    /// At a syscall-exit stop (return value `rval`) of `tid`, a busy
    /// thread [`Tracer::balance`] chose: hands it to `helper` if it may
    /// still move (see [`crate::rebalance`]); true when `tid` is no longer
    /// this tracer's to resume.
    fn move_busy(&mut self, tid: i32, helper: usize, rval: i64) -> bool {
        if (-516..=-512).contains(&rval) {
            // -ERESTART*: the kernel restarts the call after this stop
            // (a signal is on its way); the next exit stop will do.
            self.moving = Some((tid, helper));
            return false;
        }
        let pid = self.pid_of(tid);
        if tid == self.main_pid || self.stopped.contains(pid) {
            return false;
        }
        self.hand_to(tid, helper, Why::Busy)
    }

    /// Parks `tid` (stopped right after a syscall returned) and sends it
    /// to helper `helper`; true when `tid` is no longer this tracer's to
    /// resume (handed over, or its signal or death handled here), false
    /// when it is kept unchanged.
    fn hand_to(&mut self, tid: i32, helper: usize, why: Why) -> bool {
        let Some(pool) = self.pool.clone() else {
            return false;
        };
        if self.detaching || pool.detaching() || pool.closing() {
            return false;
        }
        let filters = Filters {
            capture: u32::from(self.seccomp),
            stops_sigsuspend: self.set.as_ref().is_some_and(|s| s.contains(RT_SIGSUSPEND)),
        };
        let parked = match handover::park(tid, filters) {
            Ok(p) => p,
            Err(Kept::Signal(signal)) => {
                // Delivered on the way to the parking call: the process
                // stays here, its signal handled as any other.
                self.on_signal(tid, signal);
                return true;
            }
            Err(Kept::Died(status)) => {
                self.on_death(tid, status);
                return true;
            }
            Err(Kept::Unsafe(_)) => return false,
            Err(Kept::Error(e)) => {
                self.tracer_error(format!(
                    "cannot hand process {tid} to another tracer thread: {}",
                    Chain(&e)
                ));
                return false;
            }
        };
        let pid = self.pid_of(tid);
        self.threads.remove(&tid);
        self.placement.let_go(tid);
        let h = Box::new(Handed { parked, pid });
        match pool.hand(helper, h) {
            Ok(()) => {
                match why {
                    Why::Birth => self.stats.handovers += 1,
                    Why::Busy => self.stats.rebalanced += 1,
                }
                true
            }
            Err(h) => {
                // The helper is gone (it failed): take the process back.
                self.adopt(*h);
                true
            }
        }
    }

    /// The main tracer with helpers, every few hundred stops: at the end of
    /// a [`rebalance::Window`], picks a busy process of its own to move to
    /// the least loaded helper at its next syscall-exit stop.
    fn balance(&mut self) {
        let (Some(window), Some(pool)) = (self.window.as_mut(), self.pool.as_ref()) else {
            return;
        };
        let Some(loads) = window.roll(self.stats.stops, pool.helper_stops()) else {
            return;
        };
        let mut candidates: Vec<(i32, u64)> = Vec::new();
        for (&tid, t) in self.threads.iter_mut() {
            candidates.push((tid, u64::from(t.stops)));
            t.stops = 0;
        }
        if self.moving.take().is_some() || self.detaching || self.main_status.is_some() {
            // A thread chosen a window ago that made no syscall since
            // (blocked in one): chosen again or not, next window.
            return;
        }
        candidates.retain(|&(tid, _)| {
            tid != self.main_pid
                && self
                    .threads
                    .get(&tid)
                    .is_some_and(|t| t.started && !t.prelude && !self.stopped.contains(t.pid))
        });
        self.moving = self
            .window
            .as_mut()
            .and_then(|w| w.choose(&loads, &candidates));
    }

    /// Takes a handed thread (a new or busy process, or a thread of one):
    /// adopts it and resumes it as its old tracer would have.
    fn adopt(&mut self, h: Handed) {
        let (tid, pid) = (h.parked.tid, h.pid);
        // As the first tracer seized it: killed with capture only when
        // capture launched the workload.
        let adopted = handover::adopt(&h.parked, ptrace::options(self.mode == Mode::Launch));
        if let Ok((_, delivered)) = &adopted {
            for &signo in delivered {
                self.emit(Event {
                    ts: mono_ns(),
                    tid,
                    pid,
                    body: EventBody::Signal(SignalEvent {
                        signo,
                        action: SignalAction::Delivered,
                        ..SignalEvent::default()
                    }),
                });
            }
        }
        match adopted.map(|a| a.0) {
            Ok(Adopted::Gone(status)) => {
                // Killed while parked: its parent reaps it; record its end
                // (SIGKILL is the one way out of the parking call).
                if tid == pid
                    && let Some(p) = &self.pool
                {
                    p.process_gone(pid);
                }
                self.emit(Event {
                    ts: mono_ns(),
                    tid,
                    pid,
                    body: EventBody::ThreadExit(ThreadExit {
                        status: status.unwrap_or(libc::SIGKILL),
                        process_exit: tid == pid,
                    }),
                });
            }
            Ok(adopted) => {
                self.threads.insert(
                    tid,
                    ThreadInfo::started(pid),
                );
                match adopted {
                    Adopted::GroupStop(signal) => self.on_group_stop(tid, signal),
                    _ => self.resume(tid, 0),
                }
            }
            Err(e) => self.tracer_error(format!(
                "thread {tid} (process {pid}) was handed to this tracer thread and could not be adopted; it stays parked, untraced: {}",
                Chain(&e)
            )),
        }
    }

    /// Adopts every handover waiting in a helper's inbox; false once the
    /// inbox is closed and empty.
    fn take_handed(&mut self, wait: bool) -> bool {
        loop {
            let Some((index, inbox)) = &self.helper else {
                return false;
            };
            let index = *index;
            let got = if wait {
                match inbox.recv_timeout(pool::BACKSTOP) {
                    Ok(h) => Ok(h),
                    Err(RecvTimeoutError::Timeout) => return true,
                    Err(RecvTimeoutError::Disconnected) => Err(()),
                }
            } else {
                match inbox.try_recv() {
                    Ok(h) => Ok(h),
                    Err(TryRecvError::Empty) => return true,
                    Err(TryRecvError::Disconnected) => Err(()),
                }
            };
            let Ok(h) = got else {
                return false;
            };
            self.adopt(*h);
            if let Some(pool) = &self.pool {
                pool.publish(
                    index,
                    self.threads.len() + self.early.len(),
                    self.stats.stops,
                );
                pool.taken(index);
            }
            if wait {
                return true;
            }
        }
    }

    /// A helper's loop: adopts what it is handed and serves its tracees'
    /// stops until the pool closes and its tracees are gone.
    pub fn run_helper(&mut self) {
        let Some(pool) = self.pool.clone() else {
            return;
        };
        let Some(index) = self.helper.as_ref().map(|h| h.0) else {
            return;
        };
        loop {
            let open = self.take_handed(false);
            self.pool_news();
            if pool.detaching() && !self.detaching {
                self.begin_detach();
            }
            pool.publish(
                index,
                self.threads.len() + self.early.len(),
                self.stats.stops,
            );
            if self.threads.is_empty() && self.early.is_empty() {
                if self.detaching {
                    pool.helper_empty(index);
                }
                if !open || pool.closing() {
                    break;
                }
                self.take_handed(true);
                continue;
            }
            match ptrace::wait_own(false) {
                Ok(None) => {}
                Ok(Some((tid, status))) => self.on_wait(tid, status),
                Err(Errno::ECHILD) => {
                    // No tracee left although some are listed (gone
                    // unreported): nothing more will come for them.
                    self.threads.clear();
                    self.early.clear();
                }
                Err(e) => {
                    self.tracer_error(format!("waitpid: {e}"));
                    break;
                }
            }
        }
        pool.publish(index, 0, self.stats.stops);
        if self.detached > 0 {
            self.marker(
                MarkerKind::Detach,
                self.detached,
                format!("detached from {} threads", self.detached),
            );
        }
    }

    // -- Detaching ---------------------------------------------------------

    /// Starts detaching from every tracee: each is interrupted, and detached
    /// at its next stop (with its pending signal, if any).
    pub fn begin_detach(&mut self) {
        self.detaching = true;
        if self.helper.is_none()
            && let Some(pool) = &self.pool
        {
            // The main tracer's detach is every tracer's.
            pool.detach();
        }
        let tids: Vec<i32> = self.threads.keys().copied().collect();
        for tid in tids {
            match ptrace::interrupt(tid) {
                Ok(()) => {}
                Err(CaptureError::TraceeDied { .. }) => {}
                Err(e) => self.tracer_error(Chain(&e).to_string()),
            }
        }
        let parked: Vec<(i32, i32)> = self.early.drain().collect();
        for (tid, _) in parked {
            if ptrace::detach(tid, 0).is_ok() {
                self.detached += 1;
            }
        }
    }

    fn detach_stop(&mut self, tid: i32, status: i32, stop: Stop) {
        match stop {
            Stop::Exited { .. } | Stop::Killed { .. } => {
                self.on_death(tid, status);
                return;
            }
            Stop::Event {
                event: event::FORK | event::VFORK | event::CLONE,
            } => {
                // A child born during the detach: it will stop, and be
                // detached then.
                if let Ok(child) = ptrace::event_msg(tid) {
                    let pid = self.pid_of(tid);
                    self.threads.insert(child as i32, ThreadInfo::new(pid));
                    if let Some(_status) = self.early.remove(&(child as i32)) {
                        if ptrace::detach(child as i32, 0).is_ok() {
                            self.detached += 1;
                        }
                        self.threads.remove(&(child as i32));
                    }
                }
            }
            _ => {}
        }
        let sig = match stop {
            Stop::Signal { signal } => signal,
            _ => 0,
        };
        match ptrace::detach(tid, sig) {
            Ok(()) => self.detached += 1,
            Err(CaptureError::TraceeDied { .. }) => {}
            Err(e) => self.tracer_error(Chain(&e).to_string()),
        }
        self.threads.remove(&tid);
    }
}

/// `clone(2)` flag not in the state's list.
const CLONE_VFORK: u64 = 0x4000;
/// `rt_sigsuspend(2)`, the parking call of a handover.
const RT_SIGSUSPEND: u16 = 130;

/// `sched_setaffinity(2)`, `sched_getaffinity(2)`, `io_uring_setup(2)`.
const SCHED_SETAFFINITY: u16 = 203;
const SCHED_GETAFFINITY: u16 = 204;
const IO_URING_SETUP: u16 = 425;
/// `ptrace(2)`.
const PTRACE: u16 = 101;

/// The thread a `pid` argument names: 0 is the caller.
fn target_tid(tid: i32, arg: u64) -> i32 {
    match arg as i32 {
        0 => tid,
        t => t,
    }
}

/// Whether `tid` is one of capture's own threads (as the tracee names it:
/// tracees live in capture's PID namespace or below it).
fn is_capture_task(tid: i32) -> bool {
    tid > 0 && std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
}

/// Per-syscall entry decoding the table cannot express and state needs:
/// the new comm of `prctl(PR_SET_NAME)`, the capability sets of `capset`
/// (as the raw `__user_cap_data_struct` array, when it targets the caller).
fn special_entry(tid: i32, id: u16, args: &[u64; 6], out: &mut Vec<Param>) {
    const PR_SET_NAME: u64 = 15;
    const CAPSET: u16 = 126;
    if id == CAPSET {
        let header = crate::mem::read_exact(tid, args[0], 8);
        let (version, target) = header
            .map(|h| {
                (
                    u32::from_ne_bytes([h[0], h[1], h[2], h[3]]),
                    i32::from_ne_bytes([h[4], h[5], h[6], h[7]]),
                )
            })
            .unwrap_or((0, -1));
        // _LINUX_CAPABILITY_VERSION_1 has one 32-bit struct, 2 and 3 two.
        let n = if version == 0x1998_0330 { 12 } else { 24 };
        if target == 0 || target == tid {
            let value = match crate::mem::read_exact(tid, args[1], n) {
                Some(data) => Value::Bytes {
                    data,
                    len: n as u64,
                },
                None => Value::Fault(args[1]),
            };
            out.retain(|p| p.index != 1);
            out.push(Param { index: 1, value });
        }
        return;
    }
    if id == sysno::PRCTL && args[0] == PR_SET_NAME {
        let value = match crate::mem::read_cstr(tid, args[1], 16) {
            Some((s, _)) => Value::Str(s),
            None => Value::Fault(args[1]),
        };
        out.retain(|p| p.index != 1);
        out.push(Param { index: 1, value });
    }
}

/// Per-syscall exit derivations: the local end of a connected or accepted
/// inet socket (`result_index::EXTRA`), which no argument holds; asked of
/// the socket itself ([`crate::remote_fd`]).
fn special_exit(ctx: &Ctx, id: u16, args: &[u64; 6], ret: i64, out: &mut Vec<Param>) {
    let fd = match id {
        sysno::CONNECT if ret == 0 || ret == -(libc::EINPROGRESS as i64) => args[0] as i32,
        sysno::BIND if ret == 0 => args[0] as i32,
        sysno::ACCEPT | sysno::ACCEPT4 if ret >= 0 => ret as i32,
        _ => return,
    };
    // Only inet sockets: look at what the fd table or the address says.
    let inet = match id {
        sysno::ACCEPT | sysno::ACCEPT4 => ctx.state.fd(ctx.pid, args[0] as i32),
        _ => ctx.state.fd(ctx.pid, fd),
    }
    .and_then(|e| e.fd.socket.as_ref())
    .is_some_and(|s| s.family == 2 || s.family == 10);
    if !inet {
        return;
    }
    // O(1) through a duplicate of the fd (`remote_fd`); the `/proc/PID/net`
    // scan (O(sockets)) only when that is unavailable.
    let (local, peer) = match crate::remote_fd::socket_ends(ctx.pid, fd) {
        Some(ends) => ends,
        None => {
            let Some(inode) = procfs::socket_inode(ctx.pid, fd) else {
                return;
            };
            let Some(s) = procfs::find_inet_socket(ctx.pid, inode) else {
                return;
            };
            let family = if s.local_addr.len() == 16 { 10 } else { 2 };
            (
                SockAddr {
                    family,
                    addr: s.local_addr,
                    port: s.local_port,
                    ..SockAddr::default()
                },
                Some(SockAddr {
                    family,
                    addr: s.remote_addr,
                    port: s.remote_port,
                    ..SockAddr::default()
                }),
            )
        }
    };
    out.push(Param {
        index: result_index::EXTRA,
        value: Value::SockAddr(local),
    });
    // accept(2) without an address buffer: the peer from the socket too.
    if matches!(id, sysno::ACCEPT | sysno::ACCEPT4)
        && !out.iter().any(|p| p.index == result_index::SOCKADDR_OUT)
        && let Some(peer) = peer
    {
        out.push(Param {
            index: result_index::SOCKADDR_OUT,
            value: Value::SockAddr(peer),
        });
    }
}
