//! Typed errors of reading and writing traces.
//!
//! A [`ReadError`] says what is wrong, where, and whether reading can go on:
//! corrupt chunks, hash-chain breaks and missing chunks are reported and the
//! reader continues with the next chunk. Errors that make one file
//! unreadable (not a trace, not a regular file, unsupported version, I/O)
//! cost that file: in a trace of several segments the others are read, and
//! the error is reported as a problem; only a trace with no readable file
//! at all fails to open.

use std::path::PathBuf;

/// What went wrong reading a trace.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a sysrec trace: {reason}")]
    NotATrace { path: PathBuf, reason: String },
    #[error("`{path}` is {what}, not a regular file: it is not read")]
    NotRegularFile { path: PathBuf, what: &'static str },
    #[error(
        "`{path}`: its 24-byte file header is damaged ({reason}); its chunks are read and checked one by one"
    )]
    DamagedHeader { path: PathBuf, reason: String },
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
                | ReadError::NotRegularFile { .. }
                | ReadError::UnsupportedVersion { .. }
                | ReadError::NotFound { .. }
        )
    }
}

impl ReadError {
    /// A copy (`io::Error` is not `Clone`: an I/O error is re-made from its
    /// kind and text).
    pub fn duplicate(&self) -> ReadError {
        use ReadError as E;
        match self {
            E::Io { path, source } => E::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            E::NotATrace { path, reason } => E::NotATrace {
                path: path.clone(),
                reason: reason.clone(),
            },
            E::NotRegularFile { path, what } => E::NotRegularFile {
                path: path.clone(),
                what,
            },
            E::DamagedHeader { path, reason } => E::DamagedHeader {
                path: path.clone(),
                reason: reason.clone(),
            },
            E::UnsupportedVersion {
                path,
                found,
                supported,
            } => E::UnsupportedVersion {
                path: path.clone(),
                found: *found,
                supported: *supported,
            },
            E::Truncated {
                path,
                offset,
                lost_bytes,
            } => E::Truncated {
                path: path.clone(),
                offset: *offset,
                lost_bytes: *lost_bytes,
            },
            E::NoIndex { path, reason } => E::NoIndex {
                path: path.clone(),
                reason: reason.clone(),
            },
            E::CorruptChunk {
                path,
                seq,
                offset,
                reason,
            } => E::CorruptChunk {
                path: path.clone(),
                seq: *seq,
                offset: *offset,
                reason: reason.clone(),
            },
            E::HashMismatch { path, seq, offset } => E::HashMismatch {
                path: path.clone(),
                seq: *seq,
                offset: *offset,
            },
            E::ChainBreak { seq, prev_seq } => E::ChainBreak {
                seq: *seq,
                prev_seq: *prev_seq,
            },
            E::OutOfOrder { seq, prev_seq } => E::OutOfOrder {
                seq: *seq,
                prev_seq: *prev_seq,
            },
            E::Unfinished { path } => E::Unfinished { path: path.clone() },
            E::MissingChunks { first, last } => E::MissingChunks {
                first: *first,
                last: *last,
            },
            E::ForeignChunk {
                seq,
                found,
                expected,
            } => E::ForeignChunk {
                seq: *seq,
                found: found.clone(),
                expected: expected.clone(),
            },
            E::Manifest { path, reason } => E::Manifest {
                path: path.clone(),
                reason: reason.clone(),
            },
            E::NotFound { path, reason } => E::NotFound {
                path: path.clone(),
                reason: reason.clone(),
            },
        }
    }
}

/// What went wrong writing a trace.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write trace `{path}`")]
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

/// An error followed by its sources, joined by `: ` (what anyhow's `{:#}`
/// prints). Error messages here never repeat their source (the convention
/// of every error type in sysrec); text made from an error outside the
/// binaries goes through this, so the cause is printed once, not lost.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_prints_once_with_its_cause() {
        let e = ReadError::Io {
            path: "t.zst".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(e.to_string(), "cannot read `t.zst`");
        let text = Chain(&e).to_string();
        assert!(
            text.starts_with("cannot read `t.zst`: No such file or directory"),
            "{text}"
        );
        assert_eq!(text.matches("No such file").count(), 1);
    }
}
