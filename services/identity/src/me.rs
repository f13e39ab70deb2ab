//! The signed-in person's own account: profile, push devices, a copy of everything held about
//! them, and erasure (Vietnam's Decree 13/2023 on personal data protection).

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::{Acr, Principal, Role, Scope};
use platform::error::SharedError;
use platform::extract::JsonBody;
use platform::jobs::Jobs;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{IdentityError, IdentityState};
use platform::events::types::{AccountErased, AccountErasureRequested, EventType};
use platform::extract::ClientInfo;

use crate::audit;
use crate::home_wards::{self, HomeWard};

#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    id: Uuid,
    /// `resident` or `staff`.
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    display_name: Option<String>,
    /// `vi` or `en`.
    language: String,
    /// Where the city's warnings reach the resident.
    home_ward: Option<HomeWard>,
    roles: Vec<Role>,
    scope: Scope,
    acr: Acr,
    /// When the account was linked to the national e-ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_at: Option<DateTime<Utc>>,
    totp_enabled: bool,
    /// The account holds admin roles that its sessions carry only once TOTP is on: enrol at
    /// `/v1/me/totp`, confirm, then refresh the session.
    totp_required: bool,
    /// Set when erasure was asked for: the account is erased after this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    erase_after: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// What a person may change about themselves; roles, scope and assurance are not among it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    language: Option<String>,
    /// A ward of a jurisdiction, as reports knows them.
    #[serde(default)]
    home_ward: Option<HomeWard>,
}

impl ProfileUpdate {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(name) = &self.display_name
            && (name.trim().is_empty() || name.chars().count() > 100)
        {
            return Err(SharedError::InvalidField {
                field: "display_name",
                rule_vi: "từ 1 đến 100 ký tự".to_owned(),
                rule_en: "1 to 100 characters".to_owned(),
            }
            .into());
        }
        if let Some(language) = &self.language
            && !matches!(language.as_str(), "vi" | "en")
        {
            return Err(SharedError::InvalidField {
                field: "language",
                rule_vi: "chỉ nhận vi hoặc en".to_owned(),
                rule_en: "vi or en".to_owned(),
            }
            .into());
        }
        Ok(())
    }
}

async fn load_profile(state: &IdentityState, account_id: Uuid) -> Result<Profile, ApiError> {
    let row = sqlx::query!(
        r#"SELECT id, kind, phone, username, display_name, language, home_jurisdiction, home_ward,
                  roles, jurisdiction, ward_ids, department_ids, acr,
                  verified_at, totp_enabled, erasure_requested_at, created_at
           FROM accounts WHERE id = $1"#,
        account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(IdentityError::AccountNotFound)?;
    let grace = chrono::Duration::days(i64::from(state.config.erasure_grace_days));
    let roles: Vec<Role> = row.roles.iter().filter_map(|r| Role::parse(r)).collect();
    let totp_required = state.config.admin_totp_required
        && !row.totp_enabled
        && roles.iter().any(|role| role.is_admin());
    Ok(Profile {
        id: row.id,
        kind: row.kind,
        phone: row.phone,
        username: row.username,
        display_name: row.display_name,
        language: row.language,
        // One set before jurisdictions were recorded shows once it is resolved.
        home_ward: row
            .home_jurisdiction
            .zip(row.home_ward)
            .map(|(jurisdiction, ward)| HomeWard { jurisdiction, ward }),
        roles,
        scope: Scope {
            jurisdiction: row.jurisdiction,
            wards: row.ward_ids,
            departments: row.department_ids,
        },
        acr: Acr::parse(&row.acr).unwrap_or(Acr::Basic),
        verified_at: row.verified_at,
        totp_enabled: row.totp_enabled,
        totp_required,
        erase_after: row.erasure_requested_at.map(|at| at + grace),
        created_at: row.created_at,
    })
}

/// My account.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get_profile(
    State(state): State<IdentityState>,
    principal: Principal,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(load_profile(&state, principal.account_id).await?))
}

/// Changes my display name, language, home ward or notification preferences.
#[utoipa::path(patch, path = "/v1/me", tag = "me", security(("bearer" = [])), request_body = ProfileUpdate,
    responses(
        (status = 200, body = Profile),
        (status = 400, description = "Unknown or read-only field (role, scope, acr...)", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`; `unknown_ward`: reports has no such ward in that jurisdiction", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: reports, which checks the home ward, could not be reached", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_profile(
    State(state): State<IdentityState>,
    principal: Principal,
    JsonBody(update): JsonBody<ProfileUpdate>,
) -> Result<Json<Profile>, ApiError> {
    update.validate()?;
    if let Some(home) = &update.home_ward {
        home.check_exists(&state.reports).await?;
    }
    let mut tx = state.pool.begin().await?;
    let before = sqlx::query!(
        "SELECT home_jurisdiction, home_ward FROM accounts WHERE id = $1 FOR UPDATE",
        principal.account_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(IdentityError::AccountNotFound)?;
    let (home_jurisdiction, home_ward) = match update.home_ward.clone() {
        Some(home) => (Some(home.jurisdiction), Some(home.ward)),
        None => (None, None),
    };
    sqlx::query!(
        r#"UPDATE accounts SET
             display_name = COALESCE($2, display_name),
             language = COALESCE($3, language),
             home_jurisdiction = COALESCE($4, home_jurisdiction),
             home_ward = COALESCE($5, home_ward),
             updated_at = now()
           WHERE id = $1"#,
        principal.account_id,
        update.display_name.map(|n| n.trim().to_owned()),
        update.language,
        home_jurisdiction,
        home_ward
    )
    .execute(&mut *tx)
    .await?;
    // The city's warnings reach residents by their home ward: notifications keeps it.
    let unchanged = before.home_jurisdiction == home_jurisdiction && before.home_ward == home_ward;
    if let Some(home) = update.home_ward.filter(|_| !unchanged) {
        home_wards::home_ward_changed(
            &mut tx,
            principal.account_id,
            Some(&home.jurisdiction),
            Some(&home.ward),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(load_profile(&state, principal.account_id).await?))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DevicePlatform {
    Android,
    Ios,
    Web,
}

impl DevicePlatform {
    fn as_str(self) -> &'static str {
        match self {
            DevicePlatform::Android => "android",
            DevicePlatform::Ios => "ios",
            DevicePlatform::Web => "web",
        }
    }
}

/// Web Push subscription keys (from `PushSubscription.toJSON().keys`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebPushKeys {
    pub p256dh: String,
    pub auth: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    platform: DevicePlatform,
    /// The FCM registration token (android, ios) or the Web Push endpoint URL (web).
    push_token: String,
    /// Web only.
    #[serde(default)]
    web_push_keys: Option<WebPushKeys>,
    #[serde(default)]
    app_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    id: Uuid,
    platform: String,
    push_token: String,
    app_version: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Devices per account; registering one more forgets the oldest.
const MAX_DEVICES: i64 = 20;

impl RegisterDevice {
    /// `web_push_endpoints`: where a Web Push endpoint may point (identity's configuration).
    fn validate(&self, web_push_endpoints: &[String]) -> Result<(), ApiError> {
        if self.push_token.is_empty() || self.push_token.len() > 4096 {
            return Err(SharedError::InvalidField {
                field: "push_token",
                rule_vi: "từ 1 đến 4096 ký tự".to_owned(),
                rule_en: "1 to 4096 characters".to_owned(),
            }
            .into());
        }
        match (self.platform, &self.web_push_keys) {
            (DevicePlatform::Web, Some(keys)) => {
                if !web_push_endpoints
                    .iter()
                    .any(|allowed| endpoint_allowed(&self.push_token, allowed))
                {
                    return Err(SharedError::InvalidField {
                        field: "push_token",
                        rule_vi: "phải là địa chỉ Web Push của trình duyệt".to_owned(),
                        rule_en: "must be a browser's Web Push endpoint".to_owned(),
                    }
                    .into());
                }
                if !base64url_of_length(&keys.p256dh, 65) || !base64url_of_length(&keys.auth, 16) {
                    return Err(SharedError::InvalidField {
                        field: "web_push_keys",
                        rule_vi: "khóa không hợp lệ".to_owned(),
                        rule_en: "invalid keys".to_owned(),
                    }
                    .into());
                }
            }
            (DevicePlatform::Web, None) => {
                return Err(SharedError::InvalidField {
                    field: "web_push_keys",
                    rule_vi: "bắt buộc với web".to_owned(),
                    rule_en: "required for web".to_owned(),
                }
                .into());
            }
            (_, Some(_)) => {
                return Err(SharedError::InvalidField {
                    field: "web_push_keys",
                    rule_vi: "chỉ dùng cho web".to_owned(),
                    rule_en: "only for web".to_owned(),
                }
                .into());
            }
            (_, None) => {}
        }
        if self.app_version.as_ref().is_some_and(|v| v.len() > 32) {
            return Err(SharedError::InvalidField {
                field: "app_version",
                rule_vi: "tối đa 32 ký tự".to_owned(),
                rule_en: "at most 32 characters".to_owned(),
            }
            .into());
        }
        Ok(())
    }
}

/// Whether `endpoint` falls under `allowed` (`scheme://host[:port]/path-prefix`, the host
/// possibly `*.suffix`). The endpoint may carry no user or fragment (Edge's carry a query).
fn endpoint_allowed(endpoint: &str, allowed: &str) -> bool {
    let split = |url: &str| {
        let (scheme, rest) = url.split_once("://")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Some((
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase(),
            path.to_owned(),
        ))
    };
    let (Some((scheme, authority, path)), Some((want_scheme, want_authority, want_path))) =
        (split(endpoint), split(allowed))
    else {
        return false;
    };
    if authority.is_empty()
        || authority.contains(['@', '?', '#', '\\'])
        || path.contains(['#', '\\'])
        || path.contains("/../")
    {
        return false;
    }
    let host_matches = match want_authority.strip_prefix("*.") {
        Some(suffix) => authority
            .strip_suffix(suffix)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => authority == want_authority,
    };
    scheme == want_scheme && host_matches && path.starts_with(&want_path)
}

/// Whether `text` is unpadded base64url of exactly `bytes` bytes (a Web Push key).
fn base64url_of_length(text: &str, bytes: usize) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .is_ok_and(|decoded| decoded.len() == bytes)
}

/// Registers this device for push notifications (or moves it to this account).
#[utoipa::path(post, path = "/v1/me/devices", tag = "me", security(("bearer" = [])), request_body = RegisterDevice,
    responses((status = 201, body = Device), (status = 422, body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn register_device(
    State(state): State<IdentityState>,
    principal: Principal,
    JsonBody(device): JsonBody<RegisterDevice>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    device.validate(&state.config.web_push_endpoints)?;
    let keys = device
        .web_push_keys
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(ApiError::internal)?;
    let mut tx = state.pool.begin().await?;
    // A token identifies one app installation: it belongs to whoever registered it last.
    let row = sqlx::query_as!(
        Device,
        r#"INSERT INTO devices (id, account_id, platform, push_token, web_push_keys, app_version)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (push_token) DO UPDATE
           SET account_id = EXCLUDED.account_id, platform = EXCLUDED.platform,
               web_push_keys = EXCLUDED.web_push_keys, app_version = EXCLUDED.app_version,
               updated_at = now()
           RETURNING id, platform, push_token, app_version, created_at, updated_at"#,
        Uuid::now_v7(),
        principal.account_id,
        device.platform.as_str(),
        device.push_token,
        keys,
        device.app_version
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        r#"DELETE FROM devices WHERE account_id = $1 AND id NOT IN
             (SELECT id FROM devices WHERE account_id = $1 ORDER BY updated_at DESC LIMIT $2)"#,
        principal.account_id,
        MAX_DEVICES
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Where to push to: a device's account, platform and token (notifications' call).
#[derive(Debug, Serialize)]
pub struct PushTarget {
    account_id: Uuid,
    platform: String,
    push_token: String,
    web_push_keys: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceLookup {
    account_ids: Vec<Uuid>,
}

/// Accounts asked about at once, at most.
const MAX_LOOKUP: usize = 10_000;

/// The devices of many accounts in one call (everyone a notice goes to).
pub async fn internal_devices(
    State(state): State<IdentityState>,
    JsonBody(lookup): JsonBody<DeviceLookup>,
) -> Result<Json<Vec<PushTarget>>, ApiError> {
    if lookup.account_ids.len() > MAX_LOOKUP {
        return Err(IdentityError::TooManyAccounts { max: MAX_LOOKUP }.into());
    }
    let targets = sqlx::query_as!(
        PushTarget,
        r#"SELECT account_id, platform, push_token, web_push_keys FROM devices
           WHERE account_id = ANY($1) ORDER BY account_id, updated_at DESC"#,
        &lookup.account_ids
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(targets))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetDevice {
    push_token: String,
}

/// Forgets a device the push service says is gone (FCM's `UNREGISTERED`): notifications' call.
pub async fn internal_forget_device(
    State(state): State<IdentityState>,
    JsonBody(device): JsonBody<ForgetDevice>,
) -> Result<StatusCode, ApiError> {
    let forgotten = sqlx::query!(
        "DELETE FROM devices WHERE push_token = $1",
        device.push_token
    )
    .execute(&state.pool)
    .await?;
    if forgotten.rows_affected() > 0 {
        tracing::info!("a device the push service no longer knows was forgotten");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// My registered devices.
#[utoipa::path(get, path = "/v1/me/devices", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = [Device])))]
pub async fn list_devices(
    State(state): State<IdentityState>,
    principal: Principal,
) -> Result<Json<Vec<Device>>, ApiError> {
    let devices = sqlx::query_as!(
        Device,
        r#"SELECT id, platform, push_token, app_version, created_at, updated_at
           FROM devices WHERE account_id = $1 ORDER BY updated_at DESC"#,
        principal.account_id
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(devices))
}

/// Forgets one of my devices.
#[utoipa::path(delete, path = "/v1/me/devices/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "No such device of mine", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn remove_device(
    State(state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let deleted = sqlx::query!(
        "DELETE FROM devices WHERE id = $1 AND account_id = $2",
        id,
        principal.account_id
    )
    .execute(&state.pool)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(IdentityError::DeviceNotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Everything held about me, as one JSON document.
#[utoipa::path(get, path = "/v1/me/export", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Account, personal ID number (when verified), devices, sessions, sign-in codes and security events")))]
pub async fn export(
    State(state): State<IdentityState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let account = load_profile(&state, principal.account_id).await?;
    let id = principal.account_id;
    let devices = sqlx::query!(
        r#"SELECT COALESCE(jsonb_agg(jsonb_build_object(
                 'id', id, 'platform', platform, 'push_token', push_token, 'app_version', app_version,
                 'created_at', created_at, 'updated_at', updated_at) ORDER BY created_at), '[]') AS "devices!"
           FROM devices WHERE account_id = $1"#,
        id
    )
    .fetch_one(&state.pool)
    .await?
    .devices;
    let sessions = sqlx::query!(
        r#"SELECT COALESCE(jsonb_agg(jsonb_build_object(
                 'session', family_id, 'started_at', started_at, 'last_used_at', last_used_at,
                 'revoked_at', revoked_at) ORDER BY started_at), '[]') AS "sessions!"
           FROM (SELECT family_id, min(created_at) AS started_at, max(created_at) AS last_used_at,
                        max(revoked_at) AS revoked_at
                 FROM refresh_tokens WHERE account_id = $1 GROUP BY family_id) s"#,
        id
    )
    .fetch_one(&state.pool)
    .await?
    .sessions;
    let codes = sqlx::query!(
        r#"SELECT COALESCE(jsonb_agg(jsonb_build_object(
                 'sent_at', c.created_at, 'ip', host(c.ip), 'device_id', c.device_id,
                 'used_at', c.consumed_at) ORDER BY c.created_at), '[]') AS "codes!"
           FROM otp_challenges c JOIN accounts a ON a.phone = c.phone WHERE a.id = $1"#,
        id
    )
    .fetch_one(&state.pool)
    .await?
    .codes;
    let national_id = sqlx::query_scalar!("SELECT national_id FROM accounts WHERE id = $1", id)
        .fetch_one(&state.pool)
        .await?;
    let events = sqlx::query!(
        r#"SELECT COALESCE(jsonb_agg(jsonb_build_object(
                 'at', at, 'event', event, 'ip', host(ip), 'user_agent', user_agent, 'details', details)
                 ORDER BY at), '[]') AS "events!"
           FROM audit_log WHERE account_id = $1"#,
        id
    )
    .fetch_one(&state.pool)
    .await?
    .events;
    let document = serde_json::json!({
        "exported_at": Utc::now(),
        "account": account,
        "national_id": national_id,
        "devices": devices,
        "sessions": sessions,
        "sign_in_codes": codes,
        "security_events": events,
    });
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"citizen-export.json\""),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureScheduled {
    /// The account and its data are erased after this time; signing in before cancels it.
    erase_after: DateTime<Utc>,
}

/// Asks for my account to be erased after the grace period; signs out everywhere now.
#[utoipa::path(delete, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 202, body = ErasureScheduled)))]
pub async fn request_erasure(
    State(state): State<IdentityState>,
    principal: Principal,
    client: ClientInfo,
) -> Result<(StatusCode, Json<ErasureScheduled>), ApiError> {
    let id = principal.account_id;
    let mut tx = state.pool.begin().await?;
    let requested_at = sqlx::query_scalar!(
        r#"UPDATE accounts SET erasure_requested_at = COALESCE(erasure_requested_at, now())
           WHERE id = $1 RETURNING erasure_requested_at AS "requested_at!""#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(IdentityError::AccountNotFound)?;
    let erase_after =
        requested_at + chrono::Duration::days(i64::from(state.config.erasure_grace_days));
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
        id
    )
    .execute(&mut *tx)
    .await?;
    let requested = AccountErasureRequested {
        account_id: id,
        erase_after,
    };
    platform::events::enqueue(&mut tx, id, &requested).await?;
    audit::record(
        &mut tx,
        "erasure_requested",
        Some(id),
        Some(id),
        &client,
        serde_json::json!({ "erase_after": erase_after }),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(ErasureScheduled { erase_after })))
}

/// Erases accounts whose grace period is over, for as long as the process runs.
/// Erases the accounts whose grace period is over, every `erasure_interval_secs`.
pub fn start_erasures(state: IdentityState, jobs: &Jobs) {
    let every = Duration::from_secs(state.config.erasure_interval_secs.max(1));
    jobs.repeat("erasures", every, None, move || {
        let state = state.clone();
        async move {
            let erased = erase_due_accounts(&state).await?;
            if erased > 0 {
                tracing::info!(erased, "accounts erased");
            }
            Ok(erased == ERASURE_BATCH as usize)
        }
    });
}

/// Accounts erased per transaction.
const ERASURE_BATCH: i64 = 500;

/// One erasure run: removes the accounts (devices and sessions go with them), their sign-in
/// codes, and the addresses in their security events; tells other services through the outbox.
async fn erase_due_accounts(state: &IdentityState) -> anyhow::Result<usize> {
    let mut tx = state.pool.begin().await?;
    let erased = sqlx::query!(
        r#"DELETE FROM accounts
           WHERE id IN (SELECT id FROM accounts
                        WHERE erasure_requested_at <= now() - make_interval(days => $1)
                        ORDER BY erasure_requested_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING id, phone"#,
        state.config.erasure_grace_days as i32,
        ERASURE_BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    if erased.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = erased.iter().map(|r| r.id).collect();
    let phones: Vec<String> = erased.iter().filter_map(|r| r.phone.clone()).collect();
    sqlx::query!("DELETE FROM otp_challenges WHERE phone = ANY($1)", &phones)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE audit_log SET ip = NULL, user_agent = NULL, details = '{}' WHERE account_id = ANY($1)",
        &ids
    )
    .execute(&mut *tx)
    .await?;
    // An `AccountErased` per account, written in one statement.
    sqlx::query!(
        r#"INSERT INTO outbox (id, aggregate_id, event_type, payload)
           SELECT gen_random_uuid(), id, $2, jsonb_build_object('account_id', id)
           FROM unnest($1::uuid[]) AS id"#,
        &ids,
        AccountErased::NAME
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO audit_log (event, account_id) SELECT 'account_erased', id FROM unnest($1::uuid[]) AS id"#,
        &ids
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_push_endpoints_must_point_at_an_allowed_push_service() {
        let allowed = |endpoint: &str| {
            crate::config::IdentityConfig::default()
                .web_push_endpoints
                .iter()
                .any(|a| endpoint_allowed(endpoint, a))
        };
        assert!(allowed("https://fcm.googleapis.com/fcm/send/dZ3x:APA91b"));
        assert!(allowed(
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA"
        ));
        assert!(allowed(
            "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD"
        ));
        // Not a push service, not https, a look-alike host, a smuggled user or port.
        assert!(!allowed("https://metadata.internal/computeMetadata"));
        assert!(!allowed("http://fcm.googleapis.com/fcm/send/x"));
        assert!(!allowed("https://fcm.googleapis.com.evil.example/x"));
        assert!(!allowed("https://evilnotify.windows.com/x"));
        assert!(!allowed("https://notify.windows.com/x"));
        assert!(!allowed("https://fcm.googleapis.com@10.0.0.1/x"));
        assert!(!allowed("https://fcm.googleapis.com:8443/x"));
        // A development emulator is allowed by naming its prefix.
        assert!(endpoint_allowed(
            "http://127.0.0.1:8080/sandbox/webpush/push/abc",
            "http://127.0.0.1:8080/sandbox/webpush/"
        ));
        assert!(!endpoint_allowed(
            "http://127.0.0.1:8080/internal/v1/x",
            "http://127.0.0.1:8080/sandbox/webpush/"
        ));
    }
}
