//! Every change of a report's status is written here: the row, its timeline event and
//! `report.status_changed` in the caller's transaction. Which action leads where is
//! `workflow`'s table; who may take it is the adapters' concern.

use platform::ApiError;
use platform::events::types::ReportStatusChanged;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::views::{Change, ReportRow};
use crate::domain::workflow::{self, Action, Status};

/// Reporters may reopen a resolution for this long; then it closes.
pub const REOPEN_WINDOW_DAYS: i64 = 7;

/// Who changes a report, as its timeline records them.
pub struct Actor<'a> {
    pub id: Uuid,
    pub role: &'a str,
}

/// What `report.status_changed` says of the report besides the change itself.
struct Subject<'a> {
    id: Uuid,
    jurisdiction: &'a str,
    ward: &'a str,
    department: &'a str,
    reporter: Uuid,
    urgent: bool,
}

/// Writes a status change: the row, its timeline event, and `report.status_changed`.
#[allow(clippy::too_many_arguments)]
pub async fn change_status(
    tx: &mut sqlx::PgConnection,
    row: &ReportRow,
    from: Status,
    to: Status,
    actor: &Actor<'_>,
    public_note: Option<&str>,
    media_ids: &[Uuid],
    details: Value,
) -> Result<(), ApiError> {
    let reason = details.get("reason").and_then(Value::as_str);
    sqlx::query!(
        r#"UPDATE reports SET status = $2, reject_reason = $3,
               public = public AND $2 <> 'rejected',
               resolved_at = CASE WHEN $2 = 'resolved' THEN now() ELSE resolved_at END,
               -- For the KPIs: the first response and resolution, and every reopening.
               accepted_at = COALESCE(accepted_at, CASE WHEN $2 IN
                   ('accepted', 'assigned', 'in_progress', 'resolved') THEN now() END),
               first_resolved_at = COALESCE(first_resolved_at,
                   CASE WHEN $2 = 'resolved' THEN now() END),
               reopen_count = reopen_count + CASE WHEN $2 = 'reopened' THEN 1 ELSE 0 END,
               -- Reopened, it gets a fresh deadline of its category's length.
               sla_due_at = CASE WHEN $2 = 'reopened' THEN now() + (
                   SELECT make_interval(hours => c.sla_hours) FROM categories c
                   WHERE c.jurisdiction_id = reports.jurisdiction_id AND c.code = reports.category_code)
                   ELSE sla_due_at END,
               overdue_at = CASE WHEN $2 = 'reopened' THEN NULL ELSE overdue_at END,
               media_ids = media_ids || $4,
               updated_at = now()
           WHERE id = $1"#,
        row.id,
        to.as_str(),
        reason,
        media_ids
    )
    .execute(&mut *tx)
    .await?;
    let subject = Subject {
        id: row.id,
        jurisdiction: &row.jurisdiction_id,
        ward: &row.ward_id,
        department: &row.department_id,
        reporter: row.reporter_id,
        urgent: row.urgent,
    };
    let change = Changed {
        from,
        to,
        actor_id: Some(actor.id),
        actor_role: actor.role,
        note: public_note,
        media_ids,
        details,
    };
    change.record(tx, &subject).await
}

/// A status change as its timeline event and `report.status_changed` record it.
struct Changed<'a> {
    from: Status,
    to: Status,
    /// `None` for the system (the SLA job).
    actor_id: Option<Uuid>,
    actor_role: &'a str,
    note: Option<&'a str>,
    media_ids: &'a [Uuid],
    details: Value,
}

impl Changed<'_> {
    async fn record(self, tx: &mut PgConnection, report: &Subject<'_>) -> Result<(), ApiError> {
        let (from, to) = (self.from, self.to);
        let event = ReportStatusChanged {
            report_id: report.id,
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            actor_role: self.actor_role.to_owned(),
            reason: self
                .details
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
            jurisdiction: report.jurisdiction.to_owned(),
            ward: report.ward.to_owned(),
            department: report.department.to_owned(),
            reporter_id: report.reporter,
            public_note: self.note.map(str::to_owned),
            urgent: report.urgent,
        };
        Change {
            report_id: report.id,
            kind: "status_changed",
            from_status: Some(from.as_str()),
            to_status: Some(to.as_str()),
            actor_id: self.actor_id,
            actor_role: self.actor_role,
            public: true,
            note: self.note,
            media_ids: self.media_ids,
            details: self.details,
        }
        .record_and_announce(tx, &event)
        .await?;
        Ok(())
    }
}

/// Closes, as the system, at most `limit` resolutions no one reopened within
/// `REOPEN_WINDOW_DAYS`; how many it closed. Rows locked elsewhere are left for the next
/// round.
pub async fn close_unreopened(tx: &mut PgConnection, limit: i64) -> Result<usize, ApiError> {
    let from = Status::Resolved;
    let to = workflow::next(from, Action::Close).ok_or(ReportsError::IllegalTransition {
        action: Action::Close.as_str(),
        status: from.as_str(),
    })?;
    let closed = sqlx::query!(
        r#"UPDATE reports SET status = $3, updated_at = now() WHERE id IN (
               SELECT id FROM reports
               WHERE status = 'resolved' AND resolved_at < now() - make_interval(days => $2)
               ORDER BY resolved_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             AND status = 'resolved' AND resolved_at < now() - make_interval(days => $2)
           RETURNING id, reporter_id, jurisdiction_id, ward_id, department_id, urgent"#,
        limit,
        REOPEN_WINDOW_DAYS as i32,
        to.as_str()
    )
    .fetch_all(&mut *tx)
    .await?;
    for report in &closed {
        let subject = Subject {
            id: report.id,
            jurisdiction: &report.jurisdiction_id,
            ward: &report.ward_id,
            department: &report.department_id,
            reporter: report.reporter_id,
            urgent: report.urgent,
        };
        let change = Changed {
            from,
            to,
            actor_id: None,
            actor_role: "system",
            note: None,
            media_ids: &[],
            details: json!({}),
        };
        change.record(tx, &subject).await?;
    }
    Ok(closed.len())
}
