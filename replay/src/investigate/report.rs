//! The text reports: `replay --stats` and `replay verify`.

use std::io::{self, Write};
use std::path::Path;

use trace_format::error::Chain;
use trace_format::escape::{escape, escape_os};
use trace_format::verify::VerifyReport;

use super::Summary;
use crate::engine::alert::push_time;
use crate::engine::stats::Stats;

/// `--stats`: time span, processes, events by type, gaps and problems.
pub fn write_stats(out: &mut impl Write, s: &Stats, sum: &Summary) -> io::Result<()> {
    writeln!(out, "events: {} in {} chunks", s.events, sum.chunks)?;
    if let (Some(a), Some(b)) = (s.first_ns, s.last_ns) {
        writeln!(
            out,
            "time:   {} to {} ({:.3} s)",
            time_text(a),
            time_text(b),
            b.saturating_sub(a) as f64 / 1e9
        )?;
    }
    writeln!(out, "\nprocesses ({}):", s.processes.len())?;
    writeln!(
        out,
        "  {:>8} {:>8} {:>10}  {:<14} command",
        "pid", "ppid", "events", "exit"
    )?;
    for (pid, p) in &s.processes {
        writeln!(
            out,
            "  {pid:>8} {:>8} {:>10}  {:<14} {}",
            p.ppid,
            p.events,
            p.exit.as_deref().unwrap_or("-"),
            p.cmdline
        )?;
    }
    writeln!(out, "\nevents by type:")?;
    for (t, n) in s.types_by_count() {
        let failed = s.failed_by_type.get(t).copied().unwrap_or(0);
        if failed > 0 {
            writeln!(out, "  {n:>10}  {t} ({failed} failed)")?;
        } else {
            writeln!(out, "  {n:>10}  {t}")?;
        }
    }
    let lost: u64 = s.gaps.iter().map(|(_, n, _)| n).sum();
    writeln!(out, "\ngaps: {} ({lost} events lost)", s.gaps.len())?;
    for (t, n, why) in &s.gaps {
        writeln!(out, "  {}: {n} events lost: {why}", time_text(*t))?;
    }
    if !s.unrecorded_io.is_empty() {
        writeln!(out, "unrecorded I/O paths: {}", s.unrecorded_io.len())?;
        for u in &s.unrecorded_io {
            writeln!(out, "  {}", escape(u))?;
        }
    }
    writeln!(out, "problems: {}", sum.problems.len())?;
    for (path, p) in &sum.problems {
        writeln!(out, "  {}: {}", escape_os(path), escape(p))?;
    }
    Ok(())
}

/// `replay verify`'s report of one trace.
pub fn write_verify(out: &mut impl Write, path: &Path, r: &VerifyReport) -> io::Result<()> {
    let id = r
        .trace_id
        .map(|id| uuid_text(&id))
        .unwrap_or_else(|| "unknown".into());
    writeln!(out, "{}: trace {id}", escape_os(path))?;
    writeln!(
        out,
        "  {} segment(s), {} intact chunk(s), {} event(s)",
        r.segments, r.chunks, r.events
    )?;
    if r.lost_chunks > 0 || r.gap_markers > 0 {
        writeln!(
            out,
            "  gaps: {} event(s) in {} chunk(s) lost while writing (as the index records); {} gap marker(s) name {} lost event(s)",
            r.lost_events, r.lost_chunks, r.gap_markers, r.gap_events
        )?;
    }
    if let (Some(first), Some(last)) = (r.first_wall_ns, r.last_wall_ns) {
        writeln!(
            out,
            "  from {} to {} ({:.3} s)",
            time_text(first),
            time_text(last),
            last.saturating_sub(first) as f64 / 1e9
        )?;
    }
    for p in &r.problems {
        writeln!(out, "  PROBLEM: {}", escape(&Chain(p).to_string()))?;
    }
    if r.is_intact() {
        writeln!(
            out,
            "  OK: every chunk is intact and the hash chain is unbroken"
        )?;
    } else {
        writeln!(out, "  FAILED: {} problem(s)", r.problems.len())?;
    }
    Ok(())
}

/// A trace id as a UUID.
pub fn uuid_text(id: &[u8; 16]) -> String {
    let h: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A wall-clock time in RFC 3339, UTC, with ns.
pub fn time_text(ns: u64) -> String {
    let mut s = String::new();
    push_time(&mut s, ns, "%Y-%m-%dT%H:%M:%S%.9fZ");
    s
}
