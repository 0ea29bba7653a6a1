//! `capture --s3` and `replay s3://...` against a real S3-compatible server
//! (moto's, started per test on 127.0.0.1), with a fault injector in front
//! of it for outages, 503s and checksum checks (see `e2e_tests::s3_support`).
//!
//! Tests wait for conditions with deadlines, never for fixed times.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use e2e_tests::capture_support::{
    Trace, Work, children, kill, ptrace_permitted, wait_child, wait_until,
};
use e2e_tests::s3_support::{
    FaultProxy, Moto, capture, download_trace, replay, replay_local_and_s3, require_moto,
    sha256_hex, spawn_capture,
};
use trace_format::manifest::Manifest;

const LIMIT: Duration = Duration::from_secs(120);

fn ready() -> bool {
    require_moto() && ptrace_permitted()
}

/// A workload of a few thousand syscalls, exiting with `code`.
fn busy(code: i32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("for i in $(seq 1 60); do ls / >/dev/null; done; exit {code}"),
    ]
}

/// A workload that runs until the file `stop` exists.
fn until(stop: &Path) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "while [ ! -e {} ]; do ls / >/dev/null; done",
            stop.display()
        ),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The trace ids (folders) under `prefix` in the bucket.
fn trace_ids(moto: &Moto, bucket: &str, prefix: &str) -> BTreeSet<String> {
    moto.objects(bucket, prefix)
        .iter()
        .filter_map(|(k, _)| {
            k.strip_prefix(&format!("{prefix}/"))?
                .split('/')
                .next()
                .map(String::from)
        })
        .collect()
}

/// The local trace files of `t.zst` in `dir` (the spool).
fn spool_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("t."))
        .collect();
    v.sort();
    v
}

/// Checks one shipped trace folder: a manifest listing exactly the segment
/// objects, each with the size and SHA-256 the writer recorded; `replay
/// verify` from S3 equal to `replay verify` of the downloaded copy and
/// clean. Returns the manifest and the events read from S3.
fn check_shipped(moto: &Moto, work: &Work, bucket: &str, folder: &str) -> (Manifest, u64) {
    let dl = work.path(&format!("dl-{}", folder.replace('/', "-")));
    let manifest_path = download_trace(moto, bucket, folder, &dl);
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| panic!("no manifest uploaded for {folder}: {e}"));
    let manifest = Manifest::from_json(&text).unwrap_or_else(|e| panic!("manifest: {e}"));
    let objects = moto.objects(bucket, folder);
    assert_eq!(
        objects.len(),
        manifest.segments.len() + 1,
        "objects {objects:?} vs manifest {manifest:?}"
    );
    for seg in &manifest.segments {
        let bytes = std::fs::read(dl.join(&seg.file))
            .unwrap_or_else(|e| panic!("segment {} not uploaded: {e}", seg.file));
        assert_eq!(bytes.len() as u64, seg.size, "{}", seg.file);
        assert_eq!(sha256_hex(&bytes), seg.sha256, "{}", seg.file);
    }
    let url = format!("s3://{bucket}/{folder}/");
    let (local, s3) = replay_local_and_s3(&moto.endpoint(), &["verify"], &dl, &url);
    assert_eq!(
        local, s3,
        "replay verify differs between S3 and the local copy"
    );
    // The same events, read through the S3 source and from the files.
    let from_files = Trace::read(&dl).events;
    let client = std::sync::Arc::new(moto.client(bucket));
    let opened = sysrec_s3::open(&client, &url.parse().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    assert_eq!(opened.len(), 1);
    let mut from_s3 = Vec::new();
    for c in opened[0].reader.chunks().flatten() {
        from_s3.extend(c.to_model().events);
    }
    assert_eq!(from_s3, from_files, "events read from S3 differ");
    (manifest, from_s3.len() as u64)
}

/// The event count of capture's summary line.
fn summary_events(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("capture: ")?
                .split(" events")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no summary line in {stderr}"))
}

#[test]
fn shipped_trace_reads_back_from_s3_as_written() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("ship");
    let proxy = FaultProxy::start(moto.port);
    let work = Work::new();
    let out = capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://ship/traces",
        // Chunks close every 100 ms so that the run spans several segments
        // however many events one chunk of the format could hold.
        &["--rotate-size", "32K", "--flush-interval", "100"],
        &strs(&busy(3)),
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("shipped"), "{err}");
    assert!(!err.contains("NOT SHIPPED"), "{err}");
    // Shipped segments left the spool.
    assert_eq!(spool_files(work.path("").as_path()), Vec::<String>::new());
    let ids = trace_ids(&moto, "ship", "traces");
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.iter().next().cloned().unwrap_or_default();
    let (manifest, events) = check_shipped(&moto, &work, "ship", &format!("traces/{id}"));
    assert!(manifest.complete);
    assert!(manifest.segments.len() >= 3, "{manifest:?}");
    assert_eq!(events, summary_events(&err));
    // Every upload carried the SHA-256 of its bytes.
    assert_eq!(proxy.checksum_problems(), Vec::<String>::new());
    assert_eq!(proxy.checksums_ok(), manifest.segments.len() as u64 + 1);
    let v = replay(
        &moto.endpoint(),
        &["verify", &format!("s3://ship/traces/{id}/")],
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // A prefix holding the trace works too.
    let v = replay(&moto.endpoint(), &["verify", "s3://ship/traces/"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(String::from_utf8_lossy(&v.stdout).contains(&id));
}

#[test]
fn server_answering_503_is_retried() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("flaky");
    let proxy = FaultProxy::start(moto.port);
    // More than object_store's own retries of one request: capture's
    // backoff takes over.
    proxy.fail_next(8);
    let work = Work::new();
    let out = capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://flaky/p",
        &["--rotate-size", "64K"],
        &strs(&busy(0)),
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(proxy.served_503(), 8);
    assert!(err.contains("retries"), "{err}");
    assert_eq!(
        spool_files(work.path("").as_path()),
        Vec::<String>::new(),
        "{err}"
    );
    let ids = trace_ids(&moto, "flaky", "p");
    assert_eq!(ids.len(), 1);
    let id = ids.iter().next().cloned().unwrap_or_default();
    let (manifest, events) = check_shipped(&moto, &work, "flaky", &format!("p/{id}"));
    assert!(manifest.complete);
    assert_eq!(events, summary_events(&err));
}

#[test]
fn missing_bucket_is_a_clear_error_and_the_trace_stays_local() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port);
    let work = Work::new();
    let out = capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://no-such-bucket/p",
        &["--rotate-size", "64K"],
        &strs(&busy(4)),
        LIMIT,
    );
    let err = stderr(&out);
    // The workload's status stays capture's.
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
    assert!(err.contains("will not be retried"), "{err}");
    assert!(err.contains("NOT SHIPPED"), "{err}");
    // No retry storm: the first refusal stopped the uploader.
    assert_eq!(proxy.requests(), 1, "{err}");
    // Everything is still on disk, and readable.
    let files = spool_files(work.path("").as_path());
    assert!(files.contains(&"t.manifest.json".to_string()), "{files:?}");
    let trace = Trace::read(&work.path("t.manifest.json"));
    assert_eq!(trace.events.len() as u64, summary_events(&err));
    let first_id = trace_format::TraceReader::open(&work.path("t.manifest.json"))
        .ok()
        .and_then(|r| r.manifest().map(|(_, m)| m.trace_id.clone()))
        .unwrap_or_default();

    // Once the bucket exists, the next capture ships what was kept.
    moto.create_bucket("no-such-bucket");
    let out = capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://no-such-bucket/p",
        &[],
        &strs(&busy(0)),
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("NOT SHIPPED"), "{err}");
    assert_eq!(spool_files(work.path("").as_path()), Vec::<String>::new());
    let ids = trace_ids(&moto, "no-such-bucket", "p");
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&first_id));
    let (manifest, events) =
        check_shipped(&moto, &work, "no-such-bucket", &format!("p/{first_id}"));
    assert!(manifest.complete);
    assert_eq!(events, trace.events.len() as u64);
}

#[test]
fn wrong_credentials_are_a_clear_error_and_the_trace_stays_local() {
    if !ready() {
        return;
    }
    let moto = Moto::start_with_auth();
    moto.create_bucket("locked");
    let work = Work::new();
    let out = capture(
        &work.path("t.zst"),
        &moto.endpoint(),
        "s3://locked/p",
        &[],
        &strs(&busy(0)),
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("InvalidAccessKeyId"), "{err}");
    assert!(err.contains("credentials are wrong"), "{err}");
    assert!(err.contains("NOT SHIPPED"), "{err}");
    let files = spool_files(work.path("").as_path());
    assert!(files.contains(&"t.000000.zst".to_string()), "{files:?}");
}

/// Closed segment files in the spool.
fn closed_segments(dir: &Path) -> usize {
    spool_files(dir)
        .iter()
        .filter(|n| n.ends_with(".zst"))
        .count()
}

/// The workload `comm` runs (exec'd) under capture `pid`.
fn workload_running(pid: u32, comm: &str) -> bool {
    children(pid)
        .iter()
        .any(|c| std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|s| s.trim() == comm))
}

fn wait_output(mut child: std::process::Child) -> std::process::Output {
    let st = wait_child(&mut child, LIMIT);
    let mut out = std::process::Output {
        status: st,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_end(&mut e, &mut out.stderr);
    }
    out
}

#[test]
fn sigterm_ships_the_last_segment_before_exit() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("term");
    let work = Work::new();
    // Default rotation (64 MiB / 60 s): nothing closes before SIGTERM, so
    // everything ships during the flush.
    let child = spawn_capture(
        &work.path("t.zst"),
        &moto.endpoint(),
        "s3://term/p",
        &[],
        &["sleep", "300"],
    );
    let pid = child.id();
    assert!(
        wait_until(LIMIT, || workload_running(pid, "sleep")),
        "the workload did not start"
    );
    kill(pid, libc::SIGTERM);
    let out = wait_output(child);
    let err = stderr(&out);
    // The workload died of the forwarded SIGTERM: 128 + 15.
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(!err.contains("NOT SHIPPED"), "{err}");
    assert_eq!(spool_files(work.path("").as_path()), Vec::<String>::new());
    let ids = trace_ids(&moto, "term", "p");
    assert_eq!(ids.len(), 1);
    let id = ids.iter().next().cloned().unwrap_or_default();
    let (manifest, events) = check_shipped(&moto, &work, "term", &format!("p/{id}"));
    assert!(manifest.complete);
    assert_eq!(events, summary_events(&err));
}

#[test]
fn flush_timeout_bounds_the_wait_and_reports_what_was_not_shipped() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("late");
    let proxy = FaultProxy::start(moto.port);
    proxy.stop();
    let work = Work::new();
    let child = spawn_capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://late/p",
        &["--flush-timeout", "1"],
        &["sleep", "300"],
    );
    let pid = child.id();
    assert!(wait_until(LIMIT, || workload_running(pid, "sleep")));
    kill(pid, libc::SIGTERM);
    let out = wait_output(child);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(
        err.contains("NOT SHIPPED (the flush timeout passed)"),
        "{err}"
    );
    assert!(err.contains("t.000000.zst"), "{err}");
    assert!(err.contains("t.manifest.json"), "{err}");
    assert!(work.path("t.000000.zst").exists());
}

#[test]
fn server_stopped_mid_capture_and_restarted_gets_every_segment_once() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("outage");
    let proxy = FaultProxy::start(moto.port);
    let work = Work::new();
    let stop = work.path("stop");
    let child = spawn_capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://outage/p",
        &["--rotate-size", "32K"],
        &strs(&until(&stop)),
    );
    assert!(
        wait_until(LIMIT, || !moto.objects("outage", "p").is_empty()),
        "nothing was shipped"
    );
    proxy.stop();
    // Segments pile up in the spool while the server is away.
    let dir = work.path("");
    assert!(
        wait_until(LIMIT, || closed_segments(&dir) >= 3),
        "no segments closed during the outage"
    );
    let shipped_during_outage = moto.objects("outage", "p").len();
    proxy.restart();
    assert!(
        wait_until(LIMIT, || moto.objects("outage", "p").len()
            > shipped_during_outage),
        "nothing was shipped after the server came back"
    );
    std::fs::write(&stop, b"").unwrap_or_else(|e| panic!("{e}"));
    let out = wait_output(child);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("retries"), "{err}");
    assert_eq!(spool_files(&dir), Vec::<String>::new(), "{err}");
    let ids = trace_ids(&moto, "outage", "p");
    assert_eq!(ids.len(), 1);
    let id = ids.iter().next().cloned().unwrap_or_default();
    // Every segment once (the object count equals the manifest's), and the
    // chain is unbroken across the outage.
    let (manifest, events) = check_shipped(&moto, &work, "outage", &format!("p/{id}"));
    assert!(manifest.complete);
    assert!(manifest.segments.len() >= 4, "{manifest:?}");
    assert_eq!(events, summary_events(&err));
}

#[test]
fn leftovers_of_a_killed_capture_are_shipped_by_the_next() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("crash");
    let proxy = FaultProxy::start(moto.port);
    proxy.stop();
    let work = Work::new();
    let dir = work.path("");
    let stop = work.path("stop");
    let child = spawn_capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://crash/p",
        &["--rotate-size", "32K"],
        &strs(&until(&stop)),
    );
    let pid = child.id();
    assert!(wait_until(LIMIT, || closed_segments(&dir) >= 2));
    kill(pid, libc::SIGKILL);
    let _ = wait_output(child);
    // The workload, detached by the tracer's death, ends on its own.
    std::fs::write(&stop, b"").unwrap_or_else(|e| panic!("{e}"));
    // What the crashed run left, as read locally.
    let left = trace_format::TraceReader::open(&work.path("t.manifest.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let left_report = trace_format::verify::verify(&left);
    assert!(left_report.events > 0);
    let left_id = left_report
        .trace_id
        .map(|id| sysrec_s3::keys::trace_id_text(&id))
        .unwrap_or_default();
    drop(left);

    proxy.restart();
    let out = capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://crash/p",
        &["--rotate-size", "32K"],
        &strs(&busy(0)),
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("NOT SHIPPED"), "{err}");
    assert_eq!(spool_files(&dir), Vec::<String>::new(), "{err}");
    let ids = trace_ids(&moto, "crash", "p");
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&left_id), "{ids:?} lacks {left_id}");
    // The crashed trace: every chunk that was readable locally is in the
    // bucket, under a manifest that says the trace was not closed.
    let client = std::sync::Arc::new(moto.client("crash"));
    let url = format!("s3://crash/p/{left_id}/");
    let opened = sysrec_s3::open(&client, &url.parse().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let s3_report = trace_format::verify::verify(&opened[0].reader);
    assert_eq!(s3_report.events, left_report.events);
    assert_eq!(s3_report.chunks, left_report.chunks);
    let m = opened[0]
        .reader
        .manifest()
        .map(|(_, m)| m.clone())
        .unwrap_or_else(|| panic!("no manifest for the crashed trace"));
    assert!(!m.complete);
    assert_eq!(
        moto.objects("crash", &format!("p/{left_id}")).len(),
        m.segments.len() + 1
    );
    // `replay verify` of the prefix reads both traces from S3 and says the
    // crashed one was never closed.
    let v = replay(&moto.endpoint(), &["verify", "s3://crash/p/"]);
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains(&left_id), "{text}");
    assert_eq!(text.matches(": trace ").count(), 2, "{text}");
    assert!(
        text.contains("never closed") || text.contains("not closed"),
        "{text}"
    );
    // The new trace shipped whole.
    let new_id = ids
        .iter()
        .find(|i| **i != left_id)
        .cloned()
        .unwrap_or_default();
    let (manifest, events) = check_shipped(&moto, &work, "crash", &format!("p/{new_id}"));
    assert!(manifest.complete);
    assert_eq!(events, summary_events(&err));
}

fn spool_bytes(dir: &Path) -> u64 {
    spool_files(dir)
        .iter()
        .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
        .map(|m| m.len())
        .sum()
}

fn counter(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_full_spool_keeps_the_oldest_data_and_records_the_loss_as_a_gap() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("full");
    let proxy = FaultProxy::start(moto.port);
    proxy.stop();
    let work = Work::new();
    let dir = work.path("");
    let (stop, count) = (work.path("stop"), work.path("count"));
    let script = format!(
        "i=0; while [ ! -e {} ]; do i=$((i+1)); echo $i > {}; ls / >/dev/null; done",
        stop.display(),
        count.display()
    );
    const LIMIT_BYTES: u64 = 512 << 10;
    let child = spawn_capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://full/p",
        &[
            "--rotate-size",
            "128K",
            "--chunk-size",
            "32K",
            "--spool-limit",
            "512K",
        ],
        &["sh", "-c", &script],
    );
    assert!(
        wait_until(LIMIT, || spool_bytes(&dir) >= LIMIT_BYTES * 3 / 4),
        "the spool did not fill"
    );
    // Far more data than the room left (each iteration records ~10 KB)
    // is produced while S3 is away...
    let c0 = counter(&count);
    assert!(wait_until(LIMIT, || counter(&count) >= c0 + 60));
    // ...and the spool stays within its limit (plus headers and indexes,
    // always written to keep files readable).
    assert!(
        spool_bytes(&dir) <= LIMIT_BYTES + (8 << 10),
        "{}",
        spool_bytes(&dir)
    );
    proxy.restart();
    assert!(wait_until(LIMIT, || moto.objects("full", "p").len() >= 2));
    // Data recorded after space came back, with the gap marker first.
    let c1 = counter(&count);
    assert!(wait_until(LIMIT, || counter(&count) >= c1 + 30));
    std::fs::write(&stop, b"").unwrap_or_else(|e| panic!("{e}"));
    let out = wait_output(child);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("could not be written"), "{err}");
    assert_eq!(spool_files(&dir), Vec::<String>::new(), "{err}");
    let ids = trace_ids(&moto, "full", "p");
    assert_eq!(ids.len(), 1);
    let id = ids.iter().next().cloned().unwrap_or_default();
    let client = std::sync::Arc::new(moto.client("full"));
    let url = format!("s3://full/p/{id}/");
    let opened = sysrec_s3::open(&client, &url.parse().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut gaps = Vec::new();
    let mut missing = 0;
    for item in opened[0].reader.chunks() {
        match item {
            Ok(c) => {
                for e in c.to_model().events {
                    if let trace_format::model::EventBody::Marker(m) = &e.body
                        && m.kind == trace_format::model::MarkerKind::Gap
                    {
                        gaps.push(m.clone());
                    }
                }
            }
            Err(trace_format::ReadError::MissingChunks { first, last }) => {
                missing += last - first + 1
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(!gaps.is_empty(), "no gap marker");
    assert!(
        gaps.iter()
            .all(|g| g.count > 0 && g.message.contains("spool is full")),
        "{gaps:?}"
    );
    assert!(missing > 0);
    // The chunks on disk before the spool filled (the oldest) were shipped:
    // the trace starts at chunk 0.
    let first = opened[0]
        .reader
        .chunks()
        .flatten()
        .next()
        .map(|c| c.info().seq);
    assert_eq!(first, Some(0));
}

#[test]
fn large_segments_go_up_in_parts_each_with_its_checksum() {
    if !require_moto() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("big");
    let proxy = FaultProxy::start(moto.port);
    let work = Work::new();
    // 20 MiB of incompressible bytes: over the 16 MiB multipart threshold,
    // three parts of at most 8 MiB.
    let mut data = vec![0u8; 20 << 20];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let file = work.path("big.zst");
    std::fs::write(&file, &data).unwrap_or_else(|e| panic!("{e}"));
    let client = sysrec_s3::Client::new(
        "big",
        &sysrec_s3::ClientOptions {
            endpoint: Some(proxy.endpoint()),
            keys: Some(("test".into(), "test".into())),
            ..sysrec_s3::ClientOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let sent = client
        .put_file("p/big.zst", &file)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent, data.len() as u64);
    assert_eq!(proxy.checksum_problems(), Vec::<String>::new());
    assert_eq!(proxy.checksums_ok(), 3);
    let back = moto
        .client("big")
        .get("p/big.zst")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sha256_hex(&back), sha256_hex(&data));
}

#[test]
fn sse_kms_key_is_asked_for_on_every_upload() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("kms");
    let proxy = FaultProxy::start(moto.port);
    let work = Work::new();
    let out = capture(
        &work.path("t.zst"),
        &proxy.endpoint(),
        "s3://kms/p",
        &["--sse-kms-key", "alias/sysrec-test"],
        &strs(&busy(0)),
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("NOT SHIPPED"), "{err}");
    let puts: Vec<String> = proxy
        .heads()
        .into_iter()
        .filter(|h| h.starts_with("PUT "))
        .map(|h| h.to_ascii_lowercase())
        .collect();
    assert!(!puts.is_empty());
    for h in &puts {
        assert!(h.contains("x-amz-server-side-encryption: aws:kms"), "{h}");
        assert!(
            h.contains("x-amz-server-side-encryption-aws-kms-key-id: alias/sysrec-test"),
            "{h}"
        );
    }
}

#[test]
fn rules_give_the_same_alerts_from_s3_as_from_local_files() {
    if !ready() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("rules");
    let work = Work::new();
    let script = "for i in 1 2 3 4 5 6; do cat /etc/shadow > /dev/null; ls /etc > /dev/null; done";
    let out = capture(
        &work.path("t.zst"),
        &moto.endpoint(),
        "s3://rules/t",
        &["--rotate-size", "64K", "--chunk-size", "16K"],
        &["sh", "-c", script],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ids = trace_ids(&moto, "rules", "t");
    let id = ids.iter().next().cloned().unwrap_or_default();
    let dl = download_trace(&moto, "rules", &format!("t/{id}"), &work.path("dl"));
    let mut args: Vec<String> = Vec::new();
    for r in e2e_tests::replay_support::falco_rules() {
        args.push("--rules".into());
        args.push(r.to_string_lossy().into_owned());
    }
    args.extend(["--json".into(), "-q".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let url = format!("s3://rules/t/{id}/");
    let (local, s3) = replay_local_and_s3(&moto.endpoint(), &args, &dl, &url);
    let shadow_reads = local
        .lines()
        .filter(|l| l.contains("\"rule\":\"Read sensitive file untrusted\""))
        .count();
    assert_eq!(shadow_reads, 6, "{local}");
    assert_eq!(local, s3);
    // The listing is the same too, with several threads.
    let (local, s3) = replay_local_and_s3(
        &moto.endpoint(),
        &["--filter", "", "--threads", "2", "-q"],
        &dl,
        &url,
    );
    assert!(local.lines().count() > 100);
    assert_eq!(local, s3);
}

/// PUTs `body` as the literal `key` (no client path encoding, so a key may
/// hold `..`), straight to moto, which takes unsigned requests.
fn raw_put(moto: &Moto, bucket: &str, key: &str, body: &[u8]) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", moto.port)).unwrap();
    let head = format!(
        "PUT /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        moto.port,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn junk_under_a_sibling_trace_id_costs_only_itself() {
    if !require_moto() {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("bkt");
    // One good trace of several segments, uploaded as capture names them.
    let dir = tempfile::tempdir().unwrap();
    let mut w = trace_format::TraceWriter::create(
        &dir.path().join("t.zst"),
        trace_format::WriterOptions {
            chunk_bytes: 2048,
            rotate_bytes: Some(4000),
            ..trace_format::WriterOptions::default()
        },
        trace_format::model::TraceMeta::default(),
    )
    .unwrap();
    for i in 0..600u64 {
        let ev = trace_format::model::Event {
            ts: 1_000 + i,
            tid: 7,
            pid: 7,
            body: trace_format::model::EventBody::Syscall(trace_format::model::SyscallEvent {
                id: 0,
                args: vec![3, i, 80],
                ret: 80,
                ..Default::default()
            }),
        };
        w.push(&ev, &trace_format::model::Snapshot::default())
            .unwrap();
    }
    let summary = w.finish().unwrap();
    let client = moto.client("bkt");
    let mut m =
        Manifest::from_json(&std::fs::read_to_string(summary.manifest.as_ref().unwrap()).unwrap())
            .unwrap();
    for s in &mut m.segments {
        let name = sysrec_s3::keys::segment_name(s.index);
        client
            .put_file(&format!("p/good/{name}"), &dir.path().join(&s.file))
            .unwrap();
        s.file = name;
    }
    client
        .put("p/good/manifest.json", m.to_json().into_bytes().into())
        .unwrap();
    // A junk object where a sibling trace's segment would be, and a key
    // with a `..` segment under another.
    client
        .put("p/junk/000000.zst", b"not a trace at all".to_vec().into())
        .unwrap();
    raw_put(&moto, "bkt", "p/dots/../000000.zst", b"dots");
    let v = replay(&moto.endpoint(), &["verify", "s3://bkt/p/"]);
    let out = String::from_utf8_lossy(&v.stdout).into_owned() + &stderr(&v);
    assert_eq!(v.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("{} intact chunk(s)", summary.chunks)),
        "the good trace is read whole: {out}"
    );
    assert!(out.contains("p/junk"), "{out}");
    assert!(out.contains("p/dots"), "{out}");
    let v = replay(&moto.endpoint(), &["verify", "s3://bkt/p/good/"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}
