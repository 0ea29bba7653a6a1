//! `capture-inject`: rewrites a deployment description so that its
//! containers run under capture, mounted from the sidecar image (see
//! `capture::inject`). A separate binary, not a `capture` subcommand:
//! capture's command line belongs to the workload after `--`, and this
//! tool runs where task definitions are written (a laptop, a pipeline),
//! not in the image.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use capture::inject::{InjectOptions, ecs};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "capture-inject",
    version,
    about = "Rewrite a deployment description so that its containers run under capture"
)]
struct Cli {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// An ECS task definition (as `aws ecs describe-task-definition` prints
    /// it, or as written for `register-task-definition`); writes a
    /// `register-task-definition` request.
    Ecs(EcsArgs),
}

#[derive(Debug, Args)]
struct EcsArgs {
    /// The task definition JSON (`-`: standard input).
    taskdef: PathBuf,

    /// Where to write the result (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The sidecar image holding /sysrec/capture (samples/deploy/Dockerfile.sidecar).
    #[arg(long, value_name = "IMAGE")]
    sidecar_image: String,

    /// A container to run under capture (repeatable; default: all but the sidecar).
    #[arg(long = "container", value_name = "NAME")]
    containers: Vec<String>,

    /// capture's --s3.
    #[arg(long, value_name = "URL")]
    s3: Option<String>,

    /// capture's --flush-timeout (with --s3); stopTimeout becomes at least
    /// this plus 10 s.
    #[arg(long, value_name = "SECS", requires = "s3")]
    flush_timeout: Option<f64>,

    /// capture's --rules (repeatable; a path inside the workload container).
    #[arg(long, value_name = "FILE")]
    rules: Vec<String>,

    /// capture's --alerts (repeatable; needs --rules).
    #[arg(long, value_name = "TARGET", requires = "rules")]
    alerts: Vec<String>,

    /// One more option for capture, passed as it is (repeatable).
    #[arg(long = "capture-arg", value_name = "ARG", allow_hyphen_values = true)]
    capture_args: Vec<String>,

    /// NAME='["/entrypoint", ...]': the image ENTRYPOINT of a container
    /// whose definition sets no entryPoint (JSON list; '[]' for none).
    #[arg(long, value_name = "NAME=JSON")]
    image_entrypoint: Vec<String>,

    /// NAME='["arg", ...]': the image CMD of a container whose definition
    /// sets neither entryPoint nor command (JSON list).
    #[arg(long, value_name = "NAME=JSON")]
    image_command: Vec<String>,
}

/// `NAME=["a","b"]` -> (NAME, [a, b]).
fn named_list(flag: &str, s: &str) -> anyhow::Result<(String, Vec<String>)> {
    let Some((name, json)) = s.split_once('=') else {
        bail!("{flag} {s}: expected NAME=JSON-LIST");
    };
    let list: Vec<String> = serde_json::from_str(json)
        .with_context(|| format!("{flag} {name}=...: not a JSON list of strings"))?;
    Ok((name.to_string(), list))
}

fn run_ecs(args: EcsArgs) -> anyhow::Result<()> {
    let text = if args.taskdef.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(&args.taskdef)
            .with_context(|| format!("reading {}", args.taskdef.display()))?
    };
    let input: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.taskdef.display()))?;
    let opts = InjectOptions {
        sidecar_image: args.sidecar_image,
        containers: args.containers,
        s3: args.s3,
        flush_timeout: args.flush_timeout,
        rules: args.rules,
        alerts: args.alerts,
        capture_args: args.capture_args,
        image_entrypoint: args
            .image_entrypoint
            .iter()
            .map(|s| named_list("--image-entrypoint", s))
            .collect::<anyhow::Result<_>>()?,
        image_command: args
            .image_command
            .iter()
            .map(|s| named_list("--image-command", s))
            .collect::<anyhow::Result<_>>()?,
    };
    let out = ecs::inject(input, &opts)?;
    let mut text = serde_json::to_string_pretty(&out).context("encoding the result")?;
    text.push('\n');
    match &args.output {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing standard output")?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.target {
        Target::Ecs(a) => run_ecs(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture-inject: {e:#}");
            ExitCode::FAILURE
        }
    }
}
