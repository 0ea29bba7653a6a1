//! `capture-inject`: rewrites a deployment description so that its
//! containers run under capture, the binary coming from a sidecar image at
//! run time (no image is rebuilt). `ecs.rs`: ECS task definitions.
//!
//! The rewrite works on `serde_json::Value`, so every field it does not
//! touch, known to it or not, comes out as it came in.

pub mod ecs;

/// Name of the sidecar container that provides the binary.
pub const SIDECAR_NAME: &str = "sysrec-capture";
/// Where the sidecar image holds the static binary (its `VOLUME`), and so
/// where the workload containers see it through `volumesFrom`.
pub const CAPTURE_PATH: &str = "/sysrec/capture";
/// The task volume holding traces until they are shipped (the spool).
pub const SPOOL_VOLUME: &str = "sysrec-spool";
/// Where the spool volume is mounted in each workload container.
pub const SPOOL_DIR: &str = "/sysrec-spool";
/// Seconds between capture's flush timeout and the SIGKILL that ends the
/// stop: capture finishes the trace, then waits for uploads.
pub const STOP_MARGIN_SECS: u64 = 10;
/// ECS's `stopTimeout` when unset (Fargate; EC2's agent default).
pub const DEFAULT_STOP_TIMEOUT_SECS: u64 = 30;
/// The largest `stopTimeout` ECS accepts on Fargate (seconds).
pub const MAX_STOP_TIMEOUT_SECS: u64 = 120;

/// What to inject: capture's options and the facts about images that a
/// task definition does not state.
#[derive(Debug, Clone, Default)]
pub struct InjectOptions {
    /// The sidecar image (built from `samples/deploy/Dockerfile.sidecar`).
    pub sidecar_image: String,
    /// Containers to run under capture; empty: all but the sidecar.
    pub containers: Vec<String>,
    /// `--s3 URL` for capture.
    pub s3: Option<String>,
    /// `--flush-timeout SECS` for capture (only with `s3`).
    pub flush_timeout: Option<f64>,
    /// `--rules FILE` for capture (repeatable).
    pub rules: Vec<String>,
    /// `--alerts TARGET` for capture (repeatable, needs `rules`).
    pub alerts: Vec<String>,
    /// More options for capture, passed as they are.
    pub capture_args: Vec<String>,
    /// The image's ENTRYPOINT per container name, for containers whose
    /// definition does not set `entryPoint` (an empty list: none).
    pub image_entrypoint: Vec<(String, Vec<String>)>,
    /// The image's CMD per container name, for containers that set neither
    /// `entryPoint` nor `command`.
    pub image_command: Vec<(String, Vec<String>)>,
}

/// Why a description cannot be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("{0} is not a JSON object")]
    NotAnObject(String),
    #[error("`{field}` of {what} is not {expected}")]
    FieldType {
        what: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error("the task definition has no containerDefinitions")]
    NoContainers,
    #[error("no container named `{0}` in the task definition")]
    UnknownContainer(String),
    #[error("`{0}` is the sidecar; it cannot run under capture")]
    SidecarSelected(String),
    #[error(
        "pidMode `host` shares the host's process namespace: capture would record (and could be confused by) every process of the instance; use `task` or leave pidMode out"
    )]
    HostPidMode,
    #[error(
        "container `{0}` drops SYS_PTRACE (linuxParameters.capabilities.drop); capture needs it to trace the workload: remove it from drop"
    )]
    PtraceDropped(String),
    #[error(
        "container `{container}` sets no entryPoint, so it runs its image's ENTRYPOINT, which the task definition does not state; give it with --image-entrypoint {container}='[\"/path\", ...]' (or ='[]' when the image has none)"
    )]
    UnknownEntrypoint { container: String },
    #[error(
        "container `{container}` sets neither entryPoint nor command, so it runs its image's CMD, which the task definition does not state and which wrapping the entrypoint would drop; give it with --image-command {container}='[\"arg\", ...]'"
    )]
    UnknownCommand { container: String },
    #[error(
        "container `{0}`: its entryPoint starts with /sysrec/capture but has no `--` ending capture's options"
    )]
    MalformedWrapper(String),
    #[error(
        "--flush-timeout {0}: with the 10 s margin the stop timeout would exceed ECS's maximum of 120 s"
    )]
    FlushTooLong(f64),
    #[error("invalid --flush-timeout {0} (expected seconds, at least 0)")]
    BadFlushTimeout(f64),
    #[error("option value `--` cannot be passed to capture")]
    DashDashValue,
    #[error("--alerts needs --rules")]
    AlertsWithoutRules,
}

impl InjectOptions {
    /// capture's command line, up to and including the `--` before the
    /// workload's own argv.
    pub fn capture_argv(&self, container: &str) -> Result<Vec<String>, InjectError> {
        if !self.alerts.is_empty() && self.rules.is_empty() {
            return Err(InjectError::AlertsWithoutRules);
        }
        let mut argv = vec![
            CAPTURE_PATH.to_string(),
            "-o".to_string(),
            format!("{SPOOL_DIR}/{container}.zst"),
        ];
        if let Some(s3) = &self.s3 {
            argv.extend(["--s3".to_string(), s3.clone()]);
            if let Some(t) = self.flush_timeout {
                argv.extend(["--flush-timeout".to_string(), t.to_string()]);
            }
        }
        for r in &self.rules {
            argv.extend(["--rules".to_string(), r.clone()]);
        }
        for a in &self.alerts {
            argv.extend(["--alerts".to_string(), a.clone()]);
        }
        argv.extend(self.capture_args.iter().cloned());
        // The first `--` ends capture's options; a value equal to it would
        // end them early and make the wrapper unrecognisable.
        if argv.iter().any(|a| a == "--") {
            return Err(InjectError::DashDashValue);
        }
        argv.push("--".to_string());
        Ok(argv)
    }

    /// The container's `stopTimeout` must be at least this (seconds):
    /// capture's flush timeout (with `--s3`) plus [`STOP_MARGIN_SECS`].
    pub fn min_stop_timeout(&self) -> Result<u64, InjectError> {
        let flush = match (&self.s3, self.flush_timeout) {
            (None, _) => 0.0,
            (Some(_), None) => crate::ship::config::DEFAULT_FLUSH_TIMEOUT.as_secs_f64(),
            (Some(_), Some(t)) => t,
        };
        if !flush.is_finite() || flush < 0.0 {
            return Err(InjectError::BadFlushTimeout(flush));
        }
        let need = flush.ceil() + STOP_MARGIN_SECS as f64;
        if need > MAX_STOP_TIMEOUT_SECS as f64 {
            return Err(InjectError::FlushTooLong(flush));
        }
        // A whole number in [10, 120]: the cast is exact.
        Ok(need as u64)
    }

    fn image_entrypoint(&self, container: &str) -> Option<&[String]> {
        self.image_entrypoint
            .iter()
            .rev()
            .find(|(c, _)| c == container)
            .map(|(_, v)| v.as_slice())
    }

    fn image_command(&self, container: &str) -> Option<&[String]> {
        self.image_command
            .iter()
            .rev()
            .find(|(c, _)| c == container)
            .map(|(_, v)| v.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_timeout_covers_the_flush_timeout() {
        let mut o = InjectOptions::default();
        assert_eq!(o.min_stop_timeout().unwrap(), STOP_MARGIN_SECS);
        o.s3 = Some("s3://b/p".into());
        assert_eq!(o.min_stop_timeout().unwrap(), 20 + STOP_MARGIN_SECS);
        o.flush_timeout = Some(12.5);
        assert_eq!(o.min_stop_timeout().unwrap(), 13 + STOP_MARGIN_SECS);
        o.flush_timeout = Some(110.0);
        assert_eq!(o.min_stop_timeout().unwrap(), MAX_STOP_TIMEOUT_SECS);
        for bad in [110.5, f64::INFINITY, f64::NAN, -1.0] {
            o.flush_timeout = Some(bad);
            assert!(o.min_stop_timeout().is_err(), "{bad}");
        }
    }

    #[test]
    fn capture_argv_ends_with_one_dash_dash() {
        let o = InjectOptions {
            s3: Some("s3://b/p".into()),
            flush_timeout: Some(20.0),
            rules: vec!["/r.yaml".into()],
            alerts: vec!["stderr".into()],
            capture_args: vec!["--syscalls".into(), "falco".into()],
            ..InjectOptions::default()
        };
        assert_eq!(
            o.capture_argv("web").unwrap(),
            [
                CAPTURE_PATH,
                "-o",
                "/sysrec-spool/web.zst",
                "--s3",
                "s3://b/p",
                "--flush-timeout",
                "20",
                "--rules",
                "/r.yaml",
                "--alerts",
                "stderr",
                "--syscalls",
                "falco",
                "--"
            ]
        );
        let dash = InjectOptions {
            rules: vec!["--".into()],
            ..InjectOptions::default()
        };
        assert!(matches!(
            dash.capture_argv("web"),
            Err(InjectError::DashDashValue)
        ));
    }
}
