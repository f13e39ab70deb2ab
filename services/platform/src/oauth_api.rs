//! A client of an outside REST API behind OAuth 2.0 client credentials (RFC 6749 §4.4), as the
//! schools' OneRoster systems and the province's integration platform (LGSP: the one-stop
//! system, Social Security) publish theirs: the access token asked for with HTTP Basic client
//! authentication and kept until shortly before it expires, asked for again once when the
//! server no longer takes it; every call through [`OutboundClient`] (TLS, a deadline, a bounded
//! answer) and a [`Breaker`], so that a system that is down costs a resident one quick 503.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::outbound::{Answer, Breaker, Limits, OutboundClient, PlainHttp};

/// A token is asked for again this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Why a call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    /// Down, too slow, answering 5xx, refusing our credentials or requests, or the breaker is
    /// open: nothing the resident can fix.
    #[error("{0}")]
    Unavailable(String),
    /// 404.
    #[error("not found")]
    NotFound,
}

/// Where and as whom to ask for tokens.
pub struct Credentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Space-separated scopes to ask for; none: the server's default.
    pub scope: Option<&'static str>,
}

pub struct OAuthApi {
    http: OutboundClient,
    /// What every URL called must start with (our token goes nowhere else).
    base: String,
    credentials: Credentials,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    breaker: Breaker,
}

impl OAuthApi {
    /// A client of `system` (named in logs and errors) at `base`.
    pub fn new(
        system: &'static str,
        base: &str,
        credentials: Credentials,
        limits: Limits,
        plain_http: PlainHttp,
    ) -> anyhow::Result<Self> {
        let http = OutboundClient::new(system, plain_http, limits)?;
        http.check_url(base)?;
        http.check_url(&credentials.token_url)?;
        Ok(Self {
            http,
            base: base.to_owned(),
            credentials,
            token: tokio::sync::Mutex::default(),
            breaker: Breaker::default(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET url` (under the base) with our access token, asking for a new one once when the
    /// server no longer takes it: the 2xx answer, or why there is none. A 5xx, a 429 or no
    /// answer counts against the breaker.
    pub async fn get(&self, url: &str) -> Result<Answer, ApiCallError> {
        if !url.starts_with(&self.base) {
            return Err(ApiCallError::Unavailable(format!(
                "{url} is not under {}",
                self.base
            )));
        }
        if !self.breaker.allows() {
            return Err(ApiCallError::Unavailable(format!(
                "{}: the circuit breaker is open",
                self.base
            )));
        }
        for retry in [false, true] {
            let token = self.access_token().await?;
            let request = Request::builder()
                .method(Method::GET)
                .uri(url)
                .header(header::ACCEPT, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .map_err(|e| ApiCallError::Unavailable(format!("{url}: {e}")))?;
            let answer = match self.http.send(request).await {
                Ok(answer) => answer,
                Err(error) => return Err(self.failed(&error.to_string())),
            };
            let status = answer.status;
            if status.is_success() {
                self.breaker.succeeded();
                return Ok(answer);
            }
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(self.failed(&format!("{url} answered {status}: {}", answer.excerpt())));
            }
            self.breaker.succeeded();
            if status == StatusCode::NOT_FOUND {
                return Err(ApiCallError::NotFound);
            }
            if status == StatusCode::UNAUTHORIZED && !retry {
                *self.token.lock().await = None;
                continue;
            }
            // Our request or credentials are wrong: nothing a resident can fix; operators must.
            tracing::error!(url, %status, answer = answer.excerpt(), "an outside system refused a request");
            return Err(ApiCallError::Unavailable(format!("{url}: {status}")));
        }
        Err(ApiCallError::Unavailable(format!(
            "{url}: our token was refused twice"
        )))
    }

    /// Records an answer that was not usable (a 200 whose body is not what it should be), and
    /// says why.
    pub fn failed(&self, reason: &str) -> ApiCallError {
        self.breaker.failed();
        ApiCallError::Unavailable(format!("{}: {reason}", self.base))
    }

    /// The access token, asked for when none is kept.
    async fn access_token(&self) -> Result<String, ApiCallError> {
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
        let credentials = &self.credentials;
        let basic = STANDARD.encode(format!(
            "{}:{}",
            credentials.client_id,
            credentials.client_secret.expose_secret()
        ));
        // Built whole here: the serializer may not be held across an await.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = credentials.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(&credentials.token_url)
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| ApiCallError::Unavailable(format!("{}: {e}", credentials.token_url)))?;
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
}
