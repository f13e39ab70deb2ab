//! Fixed-window request counters per key (a client's address, an account, an API key).
//!
//! With `redis.url` set the counts live in Redis, so every replica counts against one limit;
//! otherwise in this process. Counting is atomic either way (one transaction in Redis, a mutex
//! here): concurrent requests never pass a limit together. A key's window starts at its first
//! count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept in process before expired windows are swept.
const SWEEP_AT: usize = 100_000;
/// A Redis call slower than this counts in process instead (a limit must not stall a request).
const REDIS_DEADLINE: Duration = Duration::from_millis(500);

/// Where counts are kept; cheap to clone, one per process.
#[derive(Clone)]
pub struct Counters {
    redis: Option<redis::aio::ConnectionManager>,
}

impl Counters {
    /// Counts in this process only (one replica, or no Redis configured).
    pub fn in_process() -> Self {
        Self { redis: None }
    }

    /// Counts in Redis at `url`, shared by every replica that uses it.
    pub async fn redis(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("redis.url is not usable: {e}"))?;
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            redis::aio::ConnectionManager::new(client),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis at redis.url did not answer within 5 s"))?
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at redis.url: {e}"))?;
        Ok(Self {
            redis: Some(connection),
        })
    }

    /// Where the counts live, for logs and `--help`.
    pub fn backend(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "in-process"
        }
    }
}

/// A limit of `per_window` counts per key and window, named (`name`) so that two limits never
/// share a Redis key.
pub struct Limiter {
    name: &'static str,
    per_window: u32,
    window: Duration,
    counters: Counters,
    /// Used without Redis, and when Redis fails (each replica then holds the limit alone).
    local: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(counters: &Counters, name: &'static str, per_window: u32, window: Duration) -> Self {
        Self {
            name,
            per_window: per_window.max(1),
            window: window.max(Duration::from_millis(1)),
            counters: counters.clone(),
            local: Mutex::default(),
        }
    }

    /// Counts one request of `key`; over the limit, how long until its window ends.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        let (count, left) = self.count(key, 1).await;
        if count > u64::from(self.per_window) {
            Err(left)
        } else {
            Ok(())
        }
    }

    /// How many times `key` was counted in the current window, without counting.
    pub async fn current(&self, key: &str) -> u64 {
        self.count(key, 0).await.0
    }

    /// Whether `key` has used up its window already (without counting this time).
    pub async fn exhausted(&self, key: &str) -> Option<Duration> {
        let (count, left) = self.count(key, 0).await;
        (count >= u64::from(self.per_window)).then_some(left)
    }

    /// Adds `by` to `key`'s count in its window (which starts at its first count); the count
    /// and the window's time left.
    async fn count(&self, key: &str, by: u32) -> (u64, Duration) {
        if let Some(redis) = &self.counters.redis {
            match tokio::time::timeout(REDIS_DEADLINE, self.count_in_redis(redis, key, by)).await {
                Ok(Ok(counted)) => return counted,
                Ok(Err(error)) => {
                    tracing::warn!(%error, limit = self.name, "Redis failed: counting in process")
                }
                Err(_) => tracing::warn!(limit = self.name, "Redis is slow: counting in process"),
            }
        }
        let now = Instant::now();
        let mut counts = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= SWEEP_AT {
            counts.retain(|_, (started, _)| now.duration_since(*started) < self.window);
        }
        let (started, count) = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*started) >= self.window {
            *started = now;
            *count = 0;
        }
        *count = count.saturating_add(by);
        (
            u64::from(*count),
            self.window.saturating_sub(now.duration_since(*started)),
        )
    }

    /// One atomic round trip: the window's key is created with its expiry at the first count,
    /// then counted; its time to live is the window's time left.
    async fn count_in_redis(
        &self,
        redis: &redis::aio::ConnectionManager,
        key: &str,
        by: u32,
    ) -> redis::RedisResult<(u64, Duration)> {
        let redis_key = format!("citizen:limit:{}:{key}", self.name);
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let mut connection = redis.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        if by == 0 {
            pipe.cmd("GET").arg(&redis_key);
        } else {
            pipe.cmd("SET")
                .arg(&redis_key)
                .arg(0)
                .arg("PX")
                .arg(window_ms)
                .arg("NX")
                .ignore()
                .cmd("INCRBY")
                .arg(&redis_key)
                .arg(by);
        }
        pipe.cmd("PTTL").arg(&redis_key);
        let (count, ttl_ms): (Option<u64>, i64) = pipe.query_async(&mut connection).await?;
        let left = u64::try_from(ttl_ms).map_or(self.window, Duration::from_millis);
        Ok((count.unwrap_or(0), left))
    }
}

/// The key a client address is counted under: an IPv6 client is one /64 (a subscriber is
/// given a whole /64, so counting single addresses would give them 2^64 shares).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Redis on this machine (every machine here runs one); a test fails without it.
    async fn redis() -> Counters {
        let url =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Counters::redis(&url).await.expect("the test Redis answers")
    }

    #[tokio::test]
    async fn a_key_gets_its_share_per_window_and_others_theirs() {
        let limiter = Limiter::new(&Counters::in_process(), "t", 3, Duration::from_secs(3600));
        for _ in 0..3 {
            assert!(limiter.check("10.0.0.1").await.is_ok());
        }
        let wait = limiter.check("10.0.0.1").await.unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3600));
        assert!(limiter.check("10.0.0.2").await.is_ok());
    }

    #[tokio::test]
    async fn replicas_sharing_redis_share_one_limit_under_concurrency() {
        let counters = redis().await;
        let name: &'static str = Box::leak(format!("test-{}", uuid::Uuid::new_v4()).into());
        // Two replicas: two limiters on one Redis.
        let replicas = [
            Arc::new(Limiter::new(&counters, name, 20, Duration::from_secs(3600))),
            Arc::new(Limiter::new(&counters, name, 20, Duration::from_secs(3600))),
        ];
        let attempts = (0..60).map(|i| {
            let limiter = replicas[i % 2].clone();
            tokio::spawn(async move { limiter.check("account").await.is_ok() })
        });
        let allowed = futures::future::join_all(attempts)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(true)))
            .count();
        assert_eq!(allowed, 20);
        assert_eq!(replicas[0].current("account").await, 60);
        assert!(replicas[1].current("another").await == 0);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
    }
}
