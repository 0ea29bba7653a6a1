//! Falco's capture format (`.scap`, libscap's savefile): a sysrec trace
//! written as a capture `sysdig -r` and Falco read.
//!
//! A `.scap` file is a sequence of blocks (`block.rs`): a section header,
//! machine info, the user and group lists, the process list and one fd list
//! per process (the state at the start, from the first chunk's snapshot),
//! then one block per event. Each recorded syscall becomes the pair of
//! events libscap's kernel driver emits for it (`_E` at entry, `_X` at
//! exit) with the driver's parameter layout (`events.rs`); a syscall with
//! no dedicated event type becomes the generic `syscall` pair. Process
//! starts, execs, exits and signal deliveries become the driver's
//! `clone`, `execve`, `procexit` and `signaldeliver` events (`export.rs`).
//!
//! **Versions.** Event types, parameter counts and block versions are those
//! of libscap as Debian's sysdig 0.29.3 ships it (falcosecurity/libs
//! e5c53d64, March 2022): that reader refuses nothing it finds here, and
//! current libscap reads the same versions (it converts older event
//! layouts to its own on read).
//!
//! **Reading.** `read.rs` frames the blocks of a capture (plain or gzip)
//! and `import.rs` turns them into a sysrec trace (the reverse of the
//! export, plus the older block and event versions libs' captures use),
//! which replay then reads like any trace.
//!
//! What a `.scap` file cannot say is listed in README.md ("Export to
//! .scap"): markers (capture start and stop, gaps, tracer errors) are left
//! out, `dup2`/`dup3` are `dup` events as the 0.29 driver emitted them, and
//! the new process of a `fork`/`vfork`/`clone3` is announced by a child-side
//! `clone` event.

mod block;
mod events;
mod export;
mod import;
mod read;

pub use export::{ExportError, ExportSummary, export};
pub use import::{ImportError, ImportSummary, import};
pub use read::{BlockError, looks_like_scap};
