//! Launching the workload under ptrace.
//!
//! fork; the child waits on a "go" pipe; the parent `PTRACE_SEIZE`s it
//! (SEIZE, not TRACEME, so group-stops can be handled with
//! `PTRACE_LISTEN`), interrupts it, resumes it with `PTRACE_SYSCALL` and
//! only then says go: every syscall from the execve on is recorded. The
//! child reports an exec failure through a close-on-exec pipe (EOF means the
//! exec succeeded), so "command not found" becomes exit status 127 with a
//! clear message (126 when it exists but cannot be executed).
//!
//! Between fork and exec the child only makes async-signal-safe calls
//! (everything it needs is prepared before the fork). Its syscalls before
//! the execve (reading the go byte) are capture's, not the workload's: the
//! tracer skips them (`prelude` in `tracer.rs`), so a trace starts with the
//! workload's execve.
//!
//! Exit statuses of the `capture` binary: the workload's (128+N when it
//! died of signal N), 127 when CMD is not found, 126 when it cannot be
//! executed (as shells, `env` and `timeout` do), 125 when capture itself
//! failed (ptrace refused, output not writable, ...), 0 after `--pid`.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{CaptureError, Result};
use crate::ptrace::{self, Stop};
use crate::seccomp::Filter;
use crate::signals;

/// Why the child did not become the workload, as it reported through the
/// error pipe (a tag byte and an errno).
#[derive(Debug)]
pub enum ChildError {
    /// execve failed.
    Exec(std::io::Error),
    /// The seccomp filter could not be installed.
    Seccomp(std::io::Error),
}

const TAG_EXEC: u8 = b'E';
const TAG_SECCOMP: u8 = b'S';

/// A launched, seized workload.
pub struct Launched {
    pub pid: i32,
    go_pipe: OwnedFd,
    err_pipe: OwnedFd,
    filtered: bool,
}

impl Launched {
    /// Lets the stopped child exec: resumes it and writes the go byte.
    /// Without a filter it is resumed with `PTRACE_SYSCALL` (every syscall
    /// stops); with one, with `PTRACE_CONT`: its next stop is the
    /// `PTRACE_EVENT_SECCOMP` of its execve.
    pub fn go(&self) -> Result<()> {
        if self.filtered {
            ptrace::resume_cont(self.pid, 0)?;
        } else {
            ptrace::resume_syscall(self.pid, 0)?;
        }
        // SAFETY: writes one byte from a valid buffer to our pipe.
        unsafe { libc::write(self.go_pipe.as_raw_fd(), b"g".as_ptr().cast(), 1) };
        Ok(())
    }

    /// After the workload's main process exited: the error the child
    /// reported, if it never became the workload.
    pub fn child_error(&self) -> Option<ChildError> {
        let mut b = [0u8; 5];
        // SAFETY: reads into a valid 5-byte buffer from an fd we own.
        let n = unsafe { libc::read(self.err_pipe.as_raw_fd(), b.as_mut_ptr().cast(), 5) };
        if n != 5 {
            return None;
        }
        let e = std::io::Error::from_raw_os_error(i32::from_ne_bytes([b[1], b[2], b[3], b[4]]));
        Some(match b[0] {
            TAG_SECCOMP => ChildError::Seccomp(e),
            _ => ChildError::Exec(e),
        })
    }
}

/// Finds `cmd` like execvp(3) does: as a path if it has a `/`, else in
/// `$PATH`.
pub fn resolve_command(cmd: &OsStr) -> Result<PathBuf> {
    let name = cmd.to_string_lossy().into_owned();
    let runnable = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if cmd.as_bytes().contains(&b'/') {
        let p = PathBuf::from(cmd);
        return match std::fs::metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(CaptureError::CommandNotFound { cmd: name })
            }
            Err(source) => Err(CaptureError::CommandNotExecutable { cmd: name, source }),
            Ok(_) if !runnable(&p) => Err(CaptureError::CommandNotExecutable {
                cmd: name,
                source: std::io::Error::from_raw_os_error(libc::EACCES),
            }),
            Ok(_) => Ok(p),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let p = dir.join(cmd);
        if runnable(&p) {
            return Ok(p);
        }
    }
    Err(CaptureError::CommandNotFound { cmd: name })
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| CaptureError::CommandNotExecutable {
        cmd: s.to_string_lossy().into_owned(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(CaptureError::Io {
            what: "pipe2".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: both fds are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// In the child: writes `tag` and `errno` to the error pipe and exits 127.
/// Async-signal-safe.
fn report_and_exit(fd: i32, tag: u8, errno: i32) -> ! {
    let e = errno.to_ne_bytes();
    let msg = [tag, e[0], e[1], e[2], e[3]];
    // SAFETY: write(2) from a valid buffer, then _exit(2).
    unsafe {
        libc::write(fd, msg.as_ptr().cast(), 5);
        libc::_exit(127)
    }
}

/// Forks a child that will exec `argv` (`argv[0]` found at `exe`) once told
/// to ([`Launched::go`]); returns it seized and in a ptrace-stop. `mask` is
/// the signal mask to restore in the child. With a `filter`, the child
/// installs it after the go byte (so after it was seized: a
/// `SECCOMP_RET_TRACE` without a tracer would fail syscalls with `ENOSYS`)
/// and before the exec.
pub fn launch(
    exe: &Path,
    argv: &[OsString],
    mask: &libc::sigset_t,
    filter: Option<&Filter>,
) -> Result<Launched> {
    let path = cstring(exe.as_os_str())?;
    let args: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<Result<_>>()?;
    let mut argp: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let (go_r, go_w) = pipe()?;
    let (err_r, err_w) = pipe()?;

    // Orphans of the workload are reparented to capture, which reaps them
    // in its wait loop (and when capture is PID 1, it is init anyway).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    // The child inherits capture's forwarding handler until
    // `reset_in_child`: a signal forwarded to it in that window would run
    // the handler in the child and be lost. Blocked across the fork, it
    // stays pending until the child has the default disposition back.
    let dispositions = signals::ChildDispositions::now();
    let _ = signals::block();
    // SAFETY: the child only makes async-signal-safe calls before exec.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        signals::unblock();
    }
    if pid < 0 {
        return Err(CaptureError::Io {
            what: "fork".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        // Child.
        signals::reset_in_child(mask, &dispositions);
        let mut b = [0u8; 1];
        // SAFETY: async-signal-safe syscalls on fds and buffers we own.
        unsafe {
            libc::close(go_w.as_raw_fd());
            loop {
                let n = libc::read(go_r.as_raw_fd(), b.as_mut_ptr().cast(), 1);
                if n == 1 {
                    break;
                }
                if n == 0 || *libc::__errno_location() != libc::EINTR {
                    libc::_exit(127);
                }
            }
            if let Some(f) = filter
                && let Err(errno) = f.install_raw()
            {
                report_and_exit(err_w.as_raw_fd(), TAG_SECCOMP, errno);
            }
            libc::execv(path.as_ptr(), argp.as_ptr());
            report_and_exit(err_w.as_raw_fd(), TAG_EXEC, *libc::__errno_location());
        }
    }
    drop(go_r);
    drop(err_w);
    let fail = |e: CaptureError| {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
        }
        e
    };
    ptrace::seize(pid, ptrace::options(true)).map_err(fail)?;
    ptrace::interrupt(pid).map_err(fail)?;
    loop {
        let status = ptrace::wait_tid(pid).map_err(fail)?;
        match Stop::from_status(status) {
            Stop::Interrupt { .. } | Stop::GroupStop { .. } => break,
            Stop::Exited { .. } | Stop::Killed { .. } => {
                return Err(CaptureError::TraceeDied { pid });
            }
            // Anything else (a signal sent to us early): deliver it.
            Stop::Signal { signal } => ptrace::resume_syscall(pid, signal).map_err(fail)?,
            _ => ptrace::resume_syscall(pid, 0).map_err(fail)?,
        }
    }
    // Make the error pipe non-blocking: it is read once the workload exited.
    // SAFETY: fcntl on an fd we own.
    unsafe { libc::fcntl(err_r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    Ok(Launched {
        pid,
        go_pipe: go_w,
        err_pipe: err_r,
        filtered: filter.is_some(),
    })
}
