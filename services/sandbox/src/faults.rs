//! Failures a sandbox gives on demand, as tests tell it: an answer for one key (a registration
//! token, a subscription) or for every key (`*`), the next N times or until told otherwise.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderValue, header};
use axum::response::Response;

struct Fault<A> {
    answer: A,
    /// How many more requests get it; `None`: until told otherwise.
    remaining: Option<u32>,
    retry_after_secs: Option<u64>,
}

pub struct Faults<A>(Mutex<HashMap<String, Fault<A>>>);

impl<A> Default for Faults<A> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<A: Copy> Faults<A> {
    /// Gives `answer` to `key` (or `*`) the next `times` requests (all, when `None`), with a
    /// `Retry-After`; `None` goes back to success.
    pub fn set(
        &self,
        key: String,
        answer: Option<A>,
        times: Option<u32>,
        retry_after_secs: Option<u64>,
    ) {
        let mut faults = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match answer {
            Some(answer) => {
                faults.insert(
                    key,
                    Fault {
                        answer,
                        remaining: times,
                        retry_after_secs,
                    },
                );
            }
            None => {
                faults.remove(&key);
            }
        }
    }

    /// The answer due to `key` (or to every key) now, counted down, with its `Retry-After`.
    pub fn take(&self, key: &str) -> Option<(A, Option<u64>)> {
        let mut faults = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = if faults.contains_key(key) { key } else { "*" };
        let fault = faults.get_mut(key)?;
        let due = (fault.answer, fault.retry_after_secs);
        match &mut fault.remaining {
            Some(0) => {
                faults.remove(key);
                return None;
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(due)
    }
}

/// `response` with a `Retry-After` of `seconds`, if any.
pub fn retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
