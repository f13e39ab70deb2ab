//! Staff: ward officers, department staff, jurisdiction and platform admins. They sign in with
//! a username and password (argon2id, OWASP parameters) and, once enrolled, a TOTP code.
//! Admins create, disable and re-scope staff within their own reach.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use platform::ApiError;
use platform::auth::{Principal, Role, Scope};
use platform::extract::{JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use totp_rs::{Secret, TOTP};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{IdentityError, IdentityState};
use platform::extract::ClientInfo;

use crate::audit;
use crate::sessions::{TokenResponse, TokenSubject};

const MIN_PASSWORD_CHARS: usize = 12;
const TOTP_STEP: u64 = 30;

/// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

/// Checks a password off the async threads (hashing takes tens of milliseconds on purpose),
/// holding `slot` until the hash is done.
async fn password_matches(
    password: String,
    hash: Option<String>,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> bool {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        // With no account, hash anyway, so timing does not reveal which usernames exist.
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// The hash of a random password, for usernames that do not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$yMpxFLuF0rpnOpHgiQEIaMz3UDS6cMFRH1XQOSLkH2c";

fn totp(secret_base32: &str, account: &str) -> Option<TOTP> {
    let secret = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        TOTP_STEP,
        secret,
        Some("Citizen".to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// The time step a code belongs to (this one, or one either side for clock drift), if any.
fn totp_step_matching(totp: &TOTP, code: &str) -> Option<i64> {
    let now = Utc::now().timestamp().max(0) as u64;
    [now.saturating_sub(TOTP_STEP), now, now + TOTP_STEP]
        .into_iter()
        .find_map(|time| {
            let expected = totp.generate(time);
            let same = expected.len() == code.len()
                && expected
                    .bytes()
                    .zip(code.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            same.then_some((time / TOTP_STEP) as i64)
        })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    username: String,
    password: String,
    /// Required once TOTP is enrolled.
    #[serde(default)]
    totp_code: Option<String>,
}

/// Staff sign-in.
#[utoipa::path(post, path = "/v1/auth/staff/login", tag = "auth", request_body = StaffLogin,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong credentials, or a TOTP code is needed (`totp_required`)", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts (`too_many_sign_ins`), too many failures from this address (`account_locked`), or too many sign-ins at once (`sign_in_busy`)", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<IdentityState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<StaffLogin>,
) -> Result<Json<TokenResponse>, ApiError> {
    let username = body.username.trim().to_lowercase();
    if username.len() > 64 || body.password.len() > 1024 {
        return Err(IdentityError::InvalidCredentials.into());
    }
    let attempt = state.sign_in.admit(&username, &client).await?;
    let slot = state.sign_in.hashing_slot().await?;
    let account = sqlx::query!(
        r#"SELECT id, password_hash, totp_secret, totp_enabled, totp_last_step, disabled_at
           FROM accounts WHERE username = $1 AND kind = 'staff'"#,
        username
    )
    .fetch_optional(&state.pool)
    .await?;
    let matches = password_matches(
        body.password,
        account.as_ref().and_then(|a| a.password_hash.clone()),
        slot,
    )
    .await;
    let Some(account) = account else {
        // Counted like a known username's failure, so both answer alike.
        state.sign_in.failed(&attempt).await;
        return Err(IdentityError::InvalidCredentials.into());
    };
    let mut second_factor_step = None;
    let failure = if !matches {
        Some(("password", IdentityError::InvalidCredentials))
    } else if account.totp_enabled {
        let checked = body
            .totp_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|code| {
                account
                    .totp_secret
                    .as_deref()
                    .and_then(|secret| totp(secret, &username))
                    .and_then(|totp| totp_step_matching(&totp, code))
                    .filter(|step| account.totp_last_step.is_none_or(|last| *step > last))
            });
        match checked {
            None => Some(("totp_missing", IdentityError::TotpRequired)),
            Some(None) => Some(("totp", IdentityError::TotpIncorrect)),
            Some(Some(step)) => {
                second_factor_step = Some(step);
                None
            }
        }
    } else {
        None
    };

    let mut tx = state.pool.begin().await?;
    if let Some((factor, error)) = failure {
        // Asking for the TOTP code is not a failure; a wrong password or code is.
        if factor != "totp_missing" {
            let locked = state.sign_in.failed(&attempt).await;
            audit::record(
                &mut tx,
                "sign_in_failed",
                Some(account.id),
                None,
                &client,
                serde_json::json!({ "factor": factor }),
            )
            .await?;
            if locked {
                audit::record(
                    &mut tx,
                    "lockout",
                    Some(account.id),
                    None,
                    &client,
                    serde_json::json!({ "minutes": state.config.staff_sign_in.lockout_secs / 60 }),
                )
                .await?;
            }
            tx.commit().await?;
        }
        return Err(error.into());
    }
    if account.disabled_at.is_some() {
        return Err(IdentityError::AccountDisabled.into());
    }
    sqlx::query!(
        "UPDATE accounts SET totp_last_step = COALESCE($2, totp_last_step) WHERE id = $1",
        account.id,
        second_factor_step
    )
    .execute(&mut *tx)
    .await?;
    let subject = TokenSubject::load(&mut tx, account.id, state.config.admin_totp_required).await?;
    let tokens = state.start_session(&mut tx, &subject).await?;
    audit::record(&mut tx, "sign_in", Some(account.id), Some(account.id), &client,
        serde_json::json!({ "method": if second_factor_step.is_some() { "password+totp" } else { "password" } })).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret, for typing into an authenticator app.
    secret: String,
    /// `otpauth://` URI, for a QR code.
    otpauth_uri: String,
    /// That URI as a QR code: a PNG, base64-encoded, for a page to show as a `data:` image.
    qr_png_base64: String,
}

/// Read from the account, not the token: an admin whose admin roles are withheld until TOTP
/// is on may hold a token with no role at all, and must still be able to enrol.
fn staff_only(kind: &str) -> Result<(), ApiError> {
    if kind == "staff" {
        return Ok(());
    }
    Err(platform::error::SharedError::StaffOnly.into())
}

/// Starts TOTP enrolment: returns a new secret to confirm with a code.
#[utoipa::path(post, path = "/v1/me/totp", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = TotpEnrolment),
        (status = 403, description = "`staff_only`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn enrol_totp(
    State(state): State<IdentityState>,
    principal: Principal,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let account = sqlx::query!(
        "SELECT kind, username, totp_enabled FROM accounts WHERE id = $1",
        principal.account_id
    )
    .fetch_one(&state.pool)
    .await?;
    staff_only(&account.kind)?;
    if account.totp_enabled {
        return Err(IdentityError::TotpAlreadyEnabled.into());
    }
    let secret = Secret::generate_secret().to_encoded().to_string();
    let username = account.username.unwrap_or_default();
    let totp = totp(&secret, &username)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("TOTP secret rejected")))?;
    sqlx::query!(
        "UPDATE accounts SET totp_secret = $2 WHERE id = $1",
        principal.account_id,
        secret
    )
    .execute(&state.pool)
    .await?;
    let qr_png_base64 = totp
        .get_qr_base64()
        .map_err(|error| ApiError::internal(anyhow::anyhow!("TOTP QR code: {error}")))?;
    Ok(Json(TotpEnrolment {
        otpauth_uri: totp.get_url(),
        qr_png_base64,
        secret,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmation {
    code: String,
}

/// Turns TOTP on, given a code from the enrolled secret.
#[utoipa::path(post, path = "/v1/me/totp/confirm", tag = "staff", security(("bearer" = [])), request_body = TotpConfirmation,
    responses((status = 204), (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`totp_confirmation_incorrect`: a wrong code, or no enrolment to confirm", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`staff_only`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn confirm_totp(
    State(state): State<IdentityState>,
    principal: Principal,
    client: ClientInfo,
    JsonBody(body): JsonBody<TotpConfirmation>,
) -> Result<StatusCode, ApiError> {
    let account = sqlx::query!(
        "SELECT kind, username, totp_secret, totp_enabled FROM accounts WHERE id = $1",
        principal.account_id
    )
    .fetch_one(&state.pool)
    .await?;
    staff_only(&account.kind)?;
    let step = account
        .totp_secret
        .as_deref()
        .filter(|_| !account.totp_enabled)
        .and_then(|secret| totp(secret, account.username.as_deref().unwrap_or_default()))
        .and_then(|totp| totp_step_matching(&totp, body.code.trim()))
        .ok_or(IdentityError::TotpConfirmationIncorrect)?;
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "UPDATE accounts SET totp_enabled = true, totp_last_step = $2 WHERE id = $1",
        principal.account_id,
        step
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        "totp_enabled",
        Some(principal.account_id),
        Some(principal.account_id),
        &client,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff account to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub username: String,
    /// At least 12 characters.
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub scope: Scope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMember {
    id: Uuid,
    username: String,
    display_name: Option<String>,
    roles: Vec<Role>,
    scope: Scope,
    totp_enabled: bool,
    disabled: bool,
}

fn validate_roles_and_scope(roles: &[Role], scope: &Scope) -> Result<(), ApiError> {
    if roles.is_empty() || roles.contains(&Role::Resident) {
        return Err(IdentityError::InvalidStaff {
            rule_vi: "Cần ít nhất một vai trò cán bộ.",
            rule_en: "At least one staff role is needed.",
        }
        .into());
    }
    let only_platform = roles.iter().all(|r| *r == Role::PlatformAdmin);
    if !only_platform && scope.jurisdiction.is_none() {
        return Err(IdentityError::InvalidStaff {
            rule_vi: "Cán bộ địa phương cần có địa phương.",
            rule_en: "Staff of a jurisdiction need one.",
        }
        .into());
    }
    let ids_ok =
        |ids: &[String]| ids.len() <= 100 && ids.iter().all(|id| !id.is_empty() && id.len() <= 64);
    if !ids_ok(&scope.wards) || !ids_ok(&scope.departments) {
        return Err(IdentityError::InvalidStaff {
            rule_vi: "Mã phường hoặc phòng ban không hợp lệ.",
            rule_en: "Invalid ward or department ids.",
        }
        .into());
    }
    Ok(())
}

impl NewStaff {
    fn validate(&self) -> Result<(), ApiError> {
        let username_ok = (3..=64).contains(&self.username.len())
            && self.username.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if !username_ok {
            return Err(IdentityError::InvalidStaff {
                rule_vi: "Tên đăng nhập gồm 3-64 ký tự a-z, 0-9, dấu chấm, gạch dưới, gạch ngang.",
                rule_en: "Usernames are 3-64 characters of a-z, 0-9, dot, underscore, dash.",
            }
            .into());
        }
        if self.password.chars().count() < MIN_PASSWORD_CHARS || self.password.len() > 1024 {
            return Err(IdentityError::InvalidStaff {
                rule_vi: "Mật khẩu cần ít nhất 12 ký tự.",
                rule_en: "Passwords need at least 12 characters.",
            }
            .into());
        }
        validate_roles_and_scope(&self.roles, &self.scope)
    }
}

/// Creates a staff account. Used by the admin endpoint, `citizen staff create` and the demo seed.
pub async fn create_staff(pool: &PgPool, staff: &NewStaff) -> Result<Uuid, ApiError> {
    staff.validate()?;
    let password = staff.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let roles: Vec<String> = staff.roles.iter().map(|r| r.as_str().to_owned()).collect();
    let id = sqlx::query_scalar!(
        r#"INSERT INTO accounts (id, kind, username, password_hash, display_name, roles, jurisdiction, ward_ids, department_ids)
           VALUES ($1, 'staff', $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (username) DO NOTHING RETURNING id"#,
        Uuid::now_v7(),
        staff.username,
        hash,
        staff.display_name,
        &roles,
        staff.scope.jurisdiction,
        &staff.scope.wards,
        &staff.scope.departments
    )
    .fetch_optional(pool)
    .await?
    .ok_or(IdentityError::UsernameTaken)?;
    Ok(id)
}

/// May `actor` manage staff with these roles in this jurisdiction? Platform admins manage
/// everyone; jurisdiction admins manage officers and department staff of their jurisdiction.
fn may_manage(actor: &Principal, roles: &[Role], jurisdiction: Option<&str>) -> bool {
    if actor.has_role(Role::PlatformAdmin) {
        return true;
    }
    actor.has_role(Role::JurisdictionAdmin)
        && jurisdiction.is_some()
        && actor.scope.jurisdiction.as_deref() == jurisdiction
        && roles
            .iter()
            .all(|r| matches!(r, Role::WardOfficer | Role::DepartmentStaff))
}

fn admins_only(actor: &Principal) -> Result<(), ApiError> {
    if actor.has_role(Role::PlatformAdmin) || actor.has_role(Role::JurisdictionAdmin) {
        return Ok(());
    }
    Err(IdentityError::AdminOnly.into())
}

/// Creates a staff member.
#[utoipa::path(post, path = "/v1/admin/staff", tag = "staff", security(("bearer" = [])), request_body = NewStaff,
    responses((status = 201, body = StaffMember), (status = 403, description = "`admin_only`, `outside_your_scope`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = platform::error::Problem, content_type = "application/problem+json"), (status = 422, body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn create_staff_route(
    State(state): State<IdentityState>,
    actor: Principal,
    client: ClientInfo,
    JsonBody(staff): JsonBody<NewStaff>,
) -> Result<(StatusCode, Json<StaffMember>), ApiError> {
    admins_only(&actor)?;
    if !may_manage(&actor, &staff.roles, staff.scope.jurisdiction.as_deref()) {
        return Err(IdentityError::OutsideYourScope.into());
    }
    let id = create_staff(&state.pool, &staff).await?;
    let mut connection = state.pool.acquire().await?;
    audit::record(
        &mut connection,
        "staff_created",
        Some(id),
        Some(actor.account_id),
        &client,
        serde_json::json!({ "roles": staff.roles, "scope": staff.scope }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            load_staff(&state.pool, id)
                .await?
                .ok_or(IdentityError::StaffNotFound)?,
        ),
    ))
}

/// A staff account as read from the database.
struct StaffRow {
    id: Uuid,
    username: Option<String>,
    display_name: Option<String>,
    roles: Vec<String>,
    jurisdiction: Option<String>,
    ward_ids: Vec<String>,
    department_ids: Vec<String>,
    totp_enabled: bool,
    disabled_at: Option<chrono::DateTime<Utc>>,
}

impl From<StaffRow> for StaffMember {
    fn from(row: StaffRow) -> Self {
        StaffMember {
            id: row.id,
            username: row.username.unwrap_or_default(),
            display_name: row.display_name,
            roles: row
                .roles
                .iter()
                .filter_map(|role| Role::parse(role))
                .collect(),
            scope: Scope {
                jurisdiction: row.jurisdiction,
                wards: row.ward_ids,
                departments: row.department_ids,
            },
            totp_enabled: row.totp_enabled,
            disabled: row.disabled_at.is_some(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responsibility {
    jurisdiction: String,
    ward: String,
    department: String,
}

#[derive(Debug, Serialize)]
pub struct Responsible {
    staff: Vec<Uuid>,
}

/// The active staff who answer for a ward or a department of a jurisdiction: its ward officers
/// and the department's staff (notifications tells them of new and overdue reports).
pub async fn internal_responsible(
    State(state): State<IdentityState>,
    JsonBody(who): JsonBody<Responsibility>,
) -> Result<Json<Responsible>, ApiError> {
    let staff = sqlx::query_scalar!(
        r#"SELECT id FROM accounts
           WHERE kind = 'staff' AND disabled_at IS NULL AND jurisdiction = $1
             AND (('ward_officer' = ANY(roles) AND $2 = ANY(ward_ids))
               OR ('department_staff' = ANY(roles) AND $3 = ANY(department_ids)))
           ORDER BY id"#,
        who.jurisdiction,
        who.ward,
        who.department
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Responsible { staff }))
}

/// A staff member as another service sees them (reports checks an assignee's scope); 404 for
/// anyone who is not staff.
pub async fn internal_staff(
    State(state): State<IdentityState>,
    Path(id): Path<Uuid>,
) -> Result<Json<StaffMember>, ApiError> {
    let staff = load_staff(&state.pool, id)
        .await?
        .ok_or(IdentityError::StaffNotFound)?;
    Ok(Json(staff))
}

async fn load_staff(pool: &PgPool, id: Uuid) -> Result<Option<StaffMember>, ApiError> {
    let row = sqlx::query_as!(
        StaffRow,
        r#"SELECT id, username, display_name, roles, jurisdiction, ward_ids, department_ids, totp_enabled, disabled_at
           FROM accounts WHERE id = $1 AND kind = 'staff'"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(StaffMember::from))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUpdate {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    roles: Option<Vec<Role>>,
    #[serde(default)]
    scope: Option<Scope>,
}

/// Disables, enables or re-scopes a staff member.
#[utoipa::path(patch, path = "/v1/admin/staff/{id}", tag = "staff", security(("bearer" = [])), request_body = StaffUpdate,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = StaffMember),
        (status = 403, description = "`admin_only`, `outside_your_scope`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such staff member within your reach", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_staff`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn update_staff(
    State(state): State<IdentityState>,
    actor: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
    JsonBody(update): JsonBody<StaffUpdate>,
) -> Result<Json<StaffMember>, ApiError> {
    admins_only(&actor)?;
    let current = load_staff(&state.pool, id)
        .await?
        .ok_or(IdentityError::StaffNotFound)?;
    // Staff out of reach are not shown to exist.
    if !may_manage(
        &actor,
        &current.roles,
        current.scope.jurisdiction.as_deref(),
    ) {
        return Err(IdentityError::StaffNotFound.into());
    }
    let roles = update
        .roles
        .clone()
        .unwrap_or_else(|| current.roles.clone());
    let scope = update
        .scope
        .clone()
        .unwrap_or_else(|| current.scope.clone());
    validate_roles_and_scope(&roles, &scope)?;
    if !may_manage(&actor, &roles, scope.jurisdiction.as_deref()) {
        return Err(IdentityError::OutsideYourScope.into());
    }
    if id == actor.account_id && update.disabled == Some(true) {
        return Err(IdentityError::InvalidStaff {
            rule_vi: "Không thể tự khóa tài khoản của mình.",
            rule_en: "You cannot disable yourself.",
        }
        .into());
    }
    let role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        r#"UPDATE accounts SET roles = $2, jurisdiction = $3, ward_ids = $4, department_ids = $5,
             disabled_at = CASE WHEN $6::bool IS NULL THEN disabled_at
                                WHEN $6 THEN COALESCE(disabled_at, now()) ELSE NULL END,
             updated_at = now()
           WHERE id = $1"#,
        id,
        &role_names,
        scope.jurisdiction,
        &scope.wards,
        &scope.departments,
        update.disabled
    )
    .execute(&mut *tx)
    .await?;
    if update.disabled == Some(true) || update.roles.is_some() || update.scope.is_some() {
        // New roles or scope take effect at the next sign-in; old sessions end now.
        sqlx::query!("UPDATE refresh_tokens SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL", id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(&mut tx, "staff_updated", Some(id), Some(actor.account_id), &client, serde_json::json!({
        "before": { "roles": current.roles, "scope": current.scope, "disabled": current.disabled },
        "after": { "roles": roles, "scope": scope, "disabled": update.disabled.unwrap_or(current.disabled) },
    }))
    .await?;
    tx.commit().await?;
    Ok(Json(
        load_staff(&state.pool, id)
            .await?
            .ok_or(IdentityError::StaffNotFound)?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct StaffQuery {
    jurisdiction: Option<String>,
}

/// Staff within my reach.
#[utoipa::path(get, path = "/v1/admin/staff", tag = "staff", security(("bearer" = [])),
    params(("jurisdiction" = Option<String>, Query)),
    responses((status = 200, body = [StaffMember]),
        (status = 403, description = "`admin_only`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn list_staff(
    State(state): State<IdentityState>,
    actor: Principal,
    QueryParams(query): QueryParams<StaffQuery>,
) -> Result<Json<Vec<StaffMember>>, ApiError> {
    admins_only(&actor)?;
    let jurisdiction = if actor.has_role(Role::PlatformAdmin) {
        query.jurisdiction
    } else {
        actor.scope.jurisdiction.clone()
    };
    let rows = sqlx::query_as!(
        StaffRow,
        r#"SELECT id, username, display_name, roles, jurisdiction, ward_ids, department_ids, totp_enabled, disabled_at
           FROM accounts WHERE kind = 'staff' AND ($1::text IS NULL OR jurisdiction = $1)
           ORDER BY username LIMIT 1000"#,
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.into_iter().map(StaffMember::from).collect()))
}

/// The password of the demo staff (dev seed only).
pub const DEV_STAFF_PASSWORD: &str = "hue-demo-password";

/// Demo staff of `hue`: an admin, ward officers and department staff.
pub async fn seed_dev_staff(pool: &PgPool) -> anyhow::Result<()> {
    let hue = |wards: &[&str], departments: &[&str]| Scope {
        jurisdiction: Some("hue".to_owned()),
        wards: wards.iter().map(|w| (*w).to_owned()).collect(),
        departments: departments.iter().map(|d| (*d).to_owned()).collect(),
    };
    let staff = [
        (
            "hue.admin",
            "Quản trị Huế",
            vec![Role::JurisdictionAdmin],
            hue(&[], &[]),
        ),
        (
            "phuxuan.officer",
            "Cán bộ phường Phú Xuân",
            vec![Role::WardOfficer],
            hue(&["phu-xuan"], &[]),
        ),
        (
            "thuanhoa.officer",
            "Cán bộ phường Thuận Hóa",
            vec![Role::WardOfficer],
            hue(&["thuan-hoa"], &[]),
        ),
        (
            "vyda.officer",
            "Cán bộ phường Vỹ Dạ",
            vec![Role::WardOfficer],
            hue(&["vy-da"], &[]),
        ),
        (
            "environment.staff",
            "Cán bộ môi trường đô thị",
            vec![Role::DepartmentStaff],
            hue(&[], &["urban-environment"]),
        ),
        (
            "centre.staff",
            "Cán bộ Trung tâm Phục vụ hành chính công",
            vec![Role::DepartmentStaff],
            hue(&[], &["public-service-centre"]),
        ),
        (
            "construction.staff",
            "Cán bộ Sở Xây dựng",
            vec![Role::DepartmentStaff],
            hue(&[], &["construction"]),
        ),
    ];
    for (username, name, roles, scope) in staff {
        let member = NewStaff {
            username: username.to_owned(),
            password: DEV_STAFF_PASSWORD.to_owned(),
            display_name: Some(name.to_owned()),
            roles,
            scope,
        };
        match create_staff(pool, &member).await {
            Ok(_) => tracing::warn!(username, "created demo staff (identity.dev_seed_staff)"),
            Err(error) if error.code() == "username_taken" => {}
            Err(error) => anyhow::bail!("cannot create demo staff {username}: {}", error.code()),
        }
    }
    Ok(())
}
