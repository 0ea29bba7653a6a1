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

/// A process `A` alone on the main tracer (so pinned with it; born first,
/// so round robin leaves it there), and a process `B` on a helper that reads and then sets `A`'s CPU set; `A`
/// then forks (which gives back what placement restricted) and reads its
/// own set. Prints the sets as CPU lists, and each one's `TracerPid`.
const ACROSS_TRACERS: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void list(const char *what, cpu_set_t *s) {
    printf("%s:", what);
    for (int c = 0, first = 1; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, s)) { printf("%s%d", first ? " " : ",", c); first = 0; }
    printf("\n");
    fflush(stdout);
}
static int status(const char *who, int print) {
    char line[256], out[512] = "";
    int single = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Cpus_allowed_list:", 18)) single = !strpbrk(line + 18, "-,");
        if (print && (!strncmp(line, "TracerPid:", 10) || !strncmp(line, "Cpus_allowed_list:", 18)))
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s %s", who, line);
    }
    if (f) fclose(f);
    if (print) { printf("%s", out); fflush(stdout); }
    return single;
}
int main(void) {
    int pinned[2], go[2], up[2], both[2];
    if (pipe(pinned) || pipe(go) || pipe(up) || pipe(both)) return 2;
    pid_t a = fork();
    if (a == 0) {
        /* Running, so born first (the main tracer's, round robin). */
        if (write(up[1], "u", 1) != 1) return 3;
        /* Once B is born: the fork of B gave back any CPU set. */
        char c;
        if (read(both[0], &c, 1) != 1) return 3;
        /* Busy with calls every syscall set stops on (open, close), so
           that A alone stops on the main tracer and stays pinned. */
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            for (int i = 0; i < 100; i++) close(open("/dev/null", O_RDONLY));
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while (!status("A", 0) && t.tv_sec - t0.tv_sec < 5);
        status("A", 1);
        if (write(pinned[1], "p", 1) != 1) return 3;
        fcntl(go[0], F_SETFL, O_NONBLOCK);
        while (read(go[0], &c, 1) != 1) close(open("/dev/null", O_RDONLY));
        pid_t k = fork();
        if (k == 0) _exit(0);
        waitpid(k, 0, 0);
        cpu_set_t own;
        if (sched_getaffinity(0, sizeof own, &own)) return 4;
        list("A own after", &own);
        return 0;
    }
    char u;
    if (read(up[0], &u, 1) != 1) return 2;
    pid_t b = fork();
    if (b == 0) {
        char c;
        if (read(pinned[0], &c, 1) != 1) return 5;
        status("B", 1);
        cpu_set_t own, seen, one;
        if (sched_getaffinity(0, sizeof own, &own) || sched_getaffinity(a, sizeof seen, &seen)) return 6;
        list("B own", &own);
        list("B sees A", &seen);
        int last = -1;
        for (int i = 0; i < CPU_SETSIZE; i++) if (CPU_ISSET(i, &own)) last = i;
        CPU_ZERO(&one);
        CPU_SET(last, &one);
        if (sched_setaffinity(a, sizeof one, &one)) return 7;
        list("B set A to", &one);
        if (write(go[1], "g", 1) != 1) return 8;
        return 0;
    }
    if (write(both[1], "b", 1) != 1) return 2;
    int st, bad = 0;
    while (wait(&st) > 0) bad |= !WIFEXITED(st) || WEXITSTATUS(st);
    return bad;
}
"#;

/// With several tracers, what placement restricts is known to every
/// tracer: a process on a helper asking for the CPU set of a process the
/// main tracer pinned is told the set it would see without capture, and
/// its `sched_setaffinity` of that process stays (it is not undone when
/// the main tracer later gives back what it restricted).
#[test]
fn a_process_on_another_tracer_sees_and_sets_the_pinned_ones_cpu_set() {
    if !ptrace_permitted() {
        return;
    }
    let ours = status_field(std::process::id(), "Cpus_allowed_list").unwrap_or_default();
    assert!(
        ours.contains(['-', ',']),
        "this test needs two CPUs, CI has them: {ours}"
    );
    let w = Work::new();
    let Some(bin) = w.cc("across", ACROSS_TRACERS, &[]) else {
        return;
    };
    for args in [
        &["--tracers", "2"][..],
        &["--tracers", "2", "--syscalls", "falco"],
    ] {
        let out = w.capture(args, &[bin.to_str().unwrap_or_default()]);
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("{args:?}: no `{key}` in {text}"))
        };
        // The setting this test is about: A pinned, B on another tracer.
        assert!(
            !field("A Cpus_allowed_list:").contains(['-', ',']),
            "{args:?}: A not pinned: {text}"
        );
        assert_ne!(
            field("A TracerPid:"),
            field("B TracerPid:"),
            "{args:?}: one tracer: {text}"
        );
        assert_eq!(
            field("B sees A:"),
            field("B own:"),
            "{args:?}: the restriction showed: {text}"
        );
        assert_eq!(
            field("A own after:"),
            field("B set A to:"),
            "{args:?}: the workload's set was undone: {text}"
        );
    }
}
