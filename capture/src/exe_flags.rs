//! Falco's exe flags of a new image (execve's `flags`, `PPM_EXE_*`), as the
//! tracer can compute them at the exec stop from user space.
//!
//! Falco's drivers read the exe's inode and the task's credentials:
//! - `WRITABLE`: not on a read-only mount (nor immutable); the fsuid owns
//!   the file; or the write bit for owner, group (fsgid or a supplementary
//!   group) or other is set; or the process has `CAP_DAC_OVERRIDE`.
//! - `UPPER_LAYER` / `LOWER_LAYER`: the exe is on overlayfs and its
//!   overlay inode has an upper dentry (it was created or copied up in the
//!   container's writable layer), else it is in a lower (image) layer.
//! - `FROM_MEMFD`: the exe is a memfd.
//!
//! User space sees the same facts except the overlay inode. Here the exe
//! is opened through `/proc/PID/exe` (`O_PATH`): `fstatfs` gives the file
//! system type and read-only flag, `fstat` the owner and mode; on overlayfs
//! the mount (by `mnt_id`) is looked up in `/proc/PID/mountinfo`, and the
//! file counts as upper when the same path exists under the mount's
//! `upperdir` (not a whiteout). Approximated: when the `upperdir` is not
//! reachable from capture (a runtime's `/var/lib/docker/overlay2/...` is
//! outside the container), a file whose status changed (ctime) since
//! capture started counts as upper (overlayfs copies a file up on any
//! change, so such a file is in the upper layer) and any other as lower,
//! so a binary dropped before capture started is missed. The immutable
//! attribute and POSIX ACLs are not looked at (Falco ignores ACLs too).

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::sync::OnceLock;

use nix::sys::statfs::{OVERLAYFS_SUPER_MAGIC, fstatfs};
use nix::sys::statvfs::FsFlags;
use trace_format::model::exe_flags::{FROM_MEMFD, LOWER_LAYER, UPPER_LAYER, WRITABLE};

use crate::procfs::{self, Status};

/// `CAP_DAC_OVERRIDE`'s bit in a capability set.
const CAP_DAC_OVERRIDE: u64 = 1 << 1;

/// Wall time (ns) of the first computation, about when capture started,
/// read from the coarse clock file timestamps come from, so a file changed
/// later never has an earlier ctime.
fn since_ns() -> i128 {
    static SINCE: OnceLock<i128> = OnceLock::new();
    *SINCE.get_or_init(|| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        if rc == 0 {
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        } else {
            i128::from(crate::clock::wall_ns())
        }
    })
}

/// The exe flags of process `pid`'s image (`exepath` as read from
/// `/proc/PID/exe`, `st` its status after the exec). 0 when the image
/// cannot be opened (the process is gone).
pub fn of(pid: i32, exepath: &[u8], st: &Status) -> u32 {
    let _ = since_ns();
    let mut flags = 0;
    if exepath.starts_with(b"/memfd:") {
        flags |= FROM_MEMFD;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(format!("/proc/{pid}/exe"))
    else {
        return flags;
    };
    let Ok(meta) = file.metadata() else {
        return flags;
    };
    let fs = fstatfs(&file).ok();
    let read_only = fs
        .as_ref()
        .is_some_and(|f| f.flags().contains(FsFlags::ST_RDONLY));
    let creds = Creds {
        fsuid: st.uids[3],
        fsgid: st.gids[3],
        groups: &st.groups,
        cap_effective: st.cap_eff,
    };
    if !read_only && writable(meta.uid(), meta.gid(), meta.mode(), &creds) {
        flags |= WRITABLE;
    }
    if fs.is_some_and(|f| f.filesystem_type() == OVERLAYFS_SUPER_MAGIC) {
        let changed_ns = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
        flags |= match upper_layer(pid, &file, exepath) {
            Some(true) => UPPER_LAYER,
            Some(false) => LOWER_LAYER,
            None if changed_ns >= since_ns() => UPPER_LAYER,
            None => LOWER_LAYER,
        };
    }
    flags
}

/// The credentials the write check uses.
pub struct Creds<'a> {
    pub fsuid: u32,
    pub fsgid: u32,
    pub groups: &'a [u32],
    pub cap_effective: u64,
}

/// Falco's writability of a file owned by `uid:gid` with `mode` for
/// `creds` (mount and immutable checks aside).
pub fn writable(uid: u32, gid: u32, mode: u32, creds: &Creds) -> bool {
    if uid == u32::MAX || gid == u32::MAX {
        return false;
    }
    if creds.fsuid == uid {
        return true;
    }
    let bits = if creds.fsgid == gid || creds.groups.contains(&gid) {
        mode >> 3
    } else {
        mode
    };
    bits & 0o2 != 0 || creds.cap_effective & CAP_DAC_OVERRIDE != 0
}

/// Whether the exe (open as `file`, at `exepath` in the process's view) is
/// in its overlay mount's upper layer; `None` when that cannot be told.
fn upper_layer(pid: i32, file: &File, exepath: &[u8]) -> Option<bool> {
    use std::os::fd::AsRawFd;
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).ok()?;
    let mnt_id = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    let mountinfo = procfs::read_capped(&format!("/proc/{pid}/mountinfo"), MOUNTINFO_MAX);
    let m = String::from_utf8_lossy(&mountinfo)
        .lines()
        .filter_map(parse_mount)
        .find(|m| m.id == mnt_id)?;
    let upper = candidate(&m, exepath)?;
    let dir = m.upperdir?;
    if !std::fs::metadata(OsStr::from_bytes(&dir)).is_ok_and(|d| d.is_dir()) {
        return None;
    }
    Some(
        std::fs::symlink_metadata(OsStr::from_bytes(&upper))
            .is_ok_and(|u| !(u.file_type().is_char_device() && u.rdev() == 0)),
    )
}

/// At most this much of a mountinfo is read.
const MOUNTINFO_MAX: u64 = 4 << 20;

/// A line of mountinfo, the parts the upper-layer check needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    /// Root of the mount within its file system.
    pub root: Vec<u8>,
    pub mount_point: Vec<u8>,
    /// overlayfs's `upperdir=` option, when there is one.
    pub upperdir: Option<Vec<u8>>,
}

/// Parses one mountinfo line (fields octal-escaped as the kernel writes
/// them); `None` for a malformed line.
pub fn parse_mount(line: &str) -> Option<Mount> {
    let (head, tail) = line.split_once(" - ")?;
    let mut f = head.split(' ');
    let id = f.next()?.parse().ok()?;
    let _parent = f.next()?;
    let _dev = f.next()?;
    let root = unescape(f.next()?);
    let mount_point = unescape(f.next()?);
    let mut t = tail.split(' ');
    let fstype = t.next()?;
    let _source = t.next()?;
    let options = t.next().unwrap_or("");
    let upperdir = (fstype == "overlay")
        .then(|| {
            options
                .split(',')
                .find_map(|o| o.strip_prefix("upperdir="))
                .map(unescape)
        })
        .flatten();
    Some(Mount {
        id,
        root,
        mount_point,
        upperdir,
    })
}

/// The path under `m`'s upper directory where `exepath` would be.
pub fn candidate(m: &Mount, exepath: &[u8]) -> Option<Vec<u8>> {
    let rel = if m.mount_point == b"/" {
        exepath
    } else {
        let r = exepath.strip_prefix(m.mount_point.as_slice())?;
        if !r.is_empty() && !r.starts_with(b"/") {
            return None;
        }
        r
    };
    if rel.split(|&b| b == b'/').any(|c| c == b"..") {
        return None;
    }
    let mut out = m.upperdir.clone()?;
    for part in [m.root.as_slice(), rel] {
        for c in part.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            out.push(b'/');
            out.extend_from_slice(c);
        }
    }
    Some(out)
}

/// Undoes mountinfo's `\ooo` escapes.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: Creds = Creds {
        fsuid: 1000,
        fsgid: 1000,
        groups: &[27],
        cap_effective: 0,
    };

    #[test]
    fn writable_as_falco_decides() {
        // The owner may always (it could chmod), whatever the mode.
        assert!(writable(1000, 0, 0o555, &CREDS));
        // Group by fsgid or a supplementary group, then other.
        assert!(writable(0, 1000, 0o575, &CREDS));
        assert!(writable(0, 27, 0o575, &CREDS));
        assert!(!writable(0, 28, 0o575, &CREDS));
        assert!(writable(0, 28, 0o557, &CREDS));
        // The group's bits apply to a member, not other's.
        assert!(!writable(0, 27, 0o557, &CREDS));
        // CAP_DAC_OVERRIDE writes anything.
        let root = Creds {
            fsuid: 0,
            fsgid: 0,
            groups: &[],
            cap_effective: CAP_DAC_OVERRIDE,
        };
        assert!(writable(1, 1, 0o555, &root));
        assert!(!writable(
            1,
            1,
            0o555,
            &Creds {
                cap_effective: 0,
                ..root
            }
        ));
        // Unmapped owner.
        assert!(!writable(u32::MAX, 0, 0o777, &CREDS));
    }

    #[test]
    fn overlay_mounts_and_upper_paths() {
        let line = "913 880 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/AB:/var/lib/docker/overlay2/l/CD,upperdir=/var/lib/docker/overlay2/9f/diff,workdir=/var/lib/docker/overlay2/9f/work,nouserxattr";
        let m = parse_mount(line).unwrap();
        assert_eq!(m.id, 913);
        assert_eq!(m.mount_point, b"/");
        assert_eq!(
            m.upperdir.as_deref(),
            Some(&b"/var/lib/docker/overlay2/9f/diff"[..])
        );
        assert_eq!(
            candidate(&m, b"/tmp/x").unwrap(),
            b"/var/lib/docker/overlay2/9f/diff/tmp/x"
        );
        // A mount elsewhere, escaped names, a sub-root.
        let line = "77 20 0:61 /sub /work/my\\040root rw - overlay none rw,lowerdir=/l,upperdir=/u\\054x,workdir=/w";
        let m = parse_mount(line).unwrap();
        assert_eq!(m.mount_point, b"/work/my root");
        assert_eq!(m.upperdir.as_deref(), Some(&b"/u,x"[..]));
        assert_eq!(
            candidate(&m, b"/work/my root/bin/a").unwrap(),
            b"/u,x/sub/bin/a"
        );
        assert_eq!(candidate(&m, b"/work/my rootx/a"), None);
        assert_eq!(candidate(&m, b"/work/my root/../etc/a"), None);
        // Not overlay: no upper directory.
        let m = parse_mount("30 1 8:1 / /data rw - ext4 /dev/sda1 rw").unwrap();
        assert_eq!(m.upperdir, None);
        assert_eq!(candidate(&m, b"/data/a"), None);
        assert_eq!(parse_mount("garbage"), None);
        assert_eq!(parse_mount(""), None);
    }
}
