//! Re-encoding a trace into another format version, chunk by chunk: every
//! chunk keeps its events, snapshot, metadata, sequence number and clock
//! anchors, so a replay of the copy prints what a replay of the original
//! prints. The copy is a new recording of the same trace id: a new hash
//! chain (the bytes differ), one file, no rotation.

use std::path::Path;

use crate::error::{ReadError, WriteError};
use crate::reader::TraceReader;
use crate::writer::{TraceWriter, WriteSummary, WriterOptions};

/// What a conversion wrote and what it could not read.
#[derive(Debug)]
pub struct Converted {
    pub summary: WriteSummary,
    /// What reading the original met (damaged chunks, left out of the
    /// copy; breaks of its hash chain; notices), in trace order.
    pub problems: Vec<ReadError>,
}

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("the trace holds no readable chunk")]
    Empty,
    #[error("cannot write the copy")]
    Write(#[from] WriteError),
}

/// Re-encodes every readable chunk of `reader` into `out` with `opts`
/// (its `format_version` says which version; chunks are cut as the
/// original's, so `chunk_bytes` should be at least the largest chunk).
pub fn convert(
    reader: &TraceReader,
    out: &Path,
    opts: WriterOptions,
) -> Result<Converted, ConvertError> {
    let mut problems = Vec::new();
    let mut writer: Option<TraceWriter> = None;
    for item in reader.chunks() {
        let chunk = match item {
            Ok(c) => c,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let info = chunk.info();
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(TraceWriter::create(out, opts.clone(), chunk.meta())?),
        };
        let events: Vec<_> = chunk.events().collect();
        w.push_chunk(
            &chunk.snapshot(),
            (info.wall_anchor_ns, info.mono_anchor_ns),
            &events,
        )?;
    }
    let summary = writer.ok_or(ConvertError::Empty)?.finish()?;
    Ok(Converted { summary, problems })
}
