//! What residents and the public read and do: categories, the near-me feed, a report's public
//! detail, their own and followed reports, following, rating and reopening.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use platform::ApiError;
use platform::auth::Principal;
use platform::events::types::ReportRated;
use platform::extract::{JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::filing::MAX_DESCRIPTION_CHARS;
use crate::domain::jurisdiction::Question;
use crate::domain::transitions::REOPEN_WINDOW_DAYS;
use crate::domain::views::{self, Audience, Change, Report, ReportPage, ReportRow};
use crate::domain::workflow::{self, Action, Status};
use platform::geo::cells_within;

/// The widest near-me radius.
pub const MAX_RADIUS_M: f64 = 2000.0;
const DEFAULT_RADIUS_M: f64 = 500.0;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CategoriesQuery {
    /// Defaults to `hue`.
    jurisdiction: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = reports::Category)]
pub struct Category {
    code: String,
    name_vi: String,
    name_en: String,
    description_vi: String,
    description_en: String,
    group: String,
    priority: String,
    urgent: bool,
    sla_hours: i32,
    public: bool,
    keywords: Vec<String>,
    questions: Vec<Question>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Categories {
    jurisdiction: String,
    categories: Vec<Category>,
}

/// A jurisdiction's wards as a GeoJSON FeatureCollection: each ward's id and names, and its
/// boundary. Public, as the city publishes them; the console draws them on its maps. Rendered
/// once per boundaries version: a request costs one small query until an admin imports new ones.
#[utoipa::path(get, path = "/v1/reports/wards", tag = "reports", params(CategoriesQuery),
    responses(
        (status = 200, description = "A GeoJSON FeatureCollection; each feature's properties are `id`, `name_vi` and `name_en`", body = Object, content_type = "application/json"),
        (status = 304, description = "Unchanged since the `ETag` given in `If-None-Match`"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn wards(
    State(state): State<ReportsState>,
    headers: axum::http::HeaderMap,
    QueryParams(query): QueryParams<CategoriesQuery>,
) -> Result<axum::response::Response, ApiError> {
    let jurisdiction = query.jurisdiction.unwrap_or_else(|| "hue".to_owned());
    let version = sqlx::query_scalar!(
        "SELECT boundaries_version FROM jurisdictions WHERE id = $1",
        jurisdiction
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(platform::ApiError::jurisdiction_not_found)?;
    let cached = state
        .published_wards
        .lock()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("the ward maps' lock is poisoned")))?
        .get(&jurisdiction)
        .filter(|(at, _)| *at == version)
        .map(|(_, map)| map.clone());
    let map = match cached {
        Some(map) => map,
        None => {
            let map = render_wards(&state, &jurisdiction).await?;
            // Kept under the version read first: if an import came between, the next request
            // sees a newer version and renders again.
            if let Ok(mut maps) = state.published_wards.lock() {
                maps.insert(jurisdiction, (version, map.clone()));
            }
            map
        }
    };
    // Boundaries change when an admin imports new ones: a client may keep them a few minutes.
    Ok(map.respond(&headers, platform::lang::Lang::Vi, "public, max-age=300"))
}

async fn render_wards(
    state: &ReportsState,
    jurisdiction: &str,
) -> Result<platform::conditional::Representation, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT id, name_vi, name_en, boundary FROM wards WHERE jurisdiction_id = $1 ORDER BY id"#,
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?;
    let features: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "type": "Feature",
                "id": row.id,
                "properties": { "id": row.id, "name_vi": row.name_vi, "name_en": row.name_en },
                "geometry": row.boundary,
            })
        })
        .collect();
    platform::conditional::Representation::json(
        &json!({ "type": "FeatureCollection", "features": features }),
    )
}

/// The categories a resident may file under, with their questions.
#[utoipa::path(get, path = "/v1/reports/categories", tag = "reports", params(CategoriesQuery),
    responses((status = 200, body = Categories), (status = 404, body = platform::error::Problem)))]
pub async fn categories(
    State(state): State<ReportsState>,
    QueryParams(query): QueryParams<CategoriesQuery>,
) -> Result<Json<Categories>, ApiError> {
    let jurisdiction = query.jurisdiction.unwrap_or_else(|| "hue".to_owned());
    let rows = sqlx::query!(
        r#"SELECT code, name_vi, name_en, description_vi, description_en, group_code, priority,
                  urgent, sla_hours, public, keywords, questions
           FROM categories WHERE jurisdiction_id = $1 AND active ORDER BY group_code, code"#,
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?;
    if rows.is_empty() {
        return Err(platform::ApiError::jurisdiction_not_found());
    }
    let categories = rows
        .into_iter()
        .map(|row| {
            Ok(Category {
                code: row.code,
                name_vi: row.name_vi,
                name_en: row.name_en,
                description_vi: row.description_vi,
                description_en: row.description_en,
                group: row.group_code,
                priority: row.priority,
                urgent: row.urgent,
                sla_hours: row.sla_hours,
                public: row.public,
                keywords: row.keywords,
                questions: serde_json::from_value(row.questions)?,
            })
        })
        .collect::<Result<_, serde_json::Error>>()
        .map_err(ApiError::internal)?;
    Ok(Json(Categories {
        jurisdiction,
        categories,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearQuery {
    lat: f64,
    lng: f64,
    /// Metres, 500 by default, at most 2000 (larger asks are capped).
    radius_m: Option<f64>,
    /// `open` (the default), `resolved` (resolved or closed) or `all`.
    status: Option<String>,
    /// At most 200; 50 by default.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearReports {
    /// The radius searched, after capping.
    radius_m: f64,
    /// Nearest first.
    reports: Vec<Report>,
}

/// Public reports around a point, nearest first: the H3 cells covering the circle,
/// then the exact distance. Never who filed them; coarsened positions where privacy asks.
#[utoipa::path(get, path = "/v1/reports/near", operation_id = "near_reports", tag = "reports", params(NearQuery),
    responses((status = 200, body = NearReports), (status = 400, body = platform::error::Problem),
        (status = 422, body = platform::error::Problem, description = "`invalid_position`")))]
pub async fn near(
    State(state): State<ReportsState>,
    QueryParams(query): QueryParams<NearQuery>,
) -> Result<Json<NearReports>, ApiError> {
    let radius = query.radius_m.unwrap_or(DEFAULT_RADIUS_M);
    if !radius.is_finite() || radius <= 0.0 {
        return Err(ReportsError::InvalidRadius.into());
    }
    let radius = radius.min(MAX_RADIUS_M);
    // Rejected reports are never on the public map.
    let shown: fn(&Status) -> bool = match query.status.as_deref().unwrap_or("open") {
        "open" => |status| status.is_open(),
        "resolved" => |status| matches!(status, Status::Resolved | Status::Closed),
        "all" => |status| *status != Status::Rejected,
        other => {
            return Err(ReportsError::InvalidStatus {
                status: other.to_owned(),
                allowed: "open, resolved, all".into(),
            }
            .into());
        }
    };
    let statuses: Vec<&str> = Status::ALL
        .iter()
        .filter(|status| shown(status))
        .map(|status| status.as_str())
        .collect();
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    if !platform::geo::valid_position(query.lat, query.lng) {
        return Err(platform::error::SharedError::InvalidPosition.into());
    }
    let nearest =
        nearest_public(&state.pool, query.lat, query.lng, radius, &statuses, limit).await?;
    let ids: Vec<Uuid> = nearest.iter().map(|(id, _)| *id).collect();
    let mut rows =
        sqlx::query_as::<_, ReportRow>("SELECT * FROM report_details WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&state.pool)
            .await?;
    let mut reports = Vec::with_capacity(nearest.len());
    for (id, distance) in nearest {
        if let Some(at) = rows.iter().position(|row| row.id == id) {
            let mut report = rows.swap_remove(at).view(Audience::Public);
            report.distance_m = Some(distance.round());
            reports.push(report);
        }
    }
    Ok(Json(NearReports {
        radius_m: radius,
        reports,
    }))
}

/// Public reports in `statuses` within `radius_m` of a point, nearest first (ties by id), with
/// their distance in metres: the rows of the H3 cells covering the circle (an index lookup per
/// cell), then the exact great-circle distance.
pub async fn nearest_public(
    pool: &sqlx::PgPool,
    latitude: f64,
    longitude: f64,
    radius_m: f64,
    statuses: &[&str],
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, f64)>> {
    let Some(cells) = cells_within(latitude, longitude, radius_m) else {
        return Ok(Vec::new());
    };
    sqlx::query_as::<_, (Uuid, f64)>(
        r#"SELECT id, distance_m FROM (
               SELECT id, distance_m(public_latitude, public_longitude, $3, $4) AS distance_m
               FROM reports WHERE public AND public_h3_res9 = ANY($1) AND status = ANY($2)
           ) near WHERE distance_m <= $5 ORDER BY distance_m, id LIMIT $6"#,
    )
    .bind(&cells)
    .bind(statuses)
    .bind(latitude)
    .bind(longitude)
    .bind(radius_m)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    cursor: Option<String>,
    /// At most 100; 20 by default.
    limit: Option<i64>,
}

/// `created_at` and id of the last report of a page, newest first.
fn decode_cursor(cursor: Option<&str>) -> Result<(chrono::DateTime<Utc>, Uuid), ApiError> {
    let Some(cursor) = cursor else {
        return Ok((chrono::DateTime::<Utc>::MAX_UTC, Uuid::max()));
    };
    platform::cursor::decode(cursor)
}

/// The caller's own reports, newest first.
#[utoipa::path(get, path = "/v1/reports/mine", tag = "reports", params(PageQuery),
    responses((status = 200, body = ReportPage)),
    security(("bearer" = [])))]
pub async fn mine(
    State(state): State<ReportsState>,
    principal: Principal,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    let (before, before_id) = decode_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let rows = sqlx::query_as::<_, ReportRow>(
        r#"SELECT * FROM report_details WHERE reporter_id = $1 AND (created_at, id) < ($2, $3)
           ORDER BY created_at DESC, id DESC LIMIT $4"#,
    )
    .bind(principal.account_id)
    .bind(before)
    .bind(before_id)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(page(rows, limit, |_| Audience::Reporter)))
}

/// Reports the caller follows, most recently followed first.
#[utoipa::path(get, path = "/v1/reports/following", tag = "reports", params(PageQuery),
    responses((status = 200, body = ReportPage)),
    security(("bearer" = [])))]
pub async fn following(
    State(state): State<ReportsState>,
    principal: Principal,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    let (before, before_id) = decode_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let rows = sqlx::query_as::<_, ReportRow>(
        r#"SELECT d.* FROM report_details d
           JOIN report_followers f ON f.report_id = d.id AND f.account_id = $1
           WHERE (d.public OR d.reporter_id = $1) AND (d.created_at, d.id) < ($2, $3)
           ORDER BY d.created_at DESC, d.id DESC LIMIT $4"#,
    )
    .bind(principal.account_id)
    .bind(before)
    .bind(before_id)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    // Their own reports read as their reporter reads them; others' as the public does.
    Ok(Json(page(rows, limit, |row| {
        if row.reporter_id == principal.account_id {
            Audience::Reporter
        } else {
            Audience::Public
        }
    })))
}

fn page(rows: Vec<ReportRow>, limit: i64, audience: impl Fn(&ReportRow) -> Audience) -> ReportPage {
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|r| platform::cursor::encode(r.created_at, r.id))
        })
        .flatten();
    ReportPage {
        reports: rows
            .into_iter()
            .map(|row| {
                let audience = audience(&row);
                row.view(audience)
            })
            .collect(),
        next_cursor,
    }
}

/// Loads a report the caller may read: their own, or a public one. 404 otherwise.
async fn readable(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    principal: Option<&Principal>,
) -> Result<(ReportRow, Audience), ApiError> {
    let row = views::load(conn, id)
        .await?
        .ok_or(ReportsError::ReportNotFound)?;
    if principal.is_some_and(|p| p.account_id == row.reporter_id) {
        return Ok((row, Audience::Reporter));
    }
    if row.public {
        return Ok((row, Audience::Public));
    }
    Err(ReportsError::ReportNotFound.into())
}

/// A report with its timeline: in full for its reporter, as the public sees it for anyone else
/// when it is public; 404 otherwise.
#[utoipa::path(get, path = "/v1/reports/{id}", operation_id = "get_report", tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem)))]
pub async fn report(
    State(state): State<ReportsState>,
    principal: Option<Principal>,
    Path(id): Path<Uuid>,
) -> Result<Json<Report>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let (row, audience) = readable(&mut conn, id, principal.as_ref()).await?;
    Ok(Json(views::detail(&mut conn, row, audience).await?))
}

/// Follows a report (the caller's own or a public one) to hear of its progress.
#[utoipa::path(put, path = "/v1/reports/{id}/follow", tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn follow(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut conn = state.pool.acquire().await?;
    readable(&mut conn, id, Some(&principal)).await?;
    sqlx::query!(
        r#"INSERT INTO report_followers (report_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"#,
        id,
        principal.account_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct Followers {
    followers: Vec<Uuid>,
}

/// Most followers told of a change (notifications' call).
const MAX_FOLLOWERS: i64 = 10_000;

/// Who follows a report, for notifications to tell them of its changes.
pub async fn internal_followers(
    State(state): State<ReportsState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Followers>, ApiError> {
    let followers = sqlx::query_scalar!(
        "SELECT account_id FROM report_followers WHERE report_id = $1 ORDER BY created_at LIMIT $2",
        id,
        MAX_FOLLOWERS
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Followers { followers }))
}

/// Stops following a report.
#[utoipa::path(delete, path = "/v1/reports/{id}/follow", tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn unfollow(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    sqlx::query!(
        r#"DELETE FROM report_followers WHERE report_id = $1 AND account_id = $2"#,
        id,
        principal.account_id
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// 1 (bad) to 5 (very good).
    #[schema(minimum = 1, maximum = 5)]
    rating: i16,
    #[serde(default)]
    comment: Option<String>,
}

/// The reporter rates the resolution, once, after it is resolved.
#[utoipa::path(post, path = "/v1/reports/{id}/rating", tag = "reports",
    params(("id" = Uuid, Path)), request_body = Rating,
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`not_resolved`, `already_rated`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_rating`")),
    security(("bearer" = [])))]
pub async fn rate(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(rating): JsonBody<Rating>,
) -> Result<Json<Report>, ApiError> {
    let comment = rating
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if !(1..=5).contains(&rating.rating) || comment.is_some_and(|c| c.chars().count() > 1000) {
        return Err(ReportsError::InvalidRating.into());
    }
    let mut tx = state.pool.begin().await?;
    let row = own_report_for_update(&mut tx, id, &principal).await?;
    if !matches!(
        Status::parse(&row.status),
        Some(Status::Resolved | Status::Closed)
    ) {
        return Err(ReportsError::NotResolved.into());
    }
    if row.rating.is_some() {
        return Err(ReportsError::AlreadyRated.into());
    }
    sqlx::query!(
        r#"UPDATE reports SET rating = $2, rating_comment = $3, updated_at = now() WHERE id = $1"#,
        id,
        rating.rating,
        comment
    )
    .execute(&mut *tx)
    .await?;
    Change {
        report_id: id,
        kind: "rated",
        from_status: None,
        to_status: None,
        actor_id: Some(principal.account_id),
        actor_role: "resident",
        public: true,
        note: None,
        media_ids: &[],
        details: json!({ "rating": rating.rating }),
    }
    .record_and_announce(
        &mut tx,
        &ReportRated {
            report_id: id,
            rating: rating.rating,
            jurisdiction: row.jurisdiction_id.clone(),
            ward: row.ward_id.clone(),
            department: row.department_id.clone(),
        },
    )
    .await?;
    let report = views::current(&mut tx, id, Audience::Reporter).await?;
    tx.commit().await?;
    Ok(Json(report))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reopen {
    /// Why the problem is not solved; shown on the public timeline.
    note: String,
}

/// The reporter reopens a resolution within 7 days of it.
#[utoipa::path(post, path = "/v1/reports/{id}/reopen", tag = "reports",
    params(("id" = Uuid, Path)), request_body = Reopen,
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`illegal_transition`, `reopen_window_passed`"),
        (status = 422, body = platform::error::Problem, description = "`note_required`")),
    security(("bearer" = [])))]
pub async fn reopen(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(reopen): JsonBody<Reopen>,
) -> Result<Json<Report>, ApiError> {
    let note = reopen.note.trim();
    if note.is_empty() || note.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ReportsError::NoteRequired {
            max: MAX_DESCRIPTION_CHARS,
        }
        .into());
    }
    let mut tx = state.pool.begin().await?;
    let row = own_report_for_update(&mut tx, id, &principal).await?;
    let from = Status::parse(&row.status)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad status")))?;
    let to = workflow::next(from, Action::Reopen).ok_or(ReportsError::IllegalTransition {
        action: Action::Reopen.as_str(),
        status: from.as_str(),
    })?;
    let window_passed = row
        .resolved_at
        .is_none_or(|at| Utc::now() - at > chrono::Duration::days(REOPEN_WINDOW_DAYS));
    if window_passed {
        return Err(ReportsError::ReopenWindowPassed {
            days: REOPEN_WINDOW_DAYS,
        }
        .into());
    }
    crate::domain::transitions::change_status(
        &mut tx,
        &row,
        from,
        to,
        &crate::domain::transitions::Actor {
            id: principal.account_id,
            role: "resident",
        },
        Some(note),
        &[],
        json!({}),
    )
    .await?;
    let report = views::current(&mut tx, id, Audience::Reporter).await?;
    tx.commit().await?;
    Ok(Json(report))
}

async fn own_report_for_update(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    principal: &Principal,
) -> Result<ReportRow, ApiError> {
    sqlx::query!(
        "SELECT id FROM reports WHERE id = $1 AND reporter_id = $2 FOR UPDATE",
        id,
        principal.account_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ReportsError::ReportNotFound)?;
    Ok(views::load(tx, id)
        .await?
        .ok_or(ReportsError::ReportNotFound)?)
}
