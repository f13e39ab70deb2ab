//! Our own client of Firebase Cloud Messaging's HTTP v1 API (the `fcm` crate speaks the legacy
//! API Google shut down in 2024).
//!
//! - OAuth 2.0 for service accounts: a JWT assertion signed RS256 with the service account's
//!   key, exchanged at its `token_uri` for an access token, cached and renewed five minutes
//!   before it expires.
//! - `POST {base}/v1/projects/{project}/messages:send`, one message per registration token, over
//!   pooled HTTP/2 connections, at most `concurrency` requests at once.
//! - Errors classified from `details[].errorCode`: the device is gone (`UNREGISTERED`, or an
//!   `INVALID_ARGUMENT` about the token), try again (`QUOTA_EXCEEDED`, `UNAVAILABLE`,
//!   `INTERNAL`, a 502/504 from a proxy) honouring `Retry-After` with exponential backoff and
//!   jitter, or our configuration is wrong (`SENDER_ID_MISMATCH`, `THIRD_PARTY_AUTH_ERROR`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use crate::SendError;
use crate::transport::{self, Answer, HttpClient};

pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// An access token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Backoff between attempts: doubling from the first, at most the cap, with full jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The fields of a Google service-account key file that signing needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: String,
    pub client_email: String,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

struct AccessToken {
    value: String,
    renew_at: Instant,
}

pub struct FcmClient {
    http: HttpClient,
    account: ServiceAccount,
    key: EncodingKey,
    send_url: String,
    token: Mutex<Option<AccessToken>>,
    permits: Arc<Semaphore>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl FcmClient {
    /// A client for `account`, sending to `base_url` (FCM's, or the emulator's), at most
    /// `concurrency` requests at once.
    pub fn new(
        account: ServiceAccount,
        base_url: &str,
        concurrency: usize,
        plain_http: platform::outbound::PlainHttp,
    ) -> anyhow::Result<Self> {
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| anyhow::anyhow!("the service account's private_key: {e}"))?;
        let http = transport::client("FCM", plain_http)?;
        http.check_url(base_url)
            .map_err(|e| anyhow::anyhow!("notifications.fcm.base_url: {e}"))?;
        http.check_url(&account.token_uri)
            .map_err(|e| anyhow::anyhow!("the service account's token_uri: {e}"))?;
        Ok(Self {
            http,
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                base_url.trim_end_matches('/'),
                account.project_id
            ),
            account,
            key,
            token: Mutex::new(None),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    /// Sends one message (`{"token": ..., "notification": ..., ...}`); its FCM name.
    pub async fn send(&self, message: &Value) -> Result<String, SendError> {
        let _permit = self.permits.acquire().await.map_err(|_| SendError::Retry {
            after: None,
            reason: "shutting down".into(),
        })?;
        let token = self.access_token().await?;
        let body = serde_json::to_vec(&serde_json::json!({ "message": message }))
            .map_err(|e| SendError::Rejected(e.to_string()))?;
        let answer = self
            .call(&self.send_url, "application/json", Some(&token), body)
            .await?;
        if answer.status.is_success() {
            let sent: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            return Ok(sent["name"].as_str().unwrap_or_default().to_owned());
        }
        if answer.status == StatusCode::UNAUTHORIZED {
            // A token revoked early: fetch a new one next time.
            *self.token.lock().await = None;
        }
        Err(classify(
            answer.status.as_u16(),
            &answer.body,
            answer.retry_after,
        ))
    }

    /// One POST, with a deadline; a transport failure is worth retrying.
    async fn call(
        &self,
        url: &str,
        content_type: &str,
        bearer: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Answer, SendError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Misconfigured(format!("bad URL {url}: {e}")))?;
        transport::exchange(&self.http, request).await
    }

    /// Sends, retrying what may be retried up to `attempts` times in all, waiting as FCM asks
    /// (`Retry-After`) or with exponential backoff and full jitter.
    pub async fn send_with_retries(
        &self,
        message: &Value,
        attempts: u32,
    ) -> Result<String, SendError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.send(message).await {
                Err(SendError::Retry { after, reason }) if attempt < attempts => {
                    let jittered = backoff.mul_f64(rand::random::<f64>());
                    let wait = after.unwrap_or(jittered).min(MAX_BACKOFF);
                    tracing::debug!(attempt, ?wait, reason, "FCM asked to retry");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The cached access token, or a new one from the token endpoint.
    async fn access_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.renew_at > Instant::now()) {
            return Ok(token.value.clone());
        }
        let now = chrono::Utc::now().timestamp();
        let claims = Assertion {
            iss: &self.account.client_email,
            scope: SCOPE,
            aud: &self.account.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.account.private_key_id.clone());
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| SendError::Misconfigured(format!("cannot sign the assertion: {e}")))?;
        // A JWT is URL-safe base64 and dots: nothing to escape in the form.
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let Answer { status, body, .. } = self
            .call(
                &self.account.token_uri,
                "application/x-www-form-urlencoded",
                None,
                form.into_bytes(),
            )
            .await?;
        if status.is_server_error() {
            return Err(SendError::Retry {
                after: None,
                reason: format!("token endpoint answered {status}"),
            });
        }
        if !status.is_success() {
            let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
            return Err(SendError::Misconfigured(format!(
                "token endpoint refused the service account: {} {}",
                answer["error"].as_str().unwrap_or("?"),
                answer["error_description"].as_str().unwrap_or_default()
            )));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| SendError::Retry {
            after: None,
            reason: format!("token endpoint answer: {e}"),
        })?;
        let lifetime = Duration::from_secs(answer.expires_in);
        let token = AccessToken {
            value: answer.access_token,
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        };
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }
}

/// What an error answer of `messages:send` means.
fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> SendError {
    let answer: Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &answer["error"];
    let message = error["message"].as_str().unwrap_or_default().to_owned();
    let code = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["errorCode"].as_str())
        .unwrap_or_default();
    match (status, code) {
        (_, "UNREGISTERED") => SendError::Unregistered,
        (_, "SENDER_ID_MISMATCH" | "THIRD_PARTY_AUTH_ERROR") => {
            SendError::Misconfigured(format!("{code}: {message}"))
        }
        (_, "QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL") | (429 | 500 | 502 | 503 | 504, _) => {
            SendError::Retry {
                after: retry_after,
                reason: format!("{status} {code}"),
            }
        }
        (401, _) => SendError::Retry {
            after: None,
            reason: "access token refused".into(),
        },
        (400, _) if message.contains("registration token") => SendError::InvalidToken(message),
        (403 | 404, _) => SendError::Misconfigured(format!("{status}: {message}")),
        _ => SendError::Rejected(format!("{status} {code}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_their_error_code() {
        let envelope = |status: u16, code: &str, message: &str| {
            serde_json::json!({ "error": { "code": status, "message": message, "status": "X",
                "details": [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code }] } })
            .to_string()
        };
        assert_eq!(
            classify(404, envelope(404, "UNREGISTERED", "").as_bytes(), None),
            SendError::Unregistered
        );
        assert!(matches!(
            classify(
                400,
                envelope(
                    400,
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token"
                )
                .as_bytes(),
                None
            ),
            SendError::InvalidToken(_)
        ));
        assert!(matches!(
            classify(
                400,
                envelope(400, "INVALID_ARGUMENT", "Invalid topic").as_bytes(),
                None
            ),
            SendError::Rejected(_)
        ));
        assert_eq!(
            classify(
                429,
                envelope(429, "QUOTA_EXCEEDED", "").as_bytes(),
                Some(Duration::from_secs(7))
            ),
            SendError::Retry {
                after: Some(Duration::from_secs(7)),
                reason: "429 QUOTA_EXCEEDED".into()
            }
        );
        assert!(matches!(
            classify(502, b"<html>Bad Gateway</html>", None),
            SendError::Retry { .. }
        ));
        assert!(matches!(
            classify(
                403,
                envelope(403, "SENDER_ID_MISMATCH", "").as_bytes(),
                None
            ),
            SendError::Misconfigured(_)
        ));
        assert!(matches!(
            classify(
                401,
                envelope(401, "THIRD_PARTY_AUTH_ERROR", "").as_bytes(),
                None
            ),
            SendError::Misconfigured(_)
        ));
    }
}
