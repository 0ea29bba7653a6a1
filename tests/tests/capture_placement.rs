//! `--cpu-affinity`: `auto` keeps a single-threaded workload on one CPU,
//! gives a workload that forks or clones every CPU back, never restricts a
//! multi-threaded process, and shares the tracer's CPU with a
//! single-threaded process while it is the only one stopping; `none` never
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
    // A workload that forks: the forking shell gets its CPU set back (its
    // children may be pinned while each is the only one stopping).
    let script = "grep Cpus_allowed_list /proc/self/status; grep Cpus_allowed_list /proc/$$/status";
    let out = w.capture(&["-q"], &["sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0));
    let got = allowed(&out);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1], ours, "the shell, after forking: {got:?}");
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

/// Two threads, both making syscalls; each prints its own CPU set while
/// both are alive.
const TWO_THREADS: &str = r#"
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static pthread_barrier_t bar;
static void print_mine(void) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", gettid());
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Cpus_allowed_list:", 18)) printf("%s", line);
    if (f) fclose(f);
    fflush(stdout);
}
static void spin(void) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do { getppid(); clock_gettime(CLOCK_MONOTONIC, &t); } while (t.tv_sec - t0.tv_sec < 1);
}
static void *other(void *a) {
    (void)a;
    spin();
    pthread_barrier_wait(&bar);
    print_mine();
    pthread_barrier_wait(&bar);
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_create(&t, NULL, other, NULL);
    spin();
    pthread_barrier_wait(&bar);
    print_mine();
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    return 0;
}
"#;

#[test]
fn a_multi_threaded_process_is_never_restricted() {
    if !ptrace_permitted() {
        return;
    }
    let ours = status_field(std::process::id(), "Cpus_allowed_list").unwrap_or_default();
    let w = Work::new();
    let Some(bin) = w.cc("two", TWO_THREADS, &["-pthread"]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(allowed(&out), vec![ours.clone(), ours]);
}

/// A parent that waits while its single-threaded child makes syscalls
/// alone: the child prints its CPU set once it is a single CPU (or after
/// 5 s).
const LONE_CHILD: &str = r#"
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cpus(char *out, size_t n) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    int single = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Cpus_allowed_list:", 18)) {
            snprintf(out, n, "%s", line);
            single = !strpbrk(line + 18, "-,");
        }
    if (f) fclose(f);
    return single;
}
int main(void) {
    pid_t p = fork();
    if (p == 0) {
        char line[256] = "";
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            for (int i = 0; i < 200; i++) getppid();
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while (!cpus(line, sizeof line) && t.tv_sec - t0.tv_sec < 5);
        printf("%s", line);
        return 0;
    }
    int st;
    waitpid(p, &st, 0);
    return WEXITSTATUS(st);
}
"#;

#[test]
fn the_only_busy_single_threaded_process_shares_the_tracers_cpu() {
    if !ptrace_permitted() {
        return;
    }
    let ours = status_field(std::process::id(), "Cpus_allowed_list").unwrap_or_default();
    if !ours.contains(['-', ',']) {
        eprintln!("skipped: one CPU here");
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("lone", LONE_CHILD, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    let got = allowed(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(!got[0].contains(['-', ',']), "pinned while alone: {got:?}");
    // And with none, never.
    let out = w.capture(
        &["-q", "--cpu-affinity", "none"],
        &[bin.to_str().unwrap_or_default()],
    );
    assert_eq!(allowed(&out), vec![ours]);
}
