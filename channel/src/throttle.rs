//! A token bucket shared by all pipelines of a job, limiting records/s and bytes/s.

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The job's speed limits (`job.setting.speed.record` and `.byte`); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThrottleLimits {
    /// Records per second.
    pub records_per_sec: Option<u64>,
    /// Bytes per second.
    pub bytes_per_sec: Option<u64>,
}

/// A token bucket in debt mode: a batch takes its tokens at once and its sender then waits
/// until the bucket is back at zero. Waiters queue on a FIFO mutex, so no pipeline starves
/// and the job's rate stays at the limit whatever the batch sizes are.
#[derive(Debug)]
pub struct Throttle {
    limits: ThrottleLimits,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    records: f64,
    bytes: f64,
    last: Instant,
}

/// How much unused allowance may pile up while pipelines are idle, in seconds of rate.
const MAX_BURST_SECS: f64 = 0.05;

impl Throttle {
    /// A throttle with the given limits; it starts empty so that the first second is limited too.
    pub fn new(limits: ThrottleLimits) -> Self {
        Throttle {
            limits,
            state: Mutex::new(Bucket {
                records: 0.0,
                bytes: 0.0,
                last: Instant::now(),
            }),
        }
    }

    /// The limits this throttle enforces.
    pub fn limits(&self) -> ThrottleLimits {
        self.limits
    }

    /// Whether any limit is set.
    pub fn is_active(&self) -> bool {
        self.limits.records_per_sec.is_some() || self.limits.bytes_per_sec.is_some()
    }

    /// Takes `records` and `bytes` tokens and waits until they are paid for.
    /// Returns the time spent waiting.
    pub async fn acquire(&self, records: u64, bytes: u64) -> Duration {
        if !self.is_active() {
            return Duration::ZERO;
        }
        let start = Instant::now();
        // The lock is held while sleeping on purpose: later senders queue behind this one.
        let mut b = self.state.lock().await;
        let now = Instant::now();
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        let mut wait: f64 = 0.0;
        if let Some(rate) = self.limits.records_per_sec.filter(|r| *r > 0) {
            let rate = rate as f64;
            b.records = (b.records + elapsed * rate).min(rate * MAX_BURST_SECS) - records as f64;
            wait = wait.max(-b.records / rate);
        }
        if let Some(rate) = self.limits.bytes_per_sec.filter(|r| *r > 0) {
            let rate = rate as f64;
            b.bytes = (b.bytes + elapsed * rate).min(rate * MAX_BURST_SECS) - bytes as f64;
            wait = wait.max(-b.bytes / rate);
        }
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn record_limit_paces_batches() {
        let t = Throttle::new(ThrottleLimits {
            records_per_sec: Some(1000),
            bytes_per_sec: None,
        });
        let start = Instant::now();
        for _ in 0..10 {
            t.acquire(300, 0).await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((2.9..3.1).contains(&took), "took {took}");
    }

    #[tokio::test(start_paused = true)]
    async fn byte_limit_paces_batches() {
        let t = Throttle::new(ThrottleLimits {
            records_per_sec: None,
            bytes_per_sec: Some(1 << 20),
        });
        let start = Instant::now();
        for _ in 0..8 {
            t.acquire(1, 1 << 19).await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((3.9..4.1).contains(&took), "took {took}");
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let t = Throttle::new(ThrottleLimits::default());
        assert_eq!(t.acquire(1_000_000, 1 << 30).await, Duration::ZERO);
    }
}
