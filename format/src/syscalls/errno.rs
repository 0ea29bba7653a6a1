//! Errno names, as Falco renders a failed syscall's `evt.res` (`ENOENT`).
//!
//! Values are Linux's generic ones (`asm-generic/errno-base.h`,
//! `asm-generic/errno.h`), which x86_64 and aarch64 share. The kernel-internal
//! restart codes (512 and up) are included because a tracer sees them at a
//! syscall-exit stop when a signal interrupts a syscall.
//!
//! **Invariant:** both tables are sorted by value with no duplicates (tested),
//! so lookups are binary searches. Aliases (`EWOULDBLOCK` = `EAGAIN`,
//! `EDEADLOCK` = `EDEADLK`) resolve by name only.

/// `(errno, name)` for user-visible errors, sorted by errno.
#[rustfmt::skip]
static ERRNOS: &[(i64, &str)] = &[
    (1, "EPERM"), (2, "ENOENT"), (3, "ESRCH"), (4, "EINTR"), (5, "EIO"), (6, "ENXIO"),
    (7, "E2BIG"), (8, "ENOEXEC"), (9, "EBADF"), (10, "ECHILD"), (11, "EAGAIN"), (12, "ENOMEM"),
    (13, "EACCES"), (14, "EFAULT"), (15, "ENOTBLK"), (16, "EBUSY"), (17, "EEXIST"),
    (18, "EXDEV"), (19, "ENODEV"), (20, "ENOTDIR"), (21, "EISDIR"), (22, "EINVAL"),
    (23, "ENFILE"), (24, "EMFILE"), (25, "ENOTTY"), (26, "ETXTBSY"), (27, "EFBIG"),
    (28, "ENOSPC"), (29, "ESPIPE"), (30, "EROFS"), (31, "EMLINK"), (32, "EPIPE"), (33, "EDOM"),
    (34, "ERANGE"), (35, "EDEADLK"), (36, "ENAMETOOLONG"), (37, "ENOLCK"), (38, "ENOSYS"),
    (39, "ENOTEMPTY"), (40, "ELOOP"), (42, "ENOMSG"), (43, "EIDRM"), (44, "ECHRNG"),
    (45, "EL2NSYNC"), (46, "EL3HLT"), (47, "EL3RST"), (48, "ELNRNG"), (49, "EUNATCH"),
    (50, "ENOCSI"), (51, "EL2HLT"), (52, "EBADE"), (53, "EBADR"), (54, "EXFULL"),
    (55, "ENOANO"), (56, "EBADRQC"), (57, "EBADSLT"), (59, "EBFONT"), (60, "ENOSTR"),
    (61, "ENODATA"), (62, "ETIME"), (63, "ENOSR"), (64, "ENONET"), (65, "ENOPKG"),
    (66, "EREMOTE"), (67, "ENOLINK"), (68, "EADV"), (69, "ESRMNT"), (70, "ECOMM"),
    (71, "EPROTO"), (72, "EMULTIHOP"), (73, "EDOTDOT"), (74, "EBADMSG"), (75, "EOVERFLOW"),
    (76, "ENOTUNIQ"), (77, "EBADFD"), (78, "EREMCHG"), (79, "ELIBACC"), (80, "ELIBBAD"),
    (81, "ELIBSCN"), (82, "ELIBMAX"), (83, "ELIBEXEC"), (84, "EILSEQ"), (85, "ERESTART"),
    (86, "ESTRPIPE"), (87, "EUSERS"), (88, "ENOTSOCK"), (89, "EDESTADDRREQ"), (90, "EMSGSIZE"),
    (91, "EPROTOTYPE"), (92, "ENOPROTOOPT"), (93, "EPROTONOSUPPORT"), (94, "ESOCKTNOSUPPORT"),
    (95, "EOPNOTSUPP"), (96, "EPFNOSUPPORT"), (97, "EAFNOSUPPORT"), (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"), (100, "ENETDOWN"), (101, "ENETUNREACH"), (102, "ENETRESET"),
    (103, "ECONNABORTED"), (104, "ECONNRESET"), (105, "ENOBUFS"), (106, "EISCONN"),
    (107, "ENOTCONN"), (108, "ESHUTDOWN"), (109, "ETOOMANYREFS"), (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"), (112, "EHOSTDOWN"), (113, "EHOSTUNREACH"), (114, "EALREADY"),
    (115, "EINPROGRESS"), (116, "ESTALE"), (117, "EUCLEAN"), (118, "ENOTNAM"),
    (119, "ENAVAIL"), (120, "EISNAM"), (121, "EREMOTEIO"), (122, "EDQUOT"), (123, "ENOMEDIUM"),
    (124, "EMEDIUMTYPE"), (125, "ECANCELED"), (126, "ENOKEY"), (127, "EKEYEXPIRED"),
    (128, "EKEYREVOKED"), (129, "EKEYREJECTED"), (130, "EOWNERDEAD"), (131, "ENOTRECOVERABLE"),
    (132, "ERFKILL"), (133, "EHWPOISON"),
];

/// Kernel-internal errors seen only by tracers (never by the program).
#[rustfmt::skip]
static KERNEL_ERRNOS: &[(i64, &str)] = &[
    (512, "ERESTARTSYS"), (513, "ERESTARTNOINTR"), (514, "ERESTARTNOHAND"),
    (515, "ENOIOCTLCMD"), (516, "ERESTART_RESTARTBLOCK"), (517, "EPROBE_DEFER"),
    (518, "EOPENSTALE"), (519, "ENOPARAM"), (521, "EBADHANDLE"), (522, "ENOTSYNC"),
    (523, "EBADCOOKIE"), (524, "ENOTSUPP"), (525, "ETOOSMALL"), (526, "ESERVERFAULT"),
    (527, "EBADTYPE"), (528, "EJUKEBOX"), (529, "EIOCBQUEUED"), (530, "ERECALLCONFLICT"),
    (531, "ENOGRACE"),
];

/// Aliases accepted by [`errno_value`].
static ALIASES: &[(&str, i64)] = &[("EWOULDBLOCK", 11), ("EDEADLOCK", 35)];

/// The name of errno `errno` (positive, e.g. 2 -> `ENOENT`). A negative value
/// is taken as a raw syscall return (-2 -> `ENOENT`).
pub fn errno_name(errno: i64) -> Option<&'static str> {
    let e = errno.checked_abs()?;
    let table = if e >= 512 { KERNEL_ERRNOS } else { ERRNOS };
    table
        .binary_search_by_key(&e, |(v, _)| *v)
        .ok()
        .map(|i| table[i].1)
}

/// The errno value named `name` (`ENOENT` -> 2), aliases included.
pub fn errno_value(name: &str) -> Option<i64> {
    ERRNOS
        .iter()
        .chain(KERNEL_ERRNOS)
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .or_else(|| ALIASES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
}

/// Renders a syscall return value as Falco's `evt.res` does: `SUCCESS` for
/// values >= 0, the errno name for -4095..=-1 (or `E<n>` when unnamed).
pub fn render_res(ret: i64) -> String {
    if (-4095..0).contains(&ret) {
        errno_name(ret).map_or_else(|| format!("E{}", -ret), str::to_string)
    } else {
        "SUCCESS".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sorted_unique() {
        for t in [ERRNOS, KERNEL_ERRNOS] {
            for w in t.windows(2) {
                assert!(w[0].0 < w[1].0, "{:?} {:?}", w[0], w[1]);
            }
        }
    }

    #[test]
    fn names() {
        for (v, n) in [
            (1, "EPERM"),
            (2, "ENOENT"),
            (-13, "EACCES"),
            (11, "EAGAIN"),
            (133, "EHWPOISON"),
            (512, "ERESTARTSYS"),
        ] {
            assert_eq!(errno_name(v), Some(n));
        }
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(41), None);
        assert_eq!(errno_name(i64::MIN), None);
        assert_eq!(errno_value("EWOULDBLOCK"), Some(11));
        assert_eq!(errno_value("ENOENT"), Some(2));
        assert_eq!(render_res(3), "SUCCESS");
        assert_eq!(render_res(-2), "ENOENT");
        assert_eq!(render_res(-41), "E41");
        // mmap returns addresses that are negative as i64 only above -4096.
        assert_eq!(render_res(-5000), "SUCCESS");
    }
}
