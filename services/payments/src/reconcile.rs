//! Reconciliation. A job asks the provider about every payment it has not settled a while
//! after its last change (an IPN lost, late or never sent) and settles it from the answer. Each
//! day it also reports, per provider, where our ledger and the provider disagree about the
//! previous day's payments (Huế days), for operators.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt as _;
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::extract::JsonBody;
use platform::jobs::Jobs;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ledger;
use crate::providers::{self, Outcome, ProviderError, ProviderName};
use crate::settle;
use crate::{PaymentsError, PaymentsState};

/// Payments asked about per round, and at once.
const BATCH: i64 = 200;
const CONCURRENCY: usize = 8;

/// Every `reconcile_interval_ms`, for as long as the process runs: settles payments stuck
/// waiting for the provider, resolves refunds, prunes old idempotency keys and bill lookups
/// and, once it is 01:00 in Huế, writes yesterday's report per provider.
pub fn start(state: PaymentsState, jobs: &Jobs) {
    let every = Duration::from_millis(state.config.reconcile_interval_ms.max(10));
    jobs.repeat("reconciliation", every, None, move || {
        let state = state.clone();
        async move {
            round(&state).await;
            Ok(false)
        }
    });
}

/// One round; each part logs its own failure, and the others still run.
async fn round(state: &PaymentsState) {
    match settle_stuck(state).await {
        Ok(0) => {}
        Ok(settled) => tracing::info!(settled, "reconciliation settled payments"),
        Err(error) => tracing::warn!(error = %format!("{error:#}"), "reconciliation failed"),
    }
    match resolve_refunds(state).await {
        Ok(0) => {}
        Ok(resolved) => tracing::info!(resolved, "reconciliation resolved refunds"),
        Err(error) => tracing::warn!(error = %format!("{error:#}"), "resolving refunds failed"),
    }
    if let Err(error) = platform::idempotency::prune(&state.pool).await {
        tracing::warn!(error = %error, "pruning idempotency keys failed");
    }
    if let Err(error) = crate::bills::prune_lookups(&state.pool).await {
        tracing::warn!(error = %error, "pruning bill lookups failed");
    }
    let now = hue_now();
    if now.format("%H").to_string().as_str() >= "01" {
        let yesterday = now.date_naive() - chrono::Duration::days(1);
        for provider in state.providers.offered() {
            match report_exists(state, provider, yesterday).await {
                Ok(true) => {}
                Ok(false) => {
                    if let Err(error) = build_report(state, provider, yesterday).await {
                        tracing::warn!(error = %format!("{error:#}"), "daily reconciliation failed");
                    }
                }
                Err(error) => tracing::warn!(error = %error, "daily reconciliation failed"),
            }
        }
    }
}

fn hue_now() -> DateTime<chrono::FixedOffset> {
    Utc::now().with_timezone(&platform::vietnam_time::OFFSET)
}

/// Asks the provider about payments waiting longer than `reconcile_after_secs`; how many it
/// settled.
pub async fn settle_stuck(state: &PaymentsState) -> anyhow::Result<usize> {
    let stuck = sqlx::query!(
        r#"SELECT provider, provider_ref, amount, provider_created_at, expires_at, locale
           FROM payment_intents
           WHERE status IN ('created', 'redirected', 'pending')
             AND updated_at < now() - make_interval(secs => $1)
           ORDER BY updated_at LIMIT $2"#,
        state.config.reconcile_after_secs as f64,
        BATCH
    )
    .fetch_all(&state.pool)
    .await?;
    let settled = futures::stream::iter(stuck)
        .map(|payment| async move {
            let provider = ProviderName::parse(&payment.provider)?;
            let answer = state
                .providers
                .query(
                    provider,
                    &providers::Payment {
                        reference: &payment.provider_ref,
                        amount: payment.amount,
                        order_info: "",
                        created_at: payment.provider_created_at,
                        expires_at: payment.expires_at,
                        locale: &payment.locale,
                        client_ip: "127.0.0.1",
                        provider_txn: None,
                    },
                )
                .await;
            let outcome = match answer {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(reference = payment.provider_ref, error = %error, "a provider did not answer about a payment");
                    return None;
                }
            };
            match settle::apply(state, provider, &payment.provider_ref, &outcome).await {
                Ok(settle::Settled::Applied) => Some(()),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "settling a payment failed");
                    None
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|settled| async move { settled })
        .count()
        .await;
    Ok(settled)
}

/// Asks the provider about refunds it never answered (a timeout, a crash between asking and
/// recording); how many it resolved.
pub async fn resolve_refunds(state: &PaymentsState) -> anyhow::Result<usize> {
    let pending = sqlx::query!(
        r#"SELECT r.id, r.provider_ref AS refund_ref, i.provider, i.provider_ref, i.amount,
                  i.provider_created_at, i.expires_at, i.locale, i.provider_txn
           FROM refunds r JOIN payment_intents i ON i.id = r.intent_id
           WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => $1)
           ORDER BY r.created_at LIMIT $2"#,
        // Never while our own call may still be under way: its answer would race this one.
        (state.config.reconcile_after_secs as f64)
            .max(2.0 * state.config.provider_timeout_ms as f64 / 1000.0),
        BATCH
    )
    .fetch_all(&state.pool)
    .await?;
    let mut resolved = 0;
    for refund in pending {
        let Some(provider) = ProviderName::parse(&refund.provider) else {
            continue;
        };
        let status = state
            .providers
            .refund_status(
                provider,
                &providers::Payment {
                    reference: &refund.provider_ref,
                    amount: refund.amount,
                    order_info: "",
                    created_at: refund.provider_created_at,
                    expires_at: refund.expires_at,
                    locale: &refund.locale,
                    client_ip: "127.0.0.1",
                    provider_txn: refund.provider_txn.as_deref(),
                },
                &refund.refund_ref,
            )
            .await;
        match status {
            Ok(Some(outcome)) => {
                match crate::refunds::finish(state, refund.id, provider, &outcome).await {
                    Ok(()) => resolved += 1,
                    Err(error) => {
                        tracing::warn!(refund = %refund.id, error = error.describe(), "recording a refund's outcome failed")
                    }
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(refund = %refund.id, error = %error, "a provider did not answer about a refund")
            }
        }
    }
    Ok(resolved)
}

async fn report_exists(
    state: &PaymentsState,
    provider: ProviderName,
    day: NaiveDate,
) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar!(
        // A report with unanswered payments is made again, hourly, until the provider answers.
        r#"SELECT 1 AS one FROM reconciliation_reports
           WHERE provider = $1 AND day = $2
             AND (NOT mismatches @> '[{"kind": "unanswered"}]'
                  OR created_at > now() - interval '1 hour')"#,
        provider.as_str(),
        day
    )
    .fetch_optional(&state.pool)
    .await?
    .is_some())
}

/// One provider's day: every payment made that day, what the ledger holds of it, and what
/// the provider says.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = payments::Report)]
pub struct Report {
    provider: String,
    day: NaiveDate,
    payments_checked: i32,
    matched: i32,
    /// Each disagreement: `payment_id`, `provider_ref`, `kind` (`paid_only_at_provider`,
    /// `missing_at_provider`, `amount_differs`, `unanswered`, and `refund_unconfirmed` for a
    /// refund the provider has not answered for an hour), `ledger_amount`, `provider_amount`,
    /// `status`.
    #[schema(value_type = Vec<Object>)]
    mismatches: Vec<Value>,
    created_at: DateTime<Utc>,
}

/// Compares the ledger with the provider for the payments `provider` took on `day` (Huế),
/// and keeps the report (a second run replaces it).
pub async fn build_report(
    state: &PaymentsState,
    provider: ProviderName,
    day: NaiveDate,
) -> anyhow::Result<Report> {
    let payments = sqlx::query!(
        r#"SELECT id, status, provider_ref, amount, provider_created_at, expires_at, locale,
                  provider_txn
           FROM payment_intents
           WHERE provider = $1
             AND created_at >= ($2::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')
             AND created_at < (($2::date + 1)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')"#,
        provider.as_str(),
        day
    )
    .fetch_all(&state.pool)
    .await?;
    // What the ledger says each payment brought in, in one query.
    let ids: Vec<Uuid> = payments.iter().map(|p| p.id).collect();
    let booked: HashMap<Uuid, i64> = sqlx::query!(
        r#"SELECT t.intent_id AS "intent_id!", sum(e.amount)::bigint AS "amount!"
           FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
           WHERE t.intent_id = ANY($1) AND t.external_id = 'payment:' || t.intent_id
             AND e.account_code = $2 AND e.amount > 0
           GROUP BY t.intent_id"#,
        &ids,
        ledger::provider_clearing(provider)
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|row| (row.intent_id, row.amount))
    .collect();

    // Owned, so the queries can run side by side.
    let asked: Vec<_> = payments
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let payment = (
                p.provider_ref.clone(),
                p.amount,
                p.provider_created_at,
                p.expires_at,
                p.locale.clone(),
                p.provider_txn.clone(),
            );
            (i, payment)
        })
        .collect();
    let answers: Vec<(usize, Result<Outcome, ProviderError>)> = futures::stream::iter(asked)
        .map(
            |(i, (reference, amount, created_at, expires_at, locale, txn))| async move {
                let answer = state
                    .providers
                    .query(
                        provider,
                        &providers::Payment {
                            reference: &reference,
                            amount,
                            order_info: "",
                            created_at,
                            expires_at,
                            locale: &locale,
                            client_ip: "127.0.0.1",
                            provider_txn: txn.as_deref(),
                        },
                    )
                    .await;
                (i, answer)
            },
        )
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut mismatches = Vec::new();
    for (i, answer) in answers {
        let payment = &payments[i];
        let ledger_amount = booked.get(&payment.id).copied().unwrap_or(0);
        let mut mismatch = |kind: &str, provider_amount: Option<i64>| {
            mismatches.push(json!({
                "payment_id": payment.id,
                "provider_ref": payment.provider_ref,
                "kind": kind,
                "status": payment.status,
                "ledger_amount": ledger_amount,
                "provider_amount": provider_amount,
            }));
        };
        match answer {
            Ok(Outcome::Paid { amount, .. }) if amount == ledger_amount => {}
            Ok(Outcome::Paid { amount, .. }) if ledger_amount == 0 => {
                mismatch("paid_only_at_provider", Some(amount))
            }
            Ok(Outcome::Paid { amount, .. }) => mismatch("amount_differs", Some(amount)),
            Ok(_) if ledger_amount != 0 => mismatch("missing_at_provider", Some(0)),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %error, "a provider did not answer for the daily report");
                mismatch("unanswered", None);
            }
        }
    }
    let checked = i32::try_from(payments.len()).unwrap_or(i32::MAX);
    let matched = checked - i32::try_from(mismatches.len()).unwrap_or(i32::MAX);
    // Refunds the provider never answered: an operator must confirm them with the provider.
    let unconfirmed = sqlx::query!(
        r#"SELECT r.id, r.intent_id, r.amount, i.provider_ref FROM refunds r
           JOIN payment_intents i ON i.id = r.intent_id
           WHERE i.provider = $1 AND r.status = 'pending'
             AND r.created_at < now() - interval '1 hour'"#,
        provider.as_str()
    )
    .fetch_all(&state.pool)
    .await?;
    for refund in unconfirmed {
        mismatches.push(json!({
            "payment_id": refund.intent_id,
            "provider_ref": refund.provider_ref,
            "kind": "refund_unconfirmed",
            "refund_id": refund.id,
            "ledger_amount": refund.amount,
            "provider_amount": null,
        }));
    }
    let created_at = sqlx::query_scalar!(
        r#"INSERT INTO reconciliation_reports (provider, day, payments_checked, matched, mismatches)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (provider, day) DO UPDATE
             SET payments_checked = EXCLUDED.payments_checked, matched = EXCLUDED.matched,
                 mismatches = EXCLUDED.mismatches, created_at = now()
           RETURNING created_at"#,
        provider.as_str(),
        day,
        checked,
        matched,
        Value::Array(mismatches.clone())
    )
    .fetch_one(&state.pool)
    .await?;
    if !mismatches.is_empty() {
        tracing::warn!(provider = provider.as_str(), %day, count = mismatches.len(), "the ledger and the provider disagree");
    }
    Ok(Report {
        provider: provider.as_str().to_owned(),
        day,
        payments_checked: checked,
        matched,
        mismatches,
        created_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    provider: ProviderName,
    /// A day in Huế, `2026-11-23`; yesterday when absent.
    #[serde(default)]
    day: Option<NaiveDate>,
}

fn require_platform_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.has_role(Role::PlatformAdmin) {
        Ok(())
    } else {
        Err(ApiError::route_not_found())
    }
}

/// Settles stuck payments now and writes a provider's report for a day (platform admins).
#[utoipa::path(post, path = "/v1/admin/payments/reconciliations", tag = "payments-admin",
    request_body = RunRequest,
    responses(
        (status = 200, body = Report),
        (status = 404, body = platform::error::Problem, description = "Not a platform admin"),
        (status = 422, body = platform::error::Problem, description = "`provider_unavailable`"),
    ),
    security(("bearer" = [])))]
pub async fn run_now(
    State(state): State<PaymentsState>,
    principal: Principal,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<Json<Report>, ApiError> {
    require_platform_admin(&principal)?;
    if !state.providers.offered().contains(&request.provider) {
        return Err(PaymentsError::ProviderUnavailable.into());
    }
    settle_stuck(&state).await.map_err(ApiError::internal)?;
    let day = request
        .day
        .unwrap_or_else(|| hue_now().date_naive() - chrono::Duration::days(1));
    Ok(Json(
        build_report(&state, request.provider, day)
            .await
            .map_err(ApiError::internal)?,
    ))
}

/// A provider's report for a day (platform admins).
#[utoipa::path(get, path = "/v1/admin/payments/reconciliations/{provider}/{day}", operation_id = "get_reconciliation", tag = "payments-admin",
    params(("provider" = String, Path), ("day" = String, Path, description = "`2026-11-23`")),
    responses(
        (status = 200, body = Report),
        (status = 404, body = platform::error::Problem, description = "`reconciliation_not_found`, or not a platform admin"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path((provider, day)): Path<(String, NaiveDate)>,
) -> Result<Json<Report>, ApiError> {
    require_platform_admin(&principal)?;
    let report = sqlx::query!(
        r#"SELECT provider, day, payments_checked, matched, mismatches, created_at
           FROM reconciliation_reports WHERE provider = $1 AND day = $2"#,
        provider,
        day
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(PaymentsError::ReconciliationNotFound)?;
    Ok(Json(Report {
        provider: report.provider,
        day: report.day,
        payments_checked: report.payments_checked,
        matched: report.matched,
        mismatches: serde_json::from_value(report.mismatches).unwrap_or_default(),
        created_at: report.created_at,
    }))
}
