//! Moderation by a jurisdiction's admins: hide a report or a timeline note from the public
//! (the app's feeds and Open311 alike; the reporter and staff still see them), show a report
//! again, redact a photo (its public derivatives pixelated, the original kept for staff), ban
//! an account from filing for a while; every action in the moderation log. And the
//! response templates officers pick when they write a public note.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::{JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::access::StaffScope;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, for the log (and the reporter, for a hidden report).
    reason: String,
}

fn reason(text: &str) -> Result<&str, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 1000 {
        return Err(ReportsError::ReasonRequired.into());
    }
    Ok(text)
}

/// What a moderation action concerns.
#[derive(Default)]
struct Subject {
    report: Option<Uuid>,
    event: Option<Uuid>,
    account: Option<Uuid>,
    media: Option<Uuid>,
}

async fn log(
    tx: &mut sqlx::PgConnection,
    jurisdiction: &str,
    actor: Uuid,
    action: &str,
    subject: Subject,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    sqlx::query!(
        r#"INSERT INTO moderation_log (jurisdiction_id, actor_id, action, report_id, event_id,
               account_id, media_id, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        jurisdiction,
        actor,
        action,
        subject.report,
        subject.event,
        subject.account,
        subject.media,
        reason
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The report, locked, if the caller may moderate it.
async fn moderated(
    tx: &mut sqlx::PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<(String, bool, bool), ApiError> {
    let row = sqlx::query!(
        r#"SELECT r.jurisdiction_id, r.status, r.hidden_at IS NOT NULL AS "hidden!",
                  c.public AS category_public
           FROM reports r JOIN categories c
             ON c.jurisdiction_id = r.jurisdiction_id AND c.code = r.category_code
           WHERE r.id = $1 FOR UPDATE OF r"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|r| principal.administers(&r.jurisdiction_id))
    .ok_or(ReportsError::ReportNotFound)?;
    let may_be_public = row.category_public && row.status != "rejected";
    Ok((row.jurisdiction_id, row.hidden, may_be_public))
}

/// Hides a report from the public: the feeds, its public page and Open311. Its photos go
/// private with it.
#[utoipa::path(post, path = "/v1/admin/reports/{id}/hide", tag = "moderation",
    params(("id" = Uuid, Path)), request_body = Reason,
    responses((status = 204), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn hide_report(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<Reason>,
) -> Result<StatusCode, ApiError> {
    let why = reason(&body.reason)?;
    let mut tx = state.pool.begin().await?;
    let (jurisdiction, hidden, _) = moderated(&mut tx, &principal, id).await?;
    if !hidden {
        sqlx::query!(
            "UPDATE reports SET public = false, hidden_at = now(), hidden_reason = $2 WHERE id = $1",
            id,
            why
        )
        .execute(&mut *tx)
        .await?;
        crate::domain::photos::set_photos_public(&state, id, false).await?;
        log(
            &mut tx,
            &jurisdiction,
            principal.account_id,
            "report_hidden",
            Subject {
                report: Some(id),
                ..Subject::default()
            },
            Some(why),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shows a hidden report again, as public as its category and status allow.
#[utoipa::path(post, path = "/v1/admin/reports/{id}/show", tag = "moderation",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn show_report(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    let (jurisdiction, hidden, may_be_public) = moderated(&mut tx, &principal, id).await?;
    if hidden {
        sqlx::query!(
            "UPDATE reports SET public = $2, hidden_at = NULL, hidden_reason = NULL WHERE id = $1",
            id,
            may_be_public
        )
        .execute(&mut *tx)
        .await?;
        if may_be_public {
            crate::domain::photos::set_photos_public(&state, id, true).await?;
        }
        log(
            &mut tx,
            &jurisdiction,
            principal.account_id,
            "report_shown",
            Subject {
                report: Some(id),
                ..Subject::default()
            },
            None,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces one of a report's photos, for everyone but staff, by a pixelated version (a face, a
/// plate, a house number in it); staff keep the original.
#[utoipa::path(post, path = "/v1/admin/reports/{id}/photos/{media}/redact", tag = "moderation",
    params(("id" = Uuid, Path), ("media" = Uuid, Path)), request_body = Reason,
    responses((status = 204), (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`media_not_ready`: still being processed"),
        (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn redact_photo(
    State(state): State<ReportsState>,
    principal: Principal,
    Path((id, media)): Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<Reason>,
) -> Result<StatusCode, ApiError> {
    let why = reason(&body.reason)?;
    let mut tx = state.pool.begin().await?;
    let (jurisdiction, _, _) = moderated(&mut tx, &principal, id).await?;
    let answer = state
        .media
        .call(
            http::Method::POST,
            &format!("/internal/v1/media/attachments/report:{id}/redact"),
            Some(&serde_json::json!({ "media_id": media })),
        )
        .await?;
    match answer.status.as_u16() {
        204 => {}
        404 => {
            return Err(platform::error::SharedError::MediaNotFound.into());
        }
        409 => {
            return Err(platform::error::SharedError::MediaNotReady.into());
        }
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "media answered {other} to a redaction"
            )));
        }
    }
    log(
        &mut tx,
        &jurisdiction,
        principal.account_id,
        "photo_redacted",
        Subject {
            report: Some(id),
            media: Some(media),
            ..Subject::default()
        },
        Some(why),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hides one note of a report's public timeline (its text stays for staff).
#[utoipa::path(post, path = "/v1/admin/reports/{id}/events/{event}/hide", tag = "moderation",
    params(("id" = Uuid, Path), ("event" = Uuid, Path)), request_body = Reason,
    responses((status = 204), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn hide_note(
    State(state): State<ReportsState>,
    principal: Principal,
    Path((id, event)): Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<Reason>,
) -> Result<StatusCode, ApiError> {
    let why = reason(&body.reason)?;
    let mut tx = state.pool.begin().await?;
    let (jurisdiction, _, _) = moderated(&mut tx, &principal, id).await?;
    let hidden = sqlx::query!(
        r#"UPDATE report_events SET public = false, hidden_at = now()
           WHERE id = $1 AND report_id = $2 AND public"#,
        event,
        id
    )
    .execute(&mut *tx)
    .await?;
    if hidden.rows_affected() > 0 {
        log(
            &mut tx,
            &jurisdiction,
            principal.account_id,
            "note_hidden",
            Subject {
                report: Some(id),
                event: Some(event),
                ..Subject::default()
            },
            Some(why),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    reason: String,
    /// Until when the account may not file here (at most a year ahead).
    until: DateTime<Utc>,
}

/// Bans an account from filing reports in the jurisdiction until a time (or changes the ban).
#[utoipa::path(put, path = "/v1/admin/jurisdictions/{id}/bans/{account}", tag = "moderation",
    params(("id" = String, Path), ("account" = Uuid, Path)), request_body = Ban,
    responses((status = 204), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn ban(
    State(state): State<ReportsState>,
    principal: Principal,
    Path((jurisdiction, account)): Path<(String, Uuid)>,
    JsonBody(body): JsonBody<Ban>,
) -> Result<StatusCode, ApiError> {
    if !principal.administers(&jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    let why = reason(&body.reason)?;
    if body.until <= Utc::now() || body.until > Utc::now() + chrono::Duration::days(366) {
        return Err(ReportsError::InvalidUntil.into());
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        r#"INSERT INTO filing_bans (jurisdiction_id, account_id, reason, until, banned_by)
           SELECT id, $2, $3, $4, $5 FROM jurisdictions WHERE id = $1
           ON CONFLICT (jurisdiction_id, account_id) DO UPDATE
             SET reason = EXCLUDED.reason, until = EXCLUDED.until, banned_by = EXCLUDED.banned_by"#,
        jurisdiction,
        account,
        why,
        body.until,
        principal.account_id
    )
    .execute(&mut *tx)
    .await?;
    log(
        &mut tx,
        &jurisdiction,
        principal.account_id,
        "filer_banned",
        Subject {
            account: Some(account),
            ..Subject::default()
        },
        Some(why),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a ban.
#[utoipa::path(delete, path = "/v1/admin/jurisdictions/{id}/bans/{account}", tag = "moderation",
    params(("id" = String, Path), ("account" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn lift_ban(
    State(state): State<ReportsState>,
    principal: Principal,
    Path((jurisdiction, account)): Path<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    if !principal.administers(&jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    let mut tx = state.pool.begin().await?;
    let lifted = sqlx::query!(
        "DELETE FROM filing_bans WHERE jurisdiction_id = $1 AND account_id = $2",
        jurisdiction,
        account
    )
    .execute(&mut *tx)
    .await?;
    if lifted.rows_affected() == 0 {
        return Err(ReportsError::BanNotFound.into());
    }
    log(
        &mut tx,
        &jurisdiction,
        principal.account_id,
        "ban_lifted",
        Subject {
            account: Some(account),
            ..Subject::default()
        },
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    id: i64,
    at: DateTime<Utc>,
    actor_id: Uuid,
    /// `report_hidden`, `report_shown`, `note_hidden`, `photo_redacted`, `filer_banned`,
    /// `ban_lifted`.
    action: String,
    report_id: Option<Uuid>,
    event_id: Option<Uuid>,
    account_id: Option<Uuid>,
    media_id: Option<Uuid>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// The last `id` of the previous page.
    before: Option<i64>,
}

/// The jurisdiction's moderation log, newest first, 100 a page.
#[utoipa::path(get, path = "/v1/admin/jurisdictions/{id}/moderation-log", tag = "moderation",
    params(("id" = String, Path), LogQuery),
    responses((status = 200, body = [LogEntry]), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn moderation_log(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
    QueryParams(query): QueryParams<LogQuery>,
) -> Result<Json<Vec<LogEntry>>, ApiError> {
    if !principal.administers(&jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    let entries = sqlx::query_as!(
        LogEntry,
        r#"SELECT id, at, actor_id, action, report_id, event_id, account_id, media_id, reason
           FROM moderation_log WHERE jurisdiction_id = $1 AND id < $2
           ORDER BY id DESC LIMIT 100"#,
        jurisdiction,
        query.before.unwrap_or(i64::MAX)
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(entries))
}

// Response templates.

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    id: String,
    /// The category it suits; any when absent.
    #[serde(default)]
    category: Option<String>,
    /// The action it suits (`accept`, `resolve`, ...); any when absent.
    #[serde(default)]
    action: Option<String>,
    /// With placeholders `{category}`, `{ward}`, `{department}`, `{due}`.
    text_vi: String,
    text_en: String,
}

const PLACEHOLDERS: [&str; 4] = ["{category}", "{ward}", "{department}", "{due}"];
/// The most response templates a jurisdiction may have.
const MAX_TEMPLATES: usize = 500;

fn check_template(template: &Template) -> Result<(), ApiError> {
    let invalid = |problem: String| ReportsError::InvalidTemplate {
        id: template.id.clone(),
        problem,
    };
    let id_ok = !template.id.is_empty()
        && template.id.len() <= 64
        && template
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !id_ok {
        return Err(invalid("an id is 1 to 64 of [a-z0-9_-].".into()).into());
    }
    for text in [&template.text_vi, &template.text_en] {
        let length = text.trim().chars().count();
        if length == 0 || length > 2000 {
            return Err(invalid("texts of 1 to 2,000 characters.".into()).into());
        }
        // Every `{...}` must be a known placeholder.
        let mut rest = text.as_str();
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .map(|e| start + e + 1)
                .unwrap_or(rest.len());
            if !PLACEHOLDERS.contains(&&rest[start..end]) {
                return Err(invalid(format!(
                    "unknown placeholder {}; known: {}.",
                    &rest[start..end],
                    PLACEHOLDERS.join(", ")
                ))
                .into());
            }
            rest = &rest[end..];
        }
    }
    Ok(())
}

/// Replaces a jurisdiction's response templates.
#[utoipa::path(put, path = "/v1/admin/jurisdictions/{id}/response-templates", tag = "moderation",
    params(("id" = String, Path)), request_body = [Template],
    responses((status = 204), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn put_templates(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
    JsonBody(templates): JsonBody<Vec<Template>>,
) -> Result<StatusCode, ApiError> {
    if !principal.administers(&jurisdiction) {
        return Err(ApiError::route_not_found());
    }
    if templates.len() > MAX_TEMPLATES {
        return Err(ReportsError::TooManyTemplates { max: MAX_TEMPLATES }.into());
    }
    for template in &templates {
        check_template(template)?;
        if let Some(action) = &template.action
            && crate::domain::workflow::Action::parse(action).is_none()
        {
            return Err(ReportsError::InvalidTemplate {
                id: template.id.clone(),
                problem: format!("unknown action {action}."),
            }
            .into());
        }
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "DELETE FROM response_templates WHERE jurisdiction_id = $1",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    for template in &templates {
        sqlx::query!(
            r#"INSERT INTO response_templates (jurisdiction_id, id, category_code, action, text_vi, text_en)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
            jurisdiction,
            template.id,
            template.category,
            template.action,
            template.text_vi.trim(),
            template.text_en.trim()
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                ReportsError::InvalidTemplate {
                    id: template.id.clone(),
                    problem: "the id is used twice.".into(),
                }
                .into()
            }
            sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
                ApiError::route_not_found()
            }
            other => other.into(),
        })?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    category: Option<String>,
    action: Option<String>,
}

/// The response templates an officer may pick from, for a category and action.
#[utoipa::path(get, path = "/v1/officer/response-templates", tag = "reports", params(TemplateQuery),
    responses((status = 200, body = [Template]), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn templates(
    State(state): State<ReportsState>,
    principal: Principal,
    QueryParams(query): QueryParams<TemplateQuery>,
) -> Result<Json<Vec<Template>>, ApiError> {
    let scope = StaffScope::of(&principal)?;
    let templates = sqlx::query_as!(
        Template,
        r#"SELECT id, category_code AS category, action, text_vi, text_en FROM response_templates
           WHERE jurisdiction_id = $1
             AND ($2::text IS NULL OR category_code IS NULL OR category_code = $2)
             AND ($3::text IS NULL OR action IS NULL OR action = $3)
           ORDER BY id"#,
        scope.jurisdiction,
        query.category,
        query.action
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(templates))
}
