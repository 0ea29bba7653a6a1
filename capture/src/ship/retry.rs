//! Exponential backoff with jitter between tries of a failing store.
//!
//! Each delay is drawn uniformly from the upper half of the current step
//! ("equal jitter"), and the step doubles up to the policy's maximum, so
//! many captures that lost the same endpoint do not retry in lockstep.
//! `reset` after a success; the uploader also resets when the workload has
//! exited, to use the flush time at once.

use std::time::Duration;

use super::config::RetryPolicy;

pub struct Backoff {
    policy: RetryPolicy,
    step: Duration,
    rng: u64,
}

impl Backoff {
    pub fn new(policy: RetryPolicy) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ (u64::from(std::process::id()) << 32);
        Backoff {
            policy,
            step: policy.initial,
            rng: seed | 1,
        }
    }

    /// The delay before the next try.
    pub fn next_delay(&mut self) -> Duration {
        // xorshift64: jitter needs no cryptographic quality.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let step = self.step;
        self.step = (self.step * 2).min(self.policy.max);
        let half = step / 2;
        let extra = half.as_nanos() as u64;
        let jitter = if extra == 0 {
            0
        } else {
            self.rng % (extra + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    pub fn reset(&mut self) {
        self.step = self.policy.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_up_to_the_maximum() {
        let policy = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        let mut b = Backoff::new(policy);
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        let steps = [100u64, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (d, s) in delays.iter().zip(steps) {
            let s = Duration::from_millis(s);
            assert!(*d >= s / 2 && *d <= s, "{d:?} not in [{:?}, {s:?}]", s / 2);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
