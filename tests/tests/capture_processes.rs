//! Following threads and processes: pthreads, 100 forks, vfork and
//! posix_spawn, static binaries, exec from a non-leader thread.

use std::collections::HashSet;

use e2e_tests::capture_support::*;
use trace_format::model::EventBody;

const THREADS: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
static void *work(void *arg) {
    char path[64];
    snprintf(path, sizeof path, "/nonexistent/thread-%ld", (long)arg);
    open(path, O_RDONLY);
    return NULL;
}
int main(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    return 3;
}
"#;

#[test]
fn every_thread_is_recorded_in_one_process() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("threads", THREADS, &["-pthread"]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(3));
    let t = w.trace();
    let opens: Vec<_> = t
        .syscalls("openat")
        .filter(|(_, s)| path_of(s, 1).is_some_and(|p| p.starts_with("/nonexistent/thread-")))
        .collect();
    assert_eq!(opens.len(), 4, "{:?}", t.syscall_names());
    let pids: HashSet<i32> = opens.iter().map(|(e, _)| e.pid).collect();
    let tids: HashSet<i32> = opens.iter().map(|(e, _)| e.tid).collect();
    assert_eq!(pids.len(), 1, "one process");
    assert_eq!(tids.len(), 4, "four threads");
    assert!(
        !tids.contains(pids.iter().next().unwrap_or(&0)),
        "not the main thread"
    );
    let starts = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) => Some(p),
            _ => None,
        })
        .filter(|(_, p)| tids.contains(&p.child_tid) && pids.contains(&p.child_pid))
        .count();
    assert_eq!(starts, 4, "a ProcessStart per thread");
    let exits = t
        .bodies(|b| match b {
            EventBody::ThreadExit(x) => Some(x),
            _ => None,
        })
        .filter(|(e, x)| tids.contains(&e.tid) && !x.process_exit)
        .count();
    assert_eq!(exits, 4, "a ThreadExit per thread");
}

const FORK100: &str = r#"
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 100; i++) {
        pid_t p = fork();
        if (p == 0) { getppid(); _exit(i % 7); }
    }
    int sum = 0, want = 0, st;
    for (int i = 0; i < 100; i++) want += i % 7;
    while (wait(&st) > 0) sum += WEXITSTATUS(st);
    return sum == want ? 0 : 1;
}
"#;

#[test]
fn a_hundred_children_are_all_recorded() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("fork100", FORK100, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "children's statuses reach the parent intact"
    );
    let t = w.trace();
    let children: HashSet<i32> = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) => Some(p),
            _ => None,
        })
        .map(|(_, p)| p.child_pid)
        .collect();
    assert_eq!(children.len(), 100);
    let getppid: HashSet<i32> = t.syscalls("getppid").map(|(e, _)| e.pid).collect();
    assert_eq!(getppid, children, "every child's syscalls recorded");
    let exited: HashSet<i32> = t
        .bodies(|b| match b {
            EventBody::ThreadExit(x) if x.process_exit => Some(x),
            _ => None,
        })
        .map(|(e, _)| e.pid)
        .filter(|p| children.contains(p))
        .collect();
    assert_eq!(exited.len(), 100, "every child's exit recorded");
    assert_eq!(t.syscalls("wait4").filter(|(_, s)| s.ret > 0).count(), 100);
}

const SPAWN: &str = r#"
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(void) {
    pid_t p;
    char *argv[] = {"/bin/echo", "spawned", NULL};
    if (posix_spawn(&p, "/bin/echo", NULL, NULL, argv, environ) != 0) return 10;
    int st;
    waitpid(p, &st, 0);
    pid_t v = vfork();
    if (v == 0) { execl("/bin/true", "true", "vforked", (char *)NULL); _exit(99); }
    waitpid(v, &st, 0);
    return WEXITSTATUS(st);
}
"#;

#[test]
fn posix_spawn_and_vfork() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("spawn", SPAWN, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "spawned\n");
    let t = w.trace();
    let argvs: Vec<Vec<u8>> = t.execs().map(|(_, x)| x.argv.join(&b' ')).collect();
    assert!(argvs.contains(&b"/bin/echo spawned".to_vec()), "{argvs:?}");
    assert!(argvs.contains(&b"true vforked".to_vec()));
    // posix_spawn uses clone(CLONE_VM|CLONE_VFORK), vfork() vfork.
    let vfork_like = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) => Some(p),
            _ => None,
        })
        .filter(|(_, p)| p.clone_flags & 0x4000 != 0)
        .count();
    assert_eq!(vfork_like, 2, "both children are CLONE_VFORK");
}

const HELLO: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    open("/nonexistent/static-probe", O_RDONLY);
    write(1, "static\n", 7);
    return 5;
}
"#;

#[test]
fn statically_linked_binary() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("static", HELLO, &["-static"]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(out.stdout, b"static\n");
    let t = w.trace();
    assert!(
        t.syscalls("openat")
            .any(|(_, s)| path_of(s, 1).as_deref() == Some("/nonexistent/static-probe")),
        "{:?}",
        t.syscall_names()
    );
}

const THREAD_EXEC: &str = r#"
#include <pthread.h>
#include <unistd.h>
static void *work(void *arg) {
    (void)arg;
    execl("/bin/sh", "sh", "-c", "exit 4", (char *)NULL);
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, work, NULL);
    pthread_join(t, NULL);
    return 1;
}
"#;

#[test]
fn exec_from_a_non_leader_thread() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("thread_exec", THREAD_EXEC, &["-pthread"]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(4));
    let t = w.trace();
    let (ev, x) = t
        .execs()
        .find(|(_, x)| x.argv.first().is_some_and(|a| a == b"sh"))
        .unwrap_or_else(|| panic!("no exec of sh"));
    assert_eq!(ev.tid, ev.pid, "after exec the thread has the pid as tid");
    assert_ne!(x.old_tid, ev.pid, "the exec came from another thread");
    // The execve syscall event is reported under the new tid.
    assert!(
        t.syscalls("execve")
            .any(|(e, s)| e.tid == ev.pid && s.ret == 0)
    );
}

const MEMFD_EXEC: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
extern char **environ;
int main(void) {
    prctl(PR_SET_NAME, "renamed-proc");
    int src = open("/bin/true", O_RDONLY);
    struct stat st;
    fstat(src, &st);
    int m = memfd_create("payload", MFD_CLOEXEC);
    sendfile(m, src, NULL, st.st_size);
    char *argv[] = {"payload", NULL};
    fexecve(m, argv, environ);
    return 1;
}
"#;

#[test]
fn exec_from_a_memfd_is_flagged() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("memfd_exec", MEMFD_EXEC, &[]) else {
        return;
    };
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let execs: Vec<_> = t.execs().collect();
    assert_eq!(execs.len(), 2, "the program, then the memfd");
    assert!(!execs[0].1.exe_from_memfd);
    assert!(
        execs[1].1.exe_from_memfd,
        "{:?}",
        String::from_utf8_lossy(&execs[1].1.exepath)
    );
    assert_eq!(execs[1].1.argv, vec![b"payload".to_vec()]);
    assert!(t.syscalls("memfd_create").any(|(_, s)| s.ret >= 0));
    assert!(t.syscalls("prctl").any(|(_, s)| matches!(
        param(s, 1),
        Some(trace_format::model::Value::Str(n)) if n == b"renamed-proc"
    )));
}
