//! The replay engine: trace events become Falco field values, rules are
//! evaluated chunk by chunk in parallel, and alerts come out in trace order.
//!
//! ```text
//! TraceReader ── locations ──► driver::for_each_chunk (rayon, a streamed window)
//!                                 │ per chunk: driver::walk_chunk
//!                                 │   snapshot ─► State (format::state) ─┐
//!                                 │   events ──► State::apply ───────────┤
//!                                 │                                      ▼
//!                                 │   view::EventView (FieldSource) ◄── context::TraceContext, vocab
//!                                 │     └► alert::RuleEngine / listing / stats
//!                                 ▼
//!                          results in trace order ─► output (text, JSON)
//! ```
//!
//! The rule language ([`crate::rules`]) knows nothing of traces; this module
//! knows nothing of rule syntax: [`view::EventView`] is the only bridge, an
//! implementation of [`crate::rules::FieldSource`].

pub mod alert;
pub mod args;
pub mod context;
pub mod driver;
pub mod listing;
pub mod stats;
pub mod view;
pub mod vocab;

pub use alert::{Alert, ChunkAlerts, RuleEngine};
pub use context::TraceContext;
pub use driver::{Item, for_each_chunk, walk_chunk};
pub use view::EventView;
