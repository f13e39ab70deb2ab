//! `Idempotency-Key` for payments, as the IETF draft and Stripe have it: a key is the caller's
//! own; the first answer is kept and replayed for 24 hours (`Idempotent-Replayed: true`); the
//! same key while the first request still runs is a 409; with another request it is a 422.
//! Only successes are kept as answers: a request that failed is let go so the same request may
//! run again (it finds what the key names, if anything was made), but the key stays bound to
//! that request.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use platform::ApiError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// How long a first answer is replayed.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

/// A fingerprint of the request a key was first used for: the operation and its body.
pub fn fingerprint(operation: &str, body: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    let mut hash = Sha256::new();
    hash.update(operation.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(body).map_err(ApiError::internal)?);
    Ok(hash.finalize().to_vec())
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
    let claimed = sqlx::query_scalar!(
        r#"INSERT INTO idempotency_keys (account_id, key, request_hash, claim_id, locked_until)
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
           RETURNING true AS "claimed!""#,
        account,
        key,
        fingerprint,
        claim,
        lease.as_secs_f64(),
        KEPT_FOR.as_secs_f64()
    )
    .fetch_optional(pool)
    .await?
    .is_some();
    if !claimed {
        return replay(pool, account, key, fingerprint).await;
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
        Ok((status, body)) => (
            Some(i16::try_from(status.as_u16()).unwrap_or(200)),
            Some(body),
        ),
        Err(_) => (None, None),
    };
    sqlx::query!(
        r#"UPDATE idempotency_keys
           SET response_status = $4, response_body = $5, locked_until = NULL, claim_id = NULL
           WHERE account_id = $1 AND key = $2 AND claim_id = $3"#,
        account,
        key,
        claim,
        status,
        body
    )
    .execute(pool)
    .await?;
    let (status, body) = outcome?;
    Ok((status, Json(body)).into_response())
}

/// The kept answer to a key someone already holds.
async fn replay(
    pool: &PgPool,
    account: Uuid,
    key: &str,
    fingerprint: &[u8],
) -> Result<Response, ApiError> {
    let stored = sqlx::query!(
        r#"SELECT request_hash, response_status, response_body FROM idempotency_keys
           WHERE account_id = $1 AND key = $2"#,
        account,
        key
    )
    .fetch_optional(pool)
    .await?;
    let in_use = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_use",
            "Yêu cầu trước với Idempotency-Key này đang được xử lý. Vui lòng thử lại sau giây lát.",
            "A request with this Idempotency-Key is still being processed. Please retry in a moment.",
        )
        .with_retry_after(Duration::from_secs(1))
    };
    // Let go between our insert and this read: the caller retries as for a running one.
    let Some(stored) = stored else {
        return Err(in_use());
    };
    if stored.request_hash != fingerprint {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key này đã được dùng cho một yêu cầu khác.",
            "This Idempotency-Key was used for a different request.",
        ));
    }
    // Still running (a failed one of the same request would have been claimed again).
    let (Some(status), Some(body)) = (stored.response_status, stored.response_body) else {
        return Err(in_use());
    };
    let status =
        StatusCode::from_u16(u16::try_from(status).unwrap_or(200)).map_err(ApiError::internal)?;
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

/// Forgets keys past their 24 hours.
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
        KEPT_FOR.as_secs_f64()
    )
    .execute(pool)
    .await?
    .rows_affected())
}
