//! Who is calling: access-token verification shared by the gateway and every service, and the
//! typed `Principal` handlers receive.
//!
//! Access tokens are JWTs (`typ: at+jwt`) signed by identity with EdDSA or ES256. The algorithm
//! is pinned by the key (the JWK's `alg`), never taken from the token's header, so `alg: none`
//! or an HS256 token "signed" with a public key cannot pass. Keys come from identity itself when
//! it runs in this process, or from its JWKS over HTTP, cached and refetched on an unknown `kid`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::error::{ApiError, SharedError};

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// No access token lives longer than this.
pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Clock difference tolerated between the issuer and a verifier.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    WardOfficer,
    DepartmentStaff,
    JurisdictionAdmin,
    PlatformAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::WardOfficer => "ward_officer",
            Role::DepartmentStaff => "department_staff",
            Role::JurisdictionAdmin => "jurisdiction_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    /// Roles that change other people's accounts, areas or settings.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::JurisdictionAdmin | Role::PlatformAdmin)
    }

    pub fn parse(text: &str) -> Option<Role> {
        [
            Role::Resident,
            Role::WardOfficer,
            Role::DepartmentStaff,
            Role::JurisdictionAdmin,
            Role::PlatformAdmin,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// Assurance level: how sure we are who the person is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Acr {
    /// Signed in with a phone code or a staff password.
    Basic,
    /// Linked to the national e-ID (VNeID level 2).
    Verified,
}

impl Acr {
    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Basic => "basic",
            Acr::Verified => "verified",
        }
    }

    pub fn parse(text: &str) -> Option<Acr> {
        match text {
            "basic" => Some(Acr::Basic),
            "verified" => Some(Acr::Verified),
            _ => None,
        }
    }
}

/// Where a staff member may act.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wards: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The session (refresh-token family) the token was issued in.
    pub sid: Uuid,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub scope: Scope,
    pub acr: Acr,
}

/// The verified caller, as handlers see it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account_id: Uuid,
    pub session_id: Uuid,
    pub token_id: Uuid,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub acr: Acr,
    /// When the token expires (Unix seconds).
    pub expires_at: i64,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller administers `jurisdiction`: platform admins every one, jurisdiction
    /// admins their own.
    pub fn administers(&self, jurisdiction: &str) -> bool {
        self.has_role(Role::PlatformAdmin)
            || (self.has_role(Role::JurisdictionAdmin)
                && self.scope.jurisdiction.as_deref() == Some(jurisdiction))
    }

    /// Refuses with 403 `assurance_too_low` unless the caller reached `needed`.
    pub fn require_acr(&self, needed: Acr) -> Result<(), ApiError> {
        if self.acr >= needed {
            return Ok(());
        }
        Err(SharedError::AssuranceTooLow.into())
    }
}

/// Why a token was refused (logged; the client only learns that it was invalid).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(jsonwebtoken::errors::Error),
    #[error("token type is not at+jwt")]
    WrongType,
    #[error("token has no kid")]
    NoKeyId,
    #[error("unknown key {0}")]
    UnknownKey(String),
    #[error("token rejected: {0}")]
    Rejected(jsonwebtoken::errors::Error),
    #[error("token lives longer than allowed")]
    TooLong,
}

/// A public key pinned to its algorithm.
#[derive(Clone)]
pub struct VerificationKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl VerificationKey {
    /// Only keys that name their algorithm, and only EdDSA and ES256, are accepted.
    pub fn from_jwk(jwk: &Jwk) -> Option<VerificationKey> {
        let algorithm = match jwk.common.key_algorithm? {
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            KeyAlgorithm::ES256 => Algorithm::ES256,
            _ => return None,
        };
        let key = DecodingKey::from_jwk(jwk).ok()?;
        Some(VerificationKey { algorithm, key })
    }
}

/// Looks up a verification key by `kid` among the keys identity publishes right now.
pub trait LocalKeys: Send + Sync {
    fn key(&self, kid: &str) -> Option<VerificationKey>;
}

enum KeySource {
    /// Identity runs in this process.
    Local(Arc<dyn LocalKeys>),
    /// Identity runs elsewhere: its JWKS over HTTP.
    Remote(Box<RemoteJwks>),
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    source: KeySource,
    /// Tokens already verified, by their SHA-256, until they expire: an app sends the same
    /// token with every request for up to 15 minutes, and a signature check costs far more
    /// than a lookup.
    verified: std::sync::Mutex<HashMap<[u8; 32], Principal>>,
}

/// Verified tokens remembered at most; when full, the memory starts over.
const VERIFIED_CACHE_ENTRIES: usize = 50_000;

impl TokenVerifier {
    pub fn local(issuer: String, audience: String, keys: Arc<dyn LocalKeys>) -> Self {
        Self {
            issuer,
            audience,
            source: KeySource::Local(keys),
            verified: Default::default(),
        }
    }

    /// Verifies with the JWKS at `jwks_url` (identity's `/.well-known/jwks.json`).
    pub fn remote(issuer: String, audience: String, jwks_url: http::Uri) -> anyhow::Result<Self> {
        Ok(Self {
            issuer,
            audience,
            source: KeySource::Remote(Box::new(RemoteJwks::new(jwks_url)?)),
            verified: Default::default(),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        use sha2::Digest as _;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        if let Some(principal) = self.cached(&digest, now) {
            return Ok(principal);
        }
        let principal = self.verify_signature_and_claims(token).await?;
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_CACHE_ENTRIES {
            verified.retain(|_, p| p.expires_at > now);
            if verified.len() >= VERIFIED_CACHE_ENTRIES {
                verified.clear();
            }
        }
        verified.insert(digest, principal.clone());
        Ok(principal)
    }

    fn cached(&self, digest: &[u8; 32], now: i64) -> Option<Principal> {
        let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        // The same leeway as a fresh check, so the cache never accepts what a check would not.
        verified
            .get(digest)
            .filter(|p| p.expires_at + LEEWAY_SECS as i64 > now)
            .cloned()
    }

    /// Forgets every verified token (the keys changed).
    fn forget_verified(&self) {
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    async fn verify_signature_and_claims(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(TokenError::Malformed)?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::NoKeyId)?;
        let key = match &self.source {
            KeySource::Local(keys) => keys.key(&kid),
            KeySource::Remote(jwks) => {
                let (key, changed) = jwks.key(&kid).await;
                if changed {
                    self.forget_verified();
                }
                key
            }
        }
        .ok_or_else(|| TokenError::UnknownKey(kid.clone()))?;

        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(TokenError::Rejected)?
            .claims;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime <= 0 || lifetime.unsigned_abs() > MAX_ACCESS_TOKEN_TTL.as_secs() {
            return Err(TokenError::TooLong);
        }
        Ok(Principal {
            account_id: claims.sub,
            session_id: claims.sid,
            token_id: claims.jti,
            roles: claims.roles,
            scope: claims.scope,
            acr: claims.acr,
            expires_at: claims.exp,
        })
    }

    /// Verifies the bearer token of a request: `Ok(None)` when there is none.
    pub async fn verify_request(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 8 * 1024)
            .ok_or_else(invalid_token)?;
        match self.verify(token).await {
            Ok(principal) => Ok(Some(principal)),
            Err(error) => {
                tracing::info!(%error, "access token refused");
                Err(invalid_token())
            }
        }
    }
}

fn invalid_token() -> ApiError {
    ApiError::from(SharedError::InvalidToken).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    )
}

fn unauthenticated() -> ApiError {
    ApiError::from(SharedError::Unauthenticated)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

/// The verifier a service's routes use, placed in request extensions by the service layers.
pub type SharedVerifier = Arc<TokenVerifier>;

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let verifier = parts
            .extensions
            .get::<SharedVerifier>()
            .cloned()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no token verifier installed")))?;
        verifier
            .verify_request(&parts.headers)
            .await?
            .ok_or_else(unauthenticated)
    }
}

/// `Option<Principal>`: `None` for a request without a token (public content); a token that is
/// there must still be valid.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, ApiError> {
        let verifier = parts
            .extensions
            .get::<SharedVerifier>()
            .cloned()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no token verifier installed")))?;
        verifier.verify_request(&parts.headers).await
    }
}

/// Identity's JWKS fetched over HTTP, kept for a while, fetched again when a token names a key
/// we do not know (a rotation) but at most every few seconds (a flood of made-up `kid`s must
/// not become a flood of fetches).
struct RemoteJwks {
    url: http::Uri,
    client: crate::outbound::OutboundClient,
    keys: RwLock<HashMap<String, VerificationKey>>,
    fetched: Mutex<Option<Instant>>,
}

const JWKS_MAX_AGE: Duration = Duration::from_secs(300);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);

impl RemoteJwks {
    fn new(url: http::Uri) -> anyhow::Result<Self> {
        use crate::outbound::{Limits, OutboundClient, PlainHttp};
        // Identity is a service of this deployment, on the cluster's own network.
        let client = OutboundClient::new(
            "identity's JWKS",
            PlainHttp::Internal,
            Limits {
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_secs(5),
                max_answer_bytes: 256 * 1024,
            },
        )?;
        Ok(Self {
            url,
            client,
            keys: RwLock::new(HashMap::new()),
            fetched: Mutex::new(None),
        })
    }

    /// The key, and whether the key set changed while looking for it.
    async fn key(&self, kid: &str) -> (Option<VerificationKey>, bool) {
        let stale = self
            .fetched
            .lock()
            .await
            .is_none_or(|at| at.elapsed() > JWKS_MAX_AGE);
        if !stale && let Some(key) = self.keys.read().await.get(kid) {
            return (Some(key.clone()), false);
        }
        let changed = self.refresh(stale).await;
        (self.keys.read().await.get(kid).cloned(), changed)
    }

    /// Fetches the set again; true when its key ids changed.
    async fn refresh(&self, stale: bool) -> bool {
        let mut fetched = self.fetched.lock().await;
        if !stale && fetched.is_some_and(|at| at.elapsed() < JWKS_MIN_REFETCH) {
            return false;
        }
        match self.fetch().await {
            Ok(keys) => {
                let mut current = self.keys.write().await;
                let changed = current.len() != keys.len()
                    || keys.keys().any(|kid| !current.contains_key(kid));
                *current = keys;
                *fetched = Some(Instant::now());
                changed
            }
            Err(error) => {
                // Keep the keys we have; try again on a later request.
                tracing::warn!(%error, url = %self.url, "cannot fetch the JWKS");
                // Retry in a few seconds rather than on every request.
                *fetched = fetched
                    .and_then(|_| Instant::now().checked_sub(JWKS_MAX_AGE - JWKS_MIN_REFETCH));
                false
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, VerificationKey>> {
        let answer = self.client.get(&self.url.to_string()).await?;
        anyhow::ensure!(
            answer.status.is_success(),
            "JWKS answered {}",
            answer.status
        );
        let set: JwkSet = answer.json()?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                Some((kid, VerificationKey::from_jwk(jwk)?))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_administer_their_own_jurisdiction_platform_admins_every_one() {
        let with = |role: Role, jurisdiction: Option<&str>| Principal {
            roles: vec![role],
            scope: Scope {
                jurisdiction: jurisdiction.map(str::to_owned),
                ..Scope::default()
            },
            ..principal(Acr::Basic)
        };
        assert!(with(Role::JurisdictionAdmin, Some("hue")).administers("hue"));
        assert!(!with(Role::JurisdictionAdmin, Some("hue")).administers("danang"));
        assert!(!with(Role::JurisdictionAdmin, None).administers("hue"));
        assert!(with(Role::PlatformAdmin, None).administers("danang"));
        assert!(!with(Role::WardOfficer, Some("hue")).administers("hue"));
    }

    fn principal(acr: Acr) -> Principal {
        Principal {
            account_id: Uuid::nil(),
            session_id: Uuid::nil(),
            token_id: Uuid::nil(),
            roles: vec![Role::Resident],
            scope: Scope::default(),
            acr,
            expires_at: 0,
        }
    }

    #[test]
    fn sensitive_services_can_require_a_verified_account() {
        let refused = principal(Acr::Basic)
            .require_acr(Acr::Verified)
            .unwrap_err();
        assert_eq!(refused.status(), http::StatusCode::FORBIDDEN);
        assert_eq!(refused.code(), "assurance_too_low");
        assert!(principal(Acr::Verified).require_acr(Acr::Verified).is_ok());
        assert!(principal(Acr::Verified).require_acr(Acr::Basic).is_ok());
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [
            Role::Resident,
            Role::WardOfficer,
            Role::DepartmentStaff,
            Role::JurisdictionAdmin,
            Role::PlatformAdmin,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(Role::parse("root"), None);
    }
}
