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

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use replay::engine::listing::Lister;
use replay::engine::stats::Stats;
use replay::engine::{Alert, Item, RuleEngine, for_each_chunk, walk_chunk};
use replay::rules::{CompiledFilter, LoadOptions, Priority, RuleMatching, load_files};
use trace_format::TraceReader;
use trace_format::verify::{VerifyReport, verify};

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
    /// Trace files (.zst), segment directories, manifests or s3:// prefixes.
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
    /// Print the events matching a Falco condition ('' for every event).
    #[arg(long, value_name = "CONDITION")]
    filter: Option<String>,
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
        /// Trace files (.zst), segment directories, manifests or s3:// prefixes.
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
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Damaged) => ExitCode::from(1),
        Err(Failure::Usage(e)) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("replay: {e:#}");
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
            print_report(&name, &report);
            intact &= report.is_intact();
        }
    }
    if intact {
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
        None => Ok(vec![(
            path.to_path_buf(),
            TraceReader::open(path).with_context(context)?,
        )]),
    }
}

/// What a run does with each chunk.
enum Job<'a> {
    Rules(RuleEngine<'a>),
    Filter {
        filter: Option<Box<CompiledFilter>>,
        window: Option<(Around, Duration)>,
        pid: Option<i32>,
    },
    Stats,
}

/// What one chunk yields.
enum Output {
    Alerts(Vec<Alert>),
    Lines(Vec<String>),
    Stats(Box<Stats>),
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
        };
        let set = load_files(&cli.rules, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
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
                CompiledFilter::new(c).map_err(|e| anyhow::anyhow!("{e}"))?,
            )),
        };
        let window = match &cli.around {
            Some(t) => Some((Around::parse(t)?, cli.window)),
            None => None,
        };
        Job::Filter {
            filter,
            window,
            pid: cli.pid,
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
            |chunk| match &job {
                Job::Rules(engine) => {
                    let r = engine.eval_chunk(chunk);
                    (r.events, Output::Alerts(r.alerts))
                }
                Job::Filter {
                    filter,
                    window,
                    pid,
                } => {
                    let mut lines = Vec::new();
                    let n = walk_chunk(chunk, |v| {
                        if let Some((at, w)) = window
                            && !at.contains(v.wall_ns, *w)
                        {
                            return;
                        }
                        if let Some(pid) = pid
                            && !in_tree(v, *pid)
                        {
                            return;
                        }
                        if filter.as_ref().is_some_and(|f| !f.matches(v)) {
                            return;
                        }
                        lines.push(if cli.json {
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
            },
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
                Item::Problem(p) => summary.problem(path, p.to_string()),
                Item::Notice(n) => summary.problem(path, n),
            },
        );
        if let Some(e) = write_err {
            return Err(anyhow::Error::new(e).context("writing the output").into());
        }
    }
    if cli.stats {
        print_stats(&mut out, &stats, &summary).context("writing the output")?;
    }
    out.flush().context("writing the output")?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (path, p) in &summary.problems {
        eprintln!("replay: {}: {p}", path.display());
    }
    if !cli.quiet {
        summary.print(
            started.elapsed(),
            ruleset.is_some(),
            cli.filter.is_some() || cli.around.is_some(),
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

/// Whether the event's process is `pid`, a descendant of it, or one of its
/// ancestors.
fn in_tree(v: &replay::engine::EventView<'_>, pid: i32) -> bool {
    let table = v.state.table();
    let chain = |start: i32, want: i32| {
        let mut cur = start;
        for _ in 0..256 {
            if cur == want {
                return true;
            }
            match table.process(cur) {
                Some(p) if p.info.ppid > 0 && p.info.ppid != cur => cur = p.info.ppid,
                _ => return false,
            }
        }
        false
    };
    chain(v.ev.pid, pid) || chain(pid, v.ev.pid)
}

/// A point in time given to `--around`.
#[derive(Clone, Copy)]
enum Around {
    /// Absolute (RFC 3339).
    At(u64),
    /// A time of day in UTC (`HH:MM:SS.nnnnnnnnn` as alerts print it), on
    /// whatever day the trace covers.
    TimeOfDay(u64),
}

const DAY_NS: u64 = 86_400_000_000_000;

impl Around {
    fn parse(s: &str) -> anyhow::Result<Around> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            let ns = t
                .timestamp_nanos_opt()
                .filter(|n| *n >= 0)
                .context("time out of range")?;
            return Ok(Around::At(ns as u64));
        }
        if let Ok(t) = chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f") {
            use chrono::Timelike;
            let ns = u64::from(t.num_seconds_from_midnight()) * 1_000_000_000
                + u64::from(t.nanosecond());
            return Ok(Around::TimeOfDay(ns));
        }
        bail!(
            "`{s}` is not a time: give it as an alert prints it (HH:MM:SS.nnnnnnnnn, UTC) or in RFC 3339 (2026-11-23T10:00:00Z)"
        )
    }

    fn contains(&self, ns: u64, w: Duration) -> bool {
        let w = w.as_nanos().min(u128::from(DAY_NS / 2)) as u64;
        match *self {
            Around::At(t) => ns.abs_diff(t) <= w,
            Around::TimeOfDay(t) => {
                let d = (ns % DAY_NS).abs_diff(t);
                d.min(DAY_NS - d) <= w
            }
        }
    }
}

/// What the run saw, for the closing summary.
#[derive(Default)]
struct Summary {
    events: u64,
    chunks: u64,
    first_ns: Option<u64>,
    last_ns: Option<u64>,
    alerts: u64,
    by_rule: std::collections::BTreeMap<String, u64>,
    by_priority: std::collections::BTreeMap<Priority, u64>,
    problems: Vec<(PathBuf, String)>,
}

impl Summary {
    fn chunk(&mut self, info: &trace_format::ChunkInfo, events: u64) {
        self.events += events;
        self.chunks += 1;
        if info.event_count > 0 {
            let (a, b) = (info.wall_ns(info.first_ts), info.wall_ns(info.last_ts));
            self.first_ns = Some(self.first_ns.map_or(a, |f| f.min(a)));
            self.last_ns = Some(self.last_ns.map_or(b, |l| l.max(b)));
        }
    }

    fn alert(&mut self, engine: &RuleEngine<'_>, a: &Alert) {
        self.alerts += 1;
        *self
            .by_rule
            .entry(engine.rules().rules()[a.rule].name.clone())
            .or_default() += 1;
        *self.by_priority.entry(a.priority).or_default() += 1;
    }

    fn problem(&mut self, path: &Path, p: String) {
        self.problems.push((path.to_path_buf(), p));
    }

    fn print(&self, elapsed: Duration, rules: bool, listing: bool) {
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
        eprintln!(
            "replay: {} events in {} chunks{span}; {:.0} events/s",
            self.events,
            self.chunks,
            self.events as f64 / secs
        );
        if rules {
            let prio: Vec<String> = self
                .by_priority
                .iter()
                .map(|(p, n)| format!("{n} {p}"))
                .collect();
            eprintln!(
                "replay: {} alerts{}{}",
                self.alerts,
                if prio.is_empty() { "" } else { ": " },
                prio.join(", ")
            );
            for (rule, n) in &self.by_rule {
                eprintln!("  {n:>8}  {rule}");
            }
        }
        let _ = listing;
        if !self.problems.is_empty() {
            eprintln!(
                "replay: {} problem(s) with the trace; the chunks that could be read were evaluated",
                self.problems.len()
            );
        }
    }
}

fn print_stats(out: &mut impl Write, s: &Stats, sum: &Summary) -> io::Result<()> {
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
    writeln!(out, "\ngaps: {}", s.gaps.len())?;
    for (t, n, why) in &s.gaps {
        writeln!(out, "  {}: {n} events lost: {why}", time_text(*t))?;
    }
    if !s.unrecorded_io.is_empty() {
        writeln!(out, "unrecorded I/O paths: {}", s.unrecorded_io.len())?;
        for u in &s.unrecorded_io {
            writeln!(out, "  {}", u.escape_debug())?;
        }
    }
    writeln!(out, "problems: {}", sum.problems.len())?;
    for (path, p) in &sum.problems {
        writeln!(out, "  {}: {p}", path.display())?;
    }
    Ok(())
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
    let mut s = String::new();
    replay::engine::alert::push_time(&mut s, ns, "%Y-%m-%dT%H:%M:%S%.9fZ");
    s
}
