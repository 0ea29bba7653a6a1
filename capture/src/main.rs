//! `capture`: the recording binary (see `capture --help`). A thin shell over
//! the `capture` library: parse, validate, run, map the outcome to an exit
//! status.

use std::process::ExitCode;

use clap::Parser;

/// Exit status when capture itself fails (not the workload).
const CAPTURE_FAILED: u8 = 125;
/// Exit status when CMD cannot be run.
const CANNOT_RUN: u8 = 127;

fn main() -> ExitCode {
    let args = capture::Args::parse();
    let config = match args.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("capture: {e}");
            return ExitCode::from(2);
        }
    };
    for n in config.notices() {
        eprintln!("capture: {n}");
    }
    match capture::run(&config) {
        Ok(report) => {
            if let Some(e) = &report.writer_error {
                eprintln!("capture: trace incomplete: {e}");
            }
            if !config.quiet {
                eprintln!("{}", report.summary_line());
            }
            if let Some(s) = &report.summary
                && s.lost_events > 0
            {
                eprintln!(
                    "capture: {} events in {} chunks could not be written (recorded in the trace as gap markers)",
                    s.lost_events, s.lost_chunks
                );
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
                    eprintln!("{line}");
                }
            }
            if config.verbose {
                eprintln!("capture: {:?}", report.stats);
                if let Some(s) = &report.summary {
                    for seg in &s.segments {
                        eprintln!("capture: wrote {}", seg.display());
                    }
                }
            }
            ExitCode::from(report.exit_code().clamp(0, 255) as u8)
        }
        Err(e) => {
            let err = anyhow::Error::new(e);
            eprintln!("capture: {err}");
            match err.downcast_ref::<capture::CaptureError>() {
                Some(
                    capture::CaptureError::CommandNotFound { .. }
                    | capture::CaptureError::CommandNotExecutable { .. },
                ) => ExitCode::from(CANNOT_RUN),
                _ => ExitCode::from(CAPTURE_FAILED),
            }
        }
    }
}
