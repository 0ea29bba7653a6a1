//! What a run does with each chunk: evaluate rules, list matching events,
//! or gather statistics. Runs on the worker threads; the result of a chunk
//! is an [`Output`] delivered in trace order.

use std::time::Duration;

use trace_format::Chunk;

use super::Around;
use crate::engine::listing::Lister;
use crate::engine::stats::Stats;
use crate::engine::{Alert, RuleEngine, walk_chunk};
use crate::rules::{CompiledFilter, OutputTemplate};
use trace_format::escape::escape;

/// What a run does with each chunk.
pub enum Job<'a> {
    /// Falco rules: alerts.
    Rules(RuleEngine<'a>),
    /// `--filter` / `--around`: the matching events as lines.
    Filter {
        /// The condition; `None` lists every event.
        filter: Option<Box<CompiledFilter>>,
        /// `--around TIME --window W`.
        window: Option<(Around, Duration)>,
        /// `--pid`: only this process, its ancestors and descendants.
        pid: Option<i32>,
        /// Lines as JSON objects rather than text.
        json: bool,
        /// `--format`: each line rendered from this template instead.
        format: Option<Box<OutputTemplate>>,
    },
    /// `--stats`.
    Stats,
}

/// What one chunk yields.
pub enum Output {
    /// Alerts, in event order.
    Alerts(Vec<Alert>),
    /// Listing lines, ready to print.
    Lines(Vec<String>),
    /// The chunk's statistics, to merge.
    Stats(Box<Stats>),
}

impl Job<'_> {
    /// Runs the job over one chunk: the number of events and the output.
    pub fn eval(&self, chunk: &Chunk, lister: &Lister) -> (u64, Output) {
        match self {
            Job::Rules(engine) => {
                let r = engine.eval_chunk(chunk);
                (r.events, Output::Alerts(r.alerts))
            }
            Job::Filter {
                filter,
                window,
                pid,
                json,
                format,
            } => {
                let mut lines = Vec::new();
                let n = walk_chunk(chunk, |v| {
                    if let Some((at, w)) = window
                        && !at.contains(v.wall_ns, *w)
                    {
                        return;
                    }
                    if let Some(pid) = pid
                        && !v.state.table().related(v.ev.pid, *pid)
                    {
                        return;
                    }
                    if filter.as_ref().is_some_and(|f| !f.matches(v)) {
                        return;
                    }
                    lines.push(if let Some(t) = format {
                        escape(&t.render(v)).into_owned()
                    } else if *json {
                        lister.json(v).to_string()
                    } else {
                        lister.text(v)
                    });
                });
                (n, Output::Lines(lines))
            }
            Job::Stats => {
                let mut s = Stats {
                    unrecorded_io: chunk.meta().unrecorded_io,
                    ..Stats::default()
                };
                let n = walk_chunk(chunk, |v| s.add(v));
                (n, Output::Stats(Box::new(s)))
            }
        }
    }
}
