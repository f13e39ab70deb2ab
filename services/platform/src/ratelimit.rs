//! A fixed-window request counter per key (a client's address, an API key), in memory: each
//! process counts the requests it serves. Bounded: expired windows are dropped as keys pile up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before expired windows are swept.
const SWEEP_AT: usize = 100_000;

pub struct Limiter {
    per_window: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window: per_window.max(1),
            window,
            counts: Mutex::default(),
        }
    }

    /// Counts one request of `key`; over the limit, how long until its window ends.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= SWEEP_AT {
            counts.retain(|_, (started, _)| now.duration_since(*started) < self.window);
        }
        let (started, count) = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*started) >= self.window {
            *started = now;
            *count = 0;
        }
        if *count >= self.per_window {
            return Err(self.window.saturating_sub(now.duration_since(*started)));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_share_per_window_and_others_theirs() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check("10.0.0.1").is_ok());
        }
        let wait = limiter.check("10.0.0.1").unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(limiter.check("10.0.0.2").is_ok());

        let brief = Limiter::new(1, Duration::ZERO);
        assert!(brief.check("k").is_ok());
        assert!(brief.check("k").is_ok(), "a new window each time");
    }
}
