//! `replay`: the investigation binary. Thin: parses arguments, calls the
//! libraries, prints, maps errors to exit codes.
//!
//! Exit status: 0 when all went well, 1 when the trace has problems (a
//! verify that found damage) or alerts could not be computed, 2 for usage
//! errors.

use std::path::{Path, PathBuf};
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
    /// Trace files (.zst), segment directories, manifests or s3:// prefixes.
    traces: Vec<PathBuf>,
    /// S3-compatible endpoint for s3:// traces (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL", global = true)]
    s3_endpoint: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check every chunk's hash and the hash chain; report what is missing or altered.
    Verify {
        /// Trace files (.zst), segment directories, manifests or s3:// prefixes.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Verify { traces }) => run_verify(&traces, cli.s3_endpoint),
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

fn run_verify(traces: &[PathBuf], s3_endpoint: Option<String>) -> anyhow::Result<ExitCode> {
    let mut intact = true;
    for path in traces {
        for (name, reader) in open(path, &s3_endpoint)? {
            let report = verify(&reader);
            print_report(&name, &report);
            intact &= report.is_intact();
        }
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The traces `path` names: one local trace, or every trace under an
/// `s3://` prefix.
fn open(path: &Path, s3_endpoint: &Option<String>) -> anyhow::Result<Vec<(PathBuf, TraceReader)>> {
    let context = || format!("opening `{}`", path.display());
    match path.to_str().filter(|p| p.starts_with("s3://")) {
        Some(url) => Ok(sysrec_s3::open_url(url, s3_endpoint.clone())
            .with_context(context)?
            .into_iter()
            .map(|t| (PathBuf::from(t.url), t.reader))
            .collect()),
        None => Ok(vec![(
            path.to_path_buf(),
            TraceReader::open(path).with_context(context)?,
        )]),
    }
}

fn print_report(path: &Path, r: &VerifyReport) {
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
