//! A person's notification preferences: quiet hours, during which pushes that are not urgent
//! wait (the notice is in the inbox at once; urgent warnings always go through).

use axum::Json;
use axum::extract::State;
use chrono::NaiveTime;
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::JsonBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{NotificationsError, NotificationsState};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = notifications::QuietHours)]
pub struct QuietHours {
    /// Local time, `HH:MM`.
    #[schema(value_type = String, example = "22:00")]
    start: NaiveTime,
    /// Local time, `HH:MM`; before `start` when the window spans midnight.
    #[schema(value_type = String, example = "06:00")]
    end: NaiveTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// `null`: pushes any time.
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
    /// The person's offset from UTC in minutes; Vietnam's (+420) by default.
    #[serde(default = "vietnam")]
    utc_offset_minutes: i32,
}

fn vietnam() -> i32 {
    420
}

/// My notification preferences.
#[utoipa::path(get, path = "/v1/notifications/preferences", operation_id = "get_notification_preferences", tag = "inbox",
    responses((status = 200, body = Preferences)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<NotificationsState>,
    principal: Principal,
) -> Result<Json<Preferences>, ApiError> {
    let row = sqlx::query!(
        "SELECT quiet_start, quiet_end, utc_offset_minutes FROM preferences WHERE account_id = $1",
        principal.account_id
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(Json(match row {
        Some(row) => Preferences {
            quiet_hours: row
                .quiet_start
                .zip(row.quiet_end)
                .map(|(start, end)| QuietHours { start, end }),
            utc_offset_minutes: row.utc_offset_minutes,
        },
        None => Preferences {
            quiet_hours: None,
            utc_offset_minutes: vietnam(),
        },
    }))
}

/// Sets my notification preferences.
#[utoipa::path(put, path = "/v1/notifications/preferences", operation_id = "put_notification_preferences", tag = "inbox",
    request_body = Preferences,
    responses((status = 200, body = Preferences), (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<NotificationsState>,
    principal: Principal,
    JsonBody(preferences): JsonBody<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    let empty_window = preferences
        .quiet_hours
        .as_ref()
        .is_some_and(|q| q.start == q.end);
    if empty_window || !(-720..=840).contains(&preferences.utc_offset_minutes) {
        return Err(NotificationsError::InvalidPreferences.into());
    }
    let (start, end) = match &preferences.quiet_hours {
        Some(q) => (Some(q.start), Some(q.end)),
        None => (None, None),
    };
    sqlx::query!(
        r#"INSERT INTO preferences (account_id, quiet_start, quiet_end, utc_offset_minutes)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (account_id) DO UPDATE SET quiet_start = $2, quiet_end = $3,
               utc_offset_minutes = $4, updated_at = now()"#,
        principal.account_id,
        start,
        end,
        preferences.utc_offset_minutes
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(preferences))
}
