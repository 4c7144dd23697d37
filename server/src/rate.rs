//! Rate limits: a token bucket per device (and per username for enrolment), in this
//! process's memory (a per-process limit is enough: it protects the process, and several
//! processes behind a load balancer each protect themselves).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sync_protocol::ReplicaId;

/// Requests a device may make per second, sustained, by default (§6: at least 20).
pub const DEFAULT_RATE: f64 = 20.0;
/// How many requests a bucket holds: the burst (§6: at least 60).
pub const BURST_SECONDS: f64 = 3.0;

/// Enrolment attempts a username may make per second, sustained.
pub const ENROL_RATE: f64 = 0.2;
/// Enrolment attempts a username may make at once.
pub const ENROL_BURST: f64 = 10.0;

/// Token buckets, one per key (a device, by default).
#[derive(Debug)]
pub struct RateLimiter<K = ReplicaId> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// `rate` requests a second sustained, bursts of `BURST_SECONDS × rate`.
    pub fn new(rate: f64) -> Self {
        Self::with_burst(rate, rate * BURST_SECONDS)
    }

    /// `rate` requests a second sustained, bursts of `burst`.
    pub fn with_burst(rate: f64, burst: f64) -> Self {
        Self {
            rate: rate.max(0.01),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the key's bucket; `Err(wait)` when it is empty.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            // Forget devices whose bucket has refilled: they lose nothing.
            let full = self.burst / self.rate;
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < full);
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_bucket_refuses() {
        let limiter: RateLimiter = RateLimiter::new(20.0);
        let device = ReplicaId::from_u128(1);
        for i in 0..60 {
            assert!(limiter.check(device).is_ok(), "request {i} of the burst");
        }
        assert!(limiter.check(device).is_err(), "the 61st request at once");
        assert!(
            limiter.check(ReplicaId::from_u128(2)).is_ok(),
            "another device has its own bucket"
        );
    }
}
