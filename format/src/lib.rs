//! The sysrec trace format.
//!
//! A trace is one file, or a directory of rotated segment files plus a JSON
//! manifest. A file is a sequence of independent zstd frames, one *chunk*
//! each, closed by an index; `schemas/trace.fbs` is the contract and says
//! where everything sits. This crate holds both sides of it:
//!
//! - [`model`]: owned Rust values mirroring the schema;
//! - [`TraceWriter`]: streaming writer, compression on a
//!   background thread, segment rotation, manifest;
//! - [`TraceReader`]: reads files, segment directories
//!   and manifests, by index or by scanning, verifying every chunk;
//! - [`syscalls`]: the declarative syscall table shared by capture and replay;
//! - [`state`]: the process and fd tables rebuilt from events, a pure
//!   function of the trace shared by capture (snapshots) and replay (fields).
//!
//! **Architecture Invariant:** this crate knows nothing of ptrace or rules; it
//! makes no syscalls on live processes.

#[allow(
    clippy::all,
    clippy::restriction,
    unused_imports,
    dead_code,
    unsafe_op_in_unsafe_fn,
    mismatched_lifetime_syntaxes
)]
#[rustfmt::skip]
mod generated {
    pub mod trace;
    pub mod index;
}

/// Generated FlatBuffers bindings of `schemas/trace.fbs` and `index.fbs`.
pub mod fb {
    pub use crate::generated::index::sysrec::fb::*;
    pub use crate::generated::trace::sysrec::fb::*;
}

pub mod chunk;
pub mod clock;
pub mod columns;
pub mod container;
pub mod convert;
pub mod decode;
mod encode;
pub mod error;
pub mod escape;
pub mod manifest;
pub mod model;
pub mod reader;
pub mod state;
pub mod syscalls;
pub mod verify;
pub mod writer;

pub use chunk::{Chunk, ChunkInfo, ChunkModel};
pub use error::{ReadError, WriteError};
pub use reader::TraceReader;
pub use writer::{SnapshotSource, TraceWriter, WriteSummary, WriterOptions};

/// Version of the on-disk format this crate writes by default and the newest
/// it reads. Version 2 stores a chunk's events by column
/// ([`columns`]); version 1 (row-wise events) is still read, and written on
/// request ([`WriterOptions::format_version`]).
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version this crate reads and writes.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
