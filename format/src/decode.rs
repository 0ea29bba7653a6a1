//! FlatBuffers -> model, for readers that want owned values (tests, tools).
//! Hot paths (replay) read the FlatBuffers views directly instead.
//!
//! Forward compatibility: an event body or parameter value of a union member
//! this version does not know (written by a newer writer) decodes as `None`
//! and is skipped; unknown enum values decode as the enum's default.

use flatbuffers::{ForwardsUOffset, Vector};

use crate::fb;
use crate::model::*;

fn b(v: Option<Vector<'_, u8>>) -> Vec<u8> {
    v.map(|v| v.bytes().to_vec()).unwrap_or_default()
}

fn labels(v: Option<Vector<'_, ForwardsUOffset<fb::Label<'_>>>>) -> Vec<Label> {
    v.map(|v| {
        v.iter()
            .map(|l| Label {
                key: s(l.key()),
                value: s(l.value()),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn s(v: Option<&str>) -> String {
    v.unwrap_or_default().to_string()
}

fn list(v: Option<Vector<'_, ForwardsUOffset<fb::Arg<'_>>>>) -> Vec<Vec<u8>> {
    v.map(|v| v.iter().map(|a| b(a.value())).collect())
        .unwrap_or_default()
}

/// The event, or `None` if its body is of a kind this version does not know.
pub fn event(e: fb::Event<'_>) -> Option<Event> {
    Some(Event {
        ts: e.ts(),
        tid: e.tid(),
        pid: e.pid(),
        body: event_body(e)?,
    })
}

pub(crate) fn event_body(e: fb::Event<'_>) -> Option<EventBody> {
    Some(match e.body_type() {
        fb::EventBody::SyscallEvent => {
            let s = e.body_as_syscall_event()?;
            EventBody::Syscall(SyscallEvent {
                id: s.id(),
                args: s.args().map(|a| a.iter().collect()).unwrap_or_default(),
                ret: s.ret(),
                duration_ns: s.duration_ns(),
                params: s
                    .params()
                    .map(|ps| ps.iter().filter_map(param).collect())
                    .unwrap_or_default(),
                no_return: s.no_return(),
            })
        }
        fb::EventBody::ProcessStart => {
            let p = e.body_as_process_start()?;
            EventBody::ProcessStart(ProcessStart {
                parent_tid: p.parent_tid(),
                child_pid: p.child_pid(),
                child_tid: p.child_tid(),
                clone_flags: p.clone_flags(),
            })
        }
        fb::EventBody::Exec => {
            let x = e.body_as_exec()?;
            let (filename_raw, filename_resolved) = x
                .filename()
                .map(|f| (b(f.raw()), b(f.resolved())))
                .unwrap_or_default();
            EventBody::Exec(Exec {
                old_tid: x.old_tid(),
                filename_raw,
                filename_resolved,
                argv: list(x.argv()),
                env: list(x.env()),
                exepath: b(x.exepath()),
                comm: b(x.comm()),
                exe_from_memfd: x.exe_from_memfd(),
                uid: x.uid(),
                euid: x.euid(),
                gid: x.gid(),
                egid: x.egid(),
                cap_permitted: x.cap_permitted(),
                cap_effective: x.cap_effective(),
                exe_flags: x.exe_flags(),
            })
        }
        fb::EventBody::ThreadExit => {
            let t = e.body_as_thread_exit()?;
            EventBody::ThreadExit(ThreadExit {
                status: t.status(),
                process_exit: t.process_exit(),
            })
        }
        fb::EventBody::SignalEvent => {
            let x = e.body_as_signal_event()?;
            EventBody::Signal(SignalEvent {
                signo: x.signo(),
                code: x.code(),
                sender_pid: x.sender_pid(),
                sender_uid: x.sender_uid(),
                action: match x.action() {
                    fb::SignalAction::Stopped => SignalAction::Stopped,
                    fb::SignalAction::Forwarded => SignalAction::Forwarded,
                    _ => SignalAction::Delivered,
                },
            })
        }
        fb::EventBody::Marker => {
            let m = e.body_as_marker()?;
            EventBody::Marker(Marker {
                kind: marker_kind(m.kind()),
                count: m.count(),
                message: s(m.message()),
            })
        }
        _ => return None,
    })
}

/// The model value of a marker kind (unknown kinds: `TracerError`).
pub fn marker_kind(k: fb::MarkerKind) -> MarkerKind {
    match k {
        fb::MarkerKind::CaptureStart => MarkerKind::CaptureStart,
        fb::MarkerKind::CaptureStop => MarkerKind::CaptureStop,
        fb::MarkerKind::Gap => MarkerKind::Gap,
        fb::MarkerKind::Attach => MarkerKind::Attach,
        fb::MarkerKind::Detach => MarkerKind::Detach,
        fb::MarkerKind::Denied => MarkerKind::Denied,
        _ => MarkerKind::TracerError,
    }
}

/// The parameter, or `None` if its value is of a kind this version does not
/// know.
pub fn param(p: fb::Param<'_>) -> Option<Param> {
    Some(Param {
        index: p.index(),
        value: value(p)?,
    })
}

fn value(p: fb::Param<'_>) -> Option<Value> {
    Some(match p.value_type() {
        fb::Value::IntValue => Value::Int(p.value_as_int_value()?.value()),
        fb::Value::FlagsValue => Value::Flags(p.value_as_flags_value()?.value()),
        fb::Value::PathValue => {
            let v = p.value_as_path_value()?;
            Value::Path {
                raw: b(v.raw()),
                resolved: b(v.resolved()),
            }
        }
        fb::Value::StrValue => Value::Str(b(p.value_as_str_value()?.value())),
        fb::Value::BytesValue => {
            let v = p.value_as_bytes_value()?;
            Value::Bytes {
                data: b(v.data()),
                len: v.len(),
            }
        }
        fb::Value::StrListValue => {
            let v = p.value_as_str_list_value()?;
            Value::StrList {
                items: list(v.items()),
                truncated: v.truncated(),
            }
        }
        fb::Value::SockAddrValue => {
            let v = p.value_as_sock_addr_value()?;
            Value::SockAddr(SockAddr {
                family: v.family(),
                addr: b(v.addr()),
                port: v.port(),
                path: b(v.path()),
                raw: b(v.raw()),
            })
        }
        fb::Value::FdPairValue => {
            let v = p.value_as_fd_pair_value()?;
            Value::FdPair(v.fd0(), v.fd1())
        }
        fb::Value::OpenHowValue => {
            let v = p.value_as_open_how_value()?;
            Value::OpenHow {
                flags: v.flags(),
                mode: v.mode(),
                resolve: v.resolve(),
            }
        }
        fb::Value::CloneArgsValue => {
            let v = p.value_as_clone_args_value()?;
            Value::CloneArgs(CloneArgs {
                flags: v.flags(),
                exit_signal: v.exit_signal(),
                stack: v.stack(),
                tls: v.tls(),
                set_tid_size: v.set_tid_size(),
                cgroup: v.cgroup(),
            })
        }
        fb::Value::FaultValue => Value::Fault(p.value_as_fault_value()?.address()),
        _ => return None,
    })
}

/// The trace metadata. A trace id that is not 16 bytes decodes as zeros (the
/// reader rejects such chunks before they get here).
pub fn meta(m: fb::TraceMeta<'_>) -> TraceMeta {
    let mut trace_id = [0u8; 16];
    if let Some(id) = m.trace_id()
        && id.len() == 16
    {
        trace_id.copy_from_slice(id.bytes());
    }
    TraceMeta {
        trace_id,
        hostname: s(m.hostname()),
        kernel_release: s(m.kernel_release()),
        kernel_version: s(m.kernel_version()),
        arch: s(m.arch()),
        boot_id: s(m.boot_id()),
        tool_version: s(m.tool_version()),
        command_line: m
            .command_line()
            .map(|v| v.iter().map(str::to_string).collect())
            .unwrap_or_default(),
        container_id: s(m.container_id()),
        ecs: m.ecs().map(|e| Ecs {
            task_arn: s(e.task_arn()),
            cluster: s(e.cluster()),
            container_name: s(e.container_name()),
            image: s(e.image()),
            image_digest: s(e.image_digest()),
            availability_zone: s(e.availability_zone()),
            launch_type: s(e.launch_type()),
            task_family: s(e.task_family()),
            task_revision: s(e.task_revision()),
            docker_id: s(e.docker_id()),
            labels: labels(e.labels()),
        }),
        users: m
            .users()
            .map(|v| {
                v.iter()
                    .map(|u| User {
                        uid: u.uid(),
                        gid: u.gid(),
                        name: b(u.name()),
                        home: b(u.home()),
                        shell: b(u.shell()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        groups: m
            .groups()
            .map(|v| {
                v.iter()
                    .map(|g| Group {
                        gid: g.gid(),
                        name: b(g.name()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        start_wall_ns: m.start_wall_ns(),
        snaplen: m.snaplen(),
        syscall_set: s(m.syscall_set()),
        syscall_arch: s(m.syscall_arch()),
        unrecorded_io: m
            .unrecorded_io()
            .map(|v| v.iter().map(str::to_string).collect())
            .unwrap_or_default(),
        container_id_source: s(m.container_id_source()),
        kubernetes: m.kubernetes().map(|k| Kubernetes {
            namespace: s(k.namespace()),
            pod_name: s(k.pod_name()),
            pod_uid: s(k.pod_uid()),
            labels: labels(k.labels()),
        }),
        container_cap_effective: m.container_cap_effective(),
        container_privileged: m.container_privileged(),
        container_mounts: m
            .container_mounts()
            .map(|v| {
                v.iter()
                    .map(|c| ContainerMount {
                        source: s(c.source()),
                        dest: s(c.dest()),
                        mode: s(c.mode()),
                        rdwr: c.rdwr(),
                        propagation: s(c.propagation()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub fn snapshot(s: fb::Snapshot<'_>) -> Snapshot {
    Snapshot {
        processes: s
            .processes()
            .map(|v| v.iter().map(process).collect())
            .unwrap_or_default(),
    }
}

pub fn process(p: fb::Process<'_>) -> Process {
    Process {
        pid: p.pid(),
        ppid: p.ppid(),
        vpid: p.vpid(),
        pgid: p.pgid(),
        sid: p.sid(),
        threads: p
            .threads()
            .map(|v| {
                v.iter()
                    .map(|t| Thread {
                        tid: t.tid(),
                        comm: b(t.comm()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        comm: b(p.comm()),
        exe: b(p.exe()),
        exepath: b(p.exepath()),
        argv: list(p.argv()),
        cwd: b(p.cwd()),
        env: list(p.env()),
        uid: p.uid(),
        euid: p.euid(),
        suid: p.suid(),
        fsuid: p.fsuid(),
        gid: p.gid(),
        egid: p.egid(),
        sgid: p.sgid(),
        fsgid: p.fsgid(),
        loginuid: p.loginuid(),
        cap_inheritable: p.cap_inheritable(),
        cap_permitted: p.cap_permitted(),
        cap_effective: p.cap_effective(),
        tty: p.tty(),
        start_wall_ns: p.start_wall_ns(),
        exec_wall_ns: p.exec_wall_ns(),
        exe_from_memfd: p.exe_from_memfd(),
        container_id: s(p.container_id()),
        fds: p
            .fds()
            .map(|v| v.iter().map(fd).collect())
            .unwrap_or_default(),
        exited: p.exited(),
        exe_flags: p.exe_flags(),
    }
}

pub fn fd(f: fb::Fd<'_>) -> Fd {
    Fd {
        num: f.num(),
        kind: fd_kind(f.kind()),
        path: b(f.path()),
        flags: f.flags(),
        socket: f.socket().map(|s| SocketInfo {
            family: s.family(),
            sock_type: s.type_(),
            protocol: s.protocol(),
            local_addr: b(s.local_addr()),
            local_port: s.local_port(),
            remote_addr: b(s.remote_addr()),
            remote_port: s.remote_port(),
            path: b(s.path()),
            listening: s.listening(),
            accepted: s.accepted(),
        }),
        dev: f.dev(),
        ino: f.ino(),
    }
}

/// The model value of an fd kind (unknown kinds: `Unknown`).
pub fn fd_kind(k: fb::FdKind) -> FdKind {
    match k {
        fb::FdKind::File => FdKind::File,
        fb::FdKind::Directory => FdKind::Directory,
        fb::FdKind::Ipv4Socket => FdKind::Ipv4Socket,
        fb::FdKind::Ipv6Socket => FdKind::Ipv6Socket,
        fb::FdKind::UnixSocket => FdKind::UnixSocket,
        fb::FdKind::NetlinkSocket => FdKind::NetlinkSocket,
        fb::FdKind::OtherSocket => FdKind::OtherSocket,
        fb::FdKind::Pipe => FdKind::Pipe,
        fb::FdKind::EventFd => FdKind::EventFd,
        fb::FdKind::SignalFd => FdKind::SignalFd,
        fb::FdKind::TimerFd => FdKind::TimerFd,
        fb::FdKind::Epoll => FdKind::Epoll,
        fb::FdKind::Inotify => FdKind::Inotify,
        fb::FdKind::Memfd => FdKind::Memfd,
        fb::FdKind::PidFd => FdKind::PidFd,
        fb::FdKind::AnonInode => FdKind::AnonInode,
        fb::FdKind::CharDevice => FdKind::CharDevice,
        fb::FdKind::BlockDevice => FdKind::BlockDevice,
        fb::FdKind::Fifo => FdKind::Fifo,
        _ => FdKind::Unknown,
    }
}
