//! The syscall table itself, sorted by canonical id.

use super::ArgKind::*;
use super::flags::*;
use super::group::*;
use super::{Arg, Syscall};

const fn a(name: &'static str, kind: super::ArgKind) -> Arg {
    Arg { name, kind }
}

pub static SYSCALLS: &[Syscall] = &[
    Syscall {
        id: 0,
        name: "read",
        args: &[a("fd", Fd), a("data", BufOut), a("size", Uint)],
        groups: FILE | FALCO,
    },
    Syscall {
        id: 3,
        name: "close",
        args: &[a("fd", Fd)],
        groups: FILE | STATE | FALCO,
    },
    Syscall {
        id: 59,
        name: "execve",
        args: &[a("filename", Path), a("argv", StrList), a("envp", StrList)],
        groups: PROCESS | STATE | FALCO,
    },
    Syscall {
        id: 257,
        name: "openat",
        args: &[
            a("dirfd", Dirfd),
            a("name", PathAt { dirfd: 0 }),
            a("flags", Flags(&OPEN_FLAGS)),
            a("mode", Mode),
        ],
        groups: FILE | STATE | FALCO,
    },
];
