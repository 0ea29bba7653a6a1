//! The owned trace model: plain Rust values mirroring `schemas/trace.fbs`.
//!
//! Writers build these and hand them to [`crate::TraceWriter`]; readers get
//! zero-copy FlatBuffers views from [`crate::Chunk`] and can turn any of them
//! into these types with [`crate::decode`]. Field meanings are documented in
//! the schema; this file only repeats what the Rust types add.
//!
//! Byte strings from the traced system (paths, argv, comm) are `Vec<u8>`:
//! Linux paths need not be UTF-8.

/// `Param::index` values above the six argument registers.
pub mod result_index {
    /// The buffer a read-like syscall filled (read, pread64, readv, recvfrom,
    /// recvmsg, getdents64, readlink, ...), up to the snaplen.
    pub const BUFFER_OUT: u8 = 16;
    /// The peer address returned through memory (accept, accept4, recvfrom,
    /// recvmsg, getpeername, getsockname); for connect, the peer as the
    /// kernel reported it after the call (a `.scap` tuple read by replay;
    /// capture does not record it).
    pub const SOCKADDR_OUT: u8 = 17;
    /// What the fd argument referred to when the syscall ran, as the tracer's
    /// fd table knew it (a path, or a socket's endpoints as text).
    pub const FD_NAME: u8 = 18;
    /// The pair of fds returned through memory (pipe, pipe2, socketpair).
    pub const FD_PAIR: u8 = 19;
    /// A second resolved path for syscalls with two (rename, link, symlink
    /// target): index of the second path argument is kept in `Param::index`,
    /// this is only used for values no argument register holds.
    pub const EXTRA: u8 = 20;
    /// What the second fd argument referred to (`copy_file_range`'s
    /// `fdout`, `sendfile`'s `in_fd`, `splice`'s `fd_out`, `epoll_ctl`'s
    /// `fd`), like [`FD_NAME`] for the first; not for `dup2`/`dup3`, whose
    /// second fd is the one being replaced.
    pub const FD2_NAME: u8 = 21;
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// CLOCK_MONOTONIC ns.
    pub ts: u64,
    pub tid: i32,
    pub pid: i32,
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventBody {
    Syscall(SyscallEvent),
    ProcessStart(ProcessStart),
    Exec(Exec),
    ThreadExit(ThreadExit),
    Signal(SignalEvent),
    Marker(Marker),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyscallEvent {
    /// Canonical syscall id (see [`crate::syscalls`]).
    pub id: u16,
    pub args: Vec<u64>,
    pub ret: i64,
    pub duration_ns: u32,
    pub params: Vec<Param>,
    /// No return observed (did not return, or recorded from its entry stop
    /// alone): `ret` is meaningless, the result unknown.
    pub no_return: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub index: u8,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Flags(u64),
    Path {
        raw: Vec<u8>,
        resolved: Vec<u8>,
    },
    Str(Vec<u8>),
    Bytes {
        data: Vec<u8>,
        len: u64,
    },
    StrList {
        items: Vec<Vec<u8>>,
        truncated: bool,
    },
    SockAddr(SockAddr),
    FdPair(i32, i32),
    OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    },
    CloneArgs(CloneArgs),
    Fault(u64),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SockAddr {
    pub family: u16,
    pub addr: Vec<u8>,
    pub port: u16,
    pub path: Vec<u8>,
    pub raw: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloneArgs {
    pub flags: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub tls: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessStart {
    pub parent_tid: i32,
    pub child_pid: i32,
    pub child_tid: i32,
    pub clone_flags: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exec {
    pub old_tid: i32,
    /// The filename argument: as given, and resolved.
    pub filename_raw: Vec<u8>,
    pub filename_resolved: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    pub exepath: Vec<u8>,
    pub comm: Vec<u8>,
    pub exe_from_memfd: bool,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// Falco's exe flags, [`exe_flags`] bits.
    pub exe_flags: u32,
}

/// Falco's `PPM_EXE_*` bits of execve's `flags` (`Exec.exe_flags`).
pub mod exe_flags {
    pub const WRITABLE: u32 = 1;
    pub const UPPER_LAYER: u32 = 2;
    pub const FROM_MEMFD: u32 = 4;
    pub const LOWER_LAYER: u32 = 8;
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadExit {
    /// wait(2) status of the process when `process_exit`.
    pub status: i32,
    pub process_exit: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignalAction {
    #[default]
    Delivered,
    Stopped,
    Forwarded,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalEvent {
    pub signo: i32,
    pub code: i32,
    pub sender_pid: i32,
    pub sender_uid: u32,
    pub action: SignalAction,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MarkerKind {
    #[default]
    CaptureStart,
    CaptureStop,
    Gap,
    TracerError,
    Attach,
    Detach,
    /// capture denied a syscall (`count`: its canonical id).
    Denied,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marker {
    pub kind: MarkerKind,
    pub count: u64,
    pub message: String,
}

// ---------------------------------------------------------------------------
// State snapshot.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FdKind {
    #[default]
    Unknown,
    File,
    Directory,
    Ipv4Socket,
    Ipv6Socket,
    UnixSocket,
    NetlinkSocket,
    OtherSocket,
    Pipe,
    EventFd,
    SignalFd,
    TimerFd,
    Epoll,
    Inotify,
    Memfd,
    PidFd,
    AnonInode,
    CharDevice,
    BlockDevice,
    Fifo,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketInfo {
    pub family: u16,
    pub sock_type: u16,
    pub protocol: u16,
    pub local_addr: Vec<u8>,
    pub local_port: u16,
    pub remote_addr: Vec<u8>,
    pub remote_port: u16,
    pub path: Vec<u8>,
    pub listening: bool,
    /// Returned by accept(2): the remote end is the client.
    pub accepted: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fd {
    pub num: i32,
    pub kind: FdKind,
    pub path: Vec<u8>,
    pub flags: u32,
    pub socket: Option<SocketInfo>,
    pub dev: u64,
    pub ino: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Thread {
    pub tid: i32,
    pub comm: Vec<u8>,
}

/// `loginuid` of a process that never logged in (`(uid_t)-1`).
pub const NO_LOGINUID: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub vpid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub threads: Vec<Thread>,
    pub comm: Vec<u8>,
    pub exe: Vec<u8>,
    pub exepath: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub env: Vec<Vec<u8>>,
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub loginuid: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub tty: u32,
    pub start_wall_ns: u64,
    pub exec_wall_ns: u64,
    pub exe_from_memfd: bool,
    pub container_id: String,
    pub fds: Vec<Fd>,
    pub exited: bool,
    pub exe_flags: u32,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            pid: 0,
            ppid: 0,
            vpid: 0,
            pgid: 0,
            sid: 0,
            threads: Vec::new(),
            comm: Vec::new(),
            exe: Vec::new(),
            exepath: Vec::new(),
            argv: Vec::new(),
            cwd: Vec::new(),
            env: Vec::new(),
            uid: 0,
            euid: 0,
            suid: 0,
            fsuid: 0,
            gid: 0,
            egid: 0,
            sgid: 0,
            fsgid: 0,
            loginuid: NO_LOGINUID,
            cap_inheritable: 0,
            cap_permitted: 0,
            cap_effective: 0,
            tty: 0,
            start_wall_ns: 0,
            exec_wall_ns: 0,
            exe_from_memfd: false,
            container_id: String::new(),
            fds: Vec::new(),
            exited: false,
            exe_flags: 0,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub processes: Vec<Process>,
}

// ---------------------------------------------------------------------------
// Metadata.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub name: Vec<u8>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub gid: u32,
    pub name: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ecs {
    pub task_arn: String,
    pub cluster: String,
    pub container_name: String,
    pub image: String,
    pub image_digest: String,
    pub availability_zone: String,
    pub launch_type: String,
    pub task_family: String,
    pub task_revision: String,
    pub docker_id: String,
    pub labels: Vec<Label>,
}

/// A key and its value (container and pod labels).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// Kubernetes pod context, as seen from inside the pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kubernetes {
    pub namespace: String,
    pub pod_name: String,
    pub pod_uid: String,
    pub labels: Vec<Label>,
}

/// A bind mount of the container, from `/proc/self/mountinfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerMount {
    pub source: String,
    pub dest: String,
    pub mode: String,
    pub rdwr: bool,
    pub propagation: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceMeta {
    /// Filled in by the writer when left zero.
    pub trace_id: [u8; 16],
    pub hostname: String,
    pub kernel_release: String,
    pub kernel_version: String,
    pub arch: String,
    pub boot_id: String,
    pub tool_version: String,
    pub command_line: Vec<String>,
    pub container_id: String,
    pub ecs: Option<Ecs>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub start_wall_ns: u64,
    pub snaplen: u32,
    pub syscall_set: String,
    pub syscall_arch: String,
    /// Unrecorded data paths the workload was allowed (`--allow-io-uring`).
    pub unrecorded_io: Vec<String>,
    /// Which source decided `container_id` (`override`, `cgroup`,
    /// `mountinfo`, `ecs`); empty when none did.
    pub container_id_source: String,
    pub kubernetes: Option<Kubernetes>,
    pub container_cap_effective: u64,
    pub container_privileged: bool,
    pub container_mounts: Vec<ContainerMount>,
}
