//! Names a workload or a manifest controls reach the terminal escaped
//! (`trace_format::escape`): a process name set with `prctl(PR_SET_NAME)`
//! holding an escape sequence and a newline, a path and argv holding them
//! (and bytes that are not UTF-8), a manifest segment name holding a
//! newline. No control byte reaches text output and no line is forged;
//! JSON keeps the raw values (JSON escapes them itself).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::process::Command;

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;

/// Renames itself, creates a file whose name holds a newline and an
/// escape sequence in the directory `argv[1]`, writes to it.
const EVIL: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    prctl(PR_SET_NAME, "\x1b[31mevil\nOK", 0, 0, 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/evil\nOK: every chunk is intact\x1b[2J", argv[1]);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    if (fd < 0) return 3;
    write(fd, "x", 1);
    close(fd);
    return 0;
}
"#;

const RULES: &str = r#"
- rule: evil open
  desc: a file named evil is opened
  condition: evt.type in (open, openat) and fd.name contains "evil"
  output: "opened %fd.name by %proc.name"
  priority: WARNING
"#;

/// The escaped forms expected in text output.
const NAME: &str = r"\x1b[31mevil\x0aOK";
const PATH: &str = r"evil\x0aOK: every chunk is intact\x1b[2J";
const ARG: &str = r"\x1b[2Jarg\x0aline";
const NOT_UTF8: &str = r"\xff\xfe";

fn assert_clean(what: &str, out: &[u8]) {
    let text = String::from_utf8(out.to_vec())
        .unwrap_or_else(|e| panic!("{what}: output is not UTF-8: {e}"));
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: a control character reached the output: {text:?}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("OK")),
        "{what}: a forged line: {text}"
    );
}

fn run_replay(args: &[&OsStr]) -> std::process::Output {
    let out = replay(args);
    assert!(
        out.status.success(),
        "replay {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn workload_controlled_names_are_escaped_in_text_output() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("evil", EVIL, &[]) else {
        return;
    };
    let files = w.path("files");
    std::fs::create_dir(&files).unwrap_or_else(|e| panic!("{e}"));
    let mut c = Command::new(capture_bin());
    c.arg("-q")
        .arg("-o")
        .arg(w.trace_path())
        .arg("--snaplen")
        .arg("256")
        .arg("--")
        .arg(&bin)
        .arg(&files)
        .arg("\x1b[2Jarg\nline")
        .arg(OsStr::from_bytes(b"\xff\xfe"));
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace_path();

    // --filter: process name, path and argv escaped, bytes kept.
    let out = run_replay(&[
        t.as_os_str(),
        OsStr::new("--filter"),
        OsStr::new(""),
        OsStr::new("-q"),
    ]);
    assert_clean("--filter", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [NAME, PATH, ARG, NOT_UTF8] {
        assert!(text.contains(want), "--filter lacks {want}: {text}");
    }

    // --stats: the command line.
    let out = run_replay(&[t.as_os_str(), OsStr::new("--stats"), OsStr::new("-q")]);
    assert_clean("--stats", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [ARG, NOT_UTF8] {
        assert!(text.contains(want), "--stats lacks {want}: {text}");
    }

    // Alerts as text: the rendered message escaped.
    let rules = w.path("evil.yaml");
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("{e}"));
    let out = run_replay(&[
        t.as_os_str(),
        OsStr::new("--rules"),
        rules.as_os_str(),
        OsStr::new("-q"),
    ]);
    assert_clean("alerts", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(&format!("opened {}/{PATH} by {NAME}", files.display())),
        "{text}"
    );

    // JSON as it was: the raw values, escaped by JSON.
    let out = run_replay(&[
        t.as_os_str(),
        OsStr::new("--rules"),
        rules.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("-q"),
    ]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains(r"\u001b[31mevil\nOK"), "{line}");
    let v: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["output_fields"]["proc.name"], "\x1b[31mevil\nOK", "{v}");
}

#[test]
fn a_segment_name_cannot_forge_a_verify_line() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let out = w.capture(
        &["-q", "--chunk-size", "16K", "--rotate-size", "32K"],
        &[
            "sh",
            "-c",
            "for i in $(seq 1 10); do ls /etc > /dev/null; done",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = w.path("trace.manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{e}"));
    let mut m: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let segs = m["segments"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no segments: {text}"));
    assert!(segs.len() >= 2, "{text}");
    let forged = "gone\n  OK: every chunk is intact and the hash chain is unbroken\n\x1b[2K";
    segs[0]["file"] = serde_json::Value::from(forged);
    std::fs::write(&manifest, m.to_string()).unwrap_or_else(|e| panic!("{e}"));

    let out = replay(&[OsStr::new("verify"), manifest.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_clean("verify stdout", &out.stdout);
    assert_clean("verify stderr", &out.stderr);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains(
            r"gone\x0a  OK: every chunk is intact and the hash chain is unbroken\x0a\x1b[2K"
        ),
        "the name is shown, escaped: {all}"
    );
}
