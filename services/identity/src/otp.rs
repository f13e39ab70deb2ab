//! Residents sign in with their phone: a 6-digit code by SMS, then the code for tokens. The
//! account is created on first use.
//!
//! Codes are stored as HMACs, live a few minutes, work once and allow a few wrong tries. Sends
//! are limited per phone, per IP and per device, and spaced by a cooldown, because every SMS
//! costs money and SMS pumping is a real fraud.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use hmac::{Hmac, Mac};
use platform::ApiError;
use platform::auth::Role;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use platform::extract::ClientInfo;

use crate::audit;
use crate::phone::PhoneNumber;
use crate::sessions::{TokenResponse, TokenSubject};
use platform::extract::JsonBody;

use crate::{IdentityError, IdentityState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendCode {
    /// Vietnamese mobile number, e.g. `0912 345 678` or `+84912345678`.
    #[schema(example = "0912 345 678")]
    phone: String,
    /// The app installation's id, for per-device quotas.
    #[serde(default)]
    device_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// The number the code went to, normalised.
    phone: String,
    /// Seconds the code stays valid.
    expires_in: u64,
    /// Seconds before another code may be requested.
    resend_after: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyCode {
    phone: String,
    #[schema(example = "123456")]
    code: String,
}

fn seconds_until(at: chrono::DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or(Duration::from_secs(1))
}

impl IdentityState {
    fn code_hash(&self, challenge: Uuid, code: &str) -> Vec<u8> {
        let mut mac = self.otp_mac();
        mac.update(challenge.as_bytes());
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn otp_mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        Hmac::<Sha256>::new_from_slice(&self.otp_key).unwrap_or_else(|_| unreachable!())
    }
}

/// Sends a sign-in code by SMS.
#[utoipa::path(
    post, path = "/v1/auth/otp", tag = "auth", request_body = SendCode,
    responses(
        (status = 202, description = "Code sent", body = CodeSent),
        (status = 422, description = "Invalid phone number", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Cooldown or quota; see Retry-After", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The SMS gateway is unavailable", body = platform::error::Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn send_code(
    State(state): State<IdentityState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<SendCode>,
) -> Result<(StatusCode, Json<CodeSent>), ApiError> {
    let phone = PhoneNumber::parse(&body.phone).ok_or(IdentityError::InvalidPhone)?;
    let device = body
        .device_id
        .filter(|d| !d.is_empty())
        .map(|d| d.chars().take(128).collect::<String>());
    let limits = &state.config.otp;
    let ip = client.ip.map(sqlx::types::ipnetwork::IpNetwork::from);

    let mut tx = state.pool.begin().await?;
    // One send per phone at a time, so quotas are counted exactly.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext($1))", phone.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let usage = sqlx::query!(
        r#"SELECT
             (SELECT max(created_at) FROM otp_challenges WHERE phone = $1) AS last_sent,
             (SELECT count(*) FROM otp_challenges WHERE phone = $1 AND created_at > now() - interval '1 hour') AS "phone_count!",
             (SELECT min(created_at) FROM otp_challenges WHERE phone = $1 AND created_at > now() - interval '1 hour') AS phone_oldest,
             (SELECT count(*) FROM otp_challenges WHERE ip = $2 AND created_at > now() - interval '1 hour') AS "ip_count!",
             (SELECT min(created_at) FROM otp_challenges WHERE ip = $2 AND created_at > now() - interval '1 hour') AS ip_oldest,
             (SELECT count(*) FROM otp_challenges WHERE device_id = $3 AND created_at > now() - interval '1 hour') AS "device_count!",
             (SELECT min(created_at) FROM otp_challenges WHERE device_id = $3 AND created_at > now() - interval '1 hour') AS device_oldest"#,
        phone.as_str(),
        ip,
        device
    )
    .fetch_one(&mut *tx)
    .await?;
    let hour = chrono::Duration::hours(1);
    if let Some(last) = usage.last_sent {
        let next = last + chrono::Duration::seconds(limits.resend_cooldown_secs as i64);
        if next > Utc::now() {
            return Err(
                ApiError::from(IdentityError::OtpCooldown).with_retry_after(seconds_until(next))
            );
        }
    }
    let quotas = [
        (
            usage.phone_count >= limits.per_phone_per_hour,
            usage.phone_oldest,
        ),
        (
            ip.is_some() && usage.ip_count >= limits.per_ip_per_hour,
            usage.ip_oldest,
        ),
        (
            device.is_some() && usage.device_count >= limits.per_device_per_hour,
            usage.device_oldest,
        ),
    ];
    if let Some((_, oldest)) = quotas.iter().find(|(exceeded, _)| *exceeded) {
        audit::record(
            &mut tx,
            "otp_quota_exceeded",
            None,
            None,
            &client,
            serde_json::json!({ "phone": phone.masked() }),
        )
        .await?;
        tx.commit().await?;
        return Err(
            ApiError::from(IdentityError::OtpQuotaExceeded).with_retry_after(
                oldest.map_or(Duration::from_secs(3600), |o| seconds_until(o + hour)),
            ),
        );
    }

    let challenge = Uuid::now_v7();
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let expires_at = Utc::now() + chrono::Duration::seconds(limits.ttl_secs as i64);
    sqlx::query!(
        r#"INSERT INTO otp_challenges (id, phone, code_hash, ip, device_id, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        challenge,
        phone.as_str(),
        state.code_hash(challenge, &code),
        ip,
        device,
        expires_at
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let text = state
        .config
        .sms
        .template
        .replace("{code}", &code)
        .replace("{minutes}", &(limits.ttl_secs / 60).to_string());
    if let Err(error) = state.sms.send(&phone, &text).await {
        tracing::error!(error = %format!("{error:#}"), phone = %phone.masked(), "SMS not sent");
        // The code never arrived: it must not be usable, but the attempt still counts.
        sqlx::query!(
            "UPDATE otp_challenges SET consumed_at = now() WHERE id = $1",
            challenge
        )
        .execute(&state.pool)
        .await?;
        return Err(ApiError::from(IdentityError::SmsUnavailable)
            .with_retry_after(Duration::from_secs(limits.resend_cooldown_secs)));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            phone: phone.to_string(),
            expires_in: limits.ttl_secs,
            resend_after: limits.resend_cooldown_secs,
        }),
    ))
}

/// Exchanges the code for tokens; creates the account on first sign-in.
#[utoipa::path(
    post, path = "/v1/auth/otp/verify", tag = "auth", request_body = VerifyCode,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Wrong, expired or used code", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_phone`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes", body = platform::error::Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn verify_code(
    State(state): State<IdentityState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<VerifyCode>,
) -> Result<Json<TokenResponse>, ApiError> {
    let phone = PhoneNumber::parse(&body.phone).ok_or(IdentityError::InvalidPhone)?;
    let mut tx = state.pool.begin().await?;
    let challenge = sqlx::query!(
        r#"SELECT id, code_hash, attempts, expires_at FROM otp_challenges
           WHERE phone = $1 AND consumed_at IS NULL
           ORDER BY created_at DESC LIMIT 1 FOR UPDATE"#,
        phone.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(challenge) = challenge.filter(|c| c.expires_at > Utc::now()) else {
        return Err(IdentityError::OtpExpired.into());
    };
    let max_attempts = state.config.otp.max_attempts;
    if challenge.attempts >= max_attempts {
        return Err(ApiError::from(IdentityError::OtpLocked)
            .with_retry_after(seconds_until(challenge.expires_at)));
    }
    let mut mac = state.otp_mac();
    mac.update(challenge.id.as_bytes());
    mac.update(body.code.trim().as_bytes());
    if mac.verify_slice(&challenge.code_hash).is_err() {
        sqlx::query!(
            "UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = $1",
            challenge.id
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            "otp_failed",
            None,
            None,
            &client,
            serde_json::json!({ "phone": phone.masked(), "attempt": challenge.attempts + 1 }),
        )
        .await?;
        tx.commit().await?;
        let left = max_attempts - challenge.attempts - 1;
        return Err(IdentityError::OtpIncorrect { left }.into());
    }
    sqlx::query!(
        "UPDATE otp_challenges SET consumed_at = now() WHERE id = $1",
        challenge.id
    )
    .execute(&mut *tx)
    .await?;

    let account = sqlx::query!(
        r#"INSERT INTO accounts (id, kind, phone, roles)
           VALUES ($1, 'resident', $2, $3)
           ON CONFLICT (phone) DO UPDATE SET updated_at = now(), erasure_requested_at = NULL
           RETURNING id, (xmax = 0) AS "created!""#,
        Uuid::now_v7(),
        phone.as_str(),
        &[Role::Resident.as_str().to_owned()]
    )
    .fetch_one(&mut *tx)
    .await?;
    let subject = TokenSubject::load(&mut tx, account.id, state.config.admin_totp_required).await?;
    let tokens = state.start_session(&mut tx, &subject).await?;
    audit::record(
        &mut tx,
        if account.created {
            "account_created"
        } else {
            "sign_in"
        },
        Some(account.id),
        Some(account.id),
        &client,
        serde_json::json!({ "method": "phone_otp" }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(tokens))
}
