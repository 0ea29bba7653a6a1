//! Decoding syscall arguments from tracee memory, driven by the syscall
//! table's [`ArgKind`]s.
//!
//! Params are produced only for what the raw argument registers do not
//! already say: values behind pointers (paths, strings, buffers, socket
//! addresses, structs) and values the tracer derives (the name of an fd
//! argument, the resolved path). Integers, flags and fds stay in
//! `SyscallEvent::args`; the table tells a reader how to render them.
//!
//! Entry-time decoding reads what the program passes in (while the memory
//! still holds it); exit-time decoding reads what the kernel filled, sized
//! by the return value. Memory that cannot be read becomes
//! `Value::Fault(addr)`; nothing here panics on tracee data.

use trace_format::model::{CloneArgs, Param, SockAddr, Value, result_index};
use trace_format::syscalls::{ArgKind, Syscall};

use crate::mem;
use crate::path;
use crate::state::State;
use crate::state::fd_table::display_name;

/// Longest path read (PATH_MAX).
pub const PATH_MAX: usize = 4096;
/// Longest single argv/envp string kept.
const STR_MAX: usize = 4096;
/// Most argv/envp entries kept.
const LIST_MAX: usize = 1024;
/// Most bytes of argv/envp strings kept in total.
const LIST_BYTES_MAX: usize = 64 * 1024;
/// Longest socket address read.
const SOCKADDR_MAX: usize = 128;
/// Most iovecs read (UIO_MAXIOV).
const IOV_MAX: usize = 1024;
/// `AT_FDCWD`.
pub const AT_FDCWD: i32 = -100;

/// What decoding needs to know about the calling thread.
pub struct Ctx<'a> {
    pub tid: i32,
    pub pid: i32,
    pub state: &'a State,
    pub snaplen: usize,
}

/// Params decoded at syscall entry.
pub fn entry(ctx: &Ctx, sc: &Syscall, args: &[u64; 6]) -> Vec<Param> {
    let mut out = Vec::new();
    // Fd arguments named so far (the first two are: FD_NAME, FD2_NAME).
    let mut fd_named = 0u8;
    for (i, a) in sc.args.iter().enumerate() {
        let idx = i as u8;
        let v = args[i];
        let value = match a.kind {
            ArgKind::Path => Some(read_path(ctx, v, None)),
            ArgKind::PathAt { dirfd } => Some(read_path(ctx, v, Some(args[dirfd as usize] as i32))),
            ArgKind::Str => Some(match mem::read_cstr(ctx.tid, v, PATH_MAX) {
                Some((s, _)) => Value::Str(s),
                None => fault(v),
            }),
            ArgKind::StrList => Some(read_str_list(ctx.tid, v)),
            ArgKind::SockAddrIn { len } => {
                let n = (args[len as usize] as usize).min(SOCKADDR_MAX);
                Some(match mem::read_exact(ctx.tid, v, n) {
                    Some(b) => Value::SockAddr(parse_sockaddr(&b)),
                    None => fault(v),
                })
            }
            ArgKind::BufIn { len } => Some(read_buf(ctx, v, args[len as usize])),
            ArgKind::IovecIn { count } => Some(read_iovecs(ctx, v, args[count as usize], u64::MAX)),
            ArgKind::MsghdrIn => {
                if let Some((name, data)) = read_msghdr(ctx, v, u64::MAX) {
                    if let Some(n) = name {
                        out.push(Param {
                            index: result_index::EXTRA,
                            value: n,
                        });
                    }
                    Some(data)
                } else {
                    Some(fault(v))
                }
            }
            ArgKind::OpenHow { size } => {
                let n = (args[size as usize] as usize).min(24);
                Some(match mem::read_exact(ctx.tid, v, n) {
                    Some(b) if n >= 24 => Value::OpenHow {
                        flags: u64_at(&b, 0),
                        mode: u64_at(&b, 8),
                        resolve: u64_at(&b, 16),
                    },
                    _ => fault(v),
                })
            }
            ArgKind::CloneArgs { size } => {
                let n = (args[size as usize] as usize).min(88);
                Some(match mem::read_exact(ctx.tid, v, n) {
                    Some(b) if n >= 64 => Value::CloneArgs(CloneArgs {
                        flags: u64_at(&b, 0),
                        exit_signal: u64_at(&b, 32),
                        stack: u64_at(&b, 40),
                        tls: u64_at(&b, 56),
                        set_tid_size: if n >= 80 { u64_at(&b, 72) } else { 0 },
                        cgroup: if n >= 88 { u64_at(&b, 80) } else { 0 },
                    }),
                    _ => fault(v),
                })
            }
            ArgKind::Fd if fd_named < 2 => {
                let index = if fd_named == 0 {
                    result_index::FD_NAME
                } else {
                    result_index::FD2_NAME
                };
                fd_named += 1;
                // dup2/dup3's second fd is the one being replaced.
                let replaced = index == result_index::FD2_NAME && matches!(sc.id, 33 | 292);
                if !replaced && let Some(e) = ctx.state.fd(ctx.pid, v as i32) {
                    out.push(Param {
                        index,
                        value: Value::Str(display_name(e)),
                    });
                }
                None
            }
            _ => None,
        };
        if let Some(value) = value {
            out.push(Param { index: idx, value });
        }
    }
    out
}

/// Params decoded at syscall exit (what the kernel wrote), appended to
/// `out`.
pub fn exit(ctx: &Ctx, sc: &Syscall, args: &[u64; 6], ret: i64, out: &mut Vec<Param>) {
    if ret < 0 {
        return;
    }
    for (i, a) in sc.args.iter().enumerate() {
        let v = args[i];
        match a.kind {
            ArgKind::BufOut if ret > 0 => out.push(Param {
                index: result_index::BUFFER_OUT,
                value: read_buf(ctx, v, ret as u64),
            }),
            ArgKind::IovecOut { count } if ret > 0 => out.push(Param {
                index: result_index::BUFFER_OUT,
                value: read_iovecs(ctx, v, args[count as usize], ret as u64),
            }),
            ArgKind::MsghdrOut => {
                if let Some((name, data)) = read_msghdr(ctx, v, ret as u64) {
                    out.push(Param {
                        index: result_index::BUFFER_OUT,
                        value: data,
                    });
                    if let Some(n) = name {
                        out.push(Param {
                            index: result_index::SOCKADDR_OUT,
                            value: n,
                        });
                    }
                }
            }
            ArgKind::SockAddrOut { len } if v != 0 => {
                let lenp = args[len as usize];
                let n = mem::read_u32(ctx.tid, lenp).map(|n| (n as usize).min(SOCKADDR_MAX));
                let value = match n.and_then(|n| mem::read_exact(ctx.tid, v, n)) {
                    Some(b) => Value::SockAddr(parse_sockaddr(&b)),
                    None => fault(v),
                };
                out.push(Param {
                    index: result_index::SOCKADDR_OUT,
                    value,
                });
            }
            ArgKind::FdPairOut => {
                let value = match mem::read_exact(ctx.tid, v, 8) {
                    Some(b) => Value::FdPair(i32_at(&b, 0), i32_at(&b, 4)),
                    None => fault(v),
                };
                out.push(Param {
                    index: result_index::FD_PAIR,
                    value,
                });
            }
            _ => {}
        }
    }
}

fn fault(addr: u64) -> Value {
    Value::Fault(addr)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_ne_bytes(a)
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    i32::from_ne_bytes(a)
}

/// Reads a path and resolves it through the cwd or `dirfd`.
fn read_path(ctx: &Ctx, addr: u64, dirfd: Option<i32>) -> Value {
    let Some((raw, _)) = mem::read_cstr(ctx.tid, addr, PATH_MAX) else {
        return fault(addr);
    };
    let base: Option<Vec<u8>> = match dirfd {
        None | Some(AT_FDCWD) => ctx.state.cwd(ctx.pid).map(<[u8]>::to_vec),
        Some(fd) => ctx.state.fd(ctx.pid, fd).map(|e| e.fd.path.clone()),
    };
    let resolved = match (&base, raw.first()) {
        (_, Some(b'/')) => path::resolve(b"/", &raw),
        // AT_EMPTY_PATH: the dirfd itself.
        (Some(base), None) if dirfd.is_some_and(|d| d != AT_FDCWD) => base.clone(),
        (Some(base), _) if base.first() == Some(&b'/') => path::resolve(base, &raw),
        _ => Vec::new(),
    };
    Value::Path { raw, resolved }
}

fn read_str_list(tid: i32, addr: u64) -> Value {
    if addr == 0 {
        return Value::StrList {
            items: Vec::new(),
            truncated: false,
        };
    }
    let mut items = Vec::new();
    let mut total = 0usize;
    let mut truncated = false;
    let mut at = addr;
    'outer: loop {
        // Read pointers 64 at a time, stopping at a page end.
        let room = (4096 - (at % 4096)) as usize / 8;
        let n = room.clamp(1, 64);
        let Some(b) = mem::read(tid, at, n * 8) else {
            if items.is_empty() {
                return fault(addr);
            }
            truncated = true;
            break;
        };
        for p in b.chunks_exact(8) {
            let ptr = u64_at(p, 0);
            if ptr == 0 {
                break 'outer;
            }
            if items.len() >= LIST_MAX || total >= LIST_BYTES_MAX {
                truncated = true;
                break 'outer;
            }
            let (s, cut) = mem::read_cstr(tid, ptr, STR_MAX.min(LIST_BYTES_MAX - total))
                .unwrap_or((Vec::new(), true));
            truncated |= cut;
            total += s.len();
            items.push(s);
        }
        at = at.wrapping_add(b.len() as u64 / 8 * 8);
        if b.len() < 8 {
            break;
        }
    }
    Value::StrList { items, truncated }
}

fn read_buf(ctx: &Ctx, addr: u64, len: u64) -> Value {
    let n = (len as usize).min(ctx.snaplen);
    if n == 0 {
        return Value::Bytes {
            data: Vec::new(),
            len,
        };
    }
    match mem::read(ctx.tid, addr, n) {
        Some(data) => Value::Bytes { data, len },
        None => fault(addr),
    }
}

/// Gathers up to snaplen bytes from an iovec array, at most `limit` bytes
/// counted (the return value for output vectors).
fn read_iovecs(ctx: &Ctx, addr: u64, count: u64, limit: u64) -> Value {
    let count = (count as usize).min(IOV_MAX);
    let Some(raw) = mem::read_exact(ctx.tid, addr, count * 16) else {
        return fault(addr);
    };
    // The snaplen-limited prefix of every buffer, read in one batch.
    let mut segs: Vec<(u64, usize)> = Vec::new();
    let mut kept = 0usize;
    let mut total: u64 = 0;
    for iov in raw.chunks_exact(16) {
        let (base, len) = (u64_at(iov, 0), u64_at(iov, 8));
        let len = len.min(limit.saturating_sub(total));
        let want = (len as usize).min(ctx.snaplen.saturating_sub(kept));
        if want > 0 {
            segs.push((base, want));
            kept += want;
        }
        total = total.saturating_add(len);
        if total >= limit {
            break;
        }
    }
    Value::Bytes {
        data: mem::read_gather(ctx.tid, &segs),
        len: total,
    }
}

/// A `struct msghdr`: its address (if any) and its gathered data.
fn read_msghdr(ctx: &Ctx, addr: u64, limit: u64) -> Option<(Option<Value>, Value)> {
    let h = mem::read_exact(ctx.tid, addr, 56)?;
    let (name, namelen) = (u64_at(&h, 0), i32_at(&h, 8) as u32 as usize);
    let (iov, iovlen) = (u64_at(&h, 16), u64_at(&h, 24));
    let name = if name != 0 && namelen > 0 {
        Some(
            match mem::read_exact(ctx.tid, name, namelen.min(SOCKADDR_MAX)) {
                Some(b) => Value::SockAddr(parse_sockaddr(&b)),
                None => fault(name),
            },
        )
    } else {
        None
    };
    Some((name, read_iovecs(ctx, iov, iovlen, limit)))
}

/// Parses a `struct sockaddr_*` (native byte order family, network order
/// port).
pub fn parse_sockaddr(b: &[u8]) -> SockAddr {
    const AF_UNIX: u16 = 1;
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    let family = if b.len() >= 2 {
        u16::from_ne_bytes([b[0], b[1]])
    } else {
        0
    };
    let port = if b.len() >= 4 {
        u16::from_be_bytes([b[2], b[3]])
    } else {
        0
    };
    match family {
        AF_INET if b.len() >= 8 => SockAddr {
            family,
            addr: b[4..8].to_vec(),
            port,
            ..SockAddr::default()
        },
        AF_INET6 if b.len() >= 24 => SockAddr {
            family,
            addr: b[8..24].to_vec(),
            port,
            ..SockAddr::default()
        },
        AF_UNIX => {
            let p = b.get(2..).unwrap_or(&[]);
            // Abstract names start with NUL and run to the length; paths
            // end at their NUL.
            let path = if p.first() == Some(&0) {
                p.to_vec()
            } else {
                p.split(|&c| c == 0).next().unwrap_or(&[]).to_vec()
            };
            SockAddr {
                family,
                path,
                ..SockAddr::default()
            }
        }
        _ => SockAddr {
            family,
            raw: b.to_vec(),
            ..SockAddr::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddrs() {
        let mut v4 = vec![2u8, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.extend_from_slice(&[0; 8]);
        let a = parse_sockaddr(&v4);
        assert_eq!(
            (a.family, a.port, a.addr.as_slice()),
            (2, 8080, &[127u8, 0, 0, 1][..])
        );
        let mut v6 = vec![10u8, 0, 0, 80, 0, 0, 0, 0];
        let mut lo = [0u8; 16];
        lo[15] = 1;
        v6.extend_from_slice(&lo);
        let a = parse_sockaddr(&v6);
        assert_eq!((a.family, a.port, a.addr.as_slice()), (10, 80, &lo[..]));
        let a = parse_sockaddr(b"\x01\x00/tmp/s\x00junk");
        assert_eq!(a.path, b"/tmp/s");
        let a = parse_sockaddr(b"\x01\x00\x00abs");
        assert_eq!(a.path, b"\0abs");
        assert_eq!(parse_sockaddr(b"\x02").family, 0);
        assert_eq!(parse_sockaddr(b"\x11\x00xyz").raw, b"\x11\x00xyz");
    }
}
