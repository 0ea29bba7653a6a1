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
//! channel is unbounded, so the writer never blocks on it either. If the
//! evaluator falls behind, chunks wait in the channel and alerts come
//! late, never lost; the lag is shown per chunk with `-v` and as the worst
//! delay in the exit summary. A bound here would have to either block the
//! writer (and through it the tracer and the workload) or drop chunks
//! (lost alerts); evaluation costs a fraction of recording per event
//! (replay evaluates Falco's rules several times faster than capture
//! records), so the queue stays short in practice and memory is bounded
//! by the recording rate times the lag.
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
pub mod report;
pub mod target;

use std::path::PathBuf;
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
/// exited (from SIGTERM if one came).
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// `http://HOST[:PORT]/PATH` (Falco's JSON by POST, as falcosidekick
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
}

/// Validated live-alert options.
#[derive(Clone, Debug)]
pub struct AlertOptions {
    pub rules: Vec<PathBuf>,
    pub targets: Vec<AlertTarget>,
    pub format: AlertFormat,
    pub load: LoadOptions,
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
        Ok(Some(AlertOptions {
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
}

impl LiveAlerts {
    /// Opens the targets (files are created now, HTTP threads started)
    /// and starts the evaluator; the returned sender goes into the
    /// writer's `on_chunk`. Call before the workload starts.
    pub fn start(
        rules: CompiledRuleset,
        opts: &AlertOptions,
        verbose: bool,
    ) -> Result<(LiveAlerts, Sender<Vec<u8>>)> {
        let echo = !opts.targets.contains(&AlertTarget::Stderr);
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
                    .push(http::HttpTarget::start(url.clone(), echo).map_err(io)?),
                _ => {
                    if let Some(s) = target::LineSink::open(t).map_err(io)? {
                        targets.lines.push((t.to_string(), s));
                    }
                }
            }
        }
        let (tx, rx) = channel();
        let handle = std::thread::Builder::new()
            .name("capture-rules".into())
            .spawn(move || {
                let report = eval::run(&rules, &rx, &mut targets);
                (report, targets)
            })
            .map_err(|source| CaptureError::Io {
                what: "spawning the rule evaluation thread".into(),
                source,
            })?;
        Ok((
            LiveAlerts {
                handle: Some(handle),
            },
            tx,
        ))
    }

    /// Waits for the evaluator to finish the last chunk (call after the
    /// writer finished, which closes the channel), then gives HTTP targets
    /// until `deadline` to deliver what they hold.
    pub fn finish(mut self, deadline: Instant) -> AlertReport {
        let Some(Ok((mut report, targets))) = self.handle.take().map(JoinHandle::join) else {
            let mut r = AlertReport::default();
            r.bad_chunk_error = Some("the rule evaluation thread panicked".into());
            r.bad_chunks = 1;
            return r;
        };
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
        let e = parse(&[
            "capture",
            "--rules",
            "r",
            "--alerts",
            "https://x/",
            "--",
            "ls",
        ]);
        assert!(e.unwrap_err().contains("https is not supported"));
    }
}
