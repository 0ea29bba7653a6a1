//! Support for the end-to-end tests in `tests/tests/`: finding the built
//! binaries and running them with a time limit.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// Path of a workspace binary (`capture`, `replay`). Cargo builds only the
/// binaries of a test's own package, so the first call builds the binary
/// (`cargo build --bin NAME`, same profile) when it is missing or older than
/// this test.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    let path = dir.join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root)
            .args(["build", "--quiet", "--bin", name]);
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building `{name}` failed");
        built.push(name.to_string());
    }
    assert!(path.exists(), "`{}` was not built", path.display());
    path
}

/// Runs `cmd` to completion, killing it and failing the test after `limit`.
/// Output is read while it runs, so a chatty child never blocks on a full
/// pipe.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let out = rx.recv().ok().and_then(Result::ok);
            panic!(
                "{cmd:?} did not finish within {limit:?}; stderr: {}",
                out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default()
            );
        }
    }
}

/// True when a command-line tool is installed.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skips (returns false) when `tool` is missing, except under CI, where
/// `.ci/run` installs it and its absence is a failure.
pub fn require(tool: &str) -> bool {
    if have(tool) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "`{tool}` is missing under CI"
    );
    eprintln!("skipped: `{tool}` is not installed");
    false
}

pub mod capture_support;
pub mod replay_support;
pub mod s3_support;
