//! What a run saw, for the closing summary on stderr: events, chunks, time
//! span, alerts by rule and priority, and the trace's problems.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use trace_format::ChunkInfo;
use trace_format::escape::escape;

use super::report::time_text;
use crate::engine::{Alert, RuleEngine};
use crate::rules::Priority;

/// What the run saw.
#[derive(Debug, Default)]
pub struct Summary {
    /// Events evaluated.
    pub events: u64,
    /// Chunks read.
    pub chunks: u64,
    /// Wall-clock time of the first and last event.
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    /// Alerts raised, by rule name and by priority.
    pub alerts: u64,
    pub by_rule: BTreeMap<String, u64>,
    pub by_priority: BTreeMap<Priority, u64>,
    /// Damage and notices, with the trace they belong to.
    pub problems: Vec<(PathBuf, String)>,
}

impl Summary {
    /// Counts a chunk of `events` events.
    pub fn chunk(&mut self, info: &ChunkInfo, events: u64) {
        self.events += events;
        self.chunks += 1;
        if info.event_count > 0 {
            let (a, b) = (info.wall_ns(info.first_ts), info.wall_ns(info.last_ts));
            self.first_ns = Some(self.first_ns.map_or(a, |f| f.min(a)));
            self.last_ns = Some(self.last_ns.map_or(b, |l| l.max(b)));
        }
    }

    /// Counts an alert.
    pub fn alert(&mut self, engine: &RuleEngine<'_>, a: &Alert) {
        self.alerts += 1;
        if let Some(rule) = engine.rules().rules().get(a.rule) {
            *self.by_rule.entry(rule.name.clone()).or_default() += 1;
        }
        *self.by_priority.entry(a.priority).or_default() += 1;
    }

    /// Records a problem with the trace at `path`.
    pub fn problem(&mut self, path: &Path, p: String) {
        self.problems.push((path.to_path_buf(), p));
    }

    /// The closing lines: counts, rate, alerts by priority and rule (with
    /// `rules`), and how many problems there were.
    pub fn write(&self, out: &mut impl Write, elapsed: Duration, rules: bool) -> io::Result<()> {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let span = match (self.first_ns, self.last_ns) {
            (Some(a), Some(b)) => format!(
                ", {} to {} ({:.3} s)",
                time_text(a),
                time_text(b),
                b.saturating_sub(a) as f64 / 1e9
            ),
            _ => String::new(),
        };
        writeln!(
            out,
            "replay: {} events in {} chunks{span}; {:.0} events/s",
            self.events,
            self.chunks,
            self.events as f64 / secs
        )?;
        if rules {
            let prio: Vec<String> = self
                .by_priority
                .iter()
                .map(|(p, n)| format!("{n} {p}"))
                .collect();
            writeln!(
                out,
                "replay: {} alerts{}{}",
                self.alerts,
                if prio.is_empty() { "" } else { ": " },
                prio.join(", ")
            )?;
            for (rule, n) in &self.by_rule {
                writeln!(out, "  {n:>8}  {}", escape(rule))?;
            }
        }
        if !self.problems.is_empty() {
            writeln!(
                out,
                "replay: {} problem(s) with the trace; the chunks that could be read were evaluated",
                self.problems.len()
            )?;
        }
        Ok(())
    }
}
