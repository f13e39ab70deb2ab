//! The officer side: a work queue in SLA order, a report's full detail, workflow actions,
//! comments, bulk accept, and linking duplicates. Everything is limited to the caller's scope;
//! a report outside it is a 404, as if it did not exist.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::events::types::{ReportCommented, ReportDuplicateLinked};
use platform::extract::{JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::access::{StaffMember, StaffScope};
use crate::domain::filing::{MAX_DESCRIPTION_CHARS, MAX_PHOTOS};
use crate::domain::photos::set_photos_public;
use crate::domain::transitions::{Actor, change_status};
use crate::domain::views::{self, Audience, Change, Report, ReportPage, ReportRow};
use crate::domain::workflow::{self, Action, RejectReason, Status};

/// Locks and reads a report within the staff member's scope; 404 outside it.
async fn in_scope_for_update(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    scope: &StaffScope,
) -> Result<ReportRow, ApiError> {
    sqlx::query!("SELECT id FROM reports WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ReportsError::ReportNotFound)?;
    let row = views::load(tx, id)
        .await?
        .ok_or(ReportsError::ReportNotFound)?;
    if !scope.covers(
        &row.jurisdiction_id,
        &row.ward_id,
        &row.department_id,
        row.assignee_id,
    ) {
        return Err(ReportsError::ReportNotFound.into());
    }
    Ok(row)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// One open status (`submitted`, `accepted`, `assigned`, `in_progress`, `reopened`); all
    /// of them by default.
    status: Option<String>,
    category: Option<String>,
    ward: Option<String>,
    department: Option<String>,
    /// Only reports past their SLA deadline.
    overdue: Option<bool>,
    /// Only reports assigned to the caller.
    mine: Option<bool>,
    cursor: Option<String>,
    /// At most 100; 50 by default.
    limit: Option<i64>,
}

/// The caller's work queue: open reports within their scope, soonest SLA deadline first.
///
/// Each way the caller reaches reports (the whole jurisdiction, their wards, their departments,
/// assigned to them) is its own branch reading its own index in SLA order, so a page costs a
/// few index reads whatever the table's size; the branches are merged and cut to the page.
///
/// The page carries an `ETag`: a console polling with `If-None-Match` gets `304 Not Modified`
/// until something on the page changes.
#[utoipa::path(get, path = "/v1/officer/reports", tag = "reports", params(QueueQuery),
    responses((status = 200, body = ReportPage),
        (status = 304, description = "The page is unchanged since the `ETag` given in `If-None-Match`"),
        (status = 400, body = platform::error::Problem),
        (status = 404, body = platform::error::Problem, description = "Not staff")),
    security(("bearer" = [])))]
pub async fn queue(
    State(state): State<ReportsState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
    QueryParams(query): QueryParams<QueueQuery>,
) -> Result<axum::response::Response, ApiError> {
    let scope = StaffScope::of(&principal)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(Status::parse(text).filter(|s| s.is_open()).ok_or_else(|| {
            let open: Vec<&str> = Status::ALL
                .iter()
                .filter(|s| s.is_open())
                .map(|s| s.as_str())
                .collect();
            ReportsError::InvalidStatus {
                status: text.to_owned(),
                allowed: open.join(", "),
            }
        })?),
    };
    let (after, after_id) = match query.cursor.as_deref() {
        Some(cursor) => platform::cursor::decode(cursor)?,
        None => (DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()),
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 100);

    let mine = query.mine.unwrap_or(false);
    let mut reaches: Vec<Reach> = Vec::new();
    if mine {
        reaches.push(Reach::Assignee);
    } else if scope.all {
        reaches.push(Reach::Everything);
    } else if scope.whole {
        reaches.push(Reach::Jurisdiction);
    } else {
        if !scope.wards.is_empty() {
            reaches.push(Reach::Wards);
        }
        if !scope.departments.is_empty() {
            reaches.push(Reach::Departments);
        }
        reaches.push(Reach::Assignee);
    }

    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "SELECT d.* FROM report_details d JOIN (SELECT id FROM (",
    );
    for (n, reach) in reaches.iter().enumerate() {
        if n > 0 {
            sql.push(" UNION ");
        }
        sql.push("(SELECT id, sla_due_at FROM reports WHERE status IN ");
        sql.push(workflow::OPEN_STATUSES_SQL);
        match reach {
            Reach::Everything => {}
            Reach::Jurisdiction => {
                sql.push(" AND jurisdiction_id = ")
                    .push_bind(scope.jurisdiction.clone());
            }
            Reach::Wards => {
                sql.push(" AND jurisdiction_id = ")
                    .push_bind(scope.jurisdiction.clone());
                sql.push(" AND ward_id = ANY(")
                    .push_bind(scope.wards.clone())
                    .push(")");
            }
            Reach::Departments => {
                sql.push(" AND jurisdiction_id = ")
                    .push_bind(scope.jurisdiction.clone());
                sql.push(" AND department_id = ANY(")
                    .push_bind(scope.departments.clone())
                    .push(")");
            }
            Reach::Assignee => {
                sql.push(" AND assignee_id = ").push_bind(scope.me);
                if !scope.all {
                    // Staff moved to another jurisdiction leave its reports behind.
                    sql.push(" AND jurisdiction_id = ")
                        .push_bind(scope.jurisdiction.clone());
                }
            }
        }
        if let Some(status) = status {
            // A status name from the enum, never the caller's text.
            sql.push(format_args!(" AND status = '{}'", status.as_str()));
        }
        if let Some(category) = &query.category {
            sql.push(" AND category_code = ")
                .push_bind(category.clone());
        }
        if let Some(ward) = &query.ward {
            sql.push(" AND ward_id = ").push_bind(ward.clone());
        }
        if let Some(department) = &query.department {
            sql.push(" AND department_id = ")
                .push_bind(department.clone());
        }
        if query.overdue.unwrap_or(false) {
            sql.push(" AND overdue_at IS NOT NULL");
        }
        sql.push(" AND (sla_due_at, id) > (")
            .push_bind(after)
            .push(", ")
            .push_bind(after_id)
            .push(") ORDER BY sla_due_at, id LIMIT ")
            .push_bind(limit)
            .push(")");
    }
    sql.push(") reached ORDER BY sla_due_at, id LIMIT ")
        .push_bind(limit)
        .push(") page USING (id) ORDER BY d.sla_due_at, d.id");
    let rows: Vec<ReportRow> = sql.build_query_as().fetch_all(&state.pool).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|r| platform::cursor::encode(r.sla_due_at, r.id))
        })
        .flatten();
    let page = ReportPage {
        reports: rows.into_iter().map(|r| r.view(Audience::Staff)).collect(),
        next_cursor,
    };
    let representation = platform::conditional::Representation::json(&page)?;
    let lang = platform::lang::Lang::negotiate(&headers);
    Ok(representation.respond(&headers, lang, "private, no-cache"))
}

/// One way a staff member reaches reports, each read from its own index.
enum Reach {
    Everything,
    Jurisdiction,
    Wards,
    Departments,
    Assignee,
}

/// A report in full, internal notes included.
#[utoipa::path(get, path = "/v1/officer/reports/{id}", operation_id = "get_officer_report", tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Report>, ApiError> {
    let scope = StaffScope::of(&principal)?;
    let mut conn = state.pool.acquire().await?;
    let row = views::load(&mut conn, id)
        .await?
        .filter(|r| {
            scope.covers(
                &r.jurisdiction_id,
                &r.ward_id,
                &r.department_id,
                r.assignee_id,
            )
        })
        .ok_or(ReportsError::ReportNotFound)?;
    let report = views::detail(&mut conn, row, Audience::Staff).await?;
    Ok(Json(report))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Shown to the reporter and the public on the timeline. Needed to resolve.
    #[serde(default)]
    public_note: Option<String>,
    /// For staff only.
    #[serde(default)]
    internal_note: Option<String>,
    /// Proof photos uploaded by the caller; at least one to resolve.
    #[serde(default)]
    media_ids: Vec<Uuid>,
    /// Needed to reject.
    #[serde(default)]
    reason: Option<RejectReason>,
    /// Needed to assign: a staff member who may work on the report.
    #[serde(default)]
    assignee_id: Option<Uuid>,
    /// A response template (`GET /v1/officer/response-templates`) to write the public note
    /// with, its placeholders filled from the report, when `public_note` is not given.
    #[serde(default)]
    template: Option<String>,
}

fn note(text: &Option<String>) -> Result<Option<&str>, ApiError> {
    let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_some_and(|t| t.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(ReportsError::NoteTooLong {
            max: MAX_DESCRIPTION_CHARS,
        }
        .into());
    }
    Ok(text)
}

/// The workflow actions staff take through `/v1/officer/reports/{id}/{action}`; the reporter
/// reopens through their own route.
const OFFICER_ACTIONS: [Action; 6] = [
    Action::Accept,
    Action::Assign,
    Action::Start,
    Action::Resolve,
    Action::Reject,
    Action::Close,
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ActionPath {
    id: Uuid,
    #[param(schema_with = officer_action_schema)]
    action: String,
}

fn officer_action_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(OFFICER_ACTIONS.map(Action::as_str)))
        .build()
}

/// Moves a report along its workflow: `accept`, `assign`, `start`, `resolve` (with a proof
/// photo and a public note), `reject` (with a reason) or `close`.
#[utoipa::path(post, path = "/v1/officer/reports/{id}/{action}", tag = "reports",
    params(ActionPath),
    request_body = ActionBody,
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`illegal_transition`"),
        (status = 422, body = platform::error::Problem, description = "`proof_required`, `reason_required`, `assignee_required`, `invalid_assignee`, `media_not_owned`")),
    security(("bearer" = [])))]
pub async fn act(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(ActionPath { id, action }): Path<ActionPath>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<Report>, ApiError> {
    let action = Action::parse(&action)
        .filter(|a| OFFICER_ACTIONS.contains(a))
        .ok_or_else(ApiError::route_not_found)?;
    let scope = StaffScope::of(&principal)?;
    let public_note = note(&body.public_note)?;
    let internal_note = note(&body.internal_note)?;
    if body.media_ids.len() > MAX_PHOTOS {
        return Err(platform::error::SharedError::TooManyMedia { max: MAX_PHOTOS }.into());
    }
    let needs = match action {
        Action::Resolve
            if (public_note.is_none() && body.template.is_none()) || body.media_ids.is_empty() =>
        {
            Some(ReportsError::ProofRequired)
        }
        Action::Reject if body.reason.is_none() => Some(ReportsError::ReasonRequired),
        Action::Assign if body.assignee_id.is_none() => Some(ReportsError::AssigneeRequired),
        _ => None,
    };
    if let Some(missing) = needs {
        return Err(missing.into());
    }

    // What was done in media, to undo should the transaction fail.
    let (mut attached, mut hidden) = (false, false);
    let outcome: Result<Json<Report>, ApiError> = async {
        let mut tx = state.pool.begin().await?;
        let row = in_scope_for_update(&mut tx, id, &scope).await?;
        let from = parse_status(&row.status)?;
        let to = workflow::next(from, action).ok_or(ReportsError::IllegalTransition {
            action: action.as_str(),
            status: from.as_str(),
        })?;
        // A template writes the public note the officer did not.
        let templated = match (public_note, &body.template) {
            (None, Some(template)) => Some(
                crate::domain::templates::render(&mut tx, &row, action.as_str(), template).await?,
            ),
            _ => None,
        };
        let public_note = public_note.or(templated.as_ref().map(|(vi, _)| vi.as_str()));
        // An assignee only counts when assigning.
        let assignee = body.assignee_id.filter(|_| action == Action::Assign);
        if let Some(assignee) = assignee {
            check_assignee(&state, assignee, &row).await?;
            sqlx::query!(
                "UPDATE reports SET assignee_id = $2 WHERE id = $1",
                id,
                assignee
            )
            .execute(&mut *tx)
            .await?;
        }
        if !body.media_ids.is_empty() {
            crate::domain::photos::attach_photos(
                &state,
                principal.account_id,
                id,
                &body.media_ids,
                row.public,
                (row.latitude, row.longitude),
                (&row.jurisdiction_id, &row.ward_id, &row.department_id),
            )
            .await?;
            attached = true;
        }
        if action == Action::Reject && row.public {
            set_photos_public(&state, id, false).await?;
            hidden = true;
        }
        let actor = Actor {
            id: principal.account_id,
            role: scope.role.as_str(),
        };
        let mut details = json!({});
        if let Some(reason) = body.reason.filter(|_| action == Action::Reject) {
            details = json!({ "reason": reason.as_str() });
        }
        if let Some(assignee) = assignee {
            details = json!({ "assignee_id": assignee });
        }
        if let (Some((_, note_en)), Some(template)) = (&templated, &body.template) {
            details["template"] = json!(template);
            details["note_en"] = json!(note_en);
        }
        change_status(
            &mut tx,
            &row,
            from,
            to,
            &actor,
            public_note,
            &body.media_ids,
            details,
        )
        .await?;
        if let Some(text) = internal_note {
            internal_comment(&mut tx, id, &actor, text).await?;
        }
        let report = views::current(&mut tx, id, Audience::Staff).await?;
        tx.commit().await?;
        Ok(Json(report))
    }
    .await;
    if outcome.is_err() {
        if attached {
            crate::domain::photos::undo_attach(&state, id, &body.media_ids).await;
        }
        if hidden {
            show_photos_again(&state, id).await;
        }
    }
    outcome
}

/// Undoes hiding a report's photos after its rejection failed to be written (best effort).
async fn show_photos_again(state: &ReportsState, id: Uuid) {
    if let Err(error) = set_photos_public(state, id, true).await {
        tracing::warn!(report_id = %id, code = error.code(), "photos of a report still public stay hidden");
    }
}

fn parse_status(text: &str) -> Result<Status, ApiError> {
    Status::parse(text).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown status {text}")))
}

/// Asks identity whether `assignee` is staff who may work on the report.
async fn check_assignee(
    state: &ReportsState,
    assignee: Uuid,
    row: &ReportRow,
) -> Result<(), ApiError> {
    let answer = state
        .identity
        .call(
            http::Method::GET,
            &format!("/internal/v1/staff/{assignee}"),
            None::<&()>,
        )
        .await?;
    let member: Option<StaffMember> = match answer.status.as_u16() {
        200 => Some(serde_json::from_value(answer.body).map_err(ApiError::internal)?),
        404 => None,
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "identity answered {other} to a staff lookup"
            )));
        }
    };
    if member.is_some_and(|m| m.may_work_on(&row.jurisdiction_id, &row.ward_id, &row.department_id))
    {
        return Ok(());
    }
    Err(ReportsError::InvalidAssignee.into())
}

async fn internal_comment(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    actor: &Actor<'_>,
    text: &str,
) -> Result<(), ApiError> {
    Change {
        report_id: id,
        kind: "comment",
        from_status: None,
        to_status: None,
        actor_id: Some(actor.id),
        actor_role: actor.role,
        public: false,
        note: Some(text),
        media_ids: &[],
        details: json!({}),
    }
    .record(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    note: String,
    /// `false` (the default) keeps it among staff.
    #[serde(default)]
    public: bool,
}

/// Adds a note to a report's timeline: internal by default, or public for the reporter and
/// followers.
#[utoipa::path(post, path = "/v1/officer/reports/{id}/comments", tag = "reports",
    params(("id" = Uuid, Path)), request_body = Comment,
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem),
        (status = 422, body = platform::error::Problem, description = "`note_required`, `note_too_long`")),
    security(("bearer" = [])))]
pub async fn comment(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(comment): JsonBody<Comment>,
) -> Result<Json<Report>, ApiError> {
    let scope = StaffScope::of(&principal)?;
    let text = Some(comment.note);
    let text = note(&text)?.ok_or(ReportsError::NoteRequired {
        max: MAX_DESCRIPTION_CHARS,
    })?;
    let mut tx = state.pool.begin().await?;
    let row = in_scope_for_update(&mut tx, id, &scope).await?;
    let actor = Actor {
        id: principal.account_id,
        role: scope.role.as_str(),
    };
    if comment.public {
        Change {
            report_id: id,
            kind: "comment",
            from_status: None,
            to_status: None,
            actor_id: Some(actor.id),
            actor_role: actor.role,
            public: true,
            note: Some(text),
            media_ids: &[],
            details: json!({}),
        }
        .record_and_announce(
            &mut tx,
            &ReportCommented {
                report_id: id,
                reporter_id: row.reporter_id,
                note: text.to_owned(),
            },
        )
        .await?;
    } else {
        internal_comment(&mut tx, id, &actor, text).await?;
    }
    sqlx::query!("UPDATE reports SET updated_at = now() WHERE id = $1", id)
        .execute(&mut *tx)
        .await?;
    let report = views::current(&mut tx, id, Audience::Staff).await?;
    tx.commit().await?;
    Ok(Json(report))
}

/// The most reports one bulk accept takes.
const MAX_BULK: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAccept {
    /// At most 100.
    report_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAccepted {
    accepted: Vec<Uuid>,
    /// Reports not accepted: outside the caller's scope or unknown (`report_not_found`), or
    /// not waiting for acceptance (`illegal_transition`).
    skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Skipped {
    id: Uuid,
    code: &'static str,
}

/// Accepts many reports at once; each is accepted or skipped with the reason.
#[utoipa::path(post, path = "/v1/officer/reports/accept", tag = "reports",
    request_body = BulkAccept,
    responses((status = 200, body = BulkAccepted),
        (status = 404, body = platform::error::Problem, description = "Not staff"),
        (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn bulk_accept(
    State(state): State<ReportsState>,
    principal: Principal,
    JsonBody(request): JsonBody<BulkAccept>,
) -> Result<Json<BulkAccepted>, ApiError> {
    let scope = StaffScope::of(&principal)?;
    let mut ids = request.report_ids;
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ReportsError::InvalidReportIds { max: MAX_BULK }.into());
    }
    let actor = Actor {
        id: principal.account_id,
        role: scope.role.as_str(),
    };
    let mut tx = state.pool.begin().await?;
    // Locked in id order, as every other writer locks one report: no deadlocks.
    sqlx::query!(
        "SELECT id FROM reports WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let rows = sqlx::query_as::<_, ReportRow>("SELECT * FROM report_details WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    let mut accepted = Vec::new();
    let mut skipped = Vec::new();
    for id in ids {
        let row = rows.iter().find(|r| r.id == id).filter(|r| {
            scope.covers(
                &r.jurisdiction_id,
                &r.ward_id,
                &r.department_id,
                r.assignee_id,
            )
        });
        let Some(row) = row else {
            skipped.push(Skipped {
                id,
                code: ReportsError::ReportNotFound.code(),
            });
            continue;
        };
        let from = parse_status(&row.status)?;
        let Some(to) = workflow::next(from, Action::Accept) else {
            skipped.push(Skipped {
                id,
                code: ReportsError::IllegalTransition {
                    action: Action::Accept.as_str(),
                    status: from.as_str(),
                }
                .code(),
            });
            continue;
        };
        change_status(&mut tx, row, from, to, &actor, None, &[], json!({})).await?;
        accepted.push(id);
    }
    tx.commit().await?;
    Ok(Json(BulkAccepted { accepted, skipped }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateOf {
    /// The report this one repeats.
    original_id: Uuid,
    #[serde(default)]
    public_note: Option<String>,
}

/// Marks a report as a duplicate of another: it is rejected as `duplicate` and linked to the
/// original both ways, and its reporter and followers follow the original from then on.
#[utoipa::path(post, path = "/v1/officer/reports/{id}/duplicate-of", tag = "reports",
    params(("id" = Uuid, Path)), request_body = DuplicateOf,
    responses((status = 200, body = Report), (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`illegal_transition`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_duplicate`")),
    security(("bearer" = [])))]
pub async fn mark_duplicate(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(request): JsonBody<DuplicateOf>,
) -> Result<Json<Report>, ApiError> {
    let scope = StaffScope::of(&principal)?;
    let public_note = note(&request.public_note)?;
    if request.original_id == id {
        return Err(ReportsError::InvalidDuplicate.into());
    }
    let mut hidden = false;
    let outcome: Result<Json<Report>, ApiError> = async {
        let mut tx = state.pool.begin().await?;
        // Both locked in id order.
        let (first, second) = if id < request.original_id {
            (id, request.original_id)
        } else {
            (request.original_id, id)
        };
        let mut rows = Vec::new();
        for locked in [first, second] {
            rows.push(in_scope_for_update(&mut tx, locked, &scope).await?);
        }
        let (duplicate, original) = if rows[0].id == id {
            (&rows[0], &rows[1])
        } else {
            (&rows[1], &rows[0])
        };
        let originals_of_duplicate = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM reports WHERE duplicate_of = $1"#,
            id
        )
        .fetch_one(&mut *tx)
        .await?;
        let original_open = Status::parse(&original.status).is_some_and(Status::is_open);
        if original.duplicate_of.is_some()
            || !original_open
            || originals_of_duplicate > 0
            || original.jurisdiction_id != duplicate.jurisdiction_id
        {
            return Err(ReportsError::InvalidDuplicate.into());
        }
        let from = parse_status(&duplicate.status)?;
        let to = workflow::next(from, Action::Reject).ok_or(ReportsError::IllegalTransition {
            action: Action::Reject.as_str(),
            status: from.as_str(),
        })?;
        if duplicate.public {
            set_photos_public(&state, id, false).await?;
            hidden = true;
        }
        sqlx::query!(
            "UPDATE reports SET duplicate_of = $2 WHERE id = $1",
            id,
            request.original_id
        )
        .execute(&mut *tx)
        .await?;
        let actor = Actor {
            id: principal.account_id,
            role: scope.role.as_str(),
        };
        change_status(
        &mut tx,
        duplicate,
        from,
        to,
        &actor,
        public_note,
        &[],
        json!({ "reason": RejectReason::Duplicate.as_str(), "duplicate_of": request.original_id }),
    )
    .await?;
        // Whoever waited on the duplicate now hears of the original.
        sqlx::query!(
            r#"INSERT INTO report_followers (report_id, account_id)
           SELECT $2::uuid, account_id FROM report_followers WHERE report_id = $1
           UNION SELECT $2::uuid, $3::uuid
           ON CONFLICT DO NOTHING"#,
            id,
            request.original_id,
            duplicate.reporter_id
        )
        .execute(&mut *tx)
        .await?;
        Change {
            report_id: request.original_id,
            kind: "duplicate_linked",
            from_status: None,
            to_status: None,
            actor_id: Some(actor.id),
            actor_role: actor.role,
            public: true,
            note: None,
            media_ids: &[],
            details: json!({ "duplicate_id": id }),
        }
        .record_and_announce(
            &mut tx,
            &ReportDuplicateLinked {
                report_id: request.original_id,
                duplicate_id: id,
            },
        )
        .await?;
        let report = views::current(&mut tx, id, Audience::Staff).await?;
        tx.commit().await?;
        Ok(Json(report))
    }
    .await;
    if outcome.is_err() && hidden {
        show_photos_again(&state, id).await;
    }
    outcome
}
