//! Refunds of a paid payment, in whole or in part, by the city's operators (platform admins):
//! the biller has usually been told the bill is paid by then, so a refund is a decision taken
//! with the biller, not the payer's alone. The refund is recorded (and the money set aside in
//! the ledger) before the provider is asked, so a crash in between leaves a pending refund to
//! finish, never money refunded without a record.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::extract::{IdempotencyKey, JsonBody};
use platform::idempotency;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::intents::{Payment, load, visible};
use crate::ledger::{self, credit, debit};
use crate::providers::{self, ProviderName, RefundOutcome};
use crate::{PaymentsError, PaymentsState};
use platform::events::types::PaymentRefunded;

const MAX_REASON_CHARS: usize = 200;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// VND, at most what is left of the payment.
    amount: i64,
    reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundView {
    id: Uuid,
    amount: i64,
    reason: String,
    /// `pending` (the provider has not answered yet), `succeeded` or `failed`.
    status: String,
    failure_code: Option<String>,
    created_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundAnswer {
    refund: RefundView,
    payment: Payment,
}

/// Refunds part or all of a paid payment, once per `Idempotency-Key` (platform admins).
#[utoipa::path(post, path = "/v1/payments/{id}/refunds", operation_id = "create_refund", tag = "payments", request_body = NewRefund,
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header, description = "Unique per refund; retries reuse it")),
    responses(
        (status = 201, body = RefundAnswer, description = "Asked: `refund.status` says what the provider answered (`pending` if it has not yet)"),
        (status = 403, body = platform::error::Problem, description = "`refund_needs_operator`: the payer asked; operators refund"),
        (status = 404, body = platform::error::Problem, description = "`payment_not_found`: none, or not the caller's"),
        (status = 409, body = platform::error::Problem, description = "`not_refundable`, `refund_in_progress`, `idempotency_key_in_use`"),
        (status = 422, body = platform::error::Problem, description = "`refund_exceeds_payment`, `invalid_refund`, `idempotency_key_reused`"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewRefund>,
) -> Result<Response, ApiError> {
    let fingerprint =
        idempotency::fingerprint(&format!("POST /v1/payments/{id}/refunds"), &request)?;
    let lease = Duration::from_millis(state.config.provider_timeout_ms + 10_000);
    let pool = state.pool.clone();
    idempotency::once(
        &pool,
        principal.account_id,
        &key,
        &fingerprint,
        lease,
        || async {
            let answer = refund(&state, &principal, id, &key, &fingerprint, &request).await?;
            Ok((StatusCode::CREATED, answer))
        },
    )
    .await
}

async fn refund(
    state: &PaymentsState,
    principal: &Principal,
    payment_id: Uuid,
    key: &str,
    fingerprint: &[u8],
    request: &NewRefund,
) -> Result<RefundAnswer, ApiError> {
    let payment = visible(state, principal, payment_id).await?;
    if !principal.has_role(Role::PlatformAdmin) {
        return Err(PaymentsError::RefundNeedsOperator.into());
    }
    let reason = request.reason.trim();
    if request.amount <= 0 || reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(PaymentsError::InvalidRefund.into());
    }
    let refund_id = Uuid::new_v5(
        &principal.account_id,
        format!("refund:{key}:{}", hex::encode(fingerprint)).as_bytes(),
    );
    if let Some(existing) = view(state, refund_id).await? {
        return Ok(RefundAnswer {
            refund: existing,
            payment,
        });
    }
    let provider = ProviderName::parse(&payment.provider)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown provider")))?;

    // Recorded, and set aside in the ledger, before the provider is asked.
    let mut tx = state.pool.begin().await?;
    let locked = sqlx::query!(
        r#"SELECT status, amount, refunded_amount, biller_id, provider_ref, provider_txn,
                  provider_created_at, expires_at
           FROM payment_intents WHERE id = $1 FOR UPDATE"#,
        payment_id
    )
    .fetch_one(&mut *tx)
    .await?;
    match locked.status.as_str() {
        "succeeded" | "partially_refunded" => {}
        "refund_pending" => {
            return Err(PaymentsError::RefundInProgress.into());
        }
        _ => {
            return Err(PaymentsError::NotRefundable.into());
        }
    }
    let left = locked.amount - locked.refunded_amount;
    if request.amount > left {
        return Err(PaymentsError::RefundExceedsPayment { left }.into());
    }
    let reference = refund_id.simple().to_string().to_uppercase();
    sqlx::query!(
        r#"INSERT INTO refunds (id, intent_id, amount, reason, status, provider_ref, requested_by)
           VALUES ($1, $2, $3, $4, 'pending', $5, $6)"#,
        refund_id,
        payment_id,
        request.amount,
        reason,
        reference,
        principal.account_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE payment_intents SET status = 'refund_pending', updated_at = now() WHERE id = $1",
        payment_id
    )
    .execute(&mut *tx)
    .await?;
    ledger::record(
        &mut tx,
        &format!("refund_requested:{refund_id}"),
        payment_id,
        "refund requested",
        vec![
            debit(ledger::biller_payable(&locked.biller_id), request.amount),
            credit(ledger::RESIDENT_CLEARING.to_owned(), request.amount),
        ],
    )
    .await?;
    tx.commit().await?;

    let outcome = state
        .providers
        .refund(
            provider,
            &providers::Payment {
                reference: &locked.provider_ref,
                amount: locked.amount,
                order_info: reason,
                created_at: locked.provider_created_at,
                expires_at: locked.expires_at,
                locale: "vi",
                client_ip: "127.0.0.1",
                provider_txn: locked.provider_txn.as_deref(),
            },
            &providers::Refund {
                reference: &reference,
                amount: request.amount,
                full: request.amount == locked.amount,
                reason,
                requested_by: &principal.account_id.simple().to_string(),
            },
        )
        .await;
    match outcome {
        Ok(outcome) => finish(state, refund_id, provider, &outcome).await?,
        // Unknown: it stays pending for an operator to confirm with the provider.
        Err(error) => {
            tracing::error!(refund = %refund_id, error = %error, "a refund's outcome is unknown; it stays pending")
        }
    }
    Ok(RefundAnswer {
        refund: view(state, refund_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("refund vanished")))?,
        payment: load(state, payment_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment vanished")))?,
    })
}

/// Records what the provider answered to a pending refund (once: a second answer finds it
/// settled and changes nothing).
pub(crate) async fn finish(
    state: &PaymentsState,
    refund_id: Uuid,
    provider: ProviderName,
    outcome: &RefundOutcome,
) -> Result<(), ApiError> {
    let mut tx = state.pool.begin().await?;
    let Some(refund) = sqlx::query!(
        r#"SELECT r.intent_id, r.amount, i.biller_id, i.account_id
           FROM refunds r JOIN payment_intents i ON i.id = r.intent_id
           WHERE r.id = $1 AND r.status = 'pending' FOR UPDATE OF r, i"#,
        refund_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(());
    };
    match outcome {
        RefundOutcome::Done { txn } => {
            sqlx::query!(
                r#"UPDATE refunds SET status = 'succeeded', provider_txn = $2, settled_at = now()
                   WHERE id = $1"#,
                refund_id,
                txn
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                r#"UPDATE payment_intents
                   SET refunded_amount = refunded_amount + $2, updated_at = now(),
                       status = CASE WHEN refunded_amount + $2 = amount THEN 'refunded'
                                     ELSE 'partially_refunded' END
                   WHERE id = $1"#,
                refund.intent_id,
                refund.amount
            )
            .execute(&mut *tx)
            .await?;
            ledger::record(
                &mut tx,
                &format!("refund:{refund_id}"),
                refund.intent_id,
                "refund returned by the provider",
                vec![
                    debit(ledger::RESIDENT_CLEARING.to_owned(), refund.amount),
                    credit(ledger::provider_clearing(provider), refund.amount),
                ],
            )
            .await?;
            let refunded = PaymentRefunded {
                payment_id: refund.intent_id,
                refund_id,
                account_id: refund.account_id,
                amount: refund.amount,
            };
            platform::events::enqueue(&mut tx, refund.intent_id, &refunded).await?;
        }
        RefundOutcome::Refused { code } => {
            tracing::warn!(refund = %refund_id, code, "the provider refused a refund");
            sqlx::query!(
                r#"UPDATE refunds SET status = 'failed', failure_code = $2, settled_at = now()
                   WHERE id = $1"#,
                refund_id,
                code
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                r#"UPDATE payment_intents
                   SET status = CASE WHEN refunded_amount = 0 THEN 'succeeded'
                                     ELSE 'partially_refunded' END, updated_at = now()
                   WHERE id = $1"#,
                refund.intent_id
            )
            .execute(&mut *tx)
            .await?;
            ledger::record(
                &mut tx,
                &format!("refund_refused:{refund_id}"),
                refund.intent_id,
                "refund refused by the provider",
                vec![
                    debit(ledger::RESIDENT_CLEARING.to_owned(), refund.amount),
                    credit(ledger::biller_payable(&refund.biller_id), refund.amount),
                ],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// What the provider says became of the refund: `succeeded` or `failed`.
    outcome: String,
    /// The provider's transaction for a refund that succeeded.
    #[serde(default)]
    provider_transaction: Option<String>,
}

/// Records what an operator confirmed with the provider about a refund it never answered
/// (VNPay's merchant API has no refund status), so the payment is no longer held (platform
/// admins).
#[utoipa::path(post, path = "/v1/admin/payments/refunds/{id}/resolve", tag = "payments-admin",
    request_body = Resolution,
    params(("id" = Uuid, Path, description = "The refund")),
    responses(
        (status = 200, body = RefundAnswer),
        (status = 404, body = platform::error::Problem, description = "`refund_not_found`, or not a platform admin"),
        (status = 409, body = platform::error::Problem, description = "`refund_not_pending`: the provider's answer was recorded already"),
        (status = 422, body = platform::error::Problem, description = "`invalid_refund_outcome`"),
    ),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(resolution): JsonBody<Resolution>,
) -> Result<Json<RefundAnswer>, ApiError> {
    if !principal.has_role(Role::PlatformAdmin) {
        return Err(ApiError::route_not_found());
    }
    let refund = sqlx::query!(
        r#"SELECT r.status, r.intent_id, i.provider FROM refunds r
           JOIN payment_intents i ON i.id = r.intent_id WHERE r.id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(PaymentsError::RefundNotFound)?;
    let outcome = match (resolution.outcome.as_str(), resolution.provider_transaction) {
        ("succeeded", Some(txn)) if !txn.trim().is_empty() && txn.len() <= 64 => {
            RefundOutcome::Done {
                txn: txn.trim().to_owned(),
            }
        }
        ("failed", None) => RefundOutcome::Refused {
            code: "confirmed_failed_by_operator".to_owned(),
        },
        _ => {
            return Err(PaymentsError::InvalidRefundOutcome.into());
        }
    };
    if refund.status != "pending" {
        return Err(PaymentsError::RefundNotPending.into());
    }
    let provider = ProviderName::parse(&refund.provider)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown provider")))?;
    // `finish` records an answer once; a concurrent one leaves the refund settled already.
    finish(&state, id, provider, &outcome).await?;
    let refund_view = view(&state, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("refund vanished")))?;
    let settled_by_this = match &outcome {
        RefundOutcome::Done { .. } => refund_view.status == "succeeded",
        RefundOutcome::Refused { .. } => refund_view.status == "failed",
    };
    if !settled_by_this {
        return Err(PaymentsError::RefundNotPending.into());
    }
    tracing::warn!(refund = %id, operator = %principal.account_id, outcome = refund_view.status, "an operator resolved a refund");
    Ok(Json(RefundAnswer {
        refund: refund_view,
        payment: load(&state, refund.intent_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment vanished")))?,
    }))
}

async fn view(state: &PaymentsState, id: Uuid) -> Result<Option<RefundView>, ApiError> {
    Ok(sqlx::query_as!(
        RefundView,
        r#"SELECT id, amount, reason, status, failure_code, created_at, settled_at
           FROM refunds WHERE id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?)
}
