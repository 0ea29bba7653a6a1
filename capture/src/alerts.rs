//! `--rules`: Falco rules evaluated live, while the workload runs.
//!
//! # Design
//!
//! The tracer never evaluates anything. The trace writer hands each chunk
//! it closes, as the uncompressed bytes it also hashes and compresses, to
//! an **evaluator thread** through the format's `on_chunk` channel. That
//! thread verifies the chunk and runs replay's `RuleEngine::eval_chunk`
//! over it: the same chunk bytes, the same state rebuilt from the same
//! snapshot, the same fields and rule engine as `replay --rules` over the
//! trace file, so the live alerts of a run equal replay's alerts of its
//! trace by construction (tested end to end in
//! `tests/tests/capture_alerts.rs`).
//!
//! Delay: an alert is raised when the chunk holding its event closes,
//! which with `--rules` is at most [`CHUNK_SECS`] after the chunk's first
//! event (or earlier when the chunk is full), plus the chunk's evaluation.
//!
//! **Invariant (the tracer never waits for rules):** the `on_chunk`
//! channel is unbounded, so the writer never blocks on it; a relay thread
//! drains it at once into a [`queue::ChunkQueue`], which holds at most
//! `--alerts-queue` bytes (default 64 MiB) of chunks in memory and the
//! rest in an unlinked spill file beside the trace, first in, first out.
//! If the evaluator falls behind, chunks wait (in memory, then on disk)
//! and alerts come late, never lost; the lag is shown per chunk with `-v`
//! and as the median, p99 and worst delay in the exit summary, with what
//! was spilled. A bound that blocked would stop the writer, the tracer and
//! the workload; one that dropped would lose alerts. A chunk that can be
//! neither kept nor spilled (the disk refuses the spill file) is named in
//! the exit summary, so `replay --rules` over the trace finds its alerts.
//!
//! **Invariant (bounded exit):** once the writer has finished, capture
//! waits for the evaluator to finish the chunks still queued (work already
//! recorded, so its alerts are not lost), then gives HTTP targets
//! `--alerts-timeout` (default 5 s, counted from SIGTERM if one came) to
//! deliver; each request is limited to the shorter of 3 s and that
//! timeout, so a target that is down, slow or silent holds capture's exit
//! no longer (name resolution aside).
//!
//! **Invariant (nothing lost silently):** an alert that a target cannot
//! take (a file write error, an HTTP target down or refusing it, its queue
//! full, the flush deadline passed) is counted per target and reported at
//! exit; HTTP alerts given up on are also written to stderr, whole.
//!
//! Alerts carry their trace id and chunk sequence number in
//! `output_fields` as [`TRACE_ID_FIELD`] and [`CHUNK_FIELD`]; Falco field
//! names never start with `sysrec.`, so they cannot collide.

pub mod eval;
pub mod http;
pub mod queue;
pub mod report;
pub mod target;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use replay::rules::{CompiledRuleset, LoadError, LoadOptions, Priority, RuleMatching, load_files};

pub use report::AlertReport;
pub use target::{AlertTarget, TargetError};

use crate::error::{CaptureError, Result};

/// `output_fields` key holding the alert's trace id (a UUID).
pub const TRACE_ID_FIELD: &str = "sysrec.trace_id";
/// `output_fields` key holding the sequence number of the alert's chunk.
pub const CHUNK_FIELD: &str = "sysrec.chunk";
/// With `--rules`, chunks close at least this often, which bounds the
/// delay from a syscall to its alert.
pub const CHUNK_SECS: Duration = Duration::from_secs(1);
/// How long HTTP targets get to deliver queued alerts after the workload
/// exited (from SIGTERM if one came), unless `--alerts-timeout` says.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `--alerts-timeout` (an hour).
const MAX_FLUSH_SECS: f64 = 3600.0;

/// `--alerts-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum AlertFormat {
    /// One Falco JSON object per line.
    #[default]
    Json,
    /// Falco's text line (`HH:MM:SS.nnnnnnnnn: Priority message`).
    Text,
}

/// `--rule-matching`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Matching {
    #[default]
    First,
    All,
}

/// The live-alert options, as clap parses them (flattened into capture's
/// arguments).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct AlertArgs {
    /// Evaluate these Falco rules live, on every recorded event, as
    /// `replay --rules` would (repeat to load several, in order).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Where alerts go: stdout, stderr (default), a file (appended to), or
    /// `http(s)://HOST[:PORT]/PATH` (Falco's JSON by POST, as falcosidekick
    /// takes it). Repeatable.
    #[arg(long = "alerts", value_name = "TARGET", requires = "rules")]
    pub alerts: Vec<String>,

    /// Format of alerts on stdout, stderr and files (HTTP is always JSON).
    #[arg(long, value_enum, default_value_t = AlertFormat::Json, requires = "rules")]
    pub alerts_format: AlertFormat,

    /// Ignore rules below this priority (emergency .. debug).
    #[arg(long, value_name = "LEVEL", requires = "rules")]
    pub min_priority: Option<String>,

    /// With --rules: the first matching rule per event, or all of them.
    #[arg(long, value_enum, value_name = "MODE", requires = "rules")]
    pub rule_matching: Option<Matching>,
    /// Omit Falco 0.44's suggested output fields (container and pod)
    /// appended to every alert, as `replay --no-suggested-output`.
    #[arg(long, requires = "rules")]
    pub no_suggested_output: bool,

    /// Seconds HTTP targets get to deliver queued alerts once the workload
    /// exited (from SIGTERM if one came); also the most one request may
    /// take when under 3 s. Default 5.
    #[arg(long, value_name = "SECS", requires = "rules")]
    pub alerts_timeout: Option<f64>,

    /// Most bytes of recorded chunks waiting for rule evaluation in memory
    /// (e.g. 64M, the default); beyond, they wait in a spill file beside
    /// the trace. Alerts come late then, never lost.
    #[arg(long, value_name = "SIZE", requires = "rules")]
    pub alerts_queue: Option<String>,

    /// PEM file of CA certificates trusted for https:// targets, besides
    /// the system's store (a private falcosidekick endpoint).
    #[arg(long, value_name = "PEM", requires = "rules")]
    pub alerts_ca: Option<PathBuf>,
}

/// Invalid live-alert options.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlertOptionError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(
        "--min-priority: `{0}` is not a priority: use emergency, alert, critical, error, warning, notice, informational or debug"
    )]
    Priority(String),
    #[error("invalid --alerts-timeout `{0}` (expected seconds from 0 to 3600, e.g. 5)")]
    Timeout(String),
    #[error("invalid --alerts-queue `{0}` (expected a size, e.g. 64M)")]
    Queue(String),
}

/// Validated live-alert options.
#[derive(Clone, Debug)]
pub struct AlertOptions {
    pub rules: Vec<PathBuf>,
    pub targets: Vec<AlertTarget>,
    pub format: AlertFormat,
    pub load: LoadOptions,
    /// `--alerts-timeout`.
    pub flush_timeout: Duration,
    /// `--alerts-queue`, in bytes.
    pub queue_bytes: u64,
    /// `--alerts-ca`.
    pub ca: Option<PathBuf>,
}

impl AlertArgs {
    /// `None` without `--rules`.
    pub fn validate(&self) -> std::result::Result<Option<AlertOptions>, AlertOptionError> {
        if self.rules.is_empty() {
            return Ok(None);
        }
        let mut targets = self
            .alerts
            .iter()
            .map(|a| a.parse::<AlertTarget>())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if targets.is_empty() {
            targets.push(AlertTarget::Stderr);
        }
        let min_priority = match &self.min_priority {
            None => Priority::Debug,
            Some(p) => Priority::parse(p).ok_or_else(|| AlertOptionError::Priority(p.clone()))?,
        };
        let flush_timeout = match self.alerts_timeout {
            None => FLUSH_TIMEOUT,
            Some(t) if t.is_finite() && (0.0..=MAX_FLUSH_SECS).contains(&t) => {
                Duration::from_secs_f64(t)
            }
            Some(t) => return Err(AlertOptionError::Timeout(t.to_string())),
        };
        let queue_bytes = match &self.alerts_queue {
            None => queue::DEFAULT_QUEUE_BYTES,
            Some(q) => {
                crate::options::parse_size(q).map_err(|_| AlertOptionError::Queue(q.clone()))?
            }
        };
        Ok(Some(AlertOptions {
            flush_timeout,
            queue_bytes,
            ca: self.alerts_ca.clone(),
            rules: self.rules.clone(),
            targets,
            format: self.alerts_format,
            load: LoadOptions {
                min_priority,
                rule_matching: match self.rule_matching.unwrap_or_default() {
                    Matching::First => RuleMatching::First,
                    Matching::All => RuleMatching::All,
                },
                suggested_output: !self.no_suggested_output,
            },
        }))
    }
}

/// Loads the rules as `replay` does; the error lists every diagnostic
/// with file, line and column.
pub fn load(opts: &AlertOptions) -> std::result::Result<CompiledRuleset, LoadError> {
    load_files(&opts.rules, &opts.load)
}

/// The running evaluator.
pub struct LiveAlerts {
    handle: Option<JoinHandle<(AlertReport, eval::Targets)>>,
    relay: Option<JoinHandle<()>>,
    queue: Arc<queue::ChunkQueue>,
    flush_timeout: Duration,
}

impl LiveAlerts {
    /// Opens the targets (files are created now, HTTP threads started,
    /// the TLS configuration built) and starts the relay and the
    /// evaluator; the returned sender goes into the writer's `on_chunk`.
    /// A spill file, if needed, goes in `spill_dir`. Call before the
    /// workload starts.
    pub fn start(
        rules: CompiledRuleset,
        opts: &AlertOptions,
        verbose: bool,
        spill_dir: &Path,
    ) -> Result<(LiveAlerts, Sender<Vec<u8>>)> {
        let tls = if opts
            .targets
            .iter()
            .any(|t| matches!(t, AlertTarget::Http(u) if u.tls))
        {
            Some(tls::client_config(opts.ca.as_deref())?)
        } else {
            None
        };
        let http_cfg = http::HttpConfig {
            echo: !opts.targets.contains(&AlertTarget::Stderr),
            flush_timeout: opts.flush_timeout,
            tls,
        };
        let mut targets = eval::Targets {
            lines: Vec::new(),
            http: Vec::new(),
            format: opts.format,
            verbose,
        };
        for t in &opts.targets {
            let io = |source| CaptureError::Io {
                what: format!("--alerts `{t}`"),
                source,
            };
            match t {
                AlertTarget::Http(url) => targets
                    .http
                    .push(http::HttpTarget::start(url.clone(), &http_cfg).map_err(io)?),
                _ => {
                    if let Some(s) = target::LineSink::open(t).map_err(io)? {
                        targets.lines.push((t.to_string(), s));
                    }
                }
            }
        }
        let (tx, rx) = channel::<Vec<u8>>();
        let queue = Arc::new(queue::ChunkQueue::new(opts.queue_bytes, spill_dir));
        let spawn_err = |source| CaptureError::Io {
            what: "spawning the rule evaluation threads".into(),
            source,
        };
        // The relay: takes each chunk off the writer's channel at once.
        let relay = std::thread::Builder::new()
            .name("capture-rules-queue".into())
            .spawn({
                let queue = queue.clone();
                move || {
                    crate::signals::block();
                    for bytes in rx.iter() {
                        queue.push(bytes);
                    }
                    queue.close();
                }
            })
            .map_err(spawn_err)?;
        let handle = std::thread::Builder::new()
            .name("capture-rules".into())
            .spawn({
                let queue = queue.clone();
                move || {
                    let report = eval::run(&rules, &queue, &mut targets);
                    (report, targets)
                }
            })
            .map_err(spawn_err)?;
        Ok((
            LiveAlerts {
                handle: Some(handle),
                relay: Some(relay),
                queue,
                flush_timeout: opts.flush_timeout,
            },
            tx,
        ))
    }

    /// `--alerts-timeout`.
    pub fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }

    /// Waits for the evaluator to finish the last chunk (call after the
    /// writer finished, which closes the channel), then gives HTTP targets
    /// until `deadline` to deliver what they hold.
    pub fn finish(mut self, deadline: Instant) -> AlertReport {
        if let Some(r) = self.relay.take() {
            let _ = r.join();
        }
        // Closed in any case (the relay closes it too), so a relay that
        // panicked cannot leave the evaluator waiting.
        self.queue.close();
        let Some(Ok((mut report, targets))) = self.handle.take().map(JoinHandle::join) else {
            let mut r = AlertReport::default();
            r.bad_chunk_error = Some("the rule evaluation thread panicked".into());
            r.bad_chunks = 1;
            return r;
        };
        report.queue = self.queue.stats();
        for h in targets.http {
            report.http.push(h.finish(deadline));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<crate::Config, String> {
        crate::Args::try_parse_from(args)
            .map_err(|e| e.to_string())?
            .validate()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn options() {
        let c = parse(&["capture", "--", "ls"]).unwrap();
        assert!(c.alerts.is_none());
        let c = parse(&["capture", "--rules", "r.yaml", "--", "ls"]).unwrap();
        let a = c.alerts.unwrap();
        assert_eq!(a.targets, vec![AlertTarget::Stderr]);
        assert_eq!(a.format, AlertFormat::Json);
        assert_eq!(a.load.min_priority, Priority::Debug);
        assert_eq!(a.load.rule_matching, RuleMatching::First);
        let c = parse(&[
            "capture",
            "--rules",
            "r.yaml",
            "--alerts",
            "stdout",
            "--alerts",
            "http://sidekick:2801/",
            "--alerts-format",
            "text",
            "--min-priority",
            "warning",
            "--rule-matching",
            "all",
            "--",
            "ls",
        ])
        .unwrap();
        let a = c.alerts.unwrap();
        assert_eq!(a.targets.len(), 2);
        assert_eq!(a.format, AlertFormat::Text);
        assert_eq!(a.load.min_priority, Priority::Warning);
        assert_eq!(a.load.rule_matching, RuleMatching::All);
        // The alert options go with --rules.
        assert!(parse(&["capture", "--alerts", "stdout", "--", "ls"]).is_err());
        assert!(parse(&["capture", "--min-priority", "error", "--", "ls"]).is_err());
        let e = parse(&[
            "capture",
            "--rules",
            "r",
            "--min-priority",
            "loud",
            "--",
            "ls",
        ]);
        assert!(e.unwrap_err().contains("`loud` is not a priority"));
        let c = parse(&[
            "capture",
            "--rules",
            "r",
            "--alerts",
            "https://x/",
            "--alerts-timeout",
            "0.5",
            "--alerts-queue",
            "1M",
            "--alerts-ca",
            "ca.pem",
            "--",
            "ls",
        ])
        .unwrap();
        let a = c.alerts.unwrap();
        assert_eq!(a.flush_timeout, Duration::from_millis(500));
        assert_eq!(a.queue_bytes, 1 << 20);
        assert_eq!(a.ca.as_deref(), Some(Path::new("ca.pem")));
        let a = parse(&["capture", "--rules", "r", "--", "ls"])
            .unwrap()
            .alerts
            .unwrap();
        assert_eq!(a.flush_timeout, FLUSH_TIMEOUT);
        assert_eq!(a.queue_bytes, queue::DEFAULT_QUEUE_BYTES);
        for bad in [
            ["--alerts-timeout", "-1"],
            ["--alerts-timeout", "NaN"],
            ["--alerts-queue", "lots"],
        ] {
            let mut args = vec!["capture", "--rules", "r"];
            args.extend(bad);
            args.extend(["--", "ls"]);
            assert!(parse(&args).is_err(), "{bad:?}");
        }
        assert!(parse(&["capture", "--alerts-timeout", "1", "--", "ls"]).is_err());
    }
}
