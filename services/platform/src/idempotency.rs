//! `Idempotency-Key`, as the IETF draft and Stripe have it, one mechanism for every service. A
//! key is its caller's own; a retry with the same key and request gets the first answer again
//! (`Idempotent-Replayed: true`); the same key with another request is a 422
//! `idempotency_key_reused`; the same key while the first request still runs is a 409
//! `idempotency_key_in_use` with Retry-After.
//!
//! Two ways to hold a key, over one table each service's schema has (`idempotency_keys`:
//! `account_id, key, request_hash, claim_id, locked_until, response_status, response_body,
//! created_at`, keyed by `(account_id, key)`):
//! - [`once`], for work that calls outside systems (a payment provider, a hospital): the key is
//!   claimed with a lease, the work runs, a success is kept and replayed for 24 hours. A request
//!   that failed lets the key go, so the same request may run again (and find what it made);
//!   a request that died holding it loses it when the lease ends.
//! - [`claim_in`] and [`answer_in`], for work that is one database transaction (filing a
//!   report): the key is written in that transaction with its answer, so the key and what it
//!   made commit or vanish together; a concurrent retry waits for the first to commit, then
//!   replays it. Such a key names what it made for good and is never let go.
//!
//! A service holds all its keys one of the two ways.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, SharedError};

/// How long [`once`] replays a first answer.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

/// A fingerprint of the request a key was first used for: the operation and its body.
pub fn fingerprint(operation: &str, body: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    let mut hash = Sha256::new();
    hash.update(operation.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(body).map_err(ApiError::internal)?);
    Ok(hash.finalize().to_vec())
}

/// The first answer to a key.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The answer as a replay: marked `Idempotent-Replayed: true`.
    pub fn replayed(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// 422 `idempotency_key_reused`: the key was first used for another request.
pub fn reused() -> ApiError {
    SharedError::IdempotencyKeyReused.into()
}

fn in_use() -> ApiError {
    ApiError::from(SharedError::IdempotencyKeyInUse).with_retry_after(Duration::from_secs(1))
}

/// What a key already holds: `None` when it is free, its first answer when it has one; 422 when
/// it was used for another request, 409 while that request still runs.
pub async fn kept(
    db: impl PgExecutor<'_>,
    account: Uuid,
    key: &str,
    fingerprint: &[u8],
) -> Result<Option<Answer>, ApiError> {
    let stored: Option<(Vec<u8>, Option<i16>, Option<Value>)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys
         WHERE account_id = $1 AND key = $2",
    )
    .bind(account)
    .bind(key)
    .fetch_optional(db)
    .await?;
    let Some((request_hash, status, body)) = stored else {
        return Ok(None);
    };
    if request_hash != fingerprint {
        return Err(reused());
    }
    let (Some(status), Some(body)) = (status, body) else {
        return Err(in_use());
    };
    let status =
        StatusCode::from_u16(u16::try_from(status).unwrap_or(200)).map_err(ApiError::internal)?;
    Ok(Some(Answer { status, body }))
}

/// Runs `work` once per key of `account`: claims the key, runs, keeps a success for replays.
/// `lease` is how long a crashed first request holds the key.
pub async fn once<F, Fut, T>(
    pool: &PgPool,
    account: Uuid,
    key: &str,
    fingerprint: &[u8],
    lease: Duration,
    work: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, T), ApiError>>,
    T: Serialize,
{
    // Takes a new key, one past its 24 hours, or one of the same request that failed or died
    // holding it.
    let claim = Uuid::new_v4();
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (account_id, key, request_hash, claim_id, locked_until)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
         ON CONFLICT (account_id, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, claim_id = EXCLUDED.claim_id,
               locked_until = EXCLUDED.locked_until,
               response_status = NULL, response_body = NULL,
               created_at = CASE WHEN idempotency_keys.created_at < now() - make_interval(secs => $6)
                                 THEN now() ELSE idempotency_keys.created_at END
           WHERE idempotency_keys.created_at < now() - make_interval(secs => $6)
              OR (idempotency_keys.response_status IS NULL
                  AND (idempotency_keys.locked_until IS NULL
                       OR idempotency_keys.locked_until < now())
                  AND idempotency_keys.request_hash = EXCLUDED.request_hash)
         RETURNING true",
    )
    .bind(account)
    .bind(key)
    .bind(fingerprint)
    .bind(claim)
    .bind(lease.as_secs_f64())
    .bind(KEPT_FOR.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    if claimed.is_none() {
        // Let go between our insert and this read: the caller retries as for a running one.
        return kept(pool, account, key, fingerprint)
            .await?
            .map(Answer::replayed)
            .ok_or_else(in_use);
    }
    let outcome = match work().await {
        Ok((status, answer)) => serde_json::to_value(answer)
            .map(|body| (status, body))
            .map_err(ApiError::internal),
        Err(error) => Err(error),
    };
    // Answered or let go only by this claim: a request that outlived its lease and lost the key
    // to a retry changes nothing of the retry's.
    let (status, body) = match &outcome {
        Ok((status, body)) => (Some(status_column(*status)), Some(body)),
        Err(_) => (None, None),
    };
    sqlx::query(
        "UPDATE idempotency_keys
         SET response_status = $4, response_body = $5, locked_until = NULL, claim_id = NULL
         WHERE account_id = $1 AND key = $2 AND claim_id = $3",
    )
    .bind(account)
    .bind(key)
    .bind(claim)
    .bind(status)
    .bind(body)
    .execute(pool)
    .await?;
    let (status, body) = outcome?;
    Ok((status, Json(body)).into_response())
}

/// Claims a key inside the transaction that does the work: `None` when this transaction now
/// holds it (it must [`answer_in`] before committing), the first answer when another request
/// made it. A concurrent request with the same key waits here until the first commits (then
/// replays it) or rolls back (then claims it).
pub async fn claim_in(
    tx: &mut PgConnection,
    account: Uuid,
    key: &str,
    fingerprint: &[u8],
) -> Result<Option<Answer>, ApiError> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, key, request_hash)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(account)
    .bind(key)
    .bind(fingerprint)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    kept(&mut *tx, account, key, fingerprint)
        .await?
        .map(Some)
        .ok_or_else(in_use)
}

/// Keeps the answer of the work a [`claim_in`] key made, in the same transaction.
pub async fn answer_in(
    tx: &mut PgConnection,
    account: Uuid,
    key: &str,
    status: StatusCode,
    body: &Value,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4
         WHERE account_id = $1 AND key = $2",
    )
    .bind(account)
    .bind(key)
    .bind(status_column(status))
    .bind(body)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn status_column(status: StatusCode) -> i16 {
    i16::try_from(status.as_u16()).unwrap_or(200)
}

/// Forgets every key of an erased account, with the answers they kept.
pub async fn forget_account(tx: &mut PgConnection, account: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Forgets keys past their 24 hours, for a service that holds its keys with [`once`] (one that
/// uses [`claim_in`] keeps them: they name what they made).
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(KEPT_FOR.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}
