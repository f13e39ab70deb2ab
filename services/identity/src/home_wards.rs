//! A resident's home ward: a ward of a jurisdiction, where the city's warnings reach them.
//! Reports owns the wards, so identity asks it (`/internal/v1/wards/find`) whether one exists.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::http::StatusCode;
use platform::ApiError;
use platform::error::SharedError;
use platform::events::types::AccountHomeWardChanged;
use platform::internal::ServiceClient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::IdentityState;

/// A ward of a jurisdiction (ward ids are unique within a jurisdiction, not across them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HomeWard {
    #[schema(example = "hue")]
    pub jurisdiction: String,
    #[schema(example = "phu-xuan")]
    pub ward: String,
}

/// Ids as reports makes them: lowercase ASCII letters, digits, `-` and `_`.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl HomeWard {
    /// 422 `unknown_ward` unless reports has this ward in this jurisdiction.
    pub async fn check_exists(&self, reports: &ServiceClient) -> Result<(), ApiError> {
        let exists = valid_id(&self.jurisdiction)
            && valid_id(&self.ward)
            && find(reports, std::slice::from_ref(&self.ward))
                .await?
                .contains(self);
        if exists {
            return Ok(());
        }
        Err(SharedError::UnknownWard {
            ward: self.ward.clone(),
        }
        .into())
    }
}

/// Every (jurisdiction, ward) whose ward id is one of `wards`.
async fn find(reports: &ServiceClient, wards: &[String]) -> Result<Vec<HomeWard>, ApiError> {
    #[derive(Deserialize)]
    struct Found {
        wards: Vec<HomeWard>,
    }
    let answer = reports
        .call(
            http::Method::POST,
            "/internal/v1/wards/find",
            Some(&serde_json::json!({ "wards": wards })),
        )
        .await?;
    if answer.status != StatusCode::OK {
        return Err(ApiError::internal(anyhow::anyhow!(
            "reports answered {} finding wards",
            answer.status
        )));
    }
    let found: Found = serde_json::from_value(answer.body).map_err(ApiError::internal)?;
    Ok(found.wards)
}

/// Home wards resolved per run; a run goes on while pages come back full.
const LEGACY_PAGE: i64 = 500;
/// How often home wards without a jurisdiction are looked for (a replica of an older version
/// may still write one during an upgrade), and how soon a failed run is tried again.
const LEGACY_INTERVAL: Duration = Duration::from_secs(600);
const LEGACY_RETRY: Duration = Duration::from_secs(5);

/// Gives each home ward set before jurisdictions were recorded its jurisdiction, for as long as
/// the process runs.
pub async fn resolve_legacy(state: IdentityState) {
    loop {
        let wait = match resolve_legacy_page(&state).await {
            Ok(resolved) if resolved == LEGACY_PAGE as usize => continue,
            Ok(0) => LEGACY_INTERVAL,
            Ok(resolved) => {
                tracing::info!(resolved, "home wards without a jurisdiction resolved");
                LEGACY_INTERVAL
            }
            Err(error) => {
                tracing::warn!(error = %error.describe(), "resolving home wards failed; will retry");
                LEGACY_RETRY
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// One page: a ward id exactly one jurisdiction has gets that jurisdiction; any other home
/// ward (no such ward, or one several jurisdictions have) is cleared for the resident to choose
/// again. Notifications hears of each.
async fn resolve_legacy_page(state: &IdentityState) -> Result<usize, ApiError> {
    let legacy = sqlx::query!(
        r#"SELECT id, home_ward AS "home_ward!" FROM accounts
           WHERE home_ward IS NOT NULL AND home_jurisdiction IS NULL
           ORDER BY id LIMIT $1"#,
        LEGACY_PAGE
    )
    .fetch_all(&state.pool)
    .await?;
    if legacy.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = legacy
        .iter()
        .map(|row| row.home_ward.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Asked before the transaction: no connection waits on another service.
    let mut jurisdictions_of: HashMap<String, Vec<String>> = HashMap::new();
    for found in find(&state.reports, &ids).await? {
        jurisdictions_of
            .entry(found.ward)
            .or_default()
            .push(found.jurisdiction);
    }
    let mut tx = state.pool.begin().await?;
    for row in &legacy {
        let jurisdiction = match jurisdictions_of.get(&row.home_ward).map(Vec::as_slice) {
            Some([only]) => Some(only.clone()),
            _ => None,
        };
        let updated = sqlx::query!(
            r#"UPDATE accounts SET home_jurisdiction = $3,
                   home_ward = CASE WHEN $3::text IS NULL THEN NULL ELSE home_ward END,
                   updated_at = now()
               WHERE id = $1 AND home_ward = $2 AND home_jurisdiction IS NULL"#,
            row.id,
            row.home_ward,
            jurisdiction
        )
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 1 {
            let home_ward = jurisdiction.as_ref().map(|_| row.home_ward.clone());
            home_ward_changed(
                &mut tx,
                row.id,
                jurisdiction.as_deref(),
                home_ward.as_deref(),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(legacy.len())
}

/// Tells notifications where a resident now lives (`None`: nowhere the city knows).
pub async fn home_ward_changed(
    tx: &mut sqlx::PgConnection,
    account: Uuid,
    jurisdiction: Option<&str>,
    ward: Option<&str>,
) -> sqlx::Result<()> {
    let changed = AccountHomeWardChanged {
        account_id: account,
        jurisdiction: jurisdiction.map(str::to_owned),
        home_ward: ward.map(str::to_owned),
    };
    platform::events::enqueue(tx, account, &changed).await
}
