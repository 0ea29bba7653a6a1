//! `capture`: the recording binary (see `capture --help`). A thin shell over
//! the `capture` library: parse, validate, run, map the outcome to an exit
//! status.

use std::process::ExitCode;

use clap::Parser;
use trace_format::escape::{escape, escape_os};

/// Exit status when capture itself fails (not the workload).
const CAPTURE_FAILED: u8 = 125;
/// Exit status when CMD is not found.
const NOT_FOUND: u8 = 127;
/// Exit status when CMD exists but cannot be executed (as shells give).
const NOT_EXECUTABLE: u8 = 126;

/// Records the signal dispositions capture inherited before Rust's runtime
/// changes SIGPIPE's (`.init_array` runs before `main`), so the workload
/// gets them back (`nohup`).
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_INHERITED_SIGNALS: extern "C" fn() = capture::signals::record_inherited;

fn main() -> ExitCode {
    let args = capture::Args::parse();
    let config = match args.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("capture: {}", escape(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    for n in config.notices() {
        eprintln!("capture: {}", escape(&n));
    }
    match capture::run(&config) {
        Ok(report) => {
            if let Some(e) = &report.writer_error {
                eprintln!(
                    "capture: trace incomplete: {}",
                    escape(&trace_format::error::Chain(e).to_string())
                );
            }
            if !config.quiet {
                eprintln!("{}", report.summary_line());
            }
            if let Some(s) = &report.summary
                && s.lost_events > 0
            {
                if s.unrecorded_events == 0 {
                    eprintln!(
                        "capture: {} events in {} chunks could not be written (recorded in the trace as gap markers)",
                        s.lost_events, s.lost_chunks
                    );
                } else {
                    eprintln!(
                        "capture: {} events in {} chunks could not be written; gap markers in the trace record {} of them, the other {} are in no gap marker (no chunk could be written after they were lost; the trace's index records them only if it could be written)",
                        s.lost_events,
                        s.lost_chunks,
                        s.lost_events.saturating_sub(s.unrecorded_events),
                        s.unrecorded_events
                    );
                }
            }
            // Undelivered alerts are reported even with -q.
            if let Some(a) = &report.alerts
                && (!config.quiet || a.undelivered() > 0)
            {
                for line in a.lines() {
                    eprintln!("{line}");
                }
            }
            // What could not be shipped is reported even with -q.
            if let Some(ship) = &report.ship
                && (!config.quiet || !ship.complete())
            {
                for line in ship.lines() {
                    eprintln!("{}", escape(&line));
                }
            }
            if config.verbose {
                eprintln!("capture: {:?}", report.stats);
                if let Some(s) = &report.summary {
                    for seg in &s.segments {
                        eprintln!("capture: wrote {}", escape_os(seg));
                    }
                }
            }
            ExitCode::from(report.exit_code().clamp(0, 255) as u8)
        }
        Err(e) => {
            let err = anyhow::Error::new(e);
            eprintln!("capture: {}", escape(&format!("{err:#}")));
            match err.downcast_ref::<capture::CaptureError>() {
                Some(capture::CaptureError::CommandNotFound { .. }) => ExitCode::from(NOT_FOUND),
                Some(capture::CaptureError::CommandNotExecutable { .. }) => {
                    ExitCode::from(NOT_EXECUTABLE)
                }
                _ => ExitCode::from(CAPTURE_FAILED),
            }
        }
    }
}
