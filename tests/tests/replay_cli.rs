//! `replay` on recorded traces of many chunks: thread counts do not change
//! the output, damage is reported and the rest evaluated, and bad rules or
//! arguments get clear errors.

use std::ffi::OsStr;
use std::path::Path;

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;
use trace_format::TraceReader;

/// A trace of many small chunks in which Falco's rules fire repeatedly.
fn many_chunk_trace(w: &Work) {
    let script = "for i in $(seq 1 40); do cat /etc/shadow > /dev/null; ls /etc > /dev/null; done";
    // A small environment keeps the snapshots (which hold each process's
    // environment) small, so 16K chunks hold events, not mostly snapshots.
    let out = w.capture(
        &["-q", "--chunk-size", "16K"],
        &["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", script],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rules_args(trace: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let mut a = vec![trace.as_os_str().to_owned()];
    for r in falco_rules() {
        a.push("--rules".into());
        a.push(r.into_os_string());
    }
    a.extend(extra.iter().map(Into::into));
    a
}

fn run(args: &[std::ffi::OsString]) -> std::process::Output {
    let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    replay(&refs)
}

#[test]
fn thread_count_does_not_change_the_output() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    many_chunk_trace(&w);
    let t = w.trace_path();
    let chunks = TraceReader::open(&t).unwrap().locations().len();
    assert!(chunks >= 4, "only {chunks} chunks");
    for extra in [&["--json"][..], &[][..], &["--rule-matching", "all"][..]] {
        let mut one: Vec<&str> = extra.to_vec();
        one.extend(["--threads", "1", "-q"]);
        let mut two: Vec<&str> = extra.to_vec();
        two.extend(["--threads", "2", "-q"]);
        let a = run(&rules_args(&t, &one));
        let b = run(&rules_args(&t, &two));
        assert!(a.status.success() && b.status.success());
        let text = String::from_utf8_lossy(&a.stdout);
        assert!(
            text.lines().count() >= 40,
            "expected 40 shadow reads: {text}"
        );
        assert_eq!(a.stdout, b.stdout, "{extra:?}");
    }
    // Listing too.
    for t2 in ["1", "2"] {
        let out = replay(&[
            t.as_os_str(),
            OsStr::new("--filter"),
            OsStr::new(""),
            OsStr::new("--threads"),
            OsStr::new(t2),
            OsStr::new("-q"),
        ]);
        assert!(out.status.success());
        let total: u64 = TraceReader::open(&t)
            .unwrap()
            .chunks()
            .filter_map(Result::ok)
            .map(|c| u64::from(c.info().event_count))
            .sum();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count() as u64,
            total,
            "--filter '' prints every event"
        );
    }
}

#[test]
fn a_damaged_chunk_is_reported_and_the_rest_evaluated() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    many_chunk_trace(&w);
    let t = w.trace_path();
    let (before, _) = alerts(&t, &["-q"]);
    let reader = TraceReader::open(&t).unwrap();
    let locs = reader.locations().to_vec();
    assert!(locs.len() >= 4);
    // The first chunk after the first that holds an alert.
    let alert_times: Vec<u64> = before
        .iter()
        .map(|a| a["output_fields"]["evt.time"].as_u64().unwrap())
        .collect();
    let (n, lo, hi) = (1..locs.len())
        .find_map(|n| {
            let i = reader.read_chunk(&locs[n]).unwrap().info();
            let (lo, hi) = (i.wall_ns(i.first_ts), i.wall_ns(i.last_ts));
            alert_times
                .iter()
                .any(|t| (lo..=hi).contains(t))
                .then_some((n, lo, hi))
        })
        .expect("a chunk after the first with an alert");
    drop(reader);
    let mut bytes = std::fs::read(&t).unwrap();
    let at = (locs[n].offset + locs[n].compressed_len / 2) as usize;
    bytes[at] ^= 0xff;
    std::fs::write(&t, &bytes).unwrap();
    let (after, out) = alerts(&t, &[]);
    assert_eq!(out.status.code(), Some(1), "damage exits 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("chunk {n}")), "{err}");
    let expected: Vec<_> = before
        .iter()
        .filter(|a| {
            let ns = a["output_fields"]["evt.time"].as_u64().unwrap();
            ns < lo || ns > hi
        })
        .cloned()
        .collect();
    assert!(
        expected.len() < before.len(),
        "the damaged chunk had alerts"
    );
    assert_eq!(after, expected);
}

#[test]
fn malformed_rules_are_reported_with_their_position() {
    let w = Work::new();
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces/synthetic-web.zst");
    let cases: &[(&str, &str, &str)] = &[
        ("- rule: x\n  condition: [unclosed\n", "bad.yaml:", "yaml"),
        (
            "- rule: r\n  desc: d\n  condition: evt.type=open and undefined_macro\n  output: o\n  priority: WARNING\n",
            "undefined_macro",
            "r",
        ),
        (
            "- rule: r\n  desc: d\n  condition: proc.name === x\n  output: o\n  priority: WARNING\n",
            "bad.yaml:3",
            "r",
        ),
        (
            "- rule: r\n  desc: d\n  condition: proc.nme = x\n  output: o\n  priority: WARNING\n",
            "proc.nme",
            "r",
        ),
        (
            "- rule: r\n  desc: d\n  condition: proc.pid = abc\n  output: o\n  priority: WARNING\n",
            "abc",
            "r",
        ),
    ];
    for (text, must, item) in cases {
        let f = w.path("bad.yaml");
        std::fs::write(&f, text).unwrap();
        let out = replay(&[trace.as_os_str(), OsStr::new("--rules"), f.as_os_str()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(must), "{text}: `{must}` not in {err}");
        assert!(err.contains(item), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn usage_errors() {
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces/synthetic-web.zst");
    for (args, must) in [
        (vec![trace.as_os_str()], "choose one of"),
        (
            vec![OsStr::new("/nonexistent.zst"), OsStr::new("--stats")],
            "/nonexistent.zst",
        ),
        (
            vec![
                trace.as_os_str(),
                OsStr::new("--filter"),
                OsStr::new("proc.name ="),
            ],
            "invalid filter",
        ),
        (
            vec![
                trace.as_os_str(),
                OsStr::new("--around"),
                OsStr::new("yesterday"),
            ],
            "not a time",
        ),
    ] {
        let out = replay(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(must), "{args:?}: {err}");
    }
}

#[test]
fn the_readme_sample_raises_its_four_alerts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace = root.join("samples/traces/incident.zst");
    let rules = root.join("samples/rules/falco_rules.yaml");
    let out = replay(&[
        trace.as_os_str(),
        OsStr::new("--rules"),
        rules.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut names = rule_names(&alerts);
    names.sort();
    assert_eq!(
        names,
        [
            "Create Symlink Over Sensitive Files",
            "Execution from /dev/shm",
            "Read sensitive file untrusted",
            "Search Private Keys or Passwords"
        ]
    );
    // The copy in samples/ is Falco's file as shipped in ../shared.
    let shipped = std::fs::read(&falco_rules()[0]).unwrap();
    assert_eq!(std::fs::read(&rules).unwrap(), shipped);
}

#[test]
fn min_priority_and_rule_matching() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace = root.join("samples/traces/incident.zst");
    let rules = falco_rules();
    let count = |extra: &[&str]| {
        let mut a = vec![trace.clone().into_os_string()];
        for r in &rules {
            a.push("--rules".into());
            a.push(r.clone().into_os_string());
        }
        a.extend(extra.iter().map(Into::into));
        let out = run(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let first = count(&["-q"]);
    let all = count(&["-q", "--rule-matching", "all"]);
    assert!(first >= 4, "{first}");
    assert!(all >= first, "{all} < {first}");
    // Every alert of the sample is a Warning or below.
    assert_eq!(count(&["-q", "--min-priority", "error"]), 0);
    assert_eq!(count(&["-q", "--min-priority", "WARNING"]), first);
    let out = run(&[
        trace.clone().into_os_string(),
        "--rules".into(),
        rules[0].clone().into_os_string(),
        "--min-priority".into(),
        "loud".into(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a priority"));
}

#[test]
fn fds_of_a_process_no_snapshot_knows_are_named() {
    // The synthetic sample's pids have no snapshot entry and no start
    // event; their opens still name their fds (sysdig 0.29 matches the same
    // 1,665 opens of its .scap export: BENCHMARKS.md, issue 17).
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/traces/synthetic-web.zst");
    let out = replay(&[
        trace.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("--filter"),
        OsStr::new("evt.type=openat and fd.name contains etc"),
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1665);
    let out = replay(&[
        trace.as_os_str(),
        OsStr::new("-q"),
        OsStr::new("--filter"),
        OsStr::new("evt.num=1"),
        OsStr::new("--format"),
        OsStr::new("%proc.name %fd.name"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "<NA> /usr/share/nginx/html/index.html"
    );
}
