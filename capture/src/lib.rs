//! sysrec `capture`: a transparent ptrace recorder.
//!
//! `capture -- CMD` launches CMD, `capture --pid PID` attaches to a running
//! process; either way every syscall of the workload and its descendants is
//! recorded, with decoded arguments, into a trace file (`trace_format`).
//!
//! # Design
//!
//! Three threads:
//!
//! - the **tracer** (the main thread, [`tracer::Tracer`], `!Send` because
//!   ptrace requests are only accepted from the attaching thread): waits for
//!   stops, reads syscall info and tracee memory, builds [`Event`]s and
//!   resumes the tracee. It keeps its own copy of the [`state::State`],
//!   needed while decoding (cwd and dirfd paths to resolve relative paths,
//!   what an fd argument refers to);
//! - the **writer** ([`sink`]): owns the `TraceWriter` and a second copy of
//!   the state. For each event it pushes first, then applies it to its
//!   state, so a chunk's snapshot is exactly the state before the chunk's
//!   first event, whichever event the writer decides starts a chunk;
//! - the writer's own compression thread (inside `trace_format`);
//! - with `--tracers N`, N-1 **helper tracers** ([`pool`]): each traces the
//!   processes the main tracer handed it at their first stop, with its own
//!   copy of those processes' state, sending into the writer's channel.
//!
//! The state copies cannot drift because [`state::State::apply`] is a
//! pure function of the events: anything state needs that only the live
//! system knows (resolved paths, socket local ends, credentials after exec)
//! is captured into the event by the tracer. Keeping the state on the writer
//! thread also keeps snapshot building off the tracer, whose time is spent
//! with a tracee stopped.
//!
//! The channel between them is bounded: if the writer falls behind, the
//! tracer blocks, and with it the stopped tracee (backpressure). Events are
//! never dropped by capture; a loss on disk (disk full) is recorded by the
//! writer as a gap marker.
//!
//! **Invariant:** the workload sees the signals, stops and exit statuses it
//! would see untraced: signals are re-injected, group-stops use
//! `PTRACE_LISTEN`, every catchable signal sent to capture is forwarded
//! once, the dispositions capture inherited are the workload's
//! ([`signals`]), and capture exits with the launched command's status,
//! once every process it started has exited (unless `--detach-on-exit`).
//!
//! **Invariant:** capture is a child subreaper (`PR_SET_CHILD_SUBREAPER`)
//! in launch mode, so orphans of the workload are reparented to it (as they
//! would be to a container's PID 1) and reaped by its one
//! `waitpid(-1, __WALL)` loop, which is also how traced children report:
//! no second waiter can steal a traced child's status.

pub mod alerts;
pub mod arch;
pub mod attach;
pub mod clock;
pub mod container_id;
pub mod decode;
pub mod entered;
pub mod error;
pub mod exe_flags;
pub mod handover;
pub mod inject;
pub mod launch;
pub mod mem;
pub mod meta;
pub mod options;
pub mod output;
pub mod path;
pub mod placement;
pub mod pool;
pub mod procfs;
pub mod ptrace;
pub mod rebalance;
pub mod remote_fd;
pub mod seccomp;
pub mod ship;
pub mod signals;
pub mod sink;
pub mod stopped;
pub mod stops;
pub use trace_format::state;
pub mod tracer;

use std::time::{Duration, Instant};

use trace_format::model::{Event, EventBody, Marker, MarkerKind, Process};
use trace_format::writer::{WriteSummary, WriterOptions};

pub use error::{CaptureError, Result};
pub use options::{Args, Config, Target};

use sink::{Msg, Sink};
use state::{ClockAnchor, State};
use tracer::{Mode, Outcome, Stats, Tracer};

/// What a capture run produced.
#[derive(Debug)]
pub struct Report {
    pub outcome: Outcome,
    pub stats: Stats,
    pub summary: Option<WriteSummary>,
    pub duration: Duration,
    /// The writer failed mid-run (the workload was left running).
    pub writer_error: Option<CaptureError>,
    /// `--pid` mode: the target is not capture's child, its status is not
    /// capture's.
    pub attached: bool,
    /// `--s3`: what was shipped and what was not.
    pub ship: Option<ship::ShipReport>,
    /// `--rules`: what live evaluation raised and delivered.
    pub alerts: Option<alerts::AlertReport>,
}

impl Report {
    /// The exit status capture should exit with: the workload's (128+N for
    /// a death by signal N); 0 in attach mode or after a detach.
    pub fn exit_code(&self) -> i32 {
        if self.attached {
            return 0;
        }
        match self.outcome {
            Outcome::Exited(st) if libc::WIFEXITED(st) => libc::WEXITSTATUS(st),
            Outcome::Exited(st) if libc::WIFSIGNALED(st) => 128 + libc::WTERMSIG(st),
            Outcome::Exited(_) => 1,
            Outcome::Detached => 0,
        }
    }

    /// The one-line summary printed at exit.
    pub fn summary_line(&self) -> String {
        // Events as written (capture's own markers included), so the line
        // agrees with `replay verify`.
        let (events, bytes, gaps, chunks) = self
            .summary
            .as_ref()
            .map(|s| (s.events, s.bytes, s.lost_chunks, s.chunks))
            .unwrap_or((self.stats.events, 0, 0, 0));
        let handed = match self.stats.handovers {
            0 => String::new(),
            n => format!(", {n} threads handed to helper tracers"),
        };
        let moved = match self.stats.rebalanced {
            0 => String::new(),
            n => format!(", {n} busy threads moved to helper tracers"),
        };
        format!(
            "capture: {} events ({} syscalls), {} stops{handed}{moved}, {} chunks, {} bytes written, {} gaps, {:.2} s",
            events,
            self.stats.syscalls,
            self.stats.stops,
            chunks,
            bytes,
            gaps,
            self.duration.as_secs_f64()
        )
    }
}

/// The start failed after the output was prepared: the writer is closed
/// and, without `--s3`, what it wrote is removed and the earlier files are
/// put back ([`output::Output::undo`]).
fn failed_start(
    sink: Option<Sink>,
    out: output::Output,
    ship: bool,
    e: CaptureError,
) -> CaptureError {
    if let Some(sink) = sink {
        let _ = sink.finish();
    }
    if !ship {
        for p in out.undo() {
            eprintln!("capture: {p}");
        }
    }
    e
}

fn writer_options(c: &Config) -> WriterOptions {
    let mut o = WriterOptions {
        rotate_bytes: c.rotate_bytes,
        rotate_secs: c.rotate_secs,
        ..WriterOptions::default()
    };
    if let Some(b) = c.chunk_bytes {
        o.chunk_bytes = b;
    }
    // `--flush-interval`: the most a killed capture loses.
    o.chunk_secs = c.flush_interval;
    o
}

/// The syscalls a `--syscalls` filter must stop on besides the recorded
/// set, so that capture can act on them: `ptrace` (a workload must not
/// ptrace capture), `io_uring_setup` (denied unless `--allow-io-uring`),
/// `sched_getaffinity`/`sched_setaffinity` while placement may restrict the
/// workload's CPU set (answered with the set it would have). They are
/// recorded like the rest of the set.
fn filter_set(
    c: &Config,
    set: &trace_format::syscalls::SyscallSet,
) -> trace_format::syscalls::SyscallSet {
    let mut set = set.clone();
    set.insert(101);
    if !c.allow_io_uring {
        set.insert(425);
    }
    if c.cpu_affinity != placement::CpuAffinity::None {
        set.insert(203);
        set.insert(204);
    }
    set
}

/// Channel capacity between tracer and writer, in events.
const CHANNEL_EVENTS: usize = 16 * 1024;
/// Most buffer bytes the events in the channel may hold together: with a
/// large `--snaplen` the channel holds fewer events (at least 64).
const CHANNEL_BYTES: usize = 64 << 20;

/// The channel's capacity in events for `snaplen`.
fn channel_events(snaplen: u32) -> usize {
    (CHANNEL_BYTES / (snaplen as usize).max(1)).clamp(64, CHANNEL_EVENTS)
}

/// Runs a capture to the end. Call from the main thread, before any other
/// thread was started (signal masks are set up here).
pub fn run(config: &Config) -> Result<Report> {
    let started = Instant::now();
    // Phase 1: everything that can fail before the workload runs.
    let orig_mask = signals::block();
    let exe = match &config.target {
        Target::Launch(argv) => Some(launch::resolve_command(
            argv.first().map(|a| a.as_os_str()).unwrap_or_default(),
        )?),
        Target::Attach(_) => None,
    };
    if let Target::Attach(pid) = config.target
        && std::fs::metadata(format!("/proc/{pid}")).is_err()
    {
        return Err(CaptureError::NoSuchProcess { pid });
    }
    // `--syscalls SET` in launch mode: the filter the child installs.
    let syscalls = config.syscalls.as_ref().map(|s| filter_set(config, s));
    let filter = match (&config.target, &syscalls) {
        (Target::Launch(_), Some(set)) => Some(seccomp::Filter::new(set)?),
        _ => None,
    };
    let mut wopts = writer_options(config);
    // The output: a regular file or nothing; earlier trace files at the
    // names this run writes are moved aside (undone if the start fails).
    let out = output::Output::prepare(
        &config.output,
        wopts.rotate_bytes.is_some() || wopts.rotate_secs.is_some(),
    )?;
    if let Some((folder, files)) = out.moved() {
        let names: Vec<_> = files
            .iter()
            .filter_map(|f| f.file_name())
            .map(trace_format::escape::escape_os)
            .collect();
        eprintln!(
            "capture: moved the earlier trace files {} to `{}`",
            names.join(", "),
            trace_format::escape::escape_os(folder)
        );
    }
    let shipping = config.ship.is_some();
    // Shipping: uploads run on their own thread, leftovers of earlier runs
    // (moved aside above) included.
    let shipper = match &config.ship {
        Some(cfg) => match ship::Shipper::start(cfg, &config.output) {
            Ok((shipper, tx, budget)) => {
                wopts.on_segment = Some(tx);
                wopts.disk_budget = budget;
                Some(shipper)
            }
            Err(e) => return Err(failed_start(None, out, false, e)),
        },
        None => None,
    };
    // `--rules`: the rules load now (a bad file fails before the workload
    // starts) and closed chunks go to the evaluator thread.
    let live = match &config.alerts {
        Some(a) => {
            let rules = match alerts::load(a) {
                Ok(r) => r,
                Err(e) => return Err(failed_start(None, out, shipping, e.into())),
            };
            if !config.quiet {
                for w in rules.warnings() {
                    eprintln!("capture: {w}");
                }
            }
            let spill_dir = match config.output.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => std::path::PathBuf::from("."),
            };
            let (live, tx) = match alerts::LiveAlerts::start(rules, a, config.verbose, &spill_dir) {
                Ok(l) => l,
                Err(e) => return Err(failed_start(None, out, shipping, e)),
            };
            wopts.on_chunk = Some(tx);
            wopts.chunk_secs = wopts.chunk_secs.min(alerts::CHUNK_SECS);
            Some(live)
        }
        None => None,
    };
    if wopts.chunk_bytes < 1024 {
        wopts.chunk_bytes = 1024;
    }

    // Phase 2: the machinery.
    let ecs = meta::spawn_ecs_fetch();
    let mut base_meta = meta::collect(
        config.command_line.clone(),
        config.snaplen,
        config.container_id.as_deref(),
    );
    base_meta.syscall_set = config.syscall_spec.clone();
    if config.allow_io_uring {
        base_meta.unrecorded_io.push(
            "io_uring (--allow-io-uring): reads and writes submitted through io_uring rings are not in the trace"
                .to_string(),
        );
    }
    let meta_fn = Box::new(move || {
        let mut m = base_meta;
        if let Some(rx) = ecs {
            let ecs = rx
                .recv_timeout(meta::ECS_TIMEOUT + Duration::from_millis(200))
                .ok()
                .flatten();
            meta::apply_ecs(&mut m, ecs);
        }
        m
    });
    let anchor = ClockAnchor::now();
    let sink = match Sink::spawn(
        config.output.clone(),
        wopts,
        meta_fn,
        anchor,
        channel_events(config.snaplen),
    ) {
        Ok(s) => s,
        Err(e) => return Err(failed_start(None, out, shipping, e)),
    };
    let attach_mode = matches!(config.target, Target::Attach(_));
    signals::install(attach_mode);
    signals::unblock();

    let state = tracer::shared_state(State::new(anchor));
    let now = clock::mono_ns();
    let start_marker = Event {
        ts: now,
        tid: 0,
        pid: 0,
        body: EventBody::Marker(Marker {
            kind: MarkerKind::CaptureStart,
            count: 0,
            message: config.command_line.join(" "),
        }),
    };

    // `--tracers N`: the helper tracer threads, started before the main
    // tracer pins itself (they keep capture's whole CPU set). Not with
    // `--cpu-affinity shared`: the workload is held to the main tracer's
    // CPU (and told otherwise by it), so there is nothing to spread.
    let mut helpers = None;
    // What placement restricts, known to every tracer thread.
    let restricted = placement::Restricted::default();
    if config.tracers > 1 && config.cpu_affinity != placement::CpuAffinity::Shared {
        let mode = match config.target {
            Target::Launch(_) => Mode::Launch,
            Target::Attach(_) => Mode::Attach,
        };
        let sink_h = sink.handle();
        let (set, seccomp) = (syscalls.clone(), filter.is_some());
        let entry_only = stops::entry_only(&config.syscall_spec, stops::ENABLED && seccomp);
        let (snaplen, detach, uring) = (
            config.snaplen as usize,
            config.detach_on_exit,
            config.allow_io_uring,
        );
        let helper_state = state.clone();
        let restricted = restricted.clone();
        let body: pool::HelperBody = std::sync::Arc::new(move |p, i, inbox| {
            let mut t = Tracer::new(mode, 0, &[], helper_state.clone(), sink_h.handle(), snaplen)
                .with_syscalls(set.clone(), seccomp)
                .with_entry_only(entry_only.clone())
                .with_policy(detach, uring)
                .with_placement(placement::Placement::sharing(
                    placement::CpuAffinity::None,
                    &restricted,
                ))
                .helper(p, i, inbox);
            t.run_helper();
            t.into_sink().1
        });
        helpers = pool::spawn(config.tracers - 1, body);
    }
    let pool_ref = helpers.as_ref().map(|(p, _)| p.clone());

    let (mut tracer, launched) = match (&config.target, exe) {
        (Target::Launch(argv), Some(exe)) => {
            // `auto`/`shared`: the tracer pins itself now, the child
            // inherits it.
            let mut placement = placement::Placement::sharing(config.cpu_affinity, &restricted);
            placement.before_launch();
            let l = match launch::launch(&exe, argv, &orig_mask, filter.as_ref()) {
                Ok(l) => l,
                Err(e) => {
                    // The helpers hold the writer's channel open: end them
                    // first (as on every way out below).
                    pool::finish(helpers.take());
                    return Err(failed_start(Some(sink), out, shipping, e));
                }
            };
            let pid = l.pid;
            let mut seedp: Process = attach::seed(pid);
            // capture is PID 1 of its namespace (a container's entrypoint):
            // the workload is the container's init as Falco would see it
            // (ARCHITECTURE.md, container start and entrypoint).
            if std::process::id() == 1 {
                seedp.vpid = 1;
            }
            // Seed first: the first chunk's snapshot is taken at the first
            // event.
            let _ = sink.send(Msg::Seed(Box::new(seedp.clone())));
            let _ = sink.send(Msg::Event(start_marker.clone()));
            tracer::lock_state(&state).seed(seedp);
            for (sig, n) in signals::set_target(pid) {
                for _ in 0..n {
                    // SAFETY: kill(2) on our child.
                    unsafe { libc::kill(pid, sig) };
                }
            }
            let t = Tracer::new(
                Mode::Launch,
                pid,
                &[pid],
                state,
                sink,
                config.snaplen as usize,
            )
            .with_syscalls(syscalls.clone(), filter.is_some())
            .with_entry_only(stops::entry_only(
                &config.syscall_spec,
                stops::ENABLED && filter.is_some(),
            ))
            .with_placement(placement)
            .with_policy(config.detach_on_exit, config.allow_io_uring)
            .with_entered(entered::Scanner::start())
            .with_pool(pool_ref);
            if let Err(e) = l.go() {
                pool::finish(helpers.take());
                let (sink, _, _) = t.into_sink();
                return Err(failed_start(Some(sink), out, shipping, e));
            }
            (t, Some(l))
        }
        (Target::Attach(pid), _) => {
            let pid = *pid;
            let tids = match attach::attach(pid) {
                Ok(t) => t,
                Err(e) => {
                    // The helpers hold the writer's channel open.
                    pool::finish(helpers.take());
                    return Err(failed_start(Some(sink), out, shipping, e));
                }
            };
            let seedp = attach::seed(pid);
            let _ = sink.send(Msg::Seed(Box::new(seedp.clone())));
            let _ = sink.send(Msg::Event(start_marker.clone()));
            tracer::lock_state(&state).seed(seedp);
            signals::set_target(pid);
            let mut t = Tracer::new(
                Mode::Attach,
                pid,
                &tids,
                state,
                sink,
                config.snaplen as usize,
            )
            .with_syscalls(syscalls.clone(), false)
            .with_placement(placement::Placement::sharing(
                config.cpu_affinity,
                &restricted,
            ))
            .with_policy(config.detach_on_exit, config.allow_io_uring)
            .with_pool(pool_ref);
            t.marker(
                MarkerKind::Attach,
                tids.len() as u64,
                format!("attached to pid {pid} ({} threads)", tids.len()),
            );
            (t, None)
        }
        (Target::Launch(_), None) => {
            pool::finish(helpers.take());
            let e = CaptureError::NoSuchProcess { pid: 0 };
            return Err(failed_start(Some(sink), out, shipping, e));
        }
    };

    let outcome = tracer.run();
    let helper_stats = pool::finish(helpers);
    tracer.marker(MarkerKind::CaptureStop, 0, String::new());
    let (sink, mut stats, writer_error) = tracer.into_sink();
    stats.add(&helper_stats);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let _ = sink.finish();
            return Err(e);
        }
    };
    // The workload's exec failed: report it as capture's error (exit 127).
    if let (Some(l), Outcome::Exited(st)) = (&launched, outcome)
        && libc::WIFEXITED(st)
        && libc::WEXITSTATUS(st) == 127
        && let Some(err) = l.child_error()
    {
        let err = match err {
            launch::ChildError::Exec(e) => e,
            launch::ChildError::Seccomp(e) => {
                let e = seccomp::SeccompError::Install(e).into();
                return Err(failed_start(Some(sink), out, shipping, e));
            }
        };
        let cmd = match &config.target {
            Target::Launch(a) => a
                .first()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Target::Attach(_) => String::new(),
        };
        let e = if err.kind() == std::io::ErrorKind::NotFound {
            CaptureError::CommandNotFound { cmd }
        } else {
            CaptureError::CommandNotExecutable { cmd, source: err }
        };
        return Err(failed_start(Some(sink), out, shipping, e));
    }
    // After a writer failure in launch mode the tracer detached: wait for
    // the workload so its exit status still becomes ours.
    let outcome = match (outcome, &launched) {
        (Outcome::Detached, Some(l)) => Outcome::Exited(ptrace::wait_tid(l.pid)?),
        (o, _) => o,
    };
    let (summary, writer_error) = match sink.finish() {
        Ok(s) => (Some(s), writer_error),
        Err(e) => (None, writer_error.or(Some(e))),
    };
    // The writer is done (its chunk sender dropped): the last alerts.
    let alerts = live.map(|l| {
        let timeout = l.flush_timeout();
        l.finish(signals::flush_deadline(timeout))
    });
    // The writer is done (its segment sender dropped): flush the uploads.
    let ship = match (shipper, &config.ship) {
        (Some(s), Some(cfg)) => Some(s.finish(signals::flush_deadline(cfg.flush_timeout))),
        _ => None,
    };
    Ok(Report {
        outcome,
        stats,
        summary,
        duration: started.elapsed(),
        writer_error,
        attached: attach_mode,
        ship,
        alerts,
    })
}
