//! Sessions: a short-lived access token (JWT) and an opaque refresh token, rotated on every
//! use. A session is a family of refresh tokens; using a rotated one again, after a short grace
//! window for an app racing itself, revokes the family: the token was stolen or replayed.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::{ACCESS_TOKEN_TYPE, AccessClaims, Acr, Role, Scope};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{IdentityError, IdentityState};
use platform::extract::ClientInfo;

use crate::audit;

/// What a successful sign-in or refresh returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Opaque; send it to `/v1/auth/refresh` for new tokens. Each works once.
    pub refresh_token: String,
    pub account_id: Uuid,
}

/// The account facts that go into an access token.
pub struct TokenSubject {
    pub account_id: Uuid,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub acr: Acr,
}

impl TokenSubject {
    /// Reads the account, refusing disabled ones. With `admin_totp_required`, the admin roles
    /// of an account without TOTP stay out of its tokens: a stolen password alone never
    /// administers anything.
    pub async fn load(
        connection: &mut PgConnection,
        account_id: Uuid,
        admin_totp_required: bool,
    ) -> Result<TokenSubject, ApiError> {
        let row = sqlx::query!(
            r#"SELECT roles, jurisdiction, ward_ids, department_ids, acr, disabled_at, totp_enabled
               FROM accounts WHERE id = $1"#,
            account_id
        )
        .fetch_optional(&mut *connection)
        .await?
        .ok_or(IdentityError::InvalidRefreshToken)?;
        if row.disabled_at.is_some() {
            return Err(IdentityError::AccountDisabled.into());
        }
        let withhold_admin = admin_totp_required && !row.totp_enabled;
        Ok(TokenSubject {
            account_id,
            roles: row
                .roles
                .iter()
                .filter_map(|r| Role::parse(r))
                .filter(|role| !(withhold_admin && role.is_admin()))
                .collect(),
            scope: Scope {
                jurisdiction: row.jurisdiction,
                wards: row.ward_ids,
                departments: row.department_ids,
            },
            acr: Acr::parse(&row.acr).unwrap_or(Acr::Basic),
        })
    }
}

fn new_refresh_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl IdentityState {
    fn access_token(
        &self,
        subject: &TokenSubject,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let key = self.keys.signer(now);
        let mut header = jsonwebtoken::Header::new(key.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let claims = AccessClaims {
            iss: self.auth.issuer.clone(),
            aud: self.auth.audience.clone(),
            sub: subject.account_id,
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl().as_secs() as i64,
            jti: Uuid::now_v7(),
            sid: session_id,
            roles: subject.roles.clone(),
            scope: subject.scope.clone(),
            acr: subject.acr,
        };
        jsonwebtoken::encode(&header, &claims, key.encoding_key()).map_err(ApiError::internal)
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.auth.access_token_ttl_secs)
    }

    /// Starts a session for `subject` inside the caller's transaction.
    pub async fn start_session(
        &self,
        connection: &mut PgConnection,
        subject: &TokenSubject,
    ) -> Result<TokenResponse, ApiError> {
        let family = Uuid::now_v7();
        self.issue(connection, subject, family).await
    }

    async fn issue(
        &self,
        connection: &mut PgConnection,
        subject: &TokenSubject,
        family: Uuid,
    ) -> Result<TokenResponse, ApiError> {
        let now = Utc::now();
        let (refresh_token, hash) = new_refresh_token();
        let expires_at =
            now + chrono::Duration::days(i64::from(self.config.refresh_token_ttl_days));
        sqlx::query!(
            r#"INSERT INTO refresh_tokens (id, family_id, account_id, token_hash, acr, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
            Uuid::now_v7(),
            family,
            subject.account_id,
            hash,
            subject.acr.as_str(),
            expires_at
        )
        .execute(&mut *connection)
        .await?;
        Ok(TokenResponse {
            access_token: self.access_token(subject, family, now)?,
            token_type: "Bearer",
            expires_in: self.access_ttl().as_secs(),
            refresh_token,
            account_id: subject.account_id,
        })
    }

    /// Exchanges a refresh token for new tokens, rotating it.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<TokenResponse, ApiError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query!(
            r#"SELECT id, family_id, account_id, expires_at, rotated_at, revoked_at
               FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE"#,
            hash_refresh_token(refresh_token)
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(IdentityError::InvalidRefreshToken)?;
        let now = Utc::now();
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(IdentityError::InvalidRefreshToken.into());
        }
        if let Some(rotated_at) = row.rotated_at {
            let grace = chrono::Duration::seconds(self.config.refresh_reuse_grace_secs as i64);
            if now - rotated_at > grace {
                sqlx::query!(
                    "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
                    row.family_id
                )
                .execute(&mut *tx)
                .await?;
                audit::record(
                    &mut tx,
                    "refresh_token_reuse",
                    Some(row.account_id),
                    None,
                    client,
                    serde_json::json!({ "session": row.family_id, "rotated_at": rotated_at }),
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(account = %row.account_id, session = %row.family_id, "refresh token reused: session revoked");
                return Err(IdentityError::InvalidRefreshToken.into());
            }
            // Within the grace window: the same app asked twice at once; both get tokens.
        } else {
            sqlx::query!(
                "UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1",
                row.id
            )
            .execute(&mut *tx)
            .await?;
        }
        let subject =
            TokenSubject::load(&mut tx, row.account_id, self.config.admin_totp_required).await?;
        let tokens = self.issue(&mut tx, &subject, row.family_id).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Ends one session, or every session of the account.
    pub async fn revoke_sessions(
        &self,
        account_id: Uuid,
        session: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            r#"UPDATE refresh_tokens SET revoked_at = now()
               WHERE account_id = $1 AND revoked_at IS NULL
                 AND ($2::uuid IS NULL OR family_id = $2)"#,
            account_id,
            session
        )
        .execute(&mut *tx)
        .await?;
        let event = if session.is_some() {
            "sign_out"
        } else {
            "sign_out_everywhere"
        };
        audit::record(
            &mut tx,
            event,
            Some(account_id),
            Some(account_id),
            client,
            serde_json::json!({ "session": session }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
