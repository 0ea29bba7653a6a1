//! Clocks: CLOCK_MONOTONIC for event timestamps (the writer anchors them to
//! wall time), CLOCK_REALTIME for process start times. The format crate
//! owns them, so writer anchors and event times come from one place.

pub use trace_format::clock::{mono_ns, wall_ns};
