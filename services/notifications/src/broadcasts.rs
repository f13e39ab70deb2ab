//! Area broadcasts: an operator warns everyone in some wards, a polygon or a set of H3 cells (a
//! flood, a storm, a water cut). The recipients are the residents of the operator's
//! jurisdiction whose home ward is one the area touches, or whose last report lies in a cell it
//! covers (reports resolves the area, clipped to the jurisdiction).
//!
//! The fan-out is a job in PostgreSQL. Recipients are chosen once, then walked in pages by
//! account id; each page's notices, pushes and the cursor commit together, so a restart goes on
//! where it stopped and nobody gets the notice twice (a push caught mid-send by a crash may go
//! out again, with the same collapse key and topic, so the device shows it once). Progress and
//! delivery counts are read from the notices and pushes themselves. Cancelling stops the
//! fan-out and every push not yet sent.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::SharedError;
use platform::events::types::AlertIssued;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::jobs::Jobs;
use platform::{ApiError, idempotency};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::push::{self, Source};
use crate::templates::Notice;
use crate::{NotificationsError, NotificationsState};

/// The kind of a broadcast's notices in the inbox.
const KIND: &str = "broadcast";
/// The operation broadcast keys are fingerprinted with.
const SEND: &str = "POST /v1/admin/broadcasts";
/// Recipients per fan-out page: one call to identity and one transaction each.
const PAGE: i64 = 1000;
/// With nothing to fan out, the job looks again this often (it is also woken by a new one).
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_TITLE_CHARS: usize = 100;
const MAX_BODY_CHARS: usize = 500;
/// The four texts together, in bytes: what fits one push with room for the ids (Web Push
/// carries about 3 KB, FCM 4 KB).
const MAX_TEXT_BYTES: usize = 2400;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBroadcast {
    jurisdiction: String,
    /// Exactly one of `{"wards": ["phu-xuan"]}`, `{"polygon": <GeoJSON Polygon or
    /// MultiPolygon>}` or `{"cells": ["89658a2a8a7ffff"]}` (H3, resolution 5 to 15).
    #[schema(value_type = Object, example = json!({ "wards": ["phu-xuan", "thuan-hoa"] }))]
    area: Value,
    title_vi: String,
    body_vi: String,
    title_en: String,
    body_en: String,
    /// Urgent warnings go through quiet hours and are delivered at high priority.
    #[serde(default)]
    urgent: bool,
}

impl NewBroadcast {
    fn validate(&self) -> Result<(), ApiError> {
        let texts = [
            ("title_vi", &self.title_vi, MAX_TITLE_CHARS),
            ("body_vi", &self.body_vi, MAX_BODY_CHARS),
            ("title_en", &self.title_en, MAX_TITLE_CHARS),
            ("body_en", &self.body_en, MAX_BODY_CHARS),
        ];
        for (field, text, max) in texts {
            let chars = text.trim().chars().count();
            if chars == 0 || chars > max {
                return Err(SharedError::InvalidField {
                    field,
                    rule_vi: format!("từ 1 đến {max} ký tự"),
                    rule_en: format!("1 to {max} characters"),
                }
                .into());
            }
        }
        let bytes: usize = texts.iter().map(|(_, text, _)| text.len()).sum();
        if bytes > MAX_TEXT_BYTES {
            return Err(NotificationsError::MessageTooLong.into());
        }
        Ok(())
    }
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct PushCounts {
    /// Pushes queued for the recipients' devices.
    queued: i64,
    /// Not sent yet (in quiet hours, or being retried).
    pending: i64,
    sent: i64,
    /// Refused for good (our configuration, or the message).
    failed: i64,
    /// The device was gone.
    dropped: i64,
    cancelled: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Broadcast {
    id: Uuid,
    jurisdiction: String,
    /// `resolving` (choosing recipients), `fanning_out` (writing their notices), `sending`
    /// (pushes in flight), `completed` or `cancelled`.
    status: String,
    title_vi: String,
    body_vi: String,
    title_en: String,
    body_en: String,
    urgent: bool,
    #[schema(value_type = Object)]
    area: Value,
    /// The wards the area touches.
    wards: Vec<String>,
    /// Residents chosen, and how many of them have their notice.
    recipients: i32,
    fanned_out: i32,
    pushes: PushCounts,
    created_at: DateTime<Utc>,
    fanned_out_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastPage {
    broadcasts: Vec<Broadcast>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The ward reports could not find, as its problem names it (between backticks).
fn unknown_ward(problem: &serde_json::Value) -> String {
    let detail = problem["detail"].as_str().unwrap_or_default();
    detail.split('`').nth(1).unwrap_or_default().to_owned()
}

/// The answer to a key that made its broadcast before keys were kept apart (December 2026):
/// the broadcast as it is, for the same request; 422 for another.
async fn replay_unkept(
    state: &NotificationsState,
    id: Uuid,
    request: &NewBroadcast,
) -> Result<Response, ApiError> {
    let first: serde_json::Value =
        sqlx::query_scalar!("SELECT request FROM broadcasts WHERE id = $1", id)
            .fetch_one(&state.pool)
            .await?;
    if first != serde_json::to_value(request).map_err(ApiError::internal)? {
        return Err(idempotency::reused());
    }
    let broadcast = load(state, &[id])
        .await?
        .pop()
        .ok_or(NotificationsError::BroadcastNotFound)?;
    let body = serde_json::to_value(&broadcast).map_err(ApiError::internal)?;
    Ok(idempotency::Answer {
        status: StatusCode::ACCEPTED,
        body,
    }
    .replayed())
}

/// Sends a warning to everyone in an area, once per `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/broadcasts", operation_id = "create_broadcast", tag = "broadcasts", request_body = NewBroadcast,
    params(("Idempotency-Key" = String, Header, description = "Unique per warning; a retry reuses it")),
    responses(
        (status = 202, body = Broadcast, description = "Accepted: recipients are being chosen (or the first answer to this key, replayed with `Idempotent-Replayed: true`)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 404, body = platform::error::Problem, description = "Not an admin of this jurisdiction, or no such jurisdiction"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`, `message_too_long`, `invalid_area`, `unknown_ward`, `area_outside_jurisdiction`, `area_too_large`, `idempotency_key_reused`"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<NotificationsState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewBroadcast>,
) -> Result<Response, ApiError> {
    if !principal.administers(&request.jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    request.validate()?;
    let fingerprint = idempotency::fingerprint(SEND, &request)?;
    let (account, key) = (principal.account_id, key.as_str());
    if let Some(answer) = idempotency::kept(&state.pool, account, key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    let (wards, cells) = resolve_area(&state, &request.jurisdiction, &request.area).await?;
    // Derived from the key, as before keys were kept apart: a key used for a broadcast then can
    // never make a second one (the insert fails on the id).
    let id = Uuid::new_v5(
        &account,
        format!("broadcast-idempotency-key:{key}").as_bytes(),
    );
    let mut tx = state.pool.begin().await?;
    // A retry that raced this one in waits here for it, then gets its answer: never two warnings.
    if let Some(answer) = idempotency::claim_in(&mut tx, account, key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    let inserted = sqlx::query!(
        r#"INSERT INTO broadcasts (id, jurisdiction, created_by, request, wards, cells,
                                   title_vi, body_vi, title_en, body_en, urgent)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id) DO NOTHING"#,
        id,
        request.jurisdiction,
        account,
        serde_json::to_value(&request).map_err(ApiError::internal)?,
        &wards,
        &cells,
        request.title_vi.trim(),
        request.body_vi.trim(),
        request.title_en.trim(),
        request.body_en.trim(),
        request.urgent
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return replay_unkept(&state, id, &request).await;
    }
    let broadcast = load_in(&mut tx, &[id])
        .await?
        .pop()
        .ok_or(NotificationsError::BroadcastNotFound)?;
    let answer = serde_json::to_value(&broadcast).map_err(ApiError::internal)?;
    idempotency::answer_in(&mut tx, account, key, StatusCode::ACCEPTED, &answer).await?;
    tx.commit().await?;
    tracing::info!(broadcast = %id, jurisdiction = request.jurisdiction, urgent = request.urgent, "broadcast accepted");
    state.broadcasts.notify_one();
    Ok((StatusCode::ACCEPTED, Json(broadcast)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaToPreview {
    jurisdiction: String,
    /// As a broadcast's `area`.
    #[schema(value_type = Object, example = json!({ "wards": ["phu-xuan"] }))]
    area: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Audience {
    /// The wards the area touches.
    wards: Vec<String>,
    /// Residents a broadcast to the area would reach now.
    recipients: i64,
}

/// Whom a broadcast to an area would reach, before it is sent: nothing is sent or kept.
#[utoipa::path(post, path = "/v1/admin/broadcasts/preview", operation_id = "preview_broadcast", tag = "broadcasts",
    request_body = AreaToPreview,
    responses(
        (status = 200, body = Audience),
        (status = 404, description = "Not an admin of the jurisdiction (`route_not_found`), or no such jurisdiction", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_area`, `unknown_ward`, `area_outside_jurisdiction` or `area_too_large`", body = platform::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<NotificationsState>,
    principal: Principal,
    JsonBody(request): JsonBody<AreaToPreview>,
) -> Result<Json<Audience>, ApiError> {
    if !principal.administers(&request.jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    let (wards, cells) = resolve_area(&state, &request.jurisdiction, &request.area).await?;
    let recipients = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM broadcast_audience($1, $2, $3)"#,
        request.jurisdiction,
        &wards,
        &cells
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(Audience { wards, recipients }))
}

/// The wards the area touches and the res-9 cells it covers, from reports.
async fn resolve_area(
    state: &NotificationsState,
    jurisdiction: &str,
    area: &Value,
) -> Result<(Vec<String>, Vec<i64>), ApiError> {
    #[derive(Deserialize)]
    struct Resolved {
        wards: Vec<String>,
        cells: Vec<i64>,
    }
    let answer = state
        .reports
        .call(
            http::Method::POST,
            "/internal/v1/areas/resolve",
            Some(&json!({ "jurisdiction": jurisdiction, "area": area })),
        )
        .await?;
    match (answer.status.as_u16(), answer.body["code"].as_str()) {
        (200, _) => {
            let resolved: Resolved =
                serde_json::from_value(answer.body).map_err(ApiError::internal)?;
            Ok((resolved.wards, resolved.cells))
        }
        (404, _) => Err(ApiError::jurisdiction_not_found()),
        (_, Some("unknown_ward")) => Err(SharedError::UnknownWard {
            ward: unknown_ward(&answer.body),
        }
        .into()),
        (_, Some("area_outside_jurisdiction")) => Err(SharedError::AreaOutsideJurisdiction.into()),
        (_, Some("area_too_large")) => Err(SharedError::AreaTooLarge.into()),
        (400 | 422, _) => Err(SharedError::InvalidArea.into()),
        (status, _) => Err(ApiError::internal(anyhow::anyhow!(
            "reports answered {status} resolving an area"
        ))),
    }
}

/// Tells everyone in a CAP alert's area of it, through the same fan-out as operators'
/// broadcasts, once per alert (the broadcast takes the alert's id). An area reports cannot
/// place in the jurisdiction reaches no one; reports out of reach is retried.
pub async fn from_alert(state: &NotificationsState, alert: &AlertIssued) -> anyhow::Result<()> {
    let (wards, cells) = match resolve_area(state, &alert.jurisdiction, &alert.area).await {
        Ok(resolved) => resolved,
        Err(error) if error.status().is_client_error() => {
            tracing::warn!(alert = %alert.alert_id, code = error.code(), "an alert's area reaches no one");
            return Ok(());
        }
        Err(error) => anyhow::bail!("resolving an alert's area: {}", error.code()),
    };
    let inserted = sqlx::query!(
        r#"INSERT INTO broadcasts (id, jurisdiction, created_by, request, wards, cells, title_vi,
                                   body_vi, title_en, body_en, urgent, alert_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $1)
           ON CONFLICT (id) DO NOTHING"#,
        alert.alert_id,
        alert.jurisdiction,
        // Nobody's account: the alert's author is in alerts.
        Uuid::nil(),
        serde_json::to_value(alert)?,
        &wards,
        &cells,
        alert.headline_vi,
        alert.description_vi,
        alert.headline_en,
        alert.description_en,
        alert.urgent
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if inserted > 0 {
        tracing::info!(alert = %alert.alert_id, wards = wards.len(), "alert broadcast accepted");
        state.broadcasts.notify_one();
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Required of platform admins; a jurisdiction admin's own by default.
    jurisdiction: Option<String>,
    cursor: Option<String>,
    /// At most 100; 20 by default.
    limit: Option<i64>,
}

/// A jurisdiction's broadcasts, newest first, with their progress.
#[utoipa::path(get, path = "/v1/admin/broadcasts", operation_id = "list_broadcasts", tag = "broadcasts", params(ListQuery),
    responses((status = 200, body = BroadcastPage), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<NotificationsState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<BroadcastPage>, ApiError> {
    let jurisdiction = query
        .jurisdiction
        .or_else(|| principal.scope.jurisdiction.clone())
        .unwrap_or_default();
    if !principal.administers(&jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    let (before, before_id) = match query.cursor.as_deref() {
        Some(cursor) => platform::cursor::decode(cursor)?,
        None => (DateTime::<Utc>::MAX_UTC, Uuid::max()),
    };
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let page = sqlx::query!(
        r#"SELECT id, created_at FROM broadcasts
           WHERE jurisdiction = $1 AND (created_at, id) < ($2, $3)
           ORDER BY created_at DESC, id DESC LIMIT $4"#,
        jurisdiction,
        before,
        before_id,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| {
            page.last()
                .map(|r| platform::cursor::encode(r.created_at, r.id))
        })
        .flatten();
    let ids: Vec<Uuid> = page.iter().map(|r| r.id).collect();
    Ok(Json(BroadcastPage {
        broadcasts: load(&state, &ids).await?,
        next_cursor,
    }))
}

/// One broadcast and its progress.
#[utoipa::path(get, path = "/v1/admin/broadcasts/{id}", operation_id = "get_broadcast", tag = "broadcasts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Broadcast), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<NotificationsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Broadcast>, ApiError> {
    let broadcast = load(&state, &[id])
        .await?
        .pop()
        .filter(|b| principal.administers(&b.jurisdiction))
        .ok_or(NotificationsError::BroadcastNotFound)?;
    Ok(Json(broadcast))
}

/// Stops a broadcast: no more notices are written, and pushes not yet sent are not sent.
#[utoipa::path(post, path = "/v1/admin/broadcasts/{id}/cancel", tag = "broadcasts",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Broadcast, description = "Cancelled (also when it already was)"),
        (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`broadcast_completed`: everything was sent already"),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<NotificationsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Broadcast>, ApiError> {
    let current = load(&state, &[id])
        .await?
        .pop()
        .filter(|b| principal.administers(&b.jurisdiction))
        .ok_or(NotificationsError::BroadcastNotFound)?;
    if current.status == "completed" {
        return Err(NotificationsError::BroadcastCompleted.into());
    }
    let mut tx = state.pool.begin().await?;
    // Waits for a fan-out page in progress; the job sees `cancelled` before its next one.
    let cancelled = sqlx::query!(
        r#"UPDATE broadcasts SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2
           WHERE id = $1 AND status <> 'cancelled'"#,
        id,
        principal.account_id
    )
    .execute(&mut *tx)
    .await?;
    if cancelled.rows_affected() > 0 {
        // A push a worker is sending right now is locked: this waits, then skips it as sent.
        sqlx::query!(
            r#"UPDATE pushes SET status = 'cancelled'
               WHERE status = 'pending' AND notice_id IN (SELECT id FROM notices WHERE event_id = $1)"#,
            id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM broadcast_recipients WHERE broadcast_id = $1",
            id
        )
        .execute(&mut *tx)
        .await?;
        tracing::info!(broadcast = %id, by = %principal.account_id, "broadcast cancelled");
    }
    tx.commit().await?;
    let broadcast = load(&state, &[id])
        .await?
        .pop()
        .ok_or(NotificationsError::BroadcastNotFound)?;
    Ok(Json(broadcast))
}

/// Broadcasts by id, in the order given, with their push counts: two queries for any number.
async fn load(state: &NotificationsState, ids: &[Uuid]) -> Result<Vec<Broadcast>, ApiError> {
    load_in(&mut *state.pool.acquire().await?, ids).await
}

/// The broadcasts of `ids` as `conn` sees them (a transaction sees its own).
async fn load_in(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Broadcast>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT id, jurisdiction, status, title_vi, body_vi, title_en, body_en, urgent,
                  request -> 'area' AS "area!", wards, recipients, fanned_out, created_at,
                  fanned_out_at, cancelled_at
           FROM broadcasts WHERE id = ANY($1)"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let counted = sqlx::query!(
        r#"SELECT n.event_id, p.status, count(*) AS "count!"
           FROM notices n JOIN pushes p ON p.notice_id = n.id
           WHERE n.event_id = ANY($1) GROUP BY n.event_id, p.status"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut counts: HashMap<Uuid, PushCounts> = HashMap::new();
    for row in counted {
        let of = counts.entry(row.event_id).or_default();
        of.queued += row.count;
        match row.status.as_str() {
            "pending" => of.pending += row.count,
            "sent" => of.sent += row.count,
            "failed" => of.failed += row.count,
            "dropped" => of.dropped += row.count,
            _ => of.cancelled += row.count,
        }
    }
    let mut by_id: HashMap<Uuid, Broadcast> = rows
        .into_iter()
        .map(|row| {
            let pushes = counts.remove(&row.id).unwrap_or_default();
            let status = match row.status.as_str() {
                "fanned_out" if pushes.pending > 0 => "sending".to_owned(),
                "fanned_out" => "completed".to_owned(),
                other => other.to_owned(),
            };
            let broadcast = Broadcast {
                id: row.id,
                jurisdiction: row.jurisdiction,
                status,
                title_vi: row.title_vi,
                body_vi: row.body_vi,
                title_en: row.title_en,
                body_en: row.body_en,
                urgent: row.urgent,
                area: row.area,
                wards: row.wards,
                recipients: row.recipients,
                fanned_out: row.fanned_out,
                pushes,
                created_at: row.created_at,
                fanned_out_at: row.fanned_out_at,
                cancelled_at: row.cancelled_at,
            };
            (row.id, broadcast)
        })
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The fan-out job, for as long as the process runs; replicas share it.
pub fn start_fan_out(state: NotificationsState, jobs: &Jobs) {
    let wake = state.broadcasts.clone();
    jobs.repeat("broadcast fan-out", IDLE_POLL, Some(wake), move || {
        let state = state.clone();
        async move { step(&state).await }
    });
}

struct Pending {
    id: Uuid,
    jurisdiction: String,
    status: String,
    cursor: Option<Uuid>,
    alert_id: Option<Uuid>,
    wards: Vec<String>,
    cells: Vec<i64>,
    title_vi: String,
    body_vi: String,
    title_en: String,
    body_en: String,
    urgent: bool,
}

/// One step of the oldest broadcast with work to do: choosing its recipients, or writing one
/// page of their notices. Whether there was work.
async fn step(state: &NotificationsState) -> anyhow::Result<bool> {
    let Some(broadcast) = sqlx::query_as!(
        Pending,
        r#"SELECT id, jurisdiction, status, cursor, alert_id, wards, cells, title_vi, body_vi,
                  title_en, body_en, urgent
           FROM broadcasts WHERE status IN ('resolving', 'fanning_out')
           ORDER BY created_at LIMIT 1"#
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(false);
    };
    if broadcast.status == "resolving" {
        choose_recipients(state, &broadcast).await?;
    } else {
        fan_out_page(state, &broadcast).await?;
    }
    Ok(true)
}

/// Fixes who the broadcast goes to: everyone inside the area now.
async fn choose_recipients(state: &NotificationsState, broadcast: &Pending) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    let still = sqlx::query_scalar!(
        "SELECT status FROM broadcasts WHERE id = $1 FOR UPDATE",
        broadcast.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if still != "resolving" {
        return Ok(());
    }
    let chosen = sqlx::query!(
        r#"INSERT INTO broadcast_recipients (broadcast_id, account_id)
           SELECT $1, audience FROM broadcast_audience($2, $3, $4) AS audience"#,
        broadcast.id,
        broadcast.jurisdiction,
        &broadcast.wards,
        &broadcast.cells
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!(
        "UPDATE broadcasts SET status = 'fanning_out', recipients = $2 WHERE id = $1",
        broadcast.id,
        i32::try_from(chosen).unwrap_or(i32::MAX)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(broadcast = %broadcast.id, recipients = chosen, "broadcast recipients chosen");
    Ok(())
}

/// Writes the notices and queues the pushes of the next page of recipients, and moves the
/// cursor past them, in one transaction; or, past the last page, marks the fan-out done.
async fn fan_out_page(state: &NotificationsState, broadcast: &Pending) -> anyhow::Result<()> {
    let after = broadcast.cursor.unwrap_or(Uuid::nil());
    let page = sqlx::query_scalar!(
        r#"SELECT account_id FROM broadcast_recipients
           WHERE broadcast_id = $1 AND account_id > $2 ORDER BY account_id LIMIT $3"#,
        broadcast.id,
        after,
        PAGE
    )
    .fetch_all(&state.pool)
    .await?;
    // Asked before the transaction: no connection waits on another service.
    let devices = if page.is_empty() {
        Vec::new()
    } else {
        state.reachable_devices(&page).await?
    };
    let mut tx = state.pool.begin().await?;
    let current = sqlx::query!(
        "SELECT status, cursor FROM broadcasts WHERE id = $1 FOR UPDATE",
        broadcast.id
    )
    .fetch_one(&mut *tx)
    .await?;
    // Cancelled meanwhile, or another replica wrote this page first.
    if current.status != "fanning_out" || current.cursor != broadcast.cursor {
        return Ok(());
    }
    let Some(last) = page.last() else {
        sqlx::query!(
            "UPDATE broadcasts SET status = 'fanned_out', fanned_out_at = now() WHERE id = $1",
            broadcast.id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM broadcast_recipients WHERE broadcast_id = $1",
            broadcast.id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(broadcast = %broadcast.id, "broadcast fanned out");
        return Ok(());
    };
    let notice = Notice {
        title_vi: broadcast.title_vi.clone(),
        body_vi: broadcast.body_vi.clone(),
        title_en: broadcast.title_en.clone(),
        body_en: broadcast.body_en.clone(),
        urgent: broadcast.urgent,
    };
    let source = Source {
        id: broadcast.id,
        kind: KIND,
    };
    let data = match broadcast.alert_id {
        Some(alert) => json!({ "kind": KIND, "broadcast_id": broadcast.id, "alert_id": alert }),
        None => json!({ "kind": KIND, "broadcast_id": broadcast.id }),
    };
    let queued = push::notify(&mut tx, &source, &notice, &data, &page, &devices).await?;
    sqlx::query!(
        "UPDATE broadcasts SET cursor = $2, fanned_out = fanned_out + $3 WHERE id = $1",
        broadcast.id,
        last,
        page.len() as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if queued > 0 {
        state.pushes.notify_waiters();
    }
    Ok(())
}
