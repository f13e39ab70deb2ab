//! An emulator of a Web Push service (RFC 8030), the part of Chrome's, Firefox's or Safari's
//! push infrastructure an application server talks to, so the web app's pushes are sent and
//! tested without a browser:
//!
//! - `POST /sandbox/webpush/subscriptions`: what a browser's `pushManager.subscribe()` does: a
//!   new endpoint and the `p256dh`/`auth` keys to encrypt for (the private key stays here), bound
//!   to an application server key when one is given.
//! - `POST /sandbox/webpush/push/{id}`: a push message, checked as the real services do: the
//!   `TTL` header, `Urgency` and `Topic` values, a VAPID `Authorization` (RFC 8292: an ES256 JWT
//!   for this origin, expiring within 24 hours, with a `sub` contact, signed by the key the
//!   subscription is bound to), `Content-Encoding: aes128gcm`, at most 4096 bytes, and a body
//!   that decrypts (RFC 8291). `201 Created` with a `Location`, as the RFC says.
//! - `POST /sandbox/webpush/control`: answers 404, 410 (the subscription is gone), 413, 429
//!   with `Retry-After`, 500 or 503 for a subscription (or every one), the next N times.
//! - `GET /sandbox/webpush/deliveries`: what it accepted, decrypted, for tests to read;
//!   `DELETE` forgets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::faults::{self, Faults};
use crate::recorded::Recorded;
use aes_gcm::aead::{Aead, KeyInit};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

/// What push services accept as a message body (RFC 8030 asks for at least 4096 bytes).
const MAX_BODY_BYTES: usize = 4096;
/// RFC 8292: a VAPID token may not live longer than this.
const MAX_VAPID_LIFETIME_SECS: i64 = 24 * 3600;

#[derive(Clone, Default)]
struct Emulator {
    subscriptions: Arc<Mutex<HashMap<String, Subscription>>>,
    /// Answers to give instead of success, by subscription id (`*` for all).
    faults: Arc<Faults<Answer>>,
    deliveries: Arc<Recorded<Delivery>>,
}

#[derive(Clone)]
struct Subscription {
    secret: p256::SecretKey,
    auth: [u8; 16],
    /// The VAPID public key the subscription was made for (uncompressed point), if any.
    application_server_key: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    /// 404: no such subscription (it expired).
    NotFound,
    /// 410: the user unsubscribed.
    Gone,
    PayloadTooLarge,
    TooManyRequests,
    Internal,
    Unavailable,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub subscription: String,
    pub message_id: String,
    pub ttl: u64,
    pub urgency: String,
    pub topic: Option<String>,
    /// The decrypted body.
    pub payload: String,
    /// The VAPID `sub` claim: who the push service would contact.
    pub contact: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

pub fn router() -> Router {
    Router::new()
        .route("/subscriptions", post(subscribe))
        .route("/push/{id}", post(push))
        .route("/control", post(control))
        .route("/deliveries", axum::routing::get(deliveries).delete(forget))
        .with_state(Emulator::default())
}

/// The push service's error body (autopush's shape: code, errno, error, message).
fn refuse(status: StatusCode, message: &str) -> Response {
    Refusal(status, message.to_owned()).into_response()
}

/// A message refused, and why.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Refusal(status, message) = self;
        (
            status,
            Json(json!({
                "code": status.as_u16(),
                "errno": 999,
                "error": status.canonical_reason().unwrap_or_default(),
                "message": message,
            })),
        )
            .into_response()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SubscribeRequest {
    /// The application server's VAPID public key, base64url (`applicationServerKey`).
    application_server_key: Option<String>,
}

/// A new subscription: its endpoint and keys, as `PushSubscription.toJSON()` gives them.
async fn subscribe(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    body: Option<Json<SubscribeRequest>>,
) -> Response {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    let application_server_key = match request.application_server_key.as_deref() {
        Some(key) => match URL_SAFE_NO_PAD
            .decode(key.trim_end_matches('='))
            .ok()
            .filter(|k| p256::PublicKey::from_sec1_bytes(k).is_ok())
        {
            Some(key) => Some(key),
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "applicationServerKey is not a P-256 public key",
                );
            }
        },
        None => None,
    };
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let public = secret.public_key().to_encoded_point(false);
    let auth: [u8; 16] = rand::random();
    let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
    let endpoint = format!("{}/sandbox/webpush/push/{id}", origin(&headers));
    emulator
        .subscriptions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            id,
            Subscription {
                secret,
                auth,
                application_server_key,
            },
        );
    (
        StatusCode::CREATED,
        Json(json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(auth),
            },
        })),
    )
        .into_response()
}

/// This emulator's origin as its callers reach it (it serves plain HTTP).
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn push(
    State(emulator): State<Emulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(response) = emulator.fault_for(&id) {
        return response;
    }
    let subscription = emulator
        .subscriptions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    let Some(subscription) = subscription else {
        return refuse(StatusCode::NOT_FOUND, "No such subscription");
    };
    let delivery = match accept(&subscription, &id, &headers, &body) {
        Ok(delivery) => delivery,
        Err(refusal) => return refusal.into_response(),
    };
    let location = format!(
        "{}/sandbox/webpush/message/{}",
        origin(&headers),
        delivery.message_id
    );
    emulator.deliveries.push(delivery);
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Checks a push message as a push service does; what it delivers.
fn accept(
    subscription: &Subscription,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Delivery, Refusal> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bad = |message: &str| Refusal(StatusCode::BAD_REQUEST, message.to_owned());
    let ttl = text("ttl")
        .ok_or_else(|| bad("Missing TTL header"))?
        .trim()
        .parse::<u64>()
        .map_err(|_| bad("Invalid TTL header"))?;
    let urgency = text("urgency").unwrap_or("normal").to_owned();
    if !["very-low", "low", "normal", "high"].contains(&urgency.as_str()) {
        return Err(bad("Invalid Urgency header"));
    }
    let topic = text("topic").map(str::to_owned);
    if topic.as_ref().is_some_and(|t| {
        t.is_empty()
            || t.len() > 32
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(bad("Topic must be at most 32 URL-safe base64 characters"));
    }
    let contact = check_vapid(subscription, &origin(headers), text("authorization"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Message body too large".into(),
        ));
    }
    if body.is_empty() {
        return Err(bad("A push without a payload carries nothing to show"));
    }
    if text("content-encoding") != Some("aes128gcm") {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding must be aes128gcm".into(),
        ));
    }
    let payload = decrypt(&subscription.secret, &subscription.auth, body)
        .map_err(|reason| bad(&format!("Payload does not decrypt: {reason}")))?;
    let payload = String::from_utf8(payload).map_err(|_| bad("Payload is not UTF-8"))?;
    Ok(Delivery {
        subscription: id.to_owned(),
        message_id: uuid::Uuid::new_v4().simple().to_string(),
        ttl,
        urgency,
        topic,
        payload,
        contact,
        received_at: chrono::Utc::now(),
    })
}

#[derive(Deserialize)]
struct VapidClaims {
    aud: String,
    exp: i64,
    sub: String,
}

/// RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`; the `sub` contact.
fn check_vapid(
    subscription: &Subscription,
    origin: &str,
    authorization: Option<&str>,
) -> Result<String, Refusal> {
    let unauthorized = |message: &str| Refusal(StatusCode::UNAUTHORIZED, message.to_owned());
    let Some(parameters) = authorization.and_then(|a| a.strip_prefix("vapid ")) else {
        return Err(unauthorized("Missing VAPID authorization"));
    };
    let mut token = None;
    let mut key = None;
    for parameter in parameters.split(',') {
        match parameter.trim().split_once('=') {
            Some(("t", value)) => token = Some(value.trim()),
            Some(("k", value)) => key = Some(value.trim()),
            _ => {}
        }
    }
    let (Some(token), Some(key)) = (token, key) else {
        return Err(unauthorized("VAPID authorization needs t= and k="));
    };
    let key = URL_SAFE_NO_PAD
        .decode(key.trim_end_matches('='))
        .map_err(|_| unauthorized("VAPID k is not base64url"))?;
    if key.len() != 65 || key[0] != 4 {
        return Err(unauthorized("VAPID k is not an uncompressed P-256 point"));
    }
    if let Some(bound) = &subscription.application_server_key
        && *bound != key
    {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "VAPID key does not match the subscription's applicationServerKey".into(),
        ));
    }
    let decoding = DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&key[1..33]),
        &URL_SAFE_NO_PAD.encode(&key[33..]),
    )
    .map_err(|_| unauthorized("VAPID k is not a P-256 key"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[origin]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<VapidClaims>(token, &decoding, &validation)
        .map_err(|e| unauthorized(&format!("VAPID token refused: {e}")))?
        .claims;
    debug_assert_eq!(claims.aud, origin);
    if claims.exp > chrono::Utc::now().timestamp() + MAX_VAPID_LIFETIME_SECS {
        return Err(unauthorized("VAPID token expires more than 24 hours ahead"));
    }
    if !(claims.sub.starts_with("mailto:") || claims.sub.starts_with("https://")) {
        return Err(unauthorized(
            "VAPID sub must be a mailto: or https: contact",
        ));
    }
    Ok(claims.sub)
}

/// Decrypts an `aes128gcm` body (RFC 8188) with a subscription's keys (RFC 8291).
pub fn decrypt(
    secret: &p256::SecretKey,
    auth: &[u8; 16],
    body: &[u8],
) -> Result<Vec<u8>, &'static str> {
    // Header: salt (16), record size (4), key id length (1), key id: the sender's public key.
    let (salt, rest) = body.split_at_checked(16).ok_or("too short")?;
    let (size, rest) = rest.split_at_checked(4).ok_or("too short")?;
    let record_size = u32::from_be_bytes(size.try_into().map_err(|_| "too short")?) as usize;
    let (&id_length, rest) = rest.split_first().ok_or("too short")?;
    let (sender_key, records) = rest
        .split_at_checked(usize::from(id_length))
        .ok_or("too short")?;
    if record_size < 18 {
        return Err("record size below 18");
    }
    let sender =
        p256::PublicKey::from_sec1_bytes(sender_key).map_err(|_| "key id is not a P-256 key")?;
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), sender.as_affine());

    // RFC 8291 section 3.4: the input keying material mixes in the auth secret and both keys.
    let receiver_key = secret.public_key().to_encoded_point(false);
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(receiver_key.as_bytes());
    key_info.extend_from_slice(sender_key);
    let mut ikm = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| "key derivation")?;
    // RFC 8188 section 2.2 and 2.3: the content encryption key and the nonce base.
    let derived = hkdf::Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut key = [0u8; 16];
    let mut nonce_base = [0u8; 12];
    derived
        .expand(b"Content-Encoding: aes128gcm\0", &mut key)
        .map_err(|_| "key derivation")?;
    derived
        .expand(b"Content-Encoding: nonce\0", &mut nonce_base)
        .map_err(|_| "key derivation")?;
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&key).map_err(|_| "key length")?;

    let chunks: Vec<&[u8]> = records.chunks(record_size).collect();
    if chunks.is_empty() {
        return Err("no records");
    }
    let mut plaintext = Vec::with_capacity(records.len());
    for (sequence, chunk) in chunks.iter().enumerate() {
        let mut nonce = nonce_base;
        for (byte, counter) in nonce[4..].iter_mut().zip((sequence as u64).to_be_bytes()) {
            *byte ^= counter;
        }
        let record = cipher
            .decrypt(aes_gcm::Nonce::from_slice(&nonce), *chunk)
            .map_err(|_| "authentication failed")?;
        // Content, a delimiter (2 in the last record, 1 before), then zero padding.
        let end = record
            .iter()
            .rposition(|&b| b != 0)
            .ok_or("record has no delimiter")?;
        let last = sequence + 1 == chunks.len();
        if record[end] != if last { 2 } else { 1 } {
            return Err("wrong padding delimiter");
        }
        plaintext.extend_from_slice(&record[..end]);
    }
    Ok(plaintext)
}

impl Emulator {
    /// The fault configured for `subscription` (or for every one), counting it down.
    fn fault_for(&self, subscription: &str) -> Option<Response> {
        let (answer, retry_after) = self.faults.take(subscription)?;
        let (status, message) = match answer {
            Answer::NotFound => (StatusCode::NOT_FOUND, "Subscription expired"),
            Answer::Gone => (StatusCode::GONE, "Subscription no longer valid"),
            Answer::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Message body too large"),
            Answer::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            Answer::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
            Answer::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
        };
        let response = refuse(status, message);
        Some(faults::retry_after(response, retry_after))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    /// A subscription id (the endpoint's last segment), or `*` for every one.
    subscription: String,
    /// What to answer; `null` goes back to success.
    answer: Option<Answer>,
    /// How many requests get it; every one until told otherwise when absent.
    times: Option<u32>,
    retry_after_secs: Option<u64>,
}

async fn control(State(emulator): State<Emulator>, Json(control): Json<Control>) -> StatusCode {
    emulator.faults.set(
        control.subscription,
        control.answer,
        control.times,
        control.retry_after_secs,
    );
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct DeliveryQuery {
    subscription: Option<String>,
}

async fn deliveries(
    State(emulator): State<Emulator>,
    Query(query): Query<DeliveryQuery>,
) -> Json<Vec<Delivery>> {
    Json(emulator.deliveries.matching(|d| {
        query
            .subscription
            .as_deref()
            .is_none_or(|s| d.subscription == s)
    }))
}

async fn forget(State(emulator): State<Emulator>) -> StatusCode {
    emulator.deliveries.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8291, appendix A: the user agent's keys and the message the application server sent.
    #[test]
    fn decrypts_the_rfc_8291_example() {
        let secret = p256::SecretKey::from_slice(&hex(
            "ab5757a70dd4a53e553a6bbf71ffefea2874ec07a6b379e3c48f895a02dc33de",
        ))
        .unwrap();
        assert_eq!(
            secret.public_key().to_encoded_point(false).as_bytes(),
            hex(
                "042571b2becdfde360551aaf1ed0f4cd366c11cebe555f89bcb7b186a53339173168ece2ebe018597bd30479b86e3c8f8eced577ca59187e9246990db682008b0e"
            )
        );
        let auth: [u8; 16] = hex("05305932a1c7eabe13b6cec9fda48882").try_into().unwrap();
        let body = hex(
            "0c6bfaadad67958803092d454676f397000010004104fe33f4ab0dea71914db55823f73b54948f41306d920732dbb9a59a53286482200e597a7b7bc260ba1c227998580992e93973002f3012a28ae8f06bbb78e5ec0ff297de5b429bba7153d3a4ae0caa091fd425f3b4b5414add8ab37a19c1bbb05cf5cb5b2a2e0562d558635641ec52812c6c8ff42e95ccb86be7cd",
        );
        assert_eq!(
            decrypt(&secret, &auth, &body).unwrap(),
            b"When I grow up, I want to be a watermelon"
        );

        // One bit changed anywhere in the ciphertext, or the wrong auth secret: refused.
        let mut tampered = body.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            decrypt(&secret, &auth, &tampered),
            Err("authentication failed")
        );
        assert!(decrypt(&secret, &[0; 16], &body).is_err());
        assert!(decrypt(&secret, &auth, &body[..20]).is_err());
    }
}
