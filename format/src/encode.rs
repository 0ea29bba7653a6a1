//! Model -> FlatBuffers. Empty byte strings and lists are left out of the
//! buffer (a reader sees them absent and decodes them as empty), which keeps
//! chunks small.

use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, UnionWIPOffset, Vector, WIPOffset};

use crate::fb;
use crate::model::*;

pub(crate) type Fbb<'a> = FlatBufferBuilder<'a>;
type Bytes<'a> = WIPOffset<Vector<'a, u8>>;

fn bytes<'a>(fbb: &mut Fbb<'a>, b: &[u8]) -> Option<Bytes<'a>> {
    (!b.is_empty()).then(|| fbb.create_vector(b))
}

fn string<'a>(fbb: &mut Fbb<'a>, s: &str) -> Option<WIPOffset<&'a str>> {
    (!s.is_empty()).then(|| fbb.create_string(s))
}

fn arg_list<'a>(
    fbb: &mut Fbb<'a>,
    items: &[Vec<u8>],
) -> Option<WIPOffset<Vector<'a, ForwardsUOffset<fb::Arg<'a>>>>> {
    if items.is_empty() {
        return None;
    }
    let offs: Vec<_> = items
        .iter()
        .map(|i| {
            let value = bytes(fbb, i);
            fb::Arg::create(fbb, &fb::ArgArgs { value })
        })
        .collect();
    Some(fbb.create_vector(&offs))
}

pub(crate) fn event<'a>(fbb: &mut Fbb<'a>, ev: &Event) -> WIPOffset<fb::Event<'a>> {
    let (body_type, body) = event_body(fbb, &ev.body);
    fb::Event::create(
        fbb,
        &fb::EventArgs {
            ts: ev.ts,
            tid: ev.tid,
            pid: ev.pid,
            body_type,
            body: Some(body),
        },
    )
}

/// A version 2 `others` entry: the body alone (ts, tid and pid are in the
/// columns, so left out).
pub(crate) fn other_event<'a>(fbb: &mut Fbb<'a>, body: &EventBody) -> WIPOffset<fb::Event<'a>> {
    let (body_type, body) = event_body(fbb, body);
    fb::Event::create(
        fbb,
        &fb::EventArgs {
            body_type,
            body: Some(body),
            ..fb::EventArgs::default()
        },
    )
}

fn event_body<'a>(
    fbb: &mut Fbb<'a>,
    body: &EventBody,
) -> (fb::EventBody, WIPOffset<UnionWIPOffset>) {
    match body {
        EventBody::Syscall(s) => {
            let args = (!s.args.is_empty()).then(|| fbb.create_vector(&s.args));
            let params = if s.params.is_empty() {
                None
            } else {
                let offs: Vec<_> = s.params.iter().map(|p| param(fbb, p)).collect();
                Some(fbb.create_vector(&offs))
            };
            let o = fb::SyscallEvent::create(
                fbb,
                &fb::SyscallEventArgs {
                    id: s.id,
                    args,
                    ret: s.ret,
                    duration_ns: s.duration_ns,
                    params,
                    no_return: s.no_return,
                },
            );
            (fb::EventBody::SyscallEvent, o.as_union_value())
        }
        EventBody::ProcessStart(p) => {
            let o = fb::ProcessStart::create(
                fbb,
                &fb::ProcessStartArgs {
                    parent_tid: p.parent_tid,
                    child_pid: p.child_pid,
                    child_tid: p.child_tid,
                    clone_flags: p.clone_flags,
                },
            );
            (fb::EventBody::ProcessStart, o.as_union_value())
        }
        EventBody::Exec(e) => {
            let raw = bytes(fbb, &e.filename_raw);
            let resolved = bytes(fbb, &e.filename_resolved);
            let filename = Some(fb::PathValue::create(
                fbb,
                &fb::PathValueArgs { raw, resolved },
            ));
            let argv = arg_list(fbb, &e.argv);
            let env = arg_list(fbb, &e.env);
            let exepath = bytes(fbb, &e.exepath);
            let comm = bytes(fbb, &e.comm);
            let o = fb::Exec::create(
                fbb,
                &fb::ExecArgs {
                    old_tid: e.old_tid,
                    filename,
                    argv,
                    env,
                    exepath,
                    comm,
                    exe_from_memfd: e.exe_from_memfd,
                    uid: e.uid,
                    euid: e.euid,
                    gid: e.gid,
                    egid: e.egid,
                    cap_permitted: e.cap_permitted,
                    cap_effective: e.cap_effective,
                    exe_flags: e.exe_flags,
                },
            );
            (fb::EventBody::Exec, o.as_union_value())
        }
        EventBody::ThreadExit(t) => {
            let o = fb::ThreadExit::create(
                fbb,
                &fb::ThreadExitArgs {
                    status: t.status,
                    process_exit: t.process_exit,
                },
            );
            (fb::EventBody::ThreadExit, o.as_union_value())
        }
        EventBody::Signal(s) => {
            let o = fb::SignalEvent::create(
                fbb,
                &fb::SignalEventArgs {
                    signo: s.signo,
                    code: s.code,
                    sender_pid: s.sender_pid,
                    sender_uid: s.sender_uid,
                    action: match s.action {
                        SignalAction::Delivered => fb::SignalAction::Delivered,
                        SignalAction::Stopped => fb::SignalAction::Stopped,
                        SignalAction::Forwarded => fb::SignalAction::Forwarded,
                    },
                },
            );
            (fb::EventBody::SignalEvent, o.as_union_value())
        }
        EventBody::Marker(m) => {
            let message = string(fbb, &m.message);
            let o = fb::Marker::create(
                fbb,
                &fb::MarkerArgs {
                    kind: marker_kind(m.kind),
                    count: m.count,
                    message,
                },
            );
            (fb::EventBody::Marker, o.as_union_value())
        }
    }
}

fn marker_kind(k: MarkerKind) -> fb::MarkerKind {
    match k {
        MarkerKind::CaptureStart => fb::MarkerKind::CaptureStart,
        MarkerKind::CaptureStop => fb::MarkerKind::CaptureStop,
        MarkerKind::Gap => fb::MarkerKind::Gap,
        MarkerKind::TracerError => fb::MarkerKind::TracerError,
        MarkerKind::Attach => fb::MarkerKind::Attach,
        MarkerKind::Detach => fb::MarkerKind::Detach,
        MarkerKind::Denied => fb::MarkerKind::Denied,
    }
}

fn param<'a>(fbb: &mut Fbb<'a>, p: &Param) -> WIPOffset<fb::Param<'a>> {
    let (value_type, value) = value(fbb, &p.value);
    fb::Param::create(
        fbb,
        &fb::ParamArgs {
            index: p.index,
            value_type,
            value: Some(value),
        },
    )
}

fn value<'a>(fbb: &mut Fbb<'a>, v: &Value) -> (fb::Value, WIPOffset<UnionWIPOffset>) {
    match v {
        Value::Int(value) => {
            let o = fb::IntValue::create(fbb, &fb::IntValueArgs { value: *value });
            (fb::Value::IntValue, o.as_union_value())
        }
        Value::Flags(value) => {
            let o = fb::FlagsValue::create(fbb, &fb::FlagsValueArgs { value: *value });
            (fb::Value::FlagsValue, o.as_union_value())
        }
        Value::Path { raw, resolved } => {
            let raw = bytes(fbb, raw);
            let resolved = bytes(fbb, resolved);
            let o = fb::PathValue::create(fbb, &fb::PathValueArgs { raw, resolved });
            (fb::Value::PathValue, o.as_union_value())
        }
        Value::Str(s) => {
            let value = bytes(fbb, s);
            let o = fb::StrValue::create(fbb, &fb::StrValueArgs { value });
            (fb::Value::StrValue, o.as_union_value())
        }
        Value::Bytes { data, len } => {
            let data = bytes(fbb, data);
            let o = fb::BytesValue::create(fbb, &fb::BytesValueArgs { data, len: *len });
            (fb::Value::BytesValue, o.as_union_value())
        }
        Value::StrList { items, truncated } => {
            let items = arg_list(fbb, items);
            let o = fb::StrListValue::create(
                fbb,
                &fb::StrListValueArgs {
                    items,
                    truncated: *truncated,
                },
            );
            (fb::Value::StrListValue, o.as_union_value())
        }
        Value::SockAddr(s) => {
            let addr = bytes(fbb, &s.addr);
            let path = bytes(fbb, &s.path);
            let raw = bytes(fbb, &s.raw);
            let o = fb::SockAddrValue::create(
                fbb,
                &fb::SockAddrValueArgs {
                    family: s.family,
                    addr,
                    port: s.port,
                    path,
                    raw,
                },
            );
            (fb::Value::SockAddrValue, o.as_union_value())
        }
        Value::FdPair(fd0, fd1) => {
            let o = fb::FdPairValue::create(
                fbb,
                &fb::FdPairValueArgs {
                    fd0: *fd0,
                    fd1: *fd1,
                },
            );
            (fb::Value::FdPairValue, o.as_union_value())
        }
        Value::OpenHow {
            flags,
            mode,
            resolve,
        } => {
            let o = fb::OpenHowValue::create(
                fbb,
                &fb::OpenHowValueArgs {
                    flags: *flags,
                    mode: *mode,
                    resolve: *resolve,
                },
            );
            (fb::Value::OpenHowValue, o.as_union_value())
        }
        Value::CloneArgs(c) => {
            let o = fb::CloneArgsValue::create(
                fbb,
                &fb::CloneArgsValueArgs {
                    flags: c.flags,
                    exit_signal: c.exit_signal,
                    stack: c.stack,
                    tls: c.tls,
                    set_tid_size: c.set_tid_size,
                    cgroup: c.cgroup,
                },
            );
            (fb::Value::CloneArgsValue, o.as_union_value())
        }
        Value::Fault(address) => {
            let o = fb::FaultValue::create(fbb, &fb::FaultValueArgs { address: *address });
            (fb::Value::FaultValue, o.as_union_value())
        }
    }
}

pub(crate) fn meta<'a>(fbb: &mut Fbb<'a>, m: &TraceMeta) -> WIPOffset<fb::TraceMeta<'a>> {
    let trace_id = Some(fbb.create_vector(&m.trace_id));
    let hostname = string(fbb, &m.hostname);
    let kernel_release = string(fbb, &m.kernel_release);
    let kernel_version = string(fbb, &m.kernel_version);
    let arch = string(fbb, &m.arch);
    let boot_id = string(fbb, &m.boot_id);
    let tool_version = string(fbb, &m.tool_version);
    let command_line = (!m.command_line.is_empty()).then(|| {
        let offs: Vec<_> = m
            .command_line
            .iter()
            .map(|s| fbb.create_string(s))
            .collect();
        fbb.create_vector(&offs)
    });
    let container_id = string(fbb, &m.container_id);
    let ecs = m.ecs.as_ref().map(|e| {
        let args = fb::EcsArgs {
            task_arn: string(fbb, &e.task_arn),
            cluster: string(fbb, &e.cluster),
            container_name: string(fbb, &e.container_name),
            image: string(fbb, &e.image),
            image_digest: string(fbb, &e.image_digest),
            availability_zone: string(fbb, &e.availability_zone),
            launch_type: string(fbb, &e.launch_type),
            task_family: string(fbb, &e.task_family),
            task_revision: string(fbb, &e.task_revision),
            docker_id: string(fbb, &e.docker_id),
            labels: labels(fbb, &e.labels),
        };
        fb::Ecs::create(fbb, &args)
    });
    let users = (!m.users.is_empty()).then(|| {
        let offs: Vec<_> = m
            .users
            .iter()
            .map(|u| {
                let args = fb::UserArgs {
                    uid: u.uid,
                    gid: u.gid,
                    name: bytes(fbb, &u.name),
                    home: bytes(fbb, &u.home),
                    shell: bytes(fbb, &u.shell),
                };
                fb::User::create(fbb, &args)
            })
            .collect();
        fbb.create_vector(&offs)
    });
    let groups = (!m.groups.is_empty()).then(|| {
        let offs: Vec<_> = m
            .groups
            .iter()
            .map(|g| {
                let name = bytes(fbb, &g.name);
                fb::Group::create(fbb, &fb::GroupArgs { gid: g.gid, name })
            })
            .collect();
        fbb.create_vector(&offs)
    });
    let syscall_set = string(fbb, &m.syscall_set);
    let syscall_arch = string(fbb, &m.syscall_arch);
    let unrecorded_io = (!m.unrecorded_io.is_empty()).then(|| {
        let offs: Vec<_> = m
            .unrecorded_io
            .iter()
            .map(|u| fbb.create_string(u))
            .collect();
        fbb.create_vector(&offs)
    });
    let container_id_source = string(fbb, &m.container_id_source);
    let kubernetes = m.kubernetes.as_ref().map(|k| {
        let args = fb::KubernetesArgs {
            namespace: string(fbb, &k.namespace),
            pod_name: string(fbb, &k.pod_name),
            pod_uid: string(fbb, &k.pod_uid),
            labels: labels(fbb, &k.labels),
        };
        fb::Kubernetes::create(fbb, &args)
    });
    let container_mounts = (!m.container_mounts.is_empty()).then(|| {
        let offs: Vec<_> = m
            .container_mounts
            .iter()
            .map(|c| {
                let args = fb::ContainerMountArgs {
                    source: string(fbb, &c.source),
                    dest: string(fbb, &c.dest),
                    mode: string(fbb, &c.mode),
                    rdwr: c.rdwr,
                    propagation: string(fbb, &c.propagation),
                };
                fb::ContainerMount::create(fbb, &args)
            })
            .collect();
        fbb.create_vector(&offs)
    });
    fb::TraceMeta::create(
        fbb,
        &fb::TraceMetaArgs {
            trace_id,
            hostname,
            kernel_release,
            kernel_version,
            arch,
            boot_id,
            tool_version,
            command_line,
            container_id,
            ecs,
            users,
            groups,
            start_wall_ns: m.start_wall_ns,
            snaplen: m.snaplen,
            syscall_set,
            syscall_arch,
            unrecorded_io,
            container_id_source,
            kubernetes,
            container_cap_effective: m.container_cap_effective,
            container_privileged: m.container_privileged,
            container_mounts,
        },
    )
}

fn labels<'a>(
    fbb: &mut Fbb<'a>,
    l: &[crate::model::Label],
) -> Option<WIPOffset<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<fb::Label<'a>>>>> {
    (!l.is_empty()).then(|| {
        let offs: Vec<_> = l
            .iter()
            .map(|l| {
                let args = fb::LabelArgs {
                    key: string(fbb, &l.key),
                    value: string(fbb, &l.value),
                };
                fb::Label::create(fbb, &args)
            })
            .collect();
        fbb.create_vector(&offs)
    })
}

pub(crate) fn snapshot<'a>(fbb: &mut Fbb<'a>, s: &Snapshot) -> WIPOffset<fb::Snapshot<'a>> {
    let processes = (!s.processes.is_empty()).then(|| {
        let offs: Vec<_> = s.processes.iter().map(|p| process(fbb, p)).collect();
        fbb.create_vector(&offs)
    });
    fb::Snapshot::create(fbb, &fb::SnapshotArgs { processes })
}

fn process<'a>(fbb: &mut Fbb<'a>, p: &Process) -> WIPOffset<fb::Process<'a>> {
    let threads = (!p.threads.is_empty()).then(|| {
        let offs: Vec<_> = p
            .threads
            .iter()
            .map(|t| {
                let comm = bytes(fbb, &t.comm);
                fb::Thread::create(fbb, &fb::ThreadArgs { tid: t.tid, comm })
            })
            .collect();
        fbb.create_vector(&offs)
    });
    let fds = (!p.fds.is_empty()).then(|| {
        let offs: Vec<_> = p.fds.iter().map(|f| fd(fbb, f)).collect();
        fbb.create_vector(&offs)
    });
    let args = fb::ProcessArgs {
        pid: p.pid,
        ppid: p.ppid,
        vpid: p.vpid,
        pgid: p.pgid,
        sid: p.sid,
        threads,
        comm: bytes(fbb, &p.comm),
        exe: bytes(fbb, &p.exe),
        exepath: bytes(fbb, &p.exepath),
        argv: arg_list(fbb, &p.argv),
        cwd: bytes(fbb, &p.cwd),
        env: arg_list(fbb, &p.env),
        uid: p.uid,
        euid: p.euid,
        suid: p.suid,
        fsuid: p.fsuid,
        gid: p.gid,
        egid: p.egid,
        sgid: p.sgid,
        fsgid: p.fsgid,
        loginuid: p.loginuid,
        cap_inheritable: p.cap_inheritable,
        cap_permitted: p.cap_permitted,
        cap_effective: p.cap_effective,
        tty: p.tty,
        start_wall_ns: p.start_wall_ns,
        exec_wall_ns: p.exec_wall_ns,
        exe_from_memfd: p.exe_from_memfd,
        container_id: string(fbb, &p.container_id),
        fds,
        exited: p.exited,
        exe_flags: p.exe_flags,
    };
    fb::Process::create(fbb, &args)
}

fn fd<'a>(fbb: &mut Fbb<'a>, f: &Fd) -> WIPOffset<fb::Fd<'a>> {
    let path = bytes(fbb, &f.path);
    let socket = f.socket.as_ref().map(|s| {
        let args = fb::SocketInfoArgs {
            family: s.family,
            type_: s.sock_type,
            protocol: s.protocol,
            local_addr: bytes(fbb, &s.local_addr),
            local_port: s.local_port,
            remote_addr: bytes(fbb, &s.remote_addr),
            remote_port: s.remote_port,
            path: bytes(fbb, &s.path),
            listening: s.listening,
            accepted: s.accepted,
        };
        fb::SocketInfo::create(fbb, &args)
    });
    fb::Fd::create(
        fbb,
        &fb::FdArgs {
            num: f.num,
            kind: fd_kind(f.kind),
            path,
            flags: f.flags,
            socket,
            dev: f.dev,
            ino: f.ino,
        },
    )
}

fn fd_kind(k: FdKind) -> fb::FdKind {
    match k {
        FdKind::Unknown => fb::FdKind::Unknown,
        FdKind::File => fb::FdKind::File,
        FdKind::Directory => fb::FdKind::Directory,
        FdKind::Ipv4Socket => fb::FdKind::Ipv4Socket,
        FdKind::Ipv6Socket => fb::FdKind::Ipv6Socket,
        FdKind::UnixSocket => fb::FdKind::UnixSocket,
        FdKind::NetlinkSocket => fb::FdKind::NetlinkSocket,
        FdKind::OtherSocket => fb::FdKind::OtherSocket,
        FdKind::Pipe => fb::FdKind::Pipe,
        FdKind::EventFd => fb::FdKind::EventFd,
        FdKind::SignalFd => fb::FdKind::SignalFd,
        FdKind::TimerFd => fb::FdKind::TimerFd,
        FdKind::Epoll => fb::FdKind::Epoll,
        FdKind::Inotify => fb::FdKind::Inotify,
        FdKind::Memfd => fb::FdKind::Memfd,
        FdKind::PidFd => fb::FdKind::PidFd,
        FdKind::AnonInode => fb::FdKind::AnonInode,
        FdKind::CharDevice => fb::FdKind::CharDevice,
        FdKind::BlockDevice => fb::FdKind::BlockDevice,
        FdKind::Fifo => fb::FdKind::Fifo,
    }
}
