//! Accounts a jurisdiction's moderators banned from filing (`moderation` bans and lifts them).

use platform::ApiError;
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::{ReportsState, local_time};

/// Refuses a filing by an account banned in the jurisdiction (403 with until when).
pub async fn check_not_banned(
    state: &ReportsState,
    jurisdiction: &str,
    account: Uuid,
) -> Result<(), ApiError> {
    let Some(ban) = sqlx::query!(
        "SELECT reason, until FROM filing_bans WHERE jurisdiction_id = $1 AND account_id = $2 AND until > now()",
        jurisdiction,
        account
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(());
    };
    Err(ReportsError::BannedFromFiling {
        until: local_time(ban.until),
        reason: ban.reason,
    }
    .into())
}
