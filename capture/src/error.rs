//! Errors of the capture library.
//!
//! A tracee that vanished under us (`ESRCH` from ptrace, a process that was
//! SIGKILLed between two stops) is its own kind, [`CaptureError::TraceeDied`]:
//! the tracer treats it as "this thread is gone, its exit status will follow
//! from wait(2)", never as a crash.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// Everything that can go wrong while capturing.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The thread no longer exists (ESRCH): it exited or was killed.
    #[error("tracee {pid} died")]
    TraceeDied { pid: i32 },

    /// `PTRACE_SEIZE` was refused.
    #[error(
        "ptrace is not permitted on pid {pid}: the `SYS_PTRACE` capability must be added \
         (Docker: `--cap-add SYS_PTRACE`; ECS: `linuxParameters.capabilities.add: [\"SYS_PTRACE\"]`; \
         Kubernetes: `securityContext.capabilities.add: [\"SYS_PTRACE\"]`), and \
         `kernel.yama.ptrace_scope` must allow it (0, or 1 for descendants; see /proc/sys/kernel/yama/ptrace_scope)"
    )]
    PtraceNotPermitted { pid: i32 },

    /// The command to launch does not exist.
    #[error("`{cmd}`: command not found")]
    CommandNotFound { cmd: String },

    /// The command exists but cannot be executed.
    #[error("`{cmd}`: cannot execute")]
    CommandNotExecutable {
        cmd: String,
        #[source]
        source: io::Error,
    },

    /// `--pid` names no process.
    #[error("no such process: {pid}")]
    NoSuchProcess { pid: i32 },

    /// A ptrace or wait request failed for another reason.
    #[error("{op} on pid {pid}: {errno}")]
    Ptrace {
        op: &'static str,
        pid: i32,
        errno: Errno,
    },

    /// The trace file cannot be created.
    #[error("output `{}` is not writable", path.display())]
    OutputNotWritable { path: PathBuf, source: io::Error },

    /// `-o` names something other than a regular file (a FIFO, socket or
    /// device), which capture would replace.
    #[error(
        "output `{}` is not a regular file: capture writes its trace beside it and renames it into place, which would replace it; give a file path",
        trace_format::escape::escape_os(path)
    )]
    OutputNotRegular { path: PathBuf },

    /// The trace writer failed.
    #[error("trace writer")]
    Writer(#[from] trace_format::error::WriteError),

    /// The writer thread is gone (it stopped, panicked, or was closed).
    #[error("the trace writer thread {0}")]
    WriterGone(&'static str),

    /// `--syscalls`: the seccomp filter could not be built or installed.
    #[error("--syscalls (`--syscalls all` records without a filter)")]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// Shipping to S3 cannot be set up (bad URL, client configuration).
    #[error("--s3")]
    Ship(#[source] sysrec_s3::S3Error),

    /// `--rules`: the rules do not load (every diagnostic, with file,
    /// line and column).
    #[error(transparent)]
    Rules(#[from] replay::rules::LoadError),

    /// `--alerts https://...`: no TLS configuration (`--alerts-ca`, no
    /// trusted certificate).
    #[error(transparent)]
    AlertsTls(#[from] crate::alerts::tls::TlsError),

    /// Any other I/O error, with what was being done.
    #[error("{what}")]
    Io { what: String, source: io::Error },
}

impl CaptureError {
    /// Maps a failed ptrace request: `ESRCH` means the tracee died.
    pub fn ptrace(op: &'static str, pid: i32, errno: Errno) -> CaptureError {
        match errno {
            Errno::ESRCH => CaptureError::TraceeDied { pid },
            Errno::EPERM if op == "PTRACE_SEIZE" => CaptureError::PtraceNotPermitted { pid },
            errno => CaptureError::Ptrace { op, pid, errno },
        }
    }

    /// True for [`CaptureError::TraceeDied`].
    pub fn is_tracee_died(&self) -> bool {
        matches!(self, CaptureError::TraceeDied { .. })
    }
}

/// Result alias of this crate.
pub type Result<T, E = CaptureError> = std::result::Result<T, E>;
