//! Which recorded syscalls capture records from one stop.
//!
//! Under a `--syscalls` filter a recorded syscall normally takes two stops:
//! the `PTRACE_EVENT_SECCOMP` stop at its entry and the syscall-exit stop.
//! A syscall that is traced only because the process and fd model needs it
//! (the `STATE` group every set includes), and whose effect on that model
//! does not depend on its result, is recorded from its entry stop alone and
//! resumed with `PTRACE_CONT`: its event says that no return was observed
//! (`no_return`; replay gives no `evt.res`, `evt.rawres` or `evt.failed`),
//! it never carries a guessed result.
//!
//! Today that is `close` alone: the descriptor is released whatever
//! `close` returns (Linux removes it from the table before anything that
//! can fail or block: `EBADF` means there was none to release, `EINTR` and
//! `EIO` come after the release), so the fd table stays exact. A spec that
//! names `close` (itself, or through `file`, `state` or `all`) gets its
//! result, with both stops. Considered and kept at two stops, because their
//! effect depends on the result: `dup2`/`dup3` (fail with `EBADF` without
//! closing the target), `close_range` (fails with `EINVAL` before closing
//! anything), `fcntl(F_DUPFD)`, `chdir`/`fchdir`, every syscall that returns
//! an fd or a pid.
//!
//! The trade-off, per thread: an event recorded at its entry stop is placed
//! in the stream when the call starts rather than when it returns; another
//! thread's use of that fd still in flight when `close` starts is recorded
//! after the close, with no fd name. The fd number cannot be reused before
//! the release, and a reuse (an `open` returning it) is recorded at that
//! open's exit, after the close.

use trace_format::syscalls::{self, SyscallSet, group};

/// Whether capture records any syscall from one stop. It was switched off
/// for a while because `capture_stops` lost track of a few of 600 reads
/// under load; the losses were in its two-stop half: a `close` recorded at
/// its exit stop could come after another thread's `open` that reused the
/// number, and the fd table dropped the new fd. The table now keeps an fd
/// installed after a close entered (`FdTable::close`), in both halves.
pub const ENABLED: bool = true;

/// The syscalls recorded from their entry stop alone under the filter
/// built from `spec` (a `--syscalls` spec); empty when `filtered` is false
/// (without a filter every syscall stops at its entry and exit anyway).
pub fn entry_only(spec: &str, filtered: bool) -> SyscallSet {
    let mut set = SyscallSet::new();
    if filtered && !names(spec, CLOSE) {
        set.insert(CLOSE);
    }
    set
}

/// `close(2)`.
const CLOSE: u16 = 3;

/// Whether `spec` asks for `id` itself: by name, by a set name whose group
/// holds it, or by `all`; the `STATE` group every set gets regardless does
/// not count, but naming `state` does.
fn names(spec: &str, id: u16) -> bool {
    let groups = syscalls::by_id(id).map(|s| s.groups).unwrap_or(0);
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .any(|item| match item {
            "all" => true,
            "falco" => groups & group::FALCO != 0,
            "file" => groups & group::FILE != 0,
            "net" => groups & group::NET != 0,
            "process" => groups & group::PROCESS != 0,
            "state" => groups & group::STATE != 0,
            name => syscalls::by_name(name).is_some_and(|s| s.id == id),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_is_entry_only_unless_named() {
        assert!(entry_only("falco", true).contains(CLOSE));
        assert!(entry_only("net,process", true).contains(CLOSE));
        for spec in ["file", "state", "falco,close", " close ", "all", "net,file"] {
            assert!(!entry_only(spec, true).contains(CLOSE), "{spec}");
        }
        // Without a filter nothing changes.
        assert!(!entry_only("falco", false).contains(CLOSE));
        assert_eq!(entry_only("falco", true).iter().count(), 1);
    }

    #[test]
    fn close_is_state_and_not_falco() {
        // The rule above relies on this: under `falco`, close is traced
        // only for the fd table.
        let sc = syscalls::by_id(CLOSE).unwrap_or_else(|| panic!("close"));
        assert_eq!(sc.name, "close");
        assert!(sc.groups & group::STATE != 0);
        assert!(sc.groups & group::FALCO == 0);
    }
}
