//! `replay`: Falco-compatible rule evaluation over recorded traces.
//!
//! The rule language lives in [`rules`]; it knows nothing of the trace
//! format and reads event data through [`rules::FieldSource`]. The
//! [`engine`] implements that interface over trace events and drives the
//! evaluation over a trace's chunks. [`investigate`] is what the `replay`
//! binary does with them (rules, listings, statistics, reports).

pub mod engine;
pub mod investigate;
pub mod rules;
pub mod scap;
