//! The double-entry ledger. Every movement of money is a transaction of entries in integer
//! VND, debits positive and credits negative; the database refuses a transaction that does not
//! sum to zero, and any change to a written row. Balances are sums of entries.
//!
//! Accounts:
//! - `provider_clearing:<provider>` (asset): what the provider holds for us until it settles.
//! - `provider_fees:<provider>` (expense): what the provider keeps of each payment.
//! - `biller_payable:<biller>` (liability): what we owe the biller for paid bills.
//! - `resident_clearing` (liability): refunds owed to residents and not yet returned.
//! - `suspense` (liability): money a provider took that pays no bill (another amount than
//!   asked, or paid after the payment had failed or expired), until an operator returns it.
//!
//! A payment: provider clearing Dr, biller payable Cr (and the fee: fees Dr, provider clearing
//! Cr). A refund, when asked: biller payable Dr, resident clearing Cr; when the provider has
//! returned it: resident clearing Dr, provider clearing Cr; when it refused: resident clearing
//! Dr, biller payable Cr.

use axum::Json;
use axum::extract::State;
use platform::ApiError;
use platform::auth::{Principal, Role};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::PaymentsState;
use crate::providers::ProviderName;

pub const RESIDENT_CLEARING: &str = "resident_clearing";
pub const SUSPENSE: &str = "suspense";

pub fn provider_clearing(provider: ProviderName) -> String {
    format!("provider_clearing:{}", provider.as_str())
}

pub fn provider_fees(provider: ProviderName) -> String {
    format!("provider_fees:{}", provider.as_str())
}

pub fn biller_payable(biller: &str) -> String {
    format!("biller_payable:{biller}")
}

fn kind_of(account: &str) -> &'static str {
    match account.split(':').next() {
        Some("provider_clearing") => "asset",
        Some("provider_fees") => "expense",
        _ => "liability",
    }
}

/// One entry: an account and a signed amount (debit positive).
pub struct Entry {
    pub account: String,
    pub amount: i64,
}

pub fn debit(account: String, amount: i64) -> Entry {
    Entry { account, amount }
}

pub fn credit(account: String, amount: i64) -> Entry {
    Entry {
        account,
        amount: -amount,
    }
}

/// Records a transaction once per `external_id`, within the caller's transaction; `false` when
/// it was already recorded. Zero amounts (a payment without a fee) are left out.
pub async fn record(
    conn: &mut PgConnection,
    external_id: &str,
    intent: Uuid,
    description: &str,
    entries: Vec<Entry>,
) -> sqlx::Result<bool> {
    let entries: Vec<Entry> = entries.into_iter().filter(|e| e.amount != 0).collect();
    let accounts: Vec<String> = entries.iter().map(|e| e.account.clone()).collect();
    let kinds: Vec<String> = accounts.iter().map(|a| kind_of(a).to_owned()).collect();
    let amounts: Vec<i64> = entries.iter().map(|e| e.amount).collect();
    sqlx::query!(
        r#"INSERT INTO ledger_accounts (code, kind)
           SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT (code) DO NOTHING"#,
        &accounts,
        &kinds
    )
    .execute(&mut *conn)
    .await?;
    let Some(transaction) = sqlx::query_scalar!(
        r#"INSERT INTO ledger_transactions (id, external_id, intent_id, description)
           VALUES ($1, $2, $3, $4) ON CONFLICT (external_id) DO NOTHING RETURNING id"#,
        Uuid::now_v7(),
        external_id,
        intent,
        description
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(false);
    };
    sqlx::query!(
        r#"INSERT INTO ledger_entries (transaction_id, account_code, amount)
           SELECT $1, * FROM UNNEST($2::text[], $3::bigint[])"#,
        transaction,
        &accounts,
        &amounts
    )
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    accounts: Vec<Balance>,
    /// The sum of every entry: always 0 in a balanced ledger.
    total: i64,
    transactions: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    account: String,
    /// `asset`, `liability` or `expense`.
    kind: String,
    /// Debits minus credits, VND (a liability's balance is negative).
    balance: i64,
}

/// Every account's balance, from its entries (platform admins).
#[utoipa::path(get, path = "/v1/admin/payments/ledger", tag = "payments-admin",
    responses(
        (status = 200, body = Balances),
        (status = 404, body = platform::error::Problem, description = "Not a platform admin"),
    ),
    security(("bearer" = [])))]
pub async fn balances(
    State(state): State<PaymentsState>,
    principal: Principal,
) -> Result<Json<Balances>, ApiError> {
    if !principal.has_role(Role::PlatformAdmin) {
        return Err(ApiError::route_not_found());
    }
    let accounts = sqlx::query!(
        r#"SELECT a.code, a.kind, coalesce(sum(e.amount), 0)::bigint AS "balance!"
           FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_code = a.code
           GROUP BY a.code, a.kind ORDER BY a.code"#
    )
    .fetch_all(&state.pool)
    .await?;
    let transactions = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM ledger_transactions"#)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(Balances {
        total: accounts.iter().map(|a| a.balance).sum(),
        accounts: accounts
            .into_iter()
            .map(|a| Balance {
                account: a.code,
                kind: a.kind,
                balance: a.balance,
            })
            .collect(),
        transactions,
    }))
}
