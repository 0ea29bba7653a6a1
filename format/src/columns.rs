//! Format version 2's chunk body: events stored by column
//! (`EventColumns` in `schemas/trace.fbs`, which says what each column
//! holds).
//!
//! - `ColumnBuilder` (the writer) appends each event's values to the
//!   columns and builds the table when the chunk closes.
//! - [`Cursor`] reads events back, one at a time, into one reused
//!   [`crate::model::Event`] (no allocation per event once its buffers have grown), for
//!   version 1 rows and version 2 columns alike.
//! - `check` runs a cursor over a whole chunk once, when the chunk is
//!   read: every column must hold exactly the entries its events take.
//!   A [`crate::Chunk`] exists only for chunks that passed, so later walks
//!   meet no surprises; they still never index out of bounds (every read
//!   is checked, a short column ends the walk).

mod builder;
mod cursor;
mod varint;

#[cfg(test)]
mod tests;

pub(crate) use builder::ColumnBuilder;
pub use cursor::Cursor;
pub(crate) use cursor::check;

/// `EventColumns.kinds` values.
pub(crate) mod kind {
    /// A syscall: its values in the `sc_*` and parameter columns.
    pub const SYSCALL: u8 = 0;
    /// Any other event: the next entry of `others`.
    pub const OTHER: u8 = 1;
}
