//! `--cpu-affinity`: `auto` keeps a single-threaded workload on one CPU
//! and gives a workload that forks or clones every CPU back; `none` never
//! touches the workload's CPU set.

use e2e_tests::capture_support::*;

/// The `Cpus_allowed_list` lines the workload printed.
fn allowed(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn auto_pins_only_while_the_workload_is_one_thread() {
    if !ptrace_permitted() {
        return;
    }
    let ours = status_field(std::process::id(), "Cpus_allowed_list").unwrap_or_default();
    let single_cpu = !ours.contains(['-', ',']);
    let w = Work::new();
    // One process, one thread: pinned (to one CPU of ours).
    let out = w.capture(&["-q"], &["grep", "Cpus_allowed_list", "/proc/self/status"]);
    assert_eq!(out.status.code(), Some(0));
    let got = allowed(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(!got[0].contains(['-', ',']), "one CPU: {got:?}");
    // A workload that forks: every task gets the CPU set back, the first
    // process included (the shell prints after its child ran).
    let script = "grep Cpus_allowed_list /proc/self/status; grep Cpus_allowed_list /proc/$$/status";
    let out = w.capture(&["-q"], &["sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(allowed(&out), vec![ours.clone(), ours.clone()]);
    // none: untouched.
    let out = w.capture(
        &["-q", "--cpu-affinity", "none"],
        &["grep", "Cpus_allowed_list", "/proc/self/status"],
    );
    assert_eq!(allowed(&out), vec![ours.clone()]);
    if single_cpu {
        eprintln!("note: one CPU here, pinning is not observable");
    }
}
