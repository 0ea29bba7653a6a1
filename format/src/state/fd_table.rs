//! One fd table: fd number -> what it refers to.
//!
//! Tables are shared by reference id between processes created with
//! `CLONE_FILES` (and always by the threads of a process); see
//! [`super::State`]. This file only knows one table.

use std::collections::BTreeMap;

use crate::model::{Fd, FdKind, SocketInfo};

/// `O_CLOEXEC` (also `SOCK_CLOEXEC`, `EFD_CLOEXEC`, ...).
pub const O_CLOEXEC: u32 = 0o2000000;

/// An fd as the table holds it.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub fd: Fd,
    /// When the fd was installed: the (monotonic) time of the event that
    /// created it, 0 for one seeded from `/proc` or a snapshot. Not part of
    /// the fd's identity (equality ignores it).
    pub since: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.fd == other.fd
    }
}

impl Eq for Entry {}

/// An fd table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdTable {
    fds: BTreeMap<i32, Entry>,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Option<&Entry> {
        self.fds.get(&fd)
    }

    pub fn get_mut(&mut self, fd: i32) -> Option<&mut Entry> {
        self.fds.get_mut(&fd)
    }

    /// Installs `entry` at `fd`, replacing what was there (dup2 semantics).
    pub fn insert(&mut self, fd: i32, mut entry: Entry) {
        entry.fd.num = fd;
        self.fds.insert(fd, entry);
    }

    pub fn remove(&mut self, fd: i32) -> Option<Entry> {
        self.fds.remove(&fd)
    }

    /// A close of `fd` that entered the kernel at `entered`: removes the fd
    /// unless it was installed after that.
    ///
    /// **Invariant:** a close releases the fd that was there when it
    /// entered, never a later one. A close is recorded when it returns, so
    /// another thread sharing the table can reuse the number in between
    /// (the kernel releases it before `close` returns) and its `open` is
    /// recorded first; that newer fd stays. An fd installed at or before
    /// the close's entry is the one it closed. Tested in `state/tests.rs`
    /// and, on a real two-thread program, in `tests/tests/capture_stops.rs`.
    pub fn close(&mut self, fd: i32, entered: u64) {
        if self.fds.get(&fd).is_some_and(|e| e.since <= entered) {
            self.fds.remove(&fd);
        }
    }

    /// dup/dup2/dup3/F_DUPFD: `new` refers to what `old` does; the close-on-
    /// exec flag is per fd, set only when `cloexec`; installed at `since`.
    pub fn dup(&mut self, old: i32, new: i32, cloexec: bool, since: u64) {
        let mut e = self.fds.get(&old).cloned().unwrap_or_default();
        e.fd.flags = (e.fd.flags & !O_CLOEXEC) | if cloexec { O_CLOEXEC } else { 0 };
        e.since = since;
        self.insert(new, e);
    }

    /// close_range(first, last, flags), entered at `entered`: as
    /// [`FdTable::close`], fds installed after the call entered stay.
    pub fn close_range(&mut self, first: u32, last: u32, set_cloexec: bool, entered: u64) {
        let (first, last) = (
            first.min(i32::MAX as u32) as i32,
            last.min(i32::MAX as u32) as i32,
        );
        if first > last {
            return;
        }
        if set_cloexec {
            for (_, e) in self.fds.range_mut(first..=last) {
                e.fd.flags |= O_CLOEXEC;
            }
        } else {
            let doomed: Vec<i32> = self
                .fds
                .range(first..=last)
                .filter(|(_, e)| e.since <= entered)
                .map(|(k, _)| *k)
                .collect();
            for k in doomed {
                self.fds.remove(&k);
            }
        }
    }

    /// exec: close-on-exec fds go away.
    pub fn exec(&mut self) {
        self.fds.retain(|_, e| e.fd.flags & O_CLOEXEC == 0);
    }

    /// The fds in number order, for a snapshot.
    pub fn to_model(&self) -> Vec<Fd> {
        self.fds.values().map(|e| e.fd.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.fds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

/// An fd of a kind other than a file or socket, named like the kernel
/// names it in `/proc/PID/fd` (e.g. `anon_inode:[eventfd]`).
pub fn anon(kind: FdKind, name: &str, flags: u32) -> Entry {
    Entry {
        fd: Fd {
            kind,
            path: name.as_bytes().to_vec(),
            flags,
            ..Fd::default()
        },
        since: 0,
    }
}

/// How Falco names an fd (`fd.name`): the path, or for sockets
/// `cip:cport->sip:sport` (client first), a unix socket's path, a
/// listening socket's `ip:port`.
pub fn display_name(e: &Entry) -> Vec<u8> {
    fd_display_name(&e.fd)
}

/// [`display_name`] of a model [`Fd`].
pub fn fd_display_name(fd: &Fd) -> Vec<u8> {
    let Some(s) = &fd.socket else {
        return fd.path.clone();
    };
    match fd.kind {
        FdKind::Ipv4Socket | FdKind::Ipv6Socket => {
            let local = endpoint(&s.local_addr, s.local_port);
            if s.listening || s.remote_addr.is_empty() {
                return local.into_bytes();
            }
            let remote = endpoint(&s.remote_addr, s.remote_port);
            if s.accepted {
                format!("{remote}->{local}").into_bytes()
            } else {
                format!("{local}->{remote}").into_bytes()
            }
        }
        _ => s.path.clone(),
    }
}

/// `1.2.3.4:80` or `::1:80` (Falco prints IPv6 without brackets).
pub fn endpoint(addr: &[u8], port: u16) -> String {
    match addr.len() {
        4 => format!("{}.{}.{}.{}:{port}", addr[0], addr[1], addr[2], addr[3]),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(addr);
            format!("{}:{port}", std::net::Ipv6Addr::from(a))
        }
        _ => format!(":{port}"),
    }
}

/// A new socket's info from socket(2) arguments.
pub fn socket_info(family: u16, sock_type: u16, protocol: u16) -> SocketInfo {
    SocketInfo {
        family,
        sock_type,
        protocol,
        ..SocketInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, flags: u32) -> Entry {
        Entry {
            fd: Fd {
                kind: FdKind::File,
                path: path.as_bytes().to_vec(),
                flags,
                ..Fd::default()
            },
            since: 0,
        }
    }

    #[test]
    fn dup_close_range_exec() {
        let mut t = FdTable::default();
        t.insert(3, file("/a", O_CLOEXEC));
        t.dup(3, 7, false, 0);
        assert_eq!(t.get(7).map(|e| e.fd.flags), Some(0));
        assert_eq!(t.get(7).map(|e| e.fd.num), Some(7));
        t.insert(8, file("/b", 0));
        t.exec();
        assert!(t.get(3).is_none());
        assert!(t.get(7).is_some());
        t.close_range(8, u32::MAX, true, 0);
        assert_eq!(t.get(8).map(|e| e.fd.flags), Some(O_CLOEXEC));
        t.close_range(0, u32::MAX, false, 0);
        assert!(t.is_empty());
    }

    #[test]
    fn a_close_spares_an_fd_installed_after_it_entered() {
        let mut t = FdTable::default();
        let mut e = file("/old", 0);
        e.since = 100;
        t.insert(3, e);
        // Entered at 150, after /old was installed: closes it.
        t.close(3, 150);
        assert!(t.get(3).is_none());
        // Another thread reused 3 at 300, recorded before the close that
        // entered at 250: the newer fd stays.
        let mut e = file("/new", 0);
        e.since = 300;
        t.insert(3, e);
        t.close(3, 250);
        assert_eq!(t.get(3).map(|e| e.fd.path.clone()), Some(b"/new".to_vec()));
        t.close_range(0, 10, false, 250);
        assert!(t.get(3).is_some());
        t.close_range(0, 10, false, 300);
        assert!(t.is_empty());
    }

    #[test]
    fn socket_names() {
        let mut e = Entry::default();
        e.fd.kind = FdKind::Ipv4Socket;
        e.fd.socket = Some(SocketInfo {
            local_addr: vec![127, 0, 0, 1],
            local_port: 8080,
            remote_addr: vec![127, 0, 0, 1],
            remote_port: 40000,
            ..SocketInfo::default()
        });
        e.fd.socket.as_mut().unwrap().accepted = true;
        assert_eq!(display_name(&e), b"127.0.0.1:40000->127.0.0.1:8080");
        e.fd.socket.as_mut().unwrap().accepted = false;
        assert_eq!(display_name(&e), b"127.0.0.1:8080->127.0.0.1:40000");
    }
}
