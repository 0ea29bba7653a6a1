//! The floor of a ptrace stop on this machine: a tracer that only stops and
//! resumes, recording nothing. Used by `scripts/bench-capture.sh`.
//!
//! ```text
//! bare_tracer [--same-cpu | --pin-tracer | --follow] [--seccomp | --set SPEC] -- CMD [ARGS...]
//! ```
//!
//! - default: `PTRACE_SYSCALL` everywhere, two stops per syscall (entry and
//!   exit), like `strace -f` or `capture --syscalls all`;
//! - `--seccomp`: a filter that traces every syscall (`SECCOMP_RET_TRACE`
//!   for all), `PTRACE_CONT` and then `PTRACE_SYSCALL` for the exit: also
//!   two stops per syscall, via the seccomp path capture uses for sets;
//! - `--set SPEC`: capture's own filter for `--syscalls SPEC`, and its
//!   stops: two for a syscall of the set, one for a syscall capture records
//!   from its entry stop alone (`close` under `falco`), none for the rest;
//!   at a seccomp stop it asks which syscall (`PTRACE_GET_SYSCALL_INFO`),
//!   and reads and records nothing else: the floor of any ptrace recorder
//!   that stops where capture stops;
//! - `--pin-tracer`: only the tracer is pinned (to the CPU it starts on);
//!   the workload keeps every CPU;
//! - `--follow`: only the tracer is pinned, re-pinned every 20 ms to the CPU
//!   the tracee last ran on (`/proc/TID/stat`); tried for capture and
//!   dropped (BENCHMARKS.md);
//! - `--same-cpu`: tracer and tracee pinned to the CPU the tracer runs on,
//!   so every stop and resume is a same-CPU context switch instead of a
//!   cross-CPU wake-up (only fair for single-threaded workloads: it takes
//!   the other CPUs away from the workload).
//!
//! Follows forks and clones, re-injects signals, exits with the workload's
//! status. Not transparent for job control (group-stops are resumed): it is
//! a measuring stick, not a tool.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

const EVENT_SECCOMP: i32 = 7;

fn die(what: &str) -> ! {
    eprintln!("bare_tracer: {what}: {}", std::io::Error::last_os_error());
    std::process::exit(125)
}

fn pin_to(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            die("sched_setaffinity");
        }
    }
}

/// A filter returning `SECCOMP_RET_TRACE` for every syscall.
fn trace_all_filter() -> [libc::sock_filter; 1] {
    [libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0x7ff0_0000,
    }]
}

/// The CPU `tid` last ran on (`/proc/TID/stat` field 39).
fn last_cpu(tid: i32) -> Option<usize> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(36)?.parse().ok()
}

fn main() {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut same_cpu = false;
    let mut pin_tracer = false;
    let mut follow = false;
    let mut seccomp = false;
    let mut spec: Option<String> = None;
    while let Some(a) = args.first() {
        match a.to_str() {
            Some("--same-cpu") => same_cpu = true,
            Some("--seccomp") => seccomp = true,
            Some("--pin-tracer") => pin_tracer = true,
            Some("--follow") => follow = true,
            Some("--set") if args.len() > 1 => {
                seccomp = true;
                spec = Some(args.remove(1).to_string_lossy().into_owned());
            }
            Some("--") => {
                args.remove(0);
                break;
            }
            _ => break,
        }
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!(
            "usage: bare_tracer [--same-cpu | --pin-tracer | --follow] [--seccomp | --set SPEC] -- CMD [ARGS...]"
        );
        std::process::exit(2);
    }
    // SAFETY: plain call.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as usize;
    let all_cpus = {
        // SAFETY: cpu_set_t is plain data filled by sched_getaffinity.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
            set
        }
    };
    if same_cpu || pin_tracer || follow {
        pin_to(cpu);
    }
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_else(|_| die("NUL in argument")))
        .collect();
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // The filter: capture's for `--set`, else one tracing everything.
    let (filter, entry_only) = match &spec {
        Some(spec) => {
            let set = trace_format::syscalls::parse_set(spec)
                .unwrap_or_else(|e| die(&format!("--set {spec}: {e}")));
            let f = capture::seccomp::Filter::new(&set)
                .unwrap_or_else(|e| die(&format!("--set {spec}: {e}")));
            (f.program().to_vec(), capture::stops::entry_only(spec, true))
        }
        None => (
            trace_all_filter().to_vec(),
            trace_format::syscalls::SyscallSet::new(),
        ),
    };
    let fprog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };

    // SAFETY: the child makes only async-signal-safe calls before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        die("fork");
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls; pointers valid until exec.
        unsafe {
            if pin_tracer || follow {
                // Only the tracer is pinned: the workload keeps every CPU.
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &all_cpus);
            }
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
            if seccomp {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if libc::syscall(libc::SYS_seccomp, 1, 0, &fprog as *const libc::sock_fprog) != 0 {
                    libc::_exit(126);
                }
            }
            libc::execvp(argv[0], argv.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waitpid with a valid out pointer.
    unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    let opts = libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_EXITKILL
        | if seccomp {
            libc::PTRACE_O_TRACESECCOMP
        } else {
            0
        };
    // SAFETY: PTRACE_SETOPTIONS on our stopped child.
    if unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, opts as libc::c_long) } != 0 {
        die("PTRACE_SETOPTIONS");
    }
    // Under the filter a thread runs with PTRACE_CONT, except after a
    // seccomp stop, when PTRACE_SYSCALL gets the syscall's exit.
    let mut in_syscall: std::collections::HashSet<i32> = std::collections::HashSet::new();
    let resume = |tid: i32, sig: i32, want_exit: bool| {
        let req = if !seccomp || want_exit {
            libc::PTRACE_SYSCALL
        } else {
            libc::PTRACE_CONT
        };
        // SAFETY: resume requests take no pointers.
        unsafe { libc::ptrace(req, tid, 0, sig as libc::c_long) };
    };
    resume(pid, 0, false);
    let mut main_status = 0;
    let mut pinned = cpu;
    let mut next_check = std::time::Instant::now();
    loop {
        let mut st = 0;
        // SAFETY: waitpid with a valid out pointer.
        let tid = unsafe { libc::waitpid(-1, &mut st, libc::__WALL) };
        if tid < 0 {
            break;
        }
        if libc::WIFEXITED(st) || libc::WIFSIGNALED(st) {
            in_syscall.remove(&tid);
            if tid == pid {
                main_status = st;
            }
            continue;
        }
        if !libc::WIFSTOPPED(st) {
            continue;
        }
        if follow && std::time::Instant::now() >= next_check {
            next_check = std::time::Instant::now() + std::time::Duration::from_millis(20);
            if let Some(c) = last_cpu(tid)
                && c != pinned
            {
                pin_to(c);
                pinned = c;
            }
        }
        let sig = libc::WSTOPSIG(st);
        let ev = (st >> 16) & 0xffff;
        if sig == libc::SIGTRAP | 0x80 {
            // Syscall stop: under the filter, this is the exit.
            in_syscall.remove(&tid);
            resume(tid, 0, false);
        } else if ev == EVENT_SECCOMP {
            // A syscall capture records from its entry stop alone
            // (`--set`) is let run to its end.
            let one_stop = !entry_only.is_empty()
                && match capture::ptrace::syscall_info(tid) {
                    Ok(capture::ptrace::SyscallInfo::Seccomp { arch, nr, .. }) => {
                        capture::arch::canonical_id(arch, nr)
                            .is_some_and(|id| entry_only.contains(id))
                    }
                    _ => false,
                };
            if !one_stop {
                in_syscall.insert(tid);
            }
            resume(tid, 0, !one_stop);
        } else if ev != 0 {
            let pending = in_syscall.contains(&tid);
            resume(tid, 0, pending);
        } else if sig == libc::SIGSTOP || sig == libc::SIGTRAP {
            // A new child's first stop (or an exec SIGTRAP): not a signal
            // for the workload.
            resume(tid, 0, false);
        } else {
            resume(tid, sig, false);
        }
    }
    if libc::WIFEXITED(main_status) {
        std::process::exit(libc::WEXITSTATUS(main_status));
    }
    std::process::exit(128 + libc::WTERMSIG(main_status));
}
