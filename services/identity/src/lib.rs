//! Who people are and what they may do: residents sign in by phone code, staff by password
//! (and TOTP), both get short-lived access tokens signed by keys published as a JWKS, and
//! refresh tokens rotated on every use.

mod audit;
pub mod config;
mod errors;
mod home_wards;
mod keys;
mod me;
mod otp;
mod phone;
mod sessions;
mod sign_in;
mod sms;
mod staff;
mod vneid;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::IdentityConfig;
use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use chrono::Utc;
use platform::ApiError;
use platform::auth::{LocalKeys, Principal};
use platform::config::AuthConfig;
use platform::error::SharedError;
use platform::extract::{JsonBody, QueryParams};
use platform::internal::ServiceClient;
use platform::service::{Running, Service, StartContext};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use errors::IdentityError;
pub use keys::KeyRing;
pub use sessions::TokenResponse;
pub use staff::{NewStaff, create_staff};

use crate::phone::PhoneNumber;
use platform::extract::ClientInfo;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "identity";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/identity");

pub static SERVICE: Service = Service {
    name: "identity",
    about: "accounts, sign-in, tokens and keys",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &[
        "/.well-known/jwks.json",
        "/v1/auth",
        "/v1/me",
        "/v1/admin/staff",
        "/v1/dev/sms",
    ],
    calls: &["reports"],
    outbox: true,
    consumes_events: false,
    idempotency_keys: false,
    config: Some(platform::config::SectionSpec::of::<config::IdentityConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <IdentityApi as utoipa::OpenApi>::openapi,
    errors: IdentityError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = IdentityState::start(&context)?;
            state.seed_dev_staff().await?;
            Ok(Running {
                token_keys: Some(state.local_keys()),
                router: router(state, &context.service_token),
            })
        })
    },
};

#[derive(Clone)]
pub struct IdentityState {
    pool: PgPool,
    keys: Arc<KeyRing>,
    auth: Arc<AuthConfig>,
    config: Arc<IdentityConfig>,
    otp_key: Arc<Vec<u8>>,
    sms: Arc<sms::SmsSender>,
    vneid: Arc<vneid::VneidClient>,
    sign_in: Arc<sign_in::SignInGuard>,
    /// Reports, which owns the wards a home ward must be one of.
    reports: ServiceClient,
}

impl IdentityState {
    /// Loads keys and secrets, and starts the background jobs (due erasures, home wards to
    /// resolve). Call within the runtime that serves it.
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config = &context.config;
        let (auth, data_dir) = (&config.auth, config.data_dir.as_path());
        let plain_http = config.outside_plain_http();
        let config: &IdentityConfig = &context.section()?;
        anyhow::ensure!(
            auth.access_token_ttl_secs > 0
                && Duration::from_secs(auth.access_token_ttl_secs)
                    <= platform::auth::MAX_ACCESS_TOKEN_TTL,
            "auth.access_token_ttl_secs must be between 1 and 900"
        );
        let keys = KeyRing::load(
            &config.signing_keys,
            data_dir,
            Duration::from_secs(auth.access_token_ttl_secs),
        )?;
        let state = Self {
            pool: context.pool.clone(),
            keys: Arc::new(keys),
            auth: Arc::new(auth.clone()),
            config: Arc::new(config.clone()),
            otp_key: Arc::new(otp_key(config, data_dir)?),
            sms: Arc::new(sms::SmsSender::from_config(&config.sms, plain_http)?),
            vneid: Arc::new(vneid::VneidClient::new(&config.vneid, plain_http)?),
            sign_in: Arc::new(sign_in::SignInGuard::new(
                &config.staff_sign_in,
                &context.counters,
            )),
            reports: context.client("reports")?,
        };
        let jobs = &context.jobs;
        me::start_erasures(state.clone(), jobs);
        jobs.spawn(
            "legacy home wards",
            home_wards::resolve_legacy(state.clone()),
        );
        Ok(state)
    }

    /// The keys tokens are verified with, for a verifier in this process.
    pub fn local_keys(&self) -> Arc<dyn LocalKeys> {
        self.keys.clone()
    }

    /// Creates the demo staff of `hue` when `identity.dev_seed_staff` asks for it.
    pub async fn seed_dev_staff(&self) -> anyhow::Result<()> {
        if self.config.dev_seed_staff {
            staff::seed_dev_staff(&self.pool).await?;
        }
        Ok(())
    }
}

fn otp_key(config: &IdentityConfig, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    use secrecy::ExposeSecret;
    if let Some(secret) = &config.otp_secret {
        anyhow::ensure!(
            secret.expose_secret().len() >= 32,
            "identity.otp_secret needs at least 32 characters"
        );
        return Ok(secret.expose_secret().as_bytes().to_vec());
    }
    let path = data_dir.join("identity").join("dev-otp-key");
    if let Ok(key) = std::fs::read(&path) {
        return Ok(key);
    }
    let key: [u8; 32] = rand::random();
    keys::write_private(&path, &key).context("cannot keep the development OTP key")?;
    Ok(std::fs::read(&path)?)
}

/// Identity's routes, without the shared service layers (the caller adds them). `/internal/`
/// routes answer only callers bearing `service_token`.
pub fn router(state: IdentityState, service_token: &secrecy::SecretString) -> Router {
    let internal = Router::new()
        .route("/internal/v1/staff/{id}", get(staff::internal_staff))
        .route("/internal/v1/citizens/{id}", get(vneid::internal_citizen))
        .route("/internal/v1/devices/lookup", post(me::internal_devices))
        .route(
            "/internal/v1/staff/responsible",
            post(staff::internal_responsible),
        )
        .route(
            "/internal/v1/devices/forget",
            post(me::internal_forget_device),
        )
        .route("/internal/v1/sms", post(internal_send_sms));
    let mut router = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/auth/otp", post(otp::send_code))
        .route("/v1/auth/otp/verify", post(otp::verify_code))
        .route("/v1/auth/staff/login", post(staff::login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/logout-all", post(logout_all))
        .route("/v1/auth/vneid/callback", get(vneid::callback))
        .route("/v1/me/verification/vneid", post(vneid::start))
        .route(
            "/v1/me",
            get(me::get_profile)
                .patch(me::update_profile)
                .delete(me::request_erasure),
        )
        .route("/v1/me/export", get(me::export))
        .route(
            "/v1/me/devices",
            get(me::list_devices).post(me::register_device),
        )
        .route("/v1/me/devices/{id}", delete(me::remove_device))
        .route("/v1/me/totp", post(staff::enrol_totp))
        .route("/v1/me/totp/confirm", post(staff::confirm_totp))
        .route(
            "/v1/admin/staff",
            get(staff::list_staff).post(staff::create_staff_route),
        )
        .route("/v1/admin/staff/{id}", patch(staff::update_staff));
    if state.sms.dev_sink().is_some() {
        router = router.route("/v1/dev/sms", get(dev_sms));
    }
    router
        .merge(platform::http::internal_only(internal, service_token))
        .with_state(state)
}

/// The public keys that verify access tokens (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JSON Web Key Set", content_type = "application/jwk-set+json")))]
async fn jwks(State(state): State<IdentityState>) -> Response {
    let mut response = Json(state.keys.jwks(Utc::now())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Short, so a newly published key reaches verifiers well before it signs.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// New tokens for a refresh token, which is used up.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<IdentityState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    if body.refresh_token.len() > 128 {
        return Err(SharedError::InvalidBody {
            reason: "refresh_token: longer than 128 characters".to_owned(),
        }
        .into());
    }
    Ok(Json(state.refresh(&body.refresh_token, &client).await?))
}

/// Signs out of this session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out")))]
async fn logout(
    State(state): State<IdentityState>,
    principal: Principal,
    client: ClientInfo,
) -> Result<axum::http::StatusCode, ApiError> {
    state
        .revoke_sessions(principal.account_id, Some(principal.session_id), &client)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Signs out of every session of the account, on every device.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere")))]
async fn logout_all(
    State(state): State<IdentityState>,
    principal: Principal,
    client: ClientInfo,
) -> Result<axum::http::StatusCode, ApiError> {
    state
        .revoke_sessions(principal.account_id, None, &client)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsRequest {
    to: String,
    text: String,
}

/// An SMS another service sends through identity's gateway (education's code to the phone a
/// school records for a parent): one sender, one gateway account, one place to audit.
async fn internal_send_sms(
    State(state): State<IdentityState>,
    JsonBody(sms): JsonBody<SmsRequest>,
) -> Result<axum::http::StatusCode, ApiError> {
    let to = PhoneNumber::parse(&sms.to).ok_or(IdentityError::InvalidPhone)?;
    // One SMS segment of Vietnamese text (UCS-2) holds 70 characters; three are plenty.
    if sms.text.is_empty() || sms.text.chars().count() > 210 {
        return Err(SharedError::InvalidBody {
            reason: "text: 1 to 210 characters".to_owned(),
        }
        .into());
    }
    if let Err(error) = state.sms.send(&to, &sms.text).await {
        tracing::warn!(to = %to.masked(), error = %format!("{error:#}"), "an SMS for another service was not sent");
        return Err(IdentityError::SmsUnavailable.into());
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct DevSmsQuery {
    phone: String,
}

/// Development only: the last messages sent to a phone.
async fn dev_sms(
    State(state): State<IdentityState>,
    QueryParams(query): QueryParams<DevSmsQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let phone = PhoneNumber::parse(&query.phone).ok_or(IdentityError::InvalidPhone)?;
    let sink = state.sms.dev_sink().ok_or_else(ApiError::route_not_found)?;
    Ok(Json(sink.messages(&phone)))
}

/// Identity's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        jwks, otp::send_code, otp::verify_code, staff::login, refresh, logout, logout_all,
        me::get_profile, me::update_profile, me::request_erasure, me::export,
        me::list_devices, me::register_device, me::remove_device, vneid::start, vneid::callback,
        staff::enrol_totp, staff::confirm_totp, staff::list_staff, staff::create_staff_route, staff::update_staff,
    ),
    tags(
        (name = "auth", description = "Đăng nhập và phiên / Sign-in and sessions"),
        (name = "me", description = "Tài khoản của tôi / My account"),
        (name = "staff", description = "Quản lý cán bộ / Staff administration"),
    ),
    modifiers(&BearerAuth)
)]
pub struct IdentityApi;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
