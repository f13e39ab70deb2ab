//! A client of an outside REST API behind OAuth 2.0 client credentials (RFC 6749 §4.4), as the
//! province's integration platform publishes the one-stop system and Social Security's
//! lookup: the token kept until shortly before it expires and asked for again once when the
//! server no longer takes it, a deadline per call, a bounded answer, and a circuit breaker so
//! that a system that is down costs a resident one quick 503.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use platform::outbound::{Breaker, Limits, OutboundClient, PlainHttp};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::ApiServer;

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// A token is asked for again this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Why a call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Down, too slow, answering 5xx or not the JSON expected, or the breaker is open.
    #[error("{0}")]
    Unavailable(String),
    /// 404.
    #[error("not found")]
    NotFound,
}

pub struct TokenApi {
    http: OutboundClient,
    base: String,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    breaker: Breaker,
}

impl TokenApi {
    /// A client of `system` (named in logs and errors).
    pub fn new(
        system: &'static str,
        server: &ApiServer,
        timeout: Duration,
        plain_http: PlainHttp,
    ) -> anyhow::Result<Self> {
        let http = OutboundClient::new(
            system,
            plain_http,
            Limits {
                timeout,
                max_answer_bytes: MAX_ANSWER_BYTES,
                ..Limits::default()
            },
        )?;
        let base = server.base_url.trim_end_matches('/').to_owned();
        http.check_url(&base)?;
        http.check_url(&server.token_url)?;
        Ok(Self {
            http,
            base,
            token_url: server.token_url.clone(),
            client_id: server.client_id.clone(),
            client_secret: server.client_secret.clone(),
            token: tokio::sync::Mutex::default(),
            breaker: Breaker::default(),
        })
    }

    /// `GET <base><path>?<query>` (the query's values encoded here), its JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, UpstreamError> {
        let mut url = format!("{}{path}", self.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        if !self.breaker.allows() {
            return Err(UpstreamError::Unavailable(format!(
                "{}: the circuit breaker is open",
                self.base
            )));
        }
        for retry in [false, true] {
            let token = self.access_token().await?;
            let request = Request::builder()
                .method(Method::GET)
                .uri(&url)
                .header(header::ACCEPT, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .map_err(|e| UpstreamError::Unavailable(format!("{url}: {e}")))?;
            let answer = match self.http.send(request).await {
                Ok(answer) => answer,
                Err(error) => return Err(self.failed(&error.to_string())),
            };
            let status = answer.status;
            if status.is_success() {
                let parsed = serde_json::from_slice(&answer.body)
                    .map_err(|e| self.failed(&format!("{path}: not the JSON expected: {e}")))?;
                self.breaker.succeeded();
                return Ok(parsed);
            }
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(self.failed(&format!("{path} answered {status}: {}", answer.excerpt())));
            }
            self.breaker.succeeded();
            if status == StatusCode::NOT_FOUND {
                return Err(UpstreamError::NotFound);
            }
            if status == StatusCode::UNAUTHORIZED && !retry {
                *self.token.lock().await = None;
                continue;
            }
            // Our request or credentials are wrong: nothing a resident can fix; operators must.
            tracing::error!(url, %status, answer = answer.excerpt(), "an outside system refused a request");
            return Err(UpstreamError::Unavailable(format!("{url}: {status}")));
        }
        Err(UpstreamError::Unavailable(format!(
            "{url}: our token was refused twice"
        )))
    }

    async fn access_token(&self) -> Result<String, UpstreamError> {
        let mut kept = self.token.lock().await;
        if let Some((token, until)) = kept.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: Option<u64>,
        }
        let credentials = STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose_secret()
        ));
        let request = Request::builder()
            .method(Method::POST)
            .uri(&self.token_url)
            .header(header::AUTHORIZATION, format!("Basic {credentials}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from_static(
                b"grant_type=client_credentials",
            )))
            .map_err(|e| UpstreamError::Unavailable(format!("{}: {e}", self.token_url)))?;
        let answer = self
            .http
            .send(request)
            .await
            .map_err(|e| self.failed(&e.to_string()))?;
        if !answer.status.is_success() {
            if answer.status.is_client_error() {
                tracing::error!(status = %answer.status, answer = answer.excerpt(), "an outside system refused our client credentials");
            }
            return Err(self.failed(&format!("the token endpoint answered {}", answer.status)));
        }
        let granted: Granted = serde_json::from_slice(&answer.body)
            .map_err(|e| self.failed(&format!("the token answer is not the JSON expected: {e}")))?;
        let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600));
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        *kept = Some((granted.access_token.clone(), until));
        Ok(granted.access_token)
    }

    fn failed(&self, reason: &str) -> UpstreamError {
        self.breaker.failed();
        UpstreamError::Unavailable(format!("{}: {reason}", self.base))
    }
}
