//! `--around TIME`: a point in time and a window around it.

use std::time::Duration;

/// A point in time given to `--around`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Around {
    /// Absolute (RFC 3339), ns since the epoch.
    At(u64),
    /// A time of day in UTC (`HH:MM:SS.nnnnnnnnn` as alerts print it), on
    /// whatever day the trace covers; ns since midnight.
    TimeOfDay(u64),
}

/// A time `--around` does not understand.
#[derive(Debug, thiserror::Error)]
pub enum AroundError {
    /// Neither form parses.
    #[error(
        "`{0}` is not a time: give it as an alert prints it (HH:MM:SS.nnnnnnnnn, UTC) or in RFC 3339 (2026-11-23T10:00:00Z)"
    )]
    NotATime(String),
    /// RFC 3339, but before 1970 or past 2262.
    #[error("`{0}`: time out of range")]
    OutOfRange(String),
}

const DAY_NS: u64 = 86_400_000_000_000;

impl Around {
    /// Parses an alert's time of day or an RFC 3339 time.
    pub fn parse(s: &str) -> Result<Around, AroundError> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            let ns = t
                .timestamp_nanos_opt()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| AroundError::OutOfRange(s.to_owned()))?;
            return Ok(Around::At(ns));
        }
        if let Ok(t) = chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f") {
            use chrono::Timelike;
            let ns = u64::from(t.num_seconds_from_midnight()) * 1_000_000_000
                + u64::from(t.nanosecond());
            return Ok(Around::TimeOfDay(ns));
        }
        Err(AroundError::NotATime(s.to_owned()))
    }

    /// Whether wall-clock time `ns` is within `w` of this point (a time of
    /// day matches on any day, across midnight too).
    pub fn contains(&self, ns: u64, w: Duration) -> bool {
        let w = w.as_nanos().min(u128::from(DAY_NS / 2)) as u64;
        match *self {
            Around::At(t) => ns.abs_diff(t) <= w,
            Around::TimeOfDay(t) => {
                let d = (ns % DAY_NS).abs_diff(t);
                d.min(DAY_NS - d) <= w
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_match_across_midnight() {
        let a = Around::parse("23:59:59.5").unwrap();
        assert_eq!(a, Around::TimeOfDay(86_399_500_000_000));
        let next_day_00_00_00_2 = 2 * DAY_NS + 200_000_000;
        assert!(a.contains(next_day_00_00_00_2, Duration::from_secs(1)));
        assert!(!a.contains(next_day_00_00_00_2, Duration::from_millis(500)));
        let b = Around::parse("1970-01-01T00:00:10Z").unwrap();
        assert_eq!(b, Around::At(10_000_000_000));
        assert!(matches!(
            Around::parse("1900-01-01T00:00:00Z"),
            Err(AroundError::OutOfRange(_))
        ));
        assert!(matches!(
            Around::parse("yesterday"),
            Err(AroundError::NotATime(_))
        ));
    }
}
