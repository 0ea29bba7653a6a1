//! What live evaluation did, for the exit summary: alerts by priority,
//! delay from syscall to alert, lag, and what each target could not take.

use std::time::Duration;

use replay::rules::Priority;

use super::http::{Delivery, HttpUrl};
use super::queue::QueueStats;

/// Delay samples kept for the median (the worst is always exact).
const MAX_SAMPLES: usize = 1 << 20;

/// Counters of the evaluator thread.
#[derive(Clone, Debug, Default)]
pub struct AlertReport {
    /// Alerts per priority, most severe first (`Priority as usize`).
    pub by_priority: [u64; 8],
    /// Chunks evaluated and events in them.
    pub chunks: u64,
    pub events: u64,
    /// Chunks that could not be evaluated (never expected: they come from
    /// the writer), with the last reason.
    pub bad_chunks: u64,
    pub bad_chunk_error: Option<String>,
    /// Delay from each alert's syscall to its hand-off to the targets, in
    /// ns (the first `MAX_SAMPLES`).
    delays: Vec<u64>,
    pub worst_delay: Duration,
    /// Lines that a line target (stdout, stderr, file) could not take.
    pub line_failures: Vec<(String, u64, String)>,
    /// HTTP targets: what was delivered and what was not.
    pub http: Vec<(HttpUrl, Delivery)>,
    /// The evaluation queue: what waited on disk, what was not evaluated.
    pub queue: QueueStats,
}

impl AlertReport {
    /// Counts one alert of `priority` handed over `delay` after its event.
    pub fn alert(&mut self, priority: Priority, delay: Duration) {
        self.by_priority[priority as usize] += 1;
        if self.delays.len() < MAX_SAMPLES {
            self.delays.push(delay.as_nanos() as u64);
        }
        self.worst_delay = self.worst_delay.max(delay);
    }

    /// Alerts raised, all priorities.
    pub fn alerts(&self) -> u64 {
        self.by_priority.iter().sum()
    }

    /// Median delay from syscall to alert.
    pub fn median_delay(&self) -> Option<Duration> {
        self.delay_quantile(50)
    }

    /// The delay that `pct` percent of alerts did not exceed (nearest
    /// rank).
    pub fn delay_quantile(&self, pct: usize) -> Option<Duration> {
        let mut d = self.delays.clone();
        if d.is_empty() {
            return None;
        }
        let rank = (d.len() * pct.min(100)).div_ceil(100).max(1) - 1;
        let (_, m, _) = d.select_nth_unstable(rank);
        Some(Duration::from_nanos(*m))
    }

    /// Alerts that reached no target they were meant for (and chunks not
    /// evaluated live, whose alerts only replay can give).
    pub fn undelivered(&self) -> u64 {
        self.http.iter().map(|(_, d)| d.failed).sum::<u64>()
            + self.line_failures.iter().map(|(_, n, _)| n).sum::<u64>()
            + self.queue.unevaluated
    }

    /// The summary lines (`capture: alerts: ...`).
    pub fn lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut by = Vec::new();
        for (i, n) in self.by_priority.iter().enumerate() {
            if *n > 0
                && let Some(p) = PRIORITIES.get(i)
            {
                by.push(format!("{n} {}", p.as_str()));
            }
        }
        let delay = match (self.median_delay(), self.delay_quantile(99)) {
            (Some(m), Some(p99)) => format!(
                ", delay from syscall to alert: median {:.3} s, p99 {:.3} s, worst {:.3} s",
                m.as_secs_f64(),
                p99.as_secs_f64(),
                self.worst_delay.as_secs_f64()
            ),
            _ => String::new(),
        };
        v.push(format!(
            "capture: alerts: {}{} ({} events in {} chunks evaluated){delay}",
            self.alerts(),
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            },
            self.events,
            self.chunks,
        ));
        if self.bad_chunks > 0 {
            v.push(format!(
                "capture: alerts: {} chunks could not be evaluated: {}",
                self.bad_chunks,
                self.bad_chunk_error.as_deref().unwrap_or("")
            ));
        }
        let q = &self.queue;
        if q.spilled_chunks > 0 {
            v.push(format!(
                "capture: alerts: evaluation fell behind: {} chunks ({} bytes) waited in the spill file (at most {} bytes at once; at most {} bytes in memory)",
                q.spilled_chunks, q.spilled_bytes, q.spill_peak, q.mem_peak
            ));
        }
        if q.unevaluated > 0 {
            let seqs = match q.unevaluated_seqs {
                Some((a, b)) if a == b => format!(" (chunk {a})"),
                Some((a, b)) => format!(" (chunks {a} to {b})"),
                None => String::new(),
            };
            v.push(format!(
                "capture: alerts: {} chunks{seqs} were not evaluated live (the spill file failed: {}); `replay --rules` over the trace finds their alerts",
                q.unevaluated,
                q.spill_error.as_deref().unwrap_or("unknown")
            ));
        }
        for (t, n, e) in &self.line_failures {
            v.push(format!(
                "capture: alerts: {n} alerts could not be written to {t}: {e}"
            ));
        }
        for (url, d) in &self.http {
            let mut line = format!(
                "capture: alerts: {url}: {} delivered, {} failed, {} retries",
                d.delivered, d.failed, d.retries
            );
            if d.failed > 0 {
                line.push_str(&format!(
                    " (undelivered alerts were written to stderr; last error: {})",
                    d.last_error.as_deref().unwrap_or("unknown")
                ));
            }
            v.push(line);
        }
        v
    }
}

const PRIORITIES: [Priority; 8] = [
    Priority::Emergency,
    Priority::Alert,
    Priority::Critical,
    Priority::Error,
    Priority::Warning,
    Priority::Notice,
    Priority::Informational,
    Priority::Debug,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_delays() {
        let mut r = AlertReport::default();
        assert_eq!(r.median_delay(), None);
        r.alert(Priority::Warning, Duration::from_millis(300));
        r.alert(Priority::Warning, Duration::from_millis(100));
        r.alert(Priority::Critical, Duration::from_millis(900));
        assert_eq!(r.alerts(), 3);
        assert_eq!(r.median_delay(), Some(Duration::from_millis(300)));
        assert_eq!(r.worst_delay, Duration::from_millis(900));
        let l = &r.lines()[0];
        assert!(l.contains("alerts: 3 (1 Critical, 2 Warning)"), "{l}");
        assert!(
            l.contains("median 0.300 s, p99 0.900 s, worst 0.900 s"),
            "{l}"
        );
        let mut r = AlertReport::default();
        for ms in 1..=200 {
            r.alert(Priority::Notice, Duration::from_millis(ms));
        }
        assert_eq!(r.delay_quantile(99), Some(Duration::from_millis(198)));
        assert_eq!(r.median_delay(), Some(Duration::from_millis(100)));
    }
}
