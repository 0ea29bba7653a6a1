//! `replay`: the investigation binary. Thin: parses arguments, calls the
//! libraries, prints, maps errors to exit codes.
//!
//! Exit status: 0 when all went well; 1 when the trace has problems
//! (damaged or missing chunks: everything readable was still evaluated);
//! 2 for usage errors and rules that do not load.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use replay::engine::listing::Lister;
use replay::engine::stats::Stats;
use replay::engine::{Item, RuleEngine, for_each_chunk};
use replay::investigate::report::{write_stats, write_verify};
use replay::investigate::{Around, Job, Output, Summary};
use replay::rules::{CompiledFilter, LoadOptions, Priority, RuleMatching, load_files};
use trace_format::TraceReader;
use trace_format::error::Chain;
use trace_format::escape::{escape, escape_os};
use trace_format::verify::verify;

#[derive(Parser)]
#[command(
    name = "replay",
    version,
    about = "Investigate sysrec traces: Falco rules, event listings, integrity checks",
    after_help = "Exit status: 0 on success; 1 when the trace is damaged (what could be read was still evaluated); 2 for usage errors and rules that do not load."
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Trace files (.zst), segment directories, manifests, s3:// prefixes or .scap captures (plain or gzip).
    traces: Vec<PathBuf>,
    /// S3-compatible endpoint for s3:// traces (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL", global = true)]
    s3_endpoint: Option<String>,
    /// Falco rules file; repeat to load several, in order.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// One JSON object per line (Falco's JSON output schema for alerts).
    #[arg(long)]
    json: bool,
    /// Emit only the first matching rule per event, or all of them.
    #[arg(long, value_enum, default_value_t = Matching::First)]
    rule_matching: Matching,
    /// Ignore rules below this priority (emergency .. debug).
    #[arg(long, value_name = "LEVEL", default_value = "debug", value_parser = parse_priority)]
    min_priority: Priority,
    /// Do not append Falco's suggested output fields (container_id=...
    /// container_name=... container_image_repository=...
    /// container_image_tag=... k8s_pod_name=... k8s_ns_name=...) to alerts.
    #[arg(long)]
    no_suggested_output: bool,
    /// Print the events matching a Falco condition ('' for every event).
    #[arg(long, value_name = "CONDITION")]
    filter: Option<String>,
    /// With --filter: print each event as this Falco output format
    /// (`%evt.type %proc.name %fd.name`, like `sysdig -p`).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Print what is in the trace: time span, processes, counts, gaps.
    #[arg(long)]
    stats: bool,
    /// List the events around this time (as an alert prints it:
    /// `HH:MM:SS[.nnnnnnnnn]`, or RFC 3339).
    #[arg(long, value_name = "TIME")]
    around: Option<String>,
    /// With --around: how far before and after (e.g. 2s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    window: Duration,
    /// With --around: only this process, its ancestors and its descendants.
    #[arg(long, value_name = "PID")]
    pid: Option<i32>,
    /// Worker threads (default: one per CPU).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Matching {
    First,
    All,
}

#[derive(Subcommand)]
enum Command {
    /// Check every chunk's hash and the hash chain; report what is missing or altered.
    Verify {
        /// Trace files (.zst), segment directories, manifests, s3:// prefixes or .scap captures (plain or gzip).
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Write the traces' events as a capture file other tools read.
    Export {
        /// Write a `.scap` capture (sysdig, Falco, Stratoshark) to this path.
        #[arg(long, value_name = "OUT.scap", required = true)]
        scap: PathBuf,
        /// Trace files (.zst), segment directories, manifests, s3:// prefixes or .scap captures (plain or gzip).
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
}

fn parse_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(s).ok_or_else(|| {
        format!("`{s}` is not a priority: use emergency, alert, critical, error, warning, notice, informational or debug")
    })
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 2s, 500ms)"))?;
    let secs = match unit {
        "s" => v,
        "ms" => v / 1e3,
        "us" => v / 1e6,
        "m" => v * 60.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use s, ms, us or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

/// Usage errors exit 2, trace damage 1.
enum Failure {
    Usage(anyhow::Error),
    Damaged,
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Usage(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Verify { traces }) => run_verify(traces, &cli.s3_endpoint),
        Some(Command::Export { scap, traces }) => run_export(scap, traces, &cli.s3_endpoint),
        None => run(&cli),
    };
    if let Ok(mut temps) = SCAP_TEMPS.lock() {
        temps.clear();
    }
    let damaged = SCAP_DAMAGED.load(std::sync::atomic::Ordering::Relaxed);
    match result {
        Ok(()) if damaged => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Damaged) => ExitCode::from(1),
        Err(Failure::Usage(e)) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Rule diagnostics escape their own parts (one per line).
            match e.downcast_ref::<replay::rules::LoadError>() {
                Some(_) => eprintln!("replay: {e:#}"),
                None => eprintln!("replay: {}", escape(&format!("{e:#}"))),
            }
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run_verify(traces: &[PathBuf], s3_endpoint: &Option<String>) -> Result<(), Failure> {
    let mut intact = true;
    for path in traces {
        for (name, reader) in open(path, s3_endpoint)? {
            let report = verify(&reader);
            write_verify(&mut io::stdout().lock(), &name, &report).context("writing the output")?;
            intact &= report.is_intact();
        }
    }
    if intact {
        Ok(())
    } else {
        Err(Failure::Damaged)
    }
}

fn run_export(out: &Path, traces: &[PathBuf], s3_endpoint: &Option<String>) -> Result<(), Failure> {
    let mut readers = Vec::new();
    for p in traces {
        readers.extend(open(p, s3_endpoint)?.into_iter().map(|(_, r)| r));
    }
    let summary = replay::scap::export(&readers, out).map_err(anyhow::Error::new)?;
    for p in &summary.problems {
        eprintln!("replay: {}", escape(&Chain(p).to_string()));
    }
    if summary.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Damaged)
    }
}

/// The traces `path` names: one local trace, or every trace under an
/// `s3://` prefix (read with ranged GETs, as they are needed).
fn open(path: &Path, s3_endpoint: &Option<String>) -> anyhow::Result<Vec<(PathBuf, TraceReader)>> {
    let context = || format!("cannot read `{}`", path.display());
    match path.to_str().filter(|p| p.starts_with("s3://")) {
        Some(url) => Ok(sysrec_s3::open_url(url, s3_endpoint.clone())
            .with_context(context)?
            .into_iter()
            .map(|t| (PathBuf::from(t.url), t.reader))
            .collect()),
        None if path.is_file() && replay::scap::looks_like_scap(path) => {
            Ok(vec![(path.to_path_buf(), open_scap(path)?)])
        }
        // A local trace's errors name the path themselves.
        None => Ok(vec![(
            path.to_path_buf(),
            TraceReader::open(path).map_err(anyhow::Error::new)?,
        )]),
    }
}

/// Converted `.scap` captures: their temporary directories, removed when
/// `main` returns.
static SCAP_TEMPS: std::sync::Mutex<Vec<tempfile::TempDir>> = std::sync::Mutex::new(Vec::new());
/// A capture had damaged blocks (exit status 1).
static SCAP_DAMAGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A `.scap` capture, converted to a temporary trace and opened.
fn open_scap(path: &Path) -> anyhow::Result<TraceReader> {
    let dir = tempfile::Builder::new()
        .prefix("replay-scap")
        .tempdir()
        .context("cannot create a temporary directory for the capture")?;
    let out = dir.path().join("capture.zst");
    let summary = replay::scap::import(path, &out)?;
    for p in &summary.problems {
        eprintln!("replay: {}: {}", escape_os(path), escape(p));
        SCAP_DAMAGED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let reader = TraceReader::open(&out).map_err(anyhow::Error::new)?;
    if let Ok(mut temps) = SCAP_TEMPS.lock() {
        temps.push(dir);
    }
    Ok(reader)
}

fn run(cli: &Cli) -> Result<(), Failure> {
    if cli.traces.is_empty() {
        return Err(anyhow::anyhow!(
            "no trace given: `replay TRACE --rules FILE`, `replay TRACE --filter COND`, `replay TRACE --stats` or `replay verify TRACE`"
        )
        .into());
    }
    let modes = usize::from(!cli.rules.is_empty())
        + usize::from(cli.filter.is_some() || cli.around.is_some())
        + usize::from(cli.stats);
    if modes != 1 {
        return Err(anyhow::anyhow!(
            "choose one of --rules FILE, --filter CONDITION (or --around TIME), --stats"
        )
        .into());
    }
    if cli.format.is_some() && cli.filter.is_none() && cli.around.is_none() {
        return Err(anyhow::anyhow!("--format goes with --filter CONDITION").into());
    }
    if cli.pid.is_some() && cli.around.is_none() {
        return Err(anyhow::anyhow!("--pid goes with --around TIME").into());
    }
    // Validate everything before reading traces.
    let ruleset = if cli.rules.is_empty() {
        None
    } else {
        let opts = LoadOptions {
            min_priority: cli.min_priority,
            rule_matching: match cli.rule_matching {
                Matching::First => RuleMatching::First,
                Matching::All => RuleMatching::All,
            },
            suggested_output: !cli.no_suggested_output,
        };
        let set = load_files(&cli.rules, &opts).map_err(anyhow::Error::new)?;
        if !cli.quiet {
            for w in set.warnings() {
                eprintln!("{w}");
            }
        }
        Some(set)
    };
    let job = if let Some(set) = &ruleset {
        Job::Rules(RuleEngine::new(set, cli.json))
    } else if cli.stats {
        Job::Stats
    } else {
        let filter = match cli.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(Box::new(
                CompiledFilter::new(c).map_err(anyhow::Error::new)?,
            )),
        };
        let window = match &cli.around {
            Some(t) => Some((Around::parse(t).map_err(anyhow::Error::new)?, cli.window)),
            None => None,
        };
        Job::Filter {
            filter,
            window,
            pid: cli.pid,
            json: cli.json,
            format: match &cli.format {
                Some(f) => Some(Box::new(
                    replay::rules::OutputTemplate::standalone(f).map_err(anyhow::Error::new)?,
                )),
                None => None,
            },
        }
    };
    let mut readers = Vec::new();
    for p in &cli.traces {
        readers.extend(open(p, &cli.s3_endpoint)?);
    }
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cli.threads {
        if n == 0 {
            return Err(anyhow::anyhow!("--threads must be at least 1").into());
        }
        builder = builder.num_threads(n);
    }
    let pool = builder.build().context("cannot start the worker threads")?;
    let lister = Lister::new();
    let total_bytes: u64 = readers
        .iter()
        .flat_map(|(_, r)| r.locations())
        .map(|l| l.compressed_len)
        .sum();
    let bar = progress_bar(total_bytes, cli.quiet);
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut stats = Stats::default();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (path, reader) in &readers {
        let mut write_err: Option<io::Error> = None;
        for_each_chunk(
            reader,
            &pool,
            |chunk| job.eval(chunk, &lister),
            |item| match item {
                Item::Chunk {
                    info,
                    bytes,
                    out: (events, o),
                } => {
                    summary.chunk(&info, events);
                    if let Some(b) = &bar {
                        b.inc(bytes);
                        b.set_message(format!("{} events", summary.events));
                    }
                    if write_err.is_some() {
                        return;
                    }
                    let r = match (o, &job) {
                        (Output::Alerts(alerts), Job::Rules(engine)) => {
                            alerts.iter().try_for_each(|a| {
                                summary.alert(engine, a);
                                if cli.json {
                                    writeln!(out, "{}", engine.json(a))
                                } else {
                                    writeln!(out, "{}", engine.text(a))
                                }
                            })
                        }
                        (Output::Lines(lines), _) => {
                            lines.iter().try_for_each(|l| writeln!(out, "{l}"))
                        }
                        (Output::Stats(s), _) => {
                            stats.merge(*s);
                            Ok(())
                        }
                        _ => Ok(()),
                    };
                    if let Err(e) = r {
                        write_err = Some(e);
                    }
                }
                Item::Problem(p) => summary.problem(path, Chain(&p).to_string()),
                Item::Notice(n) => summary.problem(path, n),
            },
        );
        if let Some(e) = write_err {
            return Err(anyhow::Error::new(e).context("writing the output").into());
        }
    }
    if cli.stats {
        write_stats(&mut out, &stats, &summary).context("writing the output")?;
    }
    out.flush().context("writing the output")?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (path, p) in &summary.problems {
        eprintln!("replay: {}: {}", escape_os(path), escape(p));
    }
    if !cli.quiet {
        // The summary is a courtesy: a closed stderr does not fail the run.
        let _ = summary.write(
            &mut io::stderr().lock(),
            started.elapsed(),
            ruleset.is_some(),
        );
    }
    if summary.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Damaged)
    }
}

fn progress_bar(total: u64, quiet: bool) -> Option<ProgressBar> {
    if quiet || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
