//! [`DiskBudget`]: a limit on the bytes of trace files on disk, shared by
//! the writer (which takes) and whoever removes files (a shipper, which
//! releases).
//!
//! When a chunk does not fit, the writer does not write it: it is counted
//! as lost, exactly like a chunk that hit a full disk, so the next chunk
//! that fits starts with a `Gap` marker and the chunk's hash stays in the
//! chain (`replay verify` names the missing chunk). What is on disk (the
//! oldest data) is kept. File headers and indexes are always written
//! (a few dozen bytes per chunk): they keep the files readable.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct DiskBudget {
    limit: u64,
    used: AtomicU64,
}

impl DiskBudget {
    /// A budget of `limit` bytes, `used` of them already taken.
    pub fn new(limit: u64, used: u64) -> DiskBudget {
        DiskBudget {
            limit,
            used: AtomicU64::new(used),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Gives back `bytes` (a file was removed).
    pub fn release(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                Some(u.saturating_sub(bytes))
            });
    }

    /// Takes `bytes` if they fit under the limit.
    pub fn try_take(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                u.checked_add(bytes).filter(|n| *n <= self.limit)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the limit (headers and indexes).
    pub fn take(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_limit_and_releases() {
        let b = DiskBudget::new(100, 30);
        assert!(b.try_take(70));
        assert!(!b.try_take(1));
        b.release(50);
        assert_eq!(b.used(), 50);
        assert!(!b.try_take(51));
        assert!(b.try_take(50));
        b.take(10);
        assert_eq!(b.used(), 110);
        b.release(1000);
        assert_eq!(b.used(), 0);
    }
}
