//! `replay`: Falco-compatible rule evaluation over recorded traces.
//!
//! The rule language lives in [`rules`]; it knows nothing of the trace
//! format and reads event data through [`rules::FieldSource`].

pub mod rules;
