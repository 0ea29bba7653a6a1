//! The clocks of a trace: CLOCK_MONOTONIC for event timestamps (chunk
//! headers anchor them to wall time), CLOCK_REALTIME for wall times.

#[inline]
fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the valid pointer; it
    // cannot fail for these clock ids (vDSO, no syscall).
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// CLOCK_MONOTONIC, ns.
#[inline]
pub fn mono_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME, ns since the Unix epoch.
#[inline]
pub fn wall_ns() -> u64 {
    read(libc::CLOCK_REALTIME)
}

/// Both clocks read together: (wall, monotonic), ns.
pub fn now() -> (u64, u64) {
    (wall_ns(), mono_ns())
}
