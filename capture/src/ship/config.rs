//! What `--s3` and its companion options asked for.

use std::time::Duration;

use sysrec_s3::S3Url;

/// Rotation used with `--s3` when the user chose none: segments must close
/// while the workload runs, or nothing ships before it exits.
pub const DEFAULT_ROTATE_BYTES: u64 = 64 << 20;
pub const DEFAULT_ROTATE_SECS: Duration = Duration::from_secs(60);
/// `--flush-timeout` default: fits ECS's 30 s stop timeout with room for the
/// workload's own shutdown.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(20);

/// Validated shipping configuration.
#[derive(Clone, Debug)]
pub struct ShipConfig {
    pub url: S3Url,
    /// `--s3-endpoint`; `None`: `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`,
    /// else AWS.
    pub endpoint: Option<String>,
    pub sse_kms_key: Option<String>,
    /// How long capture waits for uploads once the workload has exited
    /// (counted from SIGTERM when one was received).
    pub flush_timeout: Duration,
    /// Backoff between tries of an unreachable store.
    pub retry: RetryPolicy,
    /// `--spool-limit`: most bytes of unshipped trace files on disk.
    pub spool_limit: Option<u64>,
}

/// Backoff between tries while the store fails transiently (5xx, timeouts,
/// connection errors): exponential from `initial` to `max`, with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}
