//! Command-line options, parsed in two phases: clap turns the command line
//! into [`Args`]; [`Args::validate`] turns that into a [`Config`] or an
//! error naming the bad input, before anything is started.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use trace_format::syscalls::{SetError, SyscallSet, parse_set};

use crate::placement::CpuAffinity;

/// `capture`: record every syscall of a workload into a trace file.
#[derive(Debug, Parser)]
#[command(
    name = "capture",
    version,
    about = "Record every syscall of a workload and its descendants with ptrace",
    after_help = "Exit status: the workload's (128+N if it died of signal N); 127 if CMD is not found; 126 if it cannot be executed; 125 if capture itself failed."
)]
pub struct Args {
    /// Trace file to write (with rotation: segments and a manifest next to it).
    #[arg(short, long, default_value = "trace.zst")]
    pub output: PathBuf,

    /// Attach to this running process instead of launching CMD.
    #[arg(long, conflicts_with = "cmd")]
    pub pid: Option<i32>,

    /// Bytes of I/O buffers kept per read/write/send/recv (at most 1048576).
    #[arg(long, default_value_t = 80)]
    pub snaplen: u32,

    /// Start a new segment when the current one reaches this size (e.g. 100M).
    #[arg(long, value_name = "SIZE")]
    pub rotate_size: Option<String>,

    /// Start a new segment after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub rotate_secs: Option<u64>,

    /// Uncompressed chunk size (e.g. 4M).
    #[arg(long, value_name = "SIZE")]
    pub chunk_size: Option<String>,

    /// Ship every closed segment to S3 while the workload runs
    /// (s3://bucket/prefix; credentials from the standard AWS chain).
    #[arg(long, value_name = "URL")]
    pub s3: Option<String>,

    /// S3-compatible endpoint (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL", requires = "s3")]
    pub s3_endpoint: Option<String>,

    /// Encrypt uploads with this KMS key (SSE-KMS).
    #[arg(long, value_name = "ID", requires = "s3")]
    pub sse_kms_key: Option<String>,

    /// Seconds to wait for uploads after the workload exited (from SIGTERM if one came).
    #[arg(long, value_name = "SECS", requires = "s3")]
    pub flush_timeout: Option<f64>,

    /// Most bytes of unshipped trace files kept on disk (e.g. 2G); past it new
    /// chunks are dropped and recorded as a gap. Default: no limit.
    #[arg(long, value_name = "SIZE", requires = "s3")]
    pub spool_limit: Option<String>,

    /// No summary line at exit.
    #[arg(short, long)]
    pub quiet: bool,

    /// More detail on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    /// Syscalls to record: all (default), falco, file, net, process, or a
    /// comma list of sets and syscall names. State-changing syscalls are
    /// always recorded. Other than `all`, a seccomp filter makes the rest
    /// run without stopping (launch mode; with --pid they still stop).
    #[arg(long, value_name = "SET", default_value = "all")]
    pub syscalls: String,

    /// CPU placement: auto (tracer and workload on one CPU while the workload
    /// is a single thread), shared (always: restricts the workload), none.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = CpuAffinity::Auto)]
    pub cpu_affinity: CpuAffinity,

    /// When the launched command exits, release (detach from) the processes
    /// it left running instead of recording them until the last one exits.
    #[arg(long)]
    pub detach_on_exit: bool,

    /// Tracer threads: the workload's new threads and processes are
    /// spread over N threads (1-64), and busy ones moved between them, so
    /// a workload of several busy threads or processes (a Go server, nginx
    /// or postgres workers) is not held to one CPU's worth of stops.
    /// `auto`: as many as the CPUs capture may use (its CPU
    /// set and cgroup CPU limit, as the workload inherits them). One
    /// tracer with `--cpu-affinity shared`, which holds the workload to
    /// one CPU.
    #[arg(long, value_name = "N|auto", default_value = "auto", value_parser = parse_tracers)]
    pub tracers: Tracers,

    /// Let the workload use io_uring (by default io_uring_setup fails with
    /// ENOSYS); its I/O is then not in the trace, which says so.
    #[arg(long)]
    pub allow_io_uring: bool,

    /// Close a chunk at least this often, in milliseconds: the most a killed
    /// capture can lose.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub flush_interval: u64,
    #[command(flatten)]
    pub alerts: crate::alerts::AlertArgs,
    /// The container id to record, instead of the one found in
    /// /proc/self/cgroup, /proc/self/mountinfo or ECS task metadata.
    #[arg(long, value_name = "ID")]
    pub container_id: Option<String>,

    /// The command to launch and record.
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

/// The largest `--snaplen` (1 MiB). One event holds at most this much of
/// a buffer (a vectored call's buffers together), so a chunk, closed at most
/// one event past its size (at most half the reader's limit), stays far
/// under [`trace_format::container::MAX_CHUNK_LEN`]; and the events waiting
/// for the writer hold a bounded number of bytes (see `CHANNEL_BYTES` in
/// `lib.rs`). A larger value is refused (exit 2), not clamped: the user
/// asked for data capture would not keep.
pub const MAX_SNAPLEN: u32 = 1 << 20;

// A full chunk plus one event at the largest snaplen (and a generous
// allowance for its paths and argv) must stay readable.
const _: () = assert!(
    (MAX_SNAPLEN as u64) + (16 << 20) <= trace_format::container::MAX_CHUNK_LEN / 2,
    "--snaplen's bound must keep every chunk under the reader's limit"
);

/// What to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Launch(Vec<OsString>),
    Attach(i32),
}

/// Validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub target: Target,
    pub output: PathBuf,
    pub snaplen: u32,
    pub rotate_bytes: Option<u64>,
    pub rotate_secs: Option<Duration>,
    pub chunk_bytes: Option<usize>,
    pub quiet: bool,
    pub verbose: bool,
    /// `--s3`: ship segments (rotation is then on, see [`crate::ship::config`]).
    pub ship: Option<crate::ship::ShipConfig>,
    /// capture's own command line, for the trace metadata.
    pub command_line: Vec<String>,
    /// `--syscalls`: `None` records every syscall (`all`, unknown numbers
    /// included); otherwise the set, `STATE` syscalls included.
    pub syscalls: Option<SyscallSet>,
    /// `--syscalls` as given, for the trace metadata.
    pub syscall_spec: String,
    pub cpu_affinity: CpuAffinity,
    /// `--detach-on-exit`.
    pub detach_on_exit: bool,
    /// `--tracers`: tracer threads.
    pub tracers: usize,
    /// `--allow-io-uring`.
    pub allow_io_uring: bool,
    /// `--flush-interval`: a chunk is closed at least this often.
    pub flush_interval: Duration,
    /// `--rules`: live alerts.
    pub alerts: Option<crate::alerts::AlertOptions>,
    /// `--container-id`: overrides every other source.
    pub container_id: Option<String>,
}

impl Config {
    /// Things the user should know before the run starts (printed by the
    /// binary, even with `-q`).
    pub fn notices(&self) -> Vec<String> {
        let mut v = Vec::new();
        if matches!(self.target, Target::Attach(_)) && self.syscalls.is_some() {
            v.push(format!(
                "--syscalls {}: with --pid no seccomp filter can be installed (a running \
                 process must install it itself), so every syscall still stops; only the \
                 selected ones are recorded",
                self.syscall_spec
            ));
        }
        v
    }
}

/// Invalid command-line input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionError {
    #[error("nothing to record: give `-- CMD [ARGS...]` or `--pid PID`")]
    NoTarget,
    #[error("invalid size `{0}` (expected e.g. 4096, 64K, 100M, 2G)")]
    Size(String),
    #[error("`--{0}` must be positive")]
    Zero(&'static str),
    #[error("invalid pid `{0}`")]
    Pid(i32),
    #[error("--syscalls: {0}")]
    Syscalls(#[from] SetError),
    #[error("--s3: {0}")]
    S3(String),
    #[error("invalid --flush-timeout `{0}` (expected seconds, e.g. 20)")]
    FlushTimeout(String),
    #[error(
        "--snaplen {0} is over the limit of {MAX_SNAPLEN} bytes (1 MiB) of buffer kept per event"
    )]
    Snaplen(u32),
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertOptionError),
}

/// Parses `123`, `64K`, `100M`, `2G` (binary multiples, optional `B`/`iB`).
pub fn parse_size(s: &str) -> Result<u64, OptionError> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| OptionError::Size(s.to_string()))
}

impl Args {
    /// Checks the input and builds the [`Config`].
    pub fn validate(self) -> Result<Config, OptionError> {
        let target = match (self.pid, self.cmd.is_empty()) {
            (Some(p), _) if p <= 0 => return Err(OptionError::Pid(p)),
            (Some(p), _) => Target::Attach(p),
            (None, false) => Target::Launch(self.cmd),
            (None, true) => return Err(OptionError::NoTarget),
        };
        if self.snaplen > MAX_SNAPLEN {
            return Err(OptionError::Snaplen(self.snaplen));
        }
        let rotate_bytes = self.rotate_size.as_deref().map(parse_size).transpose()?;
        if rotate_bytes == Some(0) {
            return Err(OptionError::Zero("rotate-size"));
        }
        if self.rotate_secs == Some(0) {
            return Err(OptionError::Zero("rotate-secs"));
        }
        if self.flush_interval == 0 {
            return Err(OptionError::Zero("flush-interval"));
        }
        let chunk_bytes = self
            .chunk_size
            .as_deref()
            .map(parse_size)
            .transpose()?
            .map(|b| usize::try_from(b).unwrap_or(usize::MAX));
        if chunk_bytes == Some(0) {
            return Err(OptionError::Zero("chunk-size"));
        }
        let alerts = self.alerts.validate()?;
        let set = parse_set(&self.syscalls)?;
        let all = self.syscalls.split(',').any(|i| i.trim() == "all");
        let ship = match &self.s3 {
            None => None,
            Some(url) => Some(crate::ship::ShipConfig {
                url: url
                    .parse::<sysrec_s3::S3Url>()
                    .map_err(|e| OptionError::S3(e.to_string()))?,
                endpoint: self.s3_endpoint.clone(),
                sse_kms_key: self.sse_kms_key.clone(),
                flush_timeout: match self.flush_timeout {
                    None => crate::ship::config::DEFAULT_FLUSH_TIMEOUT,
                    Some(t) if t.is_finite() && (0.0..=86_400.0).contains(&t) => {
                        Duration::from_secs_f64(t)
                    }
                    Some(t) => return Err(OptionError::FlushTimeout(t.to_string())),
                },
                retry: crate::ship::RetryPolicy::default(),
                spool_limit: match self.spool_limit.as_deref().map(parse_size).transpose()? {
                    Some(0) => return Err(OptionError::Zero("spool-limit")),
                    l => l,
                },
            }),
        };
        let (mut rotate_bytes, mut rotate_secs) =
            (rotate_bytes, self.rotate_secs.map(Duration::from_secs));
        if ship.is_some() && rotate_bytes.is_none() && rotate_secs.is_none() {
            rotate_bytes = Some(crate::ship::config::DEFAULT_ROTATE_BYTES);
            rotate_secs = Some(crate::ship::config::DEFAULT_ROTATE_SECS);
        }
        Ok(Config {
            target,
            output: self.output,
            snaplen: self.snaplen,
            rotate_bytes,
            rotate_secs,
            chunk_bytes,
            ship,
            quiet: self.quiet,
            verbose: self.verbose,
            command_line: std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            syscalls: (!all).then_some(set),
            syscall_spec: self.syscalls.trim().to_string(),
            cpu_affinity: self.cpu_affinity,
            detach_on_exit: self.detach_on_exit,
            tracers: self.tracers.count(),
            allow_io_uring: self.allow_io_uring,
            flush_interval: Duration::from_millis(self.flush_interval),
            alerts,
            container_id: self.container_id.filter(|s| !s.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        Args::try_parse_from(args)
            .map_err(|e| e.to_string())?
            .validate()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn targets() {
        let c = parse(&["capture", "-o", "x.zst", "--", "sh", "-c", "exit 7"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.target,
            Target::Launch(vec!["sh".into(), "-c".into(), "exit 7".into()])
        );
        assert_eq!(c.snaplen, 80);
        let c = parse(&["capture", "--pid", "42"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.target, Target::Attach(42));
        assert!(parse(&["capture"]).is_err());
        assert!(parse(&["capture", "--pid", "0"]).is_err());
        assert!(parse(&["capture", "--pid", "1", "--", "ls"]).is_err());
        assert!(parse(&["capture", "--rotate-size", "0", "--", "ls"]).is_err());
        assert!(parse(&["capture", "--chunk-size", "x", "--", "ls"]).is_err());
        assert!(parse(&["capture", "--snaplen", "1048576", "--", "ls"]).is_ok());
        let e = parse(&["capture", "--snaplen", "300000000", "--", "ls"]).unwrap_err();
        assert!(e.contains("--snaplen 300000000 is over the limit"), "{e}");
    }

    #[test]
    fn tracers() {
        let count = |args: &[&str]| parse(args).map(|c| c.tracers);
        assert_eq!(count(&["capture", "--tracers", "1", "--", "ls"]), Ok(1));
        assert_eq!(count(&["capture", "--tracers", "4", "--", "ls"]), Ok(4));
        // auto, the default: the CPUs this process may use.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            count(&["capture", "--tracers", "auto", "--", "ls"]),
            Ok(cpus.min(64))
        );
        assert_eq!(count(&["capture", "--", "ls"]), Ok(cpus.min(64)));
        for bad in ["0", "65", "many", ""] {
            let e = count(&["capture", "--tracers", bad, "--", "ls"]).unwrap_err();
            assert!(e.contains("from 1 to 64 or `auto`"), "{bad}: {e}");
        }
    }

    #[test]
    fn syscall_sets() {
        let c = parse(&["capture", "--", "ls"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.syscalls.is_none());
        assert_eq!(c.syscall_spec, "all");
        let c =
            parse(&["capture", "--syscalls", "net", "--", "ls"]).unwrap_or_else(|e| panic!("{e}"));
        let set = c.syscalls.unwrap_or_else(|| panic!("a set"));
        assert!(set.contains(42) && set.contains(33), "connect, dup2");
        let c = parse(&["capture", "--syscalls", "file,all", "--", "ls"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.syscalls.is_none());
        let e = parse(&["capture", "--syscalls", "opnat", "--", "ls"]).unwrap_err();
        assert!(e.contains("did you mean `openat`"), "{e}");
    }

    #[test]
    fn s3_options() {
        let c = parse(&["capture", "--s3", "s3://bucket/p", "--", "ls"])
            .unwrap_or_else(|e| panic!("{e}"));
        let ship = c.ship.unwrap_or_else(|| panic!("no ship config"));
        assert_eq!(ship.url.bucket, "bucket");
        assert_eq!(ship.flush_timeout, Duration::from_secs(20));
        // --s3 alone turns rotation on, so segments ship while recording.
        assert_eq!(c.rotate_bytes, Some(64 << 20));
        assert_eq!(c.rotate_secs, Some(Duration::from_secs(60)));
        let c = parse(&[
            "capture",
            "--s3",
            "s3://bucket",
            "--rotate-secs",
            "5",
            "--flush-timeout",
            "1.5",
            "--",
            "ls",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.rotate_bytes, None);
        assert_eq!(
            c.ship.map(|s| s.flush_timeout),
            Some(Duration::from_millis(1500))
        );
        assert!(parse(&["capture", "--s3", "http://x/y", "--", "ls"]).is_err());
        assert!(parse(&["capture", "--s3-endpoint", "http://x", "--", "ls"]).is_err());
        assert!(
            parse(&[
                "capture",
                "--s3",
                "s3://bucket",
                "--flush-timeout",
                "-1",
                "--",
                "ls"
            ])
            .is_err()
        );
    }
}

/// `--tracers`: a number of tracer threads, or one per usable CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracers {
    Count(u32),
    Auto,
}

impl Tracers {
    /// The most tracer threads capture runs.
    pub const MAX: u32 = 64;

    /// How many tracer threads to run: `auto` counts the CPUs this
    /// process may use (`available_parallelism`: its CPU set and cgroup
    /// quota), at most [`Tracers::MAX`].
    pub fn count(self) -> usize {
        match self {
            Tracers::Count(n) => n as usize,
            Tracers::Auto => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, Tracers::MAX as usize),
        }
    }
}

fn parse_tracers(s: &str) -> std::result::Result<Tracers, String> {
    if s == "auto" {
        return Ok(Tracers::Auto);
    }
    match s.parse::<u32>() {
        Ok(n) if (1..=Tracers::MAX).contains(&n) => Ok(Tracers::Count(n)),
        _ => Err(format!(
            "expected a number from 1 to {} or `auto`",
            Tracers::MAX
        )),
    }
}
