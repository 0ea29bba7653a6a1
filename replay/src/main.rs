//! `replay`: the investigation binary. Thin: parses arguments, calls the
//! libraries, prints, maps errors to exit codes.
//!
//! Exit status: 0 when all went well, 1 when the trace has problems (a
//! verify that found damage) or alerts could not be computed, 2 for usage
//! errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trace_format::TraceReader;
use trace_format::verify::{VerifyReport, verify};

#[derive(Parser)]
#[command(
    name = "replay",
    version,
    about = "Investigate sysrec traces: Falco rules, event listings, integrity checks"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Trace files (.zst), segment directories or manifests.
    traces: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Check every chunk's hash and the hash chain; report what is missing or altered.
    Verify {
        /// Trace files (.zst), segment directories or manifests.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Verify { traces }) => run_verify(&traces),
        None => Err(anyhow::anyhow!(
            "rule evaluation is not available in this build yet; use `replay verify TRACE...`"
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("replay: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_verify(traces: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut intact = true;
    for path in traces {
        let reader =
            TraceReader::open(path).with_context(|| format!("verifying `{}`", path.display()))?;
        let report = verify(&reader);
        print_report(path, &report);
        intact &= report.is_intact();
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(path: &std::path::Path, r: &VerifyReport) {
    let id = r
        .trace_id
        .map(|id| uuid_text(&id))
        .unwrap_or_else(|| "unknown".into());
    println!("{}: trace {id}", path.display());
    println!(
        "  {} segment(s), {} intact chunk(s), {} event(s)",
        r.segments, r.chunks, r.events
    );
    if let (Some(first), Some(last)) = (r.first_wall_ns, r.last_wall_ns) {
        println!(
            "  from {} to {} ({:.3} s)",
            time_text(first),
            time_text(last),
            last.saturating_sub(first) as f64 / 1e9
        );
    }
    for p in &r.problems {
        println!("  PROBLEM: {p}");
    }
    if r.is_intact() {
        println!("  OK: every chunk is intact and the hash chain is unbroken");
    } else {
        println!("  FAILED: {} problem(s)", r.problems.len());
    }
}

fn uuid_text(id: &[u8; 16]) -> String {
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

fn time_text(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
        .unwrap_or_else(|| ns.to_string())
}
