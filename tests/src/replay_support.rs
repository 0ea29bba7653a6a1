//! Support for the replay tests: the shipped Falco rule files, running
//! `replay`, and reading its JSON alerts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::capture_support::LIMIT;

/// Falco's rule files beside the checkout, in load order: stable,
/// incubating, sandbox.
pub fn falco_rules() -> Vec<PathBuf> {
    let dir = Path::new(env!("SYSREC_FALCO_RULES"));
    replay::rules::FALCO_RULE_FILES
        .iter()
        .map(|f| dir.join(f))
        .collect()
}

/// The `replay` binary.
pub fn replay_bin() -> PathBuf {
    crate::bin("replay")
}

/// `replay ARGS...`, run to completion.
pub fn replay(args: &[&std::ffi::OsStr]) -> Output {
    let mut c = Command::new(replay_bin());
    c.args(args);
    crate::run_with_timeout(&mut c, LIMIT)
}

/// Runs the three Falco rule files over `trace` with `--json` and extra
/// arguments; returns the alerts (one JSON object each) and the output.
pub fn alerts(trace: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, Output) {
    let mut c = Command::new(replay_bin());
    c.arg(trace).arg("--json");
    for r in falco_rules() {
        c.arg("--rules").arg(r);
    }
    c.args(extra);
    let out = crate::run_with_timeout(&mut c, LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    let alerts = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (alerts, out)
}

/// The `rule` of each alert.
pub fn rule_names(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .filter_map(|a| a["rule"].as_str().map(str::to_owned))
        .collect()
}
