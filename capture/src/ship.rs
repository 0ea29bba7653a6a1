//! Shipping closed segments to S3 while the workload runs (`--s3`).
//!
//! # Design
//!
//! The writer tells the shipper about every closed segment through the
//! format's `WriterOptions::on_segment` channel (an unbounded `Sender`, so
//! the writer never waits for the network). One **uploader thread**
//! ([`worker`]) owns the S3 [`Client`](sysrec_s3::Client), whose
//! current-thread tokio runtime lives on that thread only: the tracer and
//! writer threads never touch the network.
//!
//! - **Keys:** `PREFIX/<trace id>/NNNNNN.zst` per segment, then
//!   `PREFIX/<trace id>/manifest.json` last, its `file` names rewritten to
//!   the object names ([`sysrec_s3::keys`]). The manifest is uploaded only
//!   once every segment it lists is in the bucket.
//! - **Checksums:** every object carries its SHA-256 (`x-amz-checksum-sha256`,
//!   checked by S3, accepted by Object Lock buckets); the manifest records
//!   each segment's SHA-256, which `replay verify s3://...` checks.
//! - **Spool** ([`spool`]): the output directory. A segment is deleted
//!   locally only after S3 confirmed its upload, so an unshipped segment is
//!   always on disk; leftovers of a crashed run are shipped by the next.
//! - **Spool limit** (`--spool-limit`): a `DiskBudget` shared with the
//!   writer; the uploader releases what it deletes. When unshipped files
//!   fill it, the writer keeps what is on disk (the oldest data) and drops
//!   new chunks, recording them as a gap marker in the trace (and the
//!   summary line counts the gaps).
//! - **Retries** ([`retry`]): `object_store` retries each request a few
//!   times; beyond that a transient failure (5xx, timeout, connection
//!   refused) is retried with exponential backoff and jitter for as long as
//!   capture runs. A permanent failure (4xx: wrong credentials, access
//!   denied, missing bucket) is reported once on stderr and the uploader
//!   stops: no retry storm, everything stays in the spool.
//! - **Shutdown:** when the workload has exited and the writer closed the
//!   last segment, [`Shipper::finish`] waits for the uploads until the
//!   flush deadline (`--flush-timeout`, counted from the SIGTERM when one
//!   came), then reports what was not shipped and where it is kept.
//!   capture's exit status stays the workload's.
//!
//! **Invariant:** a local segment file is deleted only after the store
//! confirmed the object with its checksum; a shipped object's key is a
//! function of (trace id, segment index), so uploading twice (a crash
//! between upload and delete) rewrites the same bytes, never a duplicate.

pub mod config;
pub mod retry;
pub mod spool;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use trace_format::writer::{ClosedSegment, DiskBudget};

pub use config::{RetryPolicy, ShipConfig};

use crate::error::{CaptureError, Result};

/// What the uploader has done so far; shared with the thread that waits.
#[derive(Clone, Debug, Default)]
pub struct ShipStatus {
    /// Objects uploaded (segments and manifests), and their bytes.
    pub objects: u64,
    pub bytes: u64,
    /// The manifest of the current trace is in the bucket.
    pub manifest_shipped: bool,
    /// Transient failures retried so far, and the last one.
    pub retries: u64,
    pub last_error: Option<String>,
    /// The uploader stopped on a permanent failure.
    pub permanent_error: Option<String>,
    /// Leftovers of earlier runs shipped (traces).
    pub leftover_traces: u64,
}

/// The outcome of shipping, for the exit report.
#[derive(Clone, Debug)]
pub struct ShipReport {
    pub status: ShipStatus,
    /// The flush deadline passed with uploads still pending.
    pub timed_out: bool,
    /// The spool directory, and the files in it still unshipped (read from
    /// the disk: whatever is there was not confirmed by S3).
    pub spool: PathBuf,
    pub unshipped: Vec<PathBuf>,
}

impl ShipReport {
    /// Everything was shipped.
    pub fn complete(&self) -> bool {
        self.unshipped.is_empty() && self.status.permanent_error.is_none()
    }

    /// Lines for stderr at exit.
    pub fn lines(&self) -> Vec<String> {
        let s = &self.status;
        let mut out = vec![format!(
            "capture: shipped {} objects ({} bytes) to S3{}{}",
            s.objects,
            s.bytes,
            if s.leftover_traces > 0 {
                format!(", with {} trace(s) left by earlier runs", s.leftover_traces)
            } else {
                String::new()
            },
            if s.retries > 0 {
                format!(", {} retries", s.retries)
            } else {
                String::new()
            }
        )];
        if let Some(e) = &s.permanent_error {
            out.push(format!("capture: S3 upload stopped: {e}"));
        }
        if !self.unshipped.is_empty() {
            let why = if self.timed_out {
                "the flush timeout passed"
            } else {
                "uploads failed"
            };
            out.push(format!(
                "capture: NOT SHIPPED ({why}): {} files, kept locally in `{}` for the next capture to ship:",
                self.unshipped.len(),
                self.spool.display()
            ));
            for p in &self.unshipped {
                out.push(format!("capture:   {}", p.display()));
            }
            if let Some(e) = &s.last_error
                && s.permanent_error.is_none()
            {
                out.push(format!("capture: last S3 error: {e}"));
            }
        }
        out
    }
}

/// Handle to the uploader thread.
pub struct Shipper {
    status: Arc<Mutex<ShipStatus>>,
    done: Receiver<()>,
    output: PathBuf,
}

impl Shipper {
    /// Moves leftovers of earlier runs of `output` aside (renames only),
    /// builds the client (no request yet) and starts the uploader thread.
    /// Returns the sender to put into `WriterOptions::on_segment` and, with
    /// `--spool-limit`, the budget for `WriterOptions::disk_budget` (leftovers
    /// already count against it).
    pub fn start(
        cfg: &ShipConfig,
        output: &Path,
    ) -> Result<(Shipper, Sender<ClosedSegment>, Option<Arc<DiskBudget>>)> {
        spool::move_leftovers(output, true).map_err(|source| CaptureError::Io {
            what: format!(
                "moving leftovers of an earlier run of `{}`",
                output.display()
            ),
            source,
        })?;
        let budget = cfg.spool_limit.map(|limit| {
            let used = spool::unshipped(output)
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            Arc::new(DiskBudget::new(limit, used))
        });
        let client = sysrec_s3::Client::new(
            &cfg.url.bucket,
            &sysrec_s3::ClientOptions {
                endpoint: cfg.endpoint.clone(),
                sse_kms_key: cfg.sse_kms_key.clone(),
                ..sysrec_s3::ClientOptions::default()
            },
        )
        .map_err(CaptureError::Ship)?;
        let (tx, rx) = channel();
        let (done_tx, done) = channel();
        let status = Arc::new(Mutex::new(ShipStatus::default()));
        let worker = worker::Worker::new(
            client,
            cfg.clone(),
            output,
            rx,
            status.clone(),
            budget.clone(),
        );
        std::thread::Builder::new()
            .name("capture-ship".into())
            .spawn(move || {
                crate::signals::block();
                worker.run();
                let _ = done_tx.send(());
            })
            .map_err(|source| CaptureError::Io {
                what: "spawning the uploader thread".into(),
                source,
            })?;
        Ok((
            Shipper {
                status,
                done,
                output: output.to_path_buf(),
            },
            tx,
            budget,
        ))
    }

    /// The uploads so far.
    pub fn status(&self) -> ShipStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until everything known was uploaded (or the uploader stopped)
    /// or `deadline` passed. Call after the writer finished (its sender is
    /// then gone, which tells the uploader no segment will follow).
    pub fn finish(self, deadline: Instant) -> ShipReport {
        let left = deadline.saturating_duration_since(Instant::now());
        let timed_out = matches!(
            self.done.recv_timeout(left),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        let (spool, _) = spool::stem_of(&self.output);
        ShipReport {
            status: self.status(),
            timed_out,
            spool,
            unshipped: spool::unshipped(&self.output),
        }
    }
}
