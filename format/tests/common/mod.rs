//! Shared test support: proptest strategies for the trace model and helpers
//! to write and read traces.
#![allow(dead_code)]

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use trace_format::model::*;
use trace_format::{ReadError, TraceReader, TraceWriter, WriterOptions};

pub mod values;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(any::<u8>(), 0..max)
}

fn value() -> impl Strategy<Value = Value> {
    values::value(bytes(40))
}

fn body() -> impl Strategy<Value = EventBody> {
    prop_oneof![
        4 => (any::<u16>(), vec(any::<u64>(), 0..7), any::<i64>(), any::<u32>(),
              vec((any::<u8>(), value()).prop_map(|(index, value)| Param { index, value }), 0..4), any::<bool>())
            .prop_map(|(id, args, ret, duration_ns, params, no_return)| {
                EventBody::Syscall(SyscallEvent { id, args, ret, duration_ns, params, no_return })
            }),
        1 => any::<(i32, i32, i32, u64)>().prop_map(|(parent_tid, child_pid, child_tid, clone_flags)| {
            EventBody::ProcessStart(ProcessStart { parent_tid, child_pid, child_tid, clone_flags })
        }),
        1 => (any::<i32>(), bytes(20), bytes(20), vec(bytes(10), 0..4), vec(bytes(10), 0..3), bytes(20), bytes(15),
              any::<bool>(), any::<[u32; 4]>(), any::<(u64, u64)>())
            .prop_map(|(old_tid, filename_raw, filename_resolved, argv, env, exepath, comm, exe_from_memfd, ids, caps)| {
                EventBody::Exec(Exec {
                    old_tid, filename_raw, filename_resolved, argv, env, exepath, comm, exe_from_memfd,
                    uid: ids[0], euid: ids[1], gid: ids[2], egid: ids[3],
                    cap_permitted: caps.0, cap_effective: caps.1, exe_flags: ids[0] & 15,
                })
            }),
        1 => (any::<i32>(), any::<bool>()).prop_map(|(status, process_exit)| EventBody::ThreadExit(ThreadExit { status, process_exit })),
        1 => (any::<(i32, i32, i32, u32)>(), 0..3u8).prop_map(|((signo, code, sender_pid, sender_uid), a)| {
            let action = [SignalAction::Delivered, SignalAction::Stopped, SignalAction::Forwarded][a as usize];
            EventBody::Signal(SignalEvent { signo, code, sender_pid, sender_uid, action })
        }),
        1 => (0..6u8, any::<u64>(), "[ -~]{0,30}").prop_map(|(k, count, message)| {
            let kind = [MarkerKind::CaptureStart, MarkerKind::CaptureStop, MarkerKind::Gap,
                        MarkerKind::TracerError, MarkerKind::Attach, MarkerKind::Detach][k as usize];
            EventBody::Marker(Marker { kind, count, message })
        }),
    ]
}

/// Events with non-decreasing timestamps, as a writer must receive them.
pub fn events(max: usize) -> impl Strategy<Value = Vec<Event>> {
    vec(
        (0..1_000_000u64, any::<i32>(), any::<i32>(), body()),
        0..max,
    )
    .prop_map(|v| {
        let mut ts = 1_000_000_000u64;
        v.into_iter()
            .map(|(dt, tid, pid, body)| {
                ts += dt;
                Event { ts, tid, pid, body }
            })
            .collect()
    })
}

fn fd() -> impl Strategy<Value = Fd> {
    (
        any::<i32>(),
        0..20usize,
        bytes(30),
        any::<u32>(),
        any::<bool>(),
        any::<(u16, u16, u16, u16, u16)>(),
        bytes(16),
        bytes(16),
        any::<bool>(),
        any::<(u64, u64)>(),
    )
        .prop_map(
            |(
                num,
                kind,
                path,
                flags,
                has_sock,
                (family, sock_type, protocol, local_port, remote_port),
                local_addr,
                remote_addr,
                listening,
                (dev, ino),
            )| Fd {
                num,
                kind: trace_format::decode::fd_kind(trace_format::fb::FdKind::ENUM_VALUES[kind]),
                path,
                flags,
                socket: has_sock.then(|| SocketInfo {
                    family,
                    sock_type,
                    protocol,
                    local_addr,
                    local_port,
                    remote_addr,
                    remote_port,
                    path: Vec::new(),
                    listening,
                    accepted: !listening && local_port % 2 == 1,
                }),
                dev,
                ino,
            },
        )
}

pub fn snapshot() -> impl Strategy<Value = Snapshot> {
    let process = (
        any::<[i32; 5]>(),
        vec((any::<i32>(), bytes(15)), 0..3),
        bytes(15),
        bytes(20),
        bytes(20),
        vec(bytes(10), 0..3),
        bytes(20),
        any::<[u32; 9]>(),
        any::<[u64; 5]>(),
        any::<bool>(),
        vec(fd(), 0..4),
        any::<bool>(),
    )
        .prop_map(
            |(ids, threads, comm, exe, exepath, argv, cwd, cred, times, memfd, fds, exited)| {
                Process {
                    pid: ids[0],
                    ppid: ids[1],
                    vpid: ids[2],
                    pgid: ids[3],
                    sid: ids[4],
                    threads: threads
                        .into_iter()
                        .map(|(tid, comm)| Thread { tid, comm })
                        .collect(),
                    comm,
                    exe,
                    exepath,
                    argv,
                    cwd,
                    env: Vec::new(),
                    uid: cred[0],
                    euid: cred[1],
                    suid: cred[2],
                    fsuid: cred[3],
                    gid: cred[4],
                    egid: cred[5],
                    sgid: cred[6],
                    fsgid: cred[7],
                    loginuid: cred[8],
                    cap_inheritable: times[0],
                    cap_permitted: times[1],
                    cap_effective: times[2],
                    tty: 0,
                    start_wall_ns: times[3],
                    exec_wall_ns: times[4],
                    exe_from_memfd: memfd,
                    container_id: String::new(),
                    fds,
                    exited,
                    exe_flags: cred[0] & 15,
                }
            },
        );
    vec(process, 0..3).prop_map(|processes| Snapshot { processes })
}

pub fn meta() -> TraceMeta {
    TraceMeta {
        hostname: "test-host".into(),
        kernel_release: "6.1.0".into(),
        arch: "x86_64".into(),
        tool_version: "test".into(),
        command_line: vec!["capture".into(), "--".into(), "true".into()],
        users: vec![User {
            uid: 0,
            gid: 0,
            name: b"root".to_vec(),
            home: b"/root".to_vec(),
            shell: b"/bin/sh".to_vec(),
        }],
        groups: vec![Group {
            gid: 0,
            name: b"root".to_vec(),
        }],
        snaplen: 80,
        syscall_set: "all".into(),
        syscall_arch: "x86_64".into(),
        container_id: "3601745b3bd5".into(),
        container_id_source: "mountinfo".into(),
        ecs: Some(Ecs {
            task_family: "web".into(),
            task_revision: "3".into(),
            docker_id: "3601745b3bd5".into(),
            labels: vec![Label {
                key: "team".into(),
                value: "blue".into(),
            }],
            ..Ecs::default()
        }),
        kubernetes: Some(Kubernetes {
            namespace: "ns".into(),
            pod_name: "pod".into(),
            pod_uid: "uid".into(),
            labels: vec![Label {
                key: "app".into(),
                value: "web".into(),
            }],
        }),
        container_cap_effective: 0xa80425fb,
        container_privileged: true,
        container_mounts: vec![ContainerMount {
            source: "/run/docker.sock".into(),
            dest: "/var/run/docker.sock".into(),
            mode: "rw,relatime".into(),
            rdwr: true,
            propagation: "private".into(),
        }],
        ..TraceMeta::default()
    }
}

/// Writes `events` to `path`, with `state` as every chunk's snapshot.
pub fn write(
    path: &Path,
    opts: WriterOptions,
    events: &[Event],
    state: &Snapshot,
) -> trace_format::WriteSummary {
    let mut w = TraceWriter::create(path, opts, meta()).expect("create");
    for e in events {
        w.push(e, state).expect("push");
    }
    w.finish().expect("finish")
}

/// Every chunk and every problem of a trace.
pub fn read(path: &Path) -> (Vec<trace_format::ChunkModel>, Vec<ReadError>) {
    let r = TraceReader::open(path).expect("open");
    let mut chunks = Vec::new();
    let mut errors = Vec::new();
    for item in r.chunks() {
        match item {
            Ok(c) => chunks.push(c.to_model()),
            Err(e) => errors.push(e),
        }
    }
    (chunks, errors)
}

pub fn small_chunks() -> WriterOptions {
    WriterOptions {
        chunk_bytes: 2048,
        ..WriterOptions::default()
    }
}
