//! `fd.*` and `fs.path.*`: the fd an event is about ([`Focus`]) and the
//! paths it names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use trace_format::model::{Fd, FdKind, SocketInfo, SyscallEvent, Value, result_index};
use trace_format::state::State;
use trace_format::state::fd_table::fd_display_name;
use trace_format::syscalls::{ArgKind, Syscall};

use super::super::args;
use super::super::vocab::{is_open, kind_char, kind_name};
use super::{Endpoint, EventView, Focus};
use crate::rules::{FieldArg, FieldId, FieldRef, FieldValue};

impl<'a> EventView<'a> {
    /// `fd.*`.
    pub(super) fn fd_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        match f.id {
            F::FdNum => match self.focus {
                Focus::None => None,
                Focus::Fd(fd) => Some(V::I64(fd.num.into())),
                Focus::Named { num, .. } => Some(V::I64(num)),
                Focus::FailedOpen { .. } => Some(V::I64(-1)),
            },
            // As libsinsp: a failed open has no fdinfo, so no `fd.type`
            // (its `fd.typechar` comes from the event: `f`).
            F::FdType => match self.focus {
                Focus::FailedOpen { .. } => None,
                _ => self.fd_kind().map(|k| V::Str(kind_name(k))),
            },
            F::FdTypechar => self.fd_kind().map(|k| V::Str(kind_char(k))),
            F::FdName => self.compose(|buf, v| v.fd_name(buf)),
            F::FdNameraw => match self.focus {
                Focus::FailedOpen { raw, .. } => self.text(raw),
                _ => {
                    if let Some(sc) = self.syscall
                        && is_open(sc)
                        && let Some((raw, _)) = self.path_param(0)
                    {
                        return self.text(raw);
                    }
                    self.compose(|buf, v| v.fd_name(buf))
                }
            },
            F::FdDirectory => {
                let kind = self.fd_kind()?;
                let p = self.fd_path()?;
                let d = if kind == FdKind::Directory {
                    p
                } else {
                    match p.iter().rposition(|&c| c == b'/') {
                        Some(0) => &p[..1],
                        Some(i) => &p[..i],
                        None => return None,
                    }
                };
                self.text(d)
            }
            // As libsinsp (`is_file()`): only a file's fd has a file name;
            // not a directory, a pipe or socket, nor a failed open.
            F::FdFilename => {
                if matches!(self.focus, Focus::FailedOpen { .. })
                    || !matches!(
                        self.fd_kind()?,
                        FdKind::File | FdKind::CharDevice | FdKind::BlockDevice
                    )
                {
                    return None;
                }
                let p = self.fd_path()?;
                let name = p.rsplit(|&c| c == b'/').next().unwrap_or(p);
                self.text(name)
            }
            F::FdCip | F::FdCport | F::FdCnet => {
                let (c, _) = self.ends()?;
                let (a, port) = c?;
                Some(if f.id == F::FdCport {
                    V::U64(port.into())
                } else {
                    V::Ip(a)
                })
            }
            F::FdSip | F::FdSport | F::FdSnet => {
                let (_, s) = self.ends()?;
                let (a, port) = s?;
                Some(if f.id == F::FdSport {
                    V::U64(port.into())
                } else {
                    V::Ip(a)
                })
            }
            F::FdLip | F::FdLport | F::FdLnet | F::FdRip | F::FdRport | F::FdRnet => {
                let (fd, s) = self.socket()?;
                if !matches!(fd.kind, FdKind::Ipv4Socket | FdKind::Ipv6Socket) {
                    return None;
                }
                let local = matches!(f.id, F::FdLip | F::FdLport | F::FdLnet);
                let (a, port) = if local {
                    (&s.local_addr, s.local_port)
                } else {
                    (&s.remote_addr, s.remote_port)
                };
                if matches!(f.id, F::FdLport | F::FdRport) {
                    return (!a.is_empty() || port != 0).then_some(V::U64(port.into()));
                }
                ip(a).map(V::Ip)
            }
            F::FdL4proto => {
                let (fd, s) = self.socket()?;
                l4proto(fd.kind, s).map(V::Str)
            }
            F::FdSockfamily => match self.fd_kind()? {
                FdKind::Ipv4Socket | FdKind::Ipv6Socket => Some(V::Str("ip")),
                FdKind::UnixSocket => Some(V::Str("unix")),
                _ => None,
            },
            F::FdIsServer => {
                let (_, s) = self.socket()?;
                Some(V::Bool(s.listening || s.accepted))
            }
            F::FdConnected => {
                let (fd, s) = self.socket()?;
                Some(V::Bool(match fd.kind {
                    FdKind::Ipv4Socket | FdKind::Ipv6Socket => {
                        !s.listening && !s.remote_addr.is_empty()
                    }
                    _ => !s.listening && !s.path.is_empty(),
                }))
            }
            F::FdNameChanged => {
                let s = self.syscall_event()?;
                let sc = self.syscall?;
                self.socket()?;
                let addressed = matches!(sc.name, "connect" | "sendto" | "sendmsg")
                    && s.params
                        .iter()
                        .any(|p| matches!(p.value, Value::SockAddr(_)));
                Some(V::Bool(addressed))
            }
            F::FdDev | F::FdDevMajor | F::FdDevMinor => {
                let fd = self.focus_fd()?;
                (fd.dev != 0).then(|| {
                    V::U64(match f.id {
                        F::FdDev => fd.dev,
                        F::FdDevMajor => dev_major(fd.dev),
                        _ => dev_minor(fd.dev),
                    })
                })
            }
            F::FdIno => {
                let fd = self.focus_fd()?;
                (fd.ino != 0).then_some(V::U64(fd.ino))
            }
            F::FdTypes => match &f.arg {
                FieldArg::Index(0) => self.fd_kind().map(|k| V::Str(kind_name(k))),
                _ => None,
            },

            _ => None,
        }
    }

    /// `fs.path.*`.
    pub(super) fn fs_path_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        match f.id {
            F::FsPathName | F::FsPathSource => {
                let (raw, res) = self.path_param(0)?;
                self.text(if res.is_empty() { raw } else { res })
            }
            F::FsPathNameraw | F::FsPathSourceraw => {
                let (raw, _) = self.path_param(0)?;
                self.text(raw)
            }
            F::FsPathTarget => {
                let (raw, res) = self.path_param(1)?;
                self.text(if res.is_empty() { raw } else { res })
            }
            F::FsPathTargetraw => {
                let (raw, _) = self.path_param(1)?;
                self.text(raw)
            }

            _ => None,
        }
    }

    pub(super) fn focus_fd(&self) -> Option<&'a Fd> {
        match self.focus {
            Focus::Fd(fd) => Some(fd),
            _ => None,
        }
    }

    pub(super) fn socket(&self) -> Option<(&'a Fd, &'a SocketInfo)> {
        let fd = self.focus_fd()?;
        fd.socket.as_ref().map(|s| (fd, s))
    }

    /// Client and server ends of the focus socket (address, port).
    pub(super) fn ends(&self) -> Option<(Option<Endpoint>, Option<Endpoint>)> {
        let (fd, s) = self.socket()?;
        if !matches!(fd.kind, FdKind::Ipv4Socket | FdKind::Ipv6Socket) {
            return None;
        }
        let local = ip(&s.local_addr).map(|a| (a, s.local_port));
        let remote = ip(&s.remote_addr).map(|a| (a, s.remote_port));
        Some(if s.listening {
            (None, local)
        } else if s.accepted {
            (remote, local)
        } else {
            (local, remote)
        })
    }

    pub(super) fn path_param(&self, nth: usize) -> Option<(&'a [u8], &'a [u8])> {
        let s = self.syscall_event()?;
        s.params
            .iter()
            .filter(|p| p.index < 6)
            .filter_map(|p| match &p.value {
                Value::Path { raw, resolved } => Some((&raw[..], &resolved[..])),
                _ => None,
            })
            .nth(nth)
    }

    pub(super) fn fd_name(&self, buf: &mut String) -> bool {
        match self.focus {
            Focus::None => false,
            Focus::Fd(fd) if fd.socket.is_none() => {
                args::push_text(buf, &fd.path);
                true
            }
            Focus::Fd(fd) => {
                args::push_text(buf, &fd_display_name(fd));
                true
            }
            Focus::Named { name, .. } => {
                args::push_text(buf, name);
                true
            }
            Focus::FailedOpen { path, .. } => {
                args::push_text(buf, path);
                true
            }
        }
    }

    pub(super) fn fd_path(&self) -> Option<&'a [u8]> {
        match self.focus {
            Focus::Fd(fd) if fd.socket.is_none() => Some(&fd.path),
            Focus::FailedOpen { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(super) fn fd_kind(&self) -> Option<FdKind> {
        match self.focus {
            Focus::Fd(fd) => Some(fd.kind),
            Focus::FailedOpen { .. } => Some(FdKind::File),
            _ => None,
        }
    }
}

pub(super) fn focus<'a>(
    state: &'a State,
    pid: i32,
    s: &'a SyscallEvent,
    sc: Option<&'static Syscall>,
) -> Focus<'a> {
    let Some(sc) = sc else { return Focus::None };
    let lookup = |num: i64| -> Focus<'a> {
        if let Some(e) = i32::try_from(num).ok().and_then(|n| state.fd(pid, n)) {
            return Focus::Fd(&e.fd);
        }
        match args::param(s, result_index::FD_NAME) {
            Some(Value::Str(name)) => Focus::Named { num, name },
            _ => Focus::Named { num, name: b"" },
        }
    };
    if sc.ret.kind == ArgKind::Fd {
        if s.no_return {
            return Focus::None;
        }
        if s.ret >= 0 {
            return lookup(s.ret);
        }
        // A failed open still names its file.
        if is_open(sc)
            && let Some((raw, res)) = s.params.iter().find_map(|p| match &p.value {
                Value::Path { raw, resolved } if p.index < 6 => Some((&raw[..], &resolved[..])),
                _ => None,
            })
        {
            return Focus::FailedOpen {
                path: if res.is_empty() { raw } else { res },
                raw,
            };
        }
    }
    if let Some(Value::FdPair(a, _)) = args::param(s, result_index::FD_PAIR) {
        return lookup((*a).into());
    }
    match args::first_fd_arg(sc) {
        Some(i) => lookup(ArgKind::Fd.int_value(args::reg(s, i as u8))),
        None => Focus::None,
    }
}

fn l4proto(kind: FdKind, s: &SocketInfo) -> Option<&'static str> {
    if !matches!(kind, FdKind::Ipv4Socket | FdKind::Ipv6Socket) {
        return None;
    }
    Some(match (s.sock_type, s.protocol) {
        (1, _) | (_, 6) => "tcp",
        (2, _) | (_, 17) => "udp",
        (_, 1) | (_, 58) => "icmp",
        (3, _) => "raw",
        _ => "unknown",
    })
}

fn ip(a: &[u8]) -> Option<IpAddr> {
    match a.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(a);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn dev_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn dev_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}
