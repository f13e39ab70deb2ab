//! A person's inbox: their notices, newest first, with what is still unread.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::QueryParams;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::NotificationsState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Notice {
    id: Uuid,
    /// The event it tells of: `report.status_changed`, ...
    kind: String,
    title_vi: String,
    title_en: String,
    body_vi: String,
    body_en: String,
    /// What the app opens: `report_id`, ...
    data: serde_json::Value,
    urgent: bool,
    read: bool,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    notices: Vec<Notice>,
    unread: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    cursor: Option<String>,
    /// At most 100; 20 by default.
    limit: Option<i64>,
}

/// My notices, newest first, and how many are unread.
#[utoipa::path(get, path = "/v1/inbox", operation_id = "list_inbox", tag = "inbox", params(PageQuery),
    responses((status = 200, body = InboxPage), (status = 400, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<NotificationsState>,
    principal: Principal,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let (before, before_id) = match query.cursor.as_deref() {
        Some(cursor) => platform::cursor::decode(cursor)?,
        None => (DateTime::<Utc>::MAX_UTC, Uuid::max()),
    };
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let rows = sqlx::query!(
        r#"SELECT id, kind, title_vi, title_en, body_vi, body_en, data, urgent, read_at, created_at
           FROM notices WHERE account_id = $1 AND (created_at, id) < ($2, $3)
           ORDER BY created_at DESC, id DESC LIMIT $4"#,
        principal.account_id,
        before,
        before_id,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|r| platform::cursor::encode(r.created_at, r.id))
        })
        .flatten();
    let notices = rows
        .into_iter()
        .map(|r| Notice {
            id: r.id,
            kind: r.kind,
            title_vi: r.title_vi,
            title_en: r.title_en,
            body_vi: r.body_vi,
            body_en: r.body_en,
            data: r.data,
            urgent: r.urgent,
            read: r.read_at.is_some(),
            created_at: r.created_at,
        })
        .collect();
    Ok(Json(InboxPage {
        notices,
        unread: unread(&state, principal.account_id).await?,
        next_cursor,
    }))
}

async fn unread(state: &NotificationsState, account: Uuid) -> Result<i64, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM notices WHERE account_id = $1 AND read_at IS NULL"#,
        account
    )
    .fetch_one(&state.pool)
    .await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unread {
    unread: i64,
}

/// How many of my notices are unread (the app's badge).
#[utoipa::path(get, path = "/v1/inbox/unread-count", tag = "inbox",
    responses((status = 200, body = Unread)),
    security(("bearer" = [])))]
pub async fn unread_count(
    State(state): State<NotificationsState>,
    principal: Principal,
) -> Result<Json<Unread>, ApiError> {
    Ok(Json(Unread {
        unread: unread(&state, principal.account_id).await?,
    }))
}

/// Marks one of my notices read; 404 for anyone else's.
#[utoipa::path(post, path = "/v1/inbox/{id}/read", tag = "inbox",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<NotificationsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let found = sqlx::query!(
        "UPDATE notices SET read_at = COALESCE(read_at, now()) WHERE id = $1 AND account_id = $2",
        id,
        principal.account_id
    )
    .execute(&state.pool)
    .await?;
    if found.rows_affected() == 0 {
        return Err(crate::NotificationsError::NoticeNotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Marks all my notices read.
#[utoipa::path(post, path = "/v1/inbox/read-all", tag = "inbox",
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn read_all(
    State(state): State<NotificationsState>,
    principal: Principal,
) -> Result<StatusCode, ApiError> {
    sqlx::query!(
        "UPDATE notices SET read_at = now() WHERE account_id = $1 AND read_at IS NULL",
        principal.account_id
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
