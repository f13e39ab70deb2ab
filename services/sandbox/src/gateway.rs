//! What the payment gateway emulators (VNPay, MoMo) share: the switches a test flips to make a
//! gateway misbehave the way real ones do (no IPN, a late one, a wrong amount reported, a slow
//! merchant API), the IPN delivery loop with its retries and its duplicate, and the log of
//! every attempt, so a test can tell what the merchant answered.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Sha256, Sha512};

/// Real gateways give up on an IPN after a handful of tries.
const IPN_ATTEMPTS: u32 = 5;
/// Short, so tests that make the merchant fail stay fast.
const IPN_RETRY_PAUSE: Duration = Duration::from_millis(300);
/// How long the gateway waits for the merchant's IPN endpoint.
pub const IPN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpnMode {
    #[default]
    Normal,
    /// Never sent: the merchant learns the outcome from the return or by asking.
    None,
    /// Sent after `late_ms`, typically after the payer is back on the merchant's site.
    Late,
}

/// How the gateway treats one transaction (or every one, `*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Switch {
    pub ipn: IpnMode,
    pub late_ms: u64,
    /// VND added to the amount the gateway reports (a gateway charging the wrong amount).
    pub amount_delta: i64,
    /// How long the merchant API sleeps before answering for this transaction.
    pub api_timeout_ms: u64,
}

/// A test's change to a switch: the fields given replace the current ones, the others stay;
/// `clear` forgets the switch.
#[derive(Debug, Default, Deserialize)]
pub struct SwitchUpdate {
    ipn: Option<IpnMode>,
    late_ms: Option<u64>,
    amount_delta: Option<i64>,
    api_timeout_ms: Option<u64>,
    #[serde(default)]
    clear: bool,
}

#[derive(Default)]
pub struct Switches(Mutex<HashMap<String, Switch>>);

impl Switches {
    pub fn update(&self, key: String, update: SwitchUpdate) {
        let mut switches = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if update.clear {
            switches.remove(&key);
            return;
        }
        let switch = switches.entry(key).or_default();
        if let Some(ipn) = update.ipn {
            switch.ipn = ipn;
        }
        if let Some(late_ms) = update.late_ms {
            switch.late_ms = late_ms;
        }
        if let Some(delta) = update.amount_delta {
            switch.amount_delta = delta;
        }
        if let Some(timeout) = update.api_timeout_ms {
            switch.api_timeout_ms = timeout;
        }
    }

    /// The switch for `key`, else the one for every key, else normal behaviour.
    pub fn get(&self, key: &str) -> Switch {
        let switches = self.0.lock().unwrap_or_else(|p| p.into_inner());
        switches
            .get(key)
            .or_else(|| switches.get("*"))
            .copied()
            .unwrap_or_default()
    }

    /// Sleeps as long as the merchant API is told to for `key`.
    pub async fn api_delay(&self, key: &str) {
        let millis = self.get(key).api_timeout_ms;
        if millis > 0 {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
    }
}

/// Every IPN attempt, by transaction, oldest first.
#[derive(Default)]
pub struct IpnLog(Mutex<HashMap<String, Vec<Value>>>);

impl IpnLog {
    fn push(&self, key: &str, attempt: Value) {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.entry(key.to_owned()).or_default().push(attempt);
    }

    pub fn attempts(&self, key: &str) -> Vec<Value> {
        let log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.get(key).cloned().unwrap_or_default()
    }
}

/// Delivers an IPN as a real gateway does: `send(attempt)` until the merchant acknowledges it
/// (at most [`IPN_ATTEMPTS`] tries), then once more, since real gateways do send duplicates and
/// a merchant must cope. `send` answers whether the merchant acknowledged, and what to log.
pub async fn deliver_ipn<F, Fut>(switch: Switch, log: &IpnLog, key: &str, mut send: F)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = (bool, Value)>,
{
    match switch.ipn {
        IpnMode::None => return,
        IpnMode::Late => tokio::time::sleep(Duration::from_millis(switch.late_ms)).await,
        IpnMode::Normal => {}
    }
    for attempt in 1..=IPN_ATTEMPTS {
        let (acknowledged, entry) = send(attempt).await;
        log.push(key, entry);
        if acknowledged {
            let (_, duplicate) = send(attempt + 1).await;
            log.push(key, duplicate);
            return;
        }
        if attempt < IPN_ATTEMPTS {
            tokio::time::sleep(IPN_RETRY_PAUSE).await;
        }
    }
}

pub fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hmac_sha512_hex(key: &str, data: &str) -> String {
    match Hmac::<Sha512>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            lower_hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

pub fn hmac_sha256_hex(key: &str, data: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            lower_hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Where the sandbox was reached, for the absolute URLs it hands out.
pub fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned()
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `487350` as `487.350` (Vietnamese) or `487,350` (English).
pub fn grouped(amount: i64, separator: char) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    if amount < 0 {
        out.insert(0, '-');
    }
    out
}

/// `302 Found`, as the gateways answer (axum's `Redirect::to` is a 303).
pub fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// `url` with `query` appended, after `?` or `&` as `url` already has a query or not.
pub fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// A number in `[0, 1)` drawn from `parts` by SplitMix64: data generated from an id and an
/// hour, say, is the same on every start without a random generator.
pub fn unit(parts: &[u64]) -> f64 {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for part in parts {
        state = state
            .wrapping_add(*part)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        state = z ^ (z >> 31);
    }
    (state >> 11) as f64 / (1u64 << 53) as f64
}

/// What the sandboxes' tests share: a request to a router, and a real listener.
#[cfg(test)]
pub mod testing {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderMap, Request, StatusCode};
    use tower::ServiceExt as _;

    pub struct Answer {
        pub status: StatusCode,
        pub headers: HeaderMap,
        pub body: String,
    }

    impl Answer {
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_str(&self.body).unwrap()
        }

        pub fn location(&self) -> &str {
            self.headers["location"].to_str().unwrap()
        }
    }

    pub async fn send(app: &Router, request: Request<Body>) -> Answer {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(app: &Router, uri: &str) -> Answer {
        let request = Request::get(uri)
            .header("host", "sandbox.test")
            .body(Body::empty())
            .unwrap();
        send(app, request).await
    }

    pub async fn post_json(app: &Router, uri: &str, body: &serde_json::Value) -> Answer {
        let request = Request::post(uri)
            .header("host", "sandbox.test")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        send(app, request).await
    }

    pub async fn post_form(app: &Router, uri: &str, form: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        send(app, request).await
    }

    /// `app` on a real port, for the gateways' IPNs to reach; its base URL.
    pub async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    /// Waits (a few seconds at most) until `done` holds for what `fetch` gives.
    pub async fn eventually<T, F, Fut>(mut fetch: F, done: impl Fn(&T) -> bool) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        for _ in 0..100 {
            let value = fetch().await;
            if done(&value) {
                return value;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        fetch().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(grouped(487_350, '.'), "487.350");
        assert_eq!(grouped(1_000_000, ','), "1,000,000");
        assert_eq!(grouped(950, '.'), "950");
    }

    #[tokio::test]
    async fn an_acknowledged_ipn_is_sent_once_more_and_a_refused_one_five_times() {
        let log = IpnLog::default();
        let mut answers = vec![false, true, false].into_iter();
        deliver_ipn(Switch::default(), &log, "a", |attempt| {
            let ok = answers.next().unwrap_or(false);
            async move { (ok, serde_json::json!({ "attempt": attempt })) }
        })
        .await;
        assert_eq!(log.attempts("a").len(), 3);

        deliver_ipn(Switch::default(), &log, "b", |attempt| async move {
            (false, serde_json::json!({ "attempt": attempt }))
        })
        .await;
        assert_eq!(log.attempts("b").len(), 5);

        let none = Switch {
            ipn: IpnMode::None,
            ..Switch::default()
        };
        deliver_ipn(none, &log, "c", |attempt| async move {
            (true, serde_json::json!({ "attempt": attempt }))
        })
        .await;
        assert!(log.attempts("c").is_empty());
    }
}
