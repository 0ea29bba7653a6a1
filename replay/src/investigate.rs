//! What the `replay` binary does with a trace, as a library: the per-chunk
//! [`Job`] (rules, a listing, statistics), the `--around` time window
//! ([`Around`]), the closing [`Summary`] and the text reports (`--stats`,
//! `replay verify`; every trace-controlled name in them is escaped with
//! [`trace_format::escape`]). The binary parses arguments, builds these, drives
//! [`crate::engine::for_each_chunk`] and prints.

pub mod around;
pub mod job;
pub mod report;
pub mod summary;

pub use around::{Around, AroundError};
pub use job::{Job, Output};
pub use summary::Summary;
