//! Format version 2 against version 1 on the committed samples: the
//! samples are version 1 and stay readable; a sample and its version 2
//! re-encoding give byte-identical replay output (listing, statistics,
//! alerts), and a version 2 copy turned back into version 1 does too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::{bin, run_with_timeout};
use trace_format::convert::convert;
use trace_format::{TraceReader, WriterOptions};

fn samples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces");
    let mut v: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zst"))
        .collect();
    v.sort();
    assert!(v.len() >= 2, "{v:?}");
    v
}

fn file_version(p: &Path) -> u32 {
    let b = std::fs::read(p).unwrap();
    u32::from_le_bytes([b[16], b[17], b[18], b[19]])
}

fn reencode(src: &Path, out: &Path, version: u32) {
    let reader = TraceReader::open(src).unwrap();
    let opts = WriterOptions {
        format_version: version,
        chunk_bytes: trace_format::container::MAX_CHUNK_LEN as usize / 2,
        chunk_secs: Duration::from_secs(1 << 30),
        ..WriterOptions::default()
    };
    let done = convert(&reader, out, opts).unwrap();
    assert!(done.problems.is_empty(), "{:?}", done.problems);
    assert_eq!(file_version(out), version);
}

/// stdout and exit status of `replay ARGS`.
fn replay(args: &[&std::ffi::OsStr]) -> (Option<i32>, Vec<u8>) {
    let out = run_with_timeout(
        Command::new(bin("replay")).args(args),
        Duration::from_secs(120),
    );
    (out.status.code(), out.stdout)
}

/// The listing, its JSON and the statistics; with `rules`, also Falco's
/// alerts as text and JSON (slow in a debug build: only on small traces).
fn outputs(trace: &Path, with_alerts: bool) -> Vec<(Option<i32>, Vec<u8>)> {
    let rules = Path::new(env!("SYSREC_FALCO_RULES"));
    let files = replay::rules::FALCO_RULE_FILES.map(|f| rules.join(f));
    let t = trace.as_os_str();
    let mut with_rules = vec![t];
    for f in &files {
        with_rules.push("--rules".as_ref());
        with_rules.push(f.as_os_str());
    }
    let mut json = with_rules.clone();
    json.push("--json".as_ref());
    let mut v = vec![
        replay(&[t, "--filter".as_ref(), "".as_ref()]),
        replay(&[t, "--filter".as_ref(), "".as_ref(), "--json".as_ref()]),
        replay(&[t, "--stats".as_ref()]),
    ];
    if with_alerts {
        v.push(replay(&with_rules));
        v.push(replay(&json));
    }
    v
}

#[test]
fn samples_and_their_version_2_copies_replay_identically() {
    let dir = tempfile::tempdir().unwrap();
    for s in samples() {
        assert_eq!(file_version(&s), 1, "{} is a version 1 sample", s.display());
        let v2 = dir.path().join("v2.zst");
        reencode(&s, &v2, 2);
        let back = dir.path().join("v1.zst");
        reencode(&v2, &back, 1);
        let rules = std::fs::metadata(&s).unwrap().len() < 100_000;
        let want = outputs(&s, rules);
        assert!(
            want[0].1.len() > 1000 && (!rules || !want[3].1.is_empty()),
            "{}: the listing and alerts are not empty",
            s.display()
        );
        for copy in [&v2, &back] {
            let got = outputs(copy, rules);
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                assert_eq!(w.0, g.0, "{} output {i}: exit status", s.display());
                assert!(
                    w.1 == g.1,
                    "{} output {i} differs for {}",
                    s.display(),
                    copy.display()
                );
            }
        }
        // And the same events, read as values.
        let events = |p: &Path| -> Vec<_> {
            TraceReader::open(p)
                .unwrap()
                .chunks()
                .flat_map(|c| c.unwrap().events().collect::<Vec<_>>())
                .collect()
        };
        assert_eq!(events(&s), events(&v2));
        // Version 2 is the smaller one.
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        assert!(size(&v2) < size(&s), "{}", s.display());
    }
}
