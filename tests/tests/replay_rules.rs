//! Falco's own rules over traces of real actions: capture records the
//! action, `replay` with the stable, incubating and sandbox rule files
//! must raise the rule Falco would raise, and nothing for benign work.

use std::path::Path;

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;

/// Records `cmd` under capture in `w` and returns the alerts of the three
/// Falco rule files (`--rule-matching all`, so one rule cannot hide another).
fn alerts_for(w: &Work, cmd: &[&str]) -> Vec<serde_json::Value> {
    let out = w.capture(&["-q"], cmd);
    assert!(
        out.status.success(),
        "capture {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (alerts, out) = alerts(&w.trace_path(), &["--rule-matching", "all", "-q"]);
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    alerts
}

/// The alert of `rule`, failing with every alert raised when it is absent.
fn expect_rule<'a>(alerts: &'a [serde_json::Value], rule: &str) -> &'a serde_json::Value {
    alerts
        .iter()
        .find(|a| a["rule"] == rule)
        .unwrap_or_else(|| panic!("`{rule}` did not fire; alerts: {:?}", rule_names(alerts)))
}

/// A program called `name` built from C source.
fn program(w: &Work, name: &str, src: &str) -> Option<std::path::PathBuf> {
    w.cc(name, src, &[])
}

/// A unique file name for actions outside the test's temp dir.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), line!())
}

#[test]
fn reading_etc_shadow_with_cat() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let alerts = alerts_for(&w, &["sh", "-c", "cat /etc/shadow > /dev/null"]);
    let a = expect_rule(&alerts, "Read sensitive file untrusted");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    let f = &a["output_fields"];
    assert_eq!(f["fd.name"], "/etc/shadow");
    assert_eq!(f["proc.name"], "cat");
    assert_eq!(f["proc.pname"], "sh");
    assert_eq!(f["proc.cmdline"], "cat /etc/shadow");
    assert_eq!(f["evt.type"], "openat");
    assert_eq!(f["user.name"], "root");
    assert!(
        a["output"]
            .as_str()
            .unwrap()
            .contains(": Warning Sensitive file opened for reading by non-trusted program"),
        "{a}"
    );
    assert!(a["tags"].as_array().unwrap().iter().any(|t| t == "T1555"));
}

#[test]
fn shell_spawned_by_a_web_server() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(nginx) = program(
        &w,
        "nginx",
        r#"
#include <unistd.h>
#include <sys/wait.h>
int main(void) {
    pid_t p = fork();
    if (p == 0) { execl("/bin/sh", "sh", "-c", "true", (char *)0); _exit(127); }
    int st; waitpid(p, &st, 0);
    return 0;
}
"#,
    ) else {
        return;
    };
    let alerts = alerts_for(&w, &[nginx.to_str().unwrap()]);
    let a = expect_rule(&alerts, "Run shell untrusted");
    assert_eq!(a["priority"], "Notice");
    assert_eq!(a["output_fields"]["proc.pname"], "nginx");
    assert_eq!(a["output_fields"]["proc.name"], "sh");
}

#[test]
fn writing_below_a_binary_directory() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let target = format!("/usr/bin/{}", unique("sysrec-e2e"));
    let script = format!("echo x > {target}; rm -f {target}");
    let alerts = alerts_for(&w, &["sh", "-c", &script]);
    let _ = std::fs::remove_file(&target);
    let a = expect_rule(&alerts, "Write below binary dir");
    assert_eq!(a["output_fields"]["fd.name"], target.as_str());
}

#[test]
fn symlink_to_a_sensitive_file() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let link = w.path("innocent");
    let alerts = alerts_for(&w, &["ln", "-s", "/etc/shadow", link.to_str().unwrap()]);
    let a = expect_rule(&alerts, "Create Symlink Over Sensitive Files");
    assert_eq!(a["output_fields"]["evt.arg.target"], "/etc/shadow");
    assert_eq!(
        a["output_fields"]["evt.arg.linkpath"],
        link.to_str().unwrap()
    );
}

#[test]
fn grep_for_private_keys() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    std::fs::write(w.path("notes.txt"), "nothing here\n").unwrap();
    let dir = w.dir.path().to_str().unwrap().to_owned();
    let script = format!("grep -r 'BEGIN RSA PRIVATE' {dir} || true");
    let alerts = alerts_for(&w, &["sh", "-c", &script]);
    let a = expect_rule(&alerts, "Search Private Keys or Passwords");
    assert_eq!(a["output_fields"]["proc.name"], "grep");
}

#[test]
fn ptrace_attach_and_anti_debug() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(prog) = program(
        &w,
        "prober",
        r#"
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) {
    ptrace(PTRACE_ATTACH, getppid(), 0, 0);   /* fails: already traced */
    ptrace(PTRACE_TRACEME, 0, 0, 0);          /* fails: already traced */
    return 0;
}
"#,
    ) else {
        return;
    };
    let alerts = alerts_for(&w, &["sh", "-c", &format!("{}; true", prog.display())]);
    let a = expect_rule(&alerts, "PTRACE attached to process");
    assert_eq!(a["output_fields"]["proc.name"], "prober");
    expect_rule(&alerts, "PTRACE anti-debug attempt");
}

#[test]
fn executing_from_dev_shm() {
    if !ptrace_permitted() || !Path::new("/dev/shm").is_dir() {
        return;
    }
    let w = Work::new();
    let exe = format!("/dev/shm/{}", unique("sysrec-e2e"));
    std::fs::copy("/bin/true", &exe).unwrap();
    let alerts = alerts_for(&w, &["sh", "-c", &format!("{exe}; true")]);
    let _ = std::fs::remove_file(&exe);
    expect_rule(&alerts, "Execution from /dev/shm");
    // The shell whose command line names the file fires too; the program
    // itself must be among the alerts.
    assert!(
        alerts.iter().any(|a| a["rule"] == "Execution from /dev/shm"
            && a["output_fields"]["proc.exepath"] == exe.as_str()),
        "{alerts:?}"
    );
}

#[test]
fn benign_work_raises_nothing() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let script = format!(
        "cat /etc/hostname > /dev/null; ls / > /dev/null; echo hi > {}/out; wc -l {}/out > /dev/null",
        w.dir.path().display(),
        w.dir.path().display()
    );
    let alerts = alerts_for(&w, &["sh", "-c", &script]);
    assert!(
        alerts.is_empty(),
        "benign work raised {:?}",
        rule_names(&alerts)
    );
}
