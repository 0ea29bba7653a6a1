//! Typed errors of reading and writing traces.
//!
//! A [`ReadError`] says what is wrong, where, and whether reading can go on:
//! corrupt chunks, hash-chain breaks and missing chunks are reported and the
//! reader continues with the next chunk; only errors that make a whole file
//! unreadable (not a trace, unsupported version, I/O) stop it.

use std::path::PathBuf;

/// What went wrong reading a trace.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a sysrec trace: {reason}")]
    NotATrace { path: PathBuf, reason: String },
    #[error(
        "`{path}` was written in trace format version {found}, this build reads up to version {supported}: use a newer replay"
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "`{path}` is truncated at byte {offset}: {lost_bytes} bytes after the last complete chunk are lost (was the capture killed?); the complete chunks before it are read"
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        lost_bytes: u64,
    },
    #[error("`{path}` has no usable index ({reason}); its chunks were found by scanning")]
    NoIndex { path: PathBuf, reason: String },
    #[error("`{path}`: corrupt chunk{} at byte {offset}: {reason}; skipped, reading goes on with the next chunk", seq_text(*.seq))]
    CorruptChunk {
        path: PathBuf,
        seq: Option<u64>,
        offset: u64,
        reason: String,
    },
    #[error(
        "`{path}`: chunk {seq} at byte {offset} does not match its index entry's hash: the chunk was altered after it was written"
    )]
    HashMismatch {
        path: PathBuf,
        seq: u64,
        offset: u64,
    },
    #[error(
        "hash chain broken before chunk {seq}: its record of chunk {prev_seq}'s hash does not match chunk {prev_seq} as read (one of them was altered)"
    )]
    ChainBreak { seq: u64, prev_seq: u64 },
    #[error("chunk {seq} comes after chunk {prev_seq}: chunks are out of order or repeated")]
    OutOfOrder { seq: u64, prev_seq: u64 },
    #[error(
        "the trace was not closed normally (no segment is marked last; `{path}` is the last one found): later chunks may be missing, or the capture was killed"
    )]
    Unfinished { path: PathBuf },
    #[error("chunks {first} to {last} are missing ({count} chunks)", count = last - first + 1)]
    MissingChunks { first: u64, last: u64 },
    #[error("chunk {seq} belongs to another trace (id {found}, expected {expected})")]
    ForeignChunk {
        seq: u64,
        found: String,
        expected: String,
    },
    #[error("manifest `{path}`: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("no trace found at `{path}`: {reason}")]
    NotFound { path: PathBuf, reason: String },
}

fn seq_text(seq: Option<u64>) -> String {
    seq.map(|s| format!(" {s}")).unwrap_or_default()
}

impl ReadError {
    /// True when reading can continue past this error (the error concerns one
    /// chunk or the links between chunks, not the whole trace).
    pub fn is_recoverable(&self) -> bool {
        !matches!(
            self,
            ReadError::Io { .. }
                | ReadError::NotATrace { .. }
                | ReadError::UnsupportedVersion { .. }
                | ReadError::NotFound { .. }
        )
    }
}

/// What went wrong writing a trace.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write trace `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid writer option: {0}")]
    Options(String),
    #[error("the trace writer thread stopped unexpectedly")]
    WriterGone,
}
