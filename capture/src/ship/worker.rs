//! The uploader thread: a queue of uploads, tried in order, segments of the
//! current trace before leftovers of earlier runs, each trace's manifest
//! after its segments.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sysrec_s3::{Client, Failure, S3Error, keys};
use trace_format::escape::{escape, escape_os};
use trace_format::manifest::Manifest;
use trace_format::writer::{ClosedSegment, DiskBudget};

use super::config::ShipConfig;
use super::retry::Backoff;
use super::{ShipStatus, spool};

enum Job {
    Segment {
        local: PathBuf,
        key: String,
    },
    /// A trace's manifest, after its segments.
    Manifest {
        key: String,
        body: ManifestBody,
        /// Deleted once uploaded.
        local: Option<PathBuf>,
        /// A leftover folder, removed once empty.
        folder: Option<PathBuf>,
    },
}

enum ManifestBody {
    /// The current run's local manifest, read when uploading.
    File(PathBuf),
    /// A manifest built for leftovers.
    Ready(Manifest),
}

pub struct Worker {
    client: Client,
    cfg: ShipConfig,
    output: PathBuf,
    rx: Option<Receiver<ClosedSegment>>,
    status: Arc<Mutex<ShipStatus>>,
    current: VecDeque<Job>,
    leftovers: VecDeque<Job>,
    backoff: Backoff,
    /// The current trace's id and local manifest, once a segment closed.
    current_trace: Option<(String, Option<PathBuf>)>,
    budget: Option<Arc<DiskBudget>>,
}

impl Worker {
    pub fn new(
        client: Client,
        cfg: ShipConfig,
        output: &Path,
        rx: Receiver<ClosedSegment>,
        status: Arc<Mutex<ShipStatus>>,
        budget: Option<Arc<DiskBudget>>,
    ) -> Worker {
        let backoff = Backoff::new(cfg.retry);
        Worker {
            client,
            cfg,
            output: output.to_path_buf(),
            rx: Some(rx),
            status,
            current: VecDeque::new(),
            leftovers: VecDeque::new(),
            backoff,
            current_trace: None,
            budget,
        }
    }

    fn update(&self, f: impl FnOnce(&mut ShipStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    fn trace_dir(&self, trace_id: &str) -> String {
        keys::trace_dir(&self.cfg.url.prefix, trace_id)
    }

    /// Runs until every known upload is done and the writer is finished,
    /// or a permanent failure.
    pub fn run(mut self) {
        self.queue_leftovers();
        loop {
            self.take_segments(Duration::ZERO);
            let job = match self.current.front().or(self.leftovers.front()) {
                Some(j) => j,
                None if self.rx.is_none() => return,
                None => {
                    self.take_segments(Duration::from_millis(500));
                    continue;
                }
            };
            match self.attempt(job) {
                Ok(bytes) => {
                    self.pop();
                    self.backoff.reset();
                    self.update(|s| {
                        s.objects += 1;
                        s.bytes += bytes;
                    });
                }
                Err(S3Error::Local { path, source }) => {
                    // A spool file went missing or unreadable: nothing to
                    // retry; say so and go on with the rest.
                    let msg = format!("spool file `{}`: {source}", path.display());
                    eprintln!("capture: S3 upload skipped: {}", escape(&msg));
                    self.update(|s| s.last_error = Some(msg));
                    self.pop();
                }
                Err(e) if e.failure() == Failure::Transient => {
                    let msg = trace_format::error::Chain(&e).to_string();
                    self.update(|s| {
                        s.retries += 1;
                        s.last_error = Some(msg);
                    });
                    let delay = self.backoff.next_delay();
                    self.take_segments(delay);
                }
                Err(e) => {
                    let msg = trace_format::error::Chain(&e).to_string();
                    let (spool, _) = spool::stem_of(&self.output);
                    eprintln!(
                        "capture: S3 upload failed and will not be retried: {}; the trace is kept in `{}`",
                        escape(&msg),
                        escape_os(&spool)
                    );
                    self.update(|s| s.permanent_error = Some(msg));
                    return;
                }
            }
        }
    }

    fn pop(&mut self) {
        if self.current.pop_front().is_none() {
            self.leftovers.pop_front();
        }
    }

    /// Takes closed segments from the writer, waiting up to `wait` for the
    /// first. When the writer is done, queues the current manifest and
    /// resets the backoff (the flush time is short: use it at once).
    fn take_segments(&mut self, wait: Duration) {
        let Some(rx) = &self.rx else {
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            return;
        };
        let mut segments = Vec::new();
        let mut disconnected = false;
        let mut first = Some(wait);
        loop {
            let got = match first.take() {
                Some(w) if !w.is_zero() => rx.recv_timeout(w),
                _ => rx.try_recv().map_err(|e| match e {
                    std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                }),
            };
            match got {
                Ok(seg) => segments.push(seg),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        for seg in segments {
            self.queue_segment(seg);
        }
        if disconnected {
            self.rx = None;
            self.backoff.reset();
            if let Some((id, Some(manifest))) = self.current_trace.take() {
                let key = format!("{}/{}", self.trace_dir(&id), keys::MANIFEST);
                self.current.push_back(Job::Manifest {
                    key,
                    body: ManifestBody::File(manifest.clone()),
                    local: Some(manifest),
                    folder: None,
                });
            }
        }
    }

    fn queue_segment(&mut self, seg: ClosedSegment) {
        let id = keys::trace_id_text(&seg.trace_id);
        let key = format!(
            "{}/{}",
            self.trace_dir(&id),
            keys::segment_name(seg.entry.index)
        );
        self.current.push_back(Job::Segment {
            local: seg.path,
            key,
        });
        self.current_trace = Some((id, seg.manifest));
    }

    /// Queues the leftovers of earlier runs (see [`spool`]).
    fn queue_leftovers(&mut self) {
        let (_, name) = spool::stem_of(&self.output);
        let root = spool::leftover_root(&self.output);
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        let mut folders: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        folders.sort();
        for folder in folders {
            let scan = match spool::scan_leftovers(&folder, &name) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!(
                        "capture: leftovers in `{}`: {}",
                        escape_os(&folder),
                        escape(&trace_format::error::Chain(&e).to_string())
                    );
                    continue;
                }
            };
            for (path, why) in scan.unreadable {
                // A segment with nothing but its header (a crash right
                // after it was opened) holds no event: nothing is lost.
                let empty = std::fs::metadata(&path)
                    .is_ok_and(|m| m.len() <= trace_format::container::FILE_HEADER_LEN);
                if empty {
                    let _ = std::fs::remove_file(&path);
                } else {
                    eprintln!(
                        "capture: leftover `{}` not shipped: {}; it stays there",
                        escape_os(&path),
                        escape(&why)
                    );
                }
            }
            for t in scan.traces {
                let dir = self.trace_dir(&t.trace_id);
                for (index, local) in t.segments {
                    self.leftovers.push_back(Job::Segment {
                        local,
                        key: format!("{dir}/{}", keys::segment_name(index)),
                    });
                }
                self.leftovers.push_back(Job::Manifest {
                    key: format!("{dir}/{}", keys::MANIFEST),
                    body: ManifestBody::Ready(t.manifest),
                    local: t.local_manifest,
                    folder: Some(folder.clone()),
                });
            }
            // Nothing (left) to ship from this folder.
            let _ = std::fs::remove_dir(&folder);
        }
        let _ = std::fs::remove_dir(&root);
    }

    /// One try of a job; the bytes uploaded.
    fn attempt(&self, job: &Job) -> Result<u64, S3Error> {
        match job {
            Job::Segment { local, key } => {
                let bytes = self.client.put_file(key, local)?;
                // Confirmed by the store (checksum included): the spool
                // copy can go.
                if std::fs::remove_file(local).is_ok()
                    && let Some(b) = &self.budget
                {
                    b.release(bytes);
                }
                Ok(bytes)
            }
            Job::Manifest {
                key,
                body,
                local,
                folder,
            } => {
                let manifest = match body {
                    ManifestBody::Ready(m) => m.clone(),
                    ManifestBody::File(path) => {
                        let text =
                            std::fs::read_to_string(path).map_err(|source| S3Error::Local {
                                path: path.clone(),
                                source,
                            })?;
                        let m = Manifest::from_json(&text).map_err(|e| S3Error::Local {
                            path: path.clone(),
                            source: std::io::Error::other(e),
                        })?;
                        spool::renamed(&m)
                    }
                };
                let json = Bytes::from(manifest.to_json().into_bytes());
                let n = json.len() as u64;
                self.client.put(key, json)?;
                if let Some(l) = local {
                    let _ = std::fs::remove_file(l);
                }
                if let Some(f) = folder {
                    let _ = std::fs::remove_dir(f);
                    if let Some(root) = f.parent() {
                        let _ = std::fs::remove_dir(root);
                    }
                    self.update(|s| s.leftover_traces += 1);
                } else {
                    self.update(|s| s.manifest_shipped = true);
                }
                Ok(n)
            }
        }
    }
}
