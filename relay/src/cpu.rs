//! CPU time of the calling thread, and a light-client meter built on it: the relayer
//! accounts for the verification work it must do (signature checks, proof hashing) apart
//! from everything else it spends per message, which is what `xrelay bench` compares.

use std::time::Duration;

use nix::time::{clock_gettime, ClockId};
use xrelay_light_client::VerifyMeter;

/// CPU time the calling thread has used so far (zero if the clock is unavailable).
pub fn thread_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Runs `f` and returns its result with the thread CPU time it took. `f` must not block
/// on I/O or yield: only synchronous verification belongs here.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = thread_cpu();
    let out = f();
    (out, thread_cpu().saturating_sub(start))
}

/// Adds up the thread CPU time of every verification step it runs. Work a step hands to
/// other threads (the light client's parallel signature checks on large validator sets)
/// is not seen, so on such sets it undercounts.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuMeter {
    /// Total so far.
    pub spent: Duration,
}

impl VerifyMeter for CpuMeter {
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (out, spent) = timed(f);
        self.spent += spent;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_is_counted_and_sleeping_is_not() {
        let (sum, busy) = timed(|| (0..3_000_000u64).fold(0u64, |a, x| a ^ x.wrapping_mul(31)));
        assert!(sum > 0);
        assert!(busy > Duration::ZERO);
        let (_, slept) = timed(|| std::thread::sleep(Duration::from_millis(30)));
        assert!(
            slept < Duration::from_millis(15),
            "sleep counted as CPU: {slept:?}"
        );
    }
}
