//! Failures a sandbox gives on demand, as tests tell it: an answer for one key (a registration
//! token, a subscription) or for every key (`*`), the next N times or until told otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

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

/// The faults of a sandbox that fails as a whole, whatever is asked: `down` is `503` with a
/// `Retry-After` (30 s unless told), `slow` answers late (10 s unless told), `garbage` is `200`
/// with a body cut off midway (`application/json`, or what the sandbox speaks).
#[derive(Clone, Copy)]
pub enum Outage {
    Down,
    Slow(Duration),
    Garbage,
}

/// `POST /faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n, "delay_ms": n,
/// "retry_after_secs": n}`, as the sandboxes take it.
#[derive(Deserialize)]
pub struct OutageRequest {
    mode: Option<String>,
    times: Option<u32>,
    delay_ms: Option<u64>,
    retry_after_secs: Option<u64>,
}

impl Faults<Outage> {
    /// Gives every request the outage `request` asks for (none for `null`): `204`, or `422`
    /// for an unknown mode.
    pub fn apply(&self, request: OutageRequest) -> StatusCode {
        let outage = match request.mode.as_deref() {
            None => None,
            Some("down") => Some(Outage::Down),
            Some("slow") => Some(Outage::Slow(Duration::from_millis(
                request.delay_ms.unwrap_or(10_000),
            ))),
            Some("garbage") => Some(Outage::Garbage),
            Some(_) => return StatusCode::UNPROCESSABLE_ENTITY,
        };
        self.set(
            "*".to_owned(),
            outage,
            request.times,
            request.retry_after_secs,
        );
        StatusCode::NO_CONTENT
    }

    /// What to answer instead of the real answer now, if anything, `garbage` being the body cut
    /// off midway; a slow answer waits here and then goes on as usual.
    pub async fn due(&self, garbage: &'static str) -> Option<Response> {
        self.due_as("application/json", garbage).await
    }

    /// [`Self::due`] for a sandbox that speaks something other than JSON: `garbage` goes out as
    /// `content_type`.
    pub async fn due_as(
        &self,
        content_type: &'static str,
        garbage: &'static str,
    ) -> Option<Response> {
        let (outage, after) = self.take("*")?;
        match outage {
            Outage::Down => Some(retry_after(
                (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
                Some(after.unwrap_or(30)),
            )),
            Outage::Slow(delay) => {
                tokio::time::sleep(delay).await;
                None
            }
            Outage::Garbage => {
                Some(([(header::CONTENT_TYPE, content_type)], garbage).into_response())
            }
        }
    }
}
