//! Attaching to a running process, and seeding state from `/proc`.
//!
//! Every thread of the target is `PTRACE_SEIZE`d and `PTRACE_INTERRUPT`ed;
//! `/proc/PID/task` is re-read until a pass finds no new thread (a thread
//! created between two passes is either seen by the next pass or, once its
//! creator is seized, reported by `PTRACE_EVENT_CLONE`).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use trace_format::model::{Fd, FdKind, NO_LOGINUID, Process, SocketInfo, Thread};

use crate::error::{CaptureError, Result};
use crate::procfs;
use crate::ptrace;

/// Seizes and interrupts every thread of `pid`; returns their tids.
pub fn attach(pid: i32) -> Result<Vec<i32>> {
    if pid <= 0 || fs::metadata(format!("/proc/{pid}")).is_err() {
        return Err(CaptureError::NoSuchProcess { pid });
    }
    if procfs::status(pid).is_some_and(|s| s.tgid != pid) {
        // A thread id: attach to its process.
        return Err(CaptureError::NoSuchProcess { pid });
    }
    let mut seen = BTreeSet::new();
    loop {
        let tids = list_tasks(pid);
        if tids.is_empty() && seen.is_empty() {
            return Err(CaptureError::NoSuchProcess { pid });
        }
        let mut new = false;
        for tid in tids {
            if !seen.insert(tid) {
                continue;
            }
            new = true;
            match ptrace::seize(tid, ptrace::options(false)) {
                Ok(()) => {}
                Err(CaptureError::TraceeDied { .. }) => {
                    seen.remove(&tid);
                    continue;
                }
                Err(e) => return Err(e),
            }
            match ptrace::interrupt(tid) {
                Ok(()) | Err(CaptureError::TraceeDied { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !new {
            break;
        }
    }
    if seen.is_empty() {
        return Err(CaptureError::NoSuchProcess { pid });
    }
    Ok(seen.into_iter().collect())
}

fn list_tasks(pid: i32) -> Vec<i32> {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Boot time, ns since the epoch (`btime` of `/proc/stat`).
fn boot_wall_ns() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
}

/// Sockets of the namespace of `pid`, by inode.
fn socket_table(pid: i32) -> HashMap<u64, (FdKind, SocketInfo)> {
    let mut out = HashMap::new();
    for (file, family, ty, proto, kind) in [
        ("tcp", 2u16, 1u16, 6u16, FdKind::Ipv4Socket),
        ("tcp6", 10, 1, 6, FdKind::Ipv6Socket),
        ("udp", 2, 2, 17, FdKind::Ipv4Socket),
        ("udp6", 10, 2, 17, FdKind::Ipv6Socket),
    ] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        for s in procfs::parse_net_inet(&text) {
            let listening = ty == 1 && s.state == 0x0A;
            let si = SocketInfo {
                family,
                sock_type: ty,
                protocol: proto,
                local_addr: s.local_addr,
                local_port: s.local_port,
                remote_addr: if listening { Vec::new() } else { s.remote_addr },
                remote_port: if listening { 0 } else { s.remote_port },
                path: Vec::new(),
                listening,
                accepted: false,
            };
            out.insert(s.inode, (kind, si));
        }
    }
    // A connected socket whose local port is one this process listens on
    // came from accept(2): its remote end is the client.
    let listening: std::collections::HashSet<u16> = out
        .values()
        .filter(|(_, si)| si.listening)
        .map(|(_, si)| si.local_port)
        .collect();
    for (_, si) in out.values_mut() {
        si.accepted = !si.listening && listening.contains(&si.local_port);
    }
    if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/unix")) {
        for (inode, (path, listening)) in procfs::parse_net_unix(&text) {
            let si = SocketInfo {
                family: 1,
                path,
                listening,
                ..SocketInfo::default()
            };
            out.insert(inode, (FdKind::UnixSocket, si));
        }
    }
    out
}

fn fd_kind_of_link(link: &[u8]) -> FdKind {
    let s = String::from_utf8_lossy(link);
    if s.starts_with("pipe:") {
        FdKind::Pipe
    } else if s.starts_with("socket:") {
        FdKind::OtherSocket
    } else if s.starts_with("/memfd:") {
        FdKind::Memfd
    } else if let Some(anon) = s.strip_prefix("anon_inode:") {
        match anon {
            "[eventfd]" => FdKind::EventFd,
            "[signalfd]" => FdKind::SignalFd,
            "[timerfd]" => FdKind::TimerFd,
            "[eventpoll]" => FdKind::Epoll,
            "inotify" => FdKind::Inotify,
            "[pidfd]" => FdKind::PidFd,
            _ => FdKind::AnonInode,
        }
    } else {
        FdKind::File
    }
}

fn read_fds(pid: i32) -> Vec<Fd> {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let sockets = socket_table(pid);
    let mut fds: Vec<Fd> = rd
        .filter_map(|e| {
            let num: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let link = procfs::readlink(&format!("/proc/{pid}/fd/{num}"));
            let flags = fs::read_to_string(format!("/proc/{pid}/fdinfo/{num}"))
                .map(|t| procfs::parse_fdinfo_flags(&t))
                .unwrap_or(0);
            let mut fd = Fd {
                num,
                kind: fd_kind_of_link(&link),
                flags,
                ..Fd::default()
            };
            if let Ok(m) = fs::metadata(format!("/proc/{pid}/fd/{num}")) {
                fd.dev = m.dev();
                fd.ino = m.ino();
                let ft = m.file_type();
                if fd.kind == FdKind::File {
                    fd.kind = if ft.is_dir() {
                        FdKind::Directory
                    } else if ft.is_char_device() {
                        FdKind::CharDevice
                    } else if ft.is_block_device() {
                        FdKind::BlockDevice
                    } else if ft.is_fifo() {
                        FdKind::Fifo
                    } else {
                        FdKind::File
                    };
                }
            }
            if fd.kind == FdKind::OtherSocket {
                if let Some((kind, si)) =
                    procfs::socket_inode(pid, num).and_then(|i| sockets.get(&i))
                {
                    fd.kind = *kind;
                    fd.socket = Some(si.clone());
                }
            } else if fd.kind == FdKind::Memfd {
                // "/memfd:NAME (deleted)" -> "memfd:NAME"
                let s = String::from_utf8_lossy(&link[1..]).into_owned();
                fd.path = s.trim_end_matches(" (deleted)").as_bytes().to_vec();
            } else {
                fd.path = link;
            }
            Some(fd)
        })
        .collect();
    fds.sort_by_key(|f| f.num);
    fds
}

/// Reads the state of process `pid` from `/proc`.
pub fn seed(pid: i32) -> Process {
    let status = procfs::status(pid).unwrap_or_default();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| procfs::parse_stat(&t))
        .unwrap_or_default();
    let argv = procfs::split_nul(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default());
    let env = procfs::split_nul(&fs::read(format!("/proc/{pid}/environ")).unwrap_or_default());
    let comm = procfs::comm(pid);
    let threads = list_tasks(pid)
        .into_iter()
        .map(|tid| Thread {
            tid,
            comm: {
                let mut c = fs::read(format!("/proc/{pid}/task/{tid}/comm")).unwrap_or_default();
                if c.last() == Some(&b'\n') {
                    c.pop();
                }
                c
            },
        })
        .collect();
    let start = boot_wall_ns()
        .saturating_add(stat.starttime.saturating_mul(1_000_000_000) / procfs::clk_tck());
    let loginuid = fs::read_to_string(format!("/proc/{pid}/loginuid"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(NO_LOGINUID);
    let exepath = procfs::readlink(&format!("/proc/{pid}/exe"));
    let exe_flags = crate::exe_flags::of(pid, &exepath, &status);
    Process {
        pid,
        ppid: status.ppid,
        vpid: if status.nspid > 0 { status.nspid } else { pid },
        pgid: stat.pgrp,
        sid: stat.session,
        threads,
        comm,
        exe: argv.first().cloned().unwrap_or_default(),
        exe_from_memfd: exepath.starts_with(b"/memfd:"),
        exepath,
        argv,
        cwd: procfs::readlink(&format!("/proc/{pid}/cwd")),
        env,
        uid: status.uids[0],
        euid: status.uids[1],
        suid: status.uids[2],
        fsuid: status.uids[3],
        gid: status.gids[0],
        egid: status.gids[1],
        sgid: status.gids[2],
        fsgid: status.gids[3],
        loginuid,
        cap_inheritable: status.cap_inh,
        cap_permitted: status.cap_prm,
        cap_effective: status.cap_eff,
        tty: stat.tty_nr,
        start_wall_ns: start,
        exec_wall_ns: start,
        container_id: procfs::parse_container_id(
            &fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default(),
        ),
        fds: read_fds(pid),
        exited: false,
        exe_flags,
    }
}
