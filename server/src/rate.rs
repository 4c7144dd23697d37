//! Rate limits: a token bucket per device, in this process's memory ([`RateLimiter`]: it
//! protects the process, and several processes behind a load balancer each protect
//! themselves), and the limits on failed enrolments per username and per client address
//! (§6), whose buckets live in the database so that every process shares them
//! ([`EnrolLimit`]: the arithmetic is here, the storage reads and writes the buckets in
//! one transaction).
//!
//! Why not a crate: `governor`, the maintained choice, keeps one state per key in a map
//! that grows with every key it sees until the caller prunes it (`retain_recent`), with no
//! bound on how many keys it holds, and it can only take a token, never give one back.
//! The device limit needs a hard bound on the keys, and the enrolment limits a token
//! taken before the password check and given back when the check succeeds (so that only
//! failures count and requests running at once cannot slip past the limit), in a
//! database.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sha2::Sha256;
use sync_protocol::ReplicaId;

/// Requests a device may make per second, sustained, by default (§6: at least 20).
pub const DEFAULT_RATE: f64 = 20.0;
/// How many requests a bucket holds: the burst (§6: at least 60).
pub const BURST_SECONDS: f64 = 3.0;
/// The most devices whose buckets are kept at once.
pub const MAX_DEVICES: usize = 100_000;

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

    /// How many keys are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets().len()
    }
}

/// The limits on failed enrolments (§6), one token bucket per key, kept in the database
/// so that every server process on it shares them: a failure takes a token, a bucket
/// refills at `rate` tokens a second up to `burst`, and an empty bucket refuses (429).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnrolLimit {
    /// Tokens a second, sustained.
    pub rate: f64,
    /// Tokens a full bucket holds: the failures allowed at once.
    pub burst: f64,
}

/// Failed enrolments per username: 10 at once, then one every 5 seconds, from every
/// address together (a guesser cannot just move).
pub const USERNAME_LIMIT: EnrolLimit = EnrolLimit {
    rate: 0.2,
    burst: 10.0,
};

/// Failed enrolments per client address: 50 at once, then one every 5 seconds, so that
/// an office behind one address where several people mistype is not shut out, while a
/// thousand guesses from one address are.
pub const ADDRESS_LIMIT: EnrolLimit = EnrolLimit {
    rate: 0.2,
    burst: 50.0,
};

/// A bucket as stored: its tokens when last counted, at `at` (seconds since 1970).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredBucket {
    /// Tokens left then.
    pub tokens: f64,
    /// When, in seconds since 1970 (wall clock: every process reads the same).
    pub at: f64,
}

impl EnrolLimit {
    /// The tokens of `bucket` at `now`: refilled since, up to the burst; a key never seen
    /// (or pruned) has a full bucket.
    pub fn tokens_at(self, bucket: Option<StoredBucket>, now: f64) -> f64 {
        match bucket {
            None => self.burst,
            Some(b) => (b.tokens + (now - b.at).max(0.0) * self.rate).min(self.burst),
        }
    }

    /// Takes one token at `now`: the bucket to store, or the wait before the next token.
    pub fn take(self, bucket: Option<StoredBucket>, now: f64) -> Result<StoredBucket, Duration> {
        let tokens = self.tokens_at(bucket, now);
        if tokens >= 1.0 {
            Ok(StoredBucket {
                tokens: tokens - 1.0,
                at: now,
            })
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    /// Gives back a token that [`take`](Self::take) took, when the attempt did not fail.
    pub fn give_back(self, bucket: Option<StoredBucket>, now: f64) -> StoredBucket {
        StoredBucket {
            tokens: (self.tokens_at(bucket, now) + 1.0).min(self.burst),
            at: now,
        }
    }

    /// When `bucket` is full again (seconds since 1970): past it, its row says nothing
    /// that a missing row does not, and is pruned.
    pub fn full_at(self, bucket: StoredBucket) -> f64 {
        bucket.at + (self.burst - bucket.tokens).max(0.0) / self.rate
    }
}

/// Now, in seconds since 1970, from the wall clock: the buckets are shared by every
/// process on the database, which share no other clock.
pub fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The key under which failures are counted: 128 bits of an HMAC under the database's
/// secret, so that neither the username nor the address is kept, nor can be found again
/// by hashing guesses without that secret.
pub type EnrolKey = [u8; 16];

/// The keys and limits of one enrolment attempt: the client address's first, then the
/// username's (every attempt takes them in this order, so concurrent attempts never
/// wait on each other's rows in a cycle).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnrolKeys {
    /// The client address's key ([`address_key`] of the address).
    pub address: EnrolKey,
    /// The username's key.
    pub username: EnrolKey,
}

impl EnrolKeys {
    /// The keys of `username` from `address`, under `secret`.
    pub fn new(secret: &[u8; 32], address: IpAddr, username: &str) -> Self {
        let address = address_key(address).to_string();
        Self {
            address: keyed(secret, b"enrolment-address", address.as_bytes()),
            username: keyed(secret, b"enrolment-username", username.as_bytes()),
        }
    }

    /// Each key with its limit, in the order they are taken.
    pub fn with_limits(self) -> [(EnrolKey, EnrolLimit); 2] {
        [
            (self.address, ADDRESS_LIMIT),
            (self.username, USERNAME_LIMIT),
        ]
    }

    /// Short forms of the two keys for the logs (address, username): enough for an
    /// operator to correlate and alert on the failures of one address or one username,
    /// and nothing that names either.
    pub fn short(&self) -> (String, String) {
        let short = |key: &EnrolKey| crate::journal::hex(&key[..6]);
        (short(&self.address), short(&self.username))
    }
}

/// HMAC-SHA256 of `text` under `secret`, in the domain `domain`, cut to 128 bits.
fn keyed(secret: &[u8; 32], domain: &[u8], text: &[u8]) -> EnrolKey {
    use hmac::{Mac, digest::KeyInit};
    // A 32-byte key padded to SHA-256's block gives the same MAC, from the constructor
    // that cannot fail (see `journal::user_mac`).
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(secret);
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(domain);
    mac.update(&[0]);
    mac.update(text);
    let digest = mac.finalize().into_bytes();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Which limit refused an enrolment attempt, and the wait before the next try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolLimited {
    /// Too many failures from this client address.
    Address(Duration),
    /// Too many failures for this username.
    Username(Duration),
}

/// The address under which failed enrolments from `address` are counted: the address
/// itself for IPv4, its /64 network for IPv6 (one subscriber holds a whole /64).
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

/// The client's address: the TCP peer, or, when the peer is one of the `trusted`
/// proxies, the right-most address of `X-Forwarded-For` that is not itself a trusted
/// proxy (each proxy appends the address it was reached from, so the left part is
/// whatever the client chose to send). A forged header from any other peer is ignored.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| same_ip(*t, ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => continue,
            Some(ip) => return ip,
            // Unreadable: nothing left of it can be trusted; the last trusted hop stands
            // for the client.
            None => break,
        }
    }
    peer
}

/// Whether two addresses are the same, an IPv4-mapped IPv6 address being its IPv4 one.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
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
    fn a_bucket_takes_its_burst_refills_and_gives_back() {
        let limit = USERNAME_LIMIT;
        let mut bucket = None;
        for i in 0..10 {
            bucket = Some(
                limit
                    .take(bucket, 1000.0)
                    .unwrap_or_else(|w| panic!("failure {i}: {w:?}")),
            );
        }
        let wait = limit.take(bucket, 1000.0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(5), "one token every 5 s");
        assert!(limit.take(bucket, 1005.0).is_ok(), "refilled after 5 s");
        let given = limit.give_back(bucket, 1000.0);
        assert!(
            limit.take(Some(given), 1000.0).is_ok(),
            "a token given back"
        );
        let full = limit.give_back(None, 1000.0);
        assert_eq!(full.tokens, 10.0, "never above the burst");
        assert_eq!(limit.full_at(full), 1000.0);
        assert_eq!(
            limit.full_at(bucket.unwrap()),
            1050.0,
            "an empty bucket is full again after burst / rate seconds"
        );
    }

    #[test]
    fn keys_are_keyed_hashes_of_their_kind() {
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        let keys = EnrolKeys::new(&[1; 32], here, "marie");
        assert_ne!(keys, EnrolKeys::new(&[2; 32], here, "marie"), "keyed");
        let same = EnrolKeys::new(&[1; 32], "::ffff:192.0.2.1".parse().unwrap(), "marie");
        assert_eq!(keys, same);
        assert_ne!(
            keys.address,
            EnrolKeys::new(&[1; 32], here, "192.0.2.1").username,
            "an address and a username that read alike have different keys"
        );
        let (address, username) = keys.short();
        assert_eq!((address.len(), username.len()), (12, 12));
    }

    #[test]
    fn x_forwarded_for_is_read_only_from_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        assert_eq!(
            client_address(ip("192.0.2.9"), &["203.0.113.7"], &trusted),
            ip("192.0.2.9"),
            "a forged header from an untrusted peer is ignored"
        );
        assert_eq!(
            client_address(proxy, &["198.51.100.1, 203.0.113.7"], &trusted),
            ip("203.0.113.7"),
            "the right-most entry: the address the proxy saw"
        );
        assert_eq!(
            client_address(
                proxy,
                &["198.51.100.1", "203.0.113.7:4711, 10.0.0.2"],
                &trusted
            ),
            ip("203.0.113.7"),
            "trusted proxies in the chain are skipped, headers read in order, ports dropped"
        );
        assert_eq!(
            client_address(proxy, &["[2001:db8::5]:80"], &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(client_address(proxy, &[], &trusted), proxy, "no header");
        assert_eq!(
            client_address(proxy, &["198.51.100.1, garbage"], &trusted),
            proxy,
            "an unreadable hop: nothing before it is trusted"
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &["203.0.113.7"], &trusted),
            ip("203.0.113.7"),
            "a proxy seen as an IPv4-mapped IPv6 peer"
        );
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
