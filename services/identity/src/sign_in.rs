//! What keeps staff sign-in from being a way to exhaust memory or to guess passwords.
//!
//! Every attempt costs an argon2id hash (19 MiB for tens of milliseconds), so hashes computed at
//! once are bounded by a semaphore, and attempts are throttled per client address and per
//! username. Wrong passwords lock out the pair of a username and an address, never the
//! username alone: nobody can lock an officer out from elsewhere. Known and unknown usernames
//! go through the same steps and get the same answers.

use std::sync::Arc;
use std::time::Duration;

use crate::IdentityError;
use crate::config::StaffSignInConfig;
use platform::ApiError;
use platform::extract::ClientInfo;
use platform::ratelimit::{Counters, Limiter, address_key};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a sign-in waits for a free hashing slot before being told to come back.
const HASHING_WAIT: Duration = Duration::from_secs(1);

pub struct SignInGuard {
    hashing: Arc<Semaphore>,
    per_address: Limiter,
    per_username: Limiter,
    failures: Limiter,
}

/// One attempt, admitted: the keys its failure is counted under.
pub struct Attempt {
    pair: String,
}

impl SignInGuard {
    pub fn new(config: &StaffSignInConfig, counters: &Counters) -> Self {
        let hashing = match config.hashing_concurrency {
            0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let minute = Duration::from_secs(60);
        Self {
            hashing: Arc::new(Semaphore::new(hashing)),
            per_address: Limiter::new(
                counters,
                "staff_sign_in.address",
                config.per_address_per_minute,
                minute,
            ),
            per_username: Limiter::new(
                counters,
                "staff_sign_in.username",
                config.per_username_per_minute,
                minute,
            ),
            failures: Limiter::new(
                counters,
                "staff_sign_in.failures",
                config.failures_before_lockout,
                Duration::from_secs(config.lockout_secs.max(1)),
            ),
        }
    }

    /// Counts an attempt at `username` from `client`; refused when either is throttled or the
    /// pair is locked out.
    pub async fn admit(&self, username: &str, client: &ClientInfo) -> Result<Attempt, ApiError> {
        let address = client.ip.map_or_else(|| "unknown".to_owned(), address_key);
        let pair = format!("{username}|{address}");
        if let Some(wait) = self.failures.exhausted(&pair).await {
            return Err(ApiError::from(IdentityError::AccountLocked).with_retry_after(wait));
        }
        if let Err(wait) = self.per_address.check(&address).await {
            return Err(ApiError::from(IdentityError::TooManySignIns).with_retry_after(wait));
        }
        if let Err(wait) = self.per_username.check(username).await {
            return Err(ApiError::from(IdentityError::TooManySignIns).with_retry_after(wait));
        }
        Ok(Attempt { pair })
    }

    /// A slot to hash a password in, held until the hash is done; 429 when none frees soon.
    pub async fn hashing_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(HASHING_WAIT, self.hashing.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                Err(ApiError::from(IdentityError::SignInBusy)
                    .with_retry_after(Duration::from_secs(1)))
            }
        }
    }

    /// Counts a wrong password or code; true when it locks the pair out.
    pub async fn failed(&self, attempt: &Attempt) -> bool {
        self.failures.check(&attempt.pair).await.is_ok()
            && self.failures.exhausted(&attempt.pair).await.is_some()
    }
}
