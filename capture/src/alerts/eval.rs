//! The evaluator thread: each closed chunk, as the writer made it, through
//! replay's [`RuleEngine::eval_chunk`], and each alert to every target.
//!
//! The chunk is the unit of evaluation exactly as in `replay`: its state
//! is rebuilt from its own snapshot, so live alerts and replay's alerts
//! over the trace are the same by construction (same bytes, same code).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use replay::engine::{Alert, RuleEngine};
use replay::investigate::report::uuid_text;
use replay::rules::CompiledRuleset;
use serde_json::Value as Json;
use trace_format::Chunk;

use super::http::HttpTarget;
use super::queue::ChunkQueue;
use super::report::AlertReport;
use super::target::LineSink;
use super::{AlertFormat, CHUNK_FIELD, TRACE_ID_FIELD};

/// Where the evaluator sends alerts.
pub struct Targets {
    /// Line targets with their names, for the report.
    pub lines: Vec<(String, LineSink)>,
    pub http: Vec<HttpTarget>,
    pub format: AlertFormat,
    /// `-v`: each chunk's lag on stderr.
    pub verbose: bool,
}

/// Evaluates every chunk queued until the queue is closed and empty.
pub fn run(rules: &CompiledRuleset, queue: &ChunkQueue, targets: &mut Targets) -> AlertReport {
    crate::signals::block();
    let engine = RuleEngine::new(rules, true);
    let mut report = AlertReport::default();
    let mut line_failures: Vec<(u64, String)> = vec![(0, String::new()); targets.lines.len()];
    while let Some(bytes) = queue.pop() {
        let chunk = match Chunk::from_bytes(bytes) {
            Ok(c) => c,
            Err(e) => {
                report.bad_chunks += 1;
                report.bad_chunk_error = Some(e);
                continue;
            }
        };
        let info = chunk.info();
        let trace_id = uuid_text(&info.trace_id);
        let r = engine.eval_chunk(&chunk);
        report.chunks += 1;
        report.events += r.events;
        for a in &r.alerts {
            let json = Arc::<str>::from(render_json(&engine, a, &trace_id, info.seq).to_string());
            let text = match targets.format {
                AlertFormat::Text => Some(engine.text(a)),
                AlertFormat::Json => None,
            };
            report.alert(a.priority, since(a.wall_ns));
            for (i, (_, sink)) in targets.lines.iter_mut().enumerate() {
                let line = text.as_deref().unwrap_or(&json);
                if let Err(e) = sink.write_line(line)
                    && let Some(f) = line_failures.get_mut(i)
                {
                    f.0 += 1;
                    f.1 = e.to_string();
                }
            }
            for h in &targets.http {
                h.send(json.clone());
            }
        }
        if targets.verbose {
            let lag = since(info.wall_ns(info.last_ts));
            let _ = writeln!(
                std::io::stderr().lock(),
                "capture: alerts: chunk {} evaluated ({} events, {} alerts), {:.3} s after its last event",
                info.seq,
                r.events,
                r.alerts.len(),
                lag.as_secs_f64()
            );
        }
    }
    for ((name, _), (n, e)) in targets.lines.iter().zip(line_failures) {
        if n > 0 {
            report.line_failures.push((name.clone(), n, e));
        }
    }
    report
}

/// Falco's JSON alert as `replay --json` prints it, with the trace id and
/// chunk sequence number added to `output_fields`.
pub fn render_json(engine: &RuleEngine<'_>, a: &Alert, trace_id: &str, seq: u64) -> Json {
    let mut j = engine.json(a);
    if let Some(Json::Object(f)) = j.get_mut("output_fields") {
        f.insert(TRACE_ID_FIELD.into(), Json::from(trace_id));
        f.insert(CHUNK_FIELD.into(), Json::from(seq));
    }
    j
}

/// Time from wall-clock `ns` to now (zero if `ns` is in the future).
fn since(ns: u64) -> Duration {
    let (now, _) = trace_format::writer::clock_now();
    Duration::from_nanos(now.saturating_sub(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_as_uuids() {
        let id = [
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7,
        ];
        assert_eq!(uuid_text(&id), "12345678-9abc-def0-0001-020304050607");
    }
}
