//! Rate limits, in this process's memory: a token bucket per device, and the limits on
//! failed enrolments per username and per client address (§6). A per-process limit is
//! enough for now: it protects the process, and several processes behind a load balancer
//! each protect themselves (a later change keeps enrolment failures in the database).
//!
//! Why not a crate: `governor`, the maintained choice, keeps one state per key in a map
//! that grows with every key it sees until the caller prunes it (`retain_recent`), with no
//! bound on how many keys it holds, and it can only take a token, never give one back.
//! The enrolment limits need both: a hard bound on the keys (an attacker may send a new
//! username, or come from a new address, with every request), and a token taken before
//! the password check and given back when the check succeeds, so that only failures
//! count and requests running at once cannot slip past the limit. Both fit in the
//! [`RateLimiter`] below.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sync_protocol::ReplicaId;

/// Requests a device may make per second, sustained, by default (§6: at least 20).
pub const DEFAULT_RATE: f64 = 20.0;
/// How many requests a bucket holds: the burst (§6: at least 60).
pub const BURST_SECONDS: f64 = 3.0;
/// The most devices whose buckets are kept at once.
pub const MAX_DEVICES: usize = 100_000;

/// Failed enrolments a username may have per second, sustained (one every 5 seconds).
pub const ENROL_RATE: f64 = 0.2;
/// Failed enrolments a username may have at once.
pub const ENROL_BURST: f64 = 10.0;
/// Failed enrolments a client address may have per second, sustained.
pub const ADDRESS_RATE: f64 = 0.2;
/// Failed enrolments a client address may have at once: an office behind one address
/// where many people mistype their password is not shut out.
pub const ADDRESS_BURST: f64 = 50.0;
/// The most usernames, and the most addresses, whose failures are remembered at once.
pub const MAX_ENROL_KEYS: usize = 10_000;

/// Token buckets, one per key (a device, by default), at most `max_keys` of them.
#[derive(Debug)]
pub struct RateLimiter<K = ReplicaId> {
    rate: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// The tokens of one key when last seen.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Its tokens at `now`, refilled at `rate` up to `burst`.
    fn tokens_at(self, now: Instant, rate: f64, burst: f64) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(burst)
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` requests a second sustained, bursts of `BURST_SECONDS × rate`, for at most
    /// [`MAX_DEVICES`] keys.
    pub fn new(rate: f64) -> Self {
        Self::with_burst(rate, rate * BURST_SECONDS, MAX_DEVICES)
    }

    /// `rate` requests a second sustained, bursts of `burst`, for at most `max_keys` keys.
    pub fn with_burst(rate: f64, burst: f64, max_keys: usize) -> Self {
        Self {
            rate: rate.max(0.01),
            burst: burst.max(1.0),
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn buckets(&self) -> MutexGuard<'_, HashMap<K, Bucket>> {
        // A panic while the lock was held cannot leave a bucket half written.
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one token from the key's bucket; `Err(wait)` when it is empty, with the wait
    /// before the next token.
    ///
    /// A new key finds a full bucket. When `max_keys` keys are held, the buckets that
    /// have refilled are forgotten first (they lose nothing); if none has, the fullest
    /// one is (it loses the least).
    pub fn check(&self, key: K) -> Result<(), Duration> {
        let now = Instant::now();
        let (rate, burst) = (self.rate, self.burst);
        let mut buckets = self.buckets();
        if buckets.len() >= self.max_keys && !buckets.contains_key(&key) {
            buckets.retain(|_, b| b.tokens_at(now, rate, burst) < burst);
            if buckets.len() >= self.max_keys {
                let fullest = buckets
                    .iter()
                    .max_by(|a, b| {
                        let tokens = |b: &Bucket| b.tokens_at(now, rate, burst);
                        tokens(a.1).total_cmp(&tokens(b.1))
                    })
                    .map(|(k, _)| k.clone());
                if let Some(fullest) = fullest {
                    buckets.remove(&fullest);
                }
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens = bucket.tokens_at(now, rate, burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// Gives back a token [`check`](Self::check) took, when what it guarded does not count
    /// against the limit after all.
    pub fn refund(&self, key: &K) {
        let (rate, burst) = (self.rate, self.burst);
        if let Some(bucket) = self.buckets().get_mut(key) {
            let now = Instant::now();
            bucket.tokens = (bucket.tokens_at(now, rate, burst) + 1.0).min(burst);
            bucket.at = now;
        }
    }

    /// How many keys are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets().len()
    }
}

/// The key of a username in the enrolment limits: 128 bits of its SHA-256, so that the
/// limiter keeps neither the username nor more than 16 bytes for it, however long it was.
pub type UsernameKey = [u8; 16];

/// The key under which failed enrolments of `username` are counted.
pub fn username_key(username: &str) -> UsernameKey {
    let digest = Sha256::digest(username.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The key under which failed enrolments from `address` are counted: the address itself
/// for IPv4, its /64 network for IPv6 (one subscriber holds a whole /64).
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Which limit refused an enrolment attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolLimited {
    /// Too many failures from this client address.
    Address(Duration),
    /// Too many failures for this username.
    Username(Duration),
}

/// The limits on failed enrolments (§6): per username and per client address.
#[derive(Debug)]
pub struct EnrolLimits {
    by_username: RateLimiter<UsernameKey>,
    by_address: RateLimiter<IpAddr>,
}

impl Default for EnrolLimits {
    fn default() -> Self {
        Self {
            by_username: RateLimiter::with_burst(ENROL_RATE, ENROL_BURST, MAX_ENROL_KEYS),
            by_address: RateLimiter::with_burst(ADDRESS_RATE, ADDRESS_BURST, MAX_ENROL_KEYS),
        }
    }
}

impl EnrolLimits {
    /// Starts an attempt: takes a token from the address's bucket, then from the
    /// username's. The attempt gives them back when it is dropped, unless it is marked
    /// [`failed`](Attempt::failed): only wrong credentials count.
    pub fn attempt(&self, address: IpAddr, username: &str) -> Result<Attempt<'_>, EnrolLimited> {
        let address = address_key(address);
        let username = username_key(username);
        self.by_address
            .check(address)
            .map_err(EnrolLimited::Address)?;
        if let Err(wait) = self.by_username.check(username) {
            self.by_address.refund(&address);
            return Err(EnrolLimited::Username(wait));
        }
        Ok(Attempt {
            limits: self,
            address,
            username,
            failed: false,
        })
    }
}

/// An enrolment attempt under way, holding one token of each limit.
#[derive(Debug)]
pub struct Attempt<'a> {
    limits: &'a EnrolLimits,
    address: IpAddr,
    username: UsernameKey,
    failed: bool,
}

impl Attempt<'_> {
    /// The credentials were wrong: the tokens stay taken.
    pub fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.failed {
            self.limits.by_address.refund(&self.address);
            self.limits.by_username.refund(&self.username);
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
        limiter.refund(&device);
        assert!(
            limiter.check(device).is_ok(),
            "a refunded token is taken again"
        );
    }

    #[test]
    fn the_keys_held_are_bounded_and_the_emptiest_buckets_kept() {
        let limiter: RateLimiter<u32> = RateLimiter::with_burst(0.01, 3.0, 100);
        for _ in 0..3 {
            assert!(limiter.check(0).is_ok());
        }
        assert!(limiter.check(0).is_err(), "key 0 is empty");
        for key in 1..10_000 {
            let _ = limiter.check(key);
        }
        assert_eq!(limiter.len(), 100, "never more keys than the bound");
        assert!(
            limiter.check(0).is_err(),
            "the empty bucket of key 0 was kept while fuller ones were forgotten"
        );
    }

    #[test]
    fn only_failed_attempts_count() {
        let limits = EnrolLimits::default();
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..100 {
            drop(limits.attempt(here, "marie").unwrap());
        }
        for i in 0..10 {
            limits
                .attempt(here, "marie")
                .unwrap_or_else(|e| panic!("failure {i}: {e:?}"))
                .failed();
        }
        assert!(matches!(
            limits.attempt(here, "marie"),
            Err(EnrolLimited::Username(_))
        ));
        let elsewhere: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(
            matches!(
                limits.attempt(elsewhere, "marie"),
                Err(EnrolLimited::Username(_))
            ),
            "the username's limit holds from every address"
        );
        for i in 0..40 {
            limits
                .attempt(here, &format!("user{i}"))
                .unwrap_or_else(|e| panic!("user{i}: {e:?}"))
                .failed();
        }
        assert!(matches!(
            limits.attempt(here, "claire"),
            Err(EnrolLimited::Address(_))
        ));
        assert!(limits.attempt(elsewhere, "claire").is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
