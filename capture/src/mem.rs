//! Reading tracee memory.
//!
//! `process_vm_readv` first (one syscall, no stop needed); when it refuses
//! (`EPERM` across a credential change, `EFAULT` on a range that straddles an
//! unmapped page) the readable prefix is retried page by page and then
//! through `/proc/TID/mem`. Nothing here panics: memory that cannot be read
//! is reported as `None` and becomes `Value::Fault(addr)` in the trace.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

const PAGE: u64 = 4096;
/// Bytes asked for by the first read of a string.
const FIRST_READ: usize = 256;

/// Writes `data` at `addr` in the stopped tracee `tid` (used to answer a
/// syscall on capture's behalf, e.g. `sched_getaffinity`): through
/// `/proc/TID/mem`, which writes even read-only-mapped pages as ptrace
/// does. True when every byte was written.
pub fn write(tid: i32, addr: u64, data: &[u8]) -> bool {
    if addr == 0 {
        return data.is_empty();
    }
    let Ok(f) = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{tid}/mem"))
    else {
        return false;
    };
    f.write_all_at(data, addr).is_ok()
}

/// Reads up to `len` bytes at `addr`; returns what could be read (possibly
/// fewer bytes), or `None` when nothing could.
pub fn read(tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    if addr == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    let n = read_into(tid, addr, &mut buf);
    if n == 0 {
        return None;
    }
    buf.truncate(n);
    Some(buf)
}

/// Reads the segments `(addr, len)` one after the other into one buffer,
/// with a single `process_vm_readv` when every byte is readable (the
/// common case: the buffers of a `writev`, `sendmsg`). Otherwise each
/// segment is read on its own and contributes what could be read of it,
/// as [`read`] would.
pub fn read_gather(tid: i32, segs: &[(u64, usize)]) -> Vec<u8> {
    let total: usize = segs.iter().map(|s| s.1).sum();
    let mut buf = vec![0u8; total];
    if total == 0 {
        return buf;
    }
    let remote: Vec<RemoteIoVec> = segs
        .iter()
        .filter(|s| s.1 > 0)
        .map(|&(base, len)| RemoteIoVec {
            base: base as usize,
            len,
        })
        .collect();
    let all_mapped = segs.iter().all(|s| s.1 == 0 || s.0 != 0);
    if all_mapped && remote.len() <= IOV_BATCH {
        let mut local = [IoSliceMut::new(&mut buf)];
        if process_vm_readv(Pid::from_raw(tid), &mut local, &remote).unwrap_or(0) == total {
            return buf;
        }
    }
    buf.clear();
    for &(base, len) in segs {
        if let Some(b) = read(tid, base, len) {
            buf.extend_from_slice(&b);
        }
    }
    buf
}

/// Most remote segments passed to one `process_vm_readv` (`UIO_MAXIOV`).
const IOV_BATCH: usize = 1024;

/// Reads exactly `len` bytes, or `None`.
pub fn read_exact(tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    read(tid, addr, len).filter(|b| b.len() == len)
}

/// Reads a native-endian `u64` at `addr`.
pub fn read_u64(tid: i32, addr: u64) -> Option<u64> {
    let b = read_exact(tid, addr, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(&b);
    Some(u64::from_ne_bytes(a))
}

/// Reads a native-endian `u32` at `addr`.
pub fn read_u32(tid: i32, addr: u64) -> Option<u32> {
    let b = read_exact(tid, addr, 4)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(&b);
    Some(u32::from_ne_bytes(a))
}

/// Reads a NUL-terminated string of at most `max` bytes: (bytes without
/// the NUL, truncated?). Reads page by page so it never asks for memory
/// past the page holding the terminator.
pub fn read_cstr(tid: i32, addr: u64, max: usize) -> Option<(Vec<u8>, bool)> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    // Most strings are short: the first read asks for FIRST_READ bytes
    // rather than the rest of the page (up to 4 KB copied per path).
    let mut step = FIRST_READ;
    while out.len() < max {
        let to_page_end = (PAGE - (at % PAGE)) as usize;
        let want = to_page_end.min(max - out.len()).min(step);
        step = PAGE as usize;
        let mut buf = vec![0u8; want];
        let n = read_into(tid, at, &mut buf);
        if n == 0 {
            return if out.is_empty() {
                None
            } else {
                Some((out, true))
            };
        }
        if let Some(nul) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..nul]);
            return Some((out, false));
        }
        out.extend_from_slice(&buf[..n]);
        if n < want {
            return Some((out, true));
        }
        at = at.wrapping_add(n as u64);
    }
    Some((out, true))
}

/// Fills `buf` from `addr`; returns how many leading bytes were read.
fn read_into(tid: i32, addr: u64, buf: &mut [u8]) -> usize {
    let len = buf.len();
    let n = vm_readv(tid, addr, buf);
    if n == len {
        return n;
    }
    // Partial or refused: go page by page from where it stopped.
    let mut done = n;
    while done < len {
        let at = addr.wrapping_add(done as u64);
        let chunk = ((PAGE - (at % PAGE)) as usize).min(len - done);
        let got = vm_readv(tid, at, &mut buf[done..done + chunk]);
        if got == 0 {
            let got = proc_mem(tid, at, &mut buf[done..done + chunk]);
            if got == 0 {
                break;
            }
            done += got;
            if got < chunk {
                break;
            }
            continue;
        }
        done += got;
        if got < chunk {
            break;
        }
    }
    done
}

fn vm_readv(tid: i32, addr: u64, buf: &mut [u8]) -> usize {
    let len = buf.len();
    let remote = [RemoteIoVec {
        base: addr as usize,
        len,
    }];
    let mut local = [IoSliceMut::new(buf)];
    process_vm_readv(Pid::from_raw(tid), &mut local, &remote).unwrap_or(0)
}

fn proc_mem(tid: i32, addr: u64, buf: &mut [u8]) -> usize {
    let Ok(f) = File::open(format!("/proc/{tid}/mem")) else {
        return 0;
    };
    f.read_at(buf, addr).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let me = std::process::id() as i32;
        let s = b"hello\0world".to_vec();
        let addr = s.as_ptr() as u64;
        assert_eq!(read_cstr(me, addr, 100), Some((b"hello".to_vec(), false)));
        assert_eq!(read_cstr(me, addr, 3), Some((b"hel".to_vec(), true)));
        assert_eq!(read(me, addr, 3), Some(b"hel".to_vec()));
        assert_eq!(read(me, 0, 3), None);
        assert_eq!(read(me, 8, 3), None);
    }

    #[test]
    fn gathers_segments_in_one_read_or_piece_by_piece() {
        let me = std::process::id() as i32;
        let a = b"hello ".to_vec();
        let b = b"world".to_vec();
        let segs = [(a.as_ptr() as u64, 6), (b.as_ptr() as u64, 5), (0, 0)];
        assert_eq!(read_gather(me, &segs), b"hello world".to_vec());
        // An unreadable segment contributes nothing, the others still do.
        let segs = [(a.as_ptr() as u64, 6), (8, 4), (b.as_ptr() as u64, 5)];
        assert_eq!(read_gather(me, &segs), b"hello world".to_vec());
        assert!(read_gather(me, &[]).is_empty());
    }

    #[test]
    fn strings_longer_than_the_first_read() {
        let me = std::process::id() as i32;
        let long: Vec<u8> = (0..5000).map(|i| b'a' + (i % 26) as u8).collect();
        let mut s = long.clone();
        s.push(0);
        let addr = s.as_ptr() as u64;
        assert_eq!(read_cstr(me, addr, 8192), Some((long.clone(), false)));
        assert_eq!(
            read_cstr(me, addr, FIRST_READ + 1),
            Some((long[..FIRST_READ + 1].to_vec(), true))
        );
    }
}
