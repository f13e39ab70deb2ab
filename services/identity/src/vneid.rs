//! Raising an account to `verified` by linking the national e-ID (VNeID, identification level
//! 2) through OpenID Connect: the authorization-code flow with PKCE (S256), a nonce, and an ID
//! token checked against the provider's published keys.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::VneidConfig;
use anyhow::{Context, bail};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::Utc;
use http::{Request, header};
use http_body_util::Full;
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use platform::ApiError;
use platform::auth::Principal;
use platform::outbound::{Limits, OutboundClient, PlainHttp};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use utoipa::ToSchema;

use crate::{IdentityError, IdentityState};
use platform::extract::ClientInfo;

use crate::audit;

/// How long a resident has to finish at the provider.
const ATTEMPT_LIFETIME: Duration = Duration::from_secs(600);
/// The identification level the provider must assert.
const REQUIRED_ACR: &str = "2";
/// When to try again while the provider is unavailable.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// The provider as far as we have learned it: its discovery document and keys.
struct Provider {
    discovery: Discovery,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
}

pub struct VneidClient {
    config: VneidConfig,
    http: OutboundClient,
    provider: Mutex<Option<Provider>>,
}

impl VneidClient {
    pub fn new(config: &VneidConfig, plain_http: PlainHttp) -> anyhow::Result<Self> {
        let http = OutboundClient::new("VNeID", plain_http, Limits::default())?;
        if let Some(issuer) = &config.issuer {
            http.check_url(issuer)
                .context("identity.vneid.issuer must be an https URL")?;
        }
        Ok(Self {
            config: config.clone(),
            http,
            provider: Mutex::new(None),
        })
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(
        &self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, T)> {
        let answer = self.http.send(request).await?;
        let status = answer.status;
        Ok((
            status,
            answer
                .json()
                .with_context(|| format!("the provider answered {status} with no usable JSON"))?,
        ))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let answer = self.http.get(url).await?;
        if !answer.status.is_success() {
            bail!("{url} answered {}", answer.status);
        }
        answer
            .json()
            .with_context(|| format!("{url} answered no usable JSON"))
    }

    /// Discovery and keys, fetched once and again when a token names an unknown key.
    async fn provider(
        &self,
        refresh_keys: bool,
    ) -> anyhow::Result<tokio::sync::MappedMutexGuard<'_, Provider>> {
        let mut guard = self.provider.lock().await;
        if guard.is_none() || refresh_keys {
            let issuer = self
                .config
                .issuer
                .as_deref()
                .context("identity.vneid.issuer is not set")?;
            let discovery: Discovery = self
                .get_json(&format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                ))
                .await?;
            if discovery.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
                bail!(
                    "the provider calls itself {}, not {issuer}",
                    discovery.issuer
                );
            }
            let set: JwkSet = self.get_json(&discovery.jwks_uri).await?;
            let keys = set
                .keys
                .iter()
                .filter_map(|jwk| {
                    let algorithm = match jwk.common.key_algorithm? {
                        KeyAlgorithm::RS256 => Algorithm::RS256,
                        KeyAlgorithm::ES256 => Algorithm::ES256,
                        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                        _ => return None,
                    };
                    Some((
                        jwk.common.key_id.clone()?,
                        (algorithm, DecodingKey::from_jwk(jwk).ok()?),
                    ))
                })
                .collect();
            *guard = Some(Provider { discovery, keys });
        }
        tokio::sync::MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| anyhow::anyhow!("no provider"))
    }

    /// Exchanges the code and returns the verified claims of the ID token.
    async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> anyhow::Result<IdClaims> {
        let token_endpoint = self.provider(false).await?.discovery.token_endpoint.clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.config.redirect_uri),
            ("code_verifier", code_verifier),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        // client_secret_basic: RFC 6749 §2.3.1 form-encodes both parts first.
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            url_encode(&self.config.client_id),
            url_encode(&secret)
        ));
        let request = Request::post(&token_endpoint)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .body(Full::new(Bytes::from(form)))?;
        let (status, body): (StatusCode, serde_json::Value) = self.fetch_json(request).await?;
        if !status.is_success() {
            bail!(
                "the token endpoint refused the code: {status} {}",
                body["error"]
            );
        }
        let id_token = body["id_token"]
            .as_str()
            .context("no id_token in the token response")?;
        let kid = jsonwebtoken::decode_header(id_token)?
            .kid
            .context("the ID token has no kid")?;
        let known = self.provider(false).await?.keys.contains_key(&kid);
        let provider = self.provider(!known).await?;
        let (algorithm, key) = provider
            .keys
            .get(&kid)
            .context("the ID token's key is not published")?;
        let mut validation = Validation::new(*algorithm);
        validation.set_issuer(&[&provider.discovery.issuer]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        let claims = jsonwebtoken::decode::<IdClaims>(id_token, key, &validation)?.claims;
        if claims.nonce.as_deref() != Some(nonce) {
            bail!("the ID token's nonce does not match");
        }
        if claims.acr.as_deref() != Some(REQUIRED_ACR) {
            bail!(
                "the provider asserted identification level {:?}, not {REQUIRED_ACR}",
                claims.acr
            );
        }
        Ok(claims)
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
    acr: Option<String>,
    /// The personal ID number (CCCD), disclosed for the `personal_id` scope.
    personal_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationStarted {
    /// Open in a browser: the provider's sign-in page.
    authorization_url: String,
    /// Seconds to finish in.
    expires_in: u64,
}

/// Starts linking my account to VNeID: returns the provider's page to open.
#[utoipa::path(post, path = "/v1/me/verification/vneid", operation_id = "start_vneid_verification", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = VerificationStarted),
        (status = 409, description = "Already verified", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider is not configured or unreachable", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<IdentityState>,
    principal: Principal,
) -> Result<Json<VerificationStarted>, ApiError> {
    // A verified account without the personal ID number (verified before we asked for it)
    // may link again to give it.
    let has_national_id = sqlx::query_scalar!(
        "SELECT national_id IS NOT NULL AS \"known!\" FROM accounts WHERE id = $1",
        principal.account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .unwrap_or(false);
    if principal.acr >= platform::auth::Acr::Verified && has_national_id {
        return Err(IdentityError::AlreadyVerified.into());
    }
    let client = &state.vneid;
    if client.config.issuer.is_none() {
        return Err(ApiError::from(IdentityError::VerificationUnavailable)
            .with_retry_after(UNAVAILABLE_RETRY));
    }
    let authorization_endpoint = match client.provider(false).await {
        Ok(provider) => provider.discovery.authorization_endpoint.clone(),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "VNeID discovery failed");
            return Err(ApiError::from(IdentityError::VerificationUnavailable)
                .with_retry_after(UNAVAILABLE_RETRY));
        }
    };
    let random = || URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let (verifier, state_token, nonce) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    sqlx::query!(
        r#"INSERT INTO identity_verifications (state, account_id, nonce, code_verifier, expires_at)
           VALUES ($1, $2, $3, $4, $5)"#,
        state_token,
        principal.account_id,
        nonce,
        verifier,
        Utc::now() + chrono::Duration::from_std(ATTEMPT_LIFETIME).unwrap_or_default()
    )
    .execute(&state.pool)
    .await?;
    let params = [
        ("response_type", "code"),
        ("client_id", client.config.client_id.as_str()),
        ("redirect_uri", client.config.redirect_uri.as_str()),
        ("scope", "openid profile personal_id"),
        ("state", &state_token),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("acr_values", REQUIRED_ACR),
        ("ui_locales", "vi en"),
    ];
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let separator = if authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(Json(VerificationStarted {
        authorization_url: format!("{authorization_endpoint}{separator}{query}"),
        expires_in: ATTEMPT_LIFETIME.as_secs(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// Where the provider sends the browser back: finishes the link and sends the browser on to
/// the app with `?status=verified|declined|failed`.
#[utoipa::path(get, path = "/v1/auth/vneid/callback", tag = "auth",
    params(("state" = String, Query), ("code" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses(
        (status = 303, description = "On to the app with the outcome"),
        (status = 400, description = "Unknown, used or expired state", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn callback(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Query(callback): Query<Callback>,
) -> Result<Response, ApiError> {
    let state_token = callback
        .state
        .filter(|s| s.len() <= 128)
        .ok_or(IdentityError::VerificationStateInvalid)?;
    // Taking the attempt marks it done: a replayed callback finds nothing.
    let attempt = sqlx::query!(
        r#"UPDATE identity_verifications SET completed_at = now()
           WHERE state = $1 AND completed_at IS NULL AND expires_at > now()
           RETURNING account_id, nonce, code_verifier"#,
        state_token
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(IdentityError::VerificationStateInvalid)?;

    let outcome = match (callback.code, callback.error) {
        (Some(code), None) => match state
            .vneid
            .exchange(&code, &attempt.code_verifier, &attempt.nonce)
            .await
        {
            Ok(claims) => link(&state, attempt.account_id, &claims, &client).await?,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "VNeID verification failed");
                "failed"
            }
        },
        (_, Some(error)) if error == "access_denied" => "declined",
        _ => "failed",
    };
    sqlx::query!(
        "UPDATE identity_verifications SET outcome = $2 WHERE state = $1",
        state_token,
        outcome
    )
    .execute(&state.pool)
    .await?;
    let base = &state.vneid.config.app_return_url;
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{base}{separator}status={outcome}")).into_response())
}

/// Marks the account verified and keeps the personal ID number, unless this person already
/// verified another account or another person verified this one.
async fn link(
    state: &IdentityState,
    account_id: uuid::Uuid,
    claims: &IdClaims,
    client: &ClientInfo,
) -> Result<&'static str, ApiError> {
    let subject = claims.sub.as_str();
    let national_id = claims
        .personal_id
        .as_deref()
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()));
    let mut tx = state.pool.begin().await?;
    // Another account of this person (by the provider's subject or the ID number).
    let other_account = sqlx::query_scalar!(
        "SELECT id FROM accounts WHERE (vneid_subject = $1 OR national_id = $2) AND id <> $3 LIMIT 1",
        subject,
        national_id,
        account_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let linked_before = sqlx::query_scalar!(
        "SELECT vneid_subject FROM accounts WHERE id = $1 FOR UPDATE",
        account_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let other_person = linked_before.is_some_and(|before| before != subject);
    if other_account.is_some() || other_person {
        audit::record(
            &mut tx,
            "identity_verification_conflict",
            Some(account_id),
            Some(account_id),
            client,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        return Ok("failed");
    }
    sqlx::query!(
        "UPDATE accounts SET acr = 'verified', vneid_subject = $2, national_id = $3, verified_at = now(), updated_at = now() WHERE id = $1",
        account_id,
        subject,
        national_id
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        "identity_verified",
        Some(account_id),
        Some(account_id),
        client,
        serde_json::json!({ "provider": "vneid", "level": REQUIRED_ACR }),
    )
    .await?;
    tx.commit().await?;
    Ok("verified")
}

/// What other services learn of a verified citizen to find them in the state's systems.
#[derive(Debug, Serialize, Deserialize)]
pub struct Citizen {
    /// The personal ID number (CCCD).
    pub national_id: String,
    /// The jurisdiction of the home ward, when one is set.
    pub home_jurisdiction: Option<String>,
}

/// For services that look citizens up in the state's systems (health, ...): the personal ID
/// number of a verified account; 404 `account_not_found` for any other.
pub async fn internal_citizen(
    State(state): State<IdentityState>,
    axum::extract::Path(id): axum::extract::Path<uuid::Uuid>,
) -> Result<Json<Citizen>, ApiError> {
    let citizen = sqlx::query_as!(
        Citizen,
        r#"SELECT national_id AS "national_id!", home_jurisdiction FROM accounts
           WHERE id = $1 AND acr = 'verified' AND national_id IS NOT NULL AND disabled_at IS NULL"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(IdentityError::AccountNotFound)?;
    Ok(Json(citizen))
}
