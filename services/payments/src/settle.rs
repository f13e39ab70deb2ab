//! Settling a payment from what its provider said (an IPN, or an answer to our query): the
//! status, the ledger, the receipt number and the outbox event change in one transaction, once.
//! A notification that comes again finds the payment final and changes nothing.

use platform::events::types::{PaymentFailed, PaymentSucceeded};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PaymentsState;
use crate::ledger::{self, credit, debit};
use crate::providers::{Outcome, ProviderName};

/// A payment the provider says nothing of this long after its time to pay has expired.
const NOT_FOUND_GRACE: chrono::Duration = chrono::Duration::minutes(5);

/// What settling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The payment is final now.
    Applied,
    /// It was final already: nothing changed.
    AlreadyFinal,
    /// Still waiting on the payer.
    StillPending,
    /// No payment of ours has this reference.
    NotFound,
    /// The provider reports another amount than we asked for, for the first time: failed, the
    /// money held in suspense for an operator (told again, it is `AlreadyFinal`).
    AmountMismatch,
}

/// Applies `outcome` to the payment `reference` of `provider`.
pub async fn apply(
    state: &PaymentsState,
    provider: ProviderName,
    reference: &str,
    outcome: &Outcome,
) -> anyhow::Result<Settled> {
    let mut tx = state.pool.begin().await?;
    let Some(payment) = sqlx::query!(
        r#"SELECT id, account_id, status, amount, biller_id, bill_id, service, customer_code,
                  description_vi, description_en, expires_at
           FROM payment_intents WHERE provider = $1 AND provider_ref = $2 FOR UPDATE"#,
        provider.as_str(),
        reference
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Settled::NotFound);
    };
    let event = PaymentEvent {
        id: payment.id,
        account_id: payment.account_id,
        amount: payment.amount,
        service: payment.service.clone(),
        description_vi: payment.description_vi.clone(),
        description_en: payment.description_en.clone(),
    };
    // VNPay's order of checks: the amount before whether it is already confirmed.
    if let Outcome::Paid { amount, txn } = outcome {
        let late = matches!(payment.status.as_str(), "failed" | "expired");
        let wrong_amount = *amount != payment.amount;
        // Another payer's payment of the bill succeeded first: this one pays nothing.
        let paid_by_another = !wrong_amount
            && !is_final(&payment.status)
            && sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM payment_intents
                       WHERE biller_id = $1 AND bill_id = $2 AND id <> $3
                         AND status IN ('succeeded', 'refund_pending', 'partially_refunded'))
                   AS "paid!""#,
                payment.biller_id,
                payment.bill_id,
                payment.id
            )
            .fetch_one(&mut *tx)
            .await?;
        if wrong_amount || late || paid_by_another {
            // Money moved that pays no bill (another amount, paid after we gave up on it, or a
            // bill paid already): held in suspense, once, for an operator to return to the payer.
            let fee = state.providers.fee(provider, *amount);
            let held = ledger::record(
                &mut tx,
                &format!("unmatched:{}:{txn}", payment.id),
                payment.id,
                &format!("{} paid {amount} for no bill ({txn})", provider.as_str()),
                vec![
                    debit(ledger::provider_clearing(provider), *amount),
                    credit(ledger::SUSPENSE.to_owned(), *amount),
                    debit(ledger::provider_fees(provider), fee),
                    credit(ledger::provider_clearing(provider), fee),
                ],
            )
            .await?;
            if !is_final(&payment.status) {
                let reason = if wrong_amount {
                    "amount_mismatch"
                } else {
                    "bill_already_paid"
                };
                fail(&mut tx, payment.id, reason).await?;
                emit_failed(&mut tx, &event, reason).await?;
            }
            tx.commit().await?;
            if held {
                tracing::error!(payment = %payment.id, ours = payment.amount, theirs = amount, status = payment.status,
                    "the provider took money that pays no bill; it is held in suspense for an operator to return");
            }
            // Only the first notice of a wrong amount is refused: once it is held, the provider
            // is told it is recorded, so it stops sending it.
            return Ok(if wrong_amount && held {
                Settled::AmountMismatch
            } else if paid_by_another {
                Settled::Applied
            } else {
                Settled::AlreadyFinal
            });
        }
    }
    if is_final(&payment.status) {
        return Ok(Settled::AlreadyFinal);
    }
    let settled = match outcome {
        Outcome::Paid { amount, txn } => {
            let receipt = sqlx::query_scalar!(
                r#"UPDATE payment_intents
                   SET status = 'succeeded', provider_txn = $2, settled_at = now(), updated_at = now(),
                       receipt_number = 'BL' || to_char(now() AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYYMMDD')
                                        || lpad(nextval('receipt_numbers')::text, 8, '0')
                   WHERE id = $1 RETURNING receipt_number AS "receipt_number!""#,
                payment.id,
                txn
            )
            .fetch_one(&mut *tx)
            .await?;
            let fee = state.providers.fee(provider, *amount);
            ledger::record(
                &mut tx,
                &format!("payment:{}", payment.id),
                payment.id,
                &format!(
                    "{} {} {}",
                    provider.as_str(),
                    payment.service,
                    payment.customer_code
                ),
                vec![
                    debit(ledger::provider_clearing(provider), *amount),
                    credit(ledger::biller_payable(&payment.biller_id), *amount),
                    debit(ledger::provider_fees(provider), fee),
                    credit(ledger::provider_clearing(provider), fee),
                ],
            )
            .await?;
            let succeeded = PaymentSucceeded {
                payment_id: payment.id,
                account_id: payment.account_id,
                amount: *amount,
                service: payment.service.clone(),
                description_vi: payment.description_vi.clone(),
                description_en: payment.description_en.clone(),
                receipt_number: receipt,
                provider: provider.as_str().to_owned(),
            };
            platform::events::enqueue(&mut tx, payment.id, &succeeded).await?;
            Settled::Applied
        }
        Outcome::Failed { code } => {
            fail(&mut tx, payment.id, code).await?;
            emit_failed(&mut tx, &event, code).await?;
            Settled::Applied
        }
        Outcome::Expired => {
            expire(&mut tx, payment.id).await?;
            emit_failed(&mut tx, &event, "expired").await?;
            Settled::Applied
        }
        Outcome::NotFound if chrono::Utc::now() > payment.expires_at + NOT_FOUND_GRACE => {
            expire(&mut tx, payment.id).await?;
            emit_failed(&mut tx, &event, "expired").await?;
            Settled::Applied
        }
        Outcome::Pending | Outcome::NotFound => {
            // Asked again later, counted from now (only the payer's return makes it `pending`).
            sqlx::query!(
                "UPDATE payment_intents SET updated_at = now() WHERE id = $1",
                payment.id
            )
            .execute(&mut *tx)
            .await?;
            Settled::StillPending
        }
    };
    tx.commit().await?;
    if settled == Settled::Applied && matches!(outcome, Outcome::Paid { .. }) {
        state.settled.notify_one();
    }
    Ok(settled)
}

/// Whether the provider has had its say: every state but the three waiting ones.
pub fn is_final(status: &str) -> bool {
    !matches!(status, "created" | "redirected" | "pending")
}

async fn fail(conn: &mut PgConnection, payment: Uuid, code: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE payment_intents SET status = 'failed', failure_code = $2, settled_at = now(),
               updated_at = now() WHERE id = $1"#,
        payment,
        code
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn expire(conn: &mut PgConnection, payment: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE payment_intents SET status = 'expired', failure_code = 'expired',
               settled_at = now(), updated_at = now() WHERE id = $1"#,
        payment
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The fields every payment event carries.
struct PaymentEvent {
    id: Uuid,
    account_id: Uuid,
    amount: i64,
    service: String,
    description_vi: String,
    description_en: String,
}

async fn emit_failed(
    conn: &mut PgConnection,
    payment: &PaymentEvent,
    reason: &str,
) -> sqlx::Result<()> {
    let failed = PaymentFailed {
        payment_id: payment.id,
        account_id: payment.account_id,
        amount: payment.amount,
        service: payment.service.clone(),
        description_vi: payment.description_vi.clone(),
        description_en: payment.description_en.clone(),
        reason: reason.to_owned(),
    };
    platform::events::enqueue(conn, payment.id, &failed).await
}
