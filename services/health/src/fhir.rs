//! A client of a FHIR R4 server (https://hl7.org/fhir/R4/http.html): reads and searches in
//! JSON, following a search's pages by the server's own `next` links only, with the server's
//! `OperationOutcome` kept for the log, a deadline per call and a circuit breaker, so that a
//! hospital system that is down costs a resident one quick 503 rather than a long wait.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use platform::outbound::{Breaker, Limits, OutboundClient, PlainHttp};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::FhirServer;

/// The media type of FHIR's JSON.
const FHIR_JSON: &str = "application/fhir+json";
/// Pages of one search followed at most: a resident's records fit in far fewer, and a server
/// that keeps answering `next` must not keep us reading.
const MAX_PAGES: usize = 20;
/// Entries asked for per page.
const PAGE_SIZE: usize = 100;
/// The largest answer read (one page of a search).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// How long reference data (organizations, locations) is reused, and how much is kept.
const REFERENCE_TTL: Duration = Duration::from_secs(600);
const MAX_REFERENCES: usize = 10_000;

/// Why a FHIR call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    /// Down, too slow, answering 5xx or not FHIR, or the breaker is open: try again later.
    #[error("{0}")]
    Unavailable(String),
    /// 404 for a read.
    #[error("not found")]
    NotFound,
    /// A 4xx other than 404: the server refused what we asked (its outcome, for the log).
    #[error("refused with {status}: {outcome}")]
    Refused { status: StatusCode, outcome: String },
}

/// A FHIR server of one jurisdiction.
pub struct FhirClient {
    http: OutboundClient,
    /// The service base, without a trailing `/`.
    base: String,
    token: Option<SecretString>,
    /// Access tokens asked for with SMART Backend Services, when configured.
    smart: Option<Smart>,
    breaker: Breaker,
    /// Reference data read lately, by `Type/id`.
    references: Mutex<HashMap<String, (Instant, serde_json::Value)>>,
}

impl FhirClient {
    pub fn new(
        server: &FhirServer,
        timeout: Duration,
        plain_http: PlainHttp,
    ) -> anyhow::Result<Self> {
        let http = OutboundClient::new(
            "FHIR server",
            plain_http,
            Limits {
                timeout,
                max_answer_bytes: MAX_ANSWER_BYTES,
                ..Limits::default()
            },
        )?;
        let base = server.base_url.trim_end_matches('/').to_owned();
        http.check_url(&base)?;
        Ok(Self {
            http,
            base,
            token: server.bearer_token.clone(),
            smart: server.smart.as_ref().map(Smart::new).transpose()?,
            breaker: Breaker::default(),
            references: Mutex::default(),
        })
    }

    /// `GET [base]/{type}/{id}`.
    pub async fn read<T: DeserializeOwned>(&self, kind: &str, id: &str) -> Result<T, FhirError> {
        if !valid_id(id) {
            return Err(FhirError::NotFound);
        }
        let url = format!("{}/{kind}/{id}", self.base);
        let body = self.exchange(Method::GET, &url, None, &[]).await?;
        self.parse(&body)
    }

    /// `POST [base]/{type}` as a conditional create (`If-None-Exist: condition`): the server
    /// makes the resource unless one matches the condition, and answers either.
    pub async fn create<T: DeserializeOwned>(
        &self,
        kind: &str,
        resource: &serde_json::Value,
        condition: &str,
    ) -> Result<T, FhirError> {
        let url = format!("{}/{kind}", self.base);
        let body = serde_json::to_vec(resource)
            .map_err(|e| FhirError::Unavailable(format!("encoding a {kind}: {e}")))?;
        let answer = self
            .exchange(
                Method::POST,
                &url,
                Some((body, FHIR_JSON)),
                &[
                    ("if-none-exist", condition),
                    ("prefer", "return=representation"),
                ],
            )
            .await?;
        self.parse(&answer)
    }

    /// `PATCH [base]/{type}/{id}` with a JSON Patch.
    pub async fn patch(
        &self,
        kind: &str,
        id: &str,
        patch: &serde_json::Value,
    ) -> Result<(), FhirError> {
        if !valid_id(id) {
            return Err(FhirError::NotFound);
        }
        let url = format!("{}/{kind}/{id}", self.base);
        let body = serde_json::to_vec(patch)
            .map_err(|e| FhirError::Unavailable(format!("encoding a patch: {e}")))?;
        self.exchange(
            Method::PATCH,
            &url,
            Some((body, "application/json-patch+json")),
            &[],
        )
        .await?;
        Ok(())
    }

    /// A resource that changes seldom (an organization), read at most every `REFERENCE_TTL`.
    pub async fn read_reference<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<T, FhirError> {
        let key = format!("{kind}/{id}");
        let kept = {
            let references = self.references.lock().unwrap_or_else(|p| p.into_inner());
            references
                .get(&key)
                .filter(|(at, _)| at.elapsed() < REFERENCE_TTL)
                .map(|(_, resource)| resource.clone())
        };
        let resource = match kept {
            Some(resource) => resource,
            None => {
                let resource: serde_json::Value = self.read(kind, id).await?;
                let mut references = self.references.lock().unwrap_or_else(|p| p.into_inner());
                if references.len() >= MAX_REFERENCES {
                    references.clear();
                }
                references.insert(key, (Instant::now(), resource.clone()));
                resource
            }
        };
        serde_json::from_value(resource).map_err(|e| {
            FhirError::Unavailable(format!("{kind}/{id} is not the FHIR expected: {e}"))
        })
    }

    /// Every resource of `kind` (and of `_include`s, which the caller tells apart by type) a
    /// search finds, page after page.
    pub async fn search(
        &self,
        kind: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<serde_json::Value>, FhirError> {
        self.search_pages(kind, params, MAX_PAGES).await
    }

    /// [`search`](Self::search), reading up to `max_pages` pages (a whole directory).
    pub async fn search_pages(
        &self,
        kind: &str,
        params: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<Vec<serde_json::Value>, FhirError> {
        let page_size = PAGE_SIZE.to_string();
        let mut all = params.to_vec();
        if !params.iter().any(|(name, _)| *name == "_count") {
            all.push(("_count", &page_size));
        }
        let mut url = format!("{}/{kind}?{}", self.base, form_encode(&all));
        let mut found = Vec::new();
        let mut total: Option<u64> = None;
        for _ in 0..max_pages {
            let body = self.exchange(Method::GET, &url, None, &[]).await?;
            let bundle: Bundle = self.parse(&body)?;
            if bundle.resource_type != "Bundle" {
                return Err(self.failed("a search answered with something else than a Bundle"));
            }
            total = bundle.total.or(total);
            found.extend(bundle.entry.into_iter().filter_map(|entry| entry.resource));
            match bundle.link.into_iter().find(|link| link.relation == "next") {
                // Only the server's own pages: our token goes nowhere else.
                Some(next) if self.is_own(&next.url) => url = next.url,
                Some(next) => {
                    return Err(self.failed(&format!("a next link off the server: {}", next.url)));
                }
                None => {
                    // A server that pages without `next` links leaves the rest unreadable:
                    // say so, rather than show a part as the whole unnoticed.
                    if let Some(total) = total.filter(|total| *total as usize > found.len()) {
                        tracing::warn!(
                            kind,
                            total,
                            read = found.len(),
                            "a FHIR search said it had more than it gave, without a next link"
                        );
                    }
                    return Ok(found);
                }
            }
        }
        tracing::warn!(
            kind,
            "a FHIR search had more than {MAX_PAGES} pages; the rest is left"
        );
        Ok(found)
    }

    /// Sends one request through the breaker and returns the body of a 2xx answer.
    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Option<(Vec<u8>, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<Bytes, FhirError> {
        if !self.breaker.allows() {
            return Err(FhirError::Unavailable(format!(
                "{}: the circuit breaker is open",
                self.base
            )));
        }
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(header::ACCEPT, FHIR_JSON);
        match (&self.smart, &self.token) {
            (Some(smart), _) => {
                let token = smart.access_token(self).await?;
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            (None, Some(token)) => {
                request = request.header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", token.expose_secret()),
                );
            }
            (None, None) => {}
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some((bytes, content_type)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Vec::new(),
        };
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| FhirError::Unavailable(format!("{url}: {e}")))?;
        let answer = match self.http.send(request).await {
            Ok(answer) => answer,
            Err(error) => return Err(self.failed(&error.to_string())),
        };
        let status = answer.status;
        if status.is_success() {
            self.breaker.succeeded();
            return Ok(answer.body);
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(self.failed(&format!("{url} answered {status}: {}", answer.excerpt())));
        }
        // The server is up and answered: a refusal is not a failure of the server.
        self.breaker.succeeded();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(FhirError::NotFound);
        }
        let outcome = serde_json::from_slice::<OperationOutcome>(&answer.body)
            .map(|outcome| outcome.describe())
            .unwrap_or_else(|_| answer.excerpt());
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            // A SMART token the server no longer takes is asked for again next time.
            if let Some(smart) = &self.smart {
                smart.forget().await;
            }
            // Our credentials are wrong: nothing a resident can fix; operators must.
            tracing::error!(url, %status, outcome, "the FHIR server refused our credentials");
            return Err(FhirError::Unavailable(format!("{url}: {status}")));
        }
        Err(FhirError::Refused { status, outcome })
    }

    /// Whether `url` is on this server, under its base: `https://fhir.example.vn/r4?...` or
    /// `.../r4/...`, not `https://fhir.example.vn/r4.evil.example/`.
    fn is_own(&self, url: &str) -> bool {
        url.strip_prefix(&self.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    /// Parses an answer as FHIR JSON; anything else means the server is not well.
    fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, FhirError> {
        serde_json::from_slice(body).map_err(|e| {
            self.failed(&format!(
                "an answer that is not the FHIR JSON expected: {e}"
            ))
        })
    }

    /// Counts a failure of the server and says what it was.
    fn failed(&self, reason: &str) -> FhirError {
        self.breaker.failed();
        FhirError::Unavailable(format!("{}: {reason}", self.base))
    }
}

/// FHIR ids: `[A-Za-z0-9\-\.]{1,64}`; anything else cannot name a resource (and must not
/// reach a URL).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn form_encode(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    resource_type: String,
    /// Matches in all (not counting `_include`s), when the server says.
    total: Option<u64>,
    #[serde(default)]
    link: Vec<BundleLink>,
    #[serde(default)]
    entry: Vec<BundleEntry>,
}

#[derive(Debug, Deserialize)]
struct BundleLink {
    relation: String,
    url: String,
}

#[derive(Debug, Deserialize)]
struct BundleEntry {
    resource: Option<serde_json::Value>,
}

/// What a FHIR server says of an error (https://hl7.org/fhir/R4/operationoutcome.html).
#[derive(Debug, Deserialize)]
struct OperationOutcome {
    #[serde(default)]
    issue: Vec<OutcomeIssue>,
}

#[derive(Debug, Deserialize)]
struct OutcomeIssue {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    diagnostics: Option<String>,
    #[serde(default)]
    expression: Vec<String>,
}

impl OperationOutcome {
    fn describe(&self) -> String {
        self.issue
            .iter()
            .map(|issue| {
                format!(
                    "{} {} {} {}",
                    issue.severity,
                    issue.code,
                    issue.expression.join(","),
                    issue.diagnostics.as_deref().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A SMART Backend Services client: it signs a short-lived JWT with its registered key, trades
/// it at the server's token endpoint (found at `[base]/.well-known/smart-configuration`) for an
/// access token, and keeps that token until shortly before it expires.
struct Smart {
    client_id: String,
    scope: String,
    algorithm: jsonwebtoken::Algorithm,
    key_id: Option<String>,
    key: jsonwebtoken::EncodingKey,
    /// The access token and when to stop using it; one request at a time asks for a new one.
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

/// A token is renewed this long before the server says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

impl Smart {
    fn new(config: &crate::config::SmartClient) -> anyhow::Result<Self> {
        use jsonwebtoken::{Algorithm, EncodingKey};
        let pem = config.private_key.expose_secret().as_bytes();
        let (algorithm, key) = match config.algorithm.as_str() {
            "ES384" => (Algorithm::ES384, EncodingKey::from_ec_pem(pem)?),
            "RS384" => (Algorithm::RS384, EncodingKey::from_rsa_pem(pem)?),
            other => anyhow::bail!("smart.algorithm {other}: ES384 or RS384"),
        };
        Ok(Self {
            client_id: config.client_id.clone(),
            scope: config.scope.clone(),
            algorithm,
            key_id: config.key_id.clone(),
            key,
            token: tokio::sync::Mutex::default(),
        })
    }

    async fn forget(&self) {
        *self.token.lock().await = None;
    }

    /// A live access token: the one kept, or a new one.
    async fn access_token(&self, fhir: &FhirClient) -> Result<String, FhirError> {
        let mut kept = self.token.lock().await;
        if let Some((token, until)) = kept.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.ask(fhir).await?;
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        *kept = Some((token.clone(), until));
        Ok(token)
    }

    async fn ask(&self, fhir: &FhirClient) -> Result<(String, Duration), FhirError> {
        #[derive(Deserialize)]
        struct Configuration {
            token_endpoint: String,
        }
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: Option<u64>,
        }
        let unavailable = |reason: String| fhir.failed(&format!("SMART authorization: {reason}"));
        let discovery = fhir
            .http
            .get(&format!("{}/.well-known/smart-configuration", fhir.base))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let endpoint = discovery
            .json::<Configuration>()
            .map_err(|e| unavailable(format!("smart-configuration: {e}")))?
            .token_endpoint;
        let now = chrono::Utc::now().timestamp();
        let mut header = jsonwebtoken::Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        let claims = serde_json::json!({
            "iss": self.client_id, "sub": self.client_id, "aud": endpoint,
            "exp": now + 240, "jti": uuid::Uuid::new_v4().to_string(),
        });
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| unavailable(format!("signing: {e}")))?;
        let form = form_encode(&[
            ("grant_type", "client_credentials"),
            ("scope", &self.scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ]);
        let request = Request::post(&endpoint)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| unavailable(e.to_string()))?;
        let answer = fhir
            .http
            .send(request)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !answer.status.is_success() {
            // The server refused our registration: the operators must look.
            tracing::error!(status = %answer.status, answer = answer.excerpt(), "the SMART token endpoint refused us");
            return Err(FhirError::Unavailable(format!(
                "the SMART token endpoint answered {}",
                answer.status
            )));
        }
        let granted: Granted = answer
            .json()
            .map_err(|e| unavailable(format!("token answer: {e}")))?;
        Ok((
            granted.access_token,
            Duration::from_secs(granted.expires_in.unwrap_or(300)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_leave_the_path_are_not_ids() {
        assert!(valid_id("hue-central-hospital"));
        assert!(valid_id("a.b-9"));
        assert!(!valid_id(""));
        assert!(!valid_id("../metadata"));
        assert!(!valid_id("x?_format=xml"));
        assert!(!valid_id(&"a".repeat(65)));
    }

    #[test]
    fn only_the_servers_own_pages_are_followed() {
        let server = FhirServer {
            base_url: "https://fhir.example.vn/r4/".to_owned(),
            bearer_token: None,
            smart: None,
        };
        let client = FhirClient::new(&server, Duration::from_secs(1), PlainHttp::Never)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(client.is_own("https://fhir.example.vn/r4?_getpages=a"));
        assert!(client.is_own("https://fhir.example.vn/r4/Patient?page=2"));
        assert!(!client.is_own("https://fhir.example.vn/r4.evil.example/Patient"));
        assert!(!client.is_own("https://evil.example/r4?_getpages=a"));
    }

    #[test]
    fn parameters_are_encoded() {
        assert_eq!(
            form_encode(&[
                ("identifier", "urn:vn:cccd|046190001234"),
                ("name", "Hoa Thị")
            ]),
            "identifier=urn%3Avn%3Acccd%7C046190001234&name=Hoa+Th%E1%BB%8B"
        );
    }
}
