//! Parsers for `/proc` files, and small readers built on them.
//!
//! Parsing is separate from reading so every parser is unit-tested on
//! literal file contents. Parsers never panic: `/proc` contents are input
//! (a process may exit mid-read, a kernel may add fields), and a field that
//! cannot be parsed is left at its default.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;

/// Credentials and ids from `/proc/PID/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub name: Vec<u8>,
    pub tgid: i32,
    pub ppid: i32,
    /// Last `NSpid` entry: the pid in the innermost namespace.
    pub nspid: i32,
    pub tracer_pid: i32,
    /// real, effective, saved, fs.
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// `Seccomp`: 0 none, 1 strict, 2 filter.
    pub seccomp: u8,
    /// `Seccomp_filters` (Linux 5.9+): how many filters the thread runs
    /// under; `None` where the kernel does not say.
    pub seccomp_filters: Option<u32>,
    /// `Threads`: the process's thread count.
    pub threads: u32,
}

/// Parses `/proc/PID/status`.
pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, val)) = line.split_once(':') else {
            continue;
        };
        let val = val.trim();
        let ids = |v: &str| {
            let mut out = [0u32; 4];
            for (slot, f) in out.iter_mut().zip(v.split_whitespace()) {
                *slot = f.parse().unwrap_or(0);
            }
            out
        };
        match key {
            "Name" => s.name = val.as_bytes().to_vec(),
            "Tgid" => s.tgid = val.parse().unwrap_or(0),
            "PPid" => s.ppid = val.parse().unwrap_or(0),
            "TracerPid" => s.tracer_pid = val.parse().unwrap_or(0),
            "NSpid" => {
                s.nspid = val
                    .split_whitespace()
                    .last()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            }
            "Uid" => s.uids = ids(val),
            "Gid" => s.gids = ids(val),
            "CapInh" => s.cap_inh = u64::from_str_radix(val, 16).unwrap_or(0),
            "CapPrm" => s.cap_prm = u64::from_str_radix(val, 16).unwrap_or(0),
            "CapEff" => s.cap_eff = u64::from_str_radix(val, 16).unwrap_or(0),
            "Seccomp" => s.seccomp = val.parse().unwrap_or(0),
            "Seccomp_filters" => s.seccomp_filters = val.parse().ok(),
            "Threads" => s.threads = val.parse().unwrap_or(0),
            "Groups" => {
                s.groups = val
                    .split_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect()
            }
            _ => {}
        }
    }
    s
}

/// Fields of `/proc/PID/stat` the process table needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: u32,
    /// Start time, clock ticks after boot.
    pub starttime: u64,
}

/// Parses `/proc/PID/stat` (the comm may contain spaces and parentheses:
/// fields are counted from the last `)`).
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state).
    let get = |i: usize| f.get(i).copied().unwrap_or("0");
    Some(Stat {
        state: get(0).bytes().next().unwrap_or(b'?'),
        ppid: get(1).parse().unwrap_or(0),
        pgrp: get(2).parse().unwrap_or(0),
        session: get(3).parse().unwrap_or(0),
        tty_nr: get(4).parse::<i64>().unwrap_or(0) as u32,
        starttime: get(19).parse().unwrap_or(0),
    })
}

/// One socket of `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetSocket {
    pub local_addr: Vec<u8>,
    pub local_port: u16,
    pub remote_addr: Vec<u8>,
    pub remote_port: u16,
    /// TCP state (0x0A = LISTEN).
    pub state: u8,
    pub inode: u64,
}

/// Decodes `0100007F:1F90` (IPv4) or 32 hex digits (IPv6) into network-order
/// address bytes and a host-order port. The kernel prints each 32-bit word of
/// the address in host byte order.
fn parse_inet_endpoint(s: &str) -> Option<(Vec<u8>, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if addr.len() % 8 != 0 || addr.is_empty() || addr.len() > 32 {
        return None;
    }
    let mut out = Vec::with_capacity(addr.len() / 2);
    for w in 0..addr.len() / 8 {
        let word = u32::from_str_radix(addr.get(w * 8..w * 8 + 8)?, 16).ok()?;
        out.extend_from_slice(&word.to_ne_bytes());
    }
    Some((out, port))
}

/// Parses `/proc/net/tcp`-format text (tcp, tcp6, udp, udp6).
pub fn parse_net_inet(text: &str) -> Vec<InetSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local_addr, local_port) = parse_inet_endpoint(f.get(1)?)?;
            let (remote_addr, remote_port) = parse_inet_endpoint(f.get(2)?)?;
            Some(InetSocket {
                local_addr,
                local_port,
                remote_addr,
                remote_port,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// Parses `/proc/net/unix`: inode -> (path, listening).
pub fn parse_net_unix(text: &str) -> HashMap<u64, (Vec<u8>, bool)> {
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(flags), Some(inode)) = (f.get(3), f.get(6)) else {
            continue;
        };
        let Ok(inode) = inode.parse::<u64>() else {
            continue;
        };
        let listening = u32::from_str_radix(flags, 16).is_ok_and(|v| v & 0x10000 != 0);
        let path = f.get(7).map(|p| p.as_bytes().to_vec()).unwrap_or_default();
        // Abstract names are printed with a leading '@'.
        let path = match path.first() {
            Some(b'@') => {
                let mut p = path;
                p[0] = 0;
                p
            }
            _ => path,
        };
        out.insert(inode, (path, listening));
    }
    out
}

/// The container id in a `/proc/PID/cgroup` text
/// ([`crate::container_id::from_cgroup`]); empty on a host.
pub fn parse_container_id(cgroup: &str) -> String {
    crate::container_id::from_cgroup(cgroup).unwrap_or_default()
}

/// Parses `/etc/passwd`: (uid, gid, name, home, shell).
pub fn parse_passwd(text: &[u8]) -> Vec<trace_format::model::User> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            if line.first() == Some(&b'#') {
                return None;
            }
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(trace_format::model::User {
                name: f[0].to_vec(),
                uid: std::str::from_utf8(f[2]).ok()?.parse().ok()?,
                gid: std::str::from_utf8(f[3]).ok()?.parse().ok()?,
                home: f[5].to_vec(),
                shell: f[6].to_vec(),
            })
        })
        .collect()
}

/// Parses `/etc/group`.
pub fn parse_group(text: &[u8]) -> Vec<trace_format::model::Group> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            if line.first() == Some(&b'#') {
                return None;
            }
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(trace_format::model::Group {
                name: f[0].to_vec(),
                gid: std::str::from_utf8(f[2]).ok()?.parse().ok()?,
            })
        })
        .collect()
}

/// Most bytes of `/proc/PID/cmdline` read at an exec (a workload may pass
/// megabytes of arguments; the syscall decoder keeps 64 KiB of argv too).
pub const CMDLINE_MAX: u64 = 64 * 1024;

/// The first `limit` bytes of a file; empty when it cannot be read.
pub fn read_capped(path: &str, limit: u64) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(limit).read_to_end(&mut out);
    }
    out
}

/// Splits a NUL-separated list (`cmdline`, `environ`).
pub fn split_nul(bytes: &[u8]) -> Vec<Vec<u8>> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
}

/// Parses the `flags:` line of `/proc/PID/fdinfo/N` (octal).
pub fn parse_fdinfo_flags(text: &str) -> u32 {
    text.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Readers.

/// `readlink` as bytes, or empty.
pub fn readlink(path: &str) -> Vec<u8> {
    fs::read_link(path)
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .unwrap_or_default()
}

/// Reads `/proc/TID/status`.
pub fn status(tid: i32) -> Option<Status> {
    fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .map(|t| parse_status(&t))
}

/// Reads `/proc/TID/comm` without the newline.
pub fn comm(tid: i32) -> Vec<u8> {
    let mut c = fs::read(format!("/proc/{tid}/comm")).unwrap_or_default();
    if c.last() == Some(&b'\n') {
        c.pop();
    }
    c
}

/// The inode of a socket fd (`socket:[N]`), if it is one.
pub fn socket_inode(pid: i32, fd: i32) -> Option<u64> {
    let link = readlink(&format!("/proc/{pid}/fd/{fd}"));
    let s = std::str::from_utf8(&link).ok()?;
    s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// Looks up an inet socket by inode in the namespace of `pid`.
pub fn find_inet_socket(pid: i32, inode: u64) -> Option<InetSocket> {
    for f in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{f}")) else {
            continue;
        };
        if let Some(s) = parse_net_inet(&text).into_iter().find(|s| s.inode == inode) {
            return Some(s);
        }
    }
    None
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clk_tck() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as u64 } else { 100 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let t = "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nNgid:\t0\nPid:\t42\nPPid:\t1\n\
                 TracerPid:\t7\nUid:\t0\t1000\t2\t3\nGid:\t4\t5\t6\t7\nNSpid:\t42\t1\n\
                 CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t00000000a80425fb\n";
        let s = parse_status(t);
        assert_eq!(s.name, b"nginx");
        assert_eq!((s.tgid, s.ppid, s.tracer_pid, s.nspid), (42, 1, 7, 1));
        assert_eq!(s.uids, [0, 1000, 2, 3]);
        assert_eq!(s.gids, [4, 5, 6, 7]);
        assert_eq!(s.cap_prm, 0x1ff_ffff_ffff);
        assert_eq!(s.cap_eff, 0xa804_25fb);
        assert_eq!((s.seccomp, s.seccomp_filters), (0, None));
        let s = parse_status("Seccomp:\t2\nSeccomp_filters:\t3\n");
        assert_eq!((s.seccomp, s.seccomp_filters), (2, Some(3)));
        assert_eq!(parse_status("garbage\nUid:\tx"), Status::default());
    }

    #[test]
    fn stat_with_odd_comm() {
        let t = "123 (a b) c)) S 1 123 123 34816 123 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
        let s = parse_stat(t).unwrap_or_default();
        assert_eq!(s.state, b'S');
        assert_eq!((s.ppid, s.pgrp, s.session, s.tty_nr), (1, 123, 123, 34816));
        assert_eq!(s.starttime, 98765);
        assert_eq!(parse_stat("no paren"), None);
    }

    #[test]
    fn net_tcp_lines() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0\n   1: bogus\n";
        let v = parse_net_inet(t);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].local_addr, vec![127, 0, 0, 1]);
        assert_eq!(v[0].local_port, 8080);
        assert_eq!(v[0].remote_addr, vec![0, 0, 0, 0]);
        assert_eq!((v[0].state, v[0].inode), (0x0A, 31337));
        let t6 = "hdr\n   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1\n";
        let v = parse_net_inet(t6);
        let mut lo = vec![0u8; 16];
        lo[15] = 1;
        assert_eq!(v[0].local_addr, lo);
        assert_eq!(v[0].local_port, 80);
    }

    #[test]
    fn net_unix_lines() {
        let t = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                 0000000000000000: 00000002 00000000 00010000 0001 01 1234 /run/x.sock\n\
                 0000000000000000: 00000002 00000000 00000000 0001 03 1235\n\
                 0000000000000000: 00000002 00000000 00000000 0001 03 1236 @abs\n";
        let m = parse_net_unix(t);
        assert_eq!(m.get(&1234), Some(&(b"/run/x.sock".to_vec(), true)));
        assert_eq!(m.get(&1235), Some(&(Vec::new(), false)));
        assert_eq!(m.get(&1236), Some(&(b"\0abs".to_vec(), false)));
    }

    #[test]
    fn container_ids() {
        let id = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
        assert_eq!(parse_container_id(&format!("0::/docker/{id}\n")), id);
        assert_eq!(
            parse_container_id(&format!("0::/system.slice/docker-{id}.scope\n")),
            id
        );
        assert_eq!(
            parse_container_id(&format!(
                "0::/kubepods/besteffort/pod1/cri-containerd-{id}.scope\n"
            )),
            id
        );
        assert_eq!(parse_container_id(&format!("12:cpu:/ecs/abcd/{id}\n")), id);
        assert_eq!(
            parse_container_id(
                "0::/ecs/0123456789abcdef0123456789abcdef/0123456789abcdef0123456789abcdef-1234567890\n"
            ),
            "0123456789abcdef0123456789abcdef-1234567890"
        );
        assert_eq!(
            parse_container_id("0::/user.slice/user-0.slice/session-1.scope\n"),
            ""
        );
        assert_eq!(parse_container_id("0::/\n"), "");
    }

    #[test]
    fn passwd_and_group() {
        let p = parse_passwd(b"root:x:0:0:root:/root:/bin/bash\n# c\nbad\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, b"www-data");
        assert_eq!((p[1].uid, p[1].gid), (33, 33));
        assert_eq!(p[1].shell, b"/usr/sbin/nologin");
        let g = parse_group(b"root:x:0:\nadm:x:4:syslog\nx:y\n");
        assert_eq!(g.len(), 2);
        assert_eq!((g[1].gid, g[1].name.as_slice()), (4, &b"adm"[..]));
    }

    #[test]
    fn nul_lists_and_fdinfo() {
        assert_eq!(split_nul(b"a\0bc\0"), vec![b"a".to_vec(), b"bc".to_vec()]);
        assert!(split_nul(b"").is_empty());
        assert_eq!(
            parse_fdinfo_flags("pos:\t0\nflags:\t02100002\nmnt_id:\t1\n"),
            0o2100002
        );
    }
}
