//! Falco's view of processes over real recordings: what the kernel ran,
//! not what was asked for.

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;

/// A shebang script's exec shows its interpreter first, as the kernel
/// left argv (and as Falco reports `proc.exe`/`proc.cmdline`).
#[test]
fn a_script_exec_shows_its_interpreter() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let script = w.path("s.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
    let s = script.display().to_string();
    let out = w.capture(&["-q"], &[&s, "arg1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();
    let argv: Vec<Vec<String>> = t
        .execs()
        .map(|(_, x)| {
            x.argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect();
    assert!(
        argv.contains(&vec!["/bin/sh".to_string(), s.clone(), "arg1".to_string()]),
        "{argv:?}"
    );
    // replay's proc.exe and proc.args follow.
    let out = replay(&[
        w.trace_path().as_os_str(),
        std::ffi::OsStr::new("--filter"),
        std::ffi::OsStr::new("evt.type=execve and proc.exe=/bin/sh and proc.args contains arg1"),
        std::ffi::OsStr::new("-q"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
