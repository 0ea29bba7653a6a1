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
        .filter_map(|(k, _)| k.strip_prefix(&format!("{prefix}/"))?.split('/').next().map(String::from))
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
    assert_eq!(local, s3, "replay verify differs between S3 and the local copy");
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
        .find_map(|l| l.strip_prefix("capture: ")?.split(" events").next()?.parse().ok())
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
        &["--rotate-size", "64K"],
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
    let v = replay(&moto.endpoint(), &["verify", &format!("s3://ship/traces/{id}/")]);
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
    assert_eq!(spool_files(work.path("").as_path()), Vec::<String>::new(), "{err}");
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
